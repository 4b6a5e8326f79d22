/* stats.h: a day's statistics of a point, from its tickets' event rows; pure aggregation. */
#ifndef HANGDOI_STATS_H
#define HANGDOI_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

/* One ticket of the day, as its events tell it (times 0 when the event did not happen). */
struct stats_row {
	const char *service;
	int booking; /* else a walk-in */
	enum tstatus status;
	int64_t began_waiting, first_call, last_call, completed;
	int checked_in;
	int rating; /* 0 = no feedback */
};

struct stats {
	int booked, cancelled, walkins, checked_in, served, no_show, expired, waiting;
	int feedback_count;
	long long feedback_sum;
	int64_t *waits, *services; /* seconds, growable */
	int nwaits, nservices, capwaits, capservices;
};

void stats_add(struct stats *s, const struct stats_row *r);
void stats_free(struct stats *s);
/* Nearest-rank percentile P (0-100) of V (sorted in place); -1 when empty. */
int64_t stats_percentile(int64_t *v, int n, int p);
/* The contract's fields: booked ... feedback_avg (averages null over nothing). */
json_t *stats_json(struct stats *s);
/* Fields in the contract's order, for CSV. */
extern const char *const stats_fields[];

/* Feeds every ticket of POINT on DAY through FN. */
int store_stats_rows(const char *point, int day, void (*fn)(const struct stats_row *, void *),
                     void *arg);

#endif
