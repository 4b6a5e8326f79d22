/* h_queue.c: kiosks (check-in, walk-in tickets), counters, and the admin's view of a queue. */
#include <string.h>

#include "clock.h"
#include "dates.h"
#include "handlers.h"
#include "metrics.h"
#include "reply.h"
#include "router.h"
#include "slots.h"
#include "store.h"
#include "ticket.h"
#include "valid.h"

int
may_act_for_point(struct req *r, const struct point *p)
{
	if (r->tok->role == ROLE_ADMIN || (r->tok->role == ROLE_KIOSK && r->tok->point &&
	                                   strcmp(r->tok->point, p->id) == 0))
		return 1;
	reply_error(r, E_FORBIDDEN, NULL, "this token does not act for %s", p->id);
	return 0;
}

static void
answer_ticket(struct req *r, enum err e, int status, const struct ticket *t)
{
	if (e != E_OK)
		reply_error(r, e, NULL, NULL);
	else
		reply_json(r, status, ticket_json(t, r->tok->role == ROLE_ADMIN ? VIEW_STAFF : VIEW_KIOSK));
}

static void
checkin(struct req *r)
{
	const struct point *p = path_point(r);
	const char *code;
	struct ticket t;
	if (p == NULL || !may_act_for_point(r, p) || field_string(r, "code", 1, valid_code, &code))
		return;
	enum err e = store_checkin(p, code, r->tok->name, clock_now(), &t);
	answer_ticket(r, e, 200, &t);
}

static void
walkin(struct req *r)
{
	const struct point *p = path_point(r);
	const char *sid, *priority, *phone;
	struct ticket t;
	int64_t now = clock_now();
	if (p == NULL || !may_act_for_point(r, p) || field_string(r, "service", 1, NULL, &sid) ||
	    field_string(r, "priority", 0, valid_priority, &priority) ||
	    field_string(r, "phone", 0, valid_phone, &phone))
		return;
	const struct service *s = point_service(p, sid);
	if (s == NULL) {
		reply_error(r, E_NOT_FOUND, "service", "no service %s at %s", sid, p->id);
		return;
	}
	if (!point_open_at(p, local_day(now, cat->utc_offset), local_minute(now, cat->utc_offset))) {
		reply_error(r, E_CLOSED, NULL, "%s is closed now", p->id);
		return;
	}
	enum err e = store_walkin(p, s, priority, phone, r->tok->name, now, &t);
	answer_ticket(r, e, 201, &t);
}

/* The counter of the path, if the token may act on it (its own counter, or admin). */
static const struct counter *
path_counter(struct req *r)
{
	const struct counter *k = catalogue_counter(cat, r->param[0]);
	if (k == NULL) {
		reply_error(r, E_NOT_FOUND, NULL, "no counter %s", r->param[0]);
		return NULL;
	}
	if (r->tok->role != ROLE_ADMIN &&
	    !(r->tok->role == ROLE_COUNTER && r->tok->counter && strcmp(r->tok->counter, k->id) == 0)) {
		reply_error(r, E_FORBIDDEN, NULL, "this token does not act for counter %s", k->id);
		return NULL;
	}
	return k;
}

#define COUNTER_WAITING_MAX 50

struct waiting_list {
	const struct counter *k;
	json_t *priority, *plain; /* the counter's tickets in queue order, with and without */
};

/* Keeps T in W while its list has room; the queue lists every priority ticket first, so the
 * walk ends once the plain list is full. */
static int
append_served(const struct ticket *t, void *arg)
{
	struct waiting_list *w = arg;
	json_t *list = t->priority[0] ? w->priority : w->plain;
	if (counter_serves(w->k, t->service) && json_array_size(list) < COUNTER_WAITING_MAX)
		json_array_append_new(list, ticket_json(t, VIEW_STAFF));
	return json_array_size(w->plain) >= COUNTER_WAITING_MAX;
}

/*
 * W's tickets in the order the counter will call them: priority first, but after
 * priority_streak_max priority calls in a row (STREAK so far) the first without priority.
 */
static json_t *
call_order(struct waiting_list *w, int streak)
{
	json_t *a = json_array();
	size_t p = 0, q = 0, np = json_array_size(w->priority), nq = json_array_size(w->plain);
	int max = cat->priority_streak_max;
	while (json_array_size(a) < COUNTER_WAITING_MAX && (p < np || q < nq)) {
		if (p < np && !(max > 0 && streak >= max && q < nq)) {
			json_array_append(a, json_array_get(w->priority, p++));
			streak++;
		} else {
			json_array_append(a, json_array_get(w->plain, q++));
			streak = 0;
		}
	}
	return a;
}

static void
reply_counter(struct req *r, const struct counter *k)
{
	struct counter_view v = {0};
	struct ticket t;
	struct waiting_list w = {k, json_array(), json_array()};
	json_t *o = counter_json(k, 1);
	store_counter(k->id, &v);
	if (store_queue(k->point, NULL, local_day(clock_now(), cat->utc_offset), append_served, &w) == 0)
		json_object_set_new(o, "waiting", call_order(&w, v.streak));
	json_decref(w.priority);
	json_decref(w.plain);
	json_object_set_new(o, "point", json_string(k->point->id));
	if (v.ticket && store_ticket_by_id(v.ticket, &t) == 0 && t.status == ST_CALLED)
		json_object_set_new(o, "current", ticket_json(&t, VIEW_STAFF));
	else
		json_object_set_new(o, "current", json_null());
	reply_json(r, 200, o);
}

static void
counter_get(struct req *r)
{
	const struct counter *k = path_counter(r);
	if (k)
		reply_counter(r, k);
}

static void
counter_set(struct req *r, int open)
{
	const struct counter *k = path_counter(r);
	if (k == NULL)
		return;
	enum err e = store_counter_set_open(k, open, r->tok->name, clock_now());
	if (e != E_OK)
		reply_error(r, e, NULL, NULL);
	else
		reply_counter(r, k);
}

static void
counter_open(struct req *r)
{
	counter_set(r, 1);
}

static void
counter_pause(struct req *r)
{
	counter_set(r, 0);
}

static void
called(struct req *r, enum err e, const struct ticket *t)
{
	if (e != E_OK) {
		reply_error(r, e, NULL,
		            e == E_INVALID_STATE ? "the counter is paused, has a ticket called, or the "
		                                   "ticket cannot be called" : NULL);
		return;
	}
	metrics_call();
	reply_json(r, 200, json_pack("{s:o}", "ticket", ticket_json(t, VIEW_STAFF)));
}

static void
call_next(struct req *r)
{
	const struct counter *k = path_counter(r);
	struct ticket t;
	if (k == NULL)
		return;
	enum err e = store_call_next(k, r->tok->name, clock_now(), &t);
	if (e == E_OK && t.id == 0)
		reply_json(r, 204, NULL);
	else
		called(r, e, &t);
}

static void
call_code(struct req *r)
{
	const struct counter *k = path_counter(r);
	const char *code;
	struct ticket t;
	if (k == NULL || field_string(r, "code", 1, valid_code, &code))
		return;
	called(r, store_call_code(k, code, r->tok->name, clock_now(), &t), &t);
}

static void
recall(struct req *r)
{
	const struct counter *k = path_counter(r);
	struct ticket t;
	if (k == NULL)
		return;
	enum err e = store_recall(k, r->tok->name, clock_now(), &t);
	if (e == E_INVALID_STATE) {
		reply_error(r, e, NULL, "no ticket is called, or it was announced %d times already",
		            cat->max_calls);
		return;
	}
	called(r, e, &t);
}

/* The answer to an action on the counter's current ticket. */
static void
acted(struct req *r, enum err e, const struct ticket *t)
{
	if (e == E_INVALID_STATE)
		reply_error(r, e, NULL, "the counter has no ticket called");
	else if (e != E_OK)
		reply_error(r, e, NULL, NULL);
	else
		reply_json(r, 200, json_pack("{s:o}", "ticket", ticket_json(t, VIEW_STAFF)));
}

static void
finish(struct req *r, enum tstatus to)
{
	const struct counter *k = path_counter(r);
	struct ticket t;
	if (k == NULL)
		return;
	acted(r, store_finish(k, to, r->tok->name, clock_now(), &t), &t);
}

static void
park(struct req *r)
{
	finish(r, ST_PARKED);
}

static void
complete(struct req *r)
{
	finish(r, ST_SERVED);
}

static void
no_show(struct req *r)
{
	finish(r, ST_NO_SHOW);
}

static void
transfer(struct req *r)
{
	const struct counter *k = path_counter(r);
	const char *sid;
	struct ticket t;
	if (k == NULL || field_string(r, "service", 1, NULL, &sid))
		return;
	const struct service *s = point_service(k->point, sid);
	if (s == NULL) {
		reply_error(r, E_NOT_FOUND, "service", "no service %s at %s", sid, k->point->id);
		return;
	}
	acted(r, store_transfer(k, s, r->tok->name, clock_now(), &t), &t);
}

static int
append(const struct ticket *t, void *arg)
{
	json_array_append_new(arg, ticket_json(t, VIEW_STAFF));
	return 0;
}

static void
queue(struct req *r)
{
	const struct point *p = path_point(r);
	const char *sid;
	if (p == NULL || query_string(r, "service", 0, id_valid, &sid))
		return;
	if (sid && point_service(p, sid) == NULL) {
		reply_error(r, E_NOT_FOUND, "service", "no service %s at %s", sid, p->id);
		return;
	}
	json_t *a = json_array();
	if (store_queue(p, sid, local_day(clock_now(), cat->utc_offset), append, a)) {
		json_decref(a);
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	reply_json(r, 200, json_pack("{s:o}", "tickets", a));
}

const struct route h_queue_routes[] = {
    {M_POST, "/v1/points/:point/checkin", checkin, ROLE_KIOSK, BODY_JSON, "kiosk.checkin"},
    {M_POST, "/v1/points/:point/tickets", walkin, ROLE_KIOSK, BODY_JSON, "kiosk.walkin"},
    {M_GET, "/v1/points/:point/queue", queue, ROLE_ADMIN, BODY_NONE, "admin.queue"},
    {M_GET, "/v1/counters/:counter", counter_get, ROLE_COUNTER, BODY_NONE, "counter.get"},
    {M_POST, "/v1/counters/:counter/open", counter_open, ROLE_COUNTER, BODY_NONE, "counter.open"},
    {M_POST, "/v1/counters/:counter/pause", counter_pause, ROLE_COUNTER, BODY_NONE, "counter.pause"},
    {M_POST, "/v1/counters/:counter/call-next", call_next, ROLE_COUNTER, BODY_NONE, "counter.call_next"},
    {M_POST, "/v1/counters/:counter/call", call_code, ROLE_COUNTER, BODY_JSON, "counter.call"},
    {M_POST, "/v1/counters/:counter/recall", recall, ROLE_COUNTER, BODY_NONE, "counter.recall"},
    {M_POST, "/v1/counters/:counter/park", park, ROLE_COUNTER, BODY_NONE, "counter.park"},
    {M_POST, "/v1/counters/:counter/complete", complete, ROLE_COUNTER, BODY_NONE, "counter.complete"},
    {M_POST, "/v1/counters/:counter/no-show", no_show, ROLE_COUNTER, BODY_NONE, "counter.no_show"},
    {M_POST, "/v1/counters/:counter/transfer", transfer, ROLE_COUNTER, BODY_JSON, "counter.transfer"},
    {0, NULL, NULL, 0, 0, NULL},
};
