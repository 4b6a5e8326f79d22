/* test_valid.c: src/valid.c: every request field's validation, and the citizen id's keyed hash. */
#include "unit.h"

#include "reply.h"
#include "valid.h"

/* A string of N copies of UNIT (each UNIT one character, possibly several bytes). */
static char *
repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit);
	char *s = malloc(len * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, unit, len);
	s[len * n] = 0;
	return s;
}

struct vcase {
	const char *s;
	int ok;
};

static void
check_table(const char *what, int (*fn)(const char *), const struct vcase *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = fn(v[i].s) != 0;
		if (got != v[i].ok)
			fail_msg("%s(\"%s\") should be %s", what, v[i].s,
			         v[i].ok ? "valid" : "invalid");
	}
	assert_false(fn(NULL)); /* absent is never valid */
}

/* citizen_id: 12 digits. */
static void
citizen_ids(void **state)
{
	(void)state;
	static const struct vcase v[] = {
	    {"001234561234", 1},
	    {"000000000000", 1},
	    {"999999999999", 1},
	    {"079203001234", 1},
	    {"", 0},
	    {"00123456123", 0},
	    {"0012345612345", 0},
	    {"00123456123a", 0},
	    {"A01234561234", 0},
	    {"0012 3456 1234", 0},
	    {"001234 561234", 0},
	    {" 001234561234", 0},
	    {"001234561234 ", 0},
	    {"-01234561234", 0},
	    {"+01234561234", 0},
	    {"0012345612.4", 0},
	    {"00123456123\xd9\xa4", 0},     /* an Arabic-Indic digit four */
	    {"00123456123\xef\xbc\x94", 0}, /* a full-width four */
	    {"001234561234\n", 0},
	};
	check_table("valid_citizen_id", valid_citizen_id, v, NELEM(v));
}

/* phone: 10 digits starting with 0. */
static void
phones(void **state)
{
	(void)state;
	static const struct vcase v[] = {
	    {"0912345678", 1},
	    {"0243825xxxx", 0},
	    {"0000000000", 1},
	    {"0999999999", 1},
	    {"1912345678", 0},
	    {"9123456789", 0},
	    {"091234567", 0},
	    {"09123456789", 0},
	    {"+84912345678", 0},
	    {"84912345678", 0},
	    {"091 234 5678", 0},
	    {"091-234-5678", 0},
	    {"", 0},
	    {"0", 0},
	    {"0912345678 ", 0},
	    {"O912345678", 0},
	    {"091234567\xef\xbc\x98", 0},
	};
	check_table("valid_phone", valid_phone, v, NELEM(v));
}

/* priority: one of the contract's five. */
static void
priorities(void **state)
{
	(void)state;
	static const struct vcase v[] = {
	    {"elderly", 1},       {"disabled", 1}, {"pregnant", 1}, {"child_under_6", 1},
	    {"merit", 1},         {"", 0},         {"Elderly", 0},  {"ELDERLY", 0},
	    {"elderly ", 0},      {" merit", 0},   {"child", 0},    {"child_under_5", 0},
	    {"child-under-6", 0}, {"none", 0},     {"null", 0},     {"veteran", 0},
	    {"elderly,merit", 0}, {"mer", 0},      {"merits", 0},
	};
	check_table("valid_priority", valid_priority, v, NELEM(v));
}

/* dossier_id: 1-64 printable characters (the portal's numbers: ASCII letters, digits, marks). */
static void
dossiers(void **state)
{
	(void)state;
	char *d64 = repeat("9", 64), *d65 = repeat("9", 65);
	const struct vcase v[] = {
	    {"000.00.13.H26-241123-0001", 1},
	    {"G22.37.1-241001-0001", 1},
	    {"1", 1},
	    {"A/B_C:D#1", 1},
	    {d64, 1},
	    {d65, 0},
	    {"", 0},
	    {"H26-241123\n", 0},
	    {"H26\t241123", 0},
	    {"H26\r241123", 0},
	    {"\x1b[2J", 0},
	};
	check_table("valid_dossier", valid_dossier, v, NELEM(v));
	free(d64);
	free(d65);
}

/* Idempotency-Key: 1-64 of [A-Za-z0-9_-]. */
static void
idempotency_keys(void **state)
{
	(void)state;
	char *k64 = repeat("k", 64), *k65 = repeat("k", 65);
	const struct vcase v[] = {
	    {"a", 1},
	    {"Z", 1},
	    {"0", 1},
	    {"_", 1},
	    {"-", 1},
	    {"booking-2026-11-23_A9z", 1},
	    {"550e8400-e29b-41d4-a716-446655440000", 1},
	    {k64, 1},
	    {k65, 0},
	    {"", 0},
	    {"a b", 0},
	    {"a.b", 0},
	    {"a/b", 0},
	    {"a+b", 0},
	    {"a=", 0},
	    {"khóa", 0},
	    {"key\n", 0},
	    {"key\"", 0},
	};
	check_table("valid_idem_key", valid_idem_key, v, NELEM(v));
	free(k64);
	free(k65);
}

/* Ticket codes: 8-16 of upper-case letters and digits. */
static void
codes(void **state)
{
	(void)state;
	static const struct vcase v[] = {
	    {"K7M2Q9XD", 1},  {"ABCDEFGH", 1},          {"12345678", 1},   {"K7M2Q9XDK7M2Q9XD", 1},
	    {"K7M2Q9X", 0},   {"K7M2Q9XDK7M2Q9XDA", 0}, {"k7m2q9xd", 0},   {"K7M2q9XD", 0},
	    {"K7M2-Q9XD", 0}, {"K7M2 Q9XD", 0},         {"K7M2Q9XD\n", 0}, {"", 0},
	    {"../../etc", 0}, {"K7M2Q9X\xc4\x90", 0},   {"%4B7M2Q9XD", 0},
	};
	check_table("valid_code", valid_code, v, NELEM(v));
}

/* Ids of points, services and counters: [a-z0-9][a-z0-9-]{0,63}. */
static void
ids(void **state)
{
	(void)state;
	char *i64 = repeat("a", 64), *i65 = repeat("a", 65);
	const struct vcase v[] = {
	    {"a", 1},       {"0", 1},         {"cua-nam", 1}, {"cua-nam-1", 1}, {"a-", 1},
	    {"a--b", 1},    {i64, 1},         {i65, 0},       {"", 0},          {"-a", 0},
	    {"Cua-nam", 0}, {"cua_nam", 0},   {"cua nam", 0}, {"cửa-nam", 0},   {"cua.nam", 0},
	    {"cua/nam", 0}, {"cua-nam\n", 0},
	};
	check_table("id_valid", id_valid, v, NELEM(v));
	free(i64);
	free(i65);
}

/* Free text (names, comments): 1..MAX characters counted as characters, not bytes; no controls. */
static void
text_lengths_count_characters(void **state)
{
	(void)state;
	char *ascii100 = repeat("a", 100), *ascii101 = repeat("a", 101);
	char *viet100 = repeat("\xe1\xbb\x85", 100); /* "ễ", 3 bytes */
	char *viet101 = repeat("\xe1\xbb\x85", 101);
	char *emoji100 = repeat("\xf0\x9f\x98\x80", 100); /* 4 bytes */
	assert_true(valid_utf8_text(ascii100, 100));
	assert_false(valid_utf8_text(ascii101, 100));
	assert_true(valid_utf8_text(viet100, 100)); /* 300 bytes, 100 characters */
	assert_false(valid_utf8_text(viet101, 100));
	assert_true(valid_utf8_text(emoji100, 100));
	assert_true(valid_utf8_text("Nguyễn Thị Minh Khai", 20));
	assert_false(valid_utf8_text("Nguyễn Thị Minh Khai", 19));
	assert_true(valid_utf8_text("Đ", 1));
	assert_false(valid_utf8_text("", 100));
	assert_false(valid_utf8_text(NULL, 100));
	free(ascii100);
	free(ascii101);
	free(viet100);
	free(viet101);
	free(emoji100);
}

static void
text_refuses_control_characters(void **state)
{
	(void)state;
	static const struct vcase v[] = {
	    {"Nguyễn Văn A", 1},
	    {"Trần  Hưng Đạo", 1},
	    {"Phòng 3, tầng 2 — rất tốt!", 1},
	    {"dòng một\ndòng hai", 1}, /* a comment may have lines */
	    {"Nguyễn\tVăn", 0},
	    {"Nguyễn\rVăn", 0},
	    {"\x1b[31mđỏ", 0},
	    {"a\x01", 0},
	};
	for (size_t i = 0; i < NELEM(v); i++)
		if ((valid_utf8_text(v[i].s, 100) != 0) != v[i].ok)
			fail_msg("valid_utf8_text(\"%s\") should be %s", v[i].s,
			         v[i].ok ? "valid" : "invalid");
}

/* ---- the request helpers: each answers 400 invalid_field naming the field ---- */

static struct req *
req_with(const char *body)
{
	static struct req r;
	json_error_t e;
	memset(&r, 0, sizeof r);
	r.json = json_loads(body, 0, &e);
	assert_non_null(r.json);
	return &r;
}

static void
req_done(struct req *r)
{
	json_decref(r->json);
	free(r->out);
	memset(r, 0, sizeof *r);
}

/* R's answer is the contract's 400 invalid_field naming FIELD. */
static void
assert_invalid_field(struct req *r, const char *field)
{
	assert_true(r->replied);
	assert_int_equal(r->status, 400);
	assert_non_null(r->out);
	json_error_t e;
	json_t *body = json_loadb(r->out, r->out_len, 0, &e);
	assert_non_null(body);
	json_t *err = json_object_get(body, "error");
	assert_true(json_is_object(err));
	assert_string_equal(json_string_value(json_object_get(err, "code")), "invalid_field");
	assert_string_equal(json_string_value(json_object_get(err, "field")), field);
	assert_true(json_is_string(json_object_get(err, "message")));
	json_decref(body);
}

static void
field_string_required_and_optional(void **state)
{
	(void)state;
	const char *out = "x";
	struct req *r = req_with("{\"citizen_id\": \"001234561234\", \"phone\": null}");
	assert_int_equal(field_string(r, "citizen_id", 1, valid_citizen_id, &out), 0);
	assert_string_equal(out, "001234561234");
	assert_false(r->replied);
	/* Optional, null or absent: no value and no error. */
	assert_int_equal(field_string(r, "phone", 0, valid_phone, &out), 0);
	assert_null(out);
	assert_int_equal(field_string(r, "name", 0, NULL, &out), 0);
	assert_null(out);
	assert_false(r->replied);
	req_done(r);

	static const struct {
		const char *body, *field;
		int required;
		int (*check)(const char *);
	} bad[] = {
	    {"{}", "citizen_id", 1, valid_citizen_id},                           /* missing */
	    {"{\"citizen_id\": null}", "citizen_id", 1, valid_citizen_id},       /* null */
	    {"{\"citizen_id\": 1234561234}", "citizen_id", 1, valid_citizen_id}, /* a number */
	    {"{\"citizen_id\": [\"001234561234\"]}", "citizen_id", 1, valid_citizen_id},
	    {"{\"citizen_id\": \"00123456123\"}", "citizen_id", 1, valid_citizen_id},
	    {"{\"phone\": \"84912345678\"}", "phone", 0, valid_phone}, /* optional, but malformed */
	    {"{\"phone\": 912345678}", "phone", 0, valid_phone},
	    {"{\"priority\": \"vip\"}", "priority", 0, valid_priority},
	    {"{\"priority\": true}", "priority", 0, valid_priority},
	    {"{\"dossier_id\": \"\"}", "dossier_id", 0, valid_dossier},
	    {"{\"point\": {}}", "point", 1, NULL},
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		r = req_with(bad[i].body);
		out = "x";
		assert_int_equal(field_string(r, bad[i].field, bad[i].required, bad[i].check, &out),
		                 -1);
		assert_invalid_field(r, bad[i].field);
		req_done(r);
	}
}

static void
field_date_and_time(void **state)
{
	(void)state;
	int day = -1, minute = -1;
	struct req *r = req_with("{\"date\": \"2026-11-24\", \"start\": \"09:00\"}");
	assert_int_equal(field_date(r, "date", &day), 0);
	assert_int_equal(day, MON_2026_11_23 + 1);
	assert_int_equal(field_hhmm(r, "start", &minute), 0);
	assert_int_equal(minute, 9 * 60);
	assert_false(r->replied);
	req_done(r);

	static const char *const bad_dates[] = {
	    "{}",
	    "{\"date\": null}",
	    "{\"date\": 20261124}",
	    "{\"date\": \"24/11/2026\"}",
	    "{\"date\": \"2026-11-31\"}",
	    "{\"date\": \"2026-11-24T09:00:00+07:00\"}",
	    "{\"date\": \"\"}",
	};
	for (size_t i = 0; i < NELEM(bad_dates); i++) {
		r = req_with(bad_dates[i]);
		assert_int_equal(field_date(r, "date", &day), -1);
		assert_invalid_field(r, "date");
		req_done(r);
	}
	static const char *const bad_times[] = {
	    "{}",
	    "{\"start\": null}",
	    "{\"start\": 900}",
	    "{\"start\": \"9:00\"}",
	    "{\"start\": \"09:00:00\"}",
	    "{\"start\": \"24:00\"}",
	    "{\"start\": \"09h00\"}",
	};
	for (size_t i = 0; i < NELEM(bad_times); i++) {
		r = req_with(bad_times[i]);
		assert_int_equal(field_hhmm(r, "start", &minute), -1);
		assert_invalid_field(r, "start");
		req_done(r);
	}
}

/* ---- the citizen id's keyed hash ---- */

static void
citizen_hash_is_hmac_sha256_with_the_secret(void **state)
{
	(void)state;
	struct catalogue c = {0};
	struct catalogue *saved = cat;
	char out[65];
	cat = &c;
	/* RFC 4231, test cases 1 and 2. */
	char key1[21];
	memset(key1, 0x0b, 20);
	key1[20] = 0;
	c.secret = key1;
	c.secret_len = 20;
	citizen_hash("Hi There", out);
	assert_string_equal(out,
	                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	c.secret = "Jefe";
	c.secret_len = 4;
	citizen_hash("what do ya want for nothing?", out);
	assert_string_equal(out,
	                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	cat = saved;
}

static void
citizen_hash_hides_the_id(void **state)
{
	(void)state;
	struct catalogue a = {.secret = UNIT_SECRET, .secret_len = strlen(UNIT_SECRET)};
	struct catalogue b = {.secret = "another-secret-of-32-bytes-or-more......",
	                      .secret_len = strlen("another-secret-of-32-bytes-or-more......")};
	struct catalogue *saved = cat;
	char h1[65], h2[65], h3[65], h4[65];
	cat = &a;
	citizen_hash("001234561234", h1);
	citizen_hash("001234561234", h2);
	citizen_hash("001234561235", h3);
	cat = &b;
	citizen_hash("001234561234", h4);
	cat = saved;
	assert_int_equal(strlen(h1), 64);
	for (int i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", h1[i]));
	assert_string_equal(h1, h2);     /* the same citizen finds their bookings */
	assert_string_not_equal(h1, h3); /* another citizen does not */
	assert_string_not_equal(h1, h4); /* and another secret gives another hash */
	/*
	 * The id itself is not in it, in clear or hex-encoded: twelve given digits turn up by
	 * chance in 64 random hex digits with odds of about 53 in 16^12, so only a leak matches.
	 */
	assert_null(strstr(h1, "001234561234"));
	assert_null(strstr(h1, "303031323334353631323334"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(citizen_ids),
	    cmocka_unit_test(phones),
	    cmocka_unit_test(priorities),
	    cmocka_unit_test(dossiers),
	    cmocka_unit_test(idempotency_keys),
	    cmocka_unit_test(codes),
	    cmocka_unit_test(ids),
	    cmocka_unit_test(text_lengths_count_characters),
	    cmocka_unit_test(text_refuses_control_characters),
	    cmocka_unit_test(field_string_required_and_optional),
	    cmocka_unit_test(field_date_and_time),
	    cmocka_unit_test(citizen_hash_is_hmac_sha256_with_the_secret),
	    cmocka_unit_test(citizen_hash_hides_the_id),
	};
	return cmocka_run_group_tests_name("valid", tests, NULL, NULL);
}
