/* test_stats.c: src/stats.c: a day's counts, averages and nearest-rank p90, as contracted. */
#include "unit_db.h"

#include "stats.h"

static void
nearest_rank_percentiles(void **state)
{
	(void)state;
	static const struct {
		int64_t v[24];
		int n, p;
		int64_t want;
	} cases[] = {
	    {{0}, 0, 90, -1}, /* nothing: null */
	    {{42}, 1, 90, 42},
	    {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, 90, 9},      /* rank ceil(9.0) = 9 */
	    {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 11, 90, 10}, /* rank ceil(9.9) = 10 */
	    {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 20, 90, 18},
	    {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21},
	     21,
	     90,
	     19},                           /* rank ceil(18.9) = 19 */
	    {{30, 10, 20}, 3, 90, 30},      /* unsorted; rank ceil(2.7) = 3 */
	    {{300, 100}, 2, 90, 300},       /* rank ceil(1.8) = 2 */
	    {{5, 5, 5, 1}, 4, 90, 5},       /* duplicates */
	    {{1, 2, 3, 4}, 4, 50, 2},       /* rank 2 */
	    {{1, 2, 3, 4, 5}, 5, 50, 3},    /* rank ceil(2.5) = 3 */
	    {{9, 1, 5}, 3, 100, 9},         /* the maximum */
	    {{9, 1, 5}, 3, 0, 1},           /* rank at least 1: the minimum */
	    {{0, 0, 0, 3600}, 4, 90, 3600}, /* rank ceil(3.6) = 4 */
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t v[24];
		memcpy(v, cases[i].v, sizeof v);
		int64_t got = stats_percentile(v, cases[i].n, cases[i].p);
		if (got != cases[i].want)
			fail_msg("case %zu: p%d = %lld, not %lld", i, cases[i].p, (long long)got,
			         (long long)cases[i].want);
	}
}

/* A ticket's events, at seconds of an arbitrary morning. */
static struct stats_row
row(const char *service, int booking, enum tstatus status, int64_t began, int64_t first_call,
    int64_t last_call, int64_t completed, int rating)
{
	return (struct stats_row){.service = service,
	                          .booking = booking,
	                          .status = status,
	                          .began_waiting = began,
	                          .first_call = first_call,
	                          .last_call = last_call,
	                          .completed = completed,
	                          .checked_in = booking && began != 0,
	                          .rating = rating};
}

#define T0 1000000

/* A day's statistics as the contract shows them, every field of a day with some of each. */
struct want {
	int booked, cancelled, walkins, checked_in, served, no_show, expired;
	double avg_wait;
	int p90_wait;
	double avg_service;
	int feedback_count;
	double feedback_avg;
};

static void
expect_stats(struct stats *s, const struct want *w)
{
	json_t *o = stats_json(s);
	assert_non_null(o);
	assert_int_equal(unit_json_int(o, "booked"), w->booked);
	assert_int_equal(unit_json_int(o, "cancelled"), w->cancelled);
	assert_int_equal(unit_json_int(o, "walkins"), w->walkins);
	assert_int_equal(unit_json_int(o, "checked_in"), w->checked_in);
	assert_int_equal(unit_json_int(o, "served"), w->served);
	assert_int_equal(unit_json_int(o, "no_show"), w->no_show);
	assert_int_equal(unit_json_int(o, "expired"), w->expired);
	assert_true(unit_json_num(o, "avg_wait_seconds") == w->avg_wait);
	assert_int_equal(unit_json_int(o, "p90_wait_seconds"), w->p90_wait);
	assert_true(unit_json_num(o, "avg_service_seconds") == w->avg_service);
	assert_int_equal(unit_json_int(o, "feedback_count"), w->feedback_count);
	assert_true(unit_json_num(o, "feedback_avg") == w->feedback_avg);
	json_decref(o);
}

/* One day: every kind of ticket and its counts, waits and service times. */
static void
a_day_of_tickets(void **state)
{
	(void)state;
	struct stats s = {0};
	const struct stats_row rows[] = {
	    /* bookings: served (waited 600 s, served 300 s), no-show (waited 120 s), cancelled,
	     * expired (never came), still booked (tomorrow's?), served after a recall */
	    row("cu-tru", 1, ST_SERVED, T0, T0 + 600, T0 + 600, T0 + 900, 5),
	    row("cu-tru", 1, ST_NO_SHOW, T0 + 100, T0 + 220, T0 + 400, 0, 0),
	    row("cu-tru", 1, ST_CANCELLED, 0, 0, 0, 0, 0),
	    row("cu-tru", 1, ST_EXPIRED, 0, 0, 0, 0, 0),
	    row("cu-tru", 1, ST_BOOKED, 0, 0, 0, 0, 0),
	    /* served after two announcements: service counts from the last call */
	    row("cu-tru", 1, ST_SERVED, T0 + 50, T0 + 1250, T0 + 1310, T0 + 1610, 3),
	    /* walk-ins: served (waited 60 s, served 240 s), waiting still, expired at day end */
	    row("cu-tru", 0, ST_SERVED, T0 + 10, T0 + 70, T0 + 70, T0 + 310, 4),
	    row("cu-tru", 0, ST_WAITING, T0 + 20, 0, 0, 0, 0),
	    row("cu-tru", 0, ST_EXPIRED, T0 + 30, 0, 0, 0, 0),
	};
	for (size_t i = 0; i < NELEM(rows); i++)
		stats_add(&s, &rows[i]);
	expect_stats(&s, &(struct want){
	                     .booked = 6, /* every booking made for the date, cancelled too */
	                     .cancelled = 1,
	                     .walkins = 3,
	                     .checked_in = 3, /* bookings only */
	                     .served = 3,
	                     .no_show = 1,
	                     .expired = 2,
	                     /* waits: 600, 120, 1200, 60 -> average 495; p90 rank ceil(3.6) = 4 */
	                     .avg_wait = 495.0,
	                     .p90_wait = 1200,
	                     .avg_service = 280.0, /* service: 300, 300, 240 */
	                     .feedback_count = 3,
	                     .feedback_avg = 4.0,
	                 });
	stats_free(&s);
}

/* An average over nothing is null; counts are 0. */
static void
empty_day_has_null_averages(void **state)
{
	(void)state;
	struct stats s = {0};
	json_t *o = stats_json(&s);
	for (int i = 0; stats_fields[i]; i++) {
		assert_non_null(json_object_get(o, stats_fields[i]));
		if (strstr(stats_fields[i], "avg") || strstr(stats_fields[i], "p90"))
			unit_json_null(o, stats_fields[i]);
		else
			assert_int_equal(unit_json_int(o, stats_fields[i]), 0);
	}
	json_decref(o);
	/* Tickets but nobody called yet, nothing served, no feedback: still null averages. */
	struct stats_row r = row("cu-tru", 0, ST_WAITING, T0, 0, 0, 0, 0);
	stats_add(&s, &r);
	r = row("cu-tru", 1, ST_BOOKED, 0, 0, 0, 0, 0);
	stats_add(&s, &r);
	o = stats_json(&s);
	assert_int_equal(unit_json_int(o, "walkins"), 1);
	assert_int_equal(unit_json_int(o, "booked"), 1);
	unit_json_null(o, "avg_wait_seconds");
	unit_json_null(o, "p90_wait_seconds");
	unit_json_null(o, "avg_service_seconds");
	unit_json_null(o, "feedback_avg");
	assert_int_equal(unit_json_int(o, "feedback_count"), 0);
	json_decref(o);
	stats_free(&s);
}

/* A ticket called but not served has a wait and no service time. */
static void
called_not_served_has_no_service_time(void **state)
{
	(void)state;
	struct stats s = {0};
	struct stats_row r = row("cu-tru", 0, ST_CALLED, T0, T0 + 90, T0 + 90, 0, 0);
	stats_add(&s, &r);
	r = row("cu-tru", 0, ST_PARKED, T0, T0 + 30, T0 + 30, 0, 0);
	stats_add(&s, &r);
	json_t *o = stats_json(&s);
	assert_true(unit_json_num(o, "avg_wait_seconds") == 60.0);
	assert_int_equal(unit_json_int(o, "p90_wait_seconds"), 90);
	unit_json_null(o, "avg_service_seconds");
	json_decref(o);
	stats_free(&s);
}

/* Many tickets (past any initial capacity): waits 1..100 s give avg 50.5 and p90 90. */
static void
many_tickets(void **state)
{
	(void)state;
	struct stats s = {0};
	for (int i = 100; i >= 1; i--) {
		struct stats_row r =
		    row("cu-tru", 0, ST_SERVED, T0, T0 + i, T0 + i, T0 + i + 2 * i, 0);
		stats_add(&s, &r);
	}
	json_t *o = stats_json(&s);
	assert_int_equal(unit_json_int(o, "walkins"), 100);
	assert_int_equal(unit_json_int(o, "served"), 100);
	assert_true(unit_json_num(o, "avg_wait_seconds") == 50.5);
	assert_int_equal(unit_json_int(o, "p90_wait_seconds"), 90);
	assert_true(unit_json_num(o, "avg_service_seconds") == 101.0);
	json_decref(o);
	stats_free(&s);
	assert_null(s.waits); /* freed and cleared */
	assert_int_equal(s.nwaits, 0);
}

/* The fields, in the contract's order (the CSV header), and nothing else. */
static void
fields_in_the_contracts_order(void **state)
{
	(void)state;
	static const char *const contract[] = {
	    "booked",           "cancelled",
	    "walkins",          "checked_in",
	    "served",           "no_show",
	    "expired",          "avg_wait_seconds",
	    "p90_wait_seconds", "avg_service_seconds",
	    "feedback_count",   "feedback_avg",
	};
	size_t n = 0;
	while (stats_fields[n])
		n++;
	assert_int_equal(n, NELEM(contract));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(stats_fields[i], contract[i]);
	struct stats s = {0};
	json_t *o = stats_json(&s);
	assert_int_equal(json_object_size(o), NELEM(contract));
	json_decref(o);
}

/* ---- from the day's events in the database (store_stats_rows) ---- */

#define ICT (7 * 60)

static int64_t
at(const char *hhmm)
{
	int m;
	assert_int_equal(hhmm_parse(hhmm, &m), 0);
	return local_instant(MON_2026_11_23, m, ICT);
}

static void
fold(const struct stats_row *r, void *arg)
{
	stats_add(arg, r);
}

static struct ticket
book_at(const char *citizen_hash, const char *start)
{
	const struct point *p = catalogue_point(cat, "cua-nam");
	struct booking_in in = {.point = p,
	                        .service = point_service(p, "cu-tru"),
	                        .day = MON_2026_11_23,
	                        .citizen_hash = citizen_hash,
	                        .last4 = "1234"};
	struct ticket t;
	assert_int_equal(hhmm_parse(start, &in.start), 0);
	in.end = in.start + 30;
	assert_int_equal(store_book(&in, "ihanoi", at("07:00"), &t), E_OK);
	return t;
}

static int
setup_db(void **state)
{
	(void)state;
	char *text = unit_point_json(
	    "{\"mon\": [\"07:00-17:00\"]}", "[]",
	    "[{\"id\": \"cu-tru\", \"name\": \"Cư trú\", \"prefix\": \"A\", \"slot_minutes\": 30,"
	    " \"slot_capacity\": 6}]",
	    "[{\"id\": \"quay-1\", \"name\": \"Quầy 1\", \"services\": [\"cu-tru\"]}]");
	unit_db_open(text);
	free(text);
	return 0;
}

/*
 * wait = first called_at - the time the ticket began waiting (check-in or issue); service =
 * completion - last called_at; booked counts cancelled bookings too.
 */
static void
a_day_from_the_database(void **state)
{
	(void)state;
	const struct point *p = catalogue_point(cat, "cua-nam");
	const struct counter *k = catalogue_counter(cat, "quay-1");
	struct ticket t, b1, b4, b5, w2, w3;
	b1 = book_at("1111111111111111111111111111111111111111111111111111111111111111", "09:00");
	b4 = book_at("4444444444444444444444444444444444444444444444444444444444444444", "09:00");
	b5 = book_at("5555555555555555555555555555555555555555555555555555555555555555", "09:00");
	assert_int_equal(store_checkin(p, b1.code, "kiosk", at("08:40"), &t), E_OK);
	assert_int_equal(
	    store_walkin(p, point_service(p, "cu-tru"), NULL, NULL, "kiosk", at("08:50"), &w2),
	    E_OK);
	assert_int_equal(
	    store_walkin(p, point_service(p, "cu-tru"), NULL, NULL, "kiosk", at("08:55"), &w3),
	    E_OK);
	assert_int_equal(store_cancel(b4.code, "ihanoi", at("08:56"), &t), E_OK);
	/* w2 (08:50) is entitled before b1 (09:00): called by code to keep this day simple. */
	assert_int_equal(store_call_code(k, b1.code, "quay-1", at("09:00"), &t), E_OK);
	assert_int_equal(store_recall(k, "quay-1", at("09:02"), &t), E_OK);
	assert_int_equal(store_finish(k, ST_SERVED, "quay-1", at("09:10"), &t), E_OK);
	assert_int_equal(store_call_code(k, w2.code, "quay-1", at("09:15"), &t), E_OK);
	assert_int_equal(store_finish(k, ST_SERVED, "quay-1", at("09:20"), &t), E_OK);
	assert_int_equal(store_call_code(k, w3.code, "quay-1", at("09:21"), &t), E_OK);
	assert_int_equal(store_finish(k, ST_NO_SHOW, "quay-1", at("09:25"), &t), E_OK);
	assert_int_equal(store_expire_due(at("09:46"), ICT), 1); /* b5, never checked in */
	assert_int_equal(store_feedback(b1.code, 4, "nhanh", at("09:30")), E_OK);
	assert_int_equal(store_feedback(w2.code, 5, NULL, at("09:31")), E_OK);
	assert_int_equal(store_feedback(w2.code, 1, NULL, at("09:32")), E_INVALID_STATE); /* once */
	assert_int_equal(store_feedback(w3.code, 1, NULL, at("09:33")),
	                 E_INVALID_STATE); /* not served */
	(void)b5;

	struct stats s = {0};
	assert_int_equal(store_stats_rows("cua-nam", MON_2026_11_23, fold, &s), 0);
	expect_stats(&s, &(struct want){
	                     .booked = 3,
	                     .cancelled = 1,
	                     .walkins = 2,
	                     .checked_in = 1,
	                     .served = 2,
	                     .no_show = 1,
	                     .expired = 1,
	                     /* waits 1200 (08:40-09:00), 1500 (08:50-09:15), 1560 (08:55-09:21) */
	                     .avg_wait = 1420.0,
	                     .p90_wait = 1560,
	                     /* service 480 (09:02-09:10, from the recall), 300 (09:15-09:20) */
	                     .avg_service = 390.0,
	                     .feedback_count = 2,
	                     .feedback_avg = 4.5,
	                 });
	stats_free(&s);
	/* Another day has nothing. */
	assert_int_equal(store_stats_rows("cua-nam", MON_2026_11_23 + 1, fold, &s), 0);
	assert_int_equal(s.booked + s.walkins, 0);
	stats_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nearest_rank_percentiles),
	    cmocka_unit_test(a_day_of_tickets),
	    cmocka_unit_test(empty_day_has_null_averages),
	    cmocka_unit_test(called_not_served_has_no_service_time),
	    cmocka_unit_test(many_tickets),
	    cmocka_unit_test(fields_in_the_contracts_order),
	    cmocka_unit_test_setup_teardown(a_day_from_the_database, setup_db, unit_db_teardown),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
