/* dates.h: civil dates, local times and ISO 8601, pure arithmetic. */
#ifndef HANGDOI_DATES_H
#define HANGDOI_DATES_H

#include <stdint.h>

/* A day is a count of days since 1970-01-01; a minute is minutes since 00:00. */
int days_from_civil(int y, int m, int d);
void civil_from_days(int day, int *y, int *m, int *d);
int date_parse(const char *s, int *day);
void date_format(int day, char out[11]);
int weekday(int day); /* 0 = Monday .. 6 = Sunday */
int hhmm_parse(const char *s, int *minute);
void hhmm_format(int minute, char out[6]);
int offset_parse(const char *s, int *offset_min);
int instant_parse(const char *s, int64_t *t);
void instant_format(int64_t t, int offset_min, char out[32]);
int local_day(int64_t t, int offset_min);
int local_minute(int64_t t, int offset_min);
int64_t local_instant(int day, int minute, int offset_min);

#endif
