/*
 * bench/sse.c: how fast a call reaches every hall display. Opens N event streams
 * (GET /v1/points/{point}/events) to a running hangdoid, then makes K calls through the API
 * (walk-in tickets issued first with the kiosk token; then, K times, `complete` and
 * `call-next` with a counter token, INTERVAL ms apart), and measures for every stream and
 * every call the time from sending the call-next request to receiving that call's event
 * (matched by the ticket number in the event's data). Prints p50/p99/max, how many streams
 * received every call, and the daemon's peak RSS (VmHWM of /proc/PID/status).
 *
 * One libuv loop, single thread. The streams come from several loopback source addresses
 * (127.0.0.2 and up, bound before connect), since one source address has about 28k
 * ephemeral ports. Each event is timed twice: by the kernel's receive timestamp of the
 * segment (SO_TIMESTAMPNS: when the daemon's bytes reached the client's socket, whatever the
 * client was busy with), and by the clock when this process read it (which adds this
 * client's own queueing: it shares the machine's cores with the daemon).
 *
 *   bench-sse -p PORT -K KIOSK_TOKEN -c COUNTER -C COUNTER_TOKEN [-P POINT] [-s SERVICE]
 *             [-n STREAMS] [-k CALLS] [-i INTERVAL_MS] [-S SOURCES] [-d DAEMON_PID]
 *             [-A ADMIN_TOKEN] [-T POLL_MS]
 *
 * -T: the streams are read by polling every POLL_MS ms (default 1), never by sleeping in
 * epoll_wait (see main); 0 sleeps in epoll_wait like an ordinary client.
 *
 * Exit status: 0 if the run completed (whatever the figures), 1 if it could not be run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define CONNECTS_IN_FLIGHT 256
#define LINE_MAX_LEN 2048

enum { ST_IDLE, ST_CONNECTING, ST_HEAD, ST_BODY, ST_CLOSED };
enum { CH_SIZE, CH_DATA, CH_CRLF, CH_END };

struct stream {
	int fd, state, chunked, poll_open;
	uv_poll_t poll;
	char head[2048];
	size_t head_len;
	int ch_state, ch_ext;
	size_t ch_left;
	char line[LINE_MAX_LEN];
	size_t line_len;
	int line_long;
	long number; /* the ticket number (digits) of the event being read, -1 if none */
	int received;
	int64_t *kernel_ns, *user_ns; /* by ticket number: when its event arrived (0: not yet) */
};

static struct {
	int port, nstreams, ncalls, interval_ms, nsources, daemon_pid, poll_ms;
	const char *point, *service, *kiosk_token, *counter, *counter_token, *admin_token;
	uv_loop_t *loop;
	struct stream *streams;
	int next_to_connect, connecting, established, failed, closed_early, phase_calls;
	long max_number;
	int64_t t_setup0, t_setup1;
	/* the calls, made by their own thread so that reading 10,000 streams never delays them */
	uv_thread_t caller;
	uv_async_t calls_done;
	uv_timer_t timer;
	int api_fd, calls_made;
	int64_t *sent_ns, *answered_ns; /* by call: call-next sent, its answer received */
	long *call_number;
	int64_t drain_deadline;
	int done;
	long cpu0[2], cpu1[2]; /* the daemon's user and system clock ticks at the first and last call */
} B;

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-sse: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int64_t
now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- a blocking HTTP/1.1 client for the few API requests (keep-alive) ----------------- */

static int
api_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(B.port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("cannot connect to 127.0.0.1:%d: %s", B.port, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Sends one request on *FD (reconnecting if the server closed it); returns the status and
 * the body (malloc'd, NUL-terminated) in *BODY. */
static int
api(int *fd, const char *method, const char *path, const char *token, const char *json,
    char **body)
{
	char req[1024], *buf = NULL;
	size_t len = 0, cap = 0, head_end = 0, want = 0;
	int status = 0, chunked = 0, closing = 0, n;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (*fd < 0)
			*fd = api_connect();
		n = snprintf(req, sizeof req,
		             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
		             "%sContent-Length: %zu\r\n\r\n%s",
		             method, path, token, json ? "Content-Type: application/json\r\n" : "",
		             json ? strlen(json) : 0, json ? json : "");
		if (send(*fd, req, n, MSG_NOSIGNAL) == n)
			break;
		close(*fd);
		*fd = -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			if ((buf = realloc(buf, cap)) == NULL)
				die("out of memory");
		}
		ssize_t r = recv(*fd, buf + len, cap - len - 1, 0);
		if (r <= 0)
			die("%s %s: connection ended before the answer (%s)", method, path,
			    r < 0 ? strerror(errno) : "closed");
		len += r;
		buf[len] = 0;
		if (!head_end) {
			char *e = strstr(buf, "\r\n\r\n");
			if (e == NULL)
				continue;
			head_end = e - buf + 4;
			status = atoi(buf + 9);
			char *cl = strcasestr(buf, "\r\nContent-Length:");
			if (cl && cl < e)
				want = strtoul(cl + 17, NULL, 10);
			char *te = strcasestr(buf, "\r\nTransfer-Encoding: chunked");
			chunked = te && te < e;
			char *cc = strcasestr(buf, "\r\nConnection: close");
			closing = cc && cc < e;
			if (chunked)
				die("%s %s: a chunked answer; not expected here", method, path);
		}
		if (len >= head_end + want)
			break;
	}
	memmove(buf, buf + head_end, want);
	buf[want] = 0;
	if (body)
		*body = buf;
	else
		free(buf);
	if (closing) {
		close(*fd);
		*fd = -1;
	}
	return status;
}

/* The digits of "number":"A123" in JSON text S, or -1. */
static long
number_in(const char *s)
{
	const char *p = strstr(s, "\"number\":\"");
	if (p == NULL)
		return -1;
	p += 10;
	while (*p && !isdigit((unsigned char)*p) && *p != '"')
		p++;
	return isdigit((unsigned char)*p) ? strtol(p, NULL, 10) : -1;
}

/* ---- the streams -------------------------------------------------------------------- */

static void start_connects(void);
static void start_calls(void);

static void
stream_close(struct stream *s, int early)
{
	if (s->state == ST_CLOSED)
		return;
	if (early) {
		if (s->state == ST_BODY)
			B.closed_early++;
		else
			B.failed++;
		if (s->state != ST_BODY)
			B.connecting--;
	}
	s->state = ST_CLOSED;
	if (s->poll_open) {
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, NULL);
		s->poll_open = 0;
	}
	close(s->fd);
	s->fd = -1;
}

static void
sse_line(struct stream *s, int64_t kernel, int64_t user)
{
	char *l = s->line;
	if (s->line_len && l[s->line_len - 1] == '\r')
		s->line_len--;
	l[s->line_len] = 0;
	if (s->line_len == 0) { /* the end of an event: dispatch it */
		if (s->number > 0 && s->number <= B.max_number && s->kernel_ns[s->number] == 0) {
			s->kernel_ns[s->number] = kernel;
			s->user_ns[s->number] = user;
			s->received++;
		}
		s->number = -1;
	} else if (strncmp(l, "data:", 5) == 0 && !s->line_long) {
		s->number = number_in(l);
	}
	s->line_len = 0;
	s->line_long = 0;
}

static void
sse_bytes(struct stream *s, const char *p, size_t n, int64_t kernel, int64_t user)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			sse_line(s, kernel, user);
		else if (s->line_len < LINE_MAX_LEN - 1)
			s->line[s->line_len++] = p[i];
		else
			s->line_long = 1;
	}
}

static int
hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

/* The body: HTTP/1.1 chunked transfer decoded, then SSE lines. */
static void
body_bytes(struct stream *s, const char *p, size_t n, int64_t kernel, int64_t user)
{
	if (!s->chunked) {
		sse_bytes(s, p, n, kernel, user);
		return;
	}
	while (n) {
		char c;
		size_t k;
		switch (s->ch_state) {
		case CH_SIZE:
			c = *p++;
			n--;
			if (c == '\n')
				s->ch_state = s->ch_left ? CH_DATA : CH_END;
			else if (c == ';')
				s->ch_ext = 1;
			else if (isxdigit((unsigned char)c) && !s->ch_ext)
				s->ch_left = s->ch_left * 16 + hexval(c);
			break;
		case CH_DATA:
			k = n < s->ch_left ? n : s->ch_left;
			sse_bytes(s, p, k, kernel, user);
			p += k;
			n -= k;
			s->ch_left -= k;
			if (s->ch_left == 0)
				s->ch_state = CH_CRLF;
			break;
		case CH_CRLF:
			c = *p++;
			n--;
			if (c == '\n') {
				s->ch_state = CH_SIZE;
				s->ch_left = 0;
				s->ch_ext = 0;
			}
			break;
		default: /* the last chunk: the server ended the stream */
			n = 0;
			break;
		}
	}
}

static void
head_bytes(struct stream *s, const char *p, size_t n, int64_t kernel, int64_t user)
{
	size_t room = sizeof s->head - 1 - s->head_len, take = n < room ? n : room;
	memcpy(s->head + s->head_len, p, take);
	s->head_len += take;
	s->head[s->head_len] = 0;
	char *e = strstr(s->head, "\r\n\r\n");
	if (e == NULL) {
		if (s->head_len == sizeof s->head - 1) {
			fprintf(stderr, "bench-sse: a response head over %zu bytes\n", sizeof s->head);
			stream_close(s, 1);
			start_connects();
		}
		return;
	}
	*e = 0;
	if (strncmp(s->head, "HTTP/1.1 200", 12) != 0 || !strcasestr(s->head, "text/event-stream")) {
		if (B.failed < 3)
			fprintf(stderr, "bench-sse: a stream was refused: %.200s\n", s->head);
		stream_close(s, 1);
		start_connects();
		return;
	}
	s->chunked = strcasestr(s->head, "Transfer-Encoding: chunked") != NULL;
	s->state = ST_BODY;
	B.connecting--;
	B.established++;
	size_t used = (e + 4) - s->head - (s->head_len - take); /* bytes of P in the head */
	if (used < n)
		body_bytes(s, p + used, n - used, kernel, user);
	start_connects();
}

static void
on_stream_io(uv_poll_t *h, int status, int events)
{
	struct stream *s = h->data;
	if (status < 0 && s->state != ST_BODY) {
		stream_close(s, 1);
		start_connects();
		return;
	}
	if (s->state == ST_CONNECTING && (events & UV_WRITABLE)) {
		int err = 0;
		socklen_t len = sizeof err;
		char req[512];
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		int n = snprintf(req, sizeof req,
		                 "GET /v1/points/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		                 "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
		                 B.point);
		if (err || send(s->fd, req, n, MSG_NOSIGNAL) != n) {
			if (B.failed < 3)
				fprintf(stderr, "bench-sse: connect: %s\n", strerror(err ? err : errno));
			stream_close(s, 1);
			start_connects();
			return;
		}
		s->state = ST_HEAD;
		uv_poll_start(&s->poll, UV_READABLE, on_stream_io);
		return;
	}
	if (!(events & UV_READABLE))
		return;
	for (;;) {
		char buf[65536], ctl[CMSG_SPACE(sizeof(struct timespec)) + 64];
		struct iovec iov = {buf, sizeof buf};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
		                   .msg_controllen = sizeof ctl};
		ssize_t r = recvmsg(s->fd, &m, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			stream_close(s, !B.done);
			start_connects();
			return;
		}
		int64_t user = now_ns(), kernel = user;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec t;
				memcpy(&t, CMSG_DATA(c), sizeof t);
				kernel = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
			}
		}
		if (s->state == ST_HEAD)
			head_bytes(s, buf, r, kernel, user);
		else if (s->state == ST_BODY)
			body_bytes(s, buf, r, kernel, user);
		if (s->state == ST_CLOSED)
			return;
	}
}

static void
stream_connect(struct stream *s, int i)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET,
	                                                         .sin_port = htons(B.port)};
	int one = 1;
	src.sin_addr.s_addr = htonl(0x7f000002 + (uint32_t)(i % B.nsources)); /* 127.0.0.2.. */
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		die("socket: %s (stream %d; raise the open file limit)", strerror(errno), i);
	setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
	if (bind(s->fd, (struct sockaddr *)&src, sizeof src) < 0)
		die("bind to 127.0.0.%d: %s", 2 + i % B.nsources, strerror(errno));
	if (connect(s->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
		die("connect: %s", strerror(errno));
	s->state = ST_CONNECTING;
	s->number = -1;
	B.connecting++;
	if (uv_poll_init_socket(B.loop, &s->poll, s->fd))
		die("uv_poll_init_socket failed");
	s->poll.data = s;
	s->poll_open = 1;
	uv_poll_start(&s->poll, UV_WRITABLE, on_stream_io);
}

/* Keeps CONNECTS_IN_FLIGHT connections opening until every stream has been tried. */
static void
start_connects(void)
{
	while (B.connecting < CONNECTS_IN_FLIGHT && B.next_to_connect < B.nstreams) {
		int i = B.next_to_connect++;
		stream_connect(&B.streams[i], i);
	}
	if (!B.phase_calls && B.connecting == 0 && B.next_to_connect == B.nstreams) {
		B.phase_calls = 1;
		B.t_setup1 = now_ns();
		start_calls();
	}
}

/* ---- the calls ---------------------------------------------------------------------- */

static int
all_received(void)
{
	for (int i = 0; i < B.nstreams; i++)
		if (B.streams[i].state == ST_BODY && B.streams[i].received < B.calls_made)
			return 0;
	return 1;
}

static void
on_drain(uv_timer_t *t)
{
	if (all_received() || now_ns() > B.drain_deadline) {
		uv_timer_stop(t);
		B.done = 1;
		uv_stop(B.loop);
	}
}

/* The daemon's user and system CPU time so far, in clock ticks (from /proc/PID/stat). */
static void
daemon_cpu(long cpu[2])
{
	char path[64], buf[2048], *p;
	FILE *f;
	cpu[0] = cpu[1] = -1;
	snprintf(path, sizeof path, "/proc/%d/stat", B.daemon_pid);
	if (B.daemon_pid <= 0 || (f = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) != NULL) {
		/* after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
		 * cmajflt utime stime */
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &cpu[0],
		           &cpu[1]) != 2)
			cpu[0] = cpu[1] = -1;
	}
	fclose(f);
}

/* One call: complete the previous ticket (but for the first call), then call-next, timed. */
static void
call_once(void)
{
	char path[256], *body = NULL;
	int st;
	if (B.calls_made > 0) {
		snprintf(path, sizeof path, "/v1/counters/%s/complete", B.counter);
		if ((st = api(&B.api_fd, "POST", path, B.counter_token, NULL, NULL)) != 200)
			die("POST %s: %d", path, st);
	}
	snprintf(path, sizeof path, "/v1/counters/%s/call-next", B.counter);
	B.sent_ns[B.calls_made] = now_ns();
	st = api(&B.api_fd, "POST", path, B.counter_token, NULL, &body);
	B.answered_ns[B.calls_made] = now_ns();
	if (st != 200)
		die("POST %s: %d %s", path, st, body ? body : "");
	B.call_number[B.calls_made] = number_in(body);
	if (B.call_number[B.calls_made] <= 0 || B.call_number[B.calls_made] > B.max_number)
		die("call %d: unexpected ticket number in %s", B.calls_made, body);
	free(body);
	B.calls_made++;
}

/* The caller thread: a call at t0, t0 + INTERVAL, t0 + 2 INTERVAL, ... (or at once when the
 * previous one took longer than the interval). */
static void
caller(void *arg)
{
	struct timespec t0, at;
	(void)arg;
	daemon_cpu(B.cpu0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < B.ncalls; k++) {
		int64_t ns = (int64_t)t0.tv_nsec + (int64_t)k * B.interval_ms * 1000000;
		at.tv_sec = t0.tv_sec + (time_t)(ns / 1000000000);
		at.tv_nsec = (long)(ns % 1000000000);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
			;
		call_once();
	}
	daemon_cpu(B.cpu1);
	uv_async_send(&B.calls_done);
}

static void
on_calls_done(uv_async_t *a)
{
	(void)a;
	uv_thread_join(&B.caller);
	B.drain_deadline = now_ns() + 10 * (int64_t)1000000000;
	uv_timer_start(&B.timer, on_drain, 20, 20);
}

static long
metric_value(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtol(p + n + 1, NULL, 10);
	return -1;
}

static void
start_calls(void)
{
	printf("sse: %d streams open (%d refused or failed) in %.1f s, from %d source addresses\n",
	       B.established, B.failed, (B.t_setup1 - B.t_setup0) / 1e9, B.nsources);
	if (B.admin_token) {
		char *body = NULL;
		if (api(&B.api_fd, "GET", "/metrics", B.admin_token, NULL, &body) == 200)
			printf("sse: the daemon counts %ld event streams, %ld connections\n",
			       metric_value(body, "hangdoi_event_streams"),
			       metric_value(body, "hangdoi_connections"));
		free(body);
	}
	fflush(stdout);
	if (uv_thread_create(&B.caller, caller, NULL))
		die("cannot start the caller thread");
}

/* ---- results ------------------------------------------------------------------------ */

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void
report(const char *what, int kernel)
{
	size_t n = 0, cap = (size_t)B.nstreams * B.calls_made;
	int64_t *v = malloc((cap ? cap : 1) * sizeof *v);
	if (v == NULL)
		die("out of memory");
	for (int i = 0; i < B.nstreams; i++) {
		struct stream *s = &B.streams[i];
		for (int k = 0; k < B.calls_made; k++) {
			int64_t at = (kernel ? s->kernel_ns : s->user_ns)[B.call_number[k]];
			if (at)
				v[n++] = at - B.sent_ns[k];
		}
	}
	qsort(v, n, sizeof *v, cmp64);
	if (n == 0) {
		printf("sse: %s: no events received\n", what);
	} else {
		printf("sse: %s: p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%zu events)\n", what,
		       v[n / 2] / 1e6, v[(size_t)((n - 1) * 0.99)] / 1e6, v[n - 1] / 1e6, n);
	}
	free(v);
}

static int64_t
median(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp64);
	return n ? v[n / 2] : 0;
}

/* Where the time goes, per call (medians over the calls): the call-next answer, the first
 * and the last stream's event. The last minus the first is the fan-out to every stream. */
static void
report_fanout(void)
{
	int k, m = B.calls_made;
	int64_t *answer = calloc(m + 1, sizeof *answer), *first = calloc(m + 1, sizeof *first),
	        *last = calloc(m + 1, sizeof *last);
	if (!answer || !first || !last)
		die("out of memory");
	for (k = 0; k < m; k++) {
		int64_t lo = INT64_MAX, hi = 0;
		for (int i = 0; i < B.nstreams; i++) {
			int64_t at = B.streams[i].kernel_ns[B.call_number[k]];
			if (at == 0)
				continue;
			lo = at - B.sent_ns[k] < lo ? at - B.sent_ns[k] : lo;
			hi = at - B.sent_ns[k] > hi ? at - B.sent_ns[k] : hi;
		}
		answer[k] = B.answered_ns[k] - B.sent_ns[k];
		first[k] = lo == INT64_MAX ? 0 : lo;
		last[k] = hi;
	}
	printf("sse: per call (medians): call-next answered after %.1f ms; first stream's event "
	       "after %.1f ms, last after %.1f ms\n",
	       median(answer, m) / 1e6, median(first, m) / 1e6, median(last, m) / 1e6);
	free(answer);
	free(first);
	free(last);
}

static void
daemon_memory(void)
{
	char path[64], line[256];
	FILE *f;
	if (B.daemon_pid <= 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/status", B.daemon_pid);
	if ((f = fopen(path, "r")) == NULL) {
		printf("sse: daemon memory: cannot read %s\n", path);
		return;
	}
	long hwm = -1, rss = -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			hwm = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			rss = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	if (B.cpu0[0] >= 0 && B.cpu1[0] >= 0 && B.calls_made > 0) {
		double hz = (double)sysconf(_SC_CLK_TCK);
		printf("sse: daemon CPU during the calls: %.1f ms per call (user %.1f, system %.1f)\n",
		       ((B.cpu1[0] - B.cpu0[0]) + (B.cpu1[1] - B.cpu0[1])) * 1000.0 / hz / B.calls_made,
		       (B.cpu1[0] - B.cpu0[0]) * 1000.0 / hz / B.calls_made,
		       (B.cpu1[1] - B.cpu0[1]) * 1000.0 / hz / B.calls_made);
	}
	printf("sse: daemon peak RSS (VmHWM) %.1f MB, RSS now %.1f MB\n", hwm / 1024.0, rss / 1024.0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench-sse -p PORT -K KIOSK_TOKEN -c COUNTER -C COUNTER_TOKEN [-P POINT]"
	                " [-s SERVICE] [-n STREAMS] [-k CALLS] [-i INTERVAL_MS] [-S SOURCES]"
	                " [-d DAEMON_PID] [-A ADMIN_TOKEN] [-T POLL_MS]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	int c;
	B.nstreams = 10000;
	B.ncalls = 200;
	B.interval_ms = 50;
	B.nsources = 8;
	B.poll_ms = 1;
	B.point = "bench-p1";
	B.service = "svc-1";
	while ((c = getopt(argc, argv, "p:P:s:n:k:i:S:d:K:c:C:A:T:")) != -1) {
		switch (c) {
		case 'p': B.port = atoi(optarg); break;
		case 'P': B.point = optarg; break;
		case 's': B.service = optarg; break;
		case 'n': B.nstreams = atoi(optarg); break;
		case 'k': B.ncalls = atoi(optarg); break;
		case 'i': B.interval_ms = atoi(optarg); break;
		case 'S': B.nsources = atoi(optarg); break;
		case 'd': B.daemon_pid = atoi(optarg); break;
		case 'K': B.kiosk_token = optarg; break;
		case 'c': B.counter = optarg; break;
		case 'C': B.counter_token = optarg; break;
		case 'A': B.admin_token = optarg; break;
		case 'T': B.poll_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (B.port <= 0 || !B.kiosk_token || !B.counter || !B.counter_token || B.nstreams < 1 ||
	    B.ncalls < 1 || B.interval_ms < 1 || B.nsources < 1 || B.nsources > 250 || B.poll_ms < 0)
		usage();

	/* every stream is a descriptor: take all the hard limit allows */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)B.nstreams + 64)
			die("the open file limit is %llu: too low for %d streams",
			    (unsigned long long)rl.rlim_cur, B.nstreams);
	}

	/* the queue: CALLS walk-in tickets, so that every call-next calls someone */
	char path[256], json[256], *body = NULL;
	B.api_fd = -1;
	snprintf(path, sizeof path, "/v1/points/%s/tickets", B.point);
	snprintf(json, sizeof json, "{\"service\":\"%s\"}", B.service);
	for (int k = 0; k < B.ncalls; k++) {
		int st = api(&B.api_fd, "POST", path, B.kiosk_token, json, &body);
		if (st != 201)
			die("POST %s: %d %s", path, st, body);
		long num = number_in(body);
		if (num > B.max_number)
			B.max_number = num;
		free(body);
	}
	B.max_number += 1000; /* room for tickets others issue meanwhile */
	printf("sse: %d walk-in tickets issued at %s (service %s)\n", B.ncalls, B.point, B.service);

	B.streams = calloc(B.nstreams, sizeof *B.streams);
	B.sent_ns = calloc(B.ncalls, sizeof *B.sent_ns);
	B.answered_ns = calloc(B.ncalls, sizeof *B.answered_ns);
	B.call_number = calloc(B.ncalls, sizeof *B.call_number);
	if (!B.streams || !B.sent_ns || !B.answered_ns || !B.call_number)
		die("out of memory");
	for (int i = 0; i < B.nstreams; i++) {
		B.streams[i].fd = -1;
		B.streams[i].kernel_ns = calloc(B.max_number + 1, sizeof(int64_t));
		B.streams[i].user_ns = calloc(B.max_number + 1, sizeof(int64_t));
		if (!B.streams[i].kernel_ns || !B.streams[i].user_ns)
			die("out of memory");
	}

	B.loop = uv_default_loop();
	uv_timer_init(B.loop, &B.timer);
	uv_async_init(B.loop, &B.calls_done, on_calls_done);
	B.t_setup0 = now_ns();
	start_connects();
	if (B.poll_ms == 0) {
		uv_run(B.loop, UV_RUN_DEFAULT);
	} else {
		/* Polled, never asleep in epoll_wait: on loopback a sleeping reader is woken by
		 * the sender's own send, and the daemon would pay for this client's wake-ups
		 * (readers on other hosts cost it nothing of the kind). The arrival times are the
		 * kernel's, unaffected by the polling. */
		struct timespec gap = {0, (long)B.poll_ms * 1000000};
		while (!B.done) {
			uv_run(B.loop, UV_RUN_NOWAIT);
			if (!B.done)
				nanosleep(&gap, NULL);
		}
	}

	int complete = 0;
	long received = 0;
	for (int i = 0; i < B.nstreams; i++) {
		struct stream *s = &B.streams[i];
		int all = 1;
		for (int k = 0; k < B.calls_made; k++) {
			if (s->kernel_ns[B.call_number[k]])
				received++;
			else
				all = 0;
		}
		complete += all && B.calls_made > 0;
	}
	printf("sse: %d calls at %s, one every %d ms asked, %.1f ms on average, by %s\n",
	       B.calls_made, B.point, B.interval_ms,
	       B.calls_made > 1
	           ? (B.sent_ns[B.calls_made - 1] - B.sent_ns[0]) / 1e6 / (B.calls_made - 1)
	           : 0.0,
	       B.counter);
	report("call-next sent -> event received (kernel receive timestamp)", 1);
	report("call-next sent -> event read by this client (user space)", 0);
	report_fanout();
	printf("sse: streams that received every call: %d/%d; events missing: %ld of %ld; "
	       "streams ended early: %d\n",
	       complete, B.nstreams, (long)B.nstreams * B.calls_made - received,
	       (long)B.nstreams * B.calls_made, B.closed_early);
	daemon_memory();
	fflush(stdout);

	for (int i = 0; i < B.nstreams; i++)
		stream_close(&B.streams[i], 0);
	uv_close((uv_handle_t *)&B.timer, NULL);
	uv_close((uv_handle_t *)&B.calls_done, NULL);
	uv_run(B.loop, UV_RUN_DEFAULT);
	if (B.api_fd >= 0)
		close(B.api_fd);
	return 0;
}
