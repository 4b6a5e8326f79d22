/* stats.c: a day's statistics, aggregated from per-ticket rows; pure but for the query. */
#include <stdlib.h>
#include <string.h>

#include "dates.h"
#include "db.h"
#include "stats.h"

const char *const stats_fields[] = {
    "booked", "cancelled", "walkins", "checked_in", "served", "no_show", "expired",
    "avg_wait_seconds", "p90_wait_seconds", "avg_service_seconds", "feedback_count", "feedback_avg",
    NULL,
};

static void
push(int64_t **v, int *n, int *cap, int64_t x)
{
	if (*n == *cap) {
		int c = *cap ? *cap * 2 : 64;
		int64_t *nv = realloc(*v, c * sizeof *nv);
		if (nv == NULL)
			return;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
}

void
stats_add(struct stats *s, const struct stats_row *r)
{
	if (r->booking) {
		s->booked++;
		s->checked_in += r->checked_in != 0;
	} else {
		s->walkins++;
	}
	s->cancelled += r->status == ST_CANCELLED;
	s->served += r->status == ST_SERVED;
	s->no_show += r->status == ST_NO_SHOW;
	s->expired += r->status == ST_EXPIRED;
	s->waiting += r->status == ST_WAITING;
	if (r->began_waiting && r->first_call && r->first_call >= r->began_waiting)
		push(&s->waits, &s->nwaits, &s->capwaits, r->first_call - r->began_waiting);
	if (r->status == ST_SERVED && r->completed && r->last_call && r->completed >= r->last_call)
		push(&s->services, &s->nservices, &s->capservices, r->completed - r->last_call);
	if (r->rating) {
		s->feedback_count++;
		s->feedback_sum += r->rating;
	}
}

void
stats_free(struct stats *s)
{
	free(s->waits);
	free(s->services);
	memset(s, 0, sizeof *s);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int64_t
stats_percentile(int64_t *v, int n, int p)
{
	if (n == 0)
		return -1;
	qsort(v, n, sizeof *v, cmp64);
	int rank = (int)((p * (int64_t)n + 99) / 100); /* ceil(p/100 * n) */
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static json_t *
average(const int64_t *v, int n)
{
	long double sum = 0;
	if (n == 0)
		return json_null();
	for (int i = 0; i < n; i++)
		sum += v[i];
	return json_real((double)(sum / n));
}

json_t *
stats_json(struct stats *s)
{
	int64_t p90 = stats_percentile(s->waits, s->nwaits, 90);
	return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o,s:o,s:o,s:i,s:o}", "booked", s->booked,
	                 "cancelled", s->cancelled, "walkins", s->walkins, "checked_in", s->checked_in,
	                 "served", s->served, "no_show", s->no_show, "expired", s->expired,
	                 "avg_wait_seconds", average(s->waits, s->nwaits), "p90_wait_seconds",
	                 p90 < 0 ? json_null() : json_integer(p90), "avg_service_seconds",
	                 average(s->services, s->nservices), "feedback_count", s->feedback_count,
	                 "feedback_avg",
	                 s->feedback_count ? json_real((double)s->feedback_sum / s->feedback_count)
	                                   : json_null());
}

int
store_stats_rows(const char *point, int day, void (*fn)(const struct stats_row *, void *), void *arg)
{
	static sqlite3_stmt *s;
	char date[11];
	int rc;
	/* One pass over the day's events of the point (its index), folded per ticket. */
	sqlite3_stmt *st = db_static(
	    &s, "SELECT t.booked_service, t.kind = 'booking', t.status, e.began, e.first_call, "
	        "e.last_call, e.completed, coalesce(e.checked_in, 0), "
	        "(SELECT rating FROM feedback f WHERE f.ticket = t.id) "
	        "FROM ticket t LEFT JOIN (SELECT ticket, "
	        "min(CASE WHEN action IN ('checkin', 'issue') THEN at END) AS began, "
	        "min(CASE WHEN action = 'call' THEN at END) AS first_call, "
	        "max(CASE WHEN action IN ('call', 'recall') THEN at END) AS last_call, "
	        "max(CASE WHEN action = 'complete' THEN at END) AS completed, "
	        "max(action = 'checkin') AS checked_in "
	        "FROM event WHERE point = :p AND date = :d GROUP BY ticket) e ON e.ticket = t.id "
	        "WHERE t.point = :p AND t.date = :d");
	if (st == NULL)
		return -1;
	date_format(day, date);
	db_bind_text(st, ":p", point);
	db_bind_text(st, ":d", date);
	while ((rc = db_step(st)) == 1) {
		struct stats_row r = {
		    .service = db_col_text(st, 0),
		    .booking = sqlite3_column_int(st, 1),
		    .status = ST__MAX,
		    .began_waiting = sqlite3_column_int64(st, 3),
		    .first_call = sqlite3_column_int64(st, 4),
		    .last_call = sqlite3_column_int64(st, 5),
		    .completed = sqlite3_column_int64(st, 6),
		    .checked_in = sqlite3_column_int(st, 7),
		    .rating = sqlite3_column_int(st, 8),
		};
		for (int i = 0; i < ST__MAX; i++)
			if (strcmp(db_col_text(st, 2), status_name(i)) == 0)
				r.status = i;
		fn(&r, arg);
	}
	sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}
