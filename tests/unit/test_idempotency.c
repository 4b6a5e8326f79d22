/*
 * test_idempotency.c: Idempotency-Key storage in src/store.c: a key is the client's, kept with
 * the first answer for 24 hours, taken only by a booking that succeeds. (The body hash and its
 * comparison live in h_bookings.c, behind HTTP: the integration tests drive those.)
 */
#include "unit_db.h"

#include "store.h"
#include "ticket.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CITIZEN_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define CITIZEN_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define DAY (24 * 3600)

static int64_t t0;

static int
setup(void **state)
{
	(void)state;
	char *text = unit_point_json(
	    "{\"mon\": [\"07:30-12:00\"], \"tue\": [\"07:30-12:00\"]}", "[]",
	    "[{\"id\": \"cu-tru\", \"name\": \"Cư trú\", \"prefix\": \"A\", \"slot_minutes\": 30,"
	    " \"slot_capacity\": 1}]",
	    "[{\"id\": \"cua-nam-1\", \"name\": \"Quầy 1\", \"services\": [\"cu-tru\"]}]");
	unit_db_open(text);
	free(text);
	assert_int_equal(instant_parse("2026-11-23T08:00:00+07:00", &t0), 0);
	return 0;
}

/* Looks KEY of CLIENT up as the daemon does at NOW (keys younger than 24 h). */
static int
lookup(const char *client, const char *key, int64_t now, char hash[65], int *status, char **answer)
{
	*answer = NULL;
	int rc = store_idem_get(client, key, now - DAY, hash, status, answer);
	assert_true(rc == 0 || rc == 1);
	return rc;
}

static void
put(const char *client, const char *key, const char *hash, const char *answer, int64_t now)
{
	assert_int_equal(db_op_begin(), 0);
	int rc = store_idem_put(client, key, hash, 201, answer, now);
	db_op_end(rc == 0);
	assert_int_equal(rc, 0);
}

static void
same_key_answers_the_first_answer(void **state)
{
	(void)state;
	char hash[65], *answer;
	int status = 0;
	put("ihanoi", "k-1", HASH_A, "{\"code\":\"K7M2Q9XD\"}", t0);
	assert_int_equal(lookup("ihanoi", "k-1", t0 + 5, hash, &status, &answer), 1);
	assert_string_equal(hash, HASH_A);
	assert_int_equal(status, 201);
	assert_string_equal(answer, "{\"code\":\"K7M2Q9XD\"}");
	free(answer);
}

static void
unknown_key_is_not_found(void **state)
{
	(void)state;
	char hash[65], *answer;
	int status;
	put("ihanoi", "k-1", HASH_A, "{}", t0);
	assert_int_equal(lookup("ihanoi", "k-9", t0, hash, &status, &answer), 0);
	assert_int_equal(lookup("ihanoi", "K-1", t0, hash, &status, &answer), 0); /* case matters */
	assert_null(answer);
}

/* A key belongs to the client that sent it: another client's same key is its own. */
static void
keys_are_per_client(void **state)
{
	(void)state;
	char hash[65], *answer;
	int status;
	put("ihanoi", "shared", HASH_A, "{\"from\":\"ihanoi\"}", t0);
	assert_int_equal(lookup("ops", "shared", t0, hash, &status, &answer), 0);
	put("ops", "shared", HASH_B, "{\"from\":\"ops\"}", t0 + 1);
	assert_int_equal(lookup("ihanoi", "shared", t0 + 2, hash, &status, &answer), 1);
	assert_string_equal(hash, HASH_A);
	assert_string_equal(answer, "{\"from\":\"ihanoi\"}");
	free(answer);
	assert_int_equal(lookup("ops", "shared", t0 + 2, hash, &status, &answer), 1);
	assert_string_equal(hash, HASH_B);
	assert_string_equal(answer, "{\"from\":\"ops\"}");
	free(answer);
}

/* Within 24 h the key answers; after 24 h it is a new key. */
static void
keys_last_24_hours(void **state)
{
	(void)state;
	char hash[65], *answer;
	int status;
	put("ihanoi", "k-day", HASH_A, "{}", t0);
	assert_int_equal(lookup("ihanoi", "k-day", t0 + DAY - 1, hash, &status, &answer), 1);
	free(answer);
	assert_int_equal(lookup("ihanoi", "k-day", t0 + DAY + 1, hash, &status, &answer), 0);
	assert_int_equal(lookup("ihanoi", "k-day", t0 + 7 * DAY, hash, &status, &answer), 0);
}

/* The deadline sweep forgets keys older than 24 h, and only those. */
static void
old_keys_are_forgotten(void **state)
{
	(void)state;
	char hash[65], *answer;
	int status;
	put("ihanoi", "old", HASH_A, "{\"n\":1}", t0);
	put("ihanoi", "young", HASH_A, "{\"n\":2}", t0 + 3600);
	/* No ticket is due: the sweep expires none, and forgets the old key all the same. */
	assert_int_equal(store_expire_due(t0 + DAY + 1, 7 * 60), 0);
	/* Looked up with no age limit at all: the old row is gone, the young one is kept. */
	assert_int_equal(store_idem_get("ihanoi", "old", 0, hash, &status, &answer), 0);
	assert_int_equal(store_idem_get("ihanoi", "young", 0, hash, &status, &answer), 1);
	free(answer);
	/* The forgotten key may be used again, with another body. */
	put("ihanoi", "old", HASH_B, "{\"n\":3}", t0 + DAY + 2);
	assert_int_equal(lookup("ihanoi", "old", t0 + DAY + 3, hash, &status, &answer), 1);
	assert_string_equal(hash, HASH_B);
	assert_string_equal(answer, "{\"n\":3}");
	free(answer);
}

static struct booking_in
booking(const char *citizen, const char *start, const char *key, const char *hash)
{
	const struct point *p = catalogue_point(cat, "cua-nam");
	struct booking_in in = {
	    .point = p,
	    .service = point_service(p, "cu-tru"),
	    .day = MON_2026_11_23 + 1,
	    .citizen_hash = citizen,
	    .last4 = "1234",
	    .priority = NULL,
	    .idem_key = key,
	    .idem_hash = hash,
	    .render = ticket_render,
	};
	assert_int_equal(hhmm_parse(start, &in.start), 0);
	in.end = in.start + 30;
	return in;
}

/* A booking made with a key keeps its answer under that key, in the same change. */
static void
booking_keeps_its_answer(void **state)
{
	(void)state;
	struct ticket t;
	char hash[65], *answer;
	int status;
	struct booking_in in = booking(CITIZEN_1, "09:00", "book-1", HASH_A);
	assert_int_equal(store_book(&in, "ihanoi", t0, &t), E_OK);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(lookup("ihanoi", "book-1", t0 + 10, hash, &status, &answer), 1);
	assert_string_equal(hash, HASH_A);
	assert_int_equal(status, 201);
	json_error_t e;
	json_t *first = json_loads(answer, 0, &e);
	free(answer);
	assert_non_null(first);
	assert_string_equal(unit_json_str(first, "code"), t.code);
	assert_string_equal(unit_json_str(first, "number"), "A001");
	assert_string_equal(unit_json_str(first, "status"), "booked");
	assert_string_equal(unit_json_str(first, "start"), "09:00");
	assert_string_equal(unit_json_str(first, "citizen_id"), "********1234");
	/* The answer is the first answer even after the booking changed: cancelled since. */
	struct ticket c;
	assert_int_equal(store_cancel(t.code, "ihanoi", t0 + 20, &c), E_OK);
	assert_int_equal(lookup("ihanoi", "book-1", t0 + 30, hash, &status, &answer), 1);
	json_t *again = json_loads(answer, 0, &e);
	free(answer);
	assert_true(json_equal(first, again));
	json_decref(first);
	json_decref(again);
}

/* A refused booking takes no key: the same key may then book for real. */
static void
refused_booking_takes_no_key(void **state)
{
	(void)state;
	struct ticket t;
	char hash[65], *answer;
	int status;
	struct booking_in first = booking(CITIZEN_1, "09:00", NULL, NULL);
	assert_int_equal(store_book(&first, "ihanoi", t0, &t), E_OK);
	/* The 09:00 slot holds one: full. */
	struct booking_in full = booking(CITIZEN_2, "09:00", "try-1", HASH_A);
	assert_int_equal(store_book(&full, "ihanoi", t0 + 1, &t), E_SLOT_FULL);
	assert_int_equal(lookup("ihanoi", "try-1", t0 + 2, hash, &status, &answer), 0);
	/* The same citizen, same service, same date: a duplicate. */
	struct booking_in dup = booking(CITIZEN_1, "10:00", "try-2", HASH_A);
	assert_int_equal(store_book(&dup, "ihanoi", t0 + 3, &t), E_DUPLICATE_BOOKING);
	assert_int_equal(lookup("ihanoi", "try-2", t0 + 4, hash, &status, &answer), 0);
	/* Retried on a free slot, the key books and is kept. */
	struct booking_in ok = booking(CITIZEN_2, "10:00", "try-1", HASH_B);
	assert_int_equal(store_book(&ok, "ihanoi", t0 + 5, &t), E_OK);
	assert_string_equal(t.number, "A002"); /* the refusals took no number */
	assert_int_equal(lookup("ihanoi", "try-1", t0 + 6, hash, &status, &answer), 1);
	assert_string_equal(hash, HASH_B);
	free(answer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(same_key_answers_the_first_answer, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(unknown_key_is_not_found, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(keys_are_per_client, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(keys_last_24_hours, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(old_keys_are_forgotten, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(booking_keeps_its_answer, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(refused_booking_takes_no_key, setup, unit_db_teardown),
	};
	return cmocka_run_group_tests_name("idempotency", tests, NULL, NULL);
}
