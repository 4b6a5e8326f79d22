/* metrics.c: Prometheus counters and histograms, kept in fixed tables. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dates.h"
#include "clock.h"
#include "events.h"
#include "httpd.h"
#include "metrics.h"
#include "store.h"

#define ROUTES_MAX 96
#define STATUSES_MAX 24

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NB (sizeof bounds / sizeof *bounds)

struct histogram {
	unsigned long long bucket[NB];
	unsigned long long count;
	double sum;
};

struct request_count {
	const char *route; /* a route's name: static storage */
	int status;
	unsigned long long n;
};
static struct request_count requests[ROUTES_MAX * 4];
static int nrequests;
static struct histogram latency, commits;
static unsigned long long commit_failures, bookings, calls;
static const char *const hook_outcomes[] = {"delivered", "failed", "gave_up"};
static unsigned long long hook_attempts[3];

static void
observe(struct histogram *h, double v)
{
	for (size_t i = 0; i < NB; i++)
		if (v <= bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += v;
}

void
metrics_webhook(const char *outcome)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(outcome, hook_outcomes[i]) == 0)
			hook_attempts[i]++;
}

void
metrics_request(const char *route, int status, double seconds)
{
	int i;
	for (i = 0; i < nrequests; i++)
		if (requests[i].status == status && strcmp(requests[i].route, route) == 0)
			break;
	if (i == nrequests && nrequests < (int)(sizeof requests / sizeof *requests))
		requests[nrequests++] = (struct request_count){route, status, 0};
	if (i < nrequests)
		requests[i].n++;
	observe(&latency, seconds);
}

void
metrics_commit(double seconds, int ok)
{
	observe(&commits, seconds);
	if (!ok)
		commit_failures++;
}

void
metrics_booking(void)
{
	bookings++;
}

void
metrics_call(void)
{
	calls++;
}

/* A growing text buffer for the exposition. */
struct buf {
	char *s;
	size_t len, cap;
	int failed;
};

static void __attribute__((format(printf, 2, 3)))
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
		char *s = realloc(b->s, cap);
		if (s == NULL) {
			b->failed = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

static void
put_histogram(struct buf *b, const char *name, const char *help, const struct histogram *h)
{
	put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < NB; i++)
		put(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], h->bucket[i]);
	put(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, h->count, name,
	    h->sum, name, h->count);
}

char *
metrics_render(void)
{
	struct buf b = {0};
	put(&b, "# HELP hangdoi_requests_total HTTP requests answered, by route and status.\n"
	        "# TYPE hangdoi_requests_total counter\n");
	for (int i = 0; i < nrequests; i++)
		put(&b, "hangdoi_requests_total{route=\"%s\",status=\"%d\"} %llu\n", requests[i].route,
		    requests[i].status, requests[i].n);
	put_histogram(&b, "hangdoi_request_duration_seconds", "Time from request to answer.", &latency);
	put_histogram(&b, "hangdoi_db_commit_duration_seconds", "Time of each group commit (fsync).",
	              &commits);
	put(&b, "# HELP hangdoi_db_commit_failures_total Group commits that failed.\n"
	        "# TYPE hangdoi_db_commit_failures_total counter\nhangdoi_db_commit_failures_total %llu\n",
	    commit_failures);
	put(&b, "# HELP hangdoi_bookings_total Bookings made.\n# TYPE hangdoi_bookings_total counter\n"
	        "hangdoi_bookings_total %llu\n",
	    bookings);
	put(&b, "# HELP hangdoi_calls_total Tickets called and recalled.\n"
	        "# TYPE hangdoi_calls_total counter\nhangdoi_calls_total %llu\n",
	    calls);
	put(&b, "# HELP hangdoi_event_streams Open event streams of displays.\n"
	        "# TYPE hangdoi_event_streams gauge\nhangdoi_event_streams %u\n",
	    events_streams());
	put(&b, "# HELP hangdoi_connections Open HTTP connections.\n"
	        "# TYPE hangdoi_connections gauge\nhangdoi_connections %u\n",
	    httpd_connections());
	put(&b, "# HELP hangdoi_webhook_attempts_total Webhook attempts ended, by outcome.\n"
	        "# TYPE hangdoi_webhook_attempts_total counter\n");
	for (int i = 0; i < 3; i++)
		put(&b, "hangdoi_webhook_attempts_total{outcome=\"%s\"} %llu\n", hook_outcomes[i],
		    hook_attempts[i]);
	put(&b, "# HELP hangdoi_webhook_pending Webhook deliveries not yet delivered nor given up.\n"
	        "# TYPE hangdoi_webhook_pending gauge\nhangdoi_webhook_pending %d\n",
	    store_deliveries_pending());
	put(&b, "# HELP hangdoi_waiting_tickets Tickets waiting today, by point.\n"
	        "# TYPE hangdoi_waiting_tickets gauge\n");
	int today = local_day(clock_now(), cat->utc_offset);
	for (int i = 0; i < cat->npoints; i++) {
		int n = 0;
		for (int s = 0; s < cat->points[i].nservices; s++)
			n += store_waiting_count(cat->points[i].id, cat->points[i].services[s].id, today);
		put(&b, "hangdoi_waiting_tickets{point=\"%s\"} %d\n", cat->points[i].id, n);
	}
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
