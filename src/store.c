/* store.c: the business operations on SQLite, each inside its own savepoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "audit.h"
#include "dates.h"
#include "db.h"
#include "events.h"
#include "log.h"
#include "queue.h"
#include "slots.h"
#include "store.h"
#include "webhook.h"

static const char *const status_names[ST__MAX] = {
    "booked", "waiting", "called", "served", "no_show", "parked", "cancelled", "expired",
};

const char *
status_name(enum tstatus s)
{
	return s < ST__MAX ? status_names[s] : "?";
}

static enum tstatus
status_parse(const char *s)
{
	for (int i = 0; i < ST__MAX; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return ST__MAX;
}

#define TICKET_COLS                                                                             \
	"id, code, kind, point, service, booked_service, date, seq, number, start_min, end_min, " \
	"status, priority, citizen_last4, dossier_id, created_at, checkin_from, checkin_until, "  \
	"waiting_since, entitled_at, counter, calls, called_at, first_called_at, finished_at"

static void
copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}

static void
row_ticket(sqlite3_stmt *st, struct ticket *t)
{
	memset(t, 0, sizeof *t);
	t->id = sqlite3_column_int64(st, 0);
	copy(t->code, sizeof t->code, db_col_text(st, 1));
	copy(t->kind, sizeof t->kind, db_col_text(st, 2));
	copy(t->point, sizeof t->point, db_col_text(st, 3));
	copy(t->service, sizeof t->service, db_col_text(st, 4));
	copy(t->booked_service, sizeof t->booked_service, db_col_text(st, 5));
	if (date_parse(db_col_text(st, 6), &t->day))
		t->day = 0;
	t->seq = sqlite3_column_int(st, 7);
	copy(t->number, sizeof t->number, db_col_text(st, 8));
	t->start = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 9);
	t->end = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10);
	t->status = status_parse(db_col_text(st, 11));
	copy(t->priority, sizeof t->priority, db_col_text(st, 12));
	copy(t->last4, sizeof t->last4, db_col_text(st, 13));
	copy(t->dossier, sizeof t->dossier, db_col_text(st, 14));
	t->created_at = sqlite3_column_int64(st, 15);
	t->checkin_from = sqlite3_column_int64(st, 16);
	t->checkin_until = sqlite3_column_int64(st, 17);
	t->waiting_since = sqlite3_column_int64(st, 18);
	t->entitled_at = sqlite3_column_int64(st, 19);
	copy(t->counter, sizeof t->counter, db_col_text(st, 20));
	t->calls = sqlite3_column_int(st, 21);
	t->called_at = sqlite3_column_int64(st, 22);
	t->first_called_at = sqlite3_column_int64(st, 23);
	t->finished_at = sqlite3_column_int64(st, 24);
}

int
store_ticket_by_id(int64_t id, struct ticket *t)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(&s, "SELECT " TICKET_COLS " FROM ticket WHERE id = :id");
	if (st == NULL)
		return -1;
	db_bind_int(st, ":id", id);
	int rc = db_step(st);
	if (rc == 1)
		row_ticket(st, t);
	sqlite3_reset(st);
	return rc == 1 ? 0 : -1;
}

enum err
store_ticket(const char *code, struct ticket *out)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(&s, "SELECT " TICKET_COLS " FROM ticket WHERE code = :code");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_text(st, ":code", code);
	int rc = db_step(st);
	if (rc == 1)
		row_ticket(st, out);
	sqlite3_reset(st);
	return rc == 1 ? E_OK : rc == 0 ? E_NOT_FOUND : E_UNAVAILABLE;
}

/*
 * The end of each point's chain, (date, seq, hash) of its last event in chain order, and the
 * next event number: what event_add would otherwise read with two queries per event. Kept
 * only while db_epoch() is the one they were read in (a rollback may have taken events
 * back); points past the table's size (a city has a few hundred) are read each time.
 */
#define CHAIN_MAX 1024
static struct chain_end {
	int64_t seq;
	char point[72];
	char date[11];
	char hash[65];
} chain_ends[CHAIN_MAX];
static int nchain_ends;
static int64_t next_seq; /* 0: read it */
static uint64_t chain_epoch;

/* POINT's entry; a new one has an empty point, to be read. NULL when the table is full. */
static struct chain_end *
chain_slot(const char *point)
{
	if (chain_epoch != db_epoch()) {
		nchain_ends = 0;
		next_seq = 0;
		chain_epoch = db_epoch();
	}
	for (int i = 0; i < nchain_ends; i++)
		if (strcmp(chain_ends[i].point, point) == 0)
			return &chain_ends[i];
	if (nchain_ends == CHAIN_MAX || strlen(point) >= sizeof chain_ends[0].point)
		return NULL;
	chain_ends[nchain_ends].point[0] = 0;
	return &chain_ends[nchain_ends++];
}

/* Reads the end of POINT's chain into E (an empty hash when it has no event yet). */
static int
chain_read(const char *point, struct chain_end *e)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(&s, "SELECT date, seq, hash FROM event WHERE point = :p "
	                                 "ORDER BY date DESC, seq DESC LIMIT 1");
	if (st == NULL)
		return -1;
	db_bind_text(st, ":p", point);
	int rc = db_step(st);
	copy(e->point, sizeof e->point, point);
	copy(e->date, sizeof e->date, rc == 1 ? db_col_text(st, 0) : "");
	e->seq = rc == 1 ? sqlite3_column_int64(st, 1) : 0;
	copy(e->hash, sizeof e->hash, rc == 1 ? db_col_text(st, 2) : "");
	sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}

/* ---- webhook deliveries, written with the change they tell of ---- */

/*
 * The tickets first in T's queue that were never told they are near: at most 3, in call
 * order (ticket_queue's order). A ticket is told once, whichever hook hears it.
 */
static int
near_tickets(const struct ticket *t, int64_t ids[3])
{
	static sqlite3_stmt *s;
	char date[11];
	int n = 0, rc;
	sqlite3_stmt *st = db_static(
	    &s, "SELECT id FROM (SELECT id FROM ticket WHERE point = :p AND date = :d AND "
	        "service = :s AND status = 'waiting' ORDER BY priority IS NULL, entitled_at, seq, "
	        "number LIMIT 3) q WHERE NOT EXISTS (SELECT 1 FROM delivery WHERE ticket = q.id "
	        "AND event = 'ticket.near')");
	if (st == NULL)
		return -1;
	date_format(t->day, date);
	db_bind_text_kept(st, ":p", t->point);
	db_bind_text_kept(st, ":d", date);
	db_bind_text_kept(st, ":s", t->service);
	while (n < 3 && (rc = db_step(st)) == 1)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc < 0 ? -1 : n;
}

/*
 * The deliveries ACTION on T causes: ticket.called for a call or recall, booking.expired for
 * a booking that expires, and ticket.near for whoever a check-in, an issue, a call or a
 * transfer brings to position 3 or nearer in T's queue.
 */
static int
hooks_after(const struct ticket *t, const char *action, int64_t now)
{
	unsigned want = cat->hook_events;
	int64_t ids[3];
	int n;
	struct ticket near;
	if (want == 0)
		return 0;
	if ((want & HOOK_CALLED) && (strcmp(action, "call") == 0 || strcmp(action, "recall") == 0) &&
	    webhook_enqueue(HOOK_CALLED, t, now))
		return -1;
	if ((want & HOOK_EXPIRED) && strcmp(action, "expire") == 0 &&
	    strcmp(t->kind, "booking") == 0 && webhook_enqueue(HOOK_EXPIRED, t, now))
		return -1;
	if (!(want & HOOK_NEAR) || !(strcmp(action, "checkin") == 0 || strcmp(action, "issue") == 0 ||
	                             strcmp(action, "call") == 0 || strcmp(action, "transfer") == 0))
		return 0;
	if ((n = near_tickets(t, ids)) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (store_ticket_by_id(ids[i], &near) || webhook_enqueue(HOOK_NEAR, &near, now))
			return -1;
	return 0;
}

/*
 * Appends a state change to the event log. Each event's hash is SHA-256 over the previous
 * hash of the same point and this event's fields, so a changed or removed row is detected.
 */
static int
event_add(const struct ticket *t, const char *action, const char *actor, const char *counter,
          const char *detail, int64_t now, int offset, int64_t *seq_out)
{
	static sqlite3_stmt *s_next, *s_ins;
	sqlite3_stmt *st;
	char date[11], hash[65];
	struct chain_end tmp, *end = chain_slot(t->point);
	if (end == NULL || end->point[0] == 0) {
		if (end == NULL)
			end = &tmp;
		if (chain_read(t->point, end)) {
			if (end != &tmp)
				nchain_ends--; /* the entry just made, the last */
			return -1;
		}
	}
	if (next_seq == 0) {
		st = db_static(&s_next, "SELECT coalesce(max(seq), 0) + 1 FROM event");
		if (st == NULL || db_step(st) != 1)
			return -1;
		next_seq = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	int64_t seq = next_seq;

	date_format(local_day(now, offset), date);
	if (audit_hash(end->hash, seq, t->point, date, now, t->code, action, actor, counter, detail,
	               hash))
		return -1;

	st = db_static(&s_ins, "INSERT INTO event (seq, point, date, at, ticket, action, actor, "
	                       "counter, detail, hash) VALUES (:seq, :p, :d, :at, :t, :a, :actor, "
	                       ":c, :detail, :h)");
	if (st == NULL)
		return -1;
	db_bind_int(st, ":seq", seq);
	db_bind_text_kept(st, ":p", t->point);
	db_bind_text_kept(st, ":d", date);
	db_bind_int(st, ":at", now);
	db_bind_int(st, ":t", t->id);
	db_bind_text_kept(st, ":a", action);
	db_bind_text_kept(st, ":actor", actor);
	db_bind_text_kept(st, ":c", counter);
	db_bind_text_kept(st, ":detail", detail);
	db_bind_text_kept(st, ":h", hash);
	if (db_exec_static(st))
		return -1;
	next_seq = seq + 1;
	/* The chain's order is (date, seq): an event dated before the end (the clock was set
	 * back) does not become the end, as the query would not find it last either. */
	if (strcmp(date, end->date) >= 0) {
		copy(end->date, sizeof end->date, date);
		end->seq = seq;
		copy(end->hash, sizeof end->hash, hash);
	}
	if (seq_out)
		*seq_out = seq;
	return hooks_after(t, action, now);
}

/* Binds the key of a numbering row: :p, :s and :d. */
static void
bind_numbering(sqlite3_stmt *st, const char *point, const char *service, const char *date)
{
	db_bind_text_kept(st, ":p", point);
	db_bind_text_kept(st, ":s", service);
	db_bind_text_kept(st, ":d", date);
}

/* The numbering row of (point, service, day): 1 with its LAST and WALKINS, 0 if none, -1. */
static int
numbering_get(const char *point, const char *service, const char *date, int *last, int *walkins)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(&s, "SELECT last, walkins FROM numbering WHERE point = :p AND "
	                                 "service = :s AND date = :d");
	if (st == NULL)
		return -1;
	bind_numbering(st, point, service, date);
	int rc = db_step(st);
	if (rc == 1) {
		*last = sqlite3_column_int(st, 0);
		*walkins = sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * The next number of (point, service, day) in *SEQ; counts a walk-in too when WALKIN. (An
 * upsert with RETURNING would be one statement, but SQLite gathers RETURNING rows in a
 * temporary table each time; the row read back is on a page the upsert just touched.)
 */
static int
next_number(const char *point, const char *service, const char *date, int walkin, int *seq)
{
	static sqlite3_stmt *s;
	int walkins = 0;
	sqlite3_stmt *st = db_static(
	    &s, "INSERT INTO numbering (point, service, date, last, walkins) VALUES (:p, :s, :d, 1, "
	        ":w) ON CONFLICT DO UPDATE SET last = last + 1, walkins = walkins + :w");
	if (st == NULL)
		return -1;
	bind_numbering(st, point, service, date);
	db_bind_int(st, ":w", walkin ? 1 : 0);
	if (db_exec_static(st))
		return -1;
	return numbering_get(point, service, date, seq, &walkins) == 1 ? 0 : -1;
}

/* Walk-in tickets issued for (point, service, day), or -1. */
static int
walkins_issued(const char *point, const char *service, const char *date)
{
	int last = 0, walkins = 0;
	int rc = numbering_get(point, service, date, &last, &walkins);
	return rc < 0 ? -1 : rc ? walkins : 0;
}

/*
 * Ten characters of an alphabet without 0/O and 1/I: 50 bits from the OS's CSPRNG, drawn
 * 4 KiB at a time (one getrandom call serves 400 codes).
 */
static int
new_code(char out[17])
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	static unsigned char pool[4000];
	static size_t left;
	if (left < 10) {
		if (getrandom(pool, sizeof pool, 0) != (ssize_t)sizeof pool)
			return -1;
		left = sizeof pool;
	}
	for (int i = 0; i < 10; i++)
		out[i] = alphabet[pool[--left] & 31];
	memset(pool + left, 0, 10); /* a used byte is never kept */
	out[10] = 0;
	return 0;
}

static int
insert_ticket(struct ticket *t, const char *citizen_hash, const char *phone, const char *name)
{
	static sqlite3_stmt *s;
	char date[11], hhmm[6];
	sqlite3_stmt *st = db_static(
	    &s, "INSERT INTO ticket (code, kind, point, service, booked_service, date, seq, number, "
	        "start_min, end_min, status, priority, citizen_hash, citizen_last4, phone, name, "
	        "dossier_id, created_at, checkin_from, checkin_until, waiting_since, entitled_at) "
	        "VALUES (:code, :kind, :p, :s, :s, :d, :seq, :num, :start, :end, :st, :pri, :ch, "
	        ":l4, :phone, :name, :dossier, :now, :cf, :cu, :ws, :ent)");
	if (st == NULL)
		return -1;
	(void)hhmm;
	date_format(t->day, date);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (new_code(t->code))
			return -1;
		sqlite3_reset(st);
		db_bind_text_kept(st, ":code", t->code);
		db_bind_text_kept(st, ":kind", t->kind);
		db_bind_text_kept(st, ":p", t->point);
		db_bind_text_kept(st, ":s", t->service);
		db_bind_text_kept(st, ":d", date);
		db_bind_int(st, ":seq", t->seq);
		db_bind_text_kept(st, ":num", t->number);
		if (t->start >= 0) {
			db_bind_int(st, ":start", t->start);
			db_bind_int(st, ":end", t->end);
			db_bind_int(st, ":cf", t->checkin_from);
			db_bind_int(st, ":cu", t->checkin_until);
		}
		db_bind_text_kept(st, ":st", status_name(t->status));
		db_bind_text_kept(st, ":pri", t->priority[0] ? t->priority : NULL);
		db_bind_text_kept(st, ":ch", citizen_hash);
		db_bind_text_kept(st, ":l4", t->last4[0] ? t->last4 : NULL);
		db_bind_text_kept(st, ":phone", phone);
		db_bind_text_kept(st, ":name", name);
		db_bind_text_kept(st, ":dossier", t->dossier[0] ? t->dossier : NULL);
		db_bind_int(st, ":now", t->created_at);
		if (t->waiting_since) {
			db_bind_int(st, ":ws", t->waiting_since);
			db_bind_int(st, ":ent", t->entitled_at);
		}
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE) {
			t->id = sqlite3_last_insert_rowid(db_handle());
			return 0;
		}
		if (rc != SQLITE_CONSTRAINT_UNIQUE) {
			log_error("sqlite insert ticket: %s", sqlite3_errmsg(db_handle()));
			return -1;
		}
	}
	return -1;
}

/*
 * The rows of the citizen whose hash is :h, through the index ticket_citizen: it is keyed by
 * the hash's first 16 digits (sql/0003), and the whole hash tells apart citizens sharing them.
 * The unary + keeps SQLite from putting :h for citizen_hash into the prefix term (its constant
 * propagation), which would then no longer match the index and scan it whole.
 */
#define CITIZEN_IS_H                                                                       \
	"substr(citizen_hash, 1, 16) = substr(:h, 1, 16) AND citizen_hash IS NOT NULL AND " \
	"+citizen_hash = :h"

/* What a citizen's tickets say about booking SERVICE on DATE: see citizen_view. */
struct citizen {
	int all, same; /* active bookings: all of them, and those for SERVICE on DATE */
	int suspended; /* no-shows suspend booking now */
};

/*
 * Whether the citizen's no-shows suspend booking at NOW, given NEWEST, the latest no-show:
 * the newest `limit` no-shows lie within the window exactly when at least `limit` lie within
 * the window that ends at NEWEST. Asked only of a citizen who has a no-show at all.
 */
static int
strikes_suspend(const char *hash, int64_t newest, int64_t now)
{
	static sqlite3_stmt *s;
	int limit = cat->strikes_limit;
	if (limit <= 0 || now >= newest + (int64_t)cat->strikes_suspend_days * 86400)
		return 0;
	sqlite3_stmt *st = db_static(&s, "SELECT count(*) FROM ticket WHERE " CITIZEN_IS_H " AND "
	                                 "status = 'no_show' AND finished_at >= :since");
	if (st == NULL)
		return -1;
	db_bind_text_kept(st, ":h", hash);
	db_bind_int(st, ":since", newest - (int64_t)cat->strikes_window_days * 86400);
	int n = db_step(st) == 1 ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	return n < 0 ? -1 : n >= limit;
}

/*
 * The citizen's active bookings (SKIP: a ticket not to count, the one being moved) and their
 * latest no-show, in one pass over the citizen's rows. The status test is a chain of
 * comparisons: a `status IN (...)` would make SQLite build a temporary table of the list
 * for every booking.
 */
static int
citizen_view(const char *hash, const char *service, const char *date, int64_t skip,
             int64_t now, struct citizen *c)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "SELECT coalesce(sum(active), 0), coalesce(sum(active AND booked_service = :s AND "
	        "date = :d), 0), max(CASE WHEN status = 'no_show' THEN finished_at END) FROM (SELECT "
	        "kind = 'booking' AND id != :skip AND (status = 'booked' OR status = 'waiting' OR "
	        "status = 'called' OR status = 'parked') AS active, booked_service, date, status, "
	        "finished_at FROM ticket WHERE " CITIZEN_IS_H ")");
	if (st == NULL)
		return -1;
	db_bind_text_kept(st, ":h", hash);
	db_bind_text_kept(st, ":s", service);
	db_bind_text_kept(st, ":d", date);
	db_bind_int(st, ":skip", skip);
	int rc = db_step(st), noshow = 0;
	int64_t newest = 0;
	if (rc == 1) {
		c->all = sqlite3_column_int(st, 0);
		c->same = sqlite3_column_int(st, 1);
		noshow = sqlite3_column_type(st, 2) != SQLITE_NULL;
		newest = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != 1)
		return -1;
	c->suspended = noshow ? strikes_suspend(hash, newest, now) : 0;
	return c->suspended < 0 ? -1 : 0;
}

static int
slot_taken(const char *point, const char *service, const char *date, int start)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(&s, "SELECT booked FROM slot_count WHERE point = :p AND "
	                                 "service = :s AND date = :d AND start_min = :start");
	int n = -1, rc;
	if (st == NULL)
		return -1;
	db_bind_text_kept(st, ":p", point);
	db_bind_text_kept(st, ":s", service);
	db_bind_text_kept(st, ":d", date);
	db_bind_int(st, ":start", start);
	if ((rc = db_step(st)) >= 0)
		n = rc == 1 ? sqlite3_column_int(st, 0) : 0; /* no row: nobody holds it yet */
	sqlite3_reset(st);
	return n;
}

static void
set_window(struct ticket *t)
{
	t->checkin_from = local_instant(t->day, t->start, cat->utc_offset) -
	                  (int64_t)cat->checkin_open_minutes * 60;
	t->checkin_until = local_instant(t->day, t->end, cat->utc_offset) +
	                   (int64_t)cat->no_show_grace_minutes * 60;
}

static void
format_number(struct ticket *t, const char *prefix)
{
	snprintf(t->number, sizeof t->number, "%s%03d", prefix, t->seq);
}

static enum err
book(const struct booking_in *in, const char *actor, int64_t now, struct ticket *t)
{
	enum err e;
	char date[11];
	struct citizen c;
	int taken;
	date_format(in->day, date);
	if (citizen_view(in->citizen_hash, in->service->id, date, 0, now, &c))
		return E_UNAVAILABLE;
	if (c.suspended)
		return E_BOOKING_SUSPENDED;
	if (c.same > 0)
		return E_DUPLICATE_BOOKING;
	if (c.all >= cat->max_active)
		return E_TOO_MANY_BOOKINGS;
	if ((taken = slot_taken(in->point->id, in->service->id, date, in->start)) < 0)
		return E_UNAVAILABLE;
	if (taken >= in->service->slot_capacity)
		return E_SLOT_FULL;

	memset(t, 0, sizeof *t);
	copy(t->kind, sizeof t->kind, "booking");
	copy(t->point, sizeof t->point, in->point->id);
	copy(t->service, sizeof t->service, in->service->id);
	copy(t->booked_service, sizeof t->booked_service, in->service->id);
	copy(t->priority, sizeof t->priority, in->priority);
	copy(t->last4, sizeof t->last4, in->last4);
	copy(t->dossier, sizeof t->dossier, in->dossier);
	t->day = in->day;
	t->start = in->start;
	t->end = in->end;
	t->status = ST_BOOKED;
	t->created_at = now;
	set_window(t);
	if (next_number(t->point, t->service, date, 0, &t->seq))
		return E_UNAVAILABLE;
	format_number(t, in->service->prefix);
	if (insert_ticket(t, in->citizen_hash, in->phone, in->name) ||
	    event_add(t, "book", actor, NULL, NULL, now, cat->utc_offset, NULL))
		return E_UNAVAILABLE;
	if (in->idem_key) {
		char *answer = in->render(t);
		e = answer && store_idem_put(actor, in->idem_key, in->idem_hash, 201, answer, now) == 0
		        ? E_OK
		        : E_UNAVAILABLE;
		free(answer);
		return e;
	}
	return E_OK;
}

/* Runs one operation in a savepoint: kept when it answers E_OK, rolled back otherwise. */
#define IN_OP(call)                          \
	do {                                     \
		if (db_op_begin())                   \
			return E_UNAVAILABLE;            \
		enum err e_ = (call);                \
		db_op_end(e_ == E_OK);               \
		return e_;                           \
	} while (0)

enum err
store_book(const struct booking_in *in, const char *actor, int64_t now, struct ticket *out)
{
	IN_OP(book(in, actor, now, out));
}

static int
update_status(struct ticket *t, enum tstatus to)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "UPDATE ticket SET status = :st, service = :svc, counter = :c, calls = :calls, "
	        "called_at = :ca, first_called_at = :fca, finished_at = :fa, waiting_since = :ws, "
	        "entitled_at = :ent WHERE id = :id");
	if (st == NULL)
		return -1;
	t->status = to;
	db_bind_text_kept(st, ":st", status_name(to));
	db_bind_text_kept(st, ":svc", t->service);
	db_bind_text_kept(st, ":c", t->counter[0] ? t->counter : NULL);
	db_bind_int(st, ":calls", t->calls);
#define OPT(name, v) \
	if (v)           \
		db_bind_int(st, name, v);
	OPT(":ca", t->called_at)
	OPT(":fca", t->first_called_at)
	OPT(":fa", t->finished_at)
	OPT(":ws", t->waiting_since)
	OPT(":ent", t->entitled_at)
#undef OPT
	db_bind_int(st, ":id", t->id);
	return db_exec_static(st);
}

static enum err
cancel(const char *code, const char *actor, int64_t now, struct ticket *t)
{
	enum tstatus to;
	enum err e = store_ticket(code, t);
	if (e != E_OK)
		return e;
	if (strcmp(t->kind, "booking") != 0 || !queue_transition(t->status, A_CANCEL, &to))
		return E_INVALID_STATE;
	t->finished_at = now;
	if (update_status(t, to) || event_add(t, "cancel", actor, NULL, NULL, now, cat->utc_offset, NULL))
		return E_UNAVAILABLE;
	return E_OK;
}

enum err
store_cancel(const char *code, const char *actor, int64_t now, struct ticket *out)
{
	IN_OP(cancel(code, actor, now, out));
}

static enum err
reschedule(const char *code, const struct service *s, int day, int start, int end,
           const char *actor, int64_t now, struct ticket *t)
{
	static sqlite3_stmt *su;
	enum tstatus to;
	char date[11], detail[32], hhmm[6];
	int taken;
	enum err e = store_ticket(code, t);
	if (e != E_OK)
		return e;
	if (strcmp(t->kind, "booking") != 0 || !queue_transition(t->status, A_RESCHEDULE, &to))
		return E_INVALID_STATE;
	if (t->day == day && t->start == start)
		return E_OK;
	date_format(day, date);
	if (t->day != day) {
		/* The hash is not kept in struct ticket: read it for the checks. */
		static sqlite3_stmt *sh;
		sqlite3_stmt *st = db_static(&sh, "SELECT citizen_hash FROM ticket WHERE id = :id");
		char hash[65] = "";
		if (st == NULL)
			return E_UNAVAILABLE;
		db_bind_int(st, ":id", t->id);
		if (db_step(st) == 1)
			copy(hash, sizeof hash, db_col_text(st, 0));
		sqlite3_reset(st);
		if (hash[0]) {
			struct citizen c;
			if (citizen_view(hash, t->booked_service, date, t->id, now, &c))
				return E_UNAVAILABLE;
			if (c.same > 0)
				return E_DUPLICATE_BOOKING;
		}
	}
	if ((taken = slot_taken(t->point, t->booked_service, date, start)) < 0)
		return E_UNAVAILABLE;
	if (taken >= s->slot_capacity)
		return E_SLOT_FULL;
	if (t->day != day) {
		if (next_number(t->point, t->booked_service, date, 0, &t->seq))
			return E_UNAVAILABLE;
		format_number(t, s->prefix);
	}
	t->day = day;
	t->start = start;
	t->end = end;
	set_window(t);
	sqlite3_stmt *st = db_static(
	    &su, "UPDATE ticket SET date = :d, seq = :seq, number = :num, start_min = :start, "
	         "end_min = :end, checkin_from = :cf, checkin_until = :cu WHERE id = :id");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_text(st, ":d", date);
	db_bind_int(st, ":seq", t->seq);
	db_bind_text(st, ":num", t->number);
	db_bind_int(st, ":start", start);
	db_bind_int(st, ":end", end);
	db_bind_int(st, ":cf", t->checkin_from);
	db_bind_int(st, ":cu", t->checkin_until);
	db_bind_int(st, ":id", t->id);
	hhmm_format(start, hhmm);
	snprintf(detail, sizeof detail, "%s %s", date, hhmm);
	if (db_exec_static(st) ||
	    event_add(t, "reschedule", actor, NULL, detail, now, cat->utc_offset, NULL))
		return E_UNAVAILABLE;
	return E_OK;
}

enum err
store_reschedule(const char *code, const struct service *s, int day, int start, int end,
                 const char *actor, int64_t now, struct ticket *out)
{
	IN_OP(reschedule(code, s, day, start, end, actor, now, out));
}

static int
each_ticket(sqlite3_stmt *st, ticket_fn fn, void *arg)
{
	struct ticket t;
	int rc;
	if (st == NULL)
		return -1;
	while ((rc = db_step(st)) == 1) {
		row_ticket(st, &t);
		if (fn(&t, arg))
			break;
	}
	sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}

int
store_citizen_bookings(const char *citizen_hash, int from_day, ticket_fn fn, void *arg)
{
	static sqlite3_stmt *s;
	char date[11];
	sqlite3_stmt *st = db_static(&s, "SELECT " TICKET_COLS " FROM ticket WHERE " CITIZEN_IS_H " "
	                                 "AND date >= :d AND kind = 'booking' "
	                                 "ORDER BY date, start_min, id");
	if (st == NULL)
		return -1;
	date_format(from_day, date);
	db_bind_text(st, ":h", citizen_hash);
	db_bind_text(st, ":d", date);
	return each_ticket(st, fn, arg);
}

int
store_day_tickets(const char *point, int day, ticket_fn fn, void *arg)
{
	static sqlite3_stmt *s;
	char date[11];
	/* Number order: by prefix (the service's letters), then by sequence. */
	sqlite3_stmt *st = db_static(&s, "SELECT " TICKET_COLS " FROM ticket WHERE point = :p AND "
	                                 "date = :d ORDER BY rtrim(number, '0123456789'), seq, id");
	if (st == NULL)
		return -1;
	date_format(day, date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	return each_ticket(st, fn, arg);
}

int
store_slot_counts_between(const char *point, const char *service, int first, int last,
                           slot_count_fn fn, void *arg)
{
	static sqlite3_stmt *s;
	char from[11], to[11];
	sqlite3_stmt *st = db_static(
	    &s, "SELECT date, start_min, booked FROM slot_count WHERE point = :p AND service = :s AND "
	        "date BETWEEN :from AND :to ORDER BY date, start_min");
	int rc, day;
	if (st == NULL)
		return -1;
	date_format(first, from);
	date_format(last, to);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":s", service);
	db_bind_text(st, ":from", from);
	db_bind_text(st, ":to", to);
	while ((rc = db_step(st)) == 1)
		if (date_parse(db_col_text(st, 0), &day) == 0)
			fn(arg, day, sqlite3_column_int(st, 1), sqlite3_column_int(st, 2));
	sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}

int
store_idem_get(const char *client, const char *key, int64_t since, char hash[65], int *status,
               char **response)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(&s, "SELECT body_hash, status, response FROM idempotency WHERE "
	                                 "client = :c AND key = :k AND created_at > :since");
	int rc;
	if (st == NULL)
		return -1;
	db_bind_text(st, ":c", client);
	db_bind_text(st, ":k", key);
	db_bind_int(st, ":since", since);
	rc = db_step(st);
	if (rc == 1) {
		copy(hash, 65, db_col_text(st, 0));
		*status = sqlite3_column_int(st, 1);
		*response = strdup(db_col_text(st, 2));
		if (*response == NULL)
			rc = -1;
	}
	sqlite3_reset(st);
	return rc;
}

int
store_idem_put(const char *client, const char *key, const char *hash, int status,
               const char *response, int64_t now)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "INSERT OR REPLACE INTO idempotency (client, key, body_hash, status, response, "
	        "created_at) VALUES (:c, :k, :h, :st, :r, :now)");
	if (st == NULL)
		return -1;
	db_bind_text(st, ":c", client);
	db_bind_text(st, ":k", key);
	db_bind_text(st, ":h", hash);
	db_bind_int(st, ":st", status);
	db_bind_text(st, ":r", response);
	db_bind_int(st, ":now", now);
	return db_exec_static(st);
}

/* ---- the queue ---- */

int
store_counter(const char *counter, struct counter_view *out)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "SELECT state = 'open', coalesce(ticket, 0), streak FROM counter_state WHERE counter = :c");
	int rc;
	*out = (struct counter_view){1, 0, 0};
	if (st == NULL)
		return -1;
	db_bind_text(st, ":c", counter);
	if ((rc = db_step(st)) == 1) {
		out->open = sqlite3_column_int(st, 0);
		out->ticket = sqlite3_column_int64(st, 1);
		out->streak = sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}

static int
counter_save(const char *counter, const struct counter_view *v)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "INSERT INTO counter_state (counter, state, ticket, streak) VALUES (:c, :st, :t, :k) "
	        "ON CONFLICT DO UPDATE SET state = excluded.state, ticket = excluded.ticket, "
	        "streak = excluded.streak");
	if (st == NULL)
		return -1;
	db_bind_text(st, ":c", counter);
	db_bind_text(st, ":st", v->open ? "open" : "paused");
	if (v->ticket)
		db_bind_int(st, ":t", v->ticket);
	db_bind_int(st, ":k", v->streak);
	return db_exec_static(st);
}

static enum err
set_open(const struct counter *k, int open)
{
	struct counter_view v;
	if (store_counter(k->id, &v))
		return E_UNAVAILABLE;
	v.open = open;
	return counter_save(k->id, &v) ? E_UNAVAILABLE : E_OK;
}

enum err
store_counter_set_open(const struct counter *k, int open, const char *actor, int64_t now)
{
	(void)actor, (void)now;
	IN_OP(set_open(k, open));
}

int
store_open_counters(const struct point *p, const char *service)
{
	int n = 0;
	struct counter_view v;
	for (int i = 0; i < p->ncounters; i++)
		if (counter_serves(&p->counters[i], service) && store_counter(p->counters[i].id, &v) == 0 &&
		    v.open)
			n++;
	return n;
}

static enum err
checkin(const struct point *p, const char *code, const char *actor, int64_t now, struct ticket *t)
{
	enum tstatus to;
	enum err e = store_ticket(code, t);
	if (e != E_OK)
		return e;
	if (strcmp(t->point, p->id) != 0)
		return E_WRONG_POINT;
	if (strcmp(t->kind, "booking") != 0)
		return E_INVALID_STATE;
	if (t->status == ST_BOOKED || t->status == ST_EXPIRED) {
		if (now < t->checkin_from)
			return E_CHECKIN_NOT_OPEN;
		if (now > t->checkin_until)
			return E_CHECKIN_CLOSED;
	}
	if (!queue_transition(t->status, A_CHECKIN, &to))
		return E_INVALID_STATE;
	int64_t start = local_instant(t->day, t->start, cat->utc_offset);
	t->waiting_since = now;
	t->entitled_at = now > start ? now : start;
	if (update_status(t, to) || event_add(t, "checkin", actor, NULL, NULL, now, cat->utc_offset, NULL))
		return E_UNAVAILABLE;
	return E_OK;
}

enum err
store_checkin(const struct point *p, const char *code, const char *actor, int64_t now,
              struct ticket *out)
{
	IN_OP(checkin(p, code, actor, now, out));
}

static enum err
walkin(const struct point *p, const struct service *s, const char *priority, const char *phone,
       const char *actor, int64_t now, struct ticket *t)
{
	char date[11];
	int day = local_day(now, cat->utc_offset), issued;
	date_format(day, date);
	if ((issued = walkins_issued(p->id, s->id, date)) < 0)
		return E_UNAVAILABLE;
	if (issued >= s->walkin_daily_limit)
		return E_DAILY_LIMIT_REACHED;
	memset(t, 0, sizeof *t);
	copy(t->kind, sizeof t->kind, "walkin");
	copy(t->point, sizeof t->point, p->id);
	copy(t->service, sizeof t->service, s->id);
	copy(t->booked_service, sizeof t->booked_service, s->id);
	copy(t->priority, sizeof t->priority, priority);
	t->day = day;
	t->start = t->end = -1;
	t->status = ST_WAITING;
	t->created_at = t->waiting_since = t->entitled_at = now;
	if (next_number(p->id, s->id, date, 1, &t->seq))
		return E_UNAVAILABLE;
	format_number(t, s->prefix);
	if (insert_ticket(t, NULL, phone, NULL) ||
	    event_add(t, "issue", actor, NULL, NULL, now, cat->utc_offset, NULL))
		return E_UNAVAILABLE;
	return E_OK;
}

enum err
store_walkin(const struct point *p, const struct service *s, const char *priority,
             const char *phone, const char *actor, int64_t now, struct ticket *out)
{
	IN_OP(walkin(p, s, priority, phone, actor, now, out));
}

/* Loads the waiting tickets of POINT on DAY into *V (malloc'd); FILTER picks services. */
static int
load_waiting(const char *point, int day, int (*filter)(const char *service, const void *arg),
             const void *arg, struct qitem **v, char (**numbers)[16])
{
	static sqlite3_stmt *s;
	char date[11];
	int n = 0, cap = 0, rc;
	sqlite3_stmt *st = db_static(&s, "SELECT id, priority IS NOT NULL, entitled_at, seq, number, "
	                                 "service FROM ticket WHERE point = :p AND date = :d AND "
	                                 "status = 'waiting'");
	*v = NULL;
	*numbers = NULL;
	if (st == NULL)
		return -1;
	date_format(day, date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	while ((rc = db_step(st)) == 1) {
		if (!filter(db_col_text(st, 5), arg))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct qitem *nv = realloc(*v, cap * sizeof **v);
			char(*nn)[16] = realloc(*numbers, cap * sizeof **numbers);
			if (nv)
				*v = nv;
			if (nn)
				*numbers = nn;
			if (!nv || !nn) {
				rc = -1;
				break;
			}
		}
		struct qitem *q = &(*v)[n];
		q->id = sqlite3_column_int64(st, 0);
		q->priority = sqlite3_column_int(st, 1);
		q->entitled_at = sqlite3_column_int64(st, 2);
		q->seq = sqlite3_column_int(st, 3);
		copy((*numbers)[n], 16, db_col_text(st, 4));
		n++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++)
		(*v)[i].number = (*numbers)[i];
	if (rc < 0) {
		free(*v);
		free(*numbers);
		*v = NULL;
		*numbers = NULL;
		return -1;
	}
	return n;
}

static int
same_service(const char *service, const void *arg)
{
	return arg == NULL || strcmp(service, arg) == 0;
}

/* Announces T at counter K: a call (RECALL 0) or a recall, as a display event. */
static enum err
announce(const struct counter *k, struct ticket *t, int recall, const char *actor, int64_t now)
{
	int64_t seq;
	if (update_status(t, ST_CALLED) ||
	    event_add(t, recall ? "recall" : "call", actor, k->id, t->service, now, cat->utc_offset,
	              &seq) ||
	    events_call_written(t->point, seq)) /* unknown to the displays: refused whole */
		return E_UNAVAILABLE;
	return E_OK;
}

static enum err
call_ticket(const struct counter *k, struct counter_view *v, struct ticket *t, const char *actor,
            int64_t now)
{
	copy(t->counter, sizeof t->counter, k->id);
	t->calls = 1;
	t->called_at = now;
	if (t->first_called_at == 0)
		t->first_called_at = now;
	v->ticket = t->id;
	v->streak = t->priority[0] ? v->streak + 1 : 0;
	if (counter_save(k->id, v))
		return E_UNAVAILABLE;
	return announce(k, t, 0, actor, now);
}

/* A counter may call when it is open and has no ticket called. */
static enum err
counter_ready(const struct counter *k, struct counter_view *v)
{
	struct ticket cur;
	if (store_counter(k->id, v))
		return E_UNAVAILABLE;
	if (!v->open)
		return E_INVALID_STATE;
	if (v->ticket && store_ticket_by_id(v->ticket, &cur) == 0 && cur.status == ST_CALLED)
		return E_INVALID_STATE;
	return E_OK;
}

/*
 * The first waiting ticket of SERVICE in call order (PLAIN: the first without priority), read
 * from the start of its range of the ticket_queue index. 1 when found.
 */
static int
queue_head(const char *point, const char *date, const char *service, int plain, struct qitem *q,
           char number[16])
{
	static sqlite3_stmt *s_any, *s_plain;
	sqlite3_stmt *st =
	    plain ? db_static(&s_plain, "SELECT id, 0, entitled_at, seq, number FROM ticket "
	                                "WHERE point = :p AND date = :d AND status = 'waiting' AND "
	                                "service = :s AND priority IS NULL ORDER BY priority IS NULL, "
	                                "entitled_at, seq, number LIMIT 1")
	          : db_static(&s_any, "SELECT id, priority IS NOT NULL, entitled_at, seq, number FROM "
	                              "ticket WHERE point = :p AND date = :d AND status = 'waiting' AND "
	                              "service = :s ORDER BY priority IS NULL, entitled_at, seq, number "
	                              "LIMIT 1");
	int rc;
	if (st == NULL)
		return -1;
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	db_bind_text(st, ":s", service);
	if ((rc = db_step(st)) == 1) {
		q->id = sqlite3_column_int64(st, 0);
		q->priority = sqlite3_column_int(st, 1);
		q->entitled_at = sqlite3_column_int64(st, 2);
		q->seq = sqlite3_column_int(st, 3);
		copy(number, 16, db_col_text(st, 4));
		q->number = number;
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * The counter's next ticket. The call order over all its services' waiting tickets picks
 * either the first ticket overall or the first without priority (fairness), so the heads of
 * each service's queue, both kinds, are all the pure queue_pick needs to see.
 */
static enum err
call_next(const struct counter *k, const char *actor, int64_t now, struct ticket *t)
{
	struct counter_view v;
	struct qitem heads[2 * 64];
	char numbers[2 * 64][16], date[11];
	int n = 0;
	enum err e = counter_ready(k, &v);
	if (e != E_OK)
		return e;
	date_format(local_day(now, cat->utc_offset), date);
	for (int i = 0; i < k->nservices && n + 2 <= (int)(sizeof heads / sizeof *heads); i++)
		for (int plain = 0; plain < 2; plain++) {
			int rc = queue_head(k->point->id, date, k->services[i]->id, plain, &heads[n], numbers[n]);
			if (rc < 0)
				return E_UNAVAILABLE;
			n += rc;
		}
	int i = queue_pick(heads, n, v.streak, cat->priority_streak_max);
	memset(t, 0, sizeof *t);
	if (i < 0)
		return E_OK;
	if (store_ticket_by_id(heads[i].id, t))
		return E_UNAVAILABLE;
	return call_ticket(k, &v, t, actor, now);
}

enum err
store_call_next(const struct counter *k, const char *actor, int64_t now, struct ticket *out)
{
	IN_OP(call_next(k, actor, now, out));
}

static enum err
call_code(const struct counter *k, const char *code, const char *actor, int64_t now,
          struct ticket *t)
{
	struct counter_view v;
	enum tstatus to;
	enum err e = store_ticket(code, t);
	if (e != E_OK)
		return e;
	if (strcmp(t->point, k->point->id) != 0)
		return E_NOT_FOUND;
	if ((e = counter_ready(k, &v)) != E_OK)
		return e;
	/* A counter serves only its own services, in order or out of it. */
	if (t->day != local_day(now, cat->utc_offset) || !counter_serves(k, t->service) ||
	    !queue_transition(t->status, A_CALL, &to))
		return E_INVALID_STATE;
	return call_ticket(k, &v, t, actor, now);
}

enum err
store_call_code(const struct counter *k, const char *code, const char *actor, int64_t now,
                struct ticket *out)
{
	IN_OP(call_code(k, code, actor, now, out));
}

/* The counter's called ticket, or E_INVALID_STATE when it has none. */
static enum err
current(const struct counter *k, struct counter_view *v, struct ticket *t)
{
	if (store_counter(k->id, v))
		return E_UNAVAILABLE;
	if (v->ticket == 0 || store_ticket_by_id(v->ticket, t) || t->status != ST_CALLED)
		return E_INVALID_STATE;
	return E_OK;
}

static enum err
recall(const struct counter *k, const char *actor, int64_t now, struct ticket *t)
{
	struct counter_view v;
	enum err e = current(k, &v, t);
	if (e != E_OK)
		return e;
	if (t->calls >= cat->max_calls)
		return E_INVALID_STATE;
	t->calls++;
	t->called_at = now;
	return announce(k, t, 1, actor, now);
}

enum err
store_recall(const struct counter *k, const char *actor, int64_t now, struct ticket *out)
{
	IN_OP(recall(k, actor, now, out));
}

static enum err
finish(const struct counter *k, enum tstatus to, const char *actor, int64_t now, struct ticket *t)
{
	static const struct {
		enum tstatus to;
		enum action a;
		const char *name;
	} ends[] = {{ST_SERVED, A_COMPLETE, "complete"}, {ST_NO_SHOW, A_NO_SHOW, "no_show"},
	            {ST_PARKED, A_PARK, "park"}};
	struct counter_view v;
	enum tstatus next;
	enum err e = current(k, &v, t);
	if (e != E_OK)
		return e;
	for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
		if (ends[i].to != to)
			continue;
		if (!queue_transition(t->status, ends[i].a, &next))
			return E_INVALID_STATE;
		if (to != ST_PARKED)
			t->finished_at = now;
		v.ticket = 0;
		if (update_status(t, next) || counter_save(k->id, &v) ||
		    event_add(t, ends[i].name, actor, k->id, NULL, now, cat->utc_offset, NULL))
			return E_UNAVAILABLE;
		return E_OK;
	}
	return E_INVALID_STATE;
}

enum err
store_finish(const struct counter *k, enum tstatus to, const char *actor, int64_t now,
             struct ticket *out)
{
	IN_OP(finish(k, to, actor, now, out));
}

static enum err
transfer(const struct counter *k, const struct service *to, const char *actor, int64_t now,
         struct ticket *t)
{
	struct counter_view v;
	enum tstatus next;
	enum err e = current(k, &v, t);
	if (e != E_OK)
		return e;
	if (!queue_transition(t->status, A_TRANSFER, &next))
		return E_INVALID_STATE;
	copy(t->service, sizeof t->service, to->id);
	t->counter[0] = 0;
	v.ticket = 0;
	if (update_status(t, next) || counter_save(k->id, &v) ||
	    event_add(t, "transfer", actor, k->id, to->id, now, cat->utc_offset, NULL))
		return E_UNAVAILABLE;
	return E_OK;
}

enum err
store_transfer(const struct counter *k, const struct service *to, const char *actor, int64_t now,
               struct ticket *out)
{
	IN_OP(transfer(k, to, actor, now, out));
}

int
store_queue(const struct point *p, const char *service, int day, ticket_fn fn, void *arg)
{
	struct qitem *items;
	char(*numbers)[16];
	struct ticket t;
	int n = load_waiting(p->id, day, same_service, service, &items, &numbers);
	if (n < 0)
		return -1;
	queue_sort(items, n);
	for (int i = 0; i < n; i++)
		if (store_ticket_by_id(items[i].id, &t) == 0 && fn(&t, arg))
			break;
	free(items);
	free(numbers);
	return 0;
}

int
store_position(const struct ticket *t)
{
	static sqlite3_stmt *s;
	char date[11];
	int pos = 0;
	if (t->status != ST_WAITING)
		return 0;
	/* How many of its queue come before it in call order, counted along the index. */
	sqlite3_stmt *st = db_static(
	    &s, "SELECT count(*) FROM ticket WHERE point = :p AND date = :d AND status = 'waiting' "
	        "AND service = :s AND (priority IS NULL, entitled_at, seq, number) < "
	        "(:pn, :e, :seq, :num)");
	if (st == NULL)
		return 0;
	date_format(t->day, date);
	db_bind_text(st, ":p", t->point);
	db_bind_text(st, ":d", date);
	db_bind_text(st, ":s", t->service);
	db_bind_int(st, ":pn", t->priority[0] == 0);
	db_bind_int(st, ":e", t->entitled_at);
	db_bind_int(st, ":seq", t->seq);
	db_bind_text(st, ":num", t->number);
	if (db_step(st) == 1)
		pos = sqlite3_column_int(st, 0) + 1;
	sqlite3_reset(st);
	return pos;
}

int
store_waiting_count(const char *point, const char *service, int day)
{
	static sqlite3_stmt *s;
	char date[11];
	int n = 0;
	sqlite3_stmt *st = db_static(&s, "SELECT count(*) FROM ticket WHERE point = :p AND date = :d "
	                                 "AND status = 'waiting' AND service = :s");
	if (st == NULL)
		return 0;
	date_format(day, date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	db_bind_text(st, ":s", service);
	if (db_step(st) == 1)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n;
}

/* ---- deadlines ---- */

static enum err
expire_due(int64_t now, int offset, int *count)
{
	static sqlite3_stmt *s;
	char today[11];
	struct ticket t;
	int64_t ids[256];
	int n = 0, rc;
	date_format(local_day(now, offset), today);
	/* A ticket called and never finished is one a counter still holds: see release_counters. */
	sqlite3_stmt *st = db_static(
	    &s, "SELECT id FROM ticket WHERE status = 'booked' AND checkin_until < :now UNION ALL "
	        "SELECT id FROM ticket WHERE status IN ('waiting', 'parked') AND date < :today "
	        "UNION ALL SELECT t.id FROM counter_state c JOIN ticket t ON t.id = c.ticket WHERE "
	        "t.status = 'called' AND t.date < :today LIMIT 256");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_int(st, ":now", now);
	db_bind_text(st, ":today", today);
	while ((rc = db_step(st)) == 1)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc < 0)
		return E_UNAVAILABLE;
	for (int i = 0; i < n; i++) {
		if (store_ticket_by_id(ids[i], &t))
			return E_UNAVAILABLE;
		t.finished_at = now;
		if (update_status(&t, ST_EXPIRED) ||
		    event_add(&t, "expire", "system", NULL, NULL, now, offset, NULL))
			return E_UNAVAILABLE;
	}
	*count = n;
	return E_OK;
}

/*
 * A counter still holding a ticket called on an earlier day lets it go when the day is over:
 * otherwise it could call nobody the next morning, and the hall would show yesterday's number
 * (which today's numbering gives out again). expire_due has expired the ticket by then, as a
 * ticket still waiting at the end of its date: left `called`, it would stay one of the
 * citizen's active bookings for ever, and no_show would count against the citizen for the
 * counter's omission.
 */
static enum err
release_counters(const char *today)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "UPDATE counter_state SET ticket = NULL WHERE ticket IS NOT NULL AND "
	        "(SELECT date FROM ticket WHERE id = counter_state.ticket) < :today");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_text(st, ":today", today);
	return db_exec_static(st) ? E_UNAVAILABLE : E_OK;
}

/* What is kept for a while only: idempotency keys 24 hours, finished webhook deliveries a week. */
static enum err
forget_old(int64_t now)
{
	static sqlite3_stmt *s, *s_hooks;
	sqlite3_stmt *st = db_static(&s, "DELETE FROM idempotency WHERE created_at <= :before");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_int(st, ":before", now - 86400);
	if (db_exec_static(st))
		return E_UNAVAILABLE;
	/* Finished webhook deliveries are kept a week, for an operator asking what was sent. */
	st = db_static(&s_hooks, "DELETE FROM delivery WHERE done_at <= :before");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_int(st, ":before", now - 7 * 86400);
	return db_exec_static(st) ? E_UNAVAILABLE : E_OK;
}

/* Expires in batches of 256, each batch its own savepoint; returns how many expired or -1. */
int
store_expire_due(int64_t now, int offset_min)
{
	int total = 0, n;
	char today[11];
	date_format(local_day(now, offset_min), today);
	if (db_op_begin())
		return -1;
	enum err f = forget_old(now);
	db_op_end(f == E_OK);
	do {
		n = 0;
		if (db_op_begin())
			return -1;
		enum err e = expire_due(now, offset_min, &n);
		db_op_end(e == E_OK);
		if (e != E_OK)
			return -1;
		total += n;
	} while (n == 256);
	if (db_op_begin())
		return -1;
	f = release_counters(today);
	db_op_end(f == E_OK);
	return f == E_OK ? total : -1;
}

int64_t
store_next_deadline(int64_t now, int offset_min)
{
	static sqlite3_stmt *s;
	int64_t next = local_instant(local_day(now, offset_min) + 1, 0, offset_min);
	sqlite3_stmt *st = db_static(&s, "SELECT min(checkin_until) FROM ticket WHERE status = 'booked'");
	if (st && db_step(st) == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		/* A booking expires once now is past checkin_until. */
		int64_t due = sqlite3_column_int64(st, 0) + 1;
		if (due < next)
			next = due;
	}
	if (st)
		sqlite3_reset(st);
	return next;
}

/* ---- feedback ---- */

static enum err
feedback(const char *code, int rating, const char *comment, int64_t now)
{
	static sqlite3_stmt *s;
	struct ticket t;
	enum err e = store_ticket(code, &t);
	if (e != E_OK)
		return e;
	if (t.status != ST_SERVED)
		return E_INVALID_STATE;
	sqlite3_stmt *st = db_static(&s, "INSERT INTO feedback (ticket, rating, comment, at) VALUES "
	                                 "(:t, :r, :c, :at) ON CONFLICT DO NOTHING");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_int(st, ":t", t.id);
	db_bind_int(st, ":r", rating);
	db_bind_text(st, ":c", comment);
	db_bind_int(st, ":at", now);
	if (db_exec_static(st))
		return E_UNAVAILABLE;
	return sqlite3_changes(db_handle()) == 1 ? E_OK : E_INVALID_STATE;
}

enum err
store_feedback(const char *code, int rating, const char *comment, int64_t now)
{
	IN_OP(feedback(code, rating, comment, now));
}

/* ---- webhook deliveries ---- */

int
store_delivery_add(int64_t id, const char *url, const char *event, int64_t ticket,
                   const char *body, const char *signature, int64_t now)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "INSERT INTO delivery (id, url, event, ticket, body, signature, created_at, next_at) "
	        "VALUES (:id, :url, :ev, :t, :body, :sig, :now, :now)");
	if (st == NULL)
		return -1;
	db_bind_int(st, ":id", id);
	db_bind_text_kept(st, ":url", url);
	db_bind_text_kept(st, ":ev", event);
	db_bind_int(st, ":t", ticket);
	db_bind_text_kept(st, ":body", body);
	db_bind_text_kept(st, ":sig", signature);
	db_bind_int(st, ":now", now);
	return db_exec_static(st);
}

int64_t
store_delivery_last_id(void)
{
	static sqlite3_stmt *s;
	int64_t id = -1;
	sqlite3_stmt *st = db_static(&s, "SELECT coalesce(max(id), 0) FROM delivery");
	if (st && db_step(st) == 1)
		id = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return id;
}

/* The pending deliveries F lets be sent (see struct delivery_filter). */
#define DELIVERY_SENDABLE                                                                  \
	"done_at IS NULL AND id <= :upto AND id NOT IN (:s0, :s1, :s2, :s3, :s4, :s5, :s6, :s7) " \
	"AND url NOT IN (:u0, :u1, :u2, :u3)"

static void
bind_sendable(sqlite3_stmt *st, const struct delivery_filter *f)
{
	static const char *const ids[DELIVERY_SKIP] = {":s0", ":s1", ":s2", ":s3",
	                                               ":s4", ":s5", ":s6", ":s7"};
	static const char *const urls[DELIVERY_BUSY] = {":u0", ":u1", ":u2", ":u3"};
	db_bind_int(st, ":upto", f->upto);
	for (int i = 0; i < DELIVERY_SKIP; i++)
		db_bind_int(st, ids[i], f->skip[i]);
	for (int i = 0; i < DELIVERY_BUSY; i++) /* "", not NULL: NOT IN a list with NULL is NULL */
		db_bind_text_kept(st, urls[i], f->busy[i] ? f->busy[i] : "");
}

int
store_deliveries_due(int64_t now, const struct delivery_filter *f, int max, delivery_fn fn,
                     void *arg)
{
	static sqlite3_stmt *s;
	struct delivery d;
	int rc;
	sqlite3_stmt *st = db_static(
	    &s, "SELECT id, url, event, body, signature, created_at, attempts FROM delivery WHERE "
	        "next_at <= :now AND " DELIVERY_SENDABLE " ORDER BY next_at, id LIMIT :max");
	if (st == NULL)
		return -1;
	db_bind_int(st, ":now", now);
	bind_sendable(st, f);
	db_bind_int(st, ":max", max);
	while ((rc = db_step(st)) == 1) {
		d.id = sqlite3_column_int64(st, 0);
		d.url = db_col_text(st, 1);
		d.event = db_col_text(st, 2);
		d.body = db_col_text(st, 3);
		d.signature = db_col_text(st, 4);
		d.created_at = sqlite3_column_int64(st, 5);
		d.attempts = sqlite3_column_int(st, 6);
		if (fn(&d, arg))
			break;
	}
	sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}

int64_t
store_delivery_next(const struct delivery_filter *f)
{
	static sqlite3_stmt *s;
	int64_t next = 0;
	sqlite3_stmt *st =
	    db_static(&s, "SELECT min(next_at) FROM delivery WHERE " DELIVERY_SENDABLE);
	if (st == NULL)
		return 0;
	bind_sendable(st, f);
	if (db_step(st) == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL)
		next = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return next;
}

int
store_deliveries_pending(void)
{
	static sqlite3_stmt *s;
	int n = -1;
	sqlite3_stmt *st = db_static(&s, "SELECT count(*) FROM delivery WHERE done_at IS NULL");
	if (st && db_step(st) == 1)
		n = sqlite3_column_int(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

static enum err
delivery_set(int64_t id, int attempts, int64_t next_at, int status, const char *outcome,
             int64_t done_at)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "UPDATE delivery SET attempts = :a, next_at = :next, last_status = :st, "
	        "outcome = :out, done_at = :done WHERE id = :id");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_int(st, ":a", attempts);
	db_bind_int(st, ":next", next_at);
	db_bind_int(st, ":st", status);
	db_bind_text_kept(st, ":out", outcome);
	if (done_at)
		db_bind_int(st, ":done", done_at);
	db_bind_int(st, ":id", id);
	return db_exec_static(st) ? E_UNAVAILABLE : E_OK;
}

int
store_delivery_set(int64_t id, int attempts, int64_t next_at, int status, const char *outcome,
                   int64_t done_at)
{
	if (db_op_begin())
		return -1;
	enum err e = delivery_set(id, attempts, next_at, status, outcome, done_at);
	db_op_end(e == E_OK);
	return e == E_OK ? 0 : -1;
}

static enum err
deliveries_due_now(int64_t now)
{
	static sqlite3_stmt *s;
	sqlite3_stmt *st = db_static(
	    &s, "UPDATE delivery SET next_at = :now WHERE done_at IS NULL AND next_at > :now");
	if (st == NULL)
		return E_UNAVAILABLE;
	db_bind_int(st, ":now", now);
	return db_exec_static(st) ? E_UNAVAILABLE : E_OK;
}

int
store_deliveries_due_now(int64_t now)
{
	if (db_op_begin())
		return -1;
	enum err e = deliveries_due_now(now);
	db_op_end(e == E_OK);
	return e == E_OK ? 0 : -1;
}
