/* h_admin.c: administration: test clock, reload, metrics. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dates.h"
#include "deadline.h"
#include "handlers.h"
#include "metrics.h"
#include "reload.h"
#include "reply.h"
#include "router.h"
#include "ticket.h"

static void
set_clock(struct req *r)
{
	const char *s = json_string_value(json_object_get(r->json, "now"));
	int64_t t;
	if (!clock_is_test()) {
		reply_error(r, E_NOT_FOUND, NULL, "the clock can be set only under --test-clock");
		return;
	}
	if (s == NULL || instant_parse(s, &t)) {
		reply_error(r, E_INVALID_FIELD, "now", "now must be an instant like 2026-11-23T08:00:00+07:00");
		return;
	}
	clock_set(t);
	/* Every deadline now passed takes effect before the answer (and commits with it). */
	deadline_run();
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

const struct route h_admin_routes[] = {
    {M_PUT, "/v1/admin/clock", set_clock, ROLE_ADMIN, BODY_JSON, "admin.clock"},
    {M_POST, "/v1/admin/reload", reload, ROLE_ADMIN, BODY_NONE, "admin.reload"},
    {M_GET, "/metrics", metrics, ROLE_ADMIN, BODY_NONE, "metrics"},
    {0, NULL, NULL, 0, 0, NULL},
};
