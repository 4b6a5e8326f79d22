/* clock.h: the daemon's one idea of "now". */
#ifndef HANGDOI_CLOCK_H
#define HANGDOI_CLOCK_H

#include <stdint.h>

/* With test_start non-zero the clock starts at that instant and runs on. */
void clock_init(int64_t test_start);
int64_t clock_now(void);
int clock_is_test(void);
/* Only under a test clock: move it to T. */
void clock_set(int64_t t);

/* Whether T may be the test clock: from 2000-01-01 to before 9999-01-01 (UTC), the years the
 * dates' four digits write whatever the offset. */
int clock_in_range(int64_t t);

#endif
