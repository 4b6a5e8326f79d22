/* test_slots.c: src/slots.c: slots cut from opening hours, closures, lookup by time. */
#include "unit.h"

#include "slots.h"

#define WEEK_HOURS                                                                                 \
	"{\"mon\": [\"07:30-12:00\", \"13:30-17:00\"], \"tue\": [\"07:30-12:00\", "                \
	"\"13:30-17:00\"],"                                                                        \
	" \"wed\": [\"07:30-12:00\", \"13:30-17:00\"], \"thu\": [\"07:30-12:00\", "                \
	"\"13:30-17:00\"],"                                                                        \
	" \"fri\": [\"07:30-12:00\", \"13:30-17:00\"], \"sat\": [\"07:30-11:30\"], \"sun\": []}"

/*
 * The contract's example week, closed on 2026-11-25 (a Wednesday); services with slots of 30,
 * 15, 45 and 300 minutes (longer than any opening interval).
 */
static const char *const services =
    "[{\"id\": \"s30\", \"name\": \"Ba mươi\", \"prefix\": \"A\", \"slot_minutes\": 30, "
    "\"slot_capacity\": 6},"
    " {\"id\": \"s15\", \"name\": \"Mười lăm\", \"prefix\": \"B\", \"slot_minutes\": 15, "
    "\"slot_capacity\": 2},"
    " {\"id\": \"s45\", \"name\": \"Bốn lăm\", \"prefix\": \"C\", \"slot_minutes\": 45, "
    "\"slot_capacity\": 1},"
    " {\"id\": \"s300\", \"name\": \"Năm giờ\", \"prefix\": \"D\", \"slot_minutes\": 300, "
    "\"slot_capacity\": 1}]";

#define WED_2026_11_25 (MON_2026_11_23 + 2)

struct fixture {
	struct catalogue *c;
	const struct point *p;
};

static int
setup_week(void **state)
{
	static struct fixture f;
	f.c = unit_point_catalogue(WEEK_HOURS, "[\"2026-11-25\"]", services, "[]", &f.p);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	catalogue_free(f->c);
	return 0;
}

static const struct service *
svc(const struct fixture *f, const char *id)
{
	const struct service *s = point_service(f->p, id);
	assert_non_null(s);
	return s;
}

static int
hm(const char *s)
{
	int m;
	assert_int_equal(hhmm_parse(s, &m), 0);
	return m;
}

/* Asserts that SERVICE on DAY has exactly the slots EXPECT ("HH:MM-HH:MM" each). */
static void
assert_slots(const struct fixture *f, const char *service, int day, const char *const *expect,
             int n)
{
	struct slot v[SLOTS_MAX];
	int got = slots_for_day(f->p, svc(f, service), day, v, SLOTS_MAX);
	assert_int_equal(got, n);
	for (int i = 0; i < n; i++) {
		char a[6], b[6], both[12];
		hhmm_format(v[i].start, a);
		hhmm_format(v[i].end, b);
		snprintf(both, sizeof both, "%s-%s", a, b);
		assert_string_equal(both, expect[i]);
	}
}

static void
thirty_minute_slots_from_both_intervals(void **state)
{
	static const char *const expect[] = {
	    "07:30-08:00", "08:00-08:30", "08:30-09:00", "09:00-09:30",
	    "09:30-10:00", "10:00-10:30", "10:30-11:00", "11:00-11:30",
	    "11:30-12:00", "13:30-14:00", "14:00-14:30", "14:30-15:00",
	    "15:00-15:30", "15:30-16:00", "16:00-16:30", "16:30-17:00"};
	assert_slots(*state, "s30", MON_2026_11_23, expect, NELEM(expect));
}

static void
fifteen_minute_slots(void **state)
{
	struct fixture *f = *state;
	struct slot v[SLOTS_MAX];
	int n = slots_for_day(f->p, svc(f, "s15"), MON_2026_11_23, v, SLOTS_MAX);
	/* 07:30-12:00 is 270 minutes: 18 slots; 13:30-17:00 is 210: 14. */
	assert_int_equal(n, 18 + 14);
	assert_int_equal(v[0].start, hm("07:30"));
	assert_int_equal(v[0].end, hm("07:45"));
	assert_int_equal(v[17].start, hm("11:45"));
	assert_int_equal(v[17].end, hm("12:00"));
	assert_int_equal(v[18].start, hm("13:30"));
	assert_int_equal(v[31].end, hm("17:00"));
	for (int i = 0; i < n; i++)
		assert_int_equal(v[i].end - v[i].start, 15);
	for (int i = 1; i < n; i++)
		assert_true(v[i].start >= v[i - 1].end);
}

/* 270 minutes are six slots of 45; 210 are four (16:30-17:15 would overrun 17:00). */
static void
only_whole_slots_count(void **state)
{
	static const char *const expect[] = {
	    "07:30-08:15", "08:15-09:00", "09:00-09:45", "09:45-10:30", "10:30-11:15",
	    "11:15-12:00", "13:30-14:15", "14:15-15:00", "15:00-15:45", "15:45-16:30"};
	assert_slots(*state, "s45", MON_2026_11_23, expect, NELEM(expect));
}

/* Saturday opens 07:30-11:30 only: 8 slots of 30 minutes, 5 of 45 (11:15-12:00 overruns). */
static void
saturday_hours(void **state)
{
	static const char *const s30[] = {"07:30-08:00", "08:00-08:30", "08:30-09:00",
	                                  "09:00-09:30", "09:30-10:00", "10:00-10:30",
	                                  "10:30-11:00", "11:00-11:30"};
	static const char *const s45[] = {"07:30-08:15", "08:15-09:00", "09:00-09:45",
	                                  "09:45-10:30", "10:30-11:15"};
	assert_slots(*state, "s30", SAT_2026_11_28, s30, NELEM(s30));
	assert_slots(*state, "s45", SAT_2026_11_28, s45, NELEM(s45));
}

/* A slot longer than every interval of the day gives no slot at all. */
static void
slot_longer_than_every_interval(void **state)
{
	assert_slots(*state, "s300", MON_2026_11_23, NULL, 0);
	assert_slots(*state, "s300", SAT_2026_11_28, NULL, 0);
}

static void
day_without_hours_has_no_slots(void **state)
{
	struct fixture *f = *state;
	assert_true(point_closed_on(f->p, SUN_2026_11_29));
	assert_slots(f, "s30", SUN_2026_11_29, NULL, 0);
	assert_slots(f, "s15", SUN_2026_11_29, NULL, 0);
}

static void
closed_date_has_no_slots(void **state)
{
	struct fixture *f = *state;
	assert_true(point_closed_on(f->p, WED_2026_11_25));
	assert_slots(f, "s30", WED_2026_11_25, NULL, 0);
	/* The weekdays around it are open, and so is the same weekday a week later. */
	assert_false(point_closed_on(f->p, WED_2026_11_25 - 1));
	assert_false(point_closed_on(f->p, WED_2026_11_25 + 1));
	assert_false(point_closed_on(f->p, WED_2026_11_25 + 7));
	struct slot v[SLOTS_MAX];
	assert_int_equal(slots_for_day(f->p, svc(f, "s30"), WED_2026_11_25 + 7, v, SLOTS_MAX), 16);
}

/* A day key left out of "hours" is a day without hours. */
static void
missing_day_key_is_closed(void **state)
{
	(void)state;
	const struct point *p;
	struct catalogue *c =
	    unit_point_catalogue("{\"mon\": [\"08:00-09:00\"]}", "[]", services, "[]", &p);
	struct slot v[SLOTS_MAX];
	assert_int_equal(slots_for_day(p, point_service(p, "s30"), MON_2026_11_23, v, SLOTS_MAX),
	                 2);
	for (int d = 1; d < 7; d++) {
		assert_true(point_closed_on(p, MON_2026_11_23 + d));
		assert_int_equal(
		    slots_for_day(p, point_service(p, "s30"), MON_2026_11_23 + d, v, SLOTS_MAX), 0);
	}
	catalogue_free(c);
}

/* An interval not a multiple of the slot length: 07:30-11:40 gives 8 slots, the last 11:00. */
static void
hours_not_a_multiple_of_the_slot(void **state)
{
	(void)state;
	struct fixture f;
	f.c = unit_point_catalogue("{\"mon\": [\"07:30-11:40\", \"13:10-13:55\"]}", "[]", services,
	                           "[]", &f.p);
	static const char *const s30[] = {"07:30-08:00", "08:00-08:30", "08:30-09:00",
	                                  "09:00-09:30", "09:30-10:00", "10:00-10:30",
	                                  "10:30-11:00", "11:00-11:30", "13:10-13:40"};
	static const char *const s15[] = {
	    "07:30-07:45", "07:45-08:00", "08:00-08:15", "08:15-08:30",
	    "08:30-08:45", "08:45-09:00", "09:00-09:15", "09:15-09:30",
	    "09:30-09:45", "09:45-10:00", "10:00-10:15", "10:15-10:30",
	    "10:30-10:45", "10:45-11:00", "11:00-11:15", "11:15-11:30", /* 11:30-11:45 overruns */
	    "13:10-13:25", "13:25-13:40", "13:40-13:55"};
	assert_slots(&f, "s30", MON_2026_11_23, s30, NELEM(s30));
	assert_slots(&f, "s15", MON_2026_11_23, s15, NELEM(s15));
	struct slot v[SLOTS_MAX];
	int n = slots_for_day(f.p, svc(&f, "s15"), MON_2026_11_23, v, SLOTS_MAX);
	for (int i = 0; i < n; i++)
		assert_true(v[i].end <= hm("11:40") || v[i].start >= hm("13:10"));
	assert_int_equal(v[16].start, hm("13:10"));
	assert_int_equal(v[18].end, hm("13:55"));
	/* Each interval is cut from its own start, not on a grid from midnight or from 07:30. */
	struct slot s;
	assert_int_equal(slot_find(f.p, svc(&f, "s30"), MON_2026_11_23, hm("13:10"), &s), 0);
	assert_int_not_equal(slot_find(f.p, svc(&f, "s30"), MON_2026_11_23, hm("13:00"), &s), 0);
	assert_int_not_equal(slot_find(f.p, svc(&f, "s30"), MON_2026_11_23, hm("13:30"), &s), 0);
	assert_int_not_equal(slot_find(f.p, svc(&f, "s30"), MON_2026_11_23, hm("11:30"), &s), 0);
	catalogue_free(f.c);
}

static void
cutting_stops_at_max(void **state)
{
	struct fixture *f = *state;
	struct slot v[4] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
	assert_int_equal(slots_for_day(f->p, svc(f, "s30"), MON_2026_11_23, v, 3), 3);
	assert_int_equal(v[2].start, hm("08:30"));
	assert_int_equal(v[3].start, -1); /* nothing written past MAX */
}

/* The shortest slot the loader allows over a whole day still fits SLOTS_MAX. */
static void
five_minute_slots_over_a_whole_day(void **state)
{
	(void)state;
	const char *svc5 =
	    "[{\"id\": \"s5\", \"name\": \"Năm\", \"prefix\": \"E\", \"slot_minutes\": 5, "
	    "\"slot_capacity\": 1}]";
	const struct point *p;
	struct catalogue *c =
	    unit_point_catalogue("{\"mon\": [\"00:00-23:59\"]}", "[]", svc5, "[]", &p);
	struct slot v[SLOTS_MAX];
	assert_int_equal(slots_for_day(p, point_service(p, "s5"), MON_2026_11_23, v, SLOTS_MAX),
	                 287); /* 1439 minutes: 287 whole slots, 23:55-24:00 overruns 23:59 */
	assert_int_equal(v[286].start, hm("23:50"));
	catalogue_free(c);
}

/* Lookup by start time: TABLE of (service, day, start, found, end). */
static void
slot_lookup_by_start(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *service;
		int day;
		const char *start;
		int found;
		const char *end;
	} cases[] = {
	    {"s30", MON_2026_11_23, "07:30", 1, "08:00"},
	    {"s30", MON_2026_11_23, "09:00", 1, "09:30"},
	    {"s30", MON_2026_11_23, "11:30", 1, "12:00"}, /* the last whole slot of the morning */
	    {"s30", MON_2026_11_23, "13:30", 1, "14:00"},
	    {"s30", MON_2026_11_23, "16:30", 1, "17:00"},
	    {"s30", MON_2026_11_23, "09:15", 0, NULL}, /* inside a slot, not its start */
	    {"s30", MON_2026_11_23, "07:00", 0, NULL}, /* before opening */
	    {"s30", MON_2026_11_23, "12:00", 0, NULL}, /* the end of the morning is no start */
	    {"s30", MON_2026_11_23, "12:30", 0, NULL}, /* lunch */
	    {"s30", MON_2026_11_23, "17:00", 0, NULL}, /* closing time */
	    {"s30", SAT_2026_11_28, "11:00", 1, "11:30"},
	    {"s30", SAT_2026_11_28, "11:30", 0, NULL},
	    {"s30", SUN_2026_11_29, "09:00", 0, NULL}, /* no hours on Sunday */
	    {"s30", WED_2026_11_25, "09:00", 0, NULL}, /* closed date */
	    {"s30", WED_2026_11_25 + 7, "09:00", 1, "09:30"},
	    {"s15", MON_2026_11_23, "09:15", 1, "09:30"},
	    {"s15", MON_2026_11_23, "11:45", 1, "12:00"},
	    {"s15", MON_2026_11_23, "09:10", 0, NULL},
	    {"s45", MON_2026_11_23, "11:15", 1, "12:00"},
	    {"s45", MON_2026_11_23, "15:45", 1, "16:30"},
	    {"s45", MON_2026_11_23, "16:30", 0, NULL}, /* would end 17:15 */
	    {"s45", MON_2026_11_23, "09:30", 0, NULL},
	    {"s300", MON_2026_11_23, "07:30", 0, NULL},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct slot s = {-1, -1};
		int rc =
		    slot_find(f->p, svc(f, cases[i].service), cases[i].day, hm(cases[i].start), &s);
		if (!cases[i].found) {
			if (rc == 0)
				fail_msg("case %zu: %s at %s should not be a slot", i,
				         cases[i].service, cases[i].start);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: %s at %s should be a slot", i, cases[i].service,
			         cases[i].start);
		assert_int_equal(s.start, hm(cases[i].start));
		assert_int_equal(s.end, hm(cases[i].end));
	}
}

/* Open at a minute: TABLE of (day, time, open); an interval includes its start, not its end. */
static void
open_at_a_minute(void **state)
{
	struct fixture *f = *state;
	static const struct {
		int day;
		const char *at;
		int open;
	} cases[] = {
	    {MON_2026_11_23, "07:29", 0},     {MON_2026_11_23, "07:30", 1},
	    {MON_2026_11_23, "11:59", 1},     {MON_2026_11_23, "12:00", 0},
	    {MON_2026_11_23, "13:29", 0},     {MON_2026_11_23, "13:30", 1},
	    {MON_2026_11_23, "16:59", 1},     {MON_2026_11_23, "17:00", 0},
	    {MON_2026_11_23, "00:00", 0},     {MON_2026_11_23, "23:59", 0},
	    {SAT_2026_11_28, "11:29", 1},     {SAT_2026_11_28, "11:30", 0},
	    {SUN_2026_11_29, "09:00", 0},     {WED_2026_11_25, "09:00", 0},
	    {WED_2026_11_25 + 7, "09:00", 1},
	};
	for (size_t i = 0; i < NELEM(cases); i++)
		if (point_open_at(f->p, cases[i].day, hm(cases[i].at)) != cases[i].open)
			fail_msg("case %zu: at %s open should be %d", i, cases[i].at,
			         cases[i].open);
}

/* Several closed dates, given out of order, are each closed (the lookup is a binary search). */
static void
many_closed_dates_out_of_order(void **state)
{
	(void)state;
	const struct point *p;
	struct catalogue *c =
	    unit_point_catalogue(WEEK_HOURS,
	                         "[\"2027-09-02\", \"2026-11-24\", \"2027-01-01\", \"2026-12-31\","
	                         " \"2027-02-04\"]",
	                         services, "[]", &p);
	static const char *const closed[] = {"2027-09-02", "2026-11-24", "2027-01-01", "2026-12-31",
	                                     "2027-02-04"};
	static const char *const open[] = {"2026-11-23", "2026-11-25", "2026-12-30",
	                                   "2027-01-04", "2027-02-05", "2027-09-01"};
	int day;
	for (size_t i = 0; i < NELEM(closed); i++) {
		assert_int_equal(date_parse(closed[i], &day), 0);
		if (!point_closed_on(p, day))
			fail_msg("%s should be closed", closed[i]);
	}
	for (size_t i = 0; i < NELEM(open); i++) {
		assert_int_equal(date_parse(open[i], &day), 0);
		if (point_closed_on(p, day))
			fail_msg("%s should be open", open[i]);
	}
	catalogue_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(thirty_minute_slots_from_both_intervals, setup_week,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(fifteen_minute_slots, setup_week, teardown),
	    cmocka_unit_test_setup_teardown(only_whole_slots_count, setup_week, teardown),
	    cmocka_unit_test_setup_teardown(saturday_hours, setup_week, teardown),
	    cmocka_unit_test_setup_teardown(slot_longer_than_every_interval, setup_week, teardown),
	    cmocka_unit_test_setup_teardown(day_without_hours_has_no_slots, setup_week, teardown),
	    cmocka_unit_test_setup_teardown(closed_date_has_no_slots, setup_week, teardown),
	    cmocka_unit_test(missing_day_key_is_closed),
	    cmocka_unit_test(hours_not_a_multiple_of_the_slot),
	    cmocka_unit_test_setup_teardown(cutting_stops_at_max, setup_week, teardown),
	    cmocka_unit_test(five_minute_slots_over_a_whole_day),
	    cmocka_unit_test_setup_teardown(slot_lookup_by_start, setup_week, teardown),
	    cmocka_unit_test_setup_teardown(open_at_a_minute, setup_week, teardown),
	    cmocka_unit_test(many_closed_dates_out_of_order),
	};
	return cmocka_run_group_tests_name("slots", tests, NULL, NULL);
}
