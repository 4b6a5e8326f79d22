/* log.c: one line per message on stderr, prefixed <N> for journald. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

int log_level = 6;

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
	/* One write per line, so lines from a crash or a pipe never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
