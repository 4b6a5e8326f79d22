/* h_admin.c: administration: test clock, reload, metrics. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dates.h"
#include "db.h"
#include "deadline.h"
#include "handlers.h"
#include "metrics.h"
#include "reload.h"
#include "reply.h"
#include "router.h"
#include "stats.h"
#include "valid.h"
#include "ticket.h"
#include "webhook.h"

static void
set_clock(struct req *r)
{
	const char *s = json_string_value(json_object_get(r->json, "now"));
	int64_t t;
	if (s == NULL || instant_parse(s, &t) || !clock_in_range(t)) {
		reply_error(r, E_INVALID_FIELD, "now",
		            "now must be an instant like 2026-11-23T08:00:00+07:00, from 2000 to 9998 (UTC)");
		return;
	}
	clock_set(t);
	/* Every deadline now passed takes effect before the answer (and commits with it). */
	deadline_run();
	webhook_clock_set(); /* retries waiting on the old clock are due now */
	reply_json(r, 200, json_pack("{s:o}", "now", instant_json(clock_now())));
}

static void
reload(struct req *r)
{
	struct problems pr = {0};
	if (reload_catalogue(&pr) == 0) {
		reply_json(r, 200, json_pack("{s:s,s:i}", "status", "reloaded", "points", cat->npoints));
		return;
	}
	json_t *body = error_body(E_INVALID_CONFIG, NULL, "the configuration has problems; nothing changed");
	json_t *list = json_array();
	for (int i = 0; i < pr.n; i++)
		json_array_append_new(list, json_string(pr.v[i]));
	json_object_set_new(json_object_get(body, "error"), "problems", list);
	problems_free(&pr);
	reply_json(r, 400, body);
}

static void
metrics(struct req *r)
{
	char *s = metrics_render();
	if (s == NULL)
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
	else
		reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", s, strlen(s));
}

const struct route h_test_clock_routes[] = {
    {M_PUT, "/v1/admin/clock", set_clock, ROLE_ADMIN, BODY_JSON, "admin.clock"},
    {0, NULL, NULL, 0, 0, NULL},
};

const struct route h_admin_routes[] = {
    {M_POST, "/v1/admin/reload", reload, ROLE_ADMIN, BODY_NONE, "admin.reload"},
    {M_GET, "/metrics", metrics, ROLE_ADMIN, BODY_NONE, "metrics"},
    {0, NULL, NULL, 0, 0, NULL},
};

/* ---- statistics ---- */

struct day_stats {
	const struct point *p;
	int n;
	struct per_service {
		char service[ID_MAX + 1];
		struct stats s;
	} v[64];
	struct stats total;
};

static void
stats_collect(const struct stats_row *row, void *arg)
{
	struct day_stats *d = arg;
	int i;
	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i].service, row->service) == 0)
			break;
	if (i == d->n && d->n < (int)(sizeof d->v / sizeof *d->v)) {
		snprintf(d->v[i].service, sizeof d->v[i].service, "%s", row->service);
		d->n++;
	}
	if (i < d->n)
		stats_add(&d->v[i].s, row);
	stats_add(&d->total, row);
}

/* Per service (the point's services first, then any removed one with tickets) and in total. */
static int
day_stats(const struct point *p, int day, struct day_stats *d)
{
	memset(d, 0, sizeof *d);
	d->p = p;
	for (int i = 0; i < p->nservices && i < (int)(sizeof d->v / sizeof *d->v); i++, d->n++)
		snprintf(d->v[i].service, sizeof d->v[i].service, "%s", p->services[i].id);
	return store_stats_rows(p->id, day, stats_collect, d);
}

static void
day_stats_free(struct day_stats *d)
{
	for (int i = 0; i < d->n; i++)
		stats_free(&d->v[i].s);
	stats_free(&d->total);
}

static int
wants_csv(struct req *r)
{
	const char *a = req_header(r, MHD_HTTP_HEADER_ACCEPT);
	return a && strstr(a, "text/csv") != NULL;
}

static void
csv_cell(json_t *v, char *out, size_t cap)
{
	if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, cap, "%.2f", json_real_value(v));
	else
		out[0] = 0;
}

static char *
stats_csv(json_t *services, json_t *total)
{
	size_t cap = 256 + (json_array_size(services) + 2) * 512, len = 0;
	char *out = malloc(cap), cell[64];
	if (out == NULL)
		return NULL;
	len += snprintf(out + len, cap - len, "service");
	for (int f = 0; stats_fields[f]; f++)
		len += snprintf(out + len, cap - len, ",%s", stats_fields[f]);
	len += snprintf(out + len, cap - len, "\r\n");
	for (size_t i = 0; i <= json_array_size(services); i++) {
		json_t *o = i < json_array_size(services) ? json_array_get(services, i) : total;
		const char *name = i < json_array_size(services)
		                       ? json_string_value(json_object_get(o, "service"))
		                       : "total";
		len += snprintf(out + len, cap - len, "%s", name);
		for (int f = 0; stats_fields[f]; f++) {
			csv_cell(json_object_get(o, stats_fields[f]), cell, sizeof cell);
			len += snprintf(out + len, cap - len, ",%s", cell);
		}
		len += snprintf(out + len, cap - len, "\r\n");
	}
	return out;
}

static void
stats(struct req *r)
{
	const char *pid;
	int day, given;
	struct day_stats *d;
	char date[11];
	if (query_string(r, "point", 1, id_valid, &pid) || query_date(r, "date", 0, &day, &given))
		return;
	const struct point *p = catalogue_point(cat, pid);
	if (p == NULL) {
		reply_error(r, E_NOT_FOUND, "point", "no point %s", pid);
		return;
	}
	if (!given)
		day = local_day(clock_now(), cat->utc_offset);
	if ((d = malloc(sizeof *d)) == NULL || day_stats(p, day, d)) {
		if (d)
			day_stats_free(d);
		free(d);
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	json_t *services = json_array();
	for (int i = 0; i < d->n; i++) {
		json_t *o = stats_json(&d->v[i].s);
		json_object_set_new(o, "service", json_string(d->v[i].service));
		json_array_append_new(services, o);
	}
	json_t *total = stats_json(&d->total);
	day_stats_free(d);
	free(d);
	date_format(day, date);
	if (wants_csv(r)) {
		char *csv = stats_csv(services, total);
		json_decref(services);
		json_decref(total);
		if (csv == NULL)
			reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
		else
			reply_raw(r, 200, "text/csv; charset=utf-8", csv, strlen(csv));
		return;
	}
	reply_json(r, 200, json_pack("{s:s,s:s,s:o,s:o}", "point", p->id, "date", date, "services",
	                             services, "total", total));
}

/* The public transparency summary of a point's day: no personal data. */
static void
summary(struct req *r)
{
	const struct point *p = path_point(r);
	int day, given;
	struct day_stats *d;
	char date[11];
	if (p == NULL || query_date(r, "date", 0, &day, &given))
		return;
	if (!given)
		day = local_day(clock_now(), cat->utc_offset);
	if ((d = malloc(sizeof *d)) == NULL || day_stats(p, day, d)) {
		if (d)
			day_stats_free(d);
		free(d);
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	json_t *t = stats_json(&d->total);
	int served = d->total.served, no_show = d->total.no_show, waiting = d->total.waiting;
	day_stats_free(d);
	free(d);
	date_format(day, date);
	json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:O,s:O,s:o,s:O}", "point", p->id, "date", date,
	                      "served", served, "waiting", waiting, "avg_wait_seconds",
	                      json_object_get(t, "avg_wait_seconds"), "p90_wait_seconds",
	                      json_object_get(t, "p90_wait_seconds"), "no_show_rate",
	                      served + no_show ? json_real((double)no_show / (served + no_show))
	                                       : json_null(),
	                      "feedback_avg", json_object_get(t, "feedback_avg"));
	json_decref(t);
	reply_json(r, 200, o);
}

const struct route h_stats_routes[] = {
    {M_GET, "/v1/stats", stats, ROLE_ADMIN, BODY_NONE, "admin.stats"},
    {M_GET, "/v1/points/:point/summary", summary, 0, BODY_NONE, "summary"},
    {0, NULL, NULL, 0, 0, NULL},
};

/* ---- the audit trail ---- */

static void
audit(struct req *r)
{
	static sqlite3_stmt *s;
	const char *pid;
	int day, given;
	char date[11];
	if (query_string(r, "point", 1, id_valid, &pid) || query_date(r, "date", 1, &day, &given))
		return;
	if (catalogue_point(cat, pid) == NULL) {
		reply_error(r, E_NOT_FOUND, "point", "no point %s", pid);
		return;
	}
	sqlite3_stmt *st = db_static(&s, "SELECT e.seq, e.at, t.code, e.action, e.actor, e.hash "
	                                 "FROM event e JOIN ticket t ON t.id = e.ticket "
	                                 "WHERE e.point = :p AND e.date = :d ORDER BY e.seq");
	if (st == NULL) {
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	date_format(day, date);
	db_bind_text(st, ":p", pid);
	db_bind_text(st, ":d", date);
	json_t *a = json_array();
	while (db_step(st) == 1)
		json_array_append_new(
		    a, json_pack("{s:I,s:o,s:s,s:s,s:s,s:s}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
		                 "at", instant_json(sqlite3_column_int64(st, 1)), "ticket",
		                 db_col_text(st, 2), "action", db_col_text(st, 3), "actor",
		                 db_col_text(st, 4), "hash", db_col_text(st, 5)));
	sqlite3_reset(st);
	reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "point", pid, "date", date, "events", a));
}

const struct route h_audit_routes[] = {
    {M_GET, "/v1/audit", audit, ROLE_ADMIN, BODY_NONE, "admin.audit"},
    {0, NULL, NULL, 0, 0, NULL},
};
