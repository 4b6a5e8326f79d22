/* slots.c: the calendar of a point; pure functions of (catalogue, date). */
#include <stdlib.h>

#include "dates.h"
#include "slots.h"

static int
int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int
point_closed_on(const struct point *p, int day)
{
	if (p->nhours[weekday(day)] == 0)
		return 1;
	return p->nclosed > 0 && bsearch(&day, p->closed, p->nclosed, sizeof(int), int_cmp) != NULL;
}

int
point_open_at(const struct point *p, int day, int minute)
{
	if (point_closed_on(p, day))
		return 0;
	int w = weekday(day);
	for (int i = 0; i < p->nhours[w]; i++)
		if (minute >= p->hours[w][i].from && minute < p->hours[w][i].to)
			return 1;
	return 0;
}

int
slots_for_day(const struct point *p, const struct service *s, int day, struct slot *out, int max)
{
	int n = 0;
	if (point_closed_on(p, day))
		return 0;
	int w = weekday(day);
	for (int i = 0; i < p->nhours[w]; i++)
		for (int t = p->hours[w][i].from; t + s->slot_minutes <= p->hours[w][i].to && n < max;
		     t += s->slot_minutes)
			out[n++] = (struct slot){t, t + s->slot_minutes};
	return n;
}

int
slot_find(const struct point *p, const struct service *s, int day, int start, struct slot *out)
{
	struct slot v[SLOTS_MAX];
	int n = slots_for_day(p, s, day, v, SLOTS_MAX);
	for (int i = 0; i < n; i++)
		if (v[i].start == start) {
			*out = v[i];
			return 0;
		}
	return -1;
}

int
in_horizon(int today, int day, int horizon_days)
{
	return day >= today && day <= today + horizon_days - 1;
}
