/* log.h: lines on stderr with journald's <N> level prefixes; never a token or citizen id. */
#ifndef HANGDOI_LOG_H
#define HANGDOI_LOG_H

void log_at(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_at(3, __VA_ARGS__)
#define log_warn(...) log_at(4, __VA_ARGS__)
#define log_info(...) log_at(6, __VA_ARGS__)
#define log_debug(...) log_at(7, __VA_ARGS__)
/* Writes what informational lines are gathered (each loop turn, and at exit). */
void log_flush(void);
extern int log_level; /* lines above this level are dropped */

#endif
