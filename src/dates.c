/* dates.c: civil dates, local times and ISO 8601, pure arithmetic. */
#include <stdio.h>
#include <string.h>

#include "dates.h"

/* Howard Hinnant's days_from_civil / civil_from_days. */
int
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
civil_from_days(int z, int *y, int *m, int *d)
{
	z += 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	int doe = z - era * 146097;
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
month_days(int y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return len[m - 1];
}

static int
date_parse_n(const char *s, int *day)
{
	int y, m, d;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return -1;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

/* Strict YYYY-MM-DD of a real calendar day. */
int
date_parse(const char *s, int *day)
{
	if (s == NULL || strlen(s) != 10)
		return -1;
	return date_parse_n(s, day);
}

/* V's last N decimal digits, zero-padded, at P (no terminator): the formats here are fixed. */
static void
put_digits(char *p, int v, int n)
{
	unsigned u = v < 0 ? 0u : (unsigned)v;
	while (n-- > 0) {
		p[n] = (char)('0' + u % 10);
		u /= 10;
	}
}

void
date_format(int day, char out[11])
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 0;
}

int
weekday(int day)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0). */
	int w = (day + 3) % 7;
	return w < 0 ? w + 7 : w;
}

static int
hhmm_parse_n(const char *s, int *minute)
{
	int h, m;
	if (digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || h > 23 || m > 59)
		return -1;
	*minute = h * 60 + m;
	return 0;
}

/* Strict HH:MM, 00:00 to 23:59. */
int
hhmm_parse(const char *s, int *minute)
{
	if (s == NULL || strlen(s) != 5)
		return -1;
	return hhmm_parse_n(s, minute);
}

void
hhmm_format(int minute, char out[6])
{
	if (minute < 0 || minute > 24 * 60)
		minute = 0;
	put_digits(out, minute / 60, 2);
	out[2] = ':';
	put_digits(out + 3, minute % 60, 2);
	out[5] = 0;
}

/* "+07:00", "-05:30" or "Z". */
int
offset_parse(const char *s, int *offset_min)
{
	int h, m;
	if (s == NULL)
		return -1;
	if (strcmp(s, "Z") == 0) {
		*offset_min = 0;
		return 0;
	}
	if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || digits(s + 1, 2, &h) || s[3] != ':' ||
	    digits(s + 4, 2, &m) || h > 14 || m > 59)
		return -1;
	*offset_min = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return 0;
}

/* YYYY-MM-DDTHH:MM:SS followed by an offset; fractions of a second are refused. */
int
instant_parse(const char *s, int64_t *t)
{
	int day, minute, sec, off;
	if (s == NULL || strlen(s) < 20)
		return -1;
	if (date_parse_n(s, &day) || s[10] != 'T' || hhmm_parse_n(s + 11, &minute) || s[16] != ':' ||
	    digits(s + 17, 2, &sec) || sec > 59 || offset_parse(s + 19, &off))
		return -1;
	*t = (int64_t)day * 86400 + (int64_t)minute * 60 + sec - (int64_t)off * 60;
	return 0;
}

void
instant_format(int64_t t, int offset_min, char out[32])
{
	int64_t l = t + (int64_t)offset_min * 60;
	int64_t day = l >= 0 ? l / 86400 : -((-l + 86399) / 86400);
	int sod = (int)(l - day * 86400);
	int a = offset_min < 0 ? -offset_min : offset_min;
	date_format((int)day, out); /* YYYY-MM-DD */
	out[10] = 'T';
	hhmm_format(sod / 60, out + 11); /* HH:MM */
	out[16] = ':';
	put_digits(out + 17, sod % 60, 2);
	out[19] = offset_min < 0 ? '-' : '+';
	hhmm_format(a % (24 * 60), out + 20);
}

int
local_day(int64_t t, int offset_min)
{
	int64_t l = t + (int64_t)offset_min * 60;
	return (int)(l >= 0 ? l / 86400 : -((-l + 86399) / 86400));
}

int
local_minute(int64_t t, int offset_min)
{
	int64_t l = t + (int64_t)offset_min * 60;
	return (int)((l - (int64_t)local_day(t, offset_min) * 86400) / 60);
}

int64_t
local_instant(int day, int minute, int offset_min)
{
	return (int64_t)day * 86400 + (int64_t)(minute - offset_min) * 60;
}
