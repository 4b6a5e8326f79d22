/* h_public.c: public endpoints: health, points, a point, availability, a ticket. */
#include <string.h>

#include "clock.h"
#include "dates.h"
#include "handlers.h"
#include "reply.h"
#include "router.h"
#include "slots.h"
#include "store.h"
#include "ticket.h"
#include "valid.h"
#include "version.h"

static void
health(struct req *r)
{
	reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "status", "ok", "version", HANGDOI_VERSION,
	                             "now", instant_json(clock_now())));
}

static void
points(struct req *r)
{
	json_t *a = json_array();
	for (int i = 0; i < cat->npoints; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", cat->points[i].id, "name",
		                                   cat->points[i].name, "address", cat->points[i].address));
	reply_json(r, 200, json_pack("{s:o}", "points", a));
}

/* The point named by the first path parameter, or a 404 already answered. */
const struct point *
path_point(struct req *r)
{
	const struct point *p = catalogue_point(cat, r->param[0]);
	if (p == NULL)
		reply_error(r, E_NOT_FOUND, NULL, "no point %s", r->param[0]);
	return p;
}

json_t *
service_json(const struct service *s)
{
	return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:I}", "id", s->id, "name", s->name,
	                 "prefix", s->prefix, "slot_minutes", s->slot_minutes, "slot_capacity",
	                 s->slot_capacity, "walkin_daily_limit", s->walkin_daily_limit,
	                 "avg_service_minutes", s->avg_service_minutes, "documents",
	                 s->documents ? json_incref(s->documents) : json_array(), "fee_vnd", (json_int_t)s->fee_vnd);
}

/* A counter as displays and staff see it: state and the number it serves now. */
json_t *
counter_json(const struct counter *k, int with_services)
{
	struct counter_view v;
	struct ticket t;
	json_t *cur = json_null();
	store_counter(k->id, &v);
	json_t *o = json_pack("{s:s,s:s,s:s}", "id", k->id, "name", k->name, "state",
	                      v.open ? "open" : "paused");
	if (v.ticket && store_ticket_by_id(v.ticket, &t) == 0 && t.status == ST_CALLED)
		cur = json_string(t.number);
	json_object_set_new(o, "current", cur);
	if (with_services) {
		json_t *a = json_array();
		for (int i = 0; i < k->nservices; i++)
			json_array_append_new(a, json_string(k->services[i]->id));
		json_object_set_new(o, "services", a);
	}
	return o;
}

static void
point(struct req *r)
{
	const struct point *p = path_point(r);
	if (p == NULL)
		return;
	json_t *svcs = json_array(), *ctrs = json_array();
	for (int i = 0; i < p->nservices; i++)
		json_array_append_new(svcs, service_json(&p->services[i]));
	for (int i = 0; i < p->ncounters; i++)
		json_array_append_new(ctrs, counter_json(&p->counters[i], 1));
	reply_json(r, 200, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", p->id, "name", p->name,
	                             "address", p->address, "hours",
	                             p->hours_json ? json_incref(p->hours_json) : json_object(), "closed",
	                             p->closed_json ? json_incref(p->closed_json) : json_array(), "services", svcs,
	                             "counters", ctrs));
}

/*
 * One slot as the contract shows it, built key by key: an answer holds up to a week of them,
 * and json_pack would parse its format and check every key's UTF-8 each time.
 */
static json_t *
slot_json(const struct slot *v, int capacity, int booked)
{
	char a[6], b[6];
	int avail = capacity - booked;
	json_t *o = json_object();
	hhmm_format(v->start, a);
	hhmm_format(v->end, b);
	json_object_set_new_nocheck(o, "start", json_string_nocheck(a));
	json_object_set_new_nocheck(o, "end", json_string_nocheck(b));
	json_object_set_new_nocheck(o, "capacity", json_integer(capacity));
	json_object_set_new_nocheck(o, "booked", json_integer(booked));
	json_object_set_new_nocheck(o, "available", json_integer(avail > 0 ? avail : 0));
	return o;
}

static json_t *
day_json(const struct point *p, const struct service *s, int day, int64_t now)
{
	struct slot v[SLOTS_MAX];
	int starts[SLOTS_MAX], counts[SLOTS_MAX];
	char date[11];
	int n = slots_for_day(p, s, day, v, SLOTS_MAX);
	json_t *slots = json_array();
	for (int i = 0; i < n; i++)
		starts[i] = v[i].start;
	store_slot_counts(p->id, s->id, day, starts, counts, n);
	for (int i = 0; i < n; i++)
		if (local_instant(day, v[i].start, cat->utc_offset) > now) /* not started */
			json_array_append_new(slots, slot_json(&v[i], s->slot_capacity, counts[i]));
	date_format(day, date);
	return json_pack("{s:s,s:b,s:o}", "date", date, "open", n > 0, "slots", slots);
}

static void
availability(struct req *r)
{
	const struct point *p = path_point(r);
	const struct service *s;
	const char *sid;
	int day, given;
	if (p == NULL || query_string(r, "service", 1, NULL, &sid) ||
	    query_date(r, "date", 0, &day, &given))
		return;
	if ((s = point_service(p, sid)) == NULL) {
		reply_error(r, E_NOT_FOUND, "service", "no service %s at %s", sid, p->id);
		return;
	}
	int64_t now = clock_now();
	int today = local_day(now, cat->utc_offset);
	if (given && !in_horizon(today, day, cat->horizon_days)) {
		reply_error(r, E_OUTSIDE_HORIZON, "date", NULL);
		return;
	}
	json_t *days = json_array();
	for (int d = today; d < today + cat->horizon_days; d++)
		if (!given || d == day)
			json_array_append_new(days, day_json(p, s, d, now));
	reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "point", p->id, "service", s->id, "days", days));
}

static void
ticket(struct req *r)
{
	struct ticket t;
	enum err e = valid_code(r->param[0]) ? store_ticket(r->param[0], &t) : E_NOT_FOUND;
	if (e != E_OK) {
		reply_error(r, e, NULL, e == E_NOT_FOUND ? "no ticket %s" : NULL, r->param[0]);
		return;
	}
	reply_json(r, 200, ticket_json(&t, VIEW_PUBLIC));
}

const struct route h_public_routes[] = {
    {M_GET, "/v1/health", health, 0, BODY_NONE, "health"},
    {M_GET, "/v1/points", points, 0, BODY_NONE, "points"},
    {M_GET, "/v1/points/:point", point, 0, BODY_NONE, "point"},
    {M_GET, "/v1/points/:point/availability", availability, 0, BODY_NONE, "availability"},
    {M_GET, "/v1/tickets/:code", ticket, 0, BODY_NONE, "ticket"},
    {0, NULL, NULL, 0, 0, NULL},
};
