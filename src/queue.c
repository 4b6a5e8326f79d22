/* queue.c: the ticket state machine and the call order; pure functions. */
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* Which state each action leaves a ticket in, from each state it is allowed in. */
static const struct {
	enum action a;
	enum tstatus from, to;
} transitions[] = {
    {A_CANCEL, ST_BOOKED, ST_CANCELLED},   {A_RESCHEDULE, ST_BOOKED, ST_BOOKED},
    {A_CHECKIN, ST_BOOKED, ST_WAITING},    {A_CALL, ST_WAITING, ST_CALLED},
    {A_CALL, ST_PARKED, ST_CALLED},        {A_RECALL, ST_CALLED, ST_CALLED},
    {A_PARK, ST_CALLED, ST_PARKED},        {A_COMPLETE, ST_CALLED, ST_SERVED},
    {A_NO_SHOW, ST_CALLED, ST_NO_SHOW},    {A_TRANSFER, ST_CALLED, ST_WAITING},
    {A_EXPIRE, ST_BOOKED, ST_EXPIRED},     {A_EXPIRE, ST_WAITING, ST_EXPIRED},
    {A_EXPIRE, ST_PARKED, ST_EXPIRED},     {A_EXPIRE, ST_CALLED, ST_EXPIRED},
};

int
queue_transition(enum tstatus from, enum action a, enum tstatus *to)
{
	for (size_t i = 0; i < sizeof transitions / sizeof *transitions; i++)
		if (transitions[i].a == a && transitions[i].from == from) {
			*to = transitions[i].to;
			return 1;
		}
	return 0;
}

int
queue_cmp(const struct qitem *a, const struct qitem *b)
{
	if ((a->priority != 0) != (b->priority != 0))
		return a->priority ? -1 : 1;
	if (a->entitled_at != b->entitled_at)
		return a->entitled_at < b->entitled_at ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	int c = strcmp(a->number ? a->number : "", b->number ? b->number : "");
	if (c)
		return c;
	return (a->id > b->id) - (a->id < b->id);
}

static int
cmp_void(const void *a, const void *b)
{
	return queue_cmp(a, b);
}

void
queue_sort(struct qitem *v, int n)
{
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_void);
}

int
queue_pick(const struct qitem *v, int n, int streak, int streak_max)
{
	int first = -1, first_plain = -1;
	for (int i = 0; i < n; i++) {
		if (first < 0 || queue_cmp(&v[i], &v[first]) < 0)
			first = i;
		if (!v[i].priority && (first_plain < 0 || queue_cmp(&v[i], &v[first_plain]) < 0))
			first_plain = i;
	}
	if (first >= 0 && v[first].priority && streak_max > 0 && streak >= streak_max &&
	    first_plain >= 0)
		return first_plain;
	return first;
}

int
queue_eta(int position, int avg_service_minutes, int open_counters)
{
	int open = open_counters > 1 ? open_counters : 1;
	long num = (long)position * avg_service_minutes;
	return (int)((num + open - 1) / open);
}
