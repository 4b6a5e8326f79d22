/* slots.h: the calendar of a point: opening hours, closures, slot cutting, horizon. */
#ifndef HANGDOI_SLOTS_H
#define HANGDOI_SLOTS_H

#include "config.h"

#define SLOTS_MAX 288

struct slot {
	int start, end; /* minutes of the day */
};

int point_closed_on(const struct point *p, int day);
int point_open_at(const struct point *p, int day, int minute);
/* Cuts the day's slots of service S into OUT; returns how many (0 on a closed day). */
int slots_for_day(const struct point *p, const struct service *s, int day, struct slot *out,
                  int max);
/* Finds the slot of S starting at START on DAY; 0 if found. */
int slot_find(const struct point *p, const struct service *s, int day, int start, struct slot *out);
int in_horizon(int today, int day, int horizon_days);

#endif
