/* db.h: the SQLite connection, migrations, static statements and the group commit. */
#ifndef HANGDOI_DB_H
#define HANGDOI_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

int db_open(const char *path, char *err, size_t errlen);
void db_close(void);
sqlite3 *db_handle(void);

/* Prepares SQL once into *SLOT (persistent); reset and cleared before it is returned. */
sqlite3_stmt *db_static(sqlite3_stmt **slot, const char *sql);
void db_bind_text(sqlite3_stmt *st, const char *name, const char *v);
/* As db_bind_text, without SQLite's copy: V must stay as it is until ST's last step. */
void db_bind_text_kept(sqlite3_stmt *st, const char *name, const char *v);
void db_bind_int(sqlite3_stmt *st, const char *name, int64_t v);
void db_bind_null(sqlite3_stmt *st, const char *name);
/* Steps ST once: 1 for a row, 0 when done, -1 on error (logged). */
int db_step(sqlite3_stmt *st);
/* Runs a statement with no rows to read; 0 or -1. */
int db_exec_static(sqlite3_stmt *st);
const char *db_col_text(sqlite3_stmt *st, int i); /* "" for NULL */

/*
 * A write runs inside the open transaction (the batch), in a savepoint of its own:
 * db_op_begin() opens both as needed; db_op_end(ok) releases or rolls back the savepoint.
 * db_commit() commits once for everything done since (one fsync).
 */
#define db_op_begin() db_op_begin_at(__FILE__, __LINE__)
int db_op_begin_at(const char *file, int line);
void db_op_end(int ok);
int db_in_txn(void);
uint64_t db_ops(void); /* how many savepoints were opened; a request compares before and after */
uint64_t db_errors(void); /* how many statements failed to prepare or step; the same use */
/* Commits at once and waits for the disk (start-up, shutdown, tools). */
int db_commit(void);
/*
 * The group commit of the serving loop: commits the open transaction (if any) and calls
 * DONE(ARG, ok) once it, and everything committed before it, is on disk.
 */
int db_commit_async(void (*done)(void *arg, int ok), void *arg);
int db_pipeline_start(uv_loop_t *loop, int checkpoint_frames);
void db_pipeline_stop(void);
/* A transaction is open, or a commit waits for the disk. */
int db_busy(void);
/* A sync of the WAL failed: every write is refused from then on. */
int db_failed(void);
/* A sync of the WAL is in flight (the next commit waits for its end). */
int db_syncing(void);
/*
 * Changes whenever what the connection holds may differ from what was last read: any
 * rollback (of a savepoint or a transaction, SQLite's own included), open and close. What
 * is kept in memory from the database is kept with the epoch it was read in.
 */
uint64_t db_epoch(void);
/* Rows the static statements have stepped through in full scans, since each was prepared. */
int64_t db_scanned_rows(void);
/* FN runs once the current transaction is committed (ok = 1) or lost (ok = 0). */
int db_on_commit(void (*fn)(void *arg, int ok), void *arg);
/* Seconds the last commits took, for metrics; set by db_commit. */
extern double db_last_commit_seconds;

#endif
