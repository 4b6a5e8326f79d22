/* ratelimit.c: a token bucket per client address, in a bounded open-addressing table. */
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define SLOTS 65536 /* a power of two; a full table is simply wiped */

struct bucket {
	char ip[48];
	double tokens;
	uint64_t at_ms;
};

static struct bucket *table;
static int used;

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int
ratelimit_take(const char *ip, uint64_t now_ms, int per_second, int burst)
{
	if (per_second <= 0)
		return 0;
	if (table == NULL && (table = calloc(SLOTS, sizeof *table)) == NULL)
		return 0;
	if (used > SLOTS / 2) {
		memset(table, 0, SLOTS * sizeof *table);
		used = 0;
	}
	uint32_t i = hash(ip) & (SLOTS - 1);
	while (table[i].ip[0] && strcmp(table[i].ip, ip) != 0)
		i = (i + 1) & (SLOTS - 1);
	struct bucket *b = &table[i];
	if (b->ip[0] == 0) {
		strncpy(b->ip, ip, sizeof b->ip - 1);
		b->tokens = burst;
		b->at_ms = now_ms;
		used++;
	}
	b->tokens += (double)(now_ms - b->at_ms) * per_second / 1000.0;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at_ms = now_ms;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 0;
	}
	int wait = (int)((1 - b->tokens) / per_second + 0.999);
	return wait < 1 ? 1 : wait;
}

void
ratelimit_free(void)
{
	free(table);
	table = NULL;
	used = 0;
}
