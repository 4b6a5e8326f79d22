/* h_display.c: the displays' feeds (board, long-poll, event stream) and the pages people see. */
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "events.h"
#include "handlers.h"
#include "reply.h"
#include "router.h"

static int
query_int(struct req *r, const char *name, long long min, long long max, long long *out)
{
	const char *s = req_query(r, name);
	char *end;
	if (s == NULL)
		return 0;
	long long v = strtoll(s, &end, 10);
	if (*s == 0 || *end != 0 || v < min || v > max) {
		reply_error(r, E_INVALID_FIELD, name, "%s must be an integer from %lld to %lld", name, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static void
display(struct req *r)
{
	const struct point *p = path_point(r);
	long long since = 0, wait = 0;
	if (p == NULL || query_int(r, "since", 0, (1LL << 62), &since) ||
	    query_int(r, "wait", 0, 60, &wait))
		return;
	if (req_query(r, "since") && wait > 0) {
		json_t *calls = events_display_json(p, since);
		if (json_array_size(json_object_get(calls, "calls")) > 0) {
			reply_json(r, 200, calls);
			return;
		}
		json_decref(calls);
		events_wait(r, p->id, since, (int)wait);
		return;
	}
	reply_json(r, 200, events_display_json(p, req_query(r, "since") ? since : 0));
}

static void
stream(struct req *r)
{
	const struct point *p = path_point(r);
	if (p == NULL)
		return;
	if (r->method != M_HEAD) {
		events_stream(r, p->id);
		return;
	}
	/*
	 * A HEAD gets the stream's headers and no body: a stream's chunked framing would add one
	 * (libmicrohttpd 0.9.75), so it is a body-less answer, with Content-Length: 0.
	 */
	r->response = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (r->response == NULL) {
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
		return;
	}
	MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/event-stream; charset=utf-8");
	MHD_add_response_header(r->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r->response, "X-Accel-Buffering", "no");
	r->status = 200;
	r->replied = 1;
}

/* Serves an embedded file of web/. */
static void
serve(struct req *r, const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
	             {".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
	             {".ico", "image/x-icon"}};
	char path[128];
	snprintf(path, sizeof path, "web/%s", name);
	const struct builtin *b = builtin_find(path);
	if (b == NULL) {
		reply_error(r, E_NOT_FOUND, NULL, "no such file");
		return;
	}
	const char *type = "application/octet-stream";
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		size_t n = strlen(name), e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			type = types[i].type;
	}
	char *body = malloc(b->len + 1);
	if (body == NULL) {
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
		return;
	}
	memcpy(body, b->data, b->len);
	reply_raw(r, 200, type, body, b->len);
}

static void
page_display(struct req *r)
{
	if (path_point(r))
		serve(r, "display.html");
}

static void
page_counter(struct req *r)
{
	if (catalogue_counter(cat, r->param[0]) == NULL)
		reply_error(r, E_NOT_FOUND, NULL, "no counter %s", r->param[0]);
	else
		serve(r, "counter.html");
}

static void
page_ticket(struct req *r)
{
	serve(r, "ticket.html");
}

static void
asset(struct req *r)
{
	if (strstr(r->param[0], "..") || strchr(r->param[0], '/'))
		reply_error(r, E_NOT_FOUND, NULL, "no such file");
	else
		serve(r, r->param[0]);
}

const struct route h_display_routes[] = {
    {M_GET, "/v1/points/:point/display", display, 0, BODY_NONE, "display"},
    {M_GET, "/v1/points/:point/events", stream, 0, BODY_NONE, "events"},
    {M_GET, "/display/:point", page_display, 0, BODY_NONE, "page.display"},
    {M_GET, "/counter/:counter", page_counter, 0, BODY_NONE, "page.counter"},
    {M_GET, "/ticket/:code", page_ticket, 0, BODY_NONE, "page.ticket"},
    {M_GET, "/static/:file", asset, 0, BODY_NONE, "static"},
    {0, NULL, NULL, 0, 0, NULL},
};
