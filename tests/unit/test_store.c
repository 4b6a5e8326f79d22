/*
 * test_store.c: src/store.c's queue over a real (temporary) database: the entitlement a
 * check-in and a walk-in get, a transfer keeping its place, the services a counter calls,
 * fairness kept across calls, parked tickets, recalls, positions and the end of the day.
 */
#include "unit_db.h"

#include "audit.h"
#include "digest.h"
#include "queue.h"
#include "store.h"
#include "ticket.h"
#include "webhook.h"

#define ICT (7 * 60)
#define TODAY MON_2026_11_23

/* The test city; EXTRA is more of its top-level fields, each followed by a comma. */
#define CATALOGUE(extra)                                                                     \
	"{\"listen\": \"127.0.0.1:0\", \"database\": \"unit.db\","                             \
	" \"citizen_id_secret\": \"" UNIT_SECRET "\", \"tokens\": " UNIT_TOKENS ","               \
	" \"priority_streak_max\": 2, \"max_calls\": 3," extra                                   \
	" \"points\": [{\"id\": \"cua-nam\", \"name\": \"Phường Cửa Nam\","                    \
	"  \"hours\": {\"mon\": [\"07:00-17:00\"], \"tue\": [\"07:00-17:00\"]},"                \
	"  \"services\": ["                                                                      \
	"   {\"id\": \"cu-tru\", \"name\": \"Cư trú\", \"prefix\": \"A\", \"slot_minutes\": 30," \
	"    \"slot_capacity\": 6, \"avg_service_minutes\": 12},"                                \
	"   {\"id\": \"khai-sinh\", \"name\": \"Khai sinh\", \"prefix\": \"B\", "               \
	"\"slot_minutes\": 30,"                                                                   \
	"    \"slot_capacity\": 6, \"avg_service_minutes\": 10}],"                               \
	"  \"counters\": ["                                                                      \
	"   {\"id\": \"quay-a\", \"name\": \"Quầy A\", \"services\": [\"cu-tru\"]},"            \
	"   {\"id\": \"quay-b\", \"name\": \"Quầy B\", \"services\": [\"khai-sinh\"]},"         \
	"   {\"id\": \"quay-ab\", \"name\": \"Quầy AB\", \"services\": [\"cu-tru\", "           \
	"\"khai-sinh\"]}]}]}"

static int
setup(void **state)
{
	(void)state;
	unit_db_open(CATALOGUE(""));
	return 0;
}

/* Two hooks: one told of calls and nearness, one of expired bookings. */
static int
setup_hooks(void **state)
{
	(void)state;
	unit_db_open(CATALOGUE(
	    " \"webhooks\": [{\"url\": \"http://127.0.0.1:9/a\", \"secret\": \"ka\","
	    " \"events\": [\"ticket.called\", \"ticket.near\"]},"
	    " {\"url\": \"http://127.0.0.1:9/b\", \"secret\": \"kb\", \"events\": "
	    "[\"booking.expired\"]}],"));
	return 0;
}

/* An instant of DAY at "HH:MM" in +07:00. */
static int64_t
on(int day, const char *hhmm)
{
	int m;
	assert_int_equal(hhmm_parse(hhmm, &m), 0);
	return local_instant(day, m, ICT);
}

static int64_t
at(const char *hhmm)
{
	return on(TODAY, hhmm);
}

static const struct point *
point(void)
{
	return catalogue_point(cat, "cua-nam");
}

static const struct counter *
counter(const char *id)
{
	const struct counter *k = catalogue_counter(cat, id);
	assert_non_null(k);
	return k;
}

static struct ticket
walkin(const char *service, const char *priority, const char *hhmm)
{
	struct ticket t;
	assert_int_equal(store_walkin(point(), point_service(point(), service), priority, NULL,
	                              "kiosk", at(hhmm), &t),
	                 E_OK);
	assert_int_equal(t.status, ST_WAITING);
	return t;
}

static struct ticket
book(const char *citizen_hash, const char *service, const char *start)
{
	struct ticket t;
	struct booking_in in = {
	    .point = point(),
	    .service = point_service(point(), service),
	    .day = TODAY,
	    .citizen_hash = citizen_hash,
	    .last4 = "1234",
	};
	assert_int_equal(hhmm_parse(start, &in.start), 0);
	in.end = in.start + 30;
	assert_int_equal(store_book(&in, "ihanoi", at("07:00"), &t), E_OK);
	return t;
}

static struct ticket
checkin(const char *code, const char *hhmm)
{
	struct ticket t;
	assert_int_equal(store_checkin(point(), code, "kiosk", at(hhmm), &t), E_OK);
	assert_int_equal(t.status, ST_WAITING);
	return t;
}

/* The number COUNTER calls next at HHMM ("" when nobody waits); the call is completed. */
static void
expect_call(const char *counter_id, const char *hhmm, const char *number)
{
	struct ticket t, done;
	assert_int_equal(store_call_next(counter(counter_id), counter_id, at(hhmm), &t), E_OK);
	if (number[0] == 0) {
		if (t.id != 0)
			fail_msg("%s at %s called %s; nobody should wait", counter_id, hhmm,
			         t.number);
		return;
	}
	if (t.id == 0)
		fail_msg("%s at %s called nobody, not %s", counter_id, hhmm, number);
	if (strcmp(t.number, number) != 0)
		fail_msg("%s at %s called %s, not %s", counter_id, hhmm, t.number, number);
	assert_int_equal(t.status, ST_CALLED);
	assert_string_equal(t.counter, counter_id);
	assert_int_equal(store_finish(counter(counter_id), ST_SERVED, counter_id, at(hhmm), &done),
	                 E_OK);
}

/* A citizen id's keyed hash, as the store sees it: 64 hex digits, one per citizen N. */
static const char *
citizen(int n)
{
	static char hashes[10][65];
	assert_true(n >= 0 && n < 10);
	memset(hashes[n], '0' + n, 64);
	hashes[n][64] = 0;
	return hashes[n];
}

/* A booking is entitled at max(slot start, check-in time); a walk-in at its issue time. */
static void
entitlement_of_bookings_and_walkins(void **state)
{
	(void)state;
	struct ticket early = book(citizen(1), "cu-tru", "09:00");
	struct ticket late = book(citizen(2), "cu-tru", "09:00");
	struct ticket early_in = checkin(early.code, "08:30");
	assert_int_equal(early_in.entitled_at, at("09:00"));
	struct ticket w = walkin("cu-tru", NULL, "08:50");
	assert_int_equal(w.entitled_at, at("08:50"));
	struct ticket late_in = checkin(late.code, "09:20");
	assert_int_equal(late_in.entitled_at, at("09:20"));
	struct ticket w2 = walkin("cu-tru", NULL, "09:10");
	/* Call order: 08:50 walk-in, 09:00 booking, 09:10 walk-in, 09:20 booking. */
	expect_call("quay-a", "09:25", w.number);
	expect_call("quay-a", "09:26", early.number);
	expect_call("quay-a", "09:27", w2.number);
	expect_call("quay-a", "09:28", late.number);
	expect_call("quay-a", "09:29", "");
}

/* A counter calls only the services it serves; one serving two sees both queues in one order. */
static void
counter_calls_only_its_services(void **state)
{
	(void)state;
	struct ticket b1 = walkin("khai-sinh", NULL, "08:00");
	expect_call("quay-a", "08:05", ""); /* serves cu-tru only: nobody for it */
	struct ticket a1 = walkin("cu-tru", NULL, "08:10");
	struct ticket b2 = walkin("khai-sinh", NULL, "08:20");
	expect_call("quay-ab", "08:30", b1.number);
	expect_call("quay-a", "08:31", a1.number);
	expect_call("quay-a", "08:32", "");
	expect_call("quay-b", "08:33", b2.number);
	expect_call("quay-ab", "08:34", "");
}

/*
 * At a counter serving two services, a priority ticket of either service goes before plain
 * tickets of both that were entitled earlier.
 */
static void
priority_of_either_service_first(void **state)
{
	(void)state;
	struct ticket a1 = walkin("cu-tru", NULL, "08:00");
	struct ticket b1 = walkin("khai-sinh", NULL, "08:05");
	struct ticket b2 = walkin("khai-sinh", "elderly", "08:10");
	struct ticket a2 = walkin("cu-tru", "merit", "08:20");
	expect_call("quay-ab", "08:30", b2.number);
	expect_call("quay-ab", "08:31", a2.number);
	expect_call("quay-ab", "08:32", a1.number);
	expect_call("quay-ab", "08:33", b1.number);
	expect_call("quay-ab", "08:34", "");
}

/* A transferred ticket keeps its number and its place in time in the new queue. */
static void
transfer_keeps_its_place(void **state)
{
	(void)state;
	struct ticket a1 = walkin("cu-tru", NULL, "08:00");
	struct ticket b1 = walkin("khai-sinh", NULL, "08:10");
	struct ticket b2 = walkin("khai-sinh", NULL, "08:20");
	struct ticket t;
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:30"), &t), E_OK);
	assert_string_equal(t.number, a1.number);
	assert_int_equal(store_transfer(counter("quay-a"), point_service(point(), "khai-sinh"),
	                                "quay-a", at("08:35"), &t),
	                 E_OK);
	assert_int_equal(t.status, ST_WAITING);
	assert_string_equal(t.service, "khai-sinh");
	assert_string_equal(t.number, a1.number);     /* keeps the number */
	assert_int_equal(t.entitled_at, at("08:00")); /* keeps its place in time */
	assert_int_equal(store_position(&t), 1);      /* ahead of B001 (08:10) and B002 */
	expect_call("quay-b", "08:40", a1.number);
	expect_call("quay-b", "08:41", b1.number);
	expect_call("quay-b", "08:42", b2.number);
	/* The counter that transferred it is free again. */
	expect_call("quay-a", "08:43", "");
}

/* Fairness holds across calls: with priority_streak_max 2, after two priority calls a plain one. */
static void
fairness_across_calls(void **state)
{
	(void)state;
	struct ticket plain1 = walkin("cu-tru", NULL, "08:00");
	struct ticket plain2 = walkin("cu-tru", NULL, "08:01");
	struct ticket p1 = walkin("cu-tru", "elderly", "08:02");
	struct ticket p2 = walkin("cu-tru", "pregnant", "08:03");
	struct ticket p3 = walkin("cu-tru", "disabled", "08:04");
	struct ticket p4 = walkin("cu-tru", "merit", "08:05");
	expect_call("quay-a", "08:10", p1.number);
	expect_call("quay-a", "08:11", p2.number);
	expect_call("quay-a", "08:12", plain1.number);
	expect_call("quay-a", "08:13", p3.number);
	expect_call("quay-a", "08:14", p4.number);
	expect_call("quay-a", "08:15", plain2.number);
	expect_call("quay-a", "08:16", "");
}

/* Positions and eta follow the call order of one service's queue. */
static void
positions_and_eta(void **state)
{
	(void)state;
	struct ticket a1 = walkin("cu-tru", NULL, "08:00");
	struct ticket a2 = walkin("cu-tru", NULL, "08:01");
	struct ticket a3 = walkin("cu-tru", "child_under_6", "08:02");
	struct ticket b1 = walkin("khai-sinh", NULL, "07:59");
	assert_int_equal(store_position(&a3), 1);
	assert_int_equal(store_position(&a1), 2);
	assert_int_equal(store_position(&a2), 3);
	assert_int_equal(store_position(&b1), 1); /* its own service's queue */
	assert_int_equal(store_waiting_count("cua-nam", "cu-tru", TODAY), 3);
	/* Two open counters serve cu-tru (quay-a, quay-ab): eta = ceil(3 * 12 / 2) = 18. */
	assert_int_equal(store_open_counters(point(), "cu-tru"), 2);
	assert_int_equal(queue_eta(store_position(&a2), 12, store_open_counters(point(), "cu-tru")),
	                 18);
	/* A paused counter counts for no eta. */
	assert_int_equal(store_counter_set_open(counter("quay-ab"), 0, "ops", at("08:03")), E_OK);
	assert_int_equal(store_open_counters(point(), "cu-tru"), 1);
	assert_int_equal(store_open_counters(point(), "khai-sinh"), 1);
	/* The ticket as shown: position and eta while waiting. */
	json_t *o = ticket_json(&a2, VIEW_PUBLIC);
	assert_int_equal(unit_json_int(o, "position"), 3);
	assert_int_equal(unit_json_int(o, "eta_minutes"), 36);
	json_decref(o);
	/* A paused counter calls nobody. */
	struct ticket t;
	assert_int_equal(store_call_next(counter("quay-ab"), "quay-ab", at("08:04"), &t),
	                 E_INVALID_STATE);
	/* Once a3 (priority) is called, the others move up. */
	expect_call("quay-a", "08:05", a3.number);
	assert_int_equal(store_position(&a2), 2);
	assert_int_equal(store_position(&a1), 1);
}

/* A counter with a called ticket calls nobody else until it is finished. */
static void
one_called_ticket_per_counter(void **state)
{
	(void)state;
	walkin("cu-tru", NULL, "08:00");
	struct ticket w2 = walkin("cu-tru", NULL, "08:01");
	struct ticket t;
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:02"), &t), E_OK);
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:03"), &t),
	                 E_INVALID_STATE);
	assert_int_equal(store_call_code(counter("quay-a"), w2.code, "quay-a", at("08:03"), &t),
	                 E_INVALID_STATE);
	assert_int_equal(store_finish(counter("quay-a"), ST_NO_SHOW, "quay-a", at("08:04"), &t),
	                 E_OK);
	assert_int_equal(t.status, ST_NO_SHOW);
	expect_call("quay-a", "08:05", w2.number);
	/* Nothing called: nothing to finish, recall or transfer. */
	assert_int_equal(store_finish(counter("quay-a"), ST_SERVED, "quay-a", at("08:06"), &t),
	                 E_INVALID_STATE);
	assert_int_equal(store_recall(counter("quay-a"), "quay-a", at("08:06"), &t),
	                 E_INVALID_STATE);
	assert_int_equal(store_transfer(counter("quay-a"), point_service(point(), "khai-sinh"),
	                                "quay-a", at("08:06"), &t),
	                 E_INVALID_STATE);
}

/* A ticket is announced at most max_calls (3) times: its call and two recalls. */
static void
recalls_up_to_max_calls(void **state)
{
	(void)state;
	walkin("cu-tru", NULL, "08:00");
	struct ticket t;
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:01"), &t), E_OK);
	assert_int_equal(t.calls, 1);
	assert_int_equal(store_recall(counter("quay-a"), "quay-a", at("08:02"), &t), E_OK);
	assert_int_equal(t.calls, 2);
	assert_int_equal(t.called_at, at("08:02"));
	assert_int_equal(store_recall(counter("quay-a"), "quay-a", at("08:03"), &t), E_OK);
	assert_int_equal(t.calls, 3);
	assert_int_equal(store_recall(counter("quay-a"), "quay-a", at("08:04"), &t),
	                 E_INVALID_STATE);
	assert_int_equal(store_finish(counter("quay-a"), ST_SERVED, "quay-a", at("08:05"), &t),
	                 E_OK);
}

/* A parked ticket waits outside the call order until called by code; then counts calls anew. */
static void
parked_ticket_waits_outside_the_order(void **state)
{
	(void)state;
	struct ticket a1 = walkin("cu-tru", NULL, "08:00");
	struct ticket a2 = walkin("cu-tru", NULL, "08:01");
	struct ticket t;
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:02"), &t), E_OK);
	assert_int_equal(store_recall(counter("quay-a"), "quay-a", at("08:03"), &t), E_OK);
	assert_int_equal(store_finish(counter("quay-a"), ST_PARKED, "quay-a", at("08:04"), &t),
	                 E_OK);
	assert_int_equal(t.status, ST_PARKED);
	assert_int_equal(store_position(&t), 0);
	assert_int_equal(store_waiting_count("cua-nam", "cu-tru", TODAY), 1);
	expect_call("quay-a", "08:05", a2.number); /* not the parked a1 */
	expect_call("quay-a", "08:06", "");
	/* Called by code, from any counter of the point serving it. */
	assert_int_equal(store_call_code(counter("quay-ab"), a1.code, "quay-ab", at("08:20"), &t),
	                 E_OK);
	assert_int_equal(t.status, ST_CALLED);
	assert_int_equal(t.calls, 1); /* a new count of announcements */
	assert_string_equal(t.counter, "quay-ab");
	assert_int_equal(store_finish(counter("quay-ab"), ST_SERVED, "quay-ab", at("08:25"), &t),
	                 E_OK);
	/* Served: it cannot be called again. */
	assert_int_equal(store_call_code(counter("quay-ab"), a1.code, "quay-ab", at("08:26"), &t),
	                 E_INVALID_STATE);
}

/*
 * Check-in opens checkin_open_minutes (60) before the slot and closes no_show_grace_minutes
 * (15) after its end; after that it is checkin_closed, expired or not.
 */
static void
checkin_window(void **state)
{
	(void)state;
	struct ticket b = book(citizen(3), "cu-tru", "10:00");
	assert_int_equal(b.checkin_from, at("09:00"));
	assert_int_equal(b.checkin_until, at("10:45"));
	struct ticket t;
	assert_int_equal(store_checkin(point(), b.code, "kiosk", at("08:59"), &t),
	                 E_CHECKIN_NOT_OPEN);
	assert_int_equal(store_checkin(point(), b.code, "kiosk", at("10:46"), &t),
	                 E_CHECKIN_CLOSED);
	assert_int_equal(store_expire_due(at("10:46"), ICT), 1); /* b, the only booking yet */
	assert_int_equal(store_ticket(b.code, &t), E_OK);
	assert_int_equal(t.status, ST_EXPIRED);
	assert_int_equal(store_checkin(point(), b.code, "kiosk", at("10:50"), &t),
	                 E_CHECKIN_CLOSED);
	/* The edges themselves are inside the window. */
	struct ticket c = book(citizen(4), "cu-tru", "11:00");
	assert_int_equal(store_checkin(point(), c.code, "kiosk", at("10:00"), &t), E_OK);
	struct ticket d = book(citizen(5), "cu-tru", "11:00");
	assert_int_equal(store_checkin(point(), d.code, "kiosk", at("11:45"), &t), E_OK);
	/* Checked in twice: invalid_state. */
	assert_int_equal(store_checkin(point(), d.code, "kiosk", at("11:46"), &t), E_INVALID_STATE);
}

/*
 * At the end of its date a ticket still waiting (or parked) expires; a booked one expires once
 * past checkin_until.
 */
static void
end_of_day_expires_what_waits(void **state)
{
	(void)state;
	struct ticket w = walkin("cu-tru", NULL, "16:00");
	struct ticket p = walkin("cu-tru", NULL, "16:01");
	struct ticket t;
	assert_int_equal(store_call_code(counter("quay-a"), p.code, "quay-a", at("16:05"), &t),
	                 E_OK);
	assert_int_equal(store_finish(counter("quay-a"), ST_PARKED, "quay-a", at("16:06"), &t),
	                 E_OK);
	struct ticket b = book(citizen(6), "cu-tru", "16:30");
	/* Not before the day ends (16:30 + 30 + 15 = 17:15 for the booking). */
	assert_int_equal(store_expire_due(at("17:15"), ICT), 0);
	assert_int_equal(store_expire_due(at("17:16"), ICT), 1);
	assert_int_equal(store_ticket(b.code, &t), E_OK);
	assert_int_equal(t.status, ST_EXPIRED);
	assert_int_equal(store_expire_due(at("23:59") + 59, ICT), 0);
	assert_int_equal(store_ticket(w.code, &t), E_OK);
	assert_int_equal(t.status, ST_WAITING);
	/* The next local day begins: both expire. */
	assert_int_equal(store_next_deadline(at("23:00"), ICT), on(TODAY + 1, "00:00"));
	assert_int_equal(store_expire_due(on(TODAY + 1, "00:00"), ICT), 2);
	assert_int_equal(store_ticket(w.code, &t), E_OK);
	assert_int_equal(t.status, ST_EXPIRED);
	assert_int_equal(store_ticket(p.code, &t), E_OK);
	assert_int_equal(t.status, ST_EXPIRED);
}

/* Slots whose kept count differs from the bookings (not cancelled) that hold them. */
static int
slot_counts_astray(void)
{
	sqlite3_stmt *st;
	assert_int_equal(
	    sqlite3_prepare_v2(db_handle(),
	                       "SELECT count(*) FROM (SELECT point, booked_service AS service, date, "
	                       "start_min, count(*) AS n FROM ticket WHERE kind = 'booking' AND "
	                       "status != 'cancelled' AND start_min IS NOT NULL GROUP BY 1, 2, 3, 4) b FULL JOIN slot_count c "
	                       "USING (point, service, date, start_min) WHERE coalesce(b.n, 0) != "
	                       "coalesce(c.booked, 0)",
	                       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

struct held {
	int start, booked;
};

static void
held_at(void *arg, int day, int start, int booked)
{
	struct held *h = arg;
	(void)day;
	if (start == h->start)
		h->booked = booked;
}

/* The bookings holding SERVICE's slot at HHMM on DAY, as availability reads them. */
static int
held(const char *service, int day, const char *hhmm)
{
	struct held h = {0, 0};
	assert_int_equal(hhmm_parse(hhmm, &h.start), 0);
	assert_int_equal(store_slot_counts_between("cua-nam", service, day, day, held_at, &h), 0);
	return h.booked;
}

/* The bookings holding each of SERVICE's first slots today. */
static void
expect_held(const char *service, int at_0800, int at_0830, int at_0900)
{
	assert_int_equal(held(service, TODAY, "08:00"), at_0800);
	assert_int_equal(held(service, TODAY, "08:30"), at_0830);
	assert_int_equal(held(service, TODAY, "09:00"), at_0900);
}

/* The rows store_slot_counts_between gives, as "DAY+HH:MM=N" joined by spaces (DAY from TODAY). */
struct rows_seen {
	char s[256];
};

static void
row_seen(void *arg, int day, int start, int booked)
{
	struct rows_seen *r = arg;
	size_t n = strlen(r->s);
	snprintf(r->s + n, sizeof r->s - n, "%s%d+%02d:%02d=%d", n ? " " : "", day - TODAY,
	         start / 60, start % 60, booked);
}

static const char *
rows_between(const char *service, int first, int last, struct rows_seen *r)
{
	r->s[0] = 0;
	assert_int_equal(store_slot_counts_between("cua-nam", service, first, last, row_seen, r), 0);
	return r->s;
}

/*
 * A slot's count follows every booking in and out of it: made, cancelled, moved to another
 * start or day; check-ins, calls, ends and expiry leave it, as a booking served or missed
 * still took its place. Walk-ins hold no slot.
 */
static void
slot_counts_follow_the_bookings(void **state)
{
	(void)state;
	struct ticket t;
	const struct service *ks = point_service(point(), "khai-sinh");
	struct ticket a = book(citizen(1), "cu-tru", "08:00");
	struct ticket b = book(citizen(2), "cu-tru", "08:00");
	book(citizen(3), "cu-tru", "08:30");
	walkin("khai-sinh", NULL, "07:10");
	expect_held("cu-tru", 2, 1, 0);
	expect_held("khai-sinh", 0, 0, 0);
	assert_int_equal(store_cancel(a.code, "ihanoi", at("07:11"), &t), E_OK);
	expect_held("cu-tru", 1, 1, 0);
	assert_int_equal(store_reschedule(b.code, point_service(point(), "cu-tru"), TODAY, 9 * 60,
	                                  9 * 60 + 30, "ihanoi", at("07:12"), &t),
	                 E_OK);
	expect_held("cu-tru", 0, 1, 1);
	assert_int_equal(store_checkin(point(), b.code, "kiosk", at("08:50"), &t), E_OK);
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("09:00"), &t), E_OK);
	assert_string_equal(t.code, b.code);
	assert_int_equal(store_finish(counter("quay-a"), ST_SERVED, "quay-a", at("09:10"), &t), E_OK);
	expect_held("cu-tru", 0, 1, 1);
	struct ticket c = book(citizen(4), "khai-sinh", "08:30");
	expect_held("khai-sinh", 0, 1, 0);
	assert_int_equal(store_reschedule(c.code, ks, TODAY + 1, 8 * 60 + 30, 9 * 60, "ihanoi",
	                                  at("07:14"), &t),
	                 E_OK);
	expect_held("khai-sinh", 0, 0, 0);
	/* Several days in one read: every slot ever held (0 once left), in (day, start) order,
	 * and only those days. */
	struct rows_seen r;
	assert_string_equal(rows_between("khai-sinh", TODAY, TODAY + 6, &r), "0+08:30=0 1+08:30=1");
	assert_string_equal(rows_between("khai-sinh", TODAY, TODAY, &r), "0+08:30=0");
	assert_string_equal(rows_between("khai-sinh", TODAY + 1, TODAY + 1, &r), "1+08:30=1");
	struct ticket d = book(citizen(5), "khai-sinh", "09:00"); /* later today than tomorrow's */
	assert_string_equal(rows_between("khai-sinh", TODAY, TODAY + 1, &r),
	                    "0+08:30=0 0+09:00=1 1+08:30=1");
	assert_int_equal(store_cancel(d.code, "ihanoi", at("07:15"), &t), E_OK);
	assert_string_equal(rows_between("cu-tru", TODAY - 1, TODAY + 6, &r), "0+08:00=0 0+08:30=1 0+09:00=1");
	/* Bookings expiring still hold their place. */
	assert_int_equal(store_expire_due(on(TODAY + 1, "00:00"), ICT), 2); /* 08:30, and c */
	expect_held("cu-tru", 0, 1, 1);
	assert_int_equal(slot_counts_astray(), 0);
}

/* How many deliveries of EVENT about the ticket CODE are stored for the hook at URL. */
static int
deliveries(const char *url, const char *event, const char *code)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db_handle(),
	                                    "SELECT count(*) FROM delivery d JOIN ticket t ON t.id "
	                                    "= d.ticket WHERE d.url = ?1 AND d.event = ?2 AND "
	                                    "t.code = ?3",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

#define HOOK_A "http://127.0.0.1:9/a"
#define HOOK_B "http://127.0.0.1:9/b"

/*
 * Webhook deliveries are written with the change that causes them, one per hook that asks:
 * ticket.called at each call and recall; ticket.near once, the first time a ticket waits at
 * position 3 or nearer; booking.expired for a booking only. Each body is the public ticket,
 * signed with its hook's secret.
 */
static void
webhook_deliveries_follow_their_changes(void **state)
{
	(void)state;
	struct ticket w[5], t;
	static const char *const issued[5] = {"08:00", "08:01", "08:02", "08:03", "08:04"};
	for (int i = 0; i < 5; i++)
		w[i] = walkin("cu-tru", NULL, issued[i]);
	for (int i = 0; i < 5; i++)
		assert_int_equal(deliveries(HOOK_A, "ticket.near", w[i].code), i < 3);
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:10"), &t), E_OK);
	assert_string_equal(t.code, w[0].code);
	assert_int_equal(deliveries(HOOK_A, "ticket.called", w[0].code), 1);
	assert_int_equal(deliveries(HOOK_A, "ticket.near", w[3].code), 1); /* now at 3 */
	assert_int_equal(deliveries(HOOK_A, "ticket.near", w[4].code), 0);
	assert_int_equal(store_recall(counter("quay-a"), "quay-a", at("08:11"), &t), E_OK);
	assert_int_equal(deliveries(HOOK_A, "ticket.called", w[0].code), 2);
	assert_int_equal(store_finish(counter("quay-a"), ST_SERVED, "quay-a", at("08:12"), &t), E_OK);
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("08:13"), &t), E_OK);
	assert_int_equal(deliveries(HOOK_A, "ticket.near", w[3].code), 1); /* at 2: not again */
	assert_int_equal(deliveries(HOOK_A, "ticket.near", w[4].code), 1);
	/* Hook B hears of none of that; hook A of no expiry. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(deliveries(HOOK_B, "ticket.called", w[i].code), 0);
		assert_int_equal(deliveries(HOOK_B, "ticket.near", w[i].code), 0);
	}
	struct ticket b = book(citizen(1), "khai-sinh", "08:30");
	assert_int_equal(store_expire_due(at("09:16"), ICT), 1);
	assert_int_equal(deliveries(HOOK_B, "booking.expired", b.code), 1);
	assert_int_equal(deliveries(HOOK_A, "booking.expired", b.code), 0);
	/* Walk-ins expiring at the end of the day tell nobody. */
	/* w1, left called, and w2 to w4, still waiting */
	assert_int_equal(store_expire_due(on(TODAY + 1, "00:00"), ICT), 4);
	for (int i = 0; i < 5; i++)
		assert_int_equal(deliveries(HOOK_B, "booking.expired", w[i].code), 0);

	/* Each body is the public ticket as it was, signed with its hook's own secret. */
	sqlite3_stmt *st;
	int rows = 0;
	assert_int_equal(sqlite3_prepare_v2(db_handle(),
	                                    "SELECT d.url, d.event, d.body, d.signature, t.code FROM "
	                                    "delivery d JOIN ticket t ON t.id = d.ticket",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *url = (const char *)sqlite3_column_text(st, 0);
		const char *event = (const char *)sqlite3_column_text(st, 1);
		const char *body = (const char *)sqlite3_column_text(st, 2);
		const char *code = (const char *)sqlite3_column_text(st, 4);
		char want[7 + 65] = "sha256=";
		const char *key = strcmp(url, HOOK_A) == 0 ? "ka" : "kb";
		assert_int_equal(digest_hmac(key, 2, body, want + 7), 0);
		assert_string_equal((const char *)sqlite3_column_text(st, 3), want);
		json_t *j = json_loads(body, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "event")), event);
		json_t *tk = json_object_get(j, "ticket");
		assert_string_equal(json_string_value(json_object_get(tk, "code")), code);
		assert_null(json_object_get(tk, "citizen_id"));
		assert_null(json_object_get(tk, "dossier_id"));
		const char *status = json_string_value(json_object_get(tk, "status"));
		if (strcmp(event, "ticket.near") == 0) {
			assert_string_equal(status, "waiting");
			json_int_t pos = json_integer_value(json_object_get(tk, "position"));
			assert_true(pos >= 1 && pos <= 3);
		} else if (strcmp(event, "ticket.called") == 0) {
			assert_string_equal(status, "called");
			assert_string_equal(json_string_value(json_object_get(tk, "counter")), "quay-a");
		} else {
			assert_string_equal(event, "booking.expired");
			assert_string_equal(status, "expired");
		}
		json_decref(j);
		rows++;
	}
	sqlite3_finalize(st);
	assert_int_equal(rows, 5 /* near */ + 3 /* called: w0 twice, w1 */ + 1 /* expired */);
}

/* A failed attempt is tried again after 1 s, 2 s, 4 s, ... and never more than 10 minutes on. */
static void
webhook_retries_back_off(void **state)
{
	(void)state;
	static const int want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600};
	for (int i = 0; i < (int)NELEM(want); i++)
		assert_int_equal(webhook_backoff(i + 1), want[i]);
	assert_int_equal(webhook_backoff(1000), 600);
}

/*
 * A ticket left called when the day ends does not hold its counter into the next day: it
 * expires, as one still waiting would, and the counter calls again. A booking so left no
 * longer counts among its citizen's active ones.
 */
static void
end_of_day_frees_a_counter_left_calling(void **state)
{
	(void)state;
	struct ticket w = walkin("cu-tru", NULL, "16:00");
	struct ticket b = book(citizen(3), "khai-sinh", "16:30");
	struct ticket t;
	struct counter_view v;
	checkin(b.code, "16:10");
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("16:05"), &t), E_OK);
	assert_string_equal(t.code, w.code);
	assert_int_equal(store_call_next(counter("quay-b"), "quay-b", at("16:31"), &t), E_OK);
	assert_string_equal(t.code, b.code);
	/* Still the same day: the counters keep them. */
	assert_int_equal(store_expire_due(at("23:59") + 59, ICT), 0);
	assert_int_equal(store_counter("quay-a", &v), 0);
	assert_true(v.ticket == w.id);
	/* The next day: both expire, and their counters are let go. */
	assert_int_equal(store_expire_due(on(TODAY + 1, "00:00"), ICT), 2);
	assert_int_equal(store_counter("quay-a", &v), 0);
	assert_true(v.ticket == 0);
	assert_int_equal(store_counter("quay-b", &v), 0);
	assert_true(v.ticket == 0);
	assert_int_equal(store_ticket(w.code, &t), E_OK);
	assert_int_equal(t.status, ST_EXPIRED);
	assert_true(t.finished_at == on(TODAY + 1, "00:00"));
	assert_int_equal(store_ticket(b.code, &t), E_OK);
	assert_int_equal(t.status, ST_EXPIRED);
	assert_int_equal(store_finish(counter("quay-a"), ST_SERVED, "quay-a", on(TODAY + 1, "08:00"), &t),
	                 E_INVALID_STATE);
	struct ticket n;
	assert_int_equal(store_walkin(point(), point_service(point(), "cu-tru"), NULL, NULL, "kiosk",
	                              on(TODAY + 1, "08:00"), &n),
	                 E_OK);
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", on(TODAY + 1, "08:01"), &t), E_OK);
	assert_string_equal(t.code, n.code);
	/* The citizen of the expired booking has three active bookings to make again. */
	struct booking_in in = {.point = point(), .citizen_hash = citizen(3), .last4 = "1234"};
	for (int i = 0; i < 3; i++) {
		in.service = point_service(point(), i % 2 ? "khai-sinh" : "cu-tru");
		in.day = TODAY + 1 + i / 2;
		in.start = 9 * 60;
		in.end = in.start + 30;
		assert_int_equal(store_book(&in, "ihanoi", on(TODAY + 1, "08:02"), &t), E_OK);
	}
}

/* Numbers count from 001 per point, service and date, bookings and walk-ins alike. */
static void
numbers_count_per_service_and_day(void **state)
{
	(void)state;
	struct ticket a1 = book(citizen(7), "cu-tru", "09:00");
	struct ticket a2 = walkin("cu-tru", NULL, "08:00");
	struct ticket b1 = walkin("khai-sinh", NULL, "08:01");
	struct ticket a3 = walkin("cu-tru", "merit", "08:02");
	assert_string_equal(a1.number, "A001");
	assert_string_equal(a2.number, "A002");
	assert_string_equal(b1.number, "B001");
	assert_string_equal(a3.number, "A003");
	assert_string_equal(a1.kind, "booking");
	assert_string_equal(a2.kind, "walkin");
	/* Codes: 8-16 of upper-case letters and digits, each its own. */
	const struct ticket *all[] = {&a1, &a2, &b1, &a3};
	for (size_t i = 0; i < NELEM(all); i++) {
		size_t n = strlen(all[i]->code);
		assert_true(n >= 8 && n <= 16);
		for (size_t j = 0; j < n; j++)
			assert_true((all[i]->code[j] >= 'A' && all[i]->code[j] <= 'Z') ||
			            (all[i]->code[j] >= '0' && all[i]->code[j] <= '9'));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(all[i]->code, all[j]->code);
	}
}

static enum err
try_book(const char *citizen_hash, const char *service, int day, const char *start,
         struct ticket *t)
{
	struct booking_in in = {
	    .point = point(),
	    .service = point_service(point(), service),
	    .day = day,
	    .citizen_hash = citizen_hash,
	    .last4 = "1234",
	};
	assert_int_equal(hhmm_parse(start, &in.start), 0);
	in.end = in.start + 30;
	return store_book(&in, "ihanoi", at("07:00"), t);
}

/* Every booking not cancelled holds its slot; a cancellation frees the place at once. */
static void
capacity_and_cancellation(void **state)
{
	(void)state;
	struct ticket t, first;
	for (int i = 0; i < 6; i++) { /* slot_capacity 6 */
		assert_int_equal(try_book(citizen(i), "cu-tru", TODAY + 1, "09:00", &t), E_OK);
		if (i == 0)
			first = t;
	}
	assert_int_equal(try_book(citizen(6), "cu-tru", TODAY + 1, "09:00", &t), E_SLOT_FULL);
	/* Another service's slot at the same time is its own. */
	assert_int_equal(try_book(citizen(6), "khai-sinh", TODAY + 1, "09:00", &t), E_OK);
	assert_int_equal(store_cancel(first.code, "ihanoi", at("07:10"), &t), E_OK);
	assert_int_equal(t.status, ST_CANCELLED);
	assert_int_equal(try_book(citizen(6), "cu-tru", TODAY + 1, "09:00", &t), E_OK);
	/* Cancelled once is cancelled: not again. */
	assert_int_equal(store_cancel(first.code, "ihanoi", at("07:11"), &t), E_INVALID_STATE);
	assert_int_equal(held("cu-tru", TODAY + 1, "09:00"), 6);
}

/* One active booking per citizen, service and date; at most max_active (3) active in all. */
static void
duplicate_and_too_many_bookings(void **state)
{
	(void)state;
	struct ticket t, a;
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "09:00", &a), E_OK);
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "10:00", &t), E_DUPLICATE_BOOKING);
	assert_int_equal(try_book(citizen(1), "khai-sinh", TODAY, "10:00", &t), E_OK);
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY + 1, "10:00", &t), E_OK);
	assert_int_equal(try_book(citizen(1), "khai-sinh", TODAY + 1, "10:00", &t),
	                 E_TOO_MANY_BOOKINGS);
	assert_int_equal(try_book(citizen(2), "khai-sinh", TODAY + 1, "10:00", &t), E_OK);
	/*
	 * Checked in (waiting), being served (called) or set aside (parked), a booking is still
	 * active: the same service on the same date is a duplicate, and it counts towards the
	 * three.
	 */
	checkin(a.code, "08:30");
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "11:00", &t), E_DUPLICATE_BOOKING);
	struct ticket called;
	assert_int_equal(store_call_next(counter("quay-a"), "quay-a", at("09:00"), &called), E_OK);
	assert_string_equal(called.number, a.number);
	assert_int_equal(called.status, ST_CALLED);
	assert_string_equal(called.counter, "quay-a");
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "11:00", &t), E_DUPLICATE_BOOKING);
	assert_int_equal(try_book(citizen(1), "khai-sinh", TODAY + 1, "10:00", &t),
	                 E_TOO_MANY_BOOKINGS);
	assert_int_equal(store_finish(counter("quay-a"), ST_PARKED, "quay-a", at("09:05"), &t),
	                 E_OK);
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "11:00", &t), E_DUPLICATE_BOOKING);
	assert_int_equal(store_call_code(counter("quay-a"), a.code, "quay-a", at("09:10"), &t),
	                 E_OK);
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "11:00", &t), E_DUPLICATE_BOOKING);
	/* Served, a booking is no longer active: the citizen may book again. */
	assert_int_equal(store_finish(counter("quay-a"), ST_SERVED, "quay-a", at("09:15"), &t),
	                 E_OK);
	struct ticket third;
	assert_int_equal(try_book(citizen(1), "khai-sinh", TODAY + 1, "10:00", &third), E_OK);
	/*
	 * And the same service on the same date again, the first one served: no duplicate now,
	 * but three are active again (khai-sinh today, both tomorrow), so the limit refuses it
	 * until one of them is cancelled.
	 */
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "11:00", &t), E_TOO_MANY_BOOKINGS);
	assert_int_equal(store_cancel(third.code, "ihanoi", at("09:20"), &t), E_OK);
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "11:00", &t), E_OK);
	assert_string_not_equal(t.code, a.code);
	assert_int_equal(t.status, ST_BOOKED);
}

/* A no-show of CITIZEN's, finished DAYS_AGO days before TODAY 07:00 (the hour try_book books at). */
static void
no_show(const char *citizen_hash, int days_ago)
{
	static int n;
	char sql[512];
	int64_t at_ = at("07:00") - (int64_t)days_ago * 86400;
	n++;
	snprintf(sql, sizeof sql,
	         "INSERT INTO ticket (code, kind, point, service, booked_service, date, seq, number, "
	         "status, citizen_hash, created_at, finished_at) VALUES ('NOSHOW%04d', 'booking', "
	         "'cua-nam', 'cu-tru', 'cu-tru', '2026-01-01', %d, 'A%03d', 'no_show', '%s', %lld, "
	         "%lld)",
	         n, 900 + n, n, citizen_hash, (long long)at_, (long long)at_);
	assert_int_equal(sqlite3_exec(db_handle(), sql, NULL, NULL, NULL), SQLITE_OK);
}

/*
 * The catalogue's defaults: three no-shows within 30 days suspend booking for 7 days after
 * the last of them. Three spread over more than 30 days do not, and neither do three whose
 * suspension has run out.
 */
static void
no_shows_suspend_within_their_window(void **state)
{
	(void)state;
	struct ticket t;
	no_show(citizen(3), 1);
	no_show(citizen(3), 20);
	no_show(citizen(3), 40); /* the newest three span 39 days */
	assert_int_equal(try_book(citizen(3), "cu-tru", TODAY, "09:00", &t), E_OK);
	assert_int_equal(store_cancel(t.code, "ihanoi", at("07:00"), &t), E_OK);
	no_show(citizen(3), 31); /* now 30 days: within */
	assert_int_equal(try_book(citizen(3), "cu-tru", TODAY, "09:00", &t), E_BOOKING_SUSPENDED);
	/* Three within a week, the last of them 7 days ago: the suspension is over. */
	no_show(citizen(4), 7);
	no_show(citizen(4), 8);
	no_show(citizen(4), 9);
	assert_int_equal(try_book(citizen(4), "cu-tru", TODAY, "09:00", &t), E_OK);
	/* 6 days ago, it still holds; two no-shows are not enough. */
	no_show(citizen(5), 6);
	no_show(citizen(5), 7);
	no_show(citizen(5), 8);
	assert_int_equal(try_book(citizen(5), "cu-tru", TODAY, "09:00", &t), E_BOOKING_SUSPENDED);
	no_show(citizen(6), 1);
	no_show(citizen(6), 2);
	assert_int_equal(try_book(citizen(6), "cu-tru", TODAY, "09:00", &t), E_OK);
}

static int
count_ticket(const struct ticket *t, void *arg)
{
	(void)t;
	++*(int *)arg;
	return 0;
}

/* Citizen N's hash for booking_scans_nothing_whole, and where N books: spread over slots. */
static const char *
crowd(int n, const char **service, int *day, char hhmm[6])
{
	static char hash[65];
	snprintf(hash, sizeof hash, "%064x", n * 7919);
	*service = n % 2 ? "cu-tru" : "khai-sinh";
	*day = TODAY + n / 2 % 2;
	hhmm_format(8 * 60 + n / 4 % 16 * 30, hhmm);
	return hash;
}

/*
 * Booking looks rows up by index only: with a few hundred tickets in the table, booking,
 * refusing a duplicate and listing a citizen's bookings step through no table or index
 * from end to end (a full scan would cost the surge a row for every ticket ever booked).
 */
static void
booking_scans_nothing_whole(void **state)
{
	(void)state;
	struct ticket t;
	const char *service, *hash;
	char hhmm[6];
	int day;
	for (int i = 0; i < 300; i++) { /* 64 slots of 6: at most 5 a slot */
		hash = crowd(i, &service, &day, hhmm);
		assert_int_equal(try_book(hash, service, day, hhmm, &t), E_OK);
	}
	int64_t before = db_scanned_rows();
	hash = crowd(5, &service, &day, hhmm);
	assert_int_equal(try_book(hash, service, day, "16:30", &t), E_DUPLICATE_BOOKING);
	int n = 0;
	assert_int_equal(store_citizen_bookings(hash, TODAY, count_ticket, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(try_book(citizen(7), "cu-tru", TODAY + 1, "16:30", &t), E_OK);
	assert_int_equal(db_scanned_rows() - before, 0);
}

/* Moved within its date a booking keeps its number; to another date it takes that date's next. */
static void
moving_a_booking(void **state)
{
	(void)state;
	const struct service *s = point_service(point(), "cu-tru");
	struct ticket a, b, t;
	assert_int_equal(try_book(citizen(1), "cu-tru", TODAY, "09:00", &a), E_OK);
	assert_int_equal(try_book(citizen(2), "cu-tru", TODAY, "09:00", &b), E_OK);
	assert_string_equal(a.number, "A001");
	assert_int_equal(
	    store_reschedule(a.code, s, TODAY, 10 * 60, 10 * 60 + 30, "ihanoi", at("07:05"), &t),
	    E_OK);
	assert_string_equal(t.number, "A001");
	assert_int_equal(t.start, 10 * 60);
	assert_int_equal(t.checkin_from, at("09:00"));
	assert_int_equal(t.checkin_until, at("10:45"));
	assert_int_equal(try_book(citizen(3), "cu-tru", TODAY + 1, "09:00", &t), E_OK);
	assert_string_equal(t.number, "A001"); /* tomorrow counts from 001 */
	assert_int_equal(
	    store_reschedule(b.code, s, TODAY + 1, 9 * 60, 9 * 60 + 30, "ihanoi", at("07:06"), &t),
	    E_OK);
	assert_string_equal(t.number, "A002");
	assert_int_equal(t.day, TODAY + 1);
	assert_int_equal(store_ticket(b.code, &t), E_OK);
	assert_string_equal(t.number, "A002");
	/* Only while booked. */
	checkin(a.code, "09:30");
	assert_int_equal(
	    store_reschedule(a.code, s, TODAY, 11 * 60, 11 * 60 + 30, "ihanoi", at("09:31"), &t),
	    E_INVALID_STATE);
	assert_int_equal(store_ticket(a.code, &t), E_OK);
	assert_int_equal(t.start, 10 * 60); /* unchanged */
}

/*
 * The event chain's end is kept in memory between events; whatever is rolled back (a whole
 * transaction, or one operation's savepoint) must not be chained from afterwards.
 */
static void
event_chain_survives_rollbacks(void **state)
{
	(void)state;
	char why[256] = "";
	book("aaaa", "cu-tru", "08:00");
	assert_int_equal(db_commit(), 0);
	/*
	 * A walk-in whose transaction SQLite then rolls back (as it does after an I/O error): its
	 * event is gone, nothing more joins the lost batch, and its commit reports it lost.
	 */
	walkin("cu-tru", NULL, "07:10");
	uint64_t before = db_epoch();
	assert_int_equal(sqlite3_exec(db_handle(), "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_true(db_epoch() != before);
	struct ticket t;
	assert_int_equal(store_walkin(point(), point_service(point(), "cu-tru"), NULL, NULL,
	                              "kiosk", at("07:10"), &t),
	                 E_UNAVAILABLE);
	assert_int_equal(db_commit(), -1);
	walkin("khai-sinh", NULL, "07:11");
	/* An operation rolled back by its own savepoint. */
	assert_int_equal(db_op_begin(), 0);
	before = db_epoch();
	db_op_end(0);
	assert_true(db_epoch() != before);
	walkin("cu-tru", NULL, "07:12");
	assert_int_equal(db_commit(), 0);
	if (audit_verify(why, sizeof why) != 0)
		fail_msg("audit_verify: %s", why);
	sqlite3_stmt *st;
	assert_int_equal(
	    sqlite3_prepare_v2(db_handle(), "SELECT count(*) FROM event", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 3); /* the booking and two walk-ins */
	sqlite3_finalize(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(entitlement_of_bookings_and_walkins, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(event_chain_survives_rollbacks, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(counter_calls_only_its_services, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(priority_of_either_service_first, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(transfer_keeps_its_place, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(fairness_across_calls, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(positions_and_eta, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(one_called_ticket_per_counter, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(recalls_up_to_max_calls, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(parked_ticket_waits_outside_the_order, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(checkin_window, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(end_of_day_expires_what_waits, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(end_of_day_frees_a_counter_left_calling, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(numbers_count_per_service_and_day, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(capacity_and_cancellation, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(duplicate_and_too_many_bookings, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(moving_a_booking, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(no_shows_suspend_within_their_window, setup,
	                                    unit_db_teardown),
	    cmocka_unit_test_setup_teardown(booking_scans_nothing_whole, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(slot_counts_follow_the_bookings, setup, unit_db_teardown),
	    cmocka_unit_test_setup_teardown(webhook_deliveries_follow_their_changes, setup_hooks,
	                                    unit_db_teardown),
	    cmocka_unit_test(webhook_retries_back_off),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
