/*
 * webhook.c: webhook deliveries.
 *
 * A change that hooks ask for writes its deliveries in its own savepoint (webhook_enqueue):
 * the body and its signature are made then, so every attempt sends the same bytes. The
 * sender, libcurl's multi interface on the loop's sockets and timers, POSTs only what is on
 * disk: deliveries are numbered here, never reusing a number, and a commit's hook raises
 * `durable` to the highest number it made durable; a lost transaction raises nothing. At most
 * MAX_FLIGHT attempts run at once, at most PER_URL of them to one URL (a dead receiver does
 * not hold up the others). An attempt that gets no 2xx is tried again after 1 s, 2 s, 4 s,
 * ... (at most 10 minutes apart) until 24 hours after the change. The end of each attempt
 * is recorded; a restart, or the test clock moved, makes everything pending due at once: at
 * least once.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "digest.h"
#include "log.h"
#include "metrics.h"
#include "ticket.h"
#include "webhook.h"

#define MAX_FLIGHT 8
#define PER_URL 2
#define LOOK_AHEAD 64 /* due rows read to fill the flights */
#define GIVE_UP_SECONDS 86400
#define ATTEMPT_TIMEOUT_MS 10000L
#define PAUSE_MS 10000 /* after the end of an attempt could not be kept */

struct flight {
	int64_t id, created_at;
	int attempts; /* with this one */
	CURL *easy;
	struct curl_slist *headers;
	char *url, *body;
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct sock *prev, *next; /* every socket libcurl has us watch */
};

static uv_loop_t *loop;
static CURLM *multi;
static uv_timer_t curl_timer, due_timer;
static struct flight flights[MAX_FLIGHT];
static int nflights, ready;
static int record_hooked;      /* a commit hook waits for the ends recorded in its batch */
static uint64_t paused_until; /* uv_now() before which nothing is sent: see on_recorded */
static struct sock *socks;
static int64_t next_id;  /* the number the next delivery takes; 0 until read */
static int64_t durable; /* every delivery numbered up to this is on disk, or was never kept */

int
webhook_backoff(int attempts)
{
	int wait = 1;
	for (int i = 1; i < attempts && wait < 600; i++)
		wait *= 2;
	return wait < 600 ? wait : 600;
}

static void on_due(uv_timer_t *t);

/* Looks for due deliveries on the next turn of the loop (never inside a commit or a callback). */
static void
kick(void)
{
	if (ready)
		uv_timer_start(&due_timer, on_due, 0, 0);
}

/* ---- enqueue: inside the change's savepoint ---- */

/* The transaction that wrote deliveries up to ARG is on disk (OK) or lost. */
static void
on_commit(void *arg, int ok)
{
	int64_t upto = (int64_t)(intptr_t)arg;
	if (ok && upto > durable)
		durable = upto;
	if (ok)
		kick();
}

/* Numbers are never reused, not even those of a savepoint rolled back: see on_commit. */
static int
numbering(void)
{
	if (next_id > 0)
		return 0;
	int64_t last = store_delivery_last_id();
	if (last < 0)
		return -1;
	next_id = last + 1;
	durable = last; /* what is in the database when we start is committed */
	return 0;
}

int
webhook_enqueue(enum hook_event event, const struct ticket *t, int64_t now)
{
	const char *name = hook_event_name(event);
	if (numbering())
		return -1;
	json_t *o = json_pack("{s:s, s:o, s:o}", "event", name, "at", instant_json(now), "ticket",
	                      ticket_json(t, VIEW_PUBLIC));
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char sig[7 + 65] = "sha256=";
	int rc = body ? 0 : -1, made = 0;
	json_decref(o);
	for (int i = 0; rc == 0 && i < cat->nwebhooks; i++) {
		const struct webhook *h = &cat->webhooks[i];
		if (!(h->events & event))
			continue;
		if (digest_hmac(h->secret, strlen(h->secret), body, sig + 7) ||
		    store_delivery_add(next_id++, h->url, name, t->id, body, sig, now))
			rc = -1;
		made = 1;
	}
	free(body);
	if (rc == 0 && made && db_on_commit(on_commit, (void *)(intptr_t)(next_id - 1)))
		rc = -1;
	return rc;
}

/* ---- the sender ---- */

static void
flight_free(struct flight *f)
{
	if (f->easy) {
		curl_multi_remove_handle(multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->headers);
	free(f->url);
	free(f->body);
	*f = flights[--nflights];
	memset(&flights[nflights], 0, sizeof flights[nflights]);
}

/*
 * What may be sent now: what is on disk, not in flight, and not to a URL with PER_URL
 * attempts in flight (its rows would fill the look-ahead and hold the other hooks up).
 */
static void
sendable(struct delivery_filter *f)
{
	int nbusy = 0;
	memset(f, 0, sizeof *f);
	f->upto = durable;
	for (int i = 0; i < nflights; i++) {
		f->skip[i] = flights[i].id;
		int same = 0;
		for (int j = 0; j < nflights; j++)
			same += strcmp(flights[i].url, flights[j].url) == 0;
		int listed = 0;
		for (int k = 0; k < nbusy; k++)
			listed |= strcmp(f->busy[k], flights[i].url) == 0;
		if (same >= PER_URL && !listed && nbusy < DELIVERY_BUSY)
			f->busy[nbusy++] = flights[i].url;
	}
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* Appends LINE to F's headers; 0 or -1 (the list is kept as it was). */
static int
header(struct flight *f, const char *line)
{
	struct curl_slist *h = curl_slist_append(f->headers, line);
	if (h == NULL)
		return -1;
	f->headers = h;
	return 0;
}

/* Takes D into a free flight, unless its URL has PER_URL in flight now (see sendable). */
static int
take(const struct delivery *d, void *arg)
{
	(void)arg;
	char line[64], *sig;
	int same = 0;
	if (nflights == MAX_FLIGHT)
		return 1;
	for (int i = 0; i < nflights; i++)
		same += strcmp(flights[i].url, d->url) == 0;
	if (same >= PER_URL)
		return 0; /* the next look leaves its URL out */
	struct flight *f = &flights[nflights++];
	*f = (struct flight){.id = d->id, .created_at = d->created_at, .attempts = d->attempts + 1};
	snprintf(line, sizeof line, "X-Hangdoi-Event: %s", d->event);
	if (asprintf(&sig, "X-Hangdoi-Signature: %s", d->signature) < 0)
		sig = NULL;
	f->url = strdup(d->url);
	f->body = strdup(d->body);
	f->easy = curl_easy_init();
	int bad = sig == NULL || f->url == NULL || f->body == NULL || f->easy == NULL ||
	          header(f, "Content-Type: application/json") || header(f, line) || header(f, sig);
	free(sig);
	if (bad) {
		log_error("webhook: out of memory for delivery %lld", (long long)d->id);
		flight_free(f);
		return 1;
	}
	CURL *e = f->easy;
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(f->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "hangdoi");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ATTEMPT_TIMEOUT_MS / 2);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	return 0;
}

/* Arms the timer for the next delivery due, unless all flights are taken (an end looks again). */
static void
rearm(void)
{
	struct delivery_filter f;
	if (!ready || nflights == MAX_FLIGHT)
		return;
	sendable(&f);
	int64_t next = store_delivery_next(&f), now = clock_now();
	if (next == 0)
		uv_timer_stop(&due_timer);
	else
		uv_timer_start(&due_timer, on_due, next > now ? (uint64_t)(next - now) * 1000 : 0, 0);
}

static void
on_due(uv_timer_t *t)
{
	(void)t;
	struct delivery_filter f;
	int from = nflights;
	if (db_failed())
		return; /* nothing can be recorded: what is pending goes out after a restart */
	if (uv_now(loop) < paused_until) {
		uv_timer_start(&due_timer, on_due, paused_until - uv_now(loop), 0);
		return;
	}
	sendable(&f);
	if (nflights < MAX_FLIGHT && store_deliveries_due(clock_now(), &f, LOOK_AHEAD, take, NULL))
		log_error("webhook: cannot read the pending deliveries");
	for (int i = from; i < nflights; i++) {
		if (curl_multi_add_handle(multi, flights[i].easy) != CURLM_OK) {
			log_error("webhook: cannot start delivery %lld", (long long)flights[i].id);
			flight_free(&flights[i]);
			i--; /* the last flight, not started either, moved here */
		}
	}
	rearm();
}

/*
 * The batch holding the ends of attempts is on disk, or lost: then the rows are as before the
 * attempts, due at once, and sending them again at once would repeat them as fast as the
 * receiver answers while the disk refuses. Sending pauses a while instead.
 */
static void
on_recorded(void *arg, int ok)
{
	(void)arg;
	record_hooked = 0;
	if (!ok && ready) {
		log_error("webhook: the ends of attempts were not kept; sending again in %d s",
		          PAUSE_MS / 1000);
		paused_until = uv_now(loop) + PAUSE_MS;
	}
}

/* Records how F's attempt ended: RESULT and STATUS (0 for no answer). */
static void
record(const struct flight *f, CURLcode result, long status)
{
	int64_t now = clock_now();
	int rc;
	if (result == CURLE_OK && status >= 200 && status < 300) {
		rc = store_delivery_set(f->id, f->attempts, now, (int)status, "delivered", now);
		metrics_webhook("delivered");
	} else if (now - f->created_at >= GIVE_UP_SECONDS) {
		log_error("webhook: delivery %lld to %s given up after %d attempts (last: %s, HTTP %ld)",
		          (long long)f->id, f->url, f->attempts, curl_easy_strerror(result), status);
		rc = store_delivery_set(f->id, f->attempts, now, (int)status, "gave_up", now);
		metrics_webhook("gave_up");
	} else {
		/* The last attempt is at the 24 hours, not a backoff past them. */
		int64_t next = now + webhook_backoff(f->attempts);
		if (next > f->created_at + GIVE_UP_SECONDS)
			next = f->created_at + GIVE_UP_SECONDS;
		log_info("webhook: delivery %lld to %s: attempt %d failed (%s, HTTP %ld); again in %lld s",
		         (long long)f->id, f->url, f->attempts, curl_easy_strerror(result), status,
		         (long long)(next - now));
		rc = store_delivery_set(f->id, f->attempts, next, (int)status, NULL, 0);
		metrics_webhook("failed");
	}
	if (rc) {
		log_error("webhook: cannot record the end of delivery %lld", (long long)f->id);
		paused_until = uv_now(loop) + PAUSE_MS;
	} else if (!record_hooked && db_on_commit(on_recorded, NULL) == 0) {
		record_hooked = 1;
	}
}

/* What libcurl says has ended: recorded, and its flight freed; then the next ones start. */
static void
ended(void)
{
	CURLMsg *m;
	int left, any = 0;
	while ((m = curl_multi_info_read(multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode result = m->data.result; /* M is gone once E is removed */
		long status = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		for (int i = 0; i < nflights; i++)
			if (flights[i].easy == e) {
				record(&flights[i], result, status);
				flight_free(&flights[i]);
				any = 1;
				break;
			}
	}
	if (any)
		kick();
}

static void
on_curl_timeout(uv_timer_t *t)
{
	(void)t;
	int running;
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	ended();
}

static int
curl_timer_cb(CURLM *m, long ms, void *arg)
{
	(void)m;
	(void)arg;
	if (ms < 0)
		uv_timer_stop(&curl_timer);
	else
		uv_timer_start(&curl_timer, on_curl_timeout, (uint64_t)ms, 0);
	return 0;
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	int flags = status < 0 ? CURL_CSELECT_ERR : 0, running;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(multi, s->fd, flags, &running);
	ended();
}

static void
sock_free(uv_handle_t *h)
{
	free(h->data);
}

static void
sock_close(struct sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_free);
}

static int
socket_cb(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	(void)e;
	(void)arg;
	struct sock *s = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof *s)) == NULL)
			return -1;
		if (uv_poll_init_socket(loop, &s->poll, fd)) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->poll.data = s;
		if ((s->next = socks) != NULL)
			socks->prev = s;
		socks = s;
		curl_multi_assign(multi, fd, s);
	}
	int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
	return uv_poll_start(&s->poll, ev, on_poll) ? -1 : 0;
}

void
webhook_clock_set(void)
{
	if (ready && store_deliveries_due_now(clock_now()) == 0)
		kick();
}

int
webhook_init(uv_loop_t *l)
{
	loop = l;
	/* The database first: a failure leaves nothing to close. */
	if (numbering() || store_deliveries_due_now(clock_now()))
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if ((multi = curl_multi_init()) == NULL) {
		curl_global_cleanup();
		return -1;
	}
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	uv_timer_init(loop, &curl_timer);
	uv_timer_init(loop, &due_timer);
	ready = 1;
	kick();
	return 0;
}

void
webhook_close(void)
{
	if (!ready)
		return;
	ready = 0;
	while (nflights > 0)
		flight_free(&flights[0]); /* removing a handle closes its sockets: socket_cb */
	curl_multi_cleanup(multi);
	multi = NULL;
	while (socks) /* what the cleanup did not tell of */
		sock_close(socks);
	curl_global_cleanup();
	uv_close((uv_handle_t *)&curl_timer, NULL);
	uv_close((uv_handle_t *)&due_timer, NULL);
}
