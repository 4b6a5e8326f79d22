"""One daemon run through every kind of request, ending on SIGTERM with exit status 0.

`tests/run valgrind` runs this file with the daemon under valgrind (leaks are errors, exit 99),
so it touches every path that allocates: bookings, the queue, feeds held open, reload, stats,
and checkpoints (a tiny limits.checkpoint_frames puts both the worker's and the loop's to work).
"""
import socket
import threading
import time

from conftest import ADMIN, APP, MONDAY, catalogue


def test_a_day_of_requests_then_a_clean_stop(make_daemon):
    config = catalogue()
    config["limits"] = {"checkpoint_frames": 16}
    d = make_daemon(config=config)
    # bookings: made, refused, moved, cancelled, replayed
    a = d.book("001234567890", start="09:00")
    assert a.status == 201, a
    assert d.book("001234567890", start="09:00").code == "duplicate_booking"
    assert d.book("12", start="09:00").code == "invalid_field"
    body = {"point": "cua-nam", "service": "cu-tru", "date": MONDAY, "start": "09:30",
            "citizen_id": "001234567891"}
    b = d.post("/v1/bookings", body, token=APP, headers={"Idempotency-Key": "k-1"})
    again = d.post("/v1/bookings", body, token=APP, headers={"Idempotency-Key": "k-1"})
    assert again.json["code"] == b.json["code"]
    moved = d.request("PATCH", "/v1/bookings/" + b.json["code"],
                      {"date": MONDAY, "start": "10:00"}, token=APP)
    assert moved.status == 200 and moved.json["start"] == "10:00"
    assert d.request("DELETE", "/v1/bookings/" + b.json["code"], token=APP).status == 200
    assert d.get("/v1/bookings?citizen_id=001234567890", token=APP).status == 200
    assert d.get("/v1/points/cua-nam/availability?service=cu-tru").status == 200
    assert d.get("/v1/services?q=dang%20ky").status == 200
    assert d.get("/v1/availability?service=cu-tru&date=" + MONDAY).status == 200
    assert d.get("/v1/tickets/%s/qr.svg" % a.json["code"]).status == 200

    # a display holds a long-poll and an event stream while the counter works
    held = {}

    def long_poll():
        held["poll"] = d.get("/v1/points/cua-nam/display?since=0&wait=10")

    poller = threading.Thread(target=long_poll)
    poller.start()
    stream = socket.create_connection(("127.0.0.1", d.port))
    stream.sendall(b"GET /v1/points/cua-nam/events HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)

    w = d.walkin(priority="elderly")
    assert w.status == 201, w
    d.set_clock("2026-11-23T08:30:00+07:00")
    assert d.checkin(a.json["code"]).status == 200
    call = d.counter("cua-nam-1", "call-next")
    assert call.status == 200, call
    assert d.counter("cua-nam-1", "recall").status == 200
    assert d.counter("cua-nam-1", "complete").status == 200
    assert d.counter("cua-nam-1", "call-next").status == 200
    assert d.counter("cua-nam-1", "transfer", {"service": "khai-sinh"}).status == 200
    assert d.counter("cua-nam-3", "call-next").status == 200
    assert d.counter("cua-nam-3", "park").status == 200
    assert d.counter("cua-nam-3", "call", {"code": a.json["code"]}).status == 200
    assert d.counter("cua-nam-3", "no-show").status == 200
    poller.join(15)
    assert held["poll"].status == 200 and held["poll"].json["calls"], held
    got = stream.recv(65536).decode()
    assert "event: call" in got

    admin = {"token": ADMIN}
    assert d.get("/v1/points/cua-nam/queue", **admin).status == 200
    assert d.get("/v1/bookings?point=cua-nam&date=" + MONDAY, **admin).status == 200
    assert d.get("/v1/stats?point=cua-nam", **admin).status == 200
    assert d.get("/v1/stats?point=cua-nam", headers={"Accept": "text/csv"}, **admin).status == 200
    assert d.get("/v1/audit?point=cua-nam&date=" + MONDAY, **admin).status == 200
    assert d.get("/metrics", **admin).status == 200
    assert d.post("/v1/admin/reload", **admin).status == 200
    assert d.get("/v1/points/cua-nam/summary").status == 200
    assert d.get("/display/cua-nam").status == 200
    assert d.get("/nowhere").status == 404
    assert d.post("/v1/bookings", raw=b"{", headers={"Content-Type": "application/json"},
                  token=APP).code == "invalid_json"
    d.set_clock("2026-11-24T00:00:01+07:00")  # the end of the day expires what waits
    # the event stream is still open: the daemon must answer it on shutdown
    rc = d.stop()
    stream.close()
    assert rc == 0, d.logs()[-3000:]
