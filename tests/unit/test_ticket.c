/* test_ticket.c: src/ticket.c: a ticket as the contract shows it, to staff and to the public. */
#include "unit.h"

#include "ticket.h"

static int
setup(void **state)
{
	(void)state;
	cat = unit_point_catalogue(
	    "{\"mon\": [\"07:30-12:00\"]}", "[]",
	    "[{\"id\": \"cu-tru\", \"name\": \"Cư trú\", \"prefix\": \"A\", \"slot_minutes\": 30,"
	    " \"slot_capacity\": 6}]",
	    "[]", NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	catalogue_free(cat);
	cat = NULL;
	return 0;
}

static int64_t
instant(const char *s)
{
	int64_t t;
	assert_int_equal(instant_parse(s, &t), 0);
	return t;
}

static struct ticket
a_booking(void)
{
	struct ticket t = {0};
	snprintf(t.code, sizeof t.code, "K7M2Q9XD");
	snprintf(t.kind, sizeof t.kind, "booking");
	snprintf(t.point, sizeof t.point, "cua-nam");
	snprintf(t.service, sizeof t.service, "cu-tru");
	snprintf(t.booked_service, sizeof t.booked_service, "cu-tru");
	snprintf(t.number, sizeof t.number, "A015");
	snprintf(t.last4, sizeof t.last4, "1234");
	snprintf(t.dossier, sizeof t.dossier, "000.00.13.H26-241123-0001");
	t.day = MON_2026_11_23 + 1;
	t.seq = 15;
	t.start = 9 * 60;
	t.end = 9 * 60 + 30;
	t.status = ST_BOOKED;
	t.created_at = instant("2026-11-23T08:00:00+07:00");
	t.checkin_from = instant("2026-11-24T08:00:00+07:00");
	t.checkin_until = instant("2026-11-24T09:45:00+07:00");
	return t;
}

static const char *const fields[] = {
    "code",          "kind",     "number",      "point",    "service",    "date",
    "start",         "end",      "status",      "priority", "created_at", "checkin_from",
    "checkin_until", "position", "eta_minutes", "counter",  "called_at",
};

/* The booking of the contract's example, as staff and the app see it. */
static void
booking_as_staff_sees_it(void **state)
{
	(void)state;
	struct ticket t = a_booking();
	json_t *o = ticket_json(&t, VIEW_STAFF);
	for (size_t i = 0; i < NELEM(fields); i++)
		if (json_object_get(o, fields[i]) == NULL)
			fail_msg("no %s", fields[i]);
	assert_int_equal(json_object_size(o), NELEM(fields) + 2); /* and citizen_id, dossier_id */
	assert_string_equal(unit_json_str(o, "code"), "K7M2Q9XD");
	assert_string_equal(unit_json_str(o, "kind"), "booking");
	assert_string_equal(unit_json_str(o, "number"), "A015");
	assert_string_equal(unit_json_str(o, "point"), "cua-nam");
	assert_string_equal(unit_json_str(o, "service"), "cu-tru");
	assert_string_equal(unit_json_str(o, "date"), "2026-11-24");
	assert_string_equal(unit_json_str(o, "start"), "09:00");
	assert_string_equal(unit_json_str(o, "end"), "09:30");
	assert_string_equal(unit_json_str(o, "status"), "booked");
	unit_json_null(o, "priority");
	assert_string_equal(unit_json_str(o, "citizen_id"), "********1234"); /* masked */
	assert_string_equal(unit_json_str(o, "dossier_id"), "000.00.13.H26-241123-0001");
	assert_string_equal(unit_json_str(o, "created_at"), "2026-11-23T08:00:00+07:00");
	assert_string_equal(unit_json_str(o, "checkin_from"), "2026-11-24T08:00:00+07:00");
	assert_string_equal(unit_json_str(o, "checkin_until"), "2026-11-24T09:45:00+07:00");
	unit_json_null(o, "position"); /* only while waiting */
	unit_json_null(o, "eta_minutes");
	unit_json_null(o, "counter");
	unit_json_null(o, "called_at");
	json_decref(o);
}

/* The public view (GET /v1/tickets/{code}) leaves the citizen's id and dossier out. */
static void
public_view_has_no_personal_data(void **state)
{
	(void)state;
	struct ticket t = a_booking();
	json_t *o = ticket_json(&t, VIEW_PUBLIC);
	assert_null(json_object_get(o, "citizen_id"));
	assert_null(json_object_get(o, "dossier_id"));
	assert_int_equal(json_object_size(o), NELEM(fields));
	assert_string_equal(unit_json_str(o, "number"), "A015");
	char *s = json_dumps(o, JSON_COMPACT);
	assert_null(strstr(s, "1234"));
	assert_null(strstr(s, "H26"));
	free(s);
	json_decref(o);
}

/* The kiosk's view (check-in, walk-in) has the masked citizen id, but not the dossier, which
 * the contract shows only to the counter, admin and the booking itself. */
static void
kiosk_view_has_no_dossier(void **state)
{
	(void)state;
	struct ticket t = a_booking();
	json_t *o = ticket_json(&t, VIEW_KIOSK);
	assert_string_equal(unit_json_str(o, "citizen_id"), "********1234");
	assert_null(json_object_get(o, "dossier_id"));
	assert_int_equal(json_object_size(o), NELEM(fields) + 1);
	char *s = json_dumps(o, JSON_COMPACT);
	assert_null(strstr(s, "H26"));
	free(s);
	json_decref(o);
}

/* A walk-in has no slot and no check-in window: null; without a citizen id, null. */
static void
walkin_has_null_slot_fields(void **state)
{
	(void)state;
	struct ticket t = a_booking();
	snprintf(t.kind, sizeof t.kind, "walkin");
	snprintf(t.priority, sizeof t.priority, "elderly");
	t.last4[0] = 0;
	t.dossier[0] = 0;
	t.start = t.end = -1;
	t.checkin_from = t.checkin_until = 0;
	t.status = ST_CALLED;
	snprintf(t.counter, sizeof t.counter, "cua-nam-1");
	t.called_at = instant("2026-11-24T09:05:00+07:00");
	json_t *o = ticket_json(&t, VIEW_STAFF);
	assert_string_equal(unit_json_str(o, "kind"), "walkin");
	unit_json_null(o, "start");
	unit_json_null(o, "end");
	unit_json_null(o, "checkin_from");
	unit_json_null(o, "checkin_until");
	unit_json_null(o, "citizen_id");
	unit_json_null(o, "dossier_id");
	assert_string_equal(unit_json_str(o, "priority"), "elderly");
	assert_string_equal(unit_json_str(o, "status"), "called");
	assert_string_equal(unit_json_str(o, "counter"), "cua-nam-1");
	assert_string_equal(unit_json_str(o, "called_at"), "2026-11-24T09:05:00+07:00");
	json_decref(o);
}

/* Instants are written in utc_offset, whatever it is. */
static void
instants_in_the_configured_offset(void **state)
{
	(void)state;
	struct ticket t = a_booking();
	cat->utc_offset = -330;
	json_t *o = ticket_json(&t, VIEW_PUBLIC);
	assert_string_equal(unit_json_str(o, "created_at"), "2026-11-22T19:30:00-05:30");
	json_decref(o);
	cat->utc_offset = 7 * 60;
	o = instant_json(0);
	assert_true(json_is_null(o));
	json_decref(o);
}

/* The stored answer of an Idempotency-Key is the staff view, compact. */
static void
rendered_answer_is_the_staff_view(void **state)
{
	(void)state;
	struct ticket t = a_booking();
	char *s = ticket_render(&t);
	assert_non_null(s);
	json_error_t e;
	json_t *a = json_loads(s, 0, &e), *b = ticket_json(&t, VIEW_STAFF);
	assert_non_null(a);
	assert_true(json_equal(a, b));
	assert_null(strchr(s, '\n'));
	free(s);
	json_decref(a);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(booking_as_staff_sees_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(public_view_has_no_personal_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(kiosk_view_has_no_dossier, setup, teardown),
	    cmocka_unit_test_setup_teardown(walkin_has_null_slot_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(instants_in_the_configured_offset, setup, teardown),
	    cmocka_unit_test_setup_teardown(rendered_answer_is_the_staff_view, setup, teardown),
	};
	return cmocka_run_group_tests_name("ticket", tests, NULL, NULL);
}
