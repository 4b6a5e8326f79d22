/*
 * events.c: call events for the displays. A call is published only after its commit, to
 * every event stream and long-poll waiter of its point. Streams have a bounded buffer: a
 * display that cannot keep up is closed, never waited for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "config.h"
#include "dates.h"
#include "db.h"
#include "events.h"
#include "handlers.h"
#include "log.h"
#include "reply.h"
#include "store.h"
#include "ticket.h"

#define STREAM_BUF_MAX 65536
#define PING_SECONDS 10
#define TICK_MS 250

struct sub {
	struct req *r;
	char point[ID_MAX + 1];
	struct sub *prev, *next;
	int stream; /* an event stream; else a long-poll waiter */
	/* stream */
	char *buf;
	size_t len;
	int closing;
	uv_poll_t *hangup; /* watches the socket: a display that vanishes is let go at once */
	/* waiter */
	int64_t since;
	uint64_t deadline_ms;
};

static struct {
	uv_loop_t *loop;
	uv_timer_t tick;
	int tick_ready, shutting;
	struct sub *subs; /* every subscriber; a point is matched by name */
	unsigned nstreams, nwaiters;
	uint64_t last_ping_ms;
	struct pending {
		char point[ID_MAX + 1];
		int64_t seq;
	} *pending;
	int npending, cappending, hooked;
} E;

static json_t *
call_row(sqlite3_stmt *st, const struct point *p)
{
	const char *kid = db_col_text(st, 3);
	const struct counter *k = catalogue_counter(cat, kid);
	(void)p;
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:b}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
	                 "number", db_col_text(st, 1), "service", db_col_text(st, 2), "counter", kid,
	                 "counter_name", k ? k->name : kid, "called_at",
	                 instant_json(sqlite3_column_int64(st, 4)), "recall",
	                 sqlite3_column_int(st, 5));
}

json_t *
events_calls(const char *point, int day, int64_t since, int limit)
{
	static sqlite3_stmt *s_new, *s_old;
	char date[11];
	sqlite3_stmt *st =
	    limit ? db_static(&s_new, "SELECT e.seq, t.number, e.detail, e.counter, e.at, "
	                              "e.action = 'recall' FROM event e JOIN ticket t ON t.id = e.ticket "
	                              "WHERE e.point = :p AND e.date = :d AND e.seq > :since AND "
	                              "e.action IN ('call', 'recall') ORDER BY e.seq DESC LIMIT :n")
	          : db_static(&s_old, "SELECT e.seq, t.number, e.detail, e.counter, e.at, "
	                              "e.action = 'recall' FROM event e JOIN ticket t ON t.id = e.ticket "
	                              "WHERE e.point = :p AND e.date = :d AND e.seq > :since AND "
	                              "e.action IN ('call', 'recall') ORDER BY e.seq");
	json_t *a = json_array();
	if (st == NULL)
		return a;
	date_format(day, date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	db_bind_int(st, ":since", since);
	if (limit)
		db_bind_int(st, ":n", limit);
	while (db_step(st) == 1)
		json_array_append_new(a, call_row(st, NULL));
	sqlite3_reset(st);
	return a;
}

int64_t
events_last_seq(const char *point)
{
	static sqlite3_stmt *s;
	int64_t seq = 0;
	char date[11];
	sqlite3_stmt *st = db_static(&s, "SELECT max(seq) FROM event WHERE point = :p AND date = :d "
	                                 "AND action IN ('call', 'recall')");
	if (st == NULL)
		return 0;
	date_format(local_day(clock_now(), cat->utc_offset), date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	if (db_step(st) == 1)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return seq;
}

/* The board: the latest calls (after SINCE), each counter's number, the waiting counts. */
json_t *
events_display_json(const struct point *p, int64_t since)
{
	int today = local_day(clock_now(), cat->utc_offset);
	json_t *ctrs = json_array(), *waiting = json_array();
	for (int i = 0; i < p->ncounters; i++)
		json_array_append_new(ctrs, counter_json(&p->counters[i], 0));
	for (int i = 0; i < p->nservices; i++)
		json_array_append_new(waiting,
		                      json_pack("{s:s,s:i}", "service", p->services[i].id, "count",
		                                store_waiting_count(p->id, p->services[i].id, today)));
	return json_pack("{s:s,s:I,s:o,s:o,s:o}", "point", p->id, "seq",
	                 (json_int_t)events_last_seq(p->id), "calls",
	                 events_calls(p->id, today, since, 10), "counters", ctrs, "waiting", waiting);
}


static void sub_unlink(struct sub *s);

/* Answers a long-poll waiter with the board after its SINCE and lets it go. */
static void
waiter_answer(struct sub *s)
{
	const struct point *p = catalogue_point(cat, s->point);
	struct req *r = s->r;
	if (p)
		reply_json(r, 200, events_display_json(p, s->since));
	else
		reply_error(r, E_NOT_FOUND, NULL, "no point %s", s->point);
	sub_unlink(s);
	r->hold = NULL;
	httpd_resume(r);
}

static void
stream_push(struct sub *s, const char *data, size_t n)
{
	if (s->closing)
		return;
	if (s->len + n > STREAM_BUF_MAX) {
		/* It cannot keep up: close it rather than hold more for it. */
		s->closing = 1;
		free(s->buf);
		s->buf = NULL;
		s->len = 0;
	} else {
		char *b = realloc(s->buf, s->len + n);
		if (b == NULL) {
			s->closing = 1;
		} else {
			memcpy(b + s->len, data, n);
			s->buf = b;
			s->len += n;
		}
	}
	httpd_resume(s->r);
}

static void
stream_push_call(struct sub *s, json_t *call)
{
	char *data = json_dumps(call, JSON_COMPACT);
	json_int_t seq = json_integer_value(json_object_get(call, "seq"));
	if (data == NULL)
		return;
	size_t cap = strlen(data) + 64;
	char *msg = malloc(cap);
	if (msg) {
		int n = snprintf(msg, cap, "id: %lld\nevent: call\ndata: %s\n\n", (long long)seq, data);
		stream_push(s, msg, (size_t)n);
		free(msg);
	}
	free(data);
}

static void
publish(const char *point, int64_t seq)
{
	int today = local_day(clock_now(), cat->utc_offset);
	json_t *calls = events_calls(point, today, seq - 1, 1);
	json_t *call = json_array_get(calls, 0);
	struct sub *s = E.subs, *next;
	if (call == NULL || json_integer_value(json_object_get(call, "seq")) != seq) {
		json_decref(calls);
		return;
	}
	for (; s; s = next) {
		next = s->next;
		if (strcmp(s->point, point) != 0)
			continue;
		if (s->stream)
			stream_push_call(s, call);
		else if (seq > s->since)
			waiter_answer(s);
	}
	json_decref(calls);
}

static void
on_commit(void *arg, int ok)
{
	(void)arg;
	E.hooked = 0;
	for (int i = 0; ok && i < E.npending; i++)
		publish(E.pending[i].point, E.pending[i].seq);
	E.npending = 0;
}

void
events_call_written(const char *point, int64_t seq)
{
	if (E.npending == E.cappending) {
		int cap = E.cappending ? E.cappending * 2 : 32;
		struct pending *p = realloc(E.pending, cap * sizeof *p);
		if (p == NULL)
			return;
		E.pending = p;
		E.cappending = cap;
	}
	snprintf(E.pending[E.npending].point, sizeof E.pending[0].point, "%s", point);
	E.pending[E.npending++].seq = seq;
	if (!E.hooked && db_on_commit(on_commit, NULL) == 0)
		E.hooked = 1;
}

static void
sub_link(struct sub *s)
{
	s->next = E.subs;
	if (E.subs)
		E.subs->prev = s;
	E.subs = s;
	if (s->stream)
		E.nstreams++;
	else
		E.nwaiters++;
}

static void
sub_unlink(struct sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (E.subs == s)
		E.subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	if (s->stream)
		E.nstreams--;
	else
		E.nwaiters--;
	if (s->hangup) {
		/* Still open here: libmicrohttpd closes the socket after the request ends. */
		uv_poll_stop(s->hangup);
		uv_close((uv_handle_t *)s->hangup, (uv_close_cb)free);
	}
	free(s->buf);
	free(s);
}

/* The request ended (answered, or the client went away). */
static void
release(struct req *r)
{
	struct sub *s = r->hold;
	if (s) {
		r->hold = NULL;
		sub_unlink(s);
	}
}

static void
on_tick(uv_timer_t *t)
{
	uint64_t now = uv_now(E.loop);
	int ping = now - E.last_ping_ms >= PING_SECONDS * 1000;
	struct sub *s, *next;
	if (ping)
		E.last_ping_ms = now;
	for (s = E.subs; s; s = next) {
		next = s->next;
		if (s->stream && ping)
			stream_push(s, ": ping\n\n", 8);
		else if (!s->stream && now >= s->deadline_ms)
			waiter_answer(s);
	}
	if (!E.nstreams && !E.nwaiters)
		uv_timer_stop(t);
}

static void
tick_start(void)
{
	if (E.tick_ready && !uv_is_active((uv_handle_t *)&E.tick))
		uv_timer_start(&E.tick, on_tick, TICK_MS, TICK_MS);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	struct sub *s = r->hold;
	(void)pos;
	if (s == NULL || s->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->len == 0) {
		/* Nothing to send: park the connection until a call or a ping. */
		httpd_suspend(r);
		return 0;
	}
	size_t n = s->len < max ? s->len : max;
	memcpy(buf, s->buf, n);
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	return (ssize_t)n;
}

/* The display's socket became readable: a stream's client sends nothing more, so this is
 * its end (or stray bytes, which are left to libmicrohttpd). */
static void
on_hangup(uv_poll_t *h, int status, int events)
{
	struct sub *s = h->data;
	uv_os_fd_t fd;
	char c;
	ssize_t n = status < 0 || uv_fileno((uv_handle_t *)h, &fd) != 0
	                ? -1
	                : recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	(void)events;
	uv_poll_stop(h);
	if (n > 0 || (n < 0 && status == 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	s->closing = 1;
	httpd_resume(s->r);
}

static void
hangup_watch(struct sub *s)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(s->r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	uv_poll_t *h;
	if (ci == NULL || (h = malloc(sizeof *h)) == NULL)
		return;
	if (uv_poll_init_socket(E.loop, h, ci->connect_fd) != 0) {
		free(h);
		return;
	}
	h->data = s;
	s->hangup = h;
	uv_poll_start(h, UV_READABLE | UV_DISCONNECT, on_hangup);
}

void
events_stream(struct req *r, const char *point)
{
	const char *last = req_header(r, "Last-Event-ID");
	struct sub *s;
	if (E.shutting) {
		reply_error(r, E_UNAVAILABLE, NULL, "shutting down");
		return;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
		return;
	}
	s->r = r;
	s->stream = 1;
	snprintf(s->point, sizeof s->point, "%s", point);
	r->response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, r, NULL);
	if (r->response == NULL) {
		free(s);
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
		return;
	}
	MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
	MHD_add_response_header(r->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r->response, "X-Accel-Buffering", "no");
	r->status = 200;
	r->replied = 1;
	r->hold = s;
	r->release = release;
	sub_link(s);
	hangup_watch(s);
	stream_push(s, "retry: 2000\n\n", 13);
	if (last) {
		char *end;
		long long since = strtoll(last, &end, 10);
		if (*last && *end == 0 && since >= 0) {
			json_t *calls = events_calls(point, local_day(clock_now(), cat->utc_offset), since, 0);
			for (size_t i = 0; i < json_array_size(calls); i++)
				stream_push_call(s, json_array_get(calls, i));
			json_decref(calls);
		}
	}
	tick_start();
}

void
events_wait(struct req *r, const char *point, int64_t since, int wait)
{
	struct sub *s;
	if (E.shutting || wait <= 0 || (s = calloc(1, sizeof *s)) == NULL) {
		const struct point *p = catalogue_point(cat, point);
		reply_json(r, 200, events_display_json(p, since));
		return;
	}
	s->r = r;
	s->since = since;
	s->deadline_ms = uv_now(E.loop) + (uint64_t)wait * 1000;
	snprintf(s->point, sizeof s->point, "%s", point);
	r->hold = s;
	r->release = release;
	sub_link(s);
	httpd_suspend(r);
	tick_start();
}

unsigned
events_streams(void)
{
	return E.nstreams;
}

int
events_init(uv_loop_t *loop)
{
	E.loop = loop;
	if (uv_timer_init(loop, &E.tick))
		return -1;
	E.tick_ready = 1;
	E.last_ping_ms = uv_now(loop);
	return 0;
}

void
events_shutdown(void)
{
	struct sub *s, *next;
	E.shutting = 1;
	for (s = E.subs; s; s = next) {
		next = s->next;
		if (s->stream) {
			s->closing = 1;
			httpd_resume(s->r);
		} else {
			waiter_answer(s);
		}
	}
}

void
events_close(void)
{
	free(E.pending);
	E.pending = NULL;
	E.npending = E.cappending = 0;
	if (E.tick_ready) {
		E.tick_ready = 0;
		uv_close((uv_handle_t *)&E.tick, NULL);
	}
}
