/* walbuf.h: one pwrite for the WAL frames of a commit (a VFS over SQLite's default one). */
#ifndef HANGDOI_WALBUF_H
#define HANGDOI_WALBUF_H

#include <sqlite3.h>

/* Makes the gathering VFS the default; before the first connection opens. 0 or -1. */
int walbuf_register(void);
/* Gathers the WAL writes of DB (its WAL must be open); 0, or -1 when it cannot. */
int walbuf_attach(sqlite3 *db);
/* Whether gathered frames of DB failed to reach the kernel: its WAL cannot be trusted since. */
int walbuf_failed(sqlite3 *db);

#endif
