/* events.h: call events, event streams and long-poll waiters of the displays. */
#ifndef HANGDOI_EVENTS_H
#define HANGDOI_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "httpd.h"

/* A call or recall was written in the open transaction; published once it is committed.
 * -1 (out of memory): the operation must fail, as the displays would not know of it. */
int events_call_written(const char *point, int64_t seq);
/* The day's durable calls of POINT after SINCE, newest first, at most LIMIT (0 = all, oldest
 * first). A call still waiting for its commit is left out, as it is from the streams. */
json_t *events_calls(const char *point, int day, int64_t since, int limit);
/* The last durable call seq of POINT today (0 if none). */
int64_t events_last_seq(const char *point);
int events_init(uv_loop_t *loop);
/* Answers every held display connection; new ones are refused. */
void events_shutdown(void);
void events_close(void);
/* Opens an event stream on R (Last-Event-ID honoured). */
void events_stream(struct req *r, const char *point);
/* Holds R until a call after SINCE comes, or WAIT seconds pass. */
void events_wait(struct req *r, const char *point, int64_t since, int wait);
unsigned events_streams(void);
/* The board of a point: latest calls (after SINCE), counters, waiting counts. */
json_t *events_display_json(const struct point *p, int64_t since);

#endif
