/* metrics.h: Prometheus counters and histograms. */
#ifndef HANGDOI_METRICS_H
#define HANGDOI_METRICS_H

void metrics_request(const char *route, int status, double seconds);
void metrics_commit(double seconds, int ok);
void metrics_booking(void);
void metrics_call(void);
/* The text exposition (malloc'd). */
char *metrics_render(void);

#endif
