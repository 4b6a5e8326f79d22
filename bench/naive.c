/* bench/naive.c: the naive booking design, for comparison.
 *
 * One SQLite transaction per booking (BEGIN IMMEDIATE; SELECT count(*) for the
 * slot; INSERT; COMMIT) in WAL mode with synchronous=FULL: one fsync per
 * booking.  This is what hangdoid's group commit is measured against; run it on
 * the same filesystem as the daemon's database.
 *
 * Build: cc -O2 -o build/bench-naive bench/naive.c $(pkg-config --cflags --libs sqlite3)
 * Run:   build/bench-naive DBFILE [N]       (N bookings, default 2000; DBFILE is recreated)
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY 2000

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "bench-naive: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench-naive: %s: %s\n", sql, err ? err : "?");
        exit(1);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s DBFILE [N]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 2000;
    if (n < 1) {
        fprintf(stderr, "bench-naive: N must be positive\n");
        return 2;
    }

    /* start from an empty database */
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path); unlink(side);
    snprintf(side, sizeof side, "%s-shm", path); unlink(side);
    snprintf(side, sizeof side, "%s-journal", path); unlink(side);

    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE bookings("
         " id INTEGER PRIMARY KEY, point TEXT NOT NULL, service TEXT NOT NULL,"
         " date TEXT NOT NULL, start TEXT NOT NULL, citizen TEXT NOT NULL,"
         " code TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL)");
    exec("CREATE INDEX bookings_slot ON bookings(point, service, date, start)");

    sqlite3_stmt *count, *insert;
    if (sqlite3_prepare_v2(db,
            "SELECT count(*) FROM bookings"
            " WHERE point=?1 AND service=?2 AND date=?3 AND start=?4",
            -1, &count, NULL) != SQLITE_OK)
        die("prepare count");
    if (sqlite3_prepare_v2(db,
            "INSERT INTO bookings(point, service, date, start, citizen, code, created_at)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            -1, &insert, NULL) != SQLITE_OK)
        die("prepare insert");

    static const char *const services[] = { "svc-0", "svc-1", "svc-2", "svc-3" };
    long full = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        char point[24], date[24], start[24], citizen[24], code[24];
        snprintf(point, sizeof point, "p%ld", i % 6);
        const char *service = services[(i / 6) % 4];
        snprintf(date, sizeof date, "2030-01-%02ld", 1 + (i / 24) % 7);
        long slot = (i / 168) % 24; /* 07:00 .. 18:30 */
        snprintf(start, sizeof start, "%02ld:%02ld", 7 + slot / 2, (slot % 2) * 30);
        snprintf(citizen, sizeof citizen, "%012ld", 100000000000L + i);
        snprintf(code, sizeof code, "N%011ld", i);

        exec("BEGIN IMMEDIATE");
        sqlite3_bind_text(count, 1, point, -1, SQLITE_STATIC);
        sqlite3_bind_text(count, 2, service, -1, SQLITE_STATIC);
        sqlite3_bind_text(count, 3, date, -1, SQLITE_STATIC);
        sqlite3_bind_text(count, 4, start, -1, SQLITE_STATIC);
        if (sqlite3_step(count) != SQLITE_ROW)
            die("count");
        long booked = sqlite3_column_int64(count, 0);
        sqlite3_reset(count);
        if (booked >= CAPACITY) {
            full++;
            exec("ROLLBACK");
            continue;
        }
        sqlite3_bind_text(insert, 1, point, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 2, service, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 3, date, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 4, start, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 5, citizen, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 6, code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 7, (sqlite3_int64)time(NULL));
        if (sqlite3_step(insert) != SQLITE_DONE)
            die("insert");
        sqlite3_reset(insert);
        exec("COMMIT");
    }
    double s = now_s() - t0;

    sqlite3_finalize(count);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    if (full)
        fprintf(stderr, "bench-naive: %ld slot-full refusals\n", full);
    printf("naive: %ld bookings in %.3f s = %.0f bookings/s\n", n - full, s, (n - full) / s);
    return 0;
}
