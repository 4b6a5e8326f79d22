/* metrics.h: Prometheus counters and histograms. */
#ifndef HANGDOI_METRICS_H
#define HANGDOI_METRICS_H

void metrics_request(const char *route, int status, double seconds);
void metrics_commit(double seconds, int ok);
void metrics_booking(void);
void metrics_call(void);
/* A webhook attempt ended: OUTCOME is "delivered", "failed" (to be tried again) or "gave_up". */
void metrics_webhook(const char *outcome);
/* The text exposition (malloc'd). */
char *metrics_render(void);

#endif
