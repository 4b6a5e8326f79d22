/*
 * webhook.c: webhook deliveries.
 *
 * A change that hooks ask for writes its deliveries in its own savepoint (webhook_enqueue):
 * the body and its signature are made then, so every attempt sends the same bytes. After
 * the commit, the sender, libcurl's multi interface on the loop's sockets and timers, POSTs
 * what is due, at most MAX_FLIGHT at once. An attempt that gets no 2xx is tried again after
 * 1 s, 2 s, 4 s, ... (at most 10 minutes apart) until 24 hours after the change. Each
 * attempt is recorded, and a restart sends everything still pending: at least once.
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
#define GIVE_UP_SECONDS 86400
#define ATTEMPT_TIMEOUT_MS 10000L

struct flight {
	int64_t id, created_at;
	int attempts; /* with this one */
	CURL *easy;
	struct curl_slist *headers;
	char *body;
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
static int nflights, ready, kick_pending;
static struct sock *socks;

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

static void
on_commit(void *arg, int ok)
{
	(void)arg;
	(void)ok; /* lost: nothing new to send, and looking costs one query */
	kick_pending = 0;
	kick();
}

int
webhook_enqueue(enum hook_event event, const struct ticket *t, int64_t now)
{
	const char *name = hook_event_name(event);
	json_t *o = json_pack("{s:s, s:o, s:o}", "event", name, "at", instant_json(now), "ticket",
	                      ticket_json(t, VIEW_PUBLIC));
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char sig[7 + 65] = "sha256=";
	int rc = body ? 0 : -1;
	json_decref(o);
	for (int i = 0; rc == 0 && i < cat->nwebhooks; i++) {
		const struct webhook *h = &cat->webhooks[i];
		if (!(h->events & event))
			continue;
		if (digest_hmac(h->secret, strlen(h->secret), body, sig + 7) ||
		    store_delivery_add(h->url, name, t->id, body, sig, now))
			rc = -1;
	}
	free(body);
	if (rc == 0 && !kick_pending && db_on_commit(on_commit, NULL) == 0)
		kick_pending = 1;
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
	free(f->body);
	*f = flights[--nflights];
	memset(&flights[nflights], 0, sizeof flights[nflights]);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* Takes D into a free flight, not yet sent (see on_due). */
static int
take(const struct delivery *d, void *arg)
{
	(void)arg;
	char line[64];
	if (nflights == MAX_FLIGHT)
		return 1;
	struct flight *f = &flights[nflights++];
	*f = (struct flight){.id = d->id, .created_at = d->created_at, .attempts = d->attempts + 1};
	snprintf(line, sizeof line, "X-Hangdoi-Event: %s", d->event);
	size_t siglen = strlen(d->signature) + sizeof "X-Hangdoi-Signature: ";
	char *sig = malloc(siglen);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	if ((f->headers = h) != NULL)
		f->headers = h = curl_slist_append(h, line);
	if (h && sig) {
		snprintf(sig, siglen, "X-Hangdoi-Signature: %s", d->signature);
		f->headers = h = curl_slist_append(h, sig);
	}
	free(sig);
	f->body = strdup(d->body);
	f->easy = curl_easy_init();
	if (h == NULL || sig == NULL || f->body == NULL || f->easy == NULL) {
		log_error("webhook: out of memory for delivery %lld", (long long)d->id);
		flight_free(f);
		return 1;
	}
	CURL *e = f->easy;
	curl_easy_setopt(e, CURLOPT_URL, d->url); /* libcurl keeps its own copy */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(f->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "hangdoi");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ATTEMPT_TIMEOUT_MS / 2);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)(intptr_t)f->id);
	return 0;
}

/* Arms the timer for the next delivery due, unless all flights are taken (an end looks again). */
static void
rearm(void)
{
	if (!ready || nflights == MAX_FLIGHT)
		return;
	int64_t next = store_delivery_next(), now = clock_now();
	if (next == 0)
		uv_timer_stop(&due_timer);
	else
		uv_timer_start(&due_timer, on_due, next > now ? (uint64_t)(next - now) * 1000 : 0, 0);
}

static void
on_due(uv_timer_t *t)
{
	(void)t;
	int64_t now = clock_now();
	int from = nflights;
	/* Rows in flight are not due (their next_at is a day away until they end). */
	if (store_deliveries_due(now, MAX_FLIGHT - nflights, take, NULL))
		log_error("webhook: cannot read the pending deliveries");
	for (int i = from; i < nflights; i++) {
		struct flight *f = &flights[i];
		/* Until it ends, the next attempt is not due: a crash mid-attempt retries at start. */
		if (store_delivery_set(f->id, f->attempts, now + GIVE_UP_SECONDS, -1, NULL, 0) ||
		    curl_multi_add_handle(multi, f->easy) != CURLM_OK) {
			log_error("webhook: cannot start delivery %lld", (long long)f->id);
			flight_free(f);
			i--; /* the last flight moved here */
		}
	}
	rearm();
}

/* What libcurl says has ended: recorded, and the flight freed. */
static void
ended(void)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		void *priv = NULL;
		long status = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		int64_t id = (int64_t)(intptr_t)priv, now = clock_now();
		struct flight *f = NULL;
		for (int i = 0; i < nflights; i++)
			if (flights[i].id == id)
				f = &flights[i];
		if (f == NULL)
			continue;
		int rc;
		if (m->data.result == CURLE_OK && status >= 200 && status < 300) {
			rc = store_delivery_set(id, f->attempts, now, (int)status, "delivered", now);
			metrics_webhook("delivered");
		} else if (now - f->created_at >= GIVE_UP_SECONDS) {
			log_error("webhook: delivery %lld given up after %d attempts (last: %s %ld)",
			          (long long)id, f->attempts, curl_easy_strerror(m->data.result), status);
			rc = store_delivery_set(id, f->attempts, now, (int)status, "gave_up", now);
			metrics_webhook("gave_up");
		} else {
			int wait = webhook_backoff(f->attempts);
			log_info("webhook: delivery %lld attempt %d failed (%s, HTTP %ld); again in %d s",
			         (long long)id, f->attempts, curl_easy_strerror(m->data.result), status,
			         wait);
			rc = store_delivery_set(id, f->attempts, now + wait, (int)status, NULL, 0);
			metrics_webhook("failed");
		}
		if (rc)
			log_error("webhook: cannot record the end of delivery %lld", (long long)id);
		flight_free(f);
	}
	rearm();
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

int
webhook_init(uv_loop_t *l)
{
	loop = l;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (multi = curl_multi_init()) == NULL)
		return -1;
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	uv_timer_init(loop, &curl_timer);
	uv_timer_init(loop, &due_timer);
	ready = 1;
	if (store_deliveries_due_now(clock_now()))
		return -1;
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
