/* queue.h: the ticket state machine and the call order; pure functions. */
#ifndef HANGDOI_QUEUE_H
#define HANGDOI_QUEUE_H

#include <stdint.h>

#include "store.h"

/* One waiting ticket as the call order sees it. */
struct qitem {
	int64_t id;
	int priority; /* non-zero when the ticket has a priority */
	int64_t entitled_at;
	int seq;
	const char *number;
};

enum action {
	A_CANCEL,
	A_RESCHEDULE,
	A_CHECKIN,
	A_CALL,
	A_RECALL,
	A_PARK,
	A_COMPLETE,
	A_NO_SHOW,
	A_TRANSFER,
	A_EXPIRE,
	A__MAX
};

/* Whether ACTION may happen to a ticket in state FROM; its new state in *TO. */
int queue_transition(enum tstatus from, enum action a, enum tstatus *to);
/* < 0 when A is called before B. */
int queue_cmp(const struct qitem *a, const struct qitem *b);
void queue_sort(struct qitem *v, int n);
/*
 * The index of the ticket a counter calls next, or -1 when none waits. STREAK is the
 * counter's priority calls in a row; after STREAK_MAX of them (0 = no limit) the first
 * ticket without priority goes first, if one waits.
 */
int queue_pick(const struct qitem *v, int n, int streak, int streak_max);
/* eta = ceil(position * avg / max(1, open)). */
int queue_eta(int position, int avg_service_minutes, int open_counters);

#endif
