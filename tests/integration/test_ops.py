"""Issue 5, operations: statistics, feedback, metrics, reload, systemd, socket activation and
sd_notify, logs, backup and restore, the audit trail, --version.

Times in the statistics day are exact: the test clock runs on in whole seconds (the wall clock's
seconds plus a shift), so each timed step waits for the start of a wall-clock second, sets the
clock and acts at once, and checks the instant the daemon recorded.
"""
import copy
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (ADMIN, APP, BIN, MONDAY, ROOT, SECRET, START, START_TIMEOUT, WRAP, Daemon,
                      assert_error, big_catalogue, cli, counter_token, free_port, kiosk_token,
                      metric, metrics, wait_for, T)

TUESDAY = "2026-11-24"
FIELDS = ["booked", "cancelled", "walkins", "checked_in", "served", "no_show", "expired",
          "avg_wait_seconds", "p90_wait_seconds", "avg_service_seconds", "feedback_count",
          "feedback_avg"]
# How much of a wall-clock second may be gone before a timed step waits for the next one.
SLACK = 0.05 if WRAP else 0.5



def at(d, hms, date=MONDAY):
    """Set the test clock to date hms early in a wall-clock second, so that the request made
    right after it is stamped with that very second."""
    frac = time.time() % 1
    if frac > SLACK:
        time.sleep(1.001 - frac)
    d.set_clock(T(hms, date))


# ---------------------------------------------------------------------------------------------
# 1. Statistics (and 2., feedback, as the stats see it)


def test_stats_of_a_known_day(daemon):
    d = daemon
    at(d, "08:00:00")
    booked = {}
    for name, citizen, service, date, start, point in [
            ("b1", "000000000101", "cu-tru", MONDAY, "08:30", "cua-nam"),
            ("b2", "000000000102", "cu-tru", MONDAY, "09:00", "cua-nam"),
            ("b4", "000000000104", "khai-sinh", MONDAY, "08:30", "cua-nam"),
            ("b6", "000000000106", "khai-sinh", MONDAY, "08:15", "cua-nam"),
            ("b5", "000000000105", "cu-tru", TUESDAY, "09:00", "cua-nam"),
            ("b7", "000000000107", "cu-tru", MONDAY, "09:00", "kim-lien")]:
        r = d.book(citizen, date=date, start=start, point=point, service=service)
        assert r.status == 201, (name, r)
        booked[name] = r.json["code"]
    b1, b2, b4, b6 = booked["b1"], booked["b2"], booked["b4"], booked["b6"]

    at(d, "08:00:30")
    assert d.request("DELETE", "/v1/bookings/" + b2, token=APP).status == 200

    walkins = {}
    for name, service, hms in [("w1", "cu-tru", "08:05:00"), ("w2", "cu-tru", "08:06:00"),
                               ("w3", "khai-sinh", "08:07:00")]:
        at(d, hms)
        r = d.walkin(service=service)
        assert r.status == 201, r
        assert r.json["created_at"] == T(hms), r
        walkins[name] = r.json["code"]
    w1, w2, w3 = walkins["w1"], walkins["w2"], walkins["w3"]

    at(d, "08:10:00")
    assert d.checkin(b1).status == 200
    at(d, "08:10:30")
    assert d.checkin(b4).status == 200

    def call(counter, hms, expect):
        at(d, hms)
        r = d.counter(counter, "call-next")
        assert r.status == 200, r
        assert r.json["ticket"]["code"] == expect, (hms, r)
        assert r.json["ticket"]["called_at"] == T(hms), r

    def finish(counter, action, hms, expect):
        at(d, hms)
        r = d.counter(counter, action)
        assert r.status == 200, r
        assert d.get("/v1/tickets/" + expect).json["status"] == (
            "served" if action == "complete" else "no_show")

    call("cua-nam-2", "08:12:00", w1)                # wait 420
    call("cua-nam-3", "08:13:00", w3)                # wait 360
    at(d, "08:15:00")
    assert d.counter("cua-nam-2", "recall").status == 200
    assert d.get("/v1/tickets/" + w1).json["called_at"] == T("08:15:00")
    finish("cua-nam-3", "complete", "08:18:30", w3)  # service 330
    finish("cua-nam-2", "complete", "08:20:00", w1)  # service 300 (from the recall)
    call("cua-nam-2", "08:21:00", w2)                # wait 900
    finish("cua-nam-2", "no-show", "08:25:00", w2)
    call("cua-nam-2", "08:26:00", b1)                # wait 960 (since check-in at 08:10)
    call("cua-nam-3", "08:31:00", b4)                # wait 1230 (since check-in at 08:10:30)
    finish("cua-nam-2", "complete", "08:33:20", b1)  # service 440
    finish("cua-nam-3", "complete", "08:40:00", b4)  # service 540
    at(d, "08:50:00")                                # b6 (08:15, check-in until 08:45) expires
    assert d.get("/v1/tickets/" + b6).json["status"] == "expired"

    for code, rating in [(w1, 4), (b1, 5), (w3, 3)]:
        r = d.post("/v1/tickets/%s/feedback" % code, {"rating": rating, "comment": "Nhanh, cảm ơn"},
                   token=APP)
        assert r.status == 201, r

    cu_tru = {"booked": 2, "cancelled": 1, "walkins": 2, "checked_in": 1, "served": 2,
              "no_show": 1, "expired": 0, "avg_wait_seconds": (420 + 900 + 960) / 3,
              "p90_wait_seconds": 960, "avg_service_seconds": (300 + 440) / 2,
              "feedback_count": 2, "feedback_avg": 4.5}
    khai_sinh = {"booked": 2, "cancelled": 0, "walkins": 1, "checked_in": 1, "served": 2,
                 "no_show": 0, "expired": 1, "avg_wait_seconds": (360 + 1230) / 2,
                 "p90_wait_seconds": 1230, "avg_service_seconds": (330 + 540) / 2,
                 "feedback_count": 1, "feedback_avg": 3.0}
    total = {"booked": 4, "cancelled": 1, "walkins": 3, "checked_in": 2, "served": 4,
             "no_show": 1, "expired": 1, "avg_wait_seconds": (420 + 900 + 960 + 360 + 1230) / 5,
             "p90_wait_seconds": 1230, "avg_service_seconds": (300 + 440 + 330 + 540) / 4,
             "feedback_count": 3, "feedback_avg": 4.0}
    expected = {"cu-tru": cu_tru, "khai-sinh": khai_sinh}

    r = d.get("/v1/stats?point=cua-nam&date=" + MONDAY, token=ADMIN)
    assert r.status == 200, r
    assert r.json["point"] == "cua-nam" and r.json["date"] == MONDAY
    got = {s["service"]: {f: s.get(f, "missing") for f in FIELDS} for s in r.json["services"]}
    assert got == expected
    assert {f: r.json["total"].get(f, "missing") for f in FIELDS} == total
    # today is the default date
    today = d.get("/v1/stats?point=cua-nam", token=ADMIN)
    assert today.status == 200 and today.json == r.json

    # CSV: the same numbers, nulls as empty cells
    c = d.get("/v1/stats?point=cua-nam&date=" + MONDAY, token=ADMIN,
              headers={"Accept": "text/csv"})
    assert c.status == 200, c
    assert c.headers["content-type"].split(";")[0].strip() == "text/csv"
    rows = list(csv.reader(io.StringIO(c.raw)))
    rows = [row for row in rows if row]
    assert rows[0] == ["service"] + FIELDS
    by_name = {row[0]: row[1:] for row in rows[1:]}
    assert sorted(by_name) == ["cu-tru", "khai-sinh", "total"] and len(rows) == 4
    for name, want in list(expected.items()) + [("total", total)]:
        for f, cell in zip(FIELDS, by_name[name]):
            if want[f] is None:
                assert cell == "", (name, f, cell)
            else:
                assert float(cell) == want[f], (name, f, cell)

    # Another date and another point keep their own numbers; averages over nothing are null.
    tue = d.get("/v1/stats?point=cua-nam&date=" + TUESDAY, token=ADMIN)
    assert tue.status == 200, tue
    zero = {"booked": 0, "cancelled": 0, "walkins": 0, "checked_in": 0, "served": 0,
            "no_show": 0, "expired": 0, "avg_wait_seconds": None, "p90_wait_seconds": None,
            "avg_service_seconds": None, "feedback_count": 0, "feedback_avg": None}
    got = {s["service"]: {f: s.get(f, "missing") for f in FIELDS} for s in tue.json["services"]}
    assert got == {"cu-tru": dict(zero, booked=1), "khai-sinh": zero}
    assert {f: tue.json["total"].get(f, "missing") for f in FIELDS} == dict(zero, booked=1)
    tue_csv = d.get("/v1/stats?point=cua-nam&date=" + TUESDAY, token=ADMIN,
                    headers={"Accept": "text/csv"})
    assert [row for row in csv.reader(io.StringIO(tue_csv.raw)) if row][-1] == \
        ["total", "1", "0", "0", "0", "0", "0", "0", "", "", "", "0", ""]
    kl = d.get("/v1/stats?point=kim-lien&date=" + MONDAY, token=ADMIN)
    assert kl.status == 200
    assert {f: kl.json["total"].get(f) for f in FIELDS} == dict(zero, booked=1)


def test_stats_access_and_parameters(daemon):
    d = daemon
    assert_error(d.get("/v1/stats?point=cua-nam", token=APP), 403, "forbidden")
    assert_error(d.get("/v1/stats?point=cua-nam", token=kiosk_token("cua-nam")), 403, "forbidden")
    assert_error(d.get("/v1/stats?point=cua-nam"), 401, "unauthorized")
    assert_error(d.get("/v1/stats", token=ADMIN), 400, "invalid_field", "point")
    assert_error(d.get("/v1/stats?date=" + MONDAY, token=ADMIN), 400, "invalid_field", "point")
    assert_error(d.get("/v1/stats?point=nowhere", token=ADMIN), 404, "not_found", "point")
    assert_error(d.get("/v1/stats?point=cua-nam&date=2026-13-40", token=ADMIN), 400,
                 "invalid_field", "date")


# ---------------------------------------------------------------------------------------------
# 2. Feedback


def test_feedback_rules(daemon):
    d = daemon
    w = d.walkin().json["code"]
    other = d.walkin().json["code"]
    fb = "/v1/tickets/%s/feedback"
    # waiting, then called: not yet served
    r = d.post(fb % w, {"rating": 5}, token=APP)
    assert_error(r, 409, "invalid_state")
    assert d.counter("cua-nam-2", "call-next").json["ticket"]["code"] == w
    r = d.post(fb % w, {"rating": 5}, token=APP)
    assert_error(r, 409, "invalid_state")
    assert d.counter("cua-nam-2", "complete").status == 200

    for bad in (0, 6, "5", 4.5, None):
        assert_error(d.post(fb % w, {"rating": bad}, token=APP), 400, "invalid_field", "rating")
    r = d.post(fb % w, {"comment": "không có điểm"}, token=APP)
    assert_error(r, 400, "invalid_field", "rating")
    assert_error(d.post(fb % w, {"rating": 5}), 401, "unauthorized")
    assert_error(d.post(fb % w, {"rating": 5}, token=kiosk_token("cua-nam")), 403, "forbidden")
    r = d.post(fb % "ZZZZZZZZZZ", {"rating": 5}, token=APP)
    assert_error(r, 404, "not_found")

    r = d.post(fb % w, {"rating": 5, "comment": "Cán bộ nhiệt tình"}, token=APP)
    assert r.status == 201, r
    r = d.post(fb % w, {"rating": 4}, token=APP)
    assert_error(r, 409, "invalid_state")

    # a no-show is not served
    assert d.counter("cua-nam-2", "call-next").json["ticket"]["code"] == other
    assert d.counter("cua-nam-2", "no-show").status == 200
    r = d.post(fb % other, {"rating": 1}, token=APP)
    assert_error(r, 409, "invalid_state")

    s = d.get("/v1/stats?point=cua-nam&date=" + MONDAY, token=ADMIN).json
    cu = [x for x in s["services"] if x["service"] == "cu-tru"][0]
    assert cu["feedback_count"] == 1 and cu["feedback_avg"] == 5.0, cu
    assert s["total"]["feedback_count"] == 1 and s["total"]["feedback_avg"] == 5.0


# ---------------------------------------------------------------------------------------------
# 3. Metrics

def requests_by_label(samples):
    return {(dict(k[1])["route"], dict(k[1])["status"]): v for k, v in samples.items()
            if k[0] == "hangdoi_requests_total"}


def check_histogram(samples, name):
    buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                      if k[0] == name + "_bucket"), key=lambda b: b[0])
    assert len(buckets) >= 2 and buckets[-1][0] == float("inf"), buckets
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are not cumulative: %r" % buckets
    count = samples[(name + "_count", frozenset())]
    assert buckets[-1][1] == count
    assert samples[(name + "_sum", frozenset())] >= 0
    return count


def test_metrics(daemon):
    d = daemon
    assert_error(d.get("/metrics"), 401, "unauthorized")
    assert_error(d.get("/metrics", token=APP), 403, "forbidden")

    s0, types, helps = metrics(d)
    for fam, kind in [("hangdoi_requests_total", "counter"),
                      ("hangdoi_request_duration_seconds", "histogram"),
                      ("hangdoi_db_commit_duration_seconds", "histogram"),
                      ("hangdoi_bookings_total", "counter"), ("hangdoi_calls_total", "counter"),
                      ("hangdoi_event_streams", "gauge"), ("hangdoi_waiting_tickets", "gauge"),
                      ("hangdoi_webhook_attempts_total", "counter"),
                      ("hangdoi_webhook_pending", "gauge")]:
        assert types.get(fam) == kind, (fam, types)
        assert fam in helps, fam
    assert set(types) <= helps

    for _ in range(3):
        assert d.get("/v1/points/kim-lien").status == 200
    for _ in range(2):
        assert d.get("/v1/points/nowhere").status == 404
    assert d.book("001234567001", start="09:00").status == 201
    assert d.book("001234567002", start="09:30").status == 201
    s1, _, _ = metrics(d)

    before, after = requests_by_label(s0), requests_by_label(s1)
    diff = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # 3 + 2 point reads on one route, 2 bookings, and the first /metrics read itself
    assert sorted(diff.values()) == [1, 2, 2, 3], diff
    point_route = [k[0] for k, v in diff.items() if v == 3][0]
    assert diff[(point_route, "200")] == 3 and diff[(point_route, "404")] == 2, diff
    assert [k for k, v in diff.items() if v == 2 and k[1] == "201"], diff
    assert [k for k, v in diff.items() if v == 1 and k[1] == "200"], diff

    c0 = check_histogram(s0, "hangdoi_request_duration_seconds")
    c1 = check_histogram(s1, "hangdoi_request_duration_seconds")
    assert c1 - c0 == 8
    assert c1 == sum(requests_by_label(s1).values())
    k0 = check_histogram(s0, "hangdoi_db_commit_duration_seconds")
    k1 = check_histogram(s1, "hangdoi_db_commit_duration_seconds")
    assert k1 - k0 >= 2
    bookings = ("hangdoi_bookings_total", frozenset())
    assert s1[bookings] - s0[bookings] == 2

    # waiting tickets and calls
    waiting = ("hangdoi_waiting_tickets", frozenset({("point", "cua-nam")}))
    assert s1[waiting] == 0
    assert d.walkin().status == 201 and d.walkin().status == 201
    s2, _, _ = metrics(d)
    assert s2[waiting] == 2
    assert s2[("hangdoi_waiting_tickets", frozenset({("point", "kim-lien")}))] == 0
    assert d.counter("cua-nam-2", "call-next").status == 200
    s3, _, _ = metrics(d)
    assert s3[waiting] == 1
    calls = ("hangdoi_calls_total", frozenset())
    assert s3[calls] - s2[calls] == 1



def test_metrics_event_streams_gauge(daemon):
    d = daemon
    assert metric(d, "hangdoi_event_streams") == 0
    sock = socket.create_connection(("127.0.0.1", d.port))
    try:
        sock.sendall(b"GET /v1/points/cua-nam/events HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        head = sock.recv(4096).decode(errors="replace")
        assert head.startswith("HTTP/1.1 200") and "text/event-stream" in head, head
        assert wait_for(lambda: metric(d, "hangdoi_event_streams") == 1), \
            metric(d, "hangdoi_event_streams")
    finally:
        sock.close()
    closed = time.time()
    assert wait_for(lambda: metric(d, "hangdoi_event_streams") == 0), \
        "hangdoi_event_streams still %d %.1f s after the client closed its stream" % (
            metric(d, "hangdoi_event_streams"), time.time() - closed)


# ---------------------------------------------------------------------------------------------
# 4. Reload


def renamed(config, name):
    c = copy.deepcopy(config)
    c["points"][0]["name"] = name
    return c


def with_new_service(config):
    c = copy.deepcopy(config)
    kl = c["points"][1]
    kl["services"].append({"id": "chung-thuc", "name": "Chứng thực bản sao", "prefix": "C",
                           "slot_minutes": 30, "slot_capacity": 2, "walkin_daily_limit": 20,
                           "avg_service_minutes": 5})
    kl["counters"][0]["services"].append("chung-thuc")
    return c


def test_reload_endpoint_applies_the_new_catalogue(daemon):
    d = daemon
    assert_error(d.post("/v1/admin/reload", token=APP), 403, "forbidden")
    assert_error(d.post("/v1/admin/reload"), 401, "unauthorized")
    new = with_new_service(renamed(d.config, "Phường Cửa Nam (mới)"))
    new["tokens"].append({"name": "app2", "role": "app", "token": "app-token-0002"})
    assert_error(d.get("/v1/bookings?citizen_id=001234567890", token="app-token-0002"), 401,
                 "unauthorized")
    d.write_config(new)
    r = d.post("/v1/admin/reload", token=ADMIN)
    assert r.status == 200, r
    assert d.get("/v1/points/cua-nam").json["name"] == "Phường Cửa Nam (mới)"
    kl = d.get("/v1/points/kim-lien").json
    assert "chung-thuc" in [s["id"] for s in kl["services"]], kl
    r = d.book("001234567890", point="kim-lien", service="chung-thuc", start="09:00")
    assert r.status == 201, r
    assert d.get("/v1/bookings?citizen_id=001234567890", token="app-token-0002").status == 200


def test_reload_of_an_invalid_file_changes_nothing(daemon):
    d = daemon
    good = copy.deepcopy(d.config)
    bad = renamed(good, "Không được áp dụng")
    bad["points"][0]["services"][1]["prefix"] = "b1"
    bad["points"][1]["counters"][0]["services"] = ["nope"]
    d.write_config(bad)
    r = d.post("/v1/admin/reload", token=ADMIN)
    assert_error(r, 400, "invalid_config")
    problems = r.json["error"]["problems"]
    assert isinstance(problems, list) and problems, r
    assert all(isinstance(p, str) for p in problems), problems
    assert any("points[0].services[1].prefix" in p for p in problems), problems
    assert any("points[1].counters[0].services" in p for p in problems), problems
    # the same lines as --check-config prints
    chk = cli("--config", str(d.config_path), "--check-config")
    assert chk.returncode == 1
    assert sorted(l for l in chk.stderr.splitlines() if l.strip()) == sorted(problems), chk.stderr
    # and the daemon's own log says so, as for SIGHUP
    assert wait_for(lambda: all("reload refused: " + p in d.logs() for p in problems)), d.logs()
    assert d.get("/v1/points/cua-nam").json["name"] == "Phường Cửa Nam"

    d.config_path.write_text("{ not json", encoding="utf-8")
    r = d.post("/v1/admin/reload", token=ADMIN)
    assert_error(r, 400, "invalid_config")
    assert r.json["error"]["problems"] and all(isinstance(p, str)
                                               for p in r.json["error"]["problems"])
    assert d.get("/v1/points/cua-nam").json["name"] == "Phường Cửa Nam"
    assert d.book("001234567890", start="09:00").status == 201

    d.write_config(renamed(good, "Đã sửa"))
    assert d.post("/v1/admin/reload", token=ADMIN).status == 200
    assert d.get("/v1/points/cua-nam").json["name"] == "Đã sửa"


def test_sighup_rereads_the_catalogue(daemon):
    d = daemon
    good = copy.deepcopy(d.config)
    d.write_config(renamed(good, "Sau SIGHUP"))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: d.get("/v1/points/cua-nam").json["name"] == "Sau SIGHUP")

    bad = renamed(good, "Không hợp lệ")
    bad["points"][0]["services"][0]["prefix"] = "zz9"
    d.write_config(bad)
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "points[0].services[0].prefix" in d.logs()), d.logs()[-2000:]
    assert d.proc.poll() is None
    assert d.get("/v1/points/cua-nam").json["name"] == "Sau SIGHUP"


def test_tickets_of_a_removed_service_stay_readable(daemon):
    d = daemon
    bk = d.book("001234567890", service="khai-sinh", start="09:00")
    assert bk.status == 201, bk
    wk = d.walkin(service="khai-sinh")
    assert wk.status == 201, wk
    c = copy.deepcopy(d.config)
    p = c["points"][0]
    p["services"] = [s for s in p["services"] if s["id"] != "khai-sinh"]
    p["counters"] = [k for k in p["counters"] if k["id"] != "cua-nam-3"]
    p["counters"][0]["services"] = ["cu-tru"]
    c["tokens"] = [t for t in c["tokens"] if t.get("counter") != "cua-nam-3"]
    d.write_config(c)
    r = d.post("/v1/admin/reload", token=ADMIN)
    assert r.status == 200, r
    assert [s["id"] for s in d.get("/v1/points/cua-nam").json["services"]] == ["cu-tru"]
    for code in (bk.json["code"], wk.json["code"]):
        r = d.get("/v1/bookings/" + code, token=APP)
        assert r.status == 200 and r.json["service"] == "khai-sinh", r
        r = d.get("/v1/tickets/" + code)
        assert r.status == 200 and r.json["service"] == "khai-sinh", r
    # the day's listing, statistics and audit trail still count them
    day = d.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=ADMIN)
    assert day.status == 200, day
    assert [(t["code"], t["kind"], t["service"], t["number"]) for t in day.json["bookings"]] == [
        (bk.json["code"], "booking", "khai-sinh", "B001"),
        (wk.json["code"], "walkin", "khai-sinh", "B002")], day
    stats = d.get("/v1/stats?point=cua-nam&date=" + MONDAY, token=ADMIN)
    assert stats.status == 200, stats
    gone = [x for x in stats.json["services"] if x["service"] == "khai-sinh"]
    assert len(gone) == 1 and (gone[0]["booked"], gone[0]["walkins"]) == (1, 1), stats
    assert (stats.json["total"]["booked"], stats.json["total"]["walkins"]) == (1, 1), stats
    audit = d.get("/v1/audit?point=cua-nam&date=" + MONDAY, token=ADMIN)
    assert audit.status == 200, audit
    assert sorted(e["ticket"] for e in audit.json["events"]) == sorted(
        [bk.json["code"], wk.json["code"]]), audit


def test_reload_storm_while_booking(make_daemon):
    a = big_catalogue()
    b = with_new_service(renamed(a, "Cửa Nam B"))
    d = make_daemon(config=a)
    a["listen"], a["database"] = d.config["listen"], d.config["database"]
    b["listen"], b["database"] = d.config["listen"], d.config["database"]

    reloading = threading.Event()
    failures, booked = [], []
    dates = ["2026-11-24", "2026-11-25", "2026-11-27", "2026-11-28"]
    starts = ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00"]
    clients, per_client = 4, 10

    def client(t):
        reloading.wait(30)
        for i in range(1, per_client + 1):
            date = dates[i % len(dates)]
            try:
                r = d.book("%012d" % (800000000000 + t * 100000 + i), date=date,
                           start=starts[i % len(starts)])
                if r.status == 201:
                    booked.append(r.json["code"])
                else:
                    failures.append(("book", r))
                if i % 3 == 0:
                    r = d.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + date)
                    if r.status != 200:
                        failures.append(("availability", r))
            except Exception as e:  # a connection error is a failure
                failures.append(("exception", repr(e)))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(clients)]
    for th in threads:
        th.start()
    # Reloads, config b and a in turn, from before the first booking until after the last one
    # and at least 100 of them; the last one is config a.
    n = 0
    try:
        while n < 100 or n % 2 or (any(th.is_alive() for th in threads) and n < 20000):
            d.write_config(b if n % 2 == 0 else a)
            r = d.post("/v1/admin/reload", token=ADMIN)
            if r.status != 200:
                failures.append(("reload", n, r))
            n += 1
            reloading.set()
    finally:
        reloading.set()
        for th in threads:
            th.join(30)
    assert not failures, failures[:10]
    print("reload storm: %d bookings during %d reloads" % (len(booked), n))
    assert len(booked) == clients * per_client, len(booked)
    assert len(set(booked)) == len(booked)
    # the last reload was config a
    assert d.get("/v1/points/cua-nam").json["name"] == "Phường Cửa Nam"
    for code in booked[::max(1, len(booked) // 50)]:
        assert d.get("/v1/bookings/" + code, token=APP).status == 200
    assert d.stop() == 0, d.logs()[-2000:]


# ---------------------------------------------------------------------------------------------
# 5. systemd units and make install


def test_systemd_analyze_security():
    exe = shutil.which("systemd-analyze")
    if exe is None:
        print("SKIP: systemd-analyze not present")
        pytest.skip("systemd-analyze not present")
    r = subprocess.run([exe, "security", "--offline=yes", "systemd/hangdoi.service"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", r.stdout + r.stderr)
    assert m, r.stdout[-1000:] + r.stderr[-1000:]
    assert float(m.group(1)) <= 2.0, m.group(0)


def unit_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.strip().startswith(("#", ";"))]


def test_unit_files():
    svc = unit_lines(os.path.join(ROOT, "systemd", "hangdoi.service"))
    assert "Type=notify" in svc
    assert any(re.match(r"StateDirectory=\S+", l) for l in svc), svc
    assert any(re.match(r"User=\S+", l) or l in ("DynamicUser=yes", "DynamicUser=true")
               for l in svc), svc
    assert any(l.startswith("ExecStart=") and "hangdoid" in l for l in svc), svc
    sock = unit_lines(os.path.join(ROOT, "systemd", "hangdoi.socket"))
    assert any(re.match(r"ListenStream=\S+", l) for l in sock), sock


def make_install(tmp_path):
    dest = tmp_path / "root"
    r = subprocess.run(["make", "-s", "install", "DESTDIR=%s" % dest, "PREFIX=/usr"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return dest


def test_make_install(tmp_path):
    dest = make_install(tmp_path)
    exe = dest / "usr/bin/hangdoid"
    assert exe.is_file() and os.access(exe, os.X_OK)
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("hangdoid"), out
    example = dest / "etc/hangdoi/hangdoi.json.example"
    assert example.is_file()
    json.loads(example.read_text(encoding="utf-8"))
    for unit in ("hangdoi.service", "hangdoi.socket"):
        installed = dest / "usr/lib/systemd/system" / unit
        assert installed.is_file(), unit


def test_installed_unit_runs_the_installed_binary(tmp_path):
    """With PREFIX=/usr the installed service must start /usr/bin/hangdoid, the file installed."""
    dest = make_install(tmp_path)
    svc = unit_lines(dest / "usr/lib/systemd/system/hangdoi.service")
    exec_start = [l for l in svc if l.startswith("ExecStart=")]
    assert exec_start, svc
    binary = exec_start[0][len("ExecStart="):].lstrip("-@:+!").split()[0]
    assert binary == "/usr/bin/hangdoid", exec_start[0]


# ---------------------------------------------------------------------------------------------
# 6. Socket activation and sd_notify


def test_socket_activation(tmp_path):
    sa = shutil.which("systemd-socket-activate")
    if sa is None:
        print("SKIP: systemd-socket-activate not present")
        pytest.skip("systemd-socket-activate not present")
    cfg = Daemon(tmp_path)  # writes the config; its own listen port stays unused
    port = free_port()
    while port == cfg.port:
        port = free_port()
    log = open(tmp_path / "sa.log", "wb")
    proc = subprocess.Popen([sa, "-l", "127.0.0.1:%d" % port] + WRAP +
                            [BIN, "--config", str(cfg.config_path), "--test-clock", START],
                            stdout=log, stderr=log)
    try:
        cfg.port = port
        assert wait_for(lambda: _health(cfg), timeout=START_TIMEOUT), \
            (tmp_path / "sa.log").read_text(errors="replace")
        r = cfg.book("001234567890", start="09:00")
        assert r.status == 201, r
        assert cfg.get("/v1/bookings/" + r.json["code"], token=APP).status == 200
        # the configured address was not bound: the inherited socket serves
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(cfg.config["listen"].rsplit(":", 1)[1])),
                                     timeout=2).close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "sa.log").read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _health(d):
    try:
        return d.get("/v1/health").status == 200
    except OSError:
        return False


def test_sd_notify_ready_and_stopping(tmp_path):
    cfg = Daemon(tmp_path)
    sockdir = tempfile.mkdtemp(prefix="hd-notify-")
    path = os.path.join(sockdir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    log = open(tmp_path / "daemon.log", "wb")
    proc = subprocess.Popen(WRAP + [BIN, "--config", str(cfg.config_path), "--test-clock", START],
                            stdout=log, stderr=log, env=env)

    def until(word, timeout):
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            sock.settimeout(max(0.01, deadline - time.time()))
            try:
                msg = sock.recv(4096).decode(errors="replace")
            except socket.timeout:
                break
            got.append(msg)
            if word in msg.split("\n"):
                return got
        raise AssertionError("no %s datagram; got %r; log: %s"
                             % (word, got, (tmp_path / "daemon.log").read_text(errors="replace")))

    try:
        until("READY=1", START_TIMEOUT)
        # ready means listening: the first request after READY=1 is answered
        assert cfg.get("/v1/health").status == 200
        proc.send_signal(signal.SIGTERM)
        until("STOPPING=1", 30)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        sock.close()
        shutil.rmtree(sockdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# 7. Logs

ACCESS = re.compile(r"^<\d>(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/\S*) (\d{3}) "
                    r"(\d+(?:\.\d+)?) ?(ns|us|µs|ms|s)$")


def test_access_log_and_privacy(daemon):
    d = daemon
    citizen = "001234567890"
    bogus = "not-a-real-token-7f3a9c"
    for _ in range(3):
        assert d.get("/v1/points/kim-lien").status == 200
    b = d.book(citizen, start="09:00")
    assert b.status == 201
    assert d.get("/v1/bookings?citizen_id=" + citizen, token=APP).status == 200
    assert d.get("/v1/bookings/" + b.json["code"], token=APP).status == 200
    assert d.checkin(b.json["code"]).status == 200
    assert d.walkin().status == 201
    assert d.counter("cua-nam-2", "call-next").status == 200
    assert d.get("/v1/stats?point=cua-nam", token=ADMIN).status == 200
    assert_error(d.get("/v1/stats?point=cua-nam", token=bogus), 401, "unauthorized")
    assert d.get("/nowhere").status == 404
    assert d.stop() == 0
    log = d.logs()
    lines = [l for l in log.splitlines() if l and not (WRAP and l.startswith("=="))]
    for l in lines:
        assert re.match(r"^<[0-7]>", l), "no journald prefix: %r" % l
    access = [ACCESS.match(l) for l in lines]
    access = [m for m in access if m]
    assert sum(1 for m in access if m.group(1, 2, 3) == ("GET", "/v1/points/kim-lien", "200")) == 3
    assert sum(1 for m in access if m.group(1, 2, 3) == ("POST", "/v1/bookings", "201")) == 1
    assert sum(1 for m in access if m.group(1, 2, 3) == ("GET", "/v1/stats", "401")) == 1
    assert sum(1 for m in access if m.group(1, 2, 3) == ("GET", "/nowhere", "404")) == 1
    assert sum(1 for m in access if m.group(2).startswith("/v1/bookings")) == 3
    for secret in [citizen, APP, ADMIN, bogus, SECRET, kiosk_token("cua-nam"),
                   counter_token("cua-nam-2")]:
        assert secret not in log, "%r appears in the log" % secret
    assert "citizen_id=" not in log


# ---------------------------------------------------------------------------------------------
# 8. Backup and restore


def test_backup_while_serving_then_restore(make_daemon, tmp_path):
    d = make_daemon(config=big_catalogue())
    acked, failures = [], []
    stop = threading.Event()

    def booker():
        i = 0
        while not stop.is_set():
            i += 1
            t0 = time.time()
            try:
                r = d.book("%012d" % (700000000000 + i), date=["2026-11-24", "2026-11-25"][i % 2],
                           start=["09:00", "09:30", "10:00", "10:30"][i % 4])
            except Exception as e:
                failures.append(repr(e))
                continue
            if r.status == 201:
                acked.append((t0, time.time(), r.json["code"]))
            else:
                failures.append(r)

    th = threading.Thread(target=booker)
    th.start()
    try:
        # the backup is taken once some bookings are acknowledged, while more are being made,
        # and the booker goes on until a booking sent after the backup is acknowledged
        assert wait_for(lambda: len(acked) >= 5 or failures, timeout=60), len(acked)
        out = tmp_path / "backup.db"
        b0 = time.time()
        r = cli("--config", str(d.config_path), "--backup", str(out))
        b1 = time.time()
        assert r.returncode == 0, r.stdout + r.stderr
        assert wait_for(lambda: failures or [a for a in list(acked) if a[0] > b1], timeout=60)
    finally:
        stop.set()
        th.join(30)
    assert not failures, failures[:5]
    before = [c for t0, t1, c in acked if t1 < b0]
    after = [c for t0, t1, c in acked if t0 > b1]
    assert len(before) >= 5 and after, (len(before), len(after))

    with sqlite3.connect(str(out)) as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        codes = {row[0] for row in con.execute("SELECT code FROM ticket")}
    con.close()
    missing = [c for c in before if c not in codes]
    assert not missing, missing[:5]
    assert not [c for c in after if c in codes]

    # restore: stop, copy over the database, remove -wal/-shm, start
    db = d.config["database"]
    assert d.stop() == 0, d.logs()[-2000:]
    shutil.copyfile(out, db)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    cfg = copy.deepcopy(d.config)
    d2 = make_daemon(config=cfg)
    assert d2.config["database"] == db
    for code in before:
        assert d2.get("/v1/bookings/" + code, token=APP).status == 200, code
    for code in after[:10]:
        assert d2.get("/v1/bookings/" + code, token=APP).status == 404, code
    assert d2.book("009999999999", date="2026-11-24", start="11:00").status == 201


# ---------------------------------------------------------------------------------------------
# 9. Audit


def test_audit_listing_and_verify(daemon):
    d = daemon
    b = d.book("001234567890", start="08:30").json["code"]
    w = d.walkin().json["code"]
    assert d.checkin(b).status == 200
    assert d.counter("cua-nam-2", "call-next").json["ticket"]["code"] == w
    assert d.counter("cua-nam-2", "complete").status == 200
    assert d.book("001234567891", point="kim-lien", start="09:00").status == 201

    assert_error(d.get("/v1/audit?point=cua-nam&date=" + MONDAY, token=APP), 403, "forbidden")
    r = d.get("/v1/audit?point=cua-nam&date=" + MONDAY, token=ADMIN)
    assert r.status == 200, r
    events = r.json["events"]
    assert len(events) >= 5, events
    for e in events:
        assert set(e) >= {"seq", "at", "ticket", "action", "actor", "hash"}, e
        assert isinstance(e["seq"], int) and re.fullmatch(r"[0-9a-f]{64}", e["hash"]), e
        assert re.fullmatch(r"2026-11-23T\d\d:\d\d:\d\d\+07:00", e["at"]), e
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e["hash"] for e in events}) == len(events)
    assert {e["ticket"] for e in events} == {b, w}
    assert [e for e in events if e["ticket"] == w and e["action"] and e["actor"]]
    assert_error(d.get("/v1/audit?date=" + MONDAY, token=ADMIN), 400, "invalid_field", "point")
    assert_error(d.get("/v1/audit?point=nowhere&date=" + MONDAY, token=ADMIN), 404, "not_found",
                 "point")

    assert d.stop() == 0
    ok = cli("--config", str(d.config_path), "--verify-audit")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    target = events[2]["seq"]
    con = sqlite3.connect(d.config["database"])
    with con:
        assert con.execute("UPDATE event SET actor='x' WHERE seq=?", (target,)).rowcount == 1
    con.close()
    bad = cli("--config", str(d.config_path), "--verify-audit")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert re.search(r"\b%d\b" % target, bad.stdout + bad.stderr), bad.stdout + bad.stderr


# ---------------------------------------------------------------------------------------------
# 10. --version


def test_version(daemon):
    r = cli("--version")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    first = out.splitlines()[0]
    assert re.match(r"^hangdoid \d+\.\d+(\.\d+)?", first), out
    assert d_version(daemon) in first
    for lib in ("libmicrohttpd", "libuv", "sqlite", "jansson", "OpenSSL"):
        assert re.search(r"(?im)^%s\S*\s+v?\d+\.\d+" % lib, out), (lib, out)
    assert re.search(r"(?m)^libcurl/\d+\.\d+", out), out


def d_version(d):
    return d.get("/v1/health").json["version"]
