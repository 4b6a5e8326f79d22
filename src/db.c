/* db.c: the SQLite connection, migrations from sql/, static statements, the group commit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "builtin.h"
#include "db.h"
#include "log.h"
#include "pcache.h"
#include "walbuf.h"

/*
 * Checkpoints: a worker thread copies the WAL into the database file every P.checkpoint_frames
 * frames, on a connection of its own, while the loop goes on writing. The WAL starts again
 * from its beginning only once every frame is copied and no commit came in between, which a
 * steady stream of bookings may never allow: past WAL_FRAMES_MAX the loop copies the few
 * frames left itself, and the next transaction rewinds the WAL.
 */
#define WAL_FRAMES_MAX (8 * P.checkpoint_frames)
static sqlite3 *db;
static sqlite3_stmt **statics[128]; /* slots filled by db_static, finalized at close */
static int nstatics;
static int in_txn, in_op;
static int txn_lost; /* SQLite rolled the open transaction back itself (an I/O error) */
static uint64_t nops;
static uint64_t epoch; /* bumped by every rollback, open and close: see db_epoch */
static uint64_t errors; /* statements that failed: see db_errors */
static const char *op_file; /* who opened the savepoint still open, if any */
static int op_line;
double db_last_commit_seconds;

struct hook {
	void (*fn)(void *, int);
	void *arg;
};
static struct hook *hooks; /* of the open transaction */
static int nhooks, caphooks;

/*
 * The commit pipeline. COMMIT writes the transaction's frames to the WAL without waiting
 * (synchronous=OFF); one fdatasync of the WAL, on a libuv worker thread, then makes every
 * batch committed before it started durable, and only then are their requests answered and
 * their hooks run. The loop goes on serving while the disk syncs.
 */
struct batch {
	struct hook *hooks;
	int nhooks;
	void (*done)(void *arg, int ok);
	void *arg;
	struct batch *next;
};
static struct {
	uv_loop_t *loop;
	int wal_fd;
	uv_work_t work;
	int in_flight, sync_errno, failed;
	struct batch *waiting, **waiting_tail; /* committed, not yet covered by a sync */
	struct batch *syncing;                 /* covered by the sync in flight */
	int wal_frames;
	struct timespec started;
	int checkpoint_frames;
} P = {.wal_fd = -1};

static struct {
	sqlite3 *db; /* used only by the worker thread, one checkpoint at a time */
	uv_work_t work;
	int in_flight, rc;
	int mark; /* the WAL's frame count when the last checkpoint began */
} K;

sqlite3 *
db_handle(void)
{
	return db;
}

static int
exec(const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("sqlite: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Whether PRAGMA foreign_key_check finds no row that points nowhere. */
static int
foreign_keys_hold(void)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return 0;
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok;
}

/*
 * Applies every sql/NNNN-*.sql above PRAGMA user_version, each in its own transaction. They
 * run with foreign keys off, so that one may rebuild a table others refer to (SQLite's
 * procedure for a change ALTER TABLE cannot make), and each commits only if every reference
 * still holds.
 */
static int
migrate(char *err, size_t errlen)
{
	int have = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		have = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	for (const struct builtin *b = builtins; b->name; b++) {
		int n;
		if (sscanf(b->name, "sql/%d-", &n) != 1 || n <= have)
			continue;
		char *sql = malloc(b->len + 64);
		if (sql == NULL)
			goto fail;
		int len = snprintf(sql, 64, "BEGIN IMMEDIATE;\n");
		memcpy(sql + len, b->data, b->len);
		snprintf(sql + len + b->len, 64, ";\nPRAGMA user_version=%d;", n);
		char *msg = NULL;
		int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
		free(sql);
		if (rc == SQLITE_OK && !foreign_keys_hold()) {
			msg = sqlite3_mprintf("a reference points to no row");
			rc = SQLITE_CONSTRAINT_FOREIGNKEY;
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "migration %s: %s", b->name, msg ? msg : "?");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		have = n;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return -1;
}

/*
 * Whole-transaction rollbacks, SQLite's own after an I/O error included. Such a rollback
 * takes back every write of the batch: nothing more may join it (a savepoint would start a
 * transaction of its own and commit at once), and the group commit reports it lost.
 */
static void
on_rollback(void *arg)
{
	(void)arg;
	epoch++;
	if (in_txn)
		txn_lost = 1;
}

int
db_open(const char *path, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	/*
	 * Each connection is used by one thread at a time (the loop's; the checkpointer's on a
	 * worker): no connection mutexes, and no memory statistics (a global lock per malloc).
	 */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (pcache_register())
		log_warn("the page cache could not be set up: the default one, slower at commits");
	if (walbuf_register())
		log_warn("the WAL-gathering VFS could not be registered: one write a frame");
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		         db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	/*
	 * Small pages: a booking dirties a few index leaves scattered over the file (code, citizen,
	 * slot), and every dirty page goes to the WAL whole; 2 KiB pages write half of what the
	 * default 4 KiB would. Smaller still costs more than it saves: a leaf splits every few
	 * inserts (bench/run book: 84-87 us of CPU a booking at 2 KiB, 92 at 4 KiB, 93-98 at
	 * 1 KiB). Only a new file takes it.
	 */
	exec("PRAGMA page_size=2048");
	/* journal_mode answers with the mode in force: anything but wal means we could not have it. */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		snprintf(err, errlen, "cannot use database %s: %s", path, sqlite3_errmsg(db));
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;"
	         "PRAGMA cache_size=-65536;")) {
		snprintf(err, errlen, "cannot set up database %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (migrate(err, errlen))
		goto fail;
	sqlite3_rollback_hook(db, on_rollback, NULL);
	epoch++;
	if (exec("PRAGMA foreign_keys=ON")) {
		snprintf(err, errlen, "cannot set up database %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	return 0;
fail:
	sqlite3_close(db);
	db = NULL;
	return -1;
}

void
db_close(void)
{
	if (in_txn)
		db_commit();
	for (int i = 0; i < nstatics; i++) {
		sqlite3_finalize(*statics[i]);
		*statics[i] = NULL;
	}
	nstatics = 0;
	free(hooks);
	hooks = NULL;
	nhooks = caphooks = 0;
	db_pipeline_stop();
	if (db && sqlite3_close(db) != SQLITE_OK)
		log_error("sqlite close: %s", sqlite3_errmsg(db));
	db = NULL;
	epoch++;
}

sqlite3_stmt *
db_static(sqlite3_stmt **slot, const char *sql)
{
	if (*slot == NULL) {
		if (nstatics == (int)(sizeof statics / sizeof *statics)) {
			log_error("db_static: too many statements");
			return NULL;
		}
		if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
			errors++;
			log_error("sqlite prepare: %s: %s", sqlite3_errmsg(db), sql);
			*slot = NULL;
			return NULL;
		}
		statics[nstatics++] = slot;
	}
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	return *slot;
}

/*
 * The index of parameter NAME in ST. SQLite finds a name by comparing it with each of the
 * statement's in turn (a booking binds some forty); a small table remembers where a name was
 * found, and a hit is confirmed by the name SQLite has at that index, so a statement that
 * reuses a finalized one's address can never be given a wrong index.
 */
static int
param_index(sqlite3_stmt *st, const char *name)
{
	static struct {
		const sqlite3_stmt *st;
		const char *name;
		int i;
	} seen[512];
	size_t h = (((uintptr_t)st >> 4) * 31 + ((uintptr_t)name >> 2)) % (sizeof seen / sizeof *seen);
	if (seen[h].st == st && seen[h].name == name) {
		const char *n = sqlite3_bind_parameter_name(st, seen[h].i);
		if (n && strcmp(n, name) == 0)
			return seen[h].i;
	}
	int i = sqlite3_bind_parameter_index(st, name);
	seen[h].st = st;
	seen[h].name = name;
	seen[h].i = i;
	return i;
}

static void
bind_text(sqlite3_stmt *st, const char *name, const char *v, sqlite3_destructor_type how)
{
	int i = param_index(st, name);
	if (i == 0)
		log_error("sqlite: no parameter %s", name);
	else if (v)
		sqlite3_bind_text(st, i, v, -1, how);
	else
		sqlite3_bind_null(st, i);
}

int64_t
db_scanned_rows(void)
{
	int64_t n = 0;
	for (int i = 0; i < nstatics; i++)
		n += sqlite3_stmt_status(*statics[i], SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
	return n;
}

void
db_bind_text(sqlite3_stmt *st, const char *name, const char *v)
{
	bind_text(st, name, v, SQLITE_TRANSIENT);
}

/*
 * The booking path binds some thirty strings a booking, every one of them alive until its
 * statement has run: SQLite need not copy them (a malloc and a free each). db_static's
 * clearing of the bindings forgets the pointers without reading them.
 */
void
db_bind_text_kept(sqlite3_stmt *st, const char *name, const char *v)
{
	bind_text(st, name, v, SQLITE_STATIC);
}

void
db_bind_int(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = param_index(st, name);
	if (i == 0)
		log_error("sqlite: no parameter %s", name);
	else
		sqlite3_bind_int64(st, i, v);
}

void
db_bind_null(sqlite3_stmt *st, const char *name)
{
	int i = param_index(st, name);
	if (i)
		sqlite3_bind_null(st, i);
}

int
db_step(sqlite3_stmt *st)
{
	if (st == NULL)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	errors++;
	log_error("sqlite step: %s: %s", sqlite3_errmsg(db), sqlite3_sql(st));
	return -1;
}

int
db_exec_static(sqlite3_stmt *st)
{
	int rc = db_step(st);
	if (st)
		sqlite3_reset(st);
	return rc < 0 ? -1 : 0;
}

const char *
db_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "";
}

int
db_op_begin_at(const char *file, int line)
{
	if (in_op) {
		log_error("savepoint opened at %s:%d while %s:%d still holds one", file, line, op_file,
		          op_line);
		return -1;
	}
	static sqlite3_stmt *s_begin, *s_save;
	if (in_txn && (txn_lost || sqlite3_get_autocommit(db))) {
		txn_lost = 1;
		return -1;
	}
	if (!in_txn) {
		if (db_exec_static(db_static(&s_begin, "BEGIN IMMEDIATE")))
			return -1;
		in_txn = 1;
	}
	if (db_exec_static(db_static(&s_save, "SAVEPOINT op")))
		return -1;
	in_op = 1;
	op_file = file;
	op_line = line;
	nops++;
	return 0;
}

void
db_op_end(int ok)
{
	static sqlite3_stmt *s_rollback, *s_release;
	if (!in_op)
		return;
	if (!ok) {
		epoch++;
		db_exec_static(db_static(&s_rollback, "ROLLBACK TO op"));
	}
	db_exec_static(db_static(&s_release, "RELEASE op"));
	in_op = 0;
}

uint64_t
db_errors(void)
{
	return errors;
}

uint64_t
db_epoch(void)
{
	return epoch;
}

int
db_in_txn(void)
{
	return in_txn;
}

uint64_t
db_ops(void)
{
	return nops;
}

int
db_on_commit(void (*fn)(void *, int), void *arg)
{
	if (nhooks == caphooks) {
		int cap = caphooks ? caphooks * 2 : 64;
		struct hook *h = realloc(hooks, cap * sizeof *h);
		if (h == NULL)
			return -1;
		hooks = h;
		caphooks = cap;
	}
	hooks[nhooks++] = (struct hook){fn, arg};
	return 0;
}

static void
run_hooks(struct hook *h, int n, int ok)
{
	for (int i = 0; i < n; i++)
		h[i].fn(h[i].arg, ok);
}

static void
finish_batch(struct batch *b, int ok)
{
	run_hooks(b->hooks, b->nhooks, ok);
	if (b->done)
		b->done(b->arg, ok);
	free(b->hooks);
	free(b);
}

static void
do_sync(uv_work_t *w)
{
	(void)w;
	P.sync_errno = fdatasync(P.wal_fd) ? errno : 0;
}

static void start_sync(void);

static void
after_sync(uv_work_t *w, int status)
{
	struct timespec end;
	(void)w;
	clock_gettime(CLOCK_MONOTONIC, &end);
	db_last_commit_seconds =
	    (end.tv_sec - P.started.tv_sec) + (end.tv_nsec - P.started.tv_nsec) / 1e9;
	int ok = status == 0 && P.sync_errno == 0;
	if (!ok) {
		/* After a failed fsync the kernel may have dropped the pages: trust nothing since. */
		log_error("fdatasync of the WAL failed: %s; refusing further writes",
		          strerror(P.sync_errno ? P.sync_errno : EIO));
		P.failed = 1;
	}
	P.in_flight = 0;
	struct batch *b = P.syncing;
	P.syncing = NULL;
	while (b) {
		struct batch *next = b->next;
		finish_batch(b, ok);
		b = next;
	}
	if (P.waiting)
		start_sync();
}

static void
start_sync(void)
{
	if (P.in_flight || P.waiting == NULL)
		return;
	P.syncing = P.waiting;
	P.waiting = NULL;
	P.waiting_tail = &P.waiting;
	P.in_flight = 1;
	clock_gettime(CLOCK_MONOTONIC, &P.started);
	if (uv_queue_work(P.loop, &P.work, do_sync, after_sync)) {
		P.sync_errno = EAGAIN;
		after_sync(&P.work, -1);
	}
}

static int
on_wal(void *arg, sqlite3 *d, const char *name, int frames)
{
	(void)arg, (void)d, (void)name;
	P.wal_frames = frames;
	return SQLITE_OK;
}

/* On a worker thread. Its connection is synchronous=FULL: the WAL is synced before any page
 * is copied, and the database file after. */
static void
do_checkpoint(uv_work_t *w)
{
	(void)w;
	K.rc = sqlite3_wal_checkpoint_v2(K.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static void checkpoint_start(void);

static void
after_checkpoint(uv_work_t *w, int status)
{
	(void)w;
	K.in_flight = 0;
	if (status == 0 && K.rc != SQLITE_OK && K.rc != SQLITE_BUSY)
		log_warn("checkpoint: %s", sqlite3_errstr(K.rc));
	/*
	 * Under load, keep close behind the writer, so that what the loop must copy itself stays
	 * small; past WAL_FRAMES_MAX, step aside for the loop's own copy at its next commit.
	 */
	else if (P.wal_frames < WAL_FRAMES_MAX && P.wal_frames - K.mark >= P.checkpoint_frames / 8)
		checkpoint_start();
}

static void
checkpoint_start(void)
{
	K.mark = P.wal_frames;
	if (uv_queue_work(P.loop, &K.work, do_checkpoint, after_checkpoint) == 0)
		K.in_flight = 1;
}

static void
checkpoint_if_large(void)
{
	if (K.in_flight)
		return;
	if (P.wal_frames < K.mark)
		K.mark = 0; /* the WAL was rewound */
	if (P.wal_frames >= WAL_FRAMES_MAX || (K.db == NULL && P.wal_frames >= P.checkpoint_frames)) {
		exec("PRAGMA synchronous=FULL");
		if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) != SQLITE_OK)
			log_warn("checkpoint: %s", sqlite3_errmsg(db));
		exec("PRAGMA synchronous=OFF");
		K.mark = 0;
	} else if (K.db && P.wal_frames - K.mark >= P.checkpoint_frames) {
		checkpoint_start();
	}
}

/* The checkpointer's connection; without it the loop checkpoints by itself. */
static void
checkpointer_open(void)
{
	const char *path = sqlite3_db_filename(db, "main");
	if (sqlite3_open_v2(path, &K.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(K.db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
		log_warn("checkpoints on the loop: %s", K.db ? sqlite3_errmsg(K.db) : "out of memory");
		sqlite3_close(K.db);
		K.db = NULL;
		return;
	}
	sqlite3_busy_timeout(K.db, 0);
}

int
db_pipeline_start(uv_loop_t *loop, int checkpoint_frames)
{
	const char *wal = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
	P.loop = loop;
	P.checkpoint_frames = checkpoint_frames;
	P.waiting_tail = &P.waiting;
	if (wal == NULL || (P.wal_fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("cannot open the WAL %s: %s", wal ? wal : "?", strerror(errno));
		return -1;
	}
	/* wal_autocheckpoint sets the WAL hook itself: ours must come after it, or it is lost. */
	if (exec("PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=OFF"))
		return -1;
	sqlite3_wal_hook(db, on_wal, NULL);
	if (walbuf_attach(db))
		log_warn("WAL frames not gathered: one write a frame");
	checkpointer_open();
	return 0;
}

int
db_failed(void)
{
	return P.failed;
}

int
db_syncing(void)
{
	return P.in_flight;
}

int
db_busy(void)
{
	return in_txn || P.in_flight || P.waiting != NULL;
}

int
db_commit_async(void (*done)(void *arg, int ok), void *arg)
{
	struct batch *b = calloc(1, sizeof *b);
	int ok = 1;
	if (in_op)
		db_op_end(0);
	if (b == NULL) {
		log_error("out of memory at commit");
		ok = 0;
	}
	if (in_txn) {
		in_txn = 0;
		static sqlite3_stmt *s_commit;
		if (txn_lost)
			log_error("the batch's transaction was rolled back by SQLite; answering 503");
		if (!ok || P.failed || txn_lost || db_exec_static(db_static(&s_commit, "COMMIT"))) {
			ok = 0;
			if (!sqlite3_get_autocommit(db))
				exec("ROLLBACK");
		} else if (walbuf_failed(db)) {
			/* SQLite holds the batch for written; the file does not: trust nothing since. */
			log_error("writing the WAL failed; refusing further writes");
			P.failed = 1;
			ok = 0;
		}
	} else if (P.syncing == NULL && P.waiting == NULL) {
		/* Nothing written and nothing waiting for the disk: durable already. */
		free(b);
		b = NULL;
		if (done)
			done(arg, !P.failed);
		return P.failed ? -1 : 0;
	}
	txn_lost = 0;
	if (!ok) {
		run_hooks(hooks, nhooks, 0);
		nhooks = 0;
		free(b);
		if (done)
			done(arg, 0);
		return -1;
	}
	b->hooks = hooks;
	b->nhooks = nhooks;
	hooks = NULL;
	nhooks = caphooks = 0;
	b->done = done;
	b->arg = arg;
	*P.waiting_tail = b;
	P.waiting_tail = &b->next;
	checkpoint_if_large();
	start_sync();
	return 0;
}

void
db_pipeline_stop(void)
{
	/*
	 * The loop has run out: no checkpoint is in flight. Closing copies the WAL into the
	 * database file and removes the WAL: with synchronous=OFF the file would not be synced
	 * first, and a power cut soon after a clean stop could lose what was acknowledged.
	 */
	if (db)
		exec("PRAGMA synchronous=FULL");
	if (K.db && sqlite3_close(K.db) != SQLITE_OK)
		log_error("sqlite close: %s", sqlite3_errmsg(K.db));
	K.db = NULL;
	if (P.wal_fd >= 0)
		close(P.wal_fd);
	P.wal_fd = -1;
}

int
db_commit(void)
{
	struct timespec a, b;
	int ok;
	if (!in_txn)
		return 0;
	if (in_op)
		db_op_end(0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (P.wal_fd >= 0)
		exec("PRAGMA synchronous=FULL");
	ok = !txn_lost && exec("COMMIT") == 0;
	if (!ok && !sqlite3_get_autocommit(db))
		exec("ROLLBACK");
	txn_lost = 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	db_last_commit_seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	in_txn = 0;
	/* Hooks may register more hooks for the next transaction: run a snapshot. */
	int n = nhooks;
	for (int i = 0; i < n; i++)
		hooks[i].fn(hooks[i].arg, ok);
	if (nhooks > n) /* hooks is NULL when none was ever added: memmove(NULL, ...) is UB */
		memmove(hooks, hooks + n, (nhooks - n) * sizeof *hooks);
	nhooks -= n;
	return ok ? 0 : -1;
}
