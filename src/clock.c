/* clock.c: the only reader of the wall clock; --test-clock shifts it. */
#include <time.h>

#include "clock.h"

static int64_t shift; /* seconds added to the wall clock */
static int test_mode;

static int64_t
wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void
clock_init(int64_t test_start)
{
	test_mode = test_start != 0;
	shift = test_mode ? test_start - wall() : 0;
}

int64_t
clock_now(void)
{
	return wall() + shift;
}

int
clock_is_test(void)
{
	return test_mode;
}

void
clock_set(int64_t t)
{
	if (test_mode)
		shift = t - wall();
}

int
clock_in_range(int64_t t)
{
	return t >= 946684800 && t < 253370764800; /* 2000-01-01, 9999-01-01 at 00:00Z */
}
