/*
 * test_db.c: src/db.c's migrations: a database made by an older hangdoi is brought up to the
 * newest schema at open with every row kept, and a migration that would leave a reference
 * pointing nowhere is refused as a whole. And src/pcache.c: pages that B-tree balances move
 * through the lock page's number come back whole, through commits and rollbacks.
 */
#include <sqlite3.h>
#include <unistd.h>

#include "unit.h"

#include "builtin.h"
#include "db.h"
#include "log.h"
#include "pcache.h"

static char dir[64], path[128];

/* A database as hangdoi's first schema (sql/0001) left it, with EXTRA run after it. */
static void
make_v1(const char *extra)
{
	const struct builtin *b = builtin_find("sql/0001-init.sql");
	sqlite3 *db;
	assert_non_null(b);
	char *sql = malloc(b->len + 1);
	assert_non_null(sql);
	memcpy(sql, b->data, b->len);
	sql[b->len] = 0;
	snprintf(dir, sizeof dir, "%s/hangdoi-unit-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/v1.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, extra, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(sql);
}

static int
teardown(void **state)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[160];
	(void)state;
	db_close();
	for (size_t i = 0; i < NELEM(suffix); i++) {
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

static long long
one(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	assert_int_equal(sqlite3_prepare_v2(db_handle(), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The number of the last migration in sql/: every one of them is applied. */
static int
newest_migration(void)
{
	int newest = 0, n;
	for (const struct builtin *b = builtins; b->name; b++)
		if (sscanf(b->name, "sql/%d-", &n) == 1 && n > newest)
			newest = n;
	assert_true(newest >= 3);
	return newest;
}

#define V1_ROWS                                                                                    \
	"INSERT INTO ticket (id, code, kind, point, service, booked_service, date, seq, number, "  \
	"status, citizen_hash, created_at) VALUES (7, 'ABCDEFGHJK', 'booking', 'cua-nam', "        \
	"'cu-tru', 'cu-tru', '2026-11-23', 1, 'A001', 'waiting', 'h', 1);"                         \
	"INSERT INTO event (seq, point, date, at, ticket, action, actor, hash) VALUES (1, "        \
	"'cua-nam', '2026-11-23', 1, 7, 'book', 'app', 'x');"                                      \
	"INSERT INTO counter_state (counter, ticket) VALUES ('quay-a', 7);"

static void
v1_database_is_migrated_with_its_rows(void **state)
{
	(void)state;
	char err[256];
	make_v1(V1_ROWS);
	if (db_open(path, err, sizeof err) != 0)
		fail_msg("db_open: %s", err);
	assert_int_equal(one("PRAGMA user_version"), newest_migration());
	assert_int_equal(one("PRAGMA foreign_keys"), 1);
	assert_int_equal(one("SELECT count(*) FROM ticket WHERE id = 7 AND code = 'ABCDEFGHJK' AND "
	                     "status = 'waiting'"),
	                 1);
	assert_int_equal(one("SELECT count(*) FROM event WHERE ticket = 7"), 1);
	assert_int_equal(one("SELECT ticket FROM counter_state WHERE counter = 'quay-a'"), 7);
	/* The five indexes of the ticket table are back. */
	assert_int_equal(one("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
	                     "tbl_name = 'ticket' AND name LIKE 'ticket_%'"),
	                 5);
	/* The checks still refuse what they refused. */
	assert_int_not_equal(sqlite3_exec(db_handle(),
	                                  "UPDATE ticket SET status = 'lost' WHERE id = 7", NULL,
	                                  NULL, NULL),
	                     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db_handle(),
	                                  "UPDATE ticket SET kind = 'phone' WHERE id = 7", NULL,
	                                  NULL, NULL),
	                     SQLITE_OK);
	assert_int_equal(sqlite3_exec(db_handle(),
	                              "UPDATE ticket SET status = 'served' WHERE id = 7", NULL,
	                              NULL, NULL),
	                 SQLITE_OK);
	/* And references are enforced again after the migrations. */
	assert_int_not_equal(
	    sqlite3_exec(db_handle(),
	                 "INSERT INTO event (seq, point, date, at, ticket, action, "
	                 "actor, hash) VALUES (2, 'p', 'd', 1, 999, 'a', 'b', 'h')",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
}

/* An event of a ticket that does not exist (foreign keys were off when it was written). */
static void
migration_leaving_a_dangling_reference_is_refused(void **state)
{
	(void)state;
	char err[256] = "";
	make_v1("INSERT INTO event (seq, point, date, at, ticket, action, actor, hash) VALUES (1, "
	        "'cua-nam', '2026-11-23', 1, 42, 'book', 'app', 'x');");
	assert_int_not_equal(db_open(path, err, sizeof err), 0);
	assert_non_null(strstr(err, "migration sql/0002"));
	/* Nothing of it was kept: the file is still at version 1. */
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * Random keys make leaves split into siblings of unordered page numbers: each such balance
 * swaps two pages through the lock page's number (src/pcache.c). Every row written and kept
 * must read back as written, and a rolled-back savepoint must leave nothing behind.
 */
static void
pages_moved_by_balances_stay_whole(void **state)
{
	(void)state;
	char err[256];
	snprintf(dir, sizeof dir, "%s/hangdoi-unit-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/pages.db", dir);
	if (db_open(path, err, sizeof err) != 0)
		fail_msg("db_open: %s", err);
	sqlite3 *h = db_handle();
	assert_int_equal(sqlite3_exec(h,
	                              "CREATE TABLE r (id INTEGER PRIMARY KEY, k BLOB NOT NULL, "
	                              "v INTEGER NOT NULL); CREATE UNIQUE INDEX r_k ON r (k);",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	long long kept = 0, sum = 0;
	for (int batch = 0; batch < 300; batch++) {
		int undo = batch % 7 == 3;
		assert_int_equal(sqlite3_exec(h, "BEGIN; SAVEPOINT s", NULL, NULL, NULL), SQLITE_OK);
		for (int i = 0; i < 100; i++) {
			char sql[128];
			long long v = batch * 100 + i;
			snprintf(sql, sizeof sql,
			         "INSERT INTO r (k, v) VALUES (randomblob(24) || %lld, %lld)", v, v);
			assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
			if (!undo)
				kept++, sum += v;
		}
		assert_int_equal(sqlite3_exec(h, undo ? "ROLLBACK TO s; RELEASE s; COMMIT"
		                                      : "RELEASE s; COMMIT",
		                              NULL, NULL, NULL),
		                 SQLITE_OK);
	}
	assert_int_equal(one("SELECT count(*) FROM r"), kept);
	assert_int_equal(one("SELECT sum(v) FROM r"), sum);
	/* Read through the index too: every row is found by its key. */
	assert_int_equal(one("SELECT count(*) FROM r AS a WHERE (SELECT v FROM r INDEXED BY r_k "
	                     "WHERE k = a.k) = a.v"),
	                 kept);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

int
main(void)
{
	log_level = 3;
	/* Before anything opens SQLite (make_v1 does), or the default cache would stay. */
	if (pcache_register() != 0) {
		fprintf(stderr, "pcache_register failed\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(pages_moved_by_balances_stay_whole, teardown),
	    cmocka_unit_test_teardown(v1_database_is_migrated_with_its_rows, teardown),
	    cmocka_unit_test_teardown(migration_leaving_a_dangling_reference_is_refused, teardown),
	};
	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
