/* store.h: storage, one function per business operation (SQLite implementation). */
#ifndef HANGDOI_STORE_H
#define HANGDOI_STORE_H

#include <stdint.h>

#include "config.h"
#include "reply.h"

enum tstatus {
	ST_BOOKED,
	ST_WAITING,
	ST_CALLED,
	ST_SERVED,
	ST_NO_SHOW,
	ST_PARKED,
	ST_CANCELLED,
	ST_EXPIRED,
	ST__MAX
};
const char *status_name(enum tstatus s);

struct ticket {
	int64_t id;
	char code[17], kind[8], point[ID_MAX + 1], service[ID_MAX + 1], booked_service[ID_MAX + 1];
	char number[16], priority[16], last4[5], dossier[65], counter[ID_MAX + 1];
	int day, seq, start, end; /* start, end: -1 for a walk-in */
	enum tstatus status;
	int calls;
	int64_t created_at, checkin_from, checkin_until, waiting_since, entitled_at;
	int64_t called_at, first_called_at, finished_at; /* 0 = null */
};

/* A booking to make: the caller has checked the calendar (slot exists, in horizon, not passed). */
struct booking_in {
	const struct point *point;
	const struct service *service;
	int day, start, end;
	const char *citizen_hash, *last4, *phone, *name, *priority, *dossier;
	/* With an Idempotency-Key, the answer RENDER makes (malloc'd) is kept with the booking. */
	const char *idem_key, *idem_hash;
	char *(*render)(const struct ticket *t);
};

enum err store_book(const struct booking_in *in, const char *actor, int64_t now,
                    struct ticket *out);
enum err store_cancel(const char *code, const char *actor, int64_t now, struct ticket *out);
enum err store_reschedule(const char *code, const struct service *s, int day, int start, int end,
                          const char *actor, int64_t now, struct ticket *out);
enum err store_ticket(const char *code, struct ticket *out);
int store_ticket_by_id(int64_t id, struct ticket *out);
/* Calls FN for each ticket; FN returns non-zero to stop. */
typedef int (*ticket_fn)(const struct ticket *t, void *arg);
int store_citizen_bookings(const char *citizen_hash, int from_day, ticket_fn fn, void *arg);
int store_day_tickets(const char *point, int day, ticket_fn fn, void *arg);
/* Calls FN for each slot of POINT's SERVICE from day FIRST to LAST that ever held a booking,
 * with the bookings (not cancelled) it holds now, in (day, start) order: one read for them all. */
typedef void (*slot_count_fn)(void *arg, int day, int start, int booked);
int store_slot_counts_between(const char *point, const char *service, int first, int last,
                              slot_count_fn fn, void *arg);

/* Idempotency keys: 1 and the stored answer when KEY was used by CLIENT since SINCE. */
int store_idem_get(const char *client, const char *key, int64_t since, char hash[65],
                   int *status, char **response);
int store_idem_put(const char *client, const char *key, const char *hash, int status,
                   const char *response, int64_t now);

/* The queue. */
struct counter_view {
	int open;
	int64_t ticket; /* 0 when none */
	int streak;
};
int store_counter(const char *counter, struct counter_view *out);
enum err store_counter_set_open(const struct counter *k, int open, const char *actor, int64_t now);
enum err store_checkin(const struct point *p, const char *code, const char *actor, int64_t now,
                       struct ticket *out);
enum err store_walkin(const struct point *p, const struct service *s, const char *priority,
                      const char *phone, const char *actor, int64_t now, struct ticket *out);
/* E_OK with out->id == 0 when nobody waits. */
enum err store_call_next(const struct counter *k, const char *actor, int64_t now,
                         struct ticket *out);
enum err store_call_code(const struct counter *k, const char *code, const char *actor, int64_t now,
                         struct ticket *out);
enum err store_recall(const struct counter *k, const char *actor, int64_t now, struct ticket *out);
/* Ends the current ticket as served, no_show or parked. */
enum err store_finish(const struct counter *k, enum tstatus to, const char *actor, int64_t now,
                      struct ticket *out);
enum err store_transfer(const struct counter *k, const struct service *to, const char *actor,
                        int64_t now, struct ticket *out);
/* Waiting tickets of POINT today (SERVICE may be NULL), in call order, through FN. */
int store_queue(const struct point *p, const char *service, int day, ticket_fn fn, void *arg);
/* 1-based position of a waiting ticket in its service's queue; 0 if not waiting. */
int store_position(const struct ticket *t);
int store_waiting_count(const char *point, const char *service, int day);
int store_open_counters(const struct point *p, const char *service);

/* Deadlines: expire what is due at NOW; the next instant something falls due (0: none). */
int store_expire_due(int64_t now, int offset_min);
int64_t store_next_deadline(int64_t now, int offset_min);

/* Feedback, once per served ticket. */
enum err store_feedback(const char *code, int rating, const char *comment, int64_t now);

/* Webhook deliveries (see webhook.c): pending until done_at is set. */
struct delivery {
	int64_t id, created_at;
	const char *url, *event, *body, *signature; /* valid during the callback only */
	int attempts;
};
typedef int (*delivery_fn)(const struct delivery *d, void *arg);
int store_delivery_add(int64_t id, const char *url, const char *event, int64_t ticket,
                       const char *body, const char *signature, int64_t now);
/* The highest delivery id ever stored (0 for none; -1 on error). */
int64_t store_delivery_last_id(void);
/*
 * Which pending deliveries may be sent: ids up to UPTO (their change is on disk), none of
 * SKIP (in flight; 0 for none), none to a URL of BUSY (NULL for none).
 */
#define DELIVERY_SKIP 8
#define DELIVERY_BUSY 4
struct delivery_filter {
	int64_t upto, skip[DELIVERY_SKIP];
	const char *busy[DELIVERY_BUSY];
};
/* Calls FN for at most MAX deliveries F lets be sent due at NOW, oldest first; FN returns
 * non-zero to stop. */
int store_deliveries_due(int64_t now, const struct delivery_filter *f, int max, delivery_fn fn,
                         void *arg);
/* The earliest next_at of the deliveries F lets be sent, 0 when none. */
int64_t store_delivery_next(const struct delivery_filter *f);
/* Records an attempt's end: STATUS (0 for no answer), and OUTCOME with DONE_AT when it is the last. */
int store_delivery_set(int64_t id, int attempts, int64_t next_at, int status, const char *outcome,
                       int64_t done_at);
/* How many deliveries are pending (-1 on error). */
int store_deliveries_pending(void);
/* Every pending delivery is due at NOW (after a restart, or the test clock moved). */
int store_deliveries_due_now(int64_t now);

#endif
