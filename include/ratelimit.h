/* ratelimit.h: a token bucket per client address. */
#ifndef HANGDOI_RATELIMIT_H
#define HANGDOI_RATELIMIT_H

#include <stdint.h>

/* 0 when a request from IP may go now; else the seconds to wait. NOW_MS is monotonic. */
int ratelimit_take(const char *ip, uint64_t now_ms, int per_second, int burst);
void ratelimit_free(void);

#endif
