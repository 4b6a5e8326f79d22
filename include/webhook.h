/* webhook.h: webhook deliveries, stored with their change and sent after its commit. */
#ifndef HANGDOI_WEBHOOK_H
#define HANGDOI_WEBHOOK_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "store.h"

/*
 * Inside the savepoint of the change: one delivery of EVENT about T (as it is now) for each
 * hook that asks for it. They are sent once their transaction is on disk. 0 or -1.
 */
int webhook_enqueue(enum hook_event event, const struct ticket *t, int64_t now);
/* Starts the sender; what a previous run left pending is due at once. 0 or -1. */
int webhook_init(uv_loop_t *loop);
/* The test clock was set: every pending delivery is due at once, as after a restart. */
void webhook_clock_set(void);
/* Stops the sender: attempts in flight are dropped and stay pending for the next start. */
void webhook_close(void);
/* The delay before attempt ATTEMPTS + 1, after ATTEMPTS failed ones (>= 1): 1 s, 2 s, 4 s, ... 10 min. */
int webhook_backoff(int attempts);

#endif
