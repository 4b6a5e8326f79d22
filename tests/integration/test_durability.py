"""Durability (API.md section 3): a 2xx on a write is committed to disk, so a crash one instant
later loses nothing acknowledged; a non-2xx changes nothing; the SQLite file's shape; the citizen
id is never stored in clear.

A crash is `kill -9` of the daemon; the restart runs on the same database file.
"""
import glob
import http.client
import os
import resource
import signal
import sqlite3
import threading

from conftest import (ADMIN, APP, MONDAY, ROOT, assert_error, big_catalogue, booking_body,
                      preload_daemon, restart, wait_for)

TUESDAY, WEDNESDAY, FRIDAY = "2026-11-24", "2026-11-25", "2026-11-27"
STARTS = ["07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
          "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]


def db_connect(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)


def assert_unchanged(d, acked):
    """Every acknowledged ticket reads back exactly as it was last acknowledged."""
    for code, want in acked.items():
        r = d.get("/v1/bookings/" + code, token=APP)
        assert r.status == 200, (code, r)
        assert r.json == want, (code, want, r.json)


def test_acknowledged_writes_survive_kill_9(make_daemon):
    d = make_daemon()
    acked = {}

    def keep(r, status=201):
        assert r.status == status, r
        acked[r.json["code"]] = r.json
        return r.json

    keep(d.book("001000000001", date=TUESDAY, start="09:00", phone="0912345678",
                name="Nguyễn Thị Hoa", priority="elderly", dossier_id="H26.1-261123-0001"))
    keep(d.book("001000000002", date=TUESDAY, start="09:00", service="khai-sinh"))
    keep(d.book("001000000003", date=WEDNESDAY, start="14:00", point="kim-lien",
                priority="child_under_6"))
    for i in range(4, 10):
        keep(d.book("00100000000%d" % i, date=[TUESDAY, WEDNESDAY, FRIDAY][i % 3],
                    start=STARTS[i]))
    idem = booking_body("001000000010", date=FRIDAY, start="10:00")
    first = d.post("/v1/bookings", idem, token=APP, headers={"Idempotency-Key": "crash-key"})
    keep(first)
    # moved within the day, moved to another day, cancelled
    codes = list(acked)
    keep(d.request("PATCH", "/v1/bookings/" + codes[3], {"date": acked[codes[3]]["date"],
                                                        "start": "16:30"}, token=APP), 200)
    keep(d.request("PATCH", "/v1/bookings/" + codes[4], {"date": FRIDAY, "start": "16:00"},
                   token=APP), 200)
    keep(d.request("DELETE", "/v1/bookings/" + codes[5], token=APP), 200)
    # a walk-in, a counter's call and a check-in are writes too
    w = keep(d.walkin(service="cu-tru"))
    called = d.counter("cua-nam-2", "call-next")
    assert called.status == 200 and called.json["ticket"]["code"] == w["code"], called
    acked[w["code"]] = called.json["ticket"]
    b = keep(d.book("001000000011", date=MONDAY, start="08:30"))
    checkin = d.checkin(b["code"])
    assert checkin.status == 200 and checkin.json["position"] == 1, checkin
    # the kiosk's answer leaves out the dossier, which the app's view shows (API.md section 4)
    acked[b["code"]] = dict(checkin.json, dossier_id=b["dossier_id"])
    last = d.book("001000000012", date=TUESDAY, start="11:00")
    keep(last)
    # a committed write is visible to another reader of the file at once
    con = db_connect(d.config["database"])
    try:
        assert con.execute("SELECT count(*) FROM ticket WHERE code = ?",
                           (last.json["code"],)).fetchone()[0] == 1
    finally:
        con.close()
    d.kill9()

    d2 = restart(make_daemon, d)
    assert_unchanged(d2, acked)
    assert acked[w["code"]]["status"] == "called" and acked[b["code"]]["status"] == "waiting"
    # the key survived: the same body answers the first answer and books nothing
    again = d2.post("/v1/bookings", idem, token=APP, headers={"Idempotency-Key": "crash-key"})
    assert again.status == 201 and again.json == first.json, again
    # numbering goes on from where it was: no number is given twice
    r = d2.book("001000000013", date=TUESDAY, start="11:00")
    assert r.status == 201, r
    tuesday = d2.get("/v1/bookings?point=cua-nam&date=" + TUESDAY, token=ADMIN).json["bookings"]
    numbers = [(t["service"], t["number"]) for t in tuesday]
    assert len(numbers) == len(set(numbers)), numbers
    assert (r.json["service"], r.json["number"]) not in \
        [(t["service"], t["number"]) for t in acked.values() if t["date"] == TUESDAY]
    # capacity: what was taken is still taken
    slots = d2.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + TUESDAY).json
    booked = {s["start"]: s["booked"] for s in slots["days"][0]["slots"]}
    assert booked["09:00"] == 1 and booked["11:00"] == 2


def test_writes_in_flight_when_killed(make_daemon):
    d = make_daemon(config=big_catalogue())
    acked = {}
    errors = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(t):
        conn = d.connection(timeout=10)
        i = 0
        while not stop.is_set():
            i += 1
            citizen = "%012d" % (200000000000 + t * 100000 + i)
            body = booking_body(citizen, date=[TUESDAY, WEDNESDAY, FRIDAY][i % 3],
                                start=STARTS[(t + i) % len(STARTS)])
            if i % 4 == 0:
                body.update(service="khai-sinh", start="09:15", priority="merit")
            try:
                r = d.request("POST", "/v1/bookings", body, token=APP, conn=conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                if stop.is_set():
                    return
                conn = d.connection(timeout=10)
                continue
            if r.status == 201:
                with lock:
                    acked[r.json["code"]] = r.json
            else:
                errors.append(r)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    # 150 acknowledged (the timeout only keeps a daemon that stopped answering from hanging)
    wait_for(lambda: len(acked) >= 150 or errors, timeout=300)
    d.kill9()  # the writers are still sending
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(acked) >= 150, len(acked)

    d2 = restart(make_daemon, d)
    assert_unchanged(d2, dict(acked))
    con = db_connect(d.config["database"])
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = con.execute("SELECT count(*) FROM ticket").fetchone()[0]
        dup = con.execute("SELECT point, booked_service, date, number, count(*) FROM ticket "
                          "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1").fetchall()
    finally:
        con.close()
    assert stored >= len(acked)
    assert dup == []


def test_checkpoints_keep_the_wal_bounded_and_lose_nothing(make_daemon):
    """The WAL is copied into the database file as it grows (limits.checkpoint_frames), by the
    worker and, past eight times that, by the loop; it never grows without bound, and a crash
    in the middle of it loses nothing acknowledged."""
    config = big_catalogue()
    config["limits"] = {"checkpoint_frames": 64}
    d = make_daemon(config=config)
    db = d.config["database"]
    acked, wal_sizes, errors = {}, [], []
    lock = threading.Lock()

    def writer(t):
        conn = d.connection(timeout=10)
        for i in range(60):
            citizen = "%012d" % (300000000000 + t * 1000 + i)
            body = booking_body(citizen, date=[TUESDAY, WEDNESDAY, FRIDAY][i % 3],
                                start=STARTS[(t + i) % len(STARTS)])
            r = d.request("POST", "/v1/bookings", body, token=APP, conn=conn)
            if r.status != 201:
                errors.append(r)
                continue
            with lock:
                acked[r.json["code"]] = r.json
                wal_sizes.append(os.path.getsize(db + "-wal"))
        conn.close()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(acked) == 360
    # 8 x 64 frames (a page and a 24-byte header each) before the loop steps in, and a batch
    # of commits on top: without checkpoints the WAL would pass twice that.
    con = db_connect(db)
    try:
        frame = con.execute("PRAGMA page_size").fetchone()[0] + 24
    finally:
        con.close()
    assert max(wal_sizes) < 8 * 64 * frame + 400 * frame, max(wal_sizes)
    assert os.path.getsize(db) > 100 * 1024, "no page was ever checkpointed into the file"
    d.kill9()
    d2 = restart(make_daemon, d)
    assert_unchanged(d2, acked)
    con = db_connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def test_the_database_file(make_daemon):
    d = make_daemon()
    citizens = ["014052001893", "031190004417", "001099012345"]
    codes = []
    for i, c in enumerate(citizens):
        r = d.book(c, date=TUESDAY, start=STARTS[i], phone="0912345678", name="Phạm Văn Dũng")
        assert r.status == 201, r
        codes.append(r.json["code"])
    r = d.book(citizens[0], date=WEDNESDAY, start="10:00")
    assert r.status == 201
    r = d.request("PATCH", "/v1/bookings/" + codes[1], {"date": TUESDAY, "start": "15:00"},
                  token=APP)
    assert r.status == 200 and r.json["start"] == "15:00", r
    r = d.request("DELETE", "/v1/bookings/" + codes[2], token=APP)
    assert r.status == 200 and r.json["status"] == "cancelled", r
    assert d.book(citizens[0], date=TUESDAY, start="16:00").status == 409  # refused: duplicate
    db = d.config["database"]

    def raw_files():
        return [p for p in glob.glob(db + "*") if os.path.isfile(p)]

    def assert_no_clear_id(when):
        files = raw_files()
        assert db in files
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            for c in citizens:
                assert c.encode() not in data, (when, path, c)
                assert c[:8].encode() not in data, (when, path, c[:8])
                assert c.encode("utf-16-le") not in data, (when, path, c)

    # while it runs (the changes are in the WAL), after a crash, after a clean stop
    assert os.path.getsize(db + "-wal") > 0
    assert_no_clear_id("running")
    d.kill9()
    assert_no_clear_id("killed")
    d2 = restart(make_daemon, d)
    assert d2.get("/v1/bookings?citizen_id=" + citizens[0], token=APP).json["bookings"]
    assert d2.stop() == 0
    assert_no_clear_id("stopped")

    migrations = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "sql", "*.sql")))
    assert migrations and all(m[:4].isdigit() for m in migrations), migrations
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(migrations)
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # the tables that point at tickets say so, and nothing points nowhere
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        refs = {(t, r[2]) for t in tables for r in con.execute("PRAGMA foreign_key_list(%s)" % t)}
        assert ("event", "ticket") in refs, refs
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        # a point's day (its list, its statistics) is read from an index on both, not from
        # every ticket the point ever had
        plan = " ".join(r[3] for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM ticket WHERE point = 'cua-nam' AND date = ?",
            (TUESDAY,)))
        assert "point=? AND date=?" in plan, plan
        # the citizen's booking can be found only through the keyed hash, never the id
        rows = con.execute("SELECT * FROM ticket").fetchall()
        assert len(rows) == 4
        for row in rows:
            for value in row:
                for c in citizens:
                    assert c not in str(value)
    finally:
        con.close()


def test_the_slot_count_migration_counts_the_bookings_already_made(make_daemon):
    """sql/0005 keeps each slot's count in a table: on a database made before it, the
    migration counts the bookings there, so availability and the capacity check stay exact."""
    d = make_daemon()

    def held(daemon):
        r = daemon.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + TUESDAY)
        assert r.status == 200, r
        return {s["start"]: s["booked"] for s in r.json["days"][0]["slots"]}

    codes = []
    for i in range(3):                                   # 07:30 full (capacity 3)
        r = d.book("0790%08d" % i, date=TUESDAY, start="07:30")
        assert r.status == 201, r
        codes.append(r.json["code"])
    for i in range(3, 5):
        assert d.book("0790%08d" % i, date=TUESDAY, start="08:00").status == 201
    assert d.request("DELETE", "/v1/bookings/" + codes[0], token=APP).status == 200
    r = d.request("PATCH", "/v1/bookings/" + codes[1], {"date": TUESDAY, "start": "08:30"},
                  token=APP)
    assert r.status == 200, r
    before = held(d)
    assert (before["07:30"], before["08:00"], before["08:30"]) == (1, 2, 1), before
    assert d.stop() == 0

    # the database as it was before sql/0005 (and 0006, which follows it)
    con = sqlite3.connect(d.config["database"])
    try:
        con.executescript("DROP TRIGGER slot_count_book; DROP TRIGGER slot_count_move; "
                          "DROP TABLE slot_count; DROP INDEX ticket_day; "
                          "CREATE INDEX ticket_slot ON ticket (point, booked_service, date, "
                          "start_min, kind, status); PRAGMA user_version = 4;")
    finally:
        con.close()

    d2 = restart(make_daemon, d)
    assert held(d2) == before
    # the capacity check reads the migrated counts: 08:00 takes one more, then is full
    assert d2.book("079000000010", date=TUESDAY, start="08:00").status == 201
    assert_error(d2.book("079000000011", date=TUESDAY, start="08:00"), 409, "slot_full")
    assert held(d2)["08:00"] == 3


# ---------------------------------------------------------------------------------------------
# A write that cannot reach the disk


FILE_SIZE_LIMIT = 160 * 1024


def limit_file_size():
    """In the daemon's process: writes fail once a file grows past FILE_SIZE_LIMIT bytes
    (RLIMIT_FSIZE; SIGXFSZ ignored, so a write past it fails with EFBIG as on a full disk)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


SYNC_LOG_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* Logs "sync PATH", "write PATH" and "unlink PATH" to HANGDOI_TEST_IO_LOG, then does it. */
static void
note(const char *what, const char *path)
{
	const char *log = getenv("HANGDOI_TEST_IO_LOG");
	int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT, 0644) : -1;
	if (fd >= 0) {
		dprintf(fd, "%s %s\n", what, path);
		close(fd);
	}
}

static void
note_fd(const char *what, int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	path[n > 0 ? n : 0] = 0;
	note(what, path);
}

#define REAL(f) static __typeof__(&f) real; if (!real) real = (__typeof__(&f))dlsym(RTLD_NEXT, #f)

int fdatasync(int fd) { REAL(fdatasync); note_fd("sync", fd); return real(fd); }
int fsync(int fd) { REAL(fsync); note_fd("sync", fd); return real(fd); }
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o)
{
	REAL(pwrite64);
	note_fd("write", fd);
	return real(fd, b, n, o);
}
int unlink(const char *p) { REAL(unlink); note("unlink", p); return real(p); }
"""


def test_a_clean_stop_syncs_the_database_before_it_drops_the_wal(make_daemon, tmp_path,
                                                                 monkeypatch):
    # At a clean stop SQLite copies the WAL into the database file and removes the WAL: the
    # file must be synced in between, or a power cut soon after the stop loses acknowledged
    # bookings (they would be in neither file on the disk).
    log = tmp_path / "io.log"
    d = preload_daemon(make_daemon, tmp_path, monkeypatch, SYNC_LOG_C,
                       {"HANGDOI_TEST_IO_LOG": str(log)})
    codes = [d.book("0150000000%02d" % i, date=TUESDAY, start=STARTS[i]).json["code"]
             for i in range(5)]
    db = os.path.realpath(d.config["database"])
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0, d.logs()[-2000:]
    lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    dropped = [i for i, (what, path) in enumerate(lines) if what == "unlink" and
               os.path.realpath(path) == db + "-wal"]
    assert dropped, "the WAL was not removed at the stop"
    written = [i for i, (what, path) in enumerate(lines[:dropped[-1]])
               if what == "write" and path == db]
    assert written, "the stop copied nothing into the database file"
    assert any(what == "sync" and path == db for what, path in lines[written[-1]:dropped[-1]]), \
        "the database file was not synced between its last write and the WAL's removal"
    again = restart(make_daemon, d)
    assert all(again.get("/v1/tickets/" + c).status == 200 for c in codes)


def test_a_write_that_cannot_reach_the_disk_is_503_and_changes_nothing(make_daemon):
    d = make_daemon(config=big_catalogue(), subdir="limited", preexec_fn=limit_file_size)
    acked, refused = {}, []
    try:
        for i in range(400):
            citizen = "%012d" % (300000000000 + i)
            r = d.book(citizen, date=[TUESDAY, WEDNESDAY][i % 2], start=STARTS[i % 16])
            if r.status == 201:
                acked[r.json["code"]] = r.json
                continue
            assert_error(r, 503, "unavailable")
            refused.append(citizen)
            if len(refused) == 5:
                break
        assert acked and len(refused) == 5, (len(acked), refused)
        # with an Idempotency-Key: refused too, and the key is not taken
        keyed = booking_body("309999999999", date=FRIDAY, start="10:00")
        r = d.post("/v1/bookings", keyed, token=APP, headers={"Idempotency-Key": "disk-full"})
        assert_error(r, 503, "unavailable")
        # reads go on
        assert d.get("/v1/health").status == 200
        some = next(iter(acked))
        assert d.get("/v1/bookings/" + some, token=APP).json == acked[some]
    finally:
        rc = d.stop()
    assert rc == 0, d.logs()[-2000:]

    d2 = restart(make_daemon, d)
    assert_unchanged(d2, acked)
    for citizen in refused:
        r = d2.get("/v1/bookings?citizen_id=" + citizen, token=APP)
        assert r.json["bookings"] == [], (citizen, r)
    # nothing was taken by the refused writes: no place, no number, no key
    for date in (TUESDAY, WEDNESDAY):
        slots = d2.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + date).json
        taken = sum(s["booked"] for s in slots["days"][0]["slots"])
        assert taken == sum(1 for b in acked.values() if b["date"] == date)
    last = max(int(b["number"][1:]) for b in acked.values() if b["date"] == TUESDAY)
    r = d2.book("309999999998", date=TUESDAY, start="16:30")
    assert r.status == 201 and r.json["number"] == "A%03d" % (last + 1), r
    r = d2.post("/v1/bookings", keyed, token=APP, headers={"Idempotency-Key": "disk-full"})
    assert r.status == 201, r
    assert r.json["date"] == FRIDAY and r.json["number"] == "A001"
