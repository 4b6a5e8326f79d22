/* audit.c: the hash chain over event rows; a changed, inserted or removed row breaks it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "digest.h"

int
audit_hash(const char *prev, int64_t seq, const char *point, const char *date, int64_t at,
           const char *code, const char *action, const char *actor, const char *counter,
           const char *detail, char out[65])
{
	char seq_s[24], at_s[24];
	snprintf(seq_s, sizeof seq_s, "%lld", (long long)seq);
	snprintf(at_s, sizeof at_s, "%lld", (long long)at);
	const char *parts[] = {prev, seq_s, point, date, at_s, code, action, actor,
	                       counter ? counter : "", detail ? detail : ""};
	return digest_sha256(parts, (int)(sizeof parts / sizeof parts[0]), out);
}

/* Walks each point's events in chain order: (date, seq), the order they were hashed in. */
int
audit_verify(char *why, size_t cap)
{
	sqlite3_stmt *st = NULL;
	struct last {
		char point[72];
		char hash[65];
	} *last = NULL;
	int nlast = 0, rc = 0;
	if (sqlite3_prepare_v2(db_handle(),
	                       "SELECT e.seq, e.point, e.date, e.at, coalesce(t.code, ''), e.action, "
	                       "e.actor, e.counter, e.detail, e.hash FROM event e LEFT JOIN ticket t ON "
	                       "t.id = e.ticket ORDER BY e.point, e.date, e.seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, cap, "cannot read events: %s", sqlite3_errmsg(db_handle()));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *point = db_col_text(st, 1);
		int i;
		for (i = 0; i < nlast && strcmp(last[i].point, point) != 0; i++)
			;
		if (i == nlast) {
			struct last *l = realloc(last, (nlast + 1) * sizeof *l);
			if (l == NULL) {
				snprintf(why, cap, "out of memory");
				rc = -1;
				goto out;
			}
			last = l;
			snprintf(last[i].point, sizeof last[i].point, "%s", point);
			last[i].hash[0] = 0;
			nlast++;
		}
		char h[65];
		int64_t seq = sqlite3_column_int64(st, 0);
		if (audit_hash(last[i].hash, seq, point, db_col_text(st, 2), sqlite3_column_int64(st, 3),
		               db_col_text(st, 4), db_col_text(st, 5), db_col_text(st, 6),
		               (const char *)sqlite3_column_text(st, 7),
		               (const char *)sqlite3_column_text(st, 8), h)) {
			snprintf(why, cap, "cannot hash: libcrypto failed");
			rc = -1;
			goto out;
		}
		if (strcmp(h, db_col_text(st, 9)) != 0) {
			snprintf(why, cap, "event %lld (point %s): hash does not match its row and the chain "
			                   "before it",
			         (long long)seq, point);
			rc = -1;
			goto out;
		}
		memcpy(last[i].hash, h, 65);
	}
	rc = rc == SQLITE_DONE ? 0 : -1;
	if (rc)
		snprintf(why, cap, "cannot read events: %s", sqlite3_errmsg(db_handle()));
out:
	sqlite3_finalize(st);
	free(last);
	return rc;
}
