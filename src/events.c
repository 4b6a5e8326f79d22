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
#define REPLAY_BATCH 16

#define CALL_COLUMNS                                                                               \
	"SELECT e.seq, t.number, e.detail, e.counter, e.at, e.action = 'recall' "                  \
	"FROM event e JOIN ticket t ON t.id = e.ticket "
/* A point's durable calls of a day after :since (see bind_day_calls), in an order to add. */
#define DAY_CALLS                                                                                  \
	CALL_COLUMNS "WHERE e.point = :p AND e.date = :d AND e.seq > :since AND e.seq < :before AND " \
	             "e.action IN ('call', 'recall') "

/*
 * A call written but not yet durable. Each is published by its own commit hook, so a call
 * waits for its own transaction's sync, not an earlier one's.
 */
struct pending {
	char point[ID_MAX + 1];
	int64_t seq;
	struct pending *next;
};

struct sub {
	struct req *r;
	char point[ID_MAX + 1];
	struct sub *prev, *next;
	int stream; /* an event stream; else a long-poll waiter */
	/* stream */
	char *buf;
	size_t len;
	int closing, dropped;
	int64_t sent_seq;     /* the last call queued to it: a call is never sent twice */
	int64_t replay_after; /* replaying the day's calls after this seq; -1: live */
	uv_poll_t *hangup;    /* watches the socket: a display that vanishes is let go at once */
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
	struct pending *pending, *pending_last; /* in seq order */
} E;

/* Calls before this seq are durable; the first pending one and those after it may not be. */
static int64_t
durable_before(void)
{
	return E.pending ? E.pending->seq : INT64_MAX;
}

static json_t *
call_row(sqlite3_stmt *st)
{
	const char *kid = db_col_text(st, 3);
	const struct counter *k = catalogue_counter(cat, kid);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:b}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
	                 "number", db_col_text(st, 1), "service", db_col_text(st, 2), "counter", kid,
	                 "counter_name", k ? k->name : kid, "called_at",
	                 instant_json(sqlite3_column_int64(st, 4)), "recall",
	                 sqlite3_column_int(st, 5));
}

/* Binds DAY_CALLS: POINT's calls of DAY after SINCE, at most LIMIT (-1: all). */
static void
bind_day_calls(sqlite3_stmt *st, const char *point, int day, int64_t since, int limit)
{
	char date[11];
	date_format(day, date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	db_bind_int(st, ":since", since);
	db_bind_int(st, ":before", durable_before());
	db_bind_int(st, ":n", limit);
}

/* DAY_CALLS oldest first; the replay of a stream reads them too, a batch at a time. */
static sqlite3_stmt *
day_calls_in_order(void)
{
	static sqlite3_stmt *s;
	return db_static(&s, DAY_CALLS "ORDER BY e.seq LIMIT :n");
}

json_t *
events_calls(const char *point, int day, int64_t since, int limit)
{
	static sqlite3_stmt *s_new;
	sqlite3_stmt *st = limit ? db_static(&s_new, DAY_CALLS "ORDER BY e.seq DESC LIMIT :n")
	                         : day_calls_in_order();
	json_t *a = json_array();
	if (st == NULL)
		return a;
	bind_day_calls(st, point, day, since, limit ? limit : -1);
	while (db_step(st) == 1)
		json_array_append_new(a, call_row(st));
	sqlite3_reset(st);
	return a;
}

int64_t
events_last_seq(const char *point)
{
	static sqlite3_stmt *s;
	int64_t seq = 0;
	char date[11];
	sqlite3_stmt *st =
	    db_static(&s, "SELECT max(seq) FROM event WHERE point = :p AND date = :d "
	                  "AND seq < :before AND action IN ('call', 'recall')");
	if (st == NULL)
		return 0;
	date_format(local_day(clock_now(), cat->utc_offset), date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	db_bind_int(st, ":before", durable_before());
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

/* The call as an event-stream message; malloc'd (NULL without memory), its length in *N. */
static char *
call_message(json_t *call, size_t *n)
{
	char *data = json_dumps(call, JSON_COMPACT), *msg = NULL;
	json_int_t seq = json_integer_value(json_object_get(call, "seq"));
	if (data == NULL)
		return NULL;
	size_t cap = strlen(data) + 64;
	if ((msg = malloc(cap)) != NULL)
		*n = (size_t)snprintf(msg, cap, "id: %lld\nevent: call\ndata: %s\n\n",
		                      (long long)seq, data);
	free(data);
	return msg;
}

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

static int
buf_append(struct sub *s, const char *data, size_t n)
{
	char *b = realloc(s->buf, s->len + n);
	if (b == NULL)
		return -1;
	memcpy(b + s->len, data, n);
	s->buf = b;
	s->len += n;
	return 0;
}

/*
 * It cannot keep up: let it go now, rather than hold more for it or wait for libmicrohttpd's
 * idle timeout (a display that reads nothing makes no progress, yet its socket buffers hold
 * megabytes). A reset discards what its socket still holds; the display reconnects with its
 * Last-Event-ID and gets the calls it missed.
 */
static void
stream_drop(struct sub *s)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(s->r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->closing = s->dropped = 1;
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
	if (ci) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		shutdown(ci->connect_fd, SHUT_RDWR);
	}
}

static void
stream_push(struct sub *s, const char *data, size_t n)
{
	if (s->closing)
		return;
	if (s->len + n > STREAM_BUF_MAX)
		stream_drop(s);
	else if (buf_append(s, data, n))
		s->closing = 1;
	httpd_resume(s->r);
}

static void
stream_push_call(struct sub *s, int64_t seq, const char *msg, size_t n)
{
	/* While it replays, the replay reads this call too, in its turn. */
	if (seq <= s->sent_seq || s->replay_after >= 0)
		return;
	s->sent_seq = seq;
	stream_push(s, msg, n);
}

/* Sends the call SEQ of POINT, now durable, to the point's streams and waiters. */
static void
publish(const char *point, int64_t seq)
{
	static sqlite3_stmt *s_call;
	sqlite3_stmt *st =
	    db_static(&s_call, CALL_COLUMNS "WHERE e.seq = :seq AND e.point = :p AND "
	                                    "e.action IN ('call', 'recall')");
	json_t *call = NULL;
	char *msg = NULL;
	size_t n = 0;
	struct sub *s, *next;
	if (st == NULL)
		return;
	db_bind_int(st, ":seq", seq);
	db_bind_text(st, ":p", point);
	if (db_step(st) == 1)
		call = call_row(st);
	sqlite3_reset(st);
	if (call == NULL) /* rolled back with the request that wrote it */
		return;
	msg = call_message(call, &n); /* formatted once for every stream */
	for (s = E.subs; s; s = next) {
		next = s->next;
		if (strcmp(s->point, point) != 0)
			continue;
		if (s->stream) {
			if (msg)
				stream_push_call(s, seq, msg, n);
		} else if (seq > s->since) {
			waiter_answer(s);
		}
	}
	free(msg);
	json_decref(call);
}

/* The transaction of one call is durable (OK), or failed: publish it, or forget it. */
static void
on_commit(void *arg, int ok)
{
	struct pending *p = arg, *prev = NULL, *q;
	for (q = E.pending; q && q != p; q = q->next)
		prev = q;
	if (q) {
		if (prev)
			prev->next = q->next;
		else
			E.pending = q->next;
		if (E.pending_last == q)
			E.pending_last = prev;
	}
	if (ok)
		publish(p->point, p->seq);
	free(p);
}

int
events_call_written(const char *point, int64_t seq)
{
	struct pending *p = calloc(1, sizeof *p);
	if (p == NULL)
		return -1;
	snprintf(p->point, sizeof p->point, "%s", point);
	p->seq = seq;
	if (db_on_commit(on_commit, p)) {
		free(p);
		return -1;
	}
	if (E.pending_last)
		E.pending_last->next = p;
	else
		E.pending = p;
	E.pending_last = p;
	return 0;
}

/*
 * The next few of the day's calls after the stream's Last-Event-ID, read as the display takes
 * them: a long day is more than a stream holds for a live reader. Only durable calls (before
 * the first one still waiting for its commit): the others come live once they are durable.
 */
static void
replay_more(struct sub *s)
{
	sqlite3_stmt *st = day_calls_in_order();
	int rows = 0;
	if (st == NULL) {
		s->replay_after = -1;
		return;
	}
	bind_day_calls(st, s->point, local_day(clock_now(), cat->utc_offset), s->replay_after,
	               REPLAY_BATCH);
	while (db_step(st) == 1) {
		json_t *call = call_row(st);
		int64_t seq = sqlite3_column_int64(st, 0);
		size_t n = 0;
		char *msg = call ? call_message(call, &n) : NULL;
		json_decref(call);
		rows++;
		s->replay_after = seq;
		if (msg == NULL || buf_append(s, msg, n)) {
			free(msg);
			s->closing = 1;
			break;
		}
		free(msg);
		s->sent_seq = seq;
	}
	sqlite3_reset(st);
	if (rows < REPLAY_BATCH)
		s->replay_after = -1;
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
		return s && s->dropped ? MHD_CONTENT_READER_END_WITH_ERROR
		                       : MHD_CONTENT_READER_END_OF_STREAM;
	if (s->len == 0 && s->replay_after >= 0)
		replay_more(s);
	if (s->closing)
		return MHD_CONTENT_READER_END_WITH_ERROR;
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
	s->replay_after = -1;
	snprintf(s->point, sizeof s->point, "%s", point);
	/* The block is only used by an HTTP/1.0 (unchunked) stream, but every stream allocates
	 * it and it shows in the memory of 10,000 displays: kept small, as events are. */
	r->response =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, r, NULL);
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
		if (*last && *end == 0 && since >= 0)
			s->replay_after = since; /* read as the display takes it: see replay_more */
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

/* A call still pending is freed by its commit hook, which the last commit runs. */
void
events_close(void)
{
	if (E.tick_ready) {
		E.tick_ready = 0;
		uv_close((uv_handle_t *)&E.tick, NULL);
	}
}
