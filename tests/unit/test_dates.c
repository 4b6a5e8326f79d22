/* test_dates.c: src/dates.c (and the horizon of src/slots.c): dates, times, instants, offsets. */
#include "unit.h"

#include "slots.h"

#define ICT (7 * 60) /* Vietnam, +07:00 */

static int
day_of(const char *s)
{
	int d;
	if (date_parse(s, &d))
		fail_msg("%s should parse", s);
	return d;
}

static int64_t
instant_of(const char *s)
{
	int64_t t;
	if (instant_parse(s, &t))
		fail_msg("%s should parse", s);
	return t;
}

static void
dates_that_parse(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int day;
	} cases[] = {
	    {"1970-01-01", 0},     {"1970-01-02", 1},     {"1970-12-31", 364},
	    {"2000-02-29", 11016}, {"2000-03-01", 11017}, {"2024-02-29", 19782},
	    {"2026-11-23", 20780}, {"2026-11-30", 20787}, {"2026-12-31", 20818},
	    {"2027-01-01", 20819}, {"2028-02-29", 21243}, {"2099-12-31", 47481},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		int d = -1;
		if (date_parse(cases[i].s, &d) != 0)
			fail_msg("%s should parse", cases[i].s);
		assert_int_equal(d, cases[i].day);
		char out[11];
		date_format(d, out);
		assert_string_equal(out, cases[i].s);
	}
}

static void
dates_that_do_not_parse(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "2026",
	    "2026-11",
	    "2026-11-2",
	    "26-11-23",
	    "2026-1-23",
	    "2026/11/23",
	    "2026.11.23",
	    "20261123",
	    " 2026-11-23",
	    "2026-11-23 ",
	    "2026-11-23T",
	    "2026-11-23T00:00:00+07:00",
	    "2026-11-2a",
	    "+026-11-23",
	    "2026-00-10",
	    "2026-13-01",
	    "2026-11-00",
	    "2026-11-31",
	    "2026-02-29",
	    "2100-02-29",
	    "2026-04-31",
	    "2026-06-31",
	    "2026-09-31",
	    "2026-11-32",
	    "2026-1l-23",
	    "２０２６-11-23",
	    "2026-11-23\n",
	    "yyyy-mm-dd",
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		int d = 12345;
		if (date_parse(bad[i], &d) == 0)
			fail_msg("\"%s\" should not parse", bad[i]);
		assert_int_equal(d, 12345); /* untouched */
	}
	int d;
	assert_int_not_equal(date_parse(NULL, &d), 0);
}

/* Every day from 1970 to 2100 formats and parses back to itself, one day after the other. */
static void
every_day_round_trips(void **state)
{
	(void)state;
	int end = day_of("2100-12-31");
	int py = 1969, pm = 12, pd = 31;
	for (int day = 0; day <= end; day++) {
		char s[11];
		int y, m, d, back;
		date_format(day, s);
		assert_int_equal(date_parse(s, &back), 0);
		assert_int_equal(back, day);
		civil_from_days(day, &y, &m, &d);
		assert_int_equal(days_from_civil(y, m, d), day);
		/* The next day of the calendar: d+1, or the 1st of the next month or year. */
		if (d != pd + 1)
			assert_true(d == 1 && (m == pm + 1 || (m == 1 && pm == 12 && y == py + 1)));
		py = y, pm = m, pd = d;
	}
}

static void
weekdays(void **state)
{
	(void)state;
	static const struct {
		const char *date;
		int weekday; /* 0 = Monday */
	} cases[] = {
	    {"1970-01-01", 3}, {"2000-01-01", 5}, {"2000-03-01", 2}, {"2024-02-29", 3},
	    {"2026-11-23", 0}, {"2026-11-24", 1}, {"2026-11-25", 2}, {"2026-11-26", 3},
	    {"2026-11-27", 4}, {"2026-11-28", 5}, {"2026-11-29", 6}, {"2026-11-30", 0},
	    {"2027-01-01", 4}, {"2027-09-02", 3},
	};
	for (size_t i = 0; i < NELEM(cases); i++)
		if (weekday(day_of(cases[i].date)) != cases[i].weekday)
			fail_msg("%s: weekday %d, not %d", cases[i].date,
			         weekday(day_of(cases[i].date)), cases[i].weekday);
	/* Before the epoch too: 1969-12-31 was a Wednesday, 1969-12-29 a Monday. */
	assert_int_equal(weekday(-1), 2);
	assert_int_equal(weekday(-3), 0);
	assert_int_equal(weekday(-7), 3);
}

static void
slot_times(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int minute;
	} good[] = {{"00:00", 0},   {"00:01", 1},    {"07:30", 450}, {"12:00", 720},
	            {"13:30", 810}, {"17:00", 1020}, {"23:59", 1439}};
	for (size_t i = 0; i < NELEM(good); i++) {
		int m = -1;
		char out[6];
		assert_int_equal(hhmm_parse(good[i].s, &m), 0);
		assert_int_equal(m, good[i].minute);
		hhmm_format(m, out);
		assert_string_equal(out, good[i].s);
	}
	static const char *const bad[] = {"",       "7:30",  "07:3",  "0730",  "07-30",    "07.30",
	                                  "24:00",  "25:00", "07:60", "-1:00", "07:30:00", " 07:30",
	                                  "07:30 ", "ab:cd", "07:3O", "99:99", "7h30"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		int m = 777;
		if (hhmm_parse(bad[i], &m) == 0)
			fail_msg("\"%s\" should not parse", bad[i]);
		assert_int_equal(m, 777);
	}
	int m;
	assert_int_not_equal(hhmm_parse(NULL, &m), 0);
}

static void
offsets(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int minutes;
	} good[] = {{"+07:00", 420}, {"-05:30", -330}, {"+05:45", 345}, {"Z", 0},
	            {"+00:00", 0},   {"-00:00", 0},    {"+14:00", 840}, {"-12:00", -720}};
	for (size_t i = 0; i < NELEM(good); i++) {
		int off = 9999;
		if (offset_parse(good[i].s, &off) != 0)
			fail_msg("\"%s\" should parse", good[i].s);
		assert_int_equal(off, good[i].minutes);
	}
	static const char *const bad[] = {"",       "07:00",  "+7:00",   "+0700",  "+07", "+07:0",
	                                  "+07:60", "+15:00", "+07:00 ", "z",      "UTC", "GMT+7",
	                                  "*07:00", "+07-00", "++7:00",  "+07:00Z"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		int off = 9999;
		if (offset_parse(bad[i], &off) == 0)
			fail_msg("\"%s\" should not parse", bad[i]);
	}
	int off;
	assert_int_not_equal(offset_parse(NULL, &off), 0);
}

/* One instant written in several offsets is one instant. */
static void
instants_in_any_offset(void **state)
{
	(void)state;
	int64_t t = instant_of("2026-11-23T09:05:00+07:00");
	assert_int_equal(t, (int64_t)20780 * 86400 + 2 * 3600 + 5 * 60);
	assert_int_equal(instant_of("2026-11-23T02:05:00Z"), t);
	assert_int_equal(instant_of("2026-11-23T02:05:00+00:00"), t);
	assert_int_equal(instant_of("2026-11-22T21:05:00-05:00"), t);
	assert_int_equal(instant_of("2026-11-23T07:50:00+05:45"), t);
	/* The day before in UTC is the same day in Vietnam. */
	assert_int_equal(instant_of("2026-11-23T00:00:00+07:00"),
	                 instant_of("2026-11-22T17:00:00Z"));
	assert_int_equal(instant_of("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(instant_of("2026-11-23T09:05:59+07:00"), t + 59);
}

static void
instants_that_do_not_parse(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "2026-11-23",
	    "2026-11-23T09:05:00",         /* no offset */
	    "2026-11-23T09:05+07:00",      /* no seconds */
	    "2026-11-23 09:05:00+07:00",   /* space */
	    "2026-11-23t09:05:00+07:00",   /* lower-case t */
	    "2026-11-23T09:05:00.5+07:00", /* fraction */
	    "2026-11-23T09:05:00.000Z",    /* fraction */
	    "2026-11-23T24:00:00+07:00",   /* hour 24 */
	    "2026-11-23T09:60:00+07:00",   /* minute 60 */
	    "2026-11-23T09:05:60+07:00",   /* leap second */
	    "2026-02-30T09:05:00+07:00",   /* no such day */
	    "2026-11-23T09:05:00+07:00 ",  /* trailing space */
	    "2026-11-23T09:05:00+07:00x",  /* trailing garbage */
	    "2026-11-23T09:05:00+0700",    /* basic offset */
	    "2026-11-23T9:05:00+07:00",    /* one-digit hour */
	    "2026-11-23T09:05:00+15:00",   /* no such offset */
	    "2026-11-23T09:05:00UTC",
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		int64_t t = 42;
		if (instant_parse(bad[i], &t) == 0)
			fail_msg("\"%s\" should not parse", bad[i]);
		assert_int_equal(t, 42);
	}
	int64_t t;
	assert_int_not_equal(instant_parse(NULL, &t), 0);
}

static void
instants_format_in_the_offset(void **state)
{
	(void)state;
	int64_t t = instant_of("2026-11-23T02:05:09Z");
	static const struct {
		int offset;
		const char *s;
	} cases[] = {
	    {ICT, "2026-11-23T09:05:09+07:00"},  {0, "2026-11-23T02:05:09+00:00"},
	    {-330, "2026-11-22T20:35:09-05:30"}, {345, "2026-11-23T07:50:09+05:45"},
	    {-720, "2026-11-22T14:05:09-12:00"}, {840, "2026-11-23T16:05:09+14:00"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		char out[32];
		instant_format(t, cases[i].offset, out);
		assert_string_equal(out, cases[i].s);
		assert_int_equal(instant_of(out), t);
	}
	/* Midnight and the last second of a day. */
	char out[32];
	instant_format(instant_of("2026-11-23T00:00:00+07:00"), ICT, out);
	assert_string_equal(out, "2026-11-23T00:00:00+07:00");
	instant_format(instant_of("2026-11-23T23:59:59+07:00"), ICT, out);
	assert_string_equal(out, "2026-11-23T23:59:59+07:00");
	instant_format(0, 0, out);
	assert_string_equal(out, "1970-01-01T00:00:00+00:00");
}

/* Local day and minute of an instant, in the configured offset, around midnight. */
static void
local_day_and_minute(void **state)
{
	(void)state;
	static const struct {
		const char *at;
		int offset;
		const char *day;
		const char *minute;
	} cases[] = {
	    {"2026-11-23T09:05:00+07:00", ICT, "2026-11-23", "09:05"},
	    {"2026-11-23T00:00:00+07:00", ICT, "2026-11-23", "00:00"},
	    {"2026-11-22T23:59:59+07:00", ICT, "2026-11-22", "23:59"},
	    {"2026-11-22T17:00:00Z", ICT, "2026-11-23", "00:00"}, /* still the 22nd in UTC */
	    {"2026-11-22T16:59:59Z", ICT, "2026-11-22", "23:59"},
	    {"2026-11-22T17:00:00Z", 0, "2026-11-22", "17:00"},
	    {"2026-11-23T03:00:00Z", -330, "2026-11-22", "21:30"},
	    {"2026-11-23T05:30:00Z", -330, "2026-11-23", "00:00"},
	    {"1970-01-01T03:00:00+07:00", ICT, "1970-01-01", "03:00"}, /* before the epoch in UTC */
	    {"1970-01-01T00:00:00Z", -60, "1969-12-31", "23:00"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t t = instant_of(cases[i].at);
		char d[11], m[6];
		date_format(local_day(t, cases[i].offset), d);
		hhmm_format(local_minute(t, cases[i].offset), m);
		if (strcmp(d, cases[i].day) != 0 || strcmp(m, cases[i].minute) != 0)
			fail_msg("%s at %+d: %s %s, not %s %s", cases[i].at, cases[i].offset, d, m,
			         cases[i].day, cases[i].minute);
		/* local_instant is the inverse, to the minute. */
		int day = local_day(t, cases[i].offset), minute = local_minute(t, cases[i].offset);
		int64_t back = local_instant(day, minute, cases[i].offset);
		assert_true(back <= t && t - back < 60);
	}
}

/* The end of a local day is the start of the next: 24:00 is the next day's 00:00. */
static void
end_of_day(void **state)
{
	(void)state;
	int day = MON_2026_11_23;
	int64_t next = local_instant(day + 1, 0, ICT);
	assert_int_equal(next, instant_of("2026-11-24T00:00:00+07:00"));
	assert_int_equal(local_instant(day, 24 * 60, ICT), next);
	assert_int_equal(local_day(next - 1, ICT), day);
	assert_int_equal(local_minute(next - 1, ICT), 24 * 60 - 1);
	assert_int_equal(local_day(next, ICT), day + 1);
	assert_int_equal(local_minute(next, ICT), 0);
	/* A local day is 86400 s long in a fixed offset. */
	assert_int_equal(local_instant(day + 1, 0, ICT) - local_instant(day, 0, ICT), 86400);
	/* The slot start 09:00 on the 23rd in Vietnam is 02:00Z. */
	assert_int_equal(local_instant(day, 9 * 60, ICT), instant_of("2026-11-23T02:00:00Z"));
	assert_int_equal(local_instant(day, 9 * 60, -330), instant_of("2026-11-23T14:30:00Z"));
}

/*
 * The horizon of horizon_days = 7: today and the next six days; the seventh day after today
 * and every past day are refused.
 */
static void
horizon_today_and_six_days(void **state)
{
	(void)state;
	int today = MON_2026_11_23;
	for (int d = -30; d < 0; d++)
		assert_false(in_horizon(today, today + d, 7));
	for (int d = 0; d <= 6; d++)
		assert_true(in_horizon(today, today + d, 7));
	for (int d = 7; d < 40; d++)
		assert_false(in_horizon(today, today + d, 7));
}

static void
horizon_other_lengths(void **state)
{
	(void)state;
	static const struct {
		int horizon, last; /* the last day in it, after today */
	} cases[] = {{1, 0}, {2, 1}, {7, 6}, {14, 13}, {30, 29}, {366, 365}};
	int today = day_of("2026-12-30");
	for (size_t i = 0; i < NELEM(cases); i++) {
		assert_false(in_horizon(today, today - 1, cases[i].horizon));
		assert_true(in_horizon(today, today, cases[i].horizon));
		assert_true(in_horizon(today, today + cases[i].last, cases[i].horizon));
		assert_false(in_horizon(today, today + cases[i].last + 1, cases[i].horizon));
	}
	/* Over a year's end: 2026-12-30 + 6 is 2027-01-05. */
	assert_true(in_horizon(today, day_of("2027-01-05"), 7));
	assert_false(in_horizon(today, day_of("2027-01-06"), 7));
}

/* "Today" is the date in utc_offset: at 2026-11-23T00:30+07:00 (the 22nd in UTC) it is the 23rd. */
static void
horizon_counts_from_the_local_today(void **state)
{
	(void)state;
	int64_t now = instant_of("2026-11-22T17:30:00Z");
	int today = local_day(now, ICT);
	assert_int_equal(today, day_of("2026-11-23"));
	assert_false(in_horizon(today, day_of("2026-11-22"), 7));
	assert_true(in_horizon(today, day_of("2026-11-29"), 7));
	assert_false(in_horizon(today, day_of("2026-11-30"), 7));
	/* The last second of a local day is still that day; the next is the next day. */
	now = instant_of("2026-11-23T23:59:59+07:00");
	assert_int_equal(local_day(now, ICT), day_of("2026-11-23"));
	assert_int_equal(local_day(now + 1, ICT), day_of("2026-11-24"));
	assert_false(in_horizon(local_day(now + 1, ICT), day_of("2026-11-23"), 7));
	assert_true(in_horizon(local_day(now + 1, ICT), day_of("2026-11-30"), 7));
}

/* Over the horizon, a point with Sunday off and a closed Wednesday opens on five days. */
static void
closed_days_in_the_horizon(void **state)
{
	(void)state;
	const struct point *p;
	struct catalogue *c = unit_point_catalogue(
	    "{\"mon\": [\"07:30-12:00\"], \"tue\": [\"07:30-12:00\"], \"wed\": [\"07:30-12:00\"],"
	    " \"thu\": [\"07:30-12:00\"], \"fri\": [\"07:30-12:00\"], \"sat\": [\"07:30-11:30\"],"
	    " \"sun\": []}",
	    "[\"2026-11-25\"]",
	    "[{\"id\": \"cu-tru\", \"name\": \"Cư trú\", \"prefix\": \"A\", \"slot_minutes\": 30,"
	    " \"slot_capacity\": 6}]",
	    "[]", &p);
	static const int open[7] = {1, 1, 0, 1, 1, 1, 0}; /* Mon 23rd .. Sun 29th */
	int today = MON_2026_11_23;
	for (int d = 0; d < 7; d++) {
		assert_true(in_horizon(today, today + d, c->horizon_days));
		assert_int_equal(!point_closed_on(p, today + d), open[d]);
	}
	assert_false(in_horizon(today, today + 7, c->horizon_days));
	catalogue_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dates_that_parse),
	    cmocka_unit_test(dates_that_do_not_parse),
	    cmocka_unit_test(every_day_round_trips),
	    cmocka_unit_test(weekdays),
	    cmocka_unit_test(slot_times),
	    cmocka_unit_test(offsets),
	    cmocka_unit_test(instants_in_any_offset),
	    cmocka_unit_test(instants_that_do_not_parse),
	    cmocka_unit_test(instants_format_in_the_offset),
	    cmocka_unit_test(local_day_and_minute),
	    cmocka_unit_test(end_of_day),
	    cmocka_unit_test(horizon_today_and_six_days),
	    cmocka_unit_test(horizon_other_lengths),
	    cmocka_unit_test(horizon_counts_from_the_local_today),
	    cmocka_unit_test(closed_days_in_the_horizon),
	};
	return cmocka_run_group_tests_name("dates", tests, NULL, NULL);
}
