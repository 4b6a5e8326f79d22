/*
 * log.c: one line per message on stderr, prefixed <N> for journald. Informational lines (the
 * access log) are gathered and written once per loop turn; warnings and errors go at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int log_level = 6;

static char buf[65536];
static size_t used;

static void
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void
log_flush(void)
{
	write_all(buf, used);
	used = 0;
}

void
log_at(int level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;
	if (level > log_level)
		return;
	n = snprintf(line, sizeof line, "<%d>", level);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (level >= 6) {
		if (used + n > sizeof buf)
			log_flush();
		memcpy(buf + used, line, n);
		used += n;
		return;
	}
	log_flush();
	write_all(line, n);
}
