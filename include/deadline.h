/* deadline.h: one timer at the earliest deadline (a booking's check-in end, the day's end). */
#ifndef HANGDOI_DEADLINE_H
#define HANGDOI_DEADLINE_H

#include <uv.h>

int deadline_init(uv_loop_t *loop);
/* Expires what is due now and arms the timer for the next deadline. */
void deadline_run(void);
/* Re-arms after a commit that may have brought a deadline nearer. */
void deadline_rearm(void);
void deadline_close(void);

#endif
