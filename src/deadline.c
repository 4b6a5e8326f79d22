/* deadline.c: expiry driven by one timer armed at the earliest deadline, never a scan loop. */
#include "clock.h"
#include "config.h"
#include "db.h"
#include "deadline.h"
#include "log.h"
#include "store.h"

static uv_timer_t timer;
static int64_t armed_at; /* the instant the timer is armed for, 0 when not */
static int ready;

static void
on_timer(uv_timer_t *t)
{
	(void)t;
	armed_at = 0;
	deadline_run();
}

void
deadline_rearm(void)
{
	if (!ready)
		return;
	int64_t now = clock_now(), next = store_next_deadline(now, cat->utc_offset);
	if (next == armed_at)
		return;
	armed_at = next;
	uint64_t ms = next > now ? (uint64_t)(next - now) * 1000 : 0;
	uv_timer_start(&timer, on_timer, ms, 0);
}

void
deadline_run(void)
{
	int n = store_expire_due(clock_now(), cat->utc_offset);
	if (n < 0)
		log_error("expiry failed; will try again at the next deadline");
	else if (n > 0)
		log_info("expired %d tickets", n);
	armed_at = 0;
	deadline_rearm();
}

int
deadline_init(uv_loop_t *loop)
{
	if (uv_timer_init(loop, &timer))
		return -1;
	ready = 1;
	return 0;
}

void
deadline_close(void)
{
	if (ready) {
		ready = 0;
		uv_close((uv_handle_t *)&timer, NULL);
	}
}
