/* audit.h: the hash chain over event rows: one chain per point. */
#ifndef HANGDOI_AUDIT_H
#define HANGDOI_AUDIT_H

#include <stddef.h>
#include <stdint.h>

/* hash = SHA-256(prev | seq | point | date | at | ticket code | action | actor | counter | detail) */
int audit_hash(const char *prev, int64_t seq, const char *point, const char *date, int64_t at,
               const char *code, const char *action, const char *actor, const char *counter,
               const char *detail, char out[65]);
/* Checks every chain of the open database: 0 when whole, else -1 with the first bad event in WHY. */
int audit_verify(char *why, size_t cap);

#endif
