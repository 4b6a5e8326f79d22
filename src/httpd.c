/* httpd.c: libmicrohttpd in external-poll mode inside the libuv loop; per-request context. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db.h"
#include "deadline.h"
#include "events.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "reply.h"
#include "router.h"

static struct {
	struct MHD_Daemon *mhd;
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t timer;
	uv_prepare_t prepare;
	uv_check_t check;
	int in_run, again;
	struct req *pending; /* answered, waiting for the group commit */
	int handles_open;
	int stopping;
	unsigned conns, max_conns; /* connections after the last run; the configured limit */
} H;

static void run(void);

static void
on_timer(uv_timer_t *t)
{
	(void)t;
	run();
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	(void)p, (void)status, (void)events;
	run();
}

/* Runs libmicrohttpd until it has nothing to do now, then re-arms the timer. */
static void
run(void)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (H.mhd == NULL)
		return;
	if (H.in_run) {
		H.again = 1;
		return;
	}
	H.in_run = 1;
	do {
		H.again = 0;
		MHD_run(H.mhd);
	} while (H.again);
	H.in_run = 0;
	if (H.stopping)
		return;
	/*
	 * At max_connections libmicrohttpd takes its listening socket out of its epoll set and
	 * puts it back only at the start of a later run: once connections have closed, run again
	 * now, or a client waiting to connect waits for the next connection timeout.
	 */
	unsigned n = httpd_connections();
	int freed = H.conns >= H.max_conns && n < H.conns;
	H.conns = n;
	if (freed)
		uv_timer_start(&H.timer, on_timer, 0, 0);
	else if (MHD_get_timeout(H.mhd, &ms) == MHD_YES)
		uv_timer_start(&H.timer, on_timer, ms, 0);
	else
		uv_timer_stop(&H.timer);
}

void
httpd_kick(void)
{
	if (H.mhd && !H.stopping)
		uv_timer_start(&H.timer, on_timer, 0, 0);
}

void
httpd_suspend(struct req *r)
{
	if (!r->suspended) {
		MHD_suspend_connection(r->conn);
		r->suspended = 1;
	}
}

/* libmicrohttpd 0.9.75 does not wake an external loop on resume: ask for a run ourselves. */
void
httpd_resume(struct req *r)
{
	if (r->suspended) {
		r->suspended = 0;
		MHD_resume_connection(r->conn);
		httpd_kick();
	}
}

/* The requests of one group commit, answered once it is on disk. */
static void
batch_durable(void *arg, int ok)
{
	struct req *r = arg;
	metrics_commit(db_last_commit_seconds, ok);
	while (r) {
		struct req *next = r->next_pending;
		r->next_pending = NULL;
		r->wait_commit = 0;
		if (!ok) {
			if (r->response) {
				MHD_destroy_response(r->response);
				r->response = NULL;
			}
			reply_error(r, E_UNAVAILABLE, NULL, "storage failure; nothing was changed");
		}
		httpd_resume(r);
		r = next;
	}
	if (ok)
		deadline_rearm(); /* a booking may have brought the next expiry nearer */
}

/*
 * One commit for every write since the last one; their answers go out once it is durable.
 * While a sync is in flight the transaction stays open and gathers the writes of the loop
 * iterations that follow: they could not be durable before that sync ends anyway, and one
 * commit for all of them writes each page they share once (a batch's requests touch the same
 * index leaves and table tails). The sync's end wakes the loop, and its check commits them.
 */
static void
group_commit(void)
{
	if ((!db_in_txn() && H.pending == NULL) || db_syncing())
		return;
	struct req *batch = H.pending;
	H.pending = NULL;
	db_commit_async(batch_durable, batch);
}

static void
on_prepare(uv_prepare_t *p)
{
	(void)p;
	group_commit();
	log_flush();
}

static void
on_check(uv_check_t *c)
{
	(void)c;
	group_commit();
}

const char *
req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum method
method_parse(const char *m)
{
	for (int i = 0; i < M_OTHER; i++)
		if (strcmp(m, method_name(i)) == 0)
			return i;
	return M_OTHER;
}

static const struct token *
bearer(struct req *r)
{
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return catalogue_token(cat, h);
}

static int
is_json_type(const char *ct)
{
	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	size_t n = strlen("application/json");
	return strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Checks, in the contract's order, everything a route needs before its handler runs. */
static void
dispatch(struct req *r)
{
	r->tok = bearer(r);
	if (r->tok == NULL) {
		int wait = ratelimit_take(r->ip, uv_now(H.loop), cat->rate_per_second, cat->rate_burst);
		if (wait) {
			r->retry_after = wait;
			reply_error(r, E_RATE_LIMITED, NULL, NULL);
			return;
		}
	}
	if (router_match(r))
		return;
	const struct route *rt = r->route;
	if (rt->roles) {
		const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
		if (r->tok == NULL) {
			reply_error(r, E_UNAUTHORIZED, NULL, h ? "unknown token" : NULL);
			return;
		}
		if (!(rt->roles & r->tok->role) && r->tok->role != ROLE_ADMIN) {
			reply_error(r, E_FORBIDDEN, NULL, "the %s role may not do this", r->tok->name);
			return;
		}
	}
	if (r->body_len > 0 && !is_json_type(req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		reply_error(r, E_UNSUPPORTED_MEDIA_TYPE, NULL, NULL);
		return;
	}
	if (rt->body == BODY_JSON) {
		json_error_t jerr;
		r->json = r->body_len ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr)
		                      : NULL;
		if (!json_is_object(r->json)) {
			if (r->body_len == 0)
				reply_error(r, E_INVALID_JSON, NULL, "a JSON object body is required");
			else if (r->json == NULL)
				reply_error(r, E_INVALID_JSON, NULL, "invalid JSON: %s", jerr.text);
			else
				reply_error(r, E_INVALID_JSON, NULL, NULL);
			return;
		}
	}
	uint64_t ops = db_ops(), errors = db_errors();
	rt->handler(r);
	if (db_ops() != ops)
		r->wait_commit = 1;
	/* An answer that only read, made while a read failed, would tell of what it could not see
	 * (a count of 0, a queue left out): it is not sent. (A write's answer stands: its change is
	 * made, and its own failures are its handler's.) */
	else if (db_errors() != errors && r->replied && r->status < 300)
		reply_error(r, E_UNAVAILABLE, NULL, "the database could not be read");
	if (!r->replied && !r->suspended)
		reply_error(r, E_UNAVAILABLE, NULL, "no answer");
}

static enum MHD_Result
queue(struct req *r)
{
	struct MHD_Response *resp = r->response;
	enum MHD_Result ret;
	r->response = NULL;
	if (resp == NULL) {
		resp = MHD_create_response_from_buffer(r->out_len, r->out ? r->out : (char *)"",
		                                       r->out ? MHD_RESPMEM_MUST_FREE
		                                              : MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		r->out = NULL;
		if (r->content_type && r->out_len)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->retry_after) {
		char s[16];
		snprintf(s, sizeof s, "%d", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
	}
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	r->queued = 1;
	return ret;
}

static struct req *
req_new(struct MHD_Connection *c, const char *url, const char *method)
{
	struct req *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->conn = c;
	r->url = url;
	r->method = method_parse(method);
	r->t0 = uv_hrtime();
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->ip, sizeof r->ip);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->ip, sizeof r->ip);
	}
	return r;
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;
	(void)cls, (void)version;
	if (r == NULL) {
		/* The first call sees only the headers; answering now would cost keep-alive. */
		if ((r = req_new(c, url, method)) == NULL)
			return MHD_NO;
		*con_cls = r;
		if (H.stopping) {
			/* No new work while draining: the writes in flight are the last ones. */
			reply_error(r, E_UNAVAILABLE, NULL, "shutting down");
			return queue(r);
		}
		/* A declared length over the limit is refused before a byte of it is read. */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > BODY_MAX) {
			r->too_large = 1;
			reply_error(r, E_PAYLOAD_TOO_LARGE, NULL, NULL);
			return queue(r);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_large && r->body_len + *upload_size <= BODY_MAX) {
			char *b = realloc(r->body, r->body_len + *upload_size + 1);
			if (b == NULL)
				return MHD_NO;
			memcpy(b + r->body_len, upload, *upload_size);
			r->body = b;
			r->body_len += *upload_size;
			r->body[r->body_len] = 0;
		} else if (!r->too_large) {
			r->too_large = 1;
			free(r->body);
			r->body = NULL;
			r->body_len = 0;
		}
		*upload_size = 0; /* a chunked body over the limit is read and dropped */
		return MHD_YES;
	}
	if (r->queued)
		return MHD_YES;
	if (r->too_large) {
		reply_error(r, E_PAYLOAD_TOO_LARGE, NULL, NULL);
		return queue(r);
	}
	if (!r->replied) {
		dispatch(r);
		if (r->suspended)
			return MHD_YES; /* a handler holds it (long-poll, stream) */
		if (r->wait_commit) {
			httpd_suspend(r);
			r->next_pending = H.pending;
			H.pending = r;
			return MHD_YES;
		}
	}
	if (r->suspended)
		return MHD_YES;
	return queue(r);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	(void)cls, (void)c;
	if (r == NULL)
		return;
	double secs = (uv_hrtime() - r->t0) / 1e9;
	const char *name = r->route ? r->route->name : "unmatched";
	log_info("%s %s %d %.1fms%s", method_name(r->method), r->url, r->status, secs * 1000,
	         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	metrics_request(name, r->status, secs);
	if (r->release)
		r->release(r);
	if (r->response)
		MHD_destroy_response(r->response);
	json_decref(r->json);
	free(r->body);
	free(r->out);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_warn("httpd: %s", line);
}

static void
on_closed(uv_handle_t *h)
{
	(void)h;
	H.handles_open--;
}

int
httpd_start(uv_loop_t *loop, const struct catalogue *c, int listen_fd)
{
	H.loop = loop;
	H.max_conns = (unsigned)c->limits.max_connections;
	/* 16 KiB per connection: requests with headers up to about 15 KiB, and libmicrohttpd
	 * touches most of this pool on every connection, so it is what 10,000 displays cost
	 * (32 KiB: 277 MB of RSS for 10,000 event streams; 16 KiB: 170 MB; bench/run sse). */
	H.mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_access,
	    NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->limits.connection_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->limits.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->limits.per_ip_connections,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_LISTEN_BACKLOG_SIZE,
	    (unsigned)1024, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_END);
	if (H.mhd == NULL)
		return -1;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(H.mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL) {
		MHD_stop_daemon(H.mhd);
		H.mhd = NULL;
		return -1;
	}
	uv_poll_init(loop, &H.poll, di->epoll_fd);
	uv_poll_start(&H.poll, UV_READABLE, on_poll);
	uv_timer_init(loop, &H.timer);
	uv_prepare_init(loop, &H.prepare);
	uv_prepare_start(&H.prepare, on_prepare);
	uv_check_init(loop, &H.check);
	uv_check_start(&H.check, on_check);
	H.handles_open = 4;
	httpd_kick();
	return 0;
}

unsigned
httpd_connections(void)
{
	const union MHD_DaemonInfo *di;
	if (H.mhd == NULL)
		return 0;
	di = MHD_get_daemon_info(H.mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di ? di->num_connections : 0;
}

/*
 * Stop accepting; answer every held connection (displays) and commit what waits; let the
 * answers go out for up to half a second; then stop libmicrohttpd and close our handles.
 */
static void (*stopped_cb)(void);
static int drain_ticks;

static void
on_drain(uv_timer_t *t)
{
	group_commit();
	run();
	/* A write waiting for its sync is always waited for: it is answered once durable, and
	 * libmicrohttpd aborts if stopped with a connection suspended. Connections still
	 * sending get half a second. */
	if (H.pending || db_busy() || (httpd_connections() > 0 && ++drain_ticks < 50)) {
		uv_timer_start(t, on_drain, 10, 0);
		return;
	}
	MHD_stop_daemon(H.mhd);
	H.mhd = NULL;
	uv_close((uv_handle_t *)&H.poll, on_closed);
	uv_close((uv_handle_t *)&H.timer, on_closed);
	uv_close((uv_handle_t *)&H.prepare, on_closed);
	uv_close((uv_handle_t *)&H.check, on_closed);
	if (stopped_cb)
		stopped_cb();
}

void
httpd_stop(void (*done)(void))
{
	if (H.mhd == NULL)
		return;
	stopped_cb = done;
	MHD_socket fd = MHD_quiesce_daemon(H.mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	events_shutdown();
	group_commit();
	uv_timer_stop(&H.timer);
	/* The drain timer takes over H.timer: nothing else runs libmicrohttpd from now on. */
	H.stopping = 1;
	uv_timer_start(&H.timer, on_drain, 0, 0);
}
