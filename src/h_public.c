/* h_public.c: public endpoints: health, points, a point, availability, a ticket. */
#include <stdint.h>
#include <stdlib.h>
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
/*
 * Availability is asked far more often than it changes, and its JSON costs ten times the reads
 * it is made from. So an answer is kept with what it was made from: each day's slots (from the
 * catalogue), their counts (from slot_count) and which of them have started (from the clock).
 * Every request reads all of these again; the kept answer is sent only when they are the same,
 * so no booking, reload or clock change can make it stale. One entry per (point, service,
 * date asked) hash: a collision only costs a new answer.
 */
#define MEMO_SIZE 256
#define DAY_HEAD 4 /* day, open, capacity, slots listed; then start, end, booked of each */
static struct memo {
	char *point, *service;
	int *in;
	size_t nin;
	char *body;
	size_t len;
} memo[MEMO_SIZE];

static void
memo_clear(struct memo *m)
{
	free(m->point);
	free(m->service);
	free(m->in);
	free(m->body);
	*m = (struct memo){0};
}

void
availability_forget(void)
{
	for (int i = 0; i < MEMO_SIZE; i++)
		memo_clear(&memo[i]);
}

/* One day of an availability answer: its slots from the catalogue and their counts. */
struct day_slots {
	int n;
	struct slot v[SLOTS_MAX];
	int counts[SLOTS_MAX];
};

struct days {
	int first;
	struct day_slots *d;
};

static void
count_slot(void *arg, int day, int start, int booked)
{
	struct days *all = arg;
	struct day_slots *ds = &all->d[day - all->first];
	for (int i = 0; i < ds->n; i++)
		if (ds->v[i].start == start)
			ds->counts[i] = booked;
}

/* What day DAY's answer is made of (DS: its slots and counts), into IN; its length. */
static int
day_inputs(const struct service *s, int day, const struct day_slots *ds, int64_t now, int *in)
{
	int m = 0;
	in[0] = day;
	in[1] = ds->n > 0;
	in[2] = s->slot_capacity;
	for (int i = 0; i < ds->n; i++)
		if (local_instant(day, ds->v[i].start, cat->utc_offset) > now) { /* not started */
			int *e = in + DAY_HEAD + 3 * m++;
			e[0] = ds->v[i].start;
			e[1] = ds->v[i].end;
			e[2] = ds->counts[i];
		}
	in[3] = m;
	return DAY_HEAD + 3 * m;
}

static json_t *
day_json(const int *in)
{
	char date[11], a[6], b[6];
	json_t *slots = json_array();
	for (int i = 0; i < in[3]; i++) {
		const int *e = in + DAY_HEAD + 3 * i;
		int avail = in[2] - e[2];
		json_t *o = json_object();
		hhmm_format(e[0], a);
		hhmm_format(e[1], b);
		json_object_set_new_nocheck(o, "start", json_string_nocheck(a));
		json_object_set_new_nocheck(o, "end", json_string_nocheck(b));
		json_object_set_new_nocheck(o, "capacity", json_integer(in[2]));
		json_object_set_new_nocheck(o, "booked", json_integer(e[2]));
		json_object_set_new_nocheck(o, "available", json_integer(avail > 0 ? avail : 0));
		json_array_append_new(slots, o);
	}
	date_format(in[0], date);
	return json_pack("{s:s,s:b,s:o}", "date", date, "open", in[1], "slots", slots);
}

/* The answer for P and S made of IN[0..NIN), as JSON text; NULL when out of memory. */
static char *
availability_text(const struct point *p, const struct service *s, const int *in, size_t nin,
                  size_t *len)
{
	json_t *days = json_array();
	for (size_t i = 0; i < nin; i += DAY_HEAD + 3 * (size_t)in[i + 3])
		json_array_append_new(days, day_json(in + i));
	json_t *body = json_pack("{s:s,s:s,s:o}", "point", p->id, "service", s->id, "days", days);
	char *text = body ? reply_text(body, len) : NULL;
	json_decref(body);
	return text;
}

static uint32_t
fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct memo *
memo_for(const char *point, const char *service, int day)
{
	uint32_t h = fnv1a(fnv1a(2166136261u ^ (uint32_t)day, point) * 31, service);
	return &memo[h % MEMO_SIZE];
}

static int
memo_matches(const struct memo *m, const char *point, const char *service, const int *in,
             size_t nin)
{
	return m->point && strcmp(m->point, point) == 0 && strcmp(m->service, service) == 0 &&
	       m->nin == nin && memcmp(m->in, in, nin * sizeof *in) == 0;
}

static void
memo_keep(struct memo *m, const char *point, const char *service, const int *in, size_t nin,
          const char *text, size_t len)
{
	memo_clear(m);
	if (nin == 0 || len == 0) /* never so: every day asked has its head */
		return;
	m->point = strdup(point);
	m->service = strdup(service);
	m->in = malloc(nin * sizeof *in);
	m->body = malloc(len);
	if (m->point == NULL || m->service == NULL || m->in == NULL || m->body == NULL) {
		memo_clear(m);
		return;
	}
	memcpy(m->in, in, nin * sizeof *in);
	memcpy(m->body, text, len);
	m->nin = nin;
	m->len = len;
}

/* What the answer for days FIRST to FIRST + NDAYS - 1 is made of, into *IN (malloc'd). */
static enum err
answer_inputs(const struct point *p, const struct service *s, int first, int ndays, int64_t now,
              int **in, size_t *nin)
{
	struct days all = {first, calloc(ndays, sizeof *all.d)};
	enum err e = E_UNAVAILABLE;
	*nin = 0;
	*in = malloc(ndays * (DAY_HEAD + 3 * SLOTS_MAX) * sizeof **in);
	if (all.d && *in) {
		for (int i = 0; i < ndays; i++)
			all.d[i].n = slots_for_day(p, s, first + i, all.d[i].v, SLOTS_MAX);
		if (store_slot_counts_between(p->id, s->id, first, first + ndays - 1, count_slot,
		                              &all) == 0) {
			for (int i = 0; i < ndays; i++)
				*nin += day_inputs(s, first + i, &all.d[i], now, *in + *nin);
			e = E_OK;
		}
	}
	free(all.d);
	if (e != E_OK) {
		free(*in);
		*in = NULL;
	}
	return e;
}

int
free_places(const struct point *p, const struct service *s, int day, int64_t now)
{
	int *in, n = 0;
	size_t nin;
	if (answer_inputs(p, s, day, 1, now, &in, &nin))
		return -1;
	for (int i = 0; i < in[3]; i++) {
		const int *e = in + DAY_HEAD + 3 * i;
		n += e[2] < in[2] ? in[2] - e[2] : 0;
	}
	free(in);
	return n;
}

static void
availability(struct req *r)
{
	const struct point *p = path_point(r);
	const struct service *s;
	const char *sid;
	int day, given, *in;
	size_t nin, len = 0;
	char *text = NULL;
	if (p == NULL || query_string(r, "service", 1, id_valid, &sid) ||
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
	/* the days asked: all of the horizon, or DAY */
	if (answer_inputs(p, s, given ? day : today, given ? 1 : cat->horizon_days, now, &in, &nin)) {
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	struct memo *m = memo_for(p->id, s->id, given ? day : -1);
	if (memo_matches(m, p->id, s->id, in, nin)) {
		if ((text = malloc(m->len)) != NULL)
			memcpy(text, m->body, len = m->len);
	} else if ((text = availability_text(p, s, in, nin, &len)) != NULL) {
		memo_keep(m, p->id, s->id, in, nin, text, len);
	}
	free(in);
	if (text == NULL)
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
	else
		reply_raw(r, 200, JSON_TYPE, text, len);
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
