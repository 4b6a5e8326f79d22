/* test_queue.c: src/queue.c: call order, fairness, eta, and the ticket state machine. */
#include "unit.h"

#include "queue.h"

struct t {
	const char *number;
	int priority;
	int64_t entitled;
};

/* The ticket's sequence: the digits of its number. */
static int
seq_of(const char *number)
{
	while (*number && (*number < '0' || *number > '9'))
		number++;
	return atoi(number);
}

static int
build(const struct t *in, struct qitem *out)
{
	int n = 0;
	for (; in[n].number; n++)
		out[n] = (struct qitem){.id = 100 + n,
		                        .priority = in[n].priority,
		                        .entitled_at = in[n].entitled,
		                        .seq = seq_of(in[n].number),
		                        .number = in[n].number};
	return n;
}

#define P 1 /* a ticket with a priority */

/*
 * The next call: TABLE of waiting tickets (in no particular order), the counter's priority
 * streak, priority_streak_max, and the number called (NULL: nobody).
 */
static void
call_order_table(void **state)
{
	(void)state;
	/*
	 * queue_pick sees only entitlement times: how a booking's and a walk-in's are computed,
	 * that a transfer keeps it, and that a counter of two services sees both queues is the
	 * store's work, tested in test_store.c (entitlement_of_bookings_and_walkins,
	 * transfer_keeps_its_place, counter_calls_only_its_services,
	 * priority_of_either_service_first).
	 */
	static const struct {
		const char *name;
		struct t tickets[8];
		int streak, streak_max;
		const char *next;
	} cases[] = {
	    {"nobody waits", {{NULL}}, 0, 3, NULL},
	    {"one waits", {{"A001", 0, 1000}}, 0, 3, "A001"},
	    {"earliest entitled first",
	     {{"A002", 0, 2000}, {"A001", 0, 3000}, {"A003", 0, 1000}},
	     0,
	     3,
	     "A003"},
	    {"priority before an earlier plain ticket",
	     {{"A001", 0, 1000}, {"A002", P, 5000}},
	     0,
	     3,
	     "A002"},
	    {"earliest priority first",
	     {{"A004", P, 4000}, {"A003", P, 3000}, {"A001", 0, 1000}},
	     0,
	     3,
	     "A003"},
	    {"ties by number",
	     {{"A007", 0, 1000}, {"A005", 0, 1000}, {"A006", 0, 1000}},
	     0,
	     3,
	     "A005"},
	    {"ties by number, not by text", {{"A1000", 0, 1000}, {"A999", 0, 1000}}, 0, 3, "A999"},
	    {"ties by number among priority", {{"B012", P, 1000}, {"B011", P, 1000}}, 0, 3, "B011"},
	    {"a tie is broken by time before number",
	     {{"A001", 0, 1001}, {"A002", 0, 1000}},
	     0,
	     3,
	     "A002"},
	    /* A counter of two services: a ticket of the other prefix, entitled first, though its
	     * number is higher and sorts after as text. */
	    {"another prefix: time before number",
	     {{"A010", 0, 2400}, {"A011", 0, 2700}, {"B013", 0, 1200}},
	     0,
	     3,
	     "B013"},
	    /* Fairness: after priority_streak_max priority calls in a row, the first plain one. */
	    {"streak below the limit", {{"A001", 0, 1000}, {"A002", P, 2000}}, 2, 3, "A002"},
	    {"streak at the limit", {{"A001", 0, 1000}, {"A002", P, 2000}}, 3, 3, "A001"},
	    {"streak past the limit", {{"A002", P, 1000}, {"A001", 0, 2000}}, 7, 3, "A001"},
	    {"streak at the limit picks the first plain by order",
	     {{"A001", P, 1000}, {"A004", 0, 4000}, {"A003", 0, 3000}, {"A005", 0, 3000}},
	     3,
	     3,
	     "A003"},
	    {"streak at the limit, only priority waits",
	     {{"A002", P, 2000}, {"A001", P, 1000}},
	     3,
	     3,
	     "A001"},
	    {"no limit when streak max is 0",
	     {{"A001", 0, 1000}, {"A002", P, 2000}},
	     50,
	     0,
	     "A002"},
	    {"streak max 1", {{"A001", 0, 1000}, {"A002", P, 2000}}, 1, 1, "A001"},
	    {"streak max 1, streak 0", {{"A001", 0, 1000}, {"A002", P, 2000}}, 0, 1, "A002"},
	    {"only plain tickets, streak irrelevant",
	     {{"A002", 0, 2000}, {"A001", 0, 1000}},
	     3,
	     3,
	     "A001"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct qitem v[8];
		int n = build(cases[i].tickets, v);
		int k = queue_pick(v, n, cases[i].streak, cases[i].streak_max);
		const char *got = k < 0 ? NULL : v[k].number;
		if (cases[i].next == NULL ? got != NULL
		                          : got == NULL || strcmp(got, cases[i].next) != 0)
			fail_msg("%s: called %s, not %s", cases[i].name, got ? got : "nobody",
			         cases[i].next ? cases[i].next : "nobody");
		if (k >= 0)
			assert_true(k < n);
	}
}

/* The whole queue in call order (what GET .../queue and the positions show). */
static void
queue_sorted_in_call_order(void **state)
{
	(void)state;
	static const struct t tickets[] = {
	    {"A006", 0, 6000}, {"A002", P, 9000}, {"A001", 0, 1000}, {"A005", 0, 1000},
	    {"A004", P, 3000}, {"A003", 0, 500},  {"A010", 0, 6000}, {NULL, 0, 0},
	};
	static const char *const order[] = {"A004", "A002", "A003", "A001", "A005", "A006", "A010"};
	struct qitem v[8];
	int n = build(tickets, v);
	queue_sort(v, n);
	assert_int_equal(n, NELEM(order));
	for (int i = 0; i < n; i++)
		assert_string_equal(v[i].number, order[i]);
	/* Sorting what is sorted changes nothing; an empty queue and a queue of one are fine. */
	queue_sort(v, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(v[i].number, order[i]);
	queue_sort(v, 0);
	queue_sort(v, 1);
	assert_string_equal(v[0].number, "A004");
}

/* queue_cmp is an order: irreflexive, antisymmetric, transitive, over a mixed set. */
static void
call_order_is_a_total_order(void **state)
{
	(void)state;
	static const struct t tickets[] = {
	    {"A001", 0, 1000}, {"A002", 0, 1000}, {"A003", P, 1000}, {"A004", P, 900},
	    {"B001", 0, 1000}, {"B002", 0, 800},  {"A999", 0, 700},  {NULL, 0, 0},
	};
	struct qitem v[8];
	int n = build(tickets, v);
	for (int a = 0; a < n; a++) {
		assert_int_equal(queue_cmp(&v[a], &v[a]), 0);
		for (int b = 0; b < n; b++) {
			if (a == b)
				continue;
			int ab = queue_cmp(&v[a], &v[b]), ba = queue_cmp(&v[b], &v[a]);
			assert_int_not_equal(ab, 0); /* distinct tickets are never equal */
			assert_true((ab < 0) == (ba > 0));
			for (int c = 0; c < n; c++)
				if (ab < 0 && queue_cmp(&v[b], &v[c]) < 0)
					assert_true(queue_cmp(&v[a], &v[c]) < 0);
		}
	}
}

/* Without fairness the pick is the head of the sorted queue, whatever the input order. */
static void
pick_is_the_head_of_the_queue(void **state)
{
	(void)state;
	static const struct t tickets[] = {
	    {"A001", 0, 1000}, {"A002", P, 4000}, {"A003", 0, 200},
	    {"A004", P, 3000}, {"A005", 0, 3000}, {NULL, 0, 0},
	};
	struct qitem v[8];
	int n = build(tickets, v);
	/* Every rotation of the input picks the same ticket. */
	for (int r = 0; r < n; r++) {
		struct qitem w[8];
		for (int i = 0; i < n; i++)
			w[i] = v[(i + r) % n];
		assert_string_equal(w[queue_pick(w, n, 0, 3)].number, "A004");
		assert_string_equal(w[queue_pick(w, n, 3, 3)].number, "A003");
	}
}

/* A counter's calls over time: priority, priority, priority, then a plain one, and again. */
static void
fairness_over_a_run_of_calls(void **state)
{
	(void)state;
	static const struct t tickets[] = {
	    {"A001", 0, 1000}, {"A002", 0, 1100}, {"A003", P, 1200},
	    {"A004", P, 1300}, {"A005", P, 1400}, {"A006", P, 1500},
	    {"A007", P, 1600}, {"A008", P, 1700}, {NULL, 0, 0},
	};
	static const char *const calls[] = {"A003", "A004", "A005", "A001",
	                                    "A006", "A007", "A008", "A002"};
	struct qitem v[8];
	int n = build(tickets, v), streak = 0;
	for (size_t c = 0; c < NELEM(calls); c++) {
		int k = queue_pick(v, n, streak, 3);
		assert_true(k >= 0);
		assert_string_equal(v[k].number, calls[c]);
		streak = v[k].priority ? streak + 1 : 0;
		v[k] = v[--n]; /* called: no longer waiting */
	}
	assert_int_equal(queue_pick(v, n, streak, 3), -1);
}

/* eta = ceil(position x avg_service_minutes / max(1, open counters)). */
static void
eta_table(void **state)
{
	(void)state;
	static const struct {
		int position, avg, open, eta;
	} cases[] = {
	    {1, 12, 1, 12},     {2, 12, 1, 24},          {3, 12, 2, 18}, {5, 10, 3, 17},
	    {2, 15, 4, 8},      {4, 12, 4, 12},          {7, 1, 10, 1},  {1, 12, 0, 12},
	    {3, 12, 0, 36},     {1, 720, 1, 720},        {10, 7, 3, 24}, {1, 1, 2, 1},
	    {100, 12, 1, 1200}, {2000, 720, 1, 1440000},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		int got = queue_eta(cases[i].position, cases[i].avg, cases[i].open);
		if (got != cases[i].eta)
			fail_msg("eta(%d, %d, %d) = %d, not %d", cases[i].position, cases[i].avg,
			         cases[i].open, got, cases[i].eta);
	}
}

/* ---- the state machine of section 4 ---- */

static const char *const action_names[A__MAX] = {
    "cancel", "reschedule", "checkin", "call",     "recall",
    "park",   "complete",   "no_show", "transfer", "expire",
};

#define NO ST__MAX /* refused */

/*
 * Every action from every state: the state it leads to, or NO. From the contract: booked ->
 * waiting (check-in) -> called -> served | no_show | parked; cancelled by the citizen from
 * booked; a booking moved only while booked; a parked ticket called again by code; a recall
 * keeps it called; a transfer puts it back to waiting; expired: a booking not checked in, or a
 * ticket still waiting (or parked: set aside, still waiting outside the order; or called and
 * never finished by its counter) at the end of its date.
 */
/* Columns: cancel, reschedule, checkin, call, recall, park, complete, no_show, transfer, expire. */
static const enum tstatus machine[ST__MAX][A__MAX] = {
    [ST_BOOKED] = {ST_CANCELLED, ST_BOOKED, ST_WAITING, NO, NO, NO, NO, NO, NO, ST_EXPIRED},
    [ST_WAITING] = {NO, NO, NO, ST_CALLED, NO, NO, NO, NO, NO, ST_EXPIRED},
    [ST_CALLED] = {NO, NO, NO, NO, ST_CALLED, ST_PARKED, ST_SERVED, ST_NO_SHOW, ST_WAITING,
                   ST_EXPIRED},
    [ST_SERVED] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [ST_NO_SHOW] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [ST_PARKED] = {NO, NO, NO, ST_CALLED, NO, NO, NO, NO, NO, ST_EXPIRED},
    [ST_CANCELLED] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [ST_EXPIRED] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
};

static void
every_transition(void **state)
{
	(void)state;
	int allowed = 0;
	for (int s = 0; s < ST__MAX; s++)
		for (int a = 0; a < A__MAX; a++) {
			enum tstatus to = ST__MAX;
			int ok = queue_transition(s, a, &to);
			enum tstatus want = machine[s][a];
			if (want == NO && ok)
				fail_msg("%s from %s should be refused (it gave %s)",
				         action_names[a], status_name(s), status_name(to));
			if (want != NO && !ok)
				fail_msg("%s from %s should be allowed", action_names[a],
				         status_name(s));
			if (want != NO && to != want)
				fail_msg("%s from %s should give %s, not %s", action_names[a],
				         status_name(s), status_name(want), status_name(to));
			allowed += ok;
		}
	assert_int_equal(allowed, 14);
}

/* A refused transition leaves *to as it was: the caller's ticket is not changed. */
static void
refused_transition_changes_nothing(void **state)
{
	(void)state;
	enum tstatus to = ST_SERVED;
	assert_false(queue_transition(ST_CANCELLED, A_CHECKIN, &to));
	assert_int_equal(to, ST_SERVED);
	assert_false(queue_transition(ST_SERVED, A_CANCEL, &to));
	assert_int_equal(to, ST_SERVED);
	/* Every refused action from every state, whatever *to held before. */
	for (int s = 0; s < ST__MAX; s++)
		for (int a = 0; a < A__MAX; a++)
			for (int before = 0; before <= ST__MAX; before++) {
				to = (enum tstatus)before;
				if (!queue_transition(s, a, &to) && to != (enum tstatus)before)
					fail_msg("%s refused from %s changed *to to %s",
					         action_names[a], status_name(s), status_name(to));
			}
}

/* The status names the contract shows. */
static void
status_names(void **state)
{
	(void)state;
	static const char *const names[ST__MAX] = {
	    [ST_BOOKED] = "booked",       [ST_WAITING] = "waiting", [ST_CALLED] = "called",
	    [ST_SERVED] = "served",       [ST_NO_SHOW] = "no_show", [ST_PARKED] = "parked",
	    [ST_CANCELLED] = "cancelled", [ST_EXPIRED] = "expired",
	};
	for (int s = 0; s < ST__MAX; s++)
		assert_string_equal(status_name(s), names[s]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(call_order_table),
	    cmocka_unit_test(queue_sorted_in_call_order),
	    cmocka_unit_test(call_order_is_a_total_order),
	    cmocka_unit_test(pick_is_the_head_of_the_queue),
	    cmocka_unit_test(fairness_over_a_run_of_calls),
	    cmocka_unit_test(eta_table),
	    cmocka_unit_test(every_transition),
	    cmocka_unit_test(refused_transition_changes_nothing),
	    cmocka_unit_test(status_names),
	};
	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
