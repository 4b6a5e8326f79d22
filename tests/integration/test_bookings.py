"""The booking half of the contract (API.md sections 4 and 5): health, points, availability,
bookings made, read, listed, moved and cancelled, public tickets, Idempotency-Key, roles, and
many clients booking one slot at once; and the citizen's look-ups of section 6: procedures
across the city, city-wide availability and the ticket's QR code.

The error codes of API.md's table that these endpoints can produce, each asserted here:
  invalid_json, invalid_field, unauthorized, forbidden, not_found, method_not_allowed,
  slot_full, duplicate_booking, too_many_bookings, booking_suspended, invalid_state,
  payload_too_large, unsupported_media_type, outside_horizon, closed, slot_passed,
  idempotency_mismatch, rate_limited;
  unavailable is asserted in test_durability.py (a write that cannot reach the disk).
Not produced by these endpoints: daily_limit_reached, checkin_not_open, checkin_closed and
wrong_point (kiosk), invalid_config (reload).

The test clock starts on Monday 2026-11-23 at 08:00 +07:00; the horizon is that day and the six
after it (through Sunday 2026-11-29). cua-nam is closed on Thursday 2026-11-26 and on Sundays.
"""
import json
import re
import sqlite3
import threading
import urllib.parse
import xml.etree.ElementTree as ET

from conftest import (ADMIN, APP, MONDAY, START, assert_error, booking_body, catalogue,
                      counter_token, kiosk_token)

TUESDAY, WEDNESDAY, THURSDAY = "2026-11-24", "2026-11-25", "2026-11-26"
FRIDAY, SATURDAY, SUNDAY = "2026-11-27", "2026-11-28", "2026-11-29"
NEXT_MONDAY = "2026-11-30"
HORIZON = [MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY]

RECORD_KEYS = {"code", "kind", "number", "point", "service", "date", "start", "end", "status",
               "priority", "citizen_id", "created_at", "checkin_from", "checkin_until",
               "position", "eta_minutes", "counter", "called_at"}
CODE_RE = re.compile(r"^[A-Z0-9]{8,16}$")


def masked(citizen):
    return "*" * 8 + citizen[-4:]


def weekday_slots(slot_minutes):
    """The slot starts of a weekday (07:30-12:00, 13:30-17:00) as HH:MM."""
    out = []
    for a, b in ((7 * 60 + 30, 12 * 60), (13 * 60 + 30, 17 * 60)):
        t = a
        while t + slot_minutes <= b:
            out.append("%02d:%02d" % divmod(t, 60))
            t += slot_minutes
    return out


def availability(d, date, service="cu-tru", point="cua-nam"):
    """{start: slot} of one day."""
    r = d.get("/v1/points/%s/availability?service=%s&date=%s" % (point, service, date))
    assert r.status == 200, r
    (day,) = r.json["days"]
    assert day["date"] == date
    return {s["start"]: s for s in day["slots"]}


def free(d, date, start, service="cu-tru", point="cua-nam"):
    return availability(d, date, service, point)[start]["available"]


def patch(d, code, date, start, token=APP):
    return d.request("PATCH", "/v1/bookings/" + code, {"date": date, "start": start}, token=token)


def cancel(d, code, token=APP):
    return d.request("DELETE", "/v1/bookings/" + code, token=token)


def citizen_bookings(d, citizen):
    r = d.get("/v1/bookings?citizen_id=" + citizen, token=APP)
    assert r.status == 200, r
    return r.json["bookings"]


def sunday_catalogue():
    """The test catalogue, with kim-lien also open on Sundays (the horizon's last day)."""
    c = json.loads(json.dumps(catalogue()))
    c["points"][1]["hours"]["sun"] = ["08:00-12:00"]
    return c


# ---------------------------------------------------------------------------------------------
# Public reads


def test_health(daemon):
    r = daemon.get("/v1/health")
    assert r.status == 200, r
    assert r.headers["content-type"].split(";")[0].strip() == "application/json"
    assert r.json["status"] == "ok"
    assert isinstance(r.json["version"], str) and r.json["version"]
    # the test clock: it started at 08:00 and runs on
    assert re.fullmatch(r"2026-11-23T08:0\d:\d\d\+07:00", r.json["now"]), r.json
    daemon.set_clock("2026-11-24T10:15:00+07:00")
    assert daemon.get("/v1/health").json["now"].startswith("2026-11-24T10:1")


def test_points_and_point(daemon):
    r = daemon.get("/v1/points")
    assert r.status == 200, r
    assert r.json == {"points": [
        {"id": "cua-nam", "name": "Phường Cửa Nam", "address": "Số 1 Phố Hàng Bông"},
        {"id": "kim-lien", "name": "Phường Kim Liên", "address": "Số 2 Phố Lương Định Của"}]}

    r = daemon.get("/v1/points/cua-nam")
    assert r.status == 200, r
    p = r.json
    cfg = catalogue()["points"][0]
    assert p["hours"] == cfg["hours"]
    assert p["closed"] == [THURSDAY]
    services = {s["id"]: s for s in p["services"]}
    assert sorted(services) == ["cu-tru", "khai-sinh"]
    cu_tru = services["cu-tru"]
    for key in ("name", "prefix", "slot_minutes", "slot_capacity", "documents", "fee_vnd"):
        assert cu_tru[key] == cfg["services"][0][key], key
    assert [(c["id"], c["name"]) for c in p["counters"]] == [
        ("cua-nam-1", "Quầy 1"), ("cua-nam-2", "Quầy 2"), ("cua-nam-3", "Quầy 3")]
    for c in p["counters"]:
        assert c["state"] == "open" and c["current"] is None, c

    # a counter's state and current number show in the point
    assert daemon.counter("cua-nam-3", "pause").status == 200
    w = daemon.walkin(service="cu-tru")
    assert w.status == 201, w
    assert daemon.counter("cua-nam-2", "call-next").status == 200
    counters = {c["id"]: c for c in daemon.get("/v1/points/cua-nam").json["counters"]}
    assert counters["cua-nam-3"]["state"] == "paused"
    assert counters["cua-nam-2"]["current"] == w.json["number"]
    assert counters["cua-nam-1"]["current"] is None

    assert_error(daemon.get("/v1/points/nowhere"), 404, "not_found")
    assert_error(daemon.get("/v1/points/Cua-Nam"), 404, "not_found")


# ---------------------------------------------------------------------------------------------
# Availability


def test_availability_lists_every_day_of_the_horizon(daemon):
    r = daemon.get("/v1/points/cua-nam/availability?service=cu-tru")
    assert r.status == 200, r
    assert r.json["point"] == "cua-nam" and r.json["service"] == "cu-tru"
    days = {day["date"]: day for day in r.json["days"]}
    assert [day["date"] for day in r.json["days"]] == HORIZON
    weekday = weekday_slots(30)
    assert len(weekday) == 16
    # today lists only the slots not yet started (the clock is just past 08:00)
    assert [s["start"] for s in days[MONDAY]["slots"]] == weekday[2:]
    for date in (TUESDAY, WEDNESDAY, FRIDAY):
        assert days[date]["open"] is True
        assert [s["start"] for s in days[date]["slots"]] == weekday, date
        for s in days[date]["slots"]:
            assert s == {"start": s["start"], "end": s["end"], "capacity": 3, "booked": 0,
                         "available": 3}, s
            h, m = map(int, s["start"].split(":"))
            assert s["end"] == "%02d:%02d" % divmod(h * 60 + m + 30, 60)
    # Saturday: 07:30-11:30; a closed date and Sunday: closed
    assert [s["start"] for s in days[SATURDAY]["slots"]] == [
        "07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00"]
    for date in (THURSDAY, SUNDAY):
        assert days[date]["open"] is False and days[date]["slots"] == [], days[date]

    # another service has its own slot length and capacity
    ks = availability(daemon, TUESDAY, service="khai-sinh")
    assert sorted(ks) == weekday_slots(15)
    assert ks["08:45"] == {"start": "08:45", "end": "09:00", "capacity": 2, "booked": 0,
                           "available": 2}

    # one day on request
    r = daemon.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + SUNDAY)
    assert r.status == 200, r
    assert r.json["days"] == [{"date": SUNDAY, "open": False, "slots": []}]


def test_availability_follows_the_clock(daemon):
    daemon.set_clock("2026-11-23T13:40:00+07:00")
    today = availability(daemon, MONDAY)
    assert sorted(today)[0] == "14:00" and "13:30" not in today
    daemon.set_clock("2026-11-23T16:30:00+07:00")
    r = daemon.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + MONDAY)
    assert r.json["days"][0]["slots"] == [], r  # the last slot has started
    # a new day: the horizon moves on by one day
    daemon.set_clock("2026-11-24T08:00:00+07:00")
    r = daemon.get("/v1/points/cua-nam/availability?service=cu-tru")
    assert [d["date"] for d in r.json["days"]] == HORIZON[1:] + [NEXT_MONDAY]
    assert_error(daemon.get("/v1/points/cua-nam/availability?service=cu-tru&date=" + MONDAY),
                 422, "outside_horizon")
    assert len(availability(daemon, NEXT_MONDAY)) == 16


def test_availability_errors(daemon):
    base = "/v1/points/cua-nam/availability"
    # the seventh day after today and the day before today are outside the horizon
    assert_error(daemon.get(base + "?service=cu-tru&date=" + NEXT_MONDAY), 422, "outside_horizon")
    assert_error(daemon.get(base + "?service=cu-tru&date=2026-11-22"), 422, "outside_horizon")
    assert_error(daemon.get(base), 400, "invalid_field", "service")
    assert_error(daemon.get(base + "?service=cu-tru&date=2026-11-31"), 400, "invalid_field", "date")
    assert_error(daemon.get(base + "?service=cu-tru&date=24-11-2026"), 400, "invalid_field", "date")
    assert_error(daemon.get(base + "?service=nope"), 404, "not_found")
    # a service that could name nothing (empty, upper case, not UTF-8) is malformed, not unknown
    for bad in ("", "Cu-Tru", "tam%FF"):
        assert_error(daemon.get(base + "?service=" + bad), 400, "invalid_field", "service")
        assert_error(daemon.get("/v1/availability?date=%s&service=%s" % (TUESDAY, bad)), 400,
                     "invalid_field", "service")
    assert_error(daemon.get("/v1/points/nowhere/availability?service=cu-tru"), 404, "not_found")
    # services are per point: kim-lien has no khai-sinh
    assert_error(daemon.get("/v1/points/kim-lien/availability?service=khai-sinh"), 404, "not_found")


def test_availability_that_cannot_be_read_is_503(daemon):
    """Counts that cannot be read are not answered as free places, nor with the last answer
    kept: here the slot counts' table is gone from under the daemon (a damaged database)."""
    d = daemon
    url = "/v1/points/cua-nam/availability?service=cu-tru&date=" + TUESDAY
    assert d.get(url).status == 200
    con = sqlite3.connect(d.config["database"], timeout=10)
    con.execute("DROP TABLE slot_count")
    con.commit()
    con.close()
    assert_error(d.get(url), 503, "unavailable")
    assert_error(d.get("/v1/points/cua-nam/availability?service=cu-tru"), 503, "unavailable")
    assert_error(d.get("/v1/availability?service=cu-tru&date=" + TUESDAY), 503, "unavailable")


def test_a_read_that_fails_answers_503_not_what_it_could_see(daemon):
    """Whatever part of an answer cannot be read (here the tickets' table is gone from under
    the daemon: a damaged database), the answer is 503, not one that counts what it missed as
    nothing (a queue of 0 waiting, a hall display without its queues)."""
    d = daemon
    code = d.book("002000000009", date=TUESDAY, start="09:00").json["code"]
    city = "/v1/availability?service=cu-tru&date=" + TUESDAY
    assert d.get(city).status == 200 and d.get("/v1/points/cua-nam/display").status == 200
    con = sqlite3.connect(d.config["database"], timeout=10)
    con.execute("ALTER TABLE ticket RENAME TO ticket_gone")
    con.commit()
    con.close()
    assert_error(d.get(city), 503, "unavailable")
    assert_error(d.get("/v1/points/cua-nam/display"), 503, "unavailable")
    assert_error(d.get("/v1/tickets/" + code), 503, "unavailable")
    assert d.get("/v1/points/cua-nam").status == 200  # what needs no storage still answers


def test_free_places_go_down_as_bookings_are_made(daemon):
    d = daemon
    assert free(d, TUESDAY, "09:00") == 3
    codes = []
    for i in range(3):
        r = d.book("00100000000%d" % i, date=TUESDAY, start="09:00")
        assert r.status == 201, r
        codes.append(r.json["code"])
        slot = availability(d, TUESDAY)["09:00"]
        assert (slot["booked"], slot["available"]) == (i + 1, 2 - i), slot
    # nothing else moved: other slots, other services, other points, other days
    assert free(d, TUESDAY, "09:30") == 3
    assert free(d, WEDNESDAY, "09:00") == 3
    assert free(d, TUESDAY, "09:00", service="khai-sinh") == 2
    assert free(d, TUESDAY, "09:00", point="kim-lien") == 3
    # a cancelled booking frees its place at once
    assert cancel(d, codes[1]).status == 200
    slot = availability(d, TUESDAY)["09:00"]
    assert (slot["booked"], slot["available"]) == (2, 1), slot
    # the full list agrees with the single day
    r = d.get("/v1/points/cua-nam/availability?service=cu-tru")
    tue = [day for day in r.json["days"] if day["date"] == TUESDAY][0]
    assert [s for s in tue["slots"] if s["start"] == "09:00"][0]["available"] == 1
    # a booking checked in still holds its place
    b = d.book("001000000009", date=MONDAY, start="08:30")
    assert d.checkin(b.json["code"]).json["status"] == "waiting"
    assert availability(d, MONDAY)["08:30"]["booked"] == 1


def test_availability_asked_again_follows_every_change(daemon):
    """The same question asked twice in a row is answered alike; after a booking, a move, a
    cancellation, a reload (capacity, hours) or the clock passing a slot's start, the very same
    URLs answer the new state (the daemon keeps its last answers: none may outlive its data)."""
    d = daemon
    one = "/v1/points/cua-nam/availability?service=cu-tru&date=" + TUESDAY
    whole = "/v1/points/cua-nam/availability?service=cu-tru"

    def both():
        a, b = d.get(one), d.get(whole)
        assert a.status == 200 and b.status == 200, (a, b)
        (day,) = a.json["days"]
        assert [x for x in b.json["days"] if x["date"] == TUESDAY] == [day]
        return {x["start"]: (x["capacity"], x["booked"], x["available"]) for x in day["slots"]}

    first = both()
    again = both()
    assert again == first and first["09:00"] == (3, 0, 3), first
    assert d.get(one).raw == d.get(one).raw
    r = d.book("002000000001", date=TUESDAY, start="09:00")
    assert r.status == 201, r
    assert both()["09:00"] == (3, 1, 2)
    assert patch(d, r.json["code"], TUESDAY, "10:00").status == 200
    now = both()
    assert (now["09:00"], now["10:00"]) == ((3, 0, 3), (3, 1, 2)), now
    assert cancel(d, r.json["code"]).status == 200
    assert both() == first
    # a reload of a new capacity alone (the same slots), then of Tuesday afternoons closed
    new = json.loads(json.dumps(d.config))
    cua_nam = new["points"][0]
    cua_nam["services"][0]["slot_capacity"] = 5
    d.write_config(new)
    assert d.post("/v1/admin/reload", token=ADMIN).status == 200
    now = both()
    assert sorted(now) == sorted(first) and now["09:00"] == (5, 0, 5), now
    cua_nam["hours"]["tue"] = ["07:30-12:00"]
    d.write_config(new)
    assert d.post("/v1/admin/reload", token=ADMIN).status == 200
    now = both()
    assert now["09:00"] == (5, 0, 5) and "14:00" not in now and "11:30" in now, now
    # Tuesday 09:00 starts: from then on it is no longer offered
    d.set_clock("2026-11-24T08:59:59+07:00")
    assert "09:00" in both()
    d.set_clock("2026-11-24T09:00:00+07:00")
    now = both()
    assert sorted(now)[0] == "09:30", now


# ---------------------------------------------------------------------------------------------
# Look-ups across the city (API.md section 6)


def services_found(d, q):
    r = d.get("/v1/services?q=" + urllib.parse.quote(q))
    assert r.status == 200, (q, r)
    assert r.headers["content-type"].split(";")[0].strip() == "application/json", r.headers
    return r.json["services"]


def test_service_search_with_or_without_diacritics(daemon):
    d = daemon
    khai_sinh = services_found(d, "dang ky khai sinh")
    assert [(s["id"], s["name"]) for s in khai_sinh] == [("khai-sinh", "Đăng ký khai sinh")]
    assert [p["id"] for p in khai_sinh[0]["points"]] == ["cua-nam"], khai_sinh
    assert services_found(d, "Đăng ký khai sinh") == khai_sinh
    assert services_found(d, "ĐĂNG KÝ KHAI SINH") == khai_sinh

    # what to bring and the fee, and every point that offers it
    (cu_tru,) = services_found(d, "thuong tru")
    assert (cu_tru["id"], cu_tru["name"]) == ("cu-tru", "Đăng ký thường trú"), cu_tru
    assert (cu_tru["documents"], cu_tru["fee_vnd"]) == (["Tờ khai CT01"], 20000), cu_tru
    assert sorted(p["id"] for p in cu_tru["points"]) == ["cua-nam", "kim-lien"], cu_tru
    assert services_found(d, "thường trú") == [cu_tru]

    # words both names share find both; a word in neither finds nothing
    for q in ("dang ky", "Đăng ký", "DANG KY"):
        assert sorted(s["id"] for s in services_found(d, q)) == ["cu-tru", "khai-sinh"], q
    assert services_found(d, "chung thuc") == []
    assert_error(d.get("/v1/services"), 400, "invalid_field", "q")


def city_availability(d, date, service="cu-tru"):
    r = d.get("/v1/availability?service=%s&date=%s" % (service, date))
    assert r.status == 200, r
    assert (r.json["service"], r.json["date"]) == (service, date), r.json
    return r.json["points"]


def test_city_availability_lists_the_points_with_most_places_first(daemon):
    d = daemon
    # Tuesday: 16 slots of 3 places at each point
    assert sorted((p["point"], p["available"]) for p in city_availability(d, TUESDAY)) == [
        ("cua-nam", 48), ("kim-lien", 48)]
    for i in range(2):
        assert d.book("00400000000%d" % i, date=TUESDAY, start="09:00").status == 201
    points = city_availability(d, TUESDAY)
    assert [(p["point"], p["name"], p["available"]) for p in points] == [
        ("kim-lien", "Phường Kim Liên", 48), ("cua-nam", "Phường Cửa Nam", 46)], points
    for i in range(4):
        r = d.book("00400000001%d" % i, date=TUESDAY, start=("10:00", "10:30")[i % 2],
                   point="kim-lien")
        assert r.status == 201, r
    assert [(p["point"], p["available"]) for p in city_availability(d, TUESDAY)] == [
        ("cua-nam", 46), ("kim-lien", 44)]

    # only the points with free places that day: cua-nam is closed on Thursday, both on Sunday
    assert [p["point"] for p in city_availability(d, THURSDAY)] == ["kim-lien"]
    assert city_availability(d, SUNDAY) == []
    # a service only cua-nam offers
    assert [(p["point"], p["available"]) for p in city_availability(d, TUESDAY, "khai-sinh")] \
        == [("cua-nam", 2 * len(weekday_slots(15)))]

    # today: only the slots not yet started count; and the queue there now
    assert d.book("004000000020", date=MONDAY, start="08:30").status == 201
    assert d.book("004000000021", date=MONDAY, start="11:00").status == 201
    for _ in range(2):
        assert d.walkin().status == 201
    d.set_clock("2026-11-23T09:59:00+07:00")  # 07:30 to 09:30 have started: 11 slots left
    points = city_availability(d, MONDAY)
    assert [(p["point"], p["available"], p["waiting"]) for p in points] == [
        ("kim-lien", 33, 0), ("cua-nam", 32, 2)], points
    eta = {p["point"]: p["eta_minutes"] for p in points}
    assert all(isinstance(v, int) for v in eta.values()), points
    assert eta["cua-nam"] > 0 and eta["kim-lien"] == 0, points

    assert_error(d.get("/v1/availability?service=nope&date=" + TUESDAY), 404, "not_found")
    assert_error(d.get("/v1/availability?date=" + TUESDAY), 400, "invalid_field", "service")
    assert_error(d.get("/v1/availability?service=cu-tru"), 400, "invalid_field", "date")
    assert_error(d.get("/v1/availability?service=cu-tru&date=24-11-2026"), 400, "invalid_field",
                 "date")


def test_ticket_qr_code_is_an_svg_image(daemon):
    d = daemon
    images = []
    for r in (d.book("004000000030", date=TUESDAY), d.walkin()):
        assert r.status == 201, r
        qr = d.get("/v1/tickets/%s/qr.svg" % r.json["code"])
        assert qr.status == 200, qr
        assert qr.headers["content-type"].split(";")[0].strip() == "image/svg+xml", qr.headers
        body = qr.raw.lstrip()
        if body.startswith("<?xml"):
            body = body.split("?>", 1)[1].lstrip()
        assert body.startswith("<svg"), qr.raw[:200]
        root = ET.fromstring(qr.raw.strip())
        assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), root.tag
        assert len(root), "an empty image"
        # the image is the code's: the same for the same ticket, another for another ticket
        assert d.get("/v1/tickets/%s/qr.svg" % r.json["code"]).raw == qr.raw
        images.append(qr.raw)
    assert images[0] != images[1], "two tickets, one image"
    assert_error(d.get("/v1/tickets/ZZZZZZZZZZ/qr.svg"), 404, "not_found")


# ---------------------------------------------------------------------------------------------
# Making a booking


def test_booking_has_the_contract_fields(daemon):
    d = daemon
    citizen = "001203004567"
    r = d.book(citizen, date=TUESDAY, start="09:00", phone="0912345678", name="Nguyễn Văn An",
               priority="elderly", dossier_id="000.00.12.H26-261123-0001")
    assert r.status == 201, r
    b = r.json
    assert RECORD_KEYS <= set(b), set(b)
    assert CODE_RE.match(b["code"]), b
    expected = {"kind": "booking", "number": "A001", "point": "cua-nam", "service": "cu-tru",
                "date": TUESDAY, "start": "09:00", "end": "09:30", "status": "booked",
                "priority": "elderly", "citizen_id": masked(citizen),
                "dossier_id": "000.00.12.H26-261123-0001",
                "checkin_from": "2026-11-24T08:00:00+07:00",   # start - checkin_open_minutes
                "checkin_until": "2026-11-24T09:45:00+07:00",  # end + no_show_grace_minutes
                "position": None, "eta_minutes": None, "counter": None, "called_at": None}
    assert {k: b.get(k) for k in expected} == expected
    assert re.fullmatch(r"2026-11-23T08:0\d:\d\d\+07:00", b["created_at"]), b

    # read back: the same booking
    g = d.get("/v1/bookings/" + b["code"], token=APP)
    assert g.status == 200, g
    assert g.json == b
    # the public view: the same ticket without the citizen id
    t = d.get("/v1/tickets/" + b["code"])
    assert t.status == 200, t
    assert "citizen_id" not in t.json
    for k in RECORD_KEYS - {"citizen_id"}:
        assert t.json[k] == b[k], k

    # the optional fields are optional
    r = d.book("001203004568", date=TUESDAY, start="09:00", service="khai-sinh")
    assert r.status == 201, r
    assert r.json["priority"] is None and r.json.get("dossier_id") is None
    assert r.json["number"] == "B001" and r.json["end"] == "09:15"
    assert r.json["checkin_until"] == "2026-11-24T09:30:00+07:00"
    # every priority of the contract is accepted
    for i, p in enumerate(["disabled", "pregnant", "child_under_6", "merit"]):
        r = d.book("00120300457%d" % i, date=WEDNESDAY, start="%02d:00" % (8 + i), priority=p)
        assert r.status == 201 and r.json["priority"] == p, r
    # the admin may book too
    r = d.post("/v1/bookings", booking_body("001203004590", date=TUESDAY), token=ADMIN)
    assert r.status == 201 and r.json["number"] == "A002", r


def test_every_malformed_field_is_named(daemon):
    d = daemon
    good = booking_body("001234567890", date=TUESDAY, phone="0912345678", name="Trần Thị B")
    cases = [
        ("point", None), ("point", 12), ("point", ["cua-nam"]),
        ("service", None), ("service", 7),
        ("date", None), ("date", "2026-13-01"), ("date", "2026-11-31"), ("date", "24/11/2026"),
        ("date", "2026-11-24T09:00"), ("date", 20261124),
        ("start", None), ("start", "9:00"), ("start", "24:00"), ("start", "09:60"),
        ("start", "0900"), ("start", 900),
        ("citizen_id", None), ("citizen_id", "00123456789"), ("citizen_id", "0012345678901"),
        ("citizen_id", "00123456789a"), ("citizen_id", "0012 3456789"), ("citizen_id", 1234567890),
        ("phone", "912345678"), ("phone", "1912345678"), ("phone", "09123456789"),
        ("phone", "09-1234567"), ("phone", 912345678),
        ("priority", "vip"), ("priority", "ELDERLY"), ("priority", 1),
        ("dossier_id", ""), ("dossier_id", "x" * 65), ("dossier_id", "has space"),
        ("dossier_id", 5),
        ("name", 42),
    ]
    for field, value in cases:
        body = dict(good)
        if value is None:
            del body[field]
        else:
            body[field] = value
        assert_error(d.post("/v1/bookings", body, token=APP), 400, "invalid_field", field)
    # limits that are allowed: a 64-character dossier id
    r = d.post("/v1/bookings", dict(good, dossier_id="D" * 64), token=APP)
    assert r.status == 201, r
    assert r.json["number"] == "A001"  # no refused request took a number
    assert free(d, TUESDAY, "09:00") == 2  # nor a place


def test_unknown_point_or_service_is_404(daemon):
    d = daemon
    assert_error(d.book("001234567890", point="nowhere"), 404, "not_found")
    assert_error(d.book("001234567890", service="nope"), 404, "not_found")
    assert_error(d.book("001234567890", point="kim-lien", service="khai-sinh"), 404, "not_found")
    assert citizen_bookings(d, "001234567890") == []


def test_closed_days_and_hours(daemon):
    d = daemon
    c = "001234567890"
    for date, start in [(THURSDAY, "09:00"),   # a closed date
                        (SUNDAY, "09:00"),     # no hours on Sundays
                        (TUESDAY, "12:00"),    # lunch
                        (TUESDAY, "12:30"),
                        (TUESDAY, "07:00"),    # before opening
                        (TUESDAY, "17:00"),    # closing time
                        (TUESDAY, "16:45"),    # not a whole slot before closing
                        (TUESDAY, "09:10"),    # not a slot start
                        (SATURDAY, "11:30")]:  # Saturdays end at 11:30
        assert_error(d.book(c, date=date, start=start), 422, "closed")
    # 15-minute slots of another service
    assert_error(d.book(c, date=TUESDAY, start="08:50", service="khai-sinh"), 422, "closed")
    assert d.book(c, date=TUESDAY, start="08:45", service="khai-sinh").status == 201
    assert d.book(c, date=SATURDAY, start="11:00").status == 201
    # another point is open on the closed date
    assert d.book("001234567891", date=THURSDAY, start="09:00", point="kim-lien").status == 201


def test_horizon_is_today_through_six_days(make_daemon):
    d = make_daemon(config=sunday_catalogue())
    c = "001234567890"
    # the day before today, the seventh day after today, far ahead
    for date in ("2026-11-22", NEXT_MONDAY, "2027-01-04"):
        assert_error(d.book(c, date=date, start="09:00"), 422, "outside_horizon")
        assert_error(d.book(c, date=date, start="09:00", point="kim-lien"), 422, "outside_horizon")
    # today (a slot not yet started) and the sixth day after today are bookable
    r = d.book(c, date=MONDAY, start="08:30")
    assert r.status == 201, r
    r = d.book(c, date=SUNDAY, start="09:00", point="kim-lien")
    assert r.status == 201, r
    # the horizon moves with the clock
    d.set_clock("2026-11-24T07:00:00+07:00")
    assert_error(d.book("001234567891", date=MONDAY, start="09:00"), 422, "outside_horizon")
    r = d.book("001234567891", date=NEXT_MONDAY, start="09:00")
    assert r.status == 201, r


def test_configured_horizon_windows_and_limit(make_daemon):
    cfg = json.loads(json.dumps(catalogue()))
    cfg.update(horizon_days=2, checkin_open_minutes=30, no_show_grace_minutes=5,
               max_active_bookings_per_citizen=1)
    d = make_daemon(config=cfg)
    r = d.get("/v1/points/cua-nam/availability?service=cu-tru")
    assert [day["date"] for day in r.json["days"]] == [MONDAY, TUESDAY]
    assert_error(d.book("001234567890", date=WEDNESDAY), 422, "outside_horizon")
    b = d.book("001234567890", date=TUESDAY, start="09:00")
    assert b.status == 201, b
    assert b.json["checkin_from"] == "2026-11-24T08:30:00+07:00"
    assert b.json["checkin_until"] == "2026-11-24T09:35:00+07:00"
    assert_error(d.book("001234567890", date=MONDAY, service="khai-sinh"), 409,
                 "too_many_bookings")


def test_slot_passed(daemon):
    d = daemon
    c = "001234567890"
    # the clock is just past 08:00: the 07:30 and 08:00 slots have started
    assert_error(d.book(c, date=MONDAY, start="07:30"), 422, "slot_passed")
    assert_error(d.book(c, date=MONDAY, start="08:00"), 422, "slot_passed")
    d.set_clock("2026-11-23T10:10:00+07:00")
    assert_error(d.book(c, date=MONDAY, start="10:00"), 422, "slot_passed")
    assert_error(d.book(c, date=MONDAY, start="08:30"), 422, "slot_passed")
    # a slot starts at its start: at 10:30:00 it has started
    d.set_clock("2026-11-23T10:29:00+07:00")
    assert d.book(c, date=MONDAY, start="10:30").status == 201
    d.set_clock("2026-11-23T10:30:00+07:00")
    assert_error(d.book("001234567891", date=MONDAY, start="10:30"), 422, "slot_passed")


def test_slot_full_and_a_cancel_frees_the_place(daemon):
    d = daemon
    codes = [d.book("00200000000%d" % i).json["code"] for i in range(3)]
    assert_error(d.book("002000000009"), 409, "slot_full")
    assert free(d, MONDAY, "09:00") == 0
    assert cancel(d, codes[0]).status == 200
    r = d.book("002000000009")
    assert r.status == 201, r
    assert_error(d.book("002000000008"), 409, "slot_full")
    # khai-sinh has capacity 2
    for i in range(2):
        assert d.book("00200000001%d" % i, service="khai-sinh").status == 201
    assert_error(d.book("002000000019", service="khai-sinh"), 409, "slot_full")


def test_duplicate_booking_and_too_many_bookings(daemon):
    d = daemon
    c = "003000000001"
    assert d.book(c, date=TUESDAY, start="09:00").status == 201
    # the same service on the same date, any slot
    assert_error(d.book(c, date=TUESDAY, start="10:00"), 409, "duplicate_booking")
    assert_error(d.book(c, date=TUESDAY, start="09:00"), 409, "duplicate_booking")
    # another service the same date, the same service another date
    assert d.book(c, date=TUESDAY, start="10:00", service="khai-sinh").status == 201
    third = d.book(c, date=WEDNESDAY, start="09:00")
    assert third.status == 201
    # max_active_bookings_per_citizen (3)
    assert_error(d.book(c, date=FRIDAY, start="09:00"), 409, "too_many_bookings")
    assert_error(d.book(c, date=FRIDAY, start="09:00", point="kim-lien"), 409, "too_many_bookings")
    # a cancelled booking is not active
    assert cancel(d, third.json["code"]).status == 200
    r = d.book(c, date=FRIDAY, start="09:00")
    assert r.status == 201, r
    assert_error(d.book(c, date=WEDNESDAY, start="09:00"), 409, "too_many_bookings")
    # other citizens are not affected
    assert d.book("003000000002", date=TUESDAY, start="09:00").status == 201
    assert len(citizen_bookings(d, c)) == 4  # three active, one cancelled


def test_a_cancelled_booking_allows_booking_that_service_again(daemon):
    d = daemon
    c = "003000000003"
    first = d.book(c, date=TUESDAY, start="09:00")
    assert cancel(d, first.json["code"]).status == 200
    r = d.book(c, date=TUESDAY, start="09:00")
    assert r.status == 201, r
    assert r.json["code"] != first.json["code"]


def test_booking_suspended_after_repeated_no_shows(daemon):
    d = daemon
    c = "004000000001"
    # three bookings today, checked in, called and not answered
    plan = [("cua-nam", "cu-tru", "cua-nam-2"), ("cua-nam", "khai-sinh", "cua-nam-3"),
            ("kim-lien", "cu-tru", "kim-lien-1")]
    for point, service, counter in plan:
        b = d.book(c, date=MONDAY, start="08:30", point=point, service=service)
        assert b.status == 201, b
        assert d.checkin(b.json["code"], point=point).status == 200
        call = d.counter(counter, "call-next")
        assert call.status == 200 and call.json["ticket"]["code"] == b.json["code"], call
        assert d.counter(counter, "no-show").status == 200
    r = d.book(c, date=TUESDAY, start="09:00")
    assert_error(r, 409, "booking_suspended")
    assert free(d, TUESDAY, "09:00") == 3
    assert d.book("004000000002", date=TUESDAY, start="09:00").status == 201
    # suspend_days (7) after the last no-show, booking is allowed again
    d.set_clock("2026-11-30T07:59:00+07:00")
    assert_error(d.book(c, date=NEXT_MONDAY, start="09:00"), 409, "booking_suspended")
    d.set_clock("2026-11-30T08:10:00+07:00")
    assert d.book(c, date=NEXT_MONDAY, start="09:00").status == 201


def test_numbers_count_per_point_service_and_day(daemon):
    d = daemon
    n = iter(range(100))

    def book(**kw):
        r = d.book("0050000000%02d" % next(n), **kw)
        assert r.status == 201, r
        return r.json

    assert [book(start=s)["number"] for s in ("09:00", "09:30", "09:00")] == \
        ["A001", "A002", "A003"]
    assert book(start="09:00")["number"] == "A004"
    assert book(service="khai-sinh")["number"] == "B001"
    assert book(date=TUESDAY)["number"] == "A001"
    assert book(point="kim-lien")["number"] == "A001"
    # a refused booking takes no number
    assert_error(d.book("005000000000", start="10:00"), 409, "duplicate_booking")
    assert_error(d.book("005000000099", start="09:00"), 409, "slot_full")
    # a cancelled booking keeps its number: the next one takes a new number
    x = book(start="10:00")
    assert x["number"] == "A005"
    assert cancel(d, x["code"]).status == 200
    assert book(start="10:00")["number"] == "A006"
    # walk-ins count in the same sequence as bookings
    w = d.walkin(service="cu-tru")
    assert w.status == 201 and w.json["number"] == "A007", w
    assert book(start="10:30")["number"] == "A008"
    assert book(point="kim-lien", start="10:00")["number"] == "A002"


def test_codes_are_unique_and_unguessable(daemon):
    d = daemon
    codes = []
    starts = weekday_slots(30)[4:]
    for i in range(48):
        date = [MONDAY, TUESDAY, WEDNESDAY, FRIDAY][i % 4]
        r = d.book("0060000000%02d" % i, date=date, start=starts[i // 4])
        assert r.status == 201, r
        codes.append(r.json["code"])
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert CODE_RE.match(code), code
    # not a counter: codes do not share a long common prefix
    assert len({c[:4] for c in codes}) > 40
    # every code finds its own booking, public and app alike
    for code in codes[:5]:
        assert d.get("/v1/tickets/" + code).json["code"] == code
        assert d.get("/v1/bookings/" + code, token=APP).json["code"] == code


# ---------------------------------------------------------------------------------------------
# Reading, listing, moving, cancelling


def test_get_booking_and_ticket_not_found(daemon):
    d = daemon
    for code in ("ZZZZZZZZZZ", "abcdefghij", "SHORT", "X" * 17):
        assert_error(d.get("/v1/bookings/" + code, token=APP), 404, "not_found")
        assert_error(d.get("/v1/tickets/" + code), 404, "not_found")
        assert_error(cancel(d, code), 404, "not_found")
        assert_error(patch(d, code, TUESDAY, "10:00"), 404, "not_found")
    # a walk-in is a ticket: the app can read it by its code
    w = d.walkin()
    assert w.status == 201
    g = d.get("/v1/bookings/" + w.json["code"], token=APP)
    assert g.status == 200 and g.json["kind"] == "walkin", g
    assert g.json["start"] is None and g.json["checkin_until"] is None


def test_bookings_of_a_citizen(daemon):
    d = daemon
    c, other = "007000000001", "007000000002"
    mon = d.book(c, date=MONDAY, start="09:00").json
    wed = d.book(c, date=WEDNESDAY, start="10:00").json
    fri = d.book(c, date=FRIDAY, start="08:00", point="kim-lien").json
    d.book(other, date=MONDAY, start="09:00")
    got = citizen_bookings(d, c)
    assert {b["code"] for b in got} == {mon["code"], wed["code"], fri["code"]}
    for b in got:
        assert b["citizen_id"] == masked(c), b
    by_code = {b["code"]: b for b in got}
    assert by_code[wed["code"]] == wed
    assert citizen_bookings(d, "007000000009") == []
    # from today on: Monday's booking is gone from the list on Tuesday
    d.set_clock("2026-11-24T08:00:00+07:00")
    assert {b["code"] for b in citizen_bookings(d, c)} == {wed["code"], fri["code"]}
    # the citizen id is required and must be 12 digits
    assert_error(d.get("/v1/bookings", token=APP), 400, "invalid_field", "citizen_id")
    assert_error(d.get("/v1/bookings?citizen_id=12345", token=APP), 400, "invalid_field",
                 "citizen_id")
    assert_error(d.get("/v1/bookings?citizen_id=00700000000x", token=APP), 400, "invalid_field",
                 "citizen_id")


def test_move_within_the_day_keeps_the_number(daemon):
    d = daemon
    b = d.book("008000000001", date=TUESDAY, start="09:00").json
    d.book("008000000002", date=TUESDAY, start="09:00")
    r = patch(d, b["code"], TUESDAY, "14:00")
    assert r.status == 200, r
    m = r.json
    assert (m["code"], m["number"], m["date"], m["start"], m["end"], m["status"]) == \
        (b["code"], "A001", TUESDAY, "14:00", "14:30", "booked")
    assert m["checkin_from"] == "2026-11-24T13:00:00+07:00"
    assert m["checkin_until"] == "2026-11-24T14:45:00+07:00"
    assert m["citizen_id"] == masked("008000000001")
    assert m["created_at"] == b["created_at"]
    # the old place is free, the new one taken
    assert free(d, TUESDAY, "09:00") == 2
    assert free(d, TUESDAY, "14:00") == 2
    assert d.get("/v1/bookings/" + b["code"], token=APP).json == m
    # moving to where it already is changes nothing, even when that slot is full
    for i in range(2):
        assert d.book("00800000000%d" % (5 + i), date=TUESDAY, start="14:00").status == 201
    assert free(d, TUESDAY, "14:00") == 0
    r = patch(d, b["code"], TUESDAY, "14:00")
    assert r.status == 200 and r.json == m, r
    assert free(d, TUESDAY, "14:00") == 0


def test_move_to_another_day_takes_that_days_next_number(daemon):
    d = daemon
    for i in range(2):
        assert d.book("00800000001%d" % i, date=WEDNESDAY, start="10:00").status == 201
    b = d.book("008000000019", date=TUESDAY, start="09:00").json
    r = patch(d, b["code"], WEDNESDAY, "11:00")
    assert r.status == 200, r
    assert (r.json["number"], r.json["date"], r.json["start"]) == ("A003", WEDNESDAY, "11:00")
    assert r.json["created_at"] == b["created_at"] and r.json["status"] == "booked"
    assert free(d, TUESDAY, "09:00") == 3
    assert free(d, WEDNESDAY, "11:00") == 2
    # the next booking of that day does not reuse it
    assert d.book("008000000018", date=WEDNESDAY, start="11:00").json["number"] == "A004"


def test_a_refused_move_keeps_the_booking(daemon):
    d = daemon
    c = "008000000021"
    b = d.book(c, date=TUESDAY, start="09:00").json
    for i in range(3):
        assert d.book("00800000003%d" % i, date=TUESDAY, start="10:00").status == 201
    other = d.book(c, date=WEDNESDAY, start="09:00").json
    refused = [
        (patch(d, b["code"], TUESDAY, "10:00"), 409, "slot_full"),
        (patch(d, b["code"], WEDNESDAY, "10:00"), 409, "duplicate_booking"),
        (patch(d, b["code"], THURSDAY, "09:00"), 422, "closed"),
        (patch(d, b["code"], TUESDAY, "12:30"), 422, "closed"),
        (patch(d, b["code"], NEXT_MONDAY, "09:00"), 422, "outside_horizon"),
        (patch(d, b["code"], MONDAY, "08:00"), 422, "slot_passed"),
        (patch(d, b["code"], "2026-11-31", "09:00"), 400, "invalid_field", "date"),
        (patch(d, b["code"], TUESDAY, "9h"), 400, "invalid_field", "start"),
        (d.request("PATCH", "/v1/bookings/" + b["code"], {"date": TUESDAY}, token=APP),
         400, "invalid_field", "start"),
        (d.request("PATCH", "/v1/bookings/" + b["code"], {"start": "11:00"}, token=APP),
         400, "invalid_field", "date"),
    ]
    for r, status, code, *field in refused:
        assert_error(r, status, code, *field)
    assert d.get("/v1/bookings/" + b["code"], token=APP).json == b
    assert d.get("/v1/bookings/" + other["code"], token=APP).json == other
    assert free(d, TUESDAY, "09:00") == 2
    assert free(d, TUESDAY, "10:00") == 0


def test_only_a_booked_booking_moves_or_cancels(daemon):
    d = daemon
    # cancelled
    b = d.book("009000000001", date=TUESDAY).json
    r = cancel(d, b["code"])
    assert r.status == 200, r
    assert r.json["status"] == "cancelled" and r.json["code"] == b["code"]
    assert r.json["citizen_id"] == masked("009000000001")
    assert d.get("/v1/bookings/" + b["code"], token=APP).json["status"] == "cancelled"
    assert_error(cancel(d, b["code"]), 409, "invalid_state")
    assert_error(patch(d, b["code"], TUESDAY, "10:00"), 409, "invalid_state")
    assert free(d, TUESDAY, "10:00") == 3
    # checked in (waiting)
    w = d.book("009000000002", date=MONDAY, start="08:30").json
    assert d.checkin(w["code"]).json["status"] == "waiting"
    assert_error(cancel(d, w["code"]), 409, "invalid_state")
    assert_error(patch(d, w["code"], TUESDAY, "10:00"), 409, "invalid_state")
    assert d.get("/v1/bookings/" + w["code"], token=APP).json["status"] == "waiting"
    # a walk-in is not a booking
    k = d.walkin().json
    assert_error(cancel(d, k["code"]), 409, "invalid_state")
    assert_error(patch(d, k["code"], TUESDAY, "10:00"), 409, "invalid_state")
    # served
    assert d.counter("cua-nam-2", "call", {"code": w["code"]}).status == 200
    assert d.counter("cua-nam-2", "complete").status == 200
    assert_error(cancel(d, w["code"]), 409, "invalid_state")


def test_write_endpoints_check_their_bodies(daemon):
    d = daemon
    b = d.book("009000000011").json
    path = "/v1/bookings/" + b["code"]
    ct = {"Content-Type": "application/json"}
    assert_error(d.request("PATCH", path, raw=b"{", token=APP, headers=ct), 400, "invalid_json")
    assert_error(d.request("PATCH", path, raw=b"", token=APP, headers=ct), 400, "invalid_json")
    assert_error(d.post("/v1/bookings", raw=b'"x"', token=APP, headers=ct), 400, "invalid_json")
    body = json.dumps({"date": TUESDAY, "start": "10:00"}).encode()
    assert_error(d.request("PATCH", path, raw=body, token=APP, headers={"Content-Type": "text/json"}),
                 415, "unsupported_media_type")
    big = json.dumps({"date": TUESDAY, "start": "10:00", "pad": "x" * 17000}).encode()
    assert_error(d.request("PATCH", path, raw=big, token=APP, headers=ct), 413, "payload_too_large")
    assert d.get(path, token=APP).json == b
    r = d.request("DELETE", "/v1/bookings", token=APP)
    assert_error(r, 405, "method_not_allowed")
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "DELETE" not in allowed, r.headers
    r = d.request("POST", "/v1/tickets/" + b["code"], token=APP)
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


# ---------------------------------------------------------------------------------------------
# The citizen id


def test_the_citizen_id_is_never_echoed(daemon):
    d = daemon
    c = "001203004567"
    seen = []
    original = d.request

    def recording(*a, **kw):
        r = original(*a, **kw)
        seen.append(r)
        return r

    d.request = recording
    try:
        key = {"Idempotency-Key": "citizen-1"}
        body = booking_body(c, date=TUESDAY, phone="0987654321", name="Lê Văn C")
        a = d.post("/v1/bookings", body, token=APP, headers=key)
        assert a.status == 201, a
        assert d.post("/v1/bookings", body, token=APP, headers=key).json == a.json
        assert_error(d.post("/v1/bookings", booking_body(c, date=TUESDAY, start="10:00"), token=APP,
                            headers=key), 422, "idempotency_mismatch")
        code = a.json["code"]
        assert d.book(c, date=TUESDAY, start="10:00").code == "duplicate_booking"
        assert d.book(c, date=WEDNESDAY).status == 201
        assert d.book(c, date=FRIDAY, point="kim-lien").status == 201
        assert d.book(c, date=SATURDAY).code == "too_many_bookings"
        assert d.book(c, date=TUESDAY, phone="12").code == "invalid_field"
        assert d.book(c + "9").code == "invalid_field"
        assert d.book(c, date=THURSDAY).code == "closed"
        assert d.book(c, date=NEXT_MONDAY).code == "outside_horizon"
        for i in range(2):  # two of the slot's three places: one is left
            assert d.book("00120300999%d" % i, date=MONDAY, start="11:00").status == 201
        assert_error(d.book(c, date=MONDAY, start="11:00"), 409, "too_many_bookings")
        assert d.get("/v1/bookings/" + code, token=APP).status == 200
        assert d.get("/v1/bookings/" + code, token=ADMIN).status == 200
        assert d.get("/v1/tickets/" + code).status == 200
        assert len(d.get("/v1/bookings?citizen_id=" + c, token=APP).json["bookings"]) == 3
        assert d.get("/v1/bookings?point=cua-nam&date=" + TUESDAY, token=ADMIN).status == 200
        assert patch(d, code, TUESDAY, "11:00").status == 200
        assert cancel(d, code).status == 200
        assert d.get("/v1/points/cua-nam/availability?service=cu-tru").status == 200
        assert d.get("/v1/audit?point=cua-nam&date=" + TUESDAY, token=ADMIN).status == 200
        assert d.get("/v1/stats?point=cua-nam&date=" + TUESDAY, token=ADMIN).status == 200
        assert d.get("/metrics", token=ADMIN).status == 200
    finally:
        d.request = original
    assert len(seen) > 20
    for r in seen:
        text = r.raw + json.dumps(r.headers)
        assert c not in text, r
        assert c[:8] not in text, r  # not even the masked part
    tickets = []
    for r in seen:
        if isinstance(r.json, dict):
            tickets += [r.json] if "code" in r.json else r.json.get("bookings", [])
    mine = [t for t in tickets if t.get("citizen_id") and t["citizen_id"].endswith(c[-4:])]
    assert len(mine) >= 8
    for t in mine:
        assert t["citizen_id"] == masked(c), t


# ---------------------------------------------------------------------------------------------
# Idempotency-Key


def post_key(d, body, key, token=APP):
    return d.post("/v1/bookings", body, token=token, headers={"Idempotency-Key": key})


def test_same_key_same_body_answers_the_first_answer(daemon):
    d = daemon
    body = booking_body("010000000001", date=TUESDAY, priority="pregnant")
    first = post_key(d, body, "k-7f1c2a")
    assert first.status == 201, first
    for _ in range(3):
        again = post_key(d, body, "k-7f1c2a")
        assert again.status == 201, again
        assert again.json == first.json
    # the same body in another key order is the same body
    reordered = dict(reversed(list(body.items())))
    again = post_key(d, reordered, "k-7f1c2a")
    assert again.status == 201 and again.json == first.json, again
    # one booking only: one place taken, one number used
    assert free(d, TUESDAY, "09:00") == 2
    assert len(citizen_bookings(d, "010000000001")) == 1
    assert d.book("010000000002", date=TUESDAY).json["number"] == "A002"
    # still the first answer after the booking was cancelled; nothing booked again
    assert cancel(d, first.json["code"]).status == 200
    again = post_key(d, body, "k-7f1c2a")
    assert again.status == 201 and again.json == first.json, again
    assert free(d, TUESDAY, "09:00") == 2
    # without the key the same body books (the earlier one is cancelled)
    r = d.post("/v1/bookings", body, token=APP)
    assert r.status == 201 and r.json["code"] != first.json["code"], r


def test_same_key_different_body_is_refused(daemon):
    d = daemon
    first = post_key(d, booking_body("010000000011", date=TUESDAY), "key_1")
    assert first.status == 201, first
    for body in (booking_body("010000000012", date=TUESDAY),
                 booking_body("010000000011", date=TUESDAY, start="10:00"),
                 booking_body("010000000011", date=TUESDAY, phone="0912345678")):
        assert_error(post_key(d, body, "key_1"), 422, "idempotency_mismatch")
    assert free(d, TUESDAY, "10:00") == 3
    assert citizen_bookings(d, "010000000012") == []
    # another key is another request
    r = post_key(d, booking_body("010000000012", date=TUESDAY), "key_2")
    assert r.status == 201 and r.json["code"] != first.json["code"], r


def test_a_refused_request_takes_no_key(daemon):
    d = daemon
    for i in range(3):
        assert d.book("01000000002%d" % i, date=TUESDAY, start="11:00").status == 201
    assert_error(post_key(d, booking_body("010000000029", date=TUESDAY, start="11:00"), "once"),
                 409, "slot_full")
    assert_error(post_key(d, booking_body("0100", date=TUESDAY, start="11:30"), "once"),
                 400, "invalid_field", "citizen_id")
    # the key is still free: another body with it books
    r = post_key(d, booking_body("010000000029", date=TUESDAY, start="11:30"), "once")
    assert r.status == 201, r
    again = post_key(d, booking_body("010000000029", date=TUESDAY, start="11:30"), "once")
    assert again.json == r.json


def test_malformed_keys(daemon):
    d = daemon
    body = booking_body("010000000031", date=TUESDAY)
    for key in ("", "has space", "k" * 65, "tab\tkey", "k.1", "k/1", "ké"):
        assert_error(post_key(d, body, key), 400, "invalid_field", "Idempotency-Key")
    assert citizen_bookings(d, "010000000031") == []
    r = post_key(d, body, "Az09_-" + "k" * 58)
    assert r.status == 201, r


def test_a_key_is_forgotten_after_24_hours(daemon):
    d = daemon
    body = booking_body("010000000041", date=WEDNESDAY)
    first = post_key(d, body, "day-key")
    assert first.status == 201, first
    # within 24 hours: remembered
    d.set_clock("2026-11-24T07:55:00+07:00")
    assert post_key(d, body, "day-key").json == first.json
    assert_error(post_key(d, booking_body("010000000042", date=WEDNESDAY), "day-key"),
                 422, "idempotency_mismatch")
    # past 24 hours: forgotten; the same body is a new request (the citizen holds that booking)
    d.set_clock("2026-11-24T08:05:00+07:00")
    assert_error(post_key(d, body, "day-key"), 409, "duplicate_booking")
    r = post_key(d, booking_body("010000000042", date=WEDNESDAY), "day-key")
    assert r.status == 201 and r.json["code"] != first.json["code"], r
    assert free(d, WEDNESDAY, "09:00") == 1


def test_concurrent_retries_with_one_key_book_once(daemon):
    d = daemon
    body = booking_body("010000000061", date=TUESDAY)

    def retry(i, conn):
        return d.request("POST", "/v1/bookings", body, token=APP,
                         headers={"Idempotency-Key": "retry-storm"}, conn=conn)

    out = concurrently(d, 12, retry)
    assert all(getattr(r, "status", None) == 201 for r in out), out
    assert len({r.json["code"] for r in out}) == 1
    assert len(citizen_bookings(d, "010000000061")) == 1
    assert free(d, TUESDAY, "09:00") == 2


# ---------------------------------------------------------------------------------------------
# Roles and the clock


def test_every_booking_endpoint_checks_the_token(daemon):
    d = daemon
    b = d.book("011000000001", date=TUESDAY).json
    code = b["code"]
    calls = [
        ("POST", "/v1/bookings", booking_body("011000000002", date=TUESDAY)),
        ("GET", "/v1/bookings/" + code, None),
        ("GET", "/v1/bookings?citizen_id=011000000001", None),
        ("PATCH", "/v1/bookings/" + code, {"date": TUESDAY, "start": "10:00"}),
        ("DELETE", "/v1/bookings/" + code, None),
    ]
    for method, path, body in calls:
        assert_error(d.request(method, path, body), 401, "unauthorized")
        assert_error(d.request(method, path, body, token="wrong-token-123"), 401, "unauthorized")
        for token in (kiosk_token("cua-nam"), counter_token("cua-nam-1")):
            assert_error(d.request(method, path, body, token=token), 403, "forbidden")
    # nothing was changed by a refused request
    assert d.get("/v1/bookings/" + code, token=APP).json == b
    assert citizen_bookings(d, "011000000002") == []
    # the admin may do everything the app may
    assert d.request("GET", "/v1/bookings/" + code, token=ADMIN).json == b
    assert len(d.get("/v1/bookings?citizen_id=011000000001", token=ADMIN).json["bookings"]) == 1
    assert patch(d, code, TUESDAY, "10:00", token=ADMIN).json["start"] == "10:00"
    assert cancel(d, code, token=ADMIN).json["status"] == "cancelled"
    # the public endpoints need no token
    for path in ("/v1/health", "/v1/points", "/v1/points/cua-nam", "/v1/tickets/" + code,
                 "/v1/points/cua-nam/availability?service=cu-tru"):
        assert d.get(path).status == 200, path


def test_the_clock_does_not_exist_without_test_clock(make_daemon):
    """Outside --test-clock, PUT /v1/admin/clock is 404 whatever the token or the body."""
    d = make_daemon(clock=None)
    body = {"now": "2001-01-01T09:00:00+07:00"}
    assert_error(d.request("PUT", "/v1/admin/clock", body, token=ADMIN), 404, "not_found")
    assert_error(d.request("PUT", "/v1/admin/clock", token=ADMIN), 404, "not_found")
    assert_error(d.request("PUT", "/v1/admin/clock", body, token=APP), 404, "not_found")
    assert_error(d.request("PUT", "/v1/admin/clock", body), 404, "not_found")
    # and the real clock is untouched
    assert not d.get("/v1/health").json["now"].startswith("2001-")


def test_the_clock_is_admin_only(daemon):
    d = daemon
    body = {"now": "2026-11-23T09:00:00+07:00"}
    assert_error(d.request("PUT", "/v1/admin/clock", body), 401, "unauthorized")
    for token in (APP, kiosk_token("cua-nam"), counter_token("cua-nam-1")):
        assert_error(d.request("PUT", "/v1/admin/clock", body, token=token), 403, "forbidden")
    # instants the dates cannot write (before 2000, from 9999) are refused like malformed ones
    for bad in ({}, {"now": "tomorrow"}, {"now": 5}, {"now": "2026-11-23 09:00"},
                {"now": "1970-01-01T00:00:00Z"}, {"now": "1969-12-31T23:00:00-05:00"},
                {"now": "9999-12-31T23:59:59-14:00"}):
        assert_error(d.request("PUT", "/v1/admin/clock", bad, token=ADMIN), 400, "invalid_field",
                     "now")
    assert d.get("/v1/health").json["now"].startswith("2026-11-23T08:0")
    r = d.request("PUT", "/v1/admin/clock", body, token=ADMIN)
    assert r.status == 200 and r.json["now"].startswith("2026-11-23T09:00:0"), r
    # the contract's instants may have any offset
    r = d.request("PUT", "/v1/admin/clock", {"now": "2026-11-23T03:00:00Z"}, token=ADMIN)
    assert r.status == 200 and r.json["now"].startswith("2026-11-23T10:00:0"), r


def test_the_clock_cannot_be_set_without_test_clock(make_daemon):
    import datetime
    d = make_daemon(clock=None)
    r = d.request("PUT", "/v1/admin/clock", {"now": START}, token=ADMIN)
    assert_error(r, 404, "not_found")
    now = d.get("/v1/health").json["now"]
    assert now.endswith("+07:00"), now
    shown = datetime.datetime.fromisoformat(now)
    real = datetime.datetime.now(datetime.timezone.utc)
    assert abs((shown - real).total_seconds()) < 120, (now, real)


def test_requests_without_a_token_are_rate_limited(make_daemon):
    cfg = catalogue()
    cfg["rate_limit"] = {"per_ip_per_second": 1, "burst": 2}
    d = make_daemon(config=cfg)
    got = [d.post("/v1/bookings", booking_body("012000000001", date=TUESDAY)) for _ in range(6)]
    assert {r.status for r in got} <= {401, 429}, got
    limited = [r for r in got if r.status == 429]
    assert limited, got
    assert_error(limited[0], 429, "rate_limited")
    assert int(limited[0].headers["retry-after"]) >= 1
    # the app's token is not limited, and nothing was booked by the refused requests
    assert citizen_bookings(d, "012000000001") == []


# ---------------------------------------------------------------------------------------------
# Many clients at once


def concurrently(d, n, work):
    """Runs work(i, conn) in n threads, each on its own open connection, released together by
    a barrier; returns what each returned (or the exception it raised)."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def client(i):
        conn = d.connection(timeout=60)
        try:
            conn.connect()
            barrier.wait(30)
            out[i] = work(i, conn)
        except Exception as e:  # kept, and asserted by the caller
            out[i] = e
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_fifty_clients_one_slot_of_three(daemon):
    d = daemon

    def work(i, conn):
        return d.request("POST", "/v1/bookings", booking_body("0130000000%02d" % i, date=TUESDAY),
                         token=APP, conn=conn)

    out = concurrently(d, 50, work)
    assert all(hasattr(r, "status") for r in out), [r for r in out if not hasattr(r, "status")]
    won = [r for r in out if r.status == 201]
    lost = [r for r in out if r.status != 201]
    assert len(won) == 3, out
    assert len(lost) == 47
    for r in lost:
        assert_error(r, 409, "slot_full")
    assert sorted(r.json["number"] for r in won) == ["A001", "A002", "A003"]
    slot = availability(d, TUESDAY)["09:00"]
    assert (slot["booked"], slot["available"]) == (3, 0), slot
    con = sqlite3.connect("file:%s?mode=ro" % d.config["database"], uri=True)
    try:
        n = con.execute("SELECT count(*) FROM ticket WHERE point='cua-nam' AND date=? "
                        "AND start_min=540 AND status != 'cancelled'", (TUESDAY,)).fetchone()[0]
    finally:
        con.close()
    assert n == 3
    # the refused ones took no number
    assert d.book("013000000099", date=TUESDAY, start="09:30").json["number"] == "A004"


def test_one_citizen_many_requests_at_once(daemon):
    d = daemon
    c = "014000000001"
    starts = weekday_slots(30)

    def same_day(i, conn):
        return d.request("POST", "/v1/bookings", booking_body(c, date=TUESDAY, start=starts[i]),
                         token=APP, conn=conn)

    out = concurrently(d, len(starts), same_day)
    assert sorted(r.status for r in out) == [201] + [409] * (len(starts) - 1), out
    for r in out:
        if r.status == 409:
            assert_error(r, 409, "duplicate_booking")

    other = "014000000002"
    combos = [(date, svc) for date in (MONDAY, TUESDAY, WEDNESDAY, FRIDAY, SATURDAY)
              for svc in ("cu-tru", "khai-sinh")]

    def many_days(i, conn):
        date, svc = combos[i]
        return d.request("POST", "/v1/bookings",
                         booking_body(other, date=date, start="11:00", service=svc),
                         token=APP, conn=conn)

    out = concurrently(d, len(combos), many_days)
    assert sorted(r.status for r in out) == [201] * 3 + [409] * 7, out
    for r in out:
        if r.status == 409:
            assert_error(r, 409, "too_many_bookings")
    assert len(citizen_bookings(d, other)) == 3


def test_many_moves_into_one_free_place_at_once(daemon):
    d = daemon
    # Tuesday 10:00 has one free place; ten bookings of other Tuesday slots move there at once
    for i in range(2):
        assert d.book("01500000009%d" % i, date=TUESDAY, start="10:00").status == 201
    starts = [s for s in weekday_slots(30) if s != "10:00"][:10]
    before = [d.book("0150000000%02d" % i, date=TUESDAY, start=start).json
              for i, start in enumerate(starts)]

    def move(i, conn):
        return d.request("PATCH", "/v1/bookings/" + before[i]["code"],
                         {"date": TUESDAY, "start": "10:00"}, token=APP, conn=conn)

    out = concurrently(d, len(before), move)
    assert sorted(getattr(r, "status", None) for r in out) == [200] + [409] * 9, out
    for r in out:
        if r.status == 409:
            assert_error(r, 409, "slot_full")
    slot = availability(d, TUESDAY)
    assert (slot["10:00"]["booked"], slot["10:00"]["available"]) == (3, 0)
    (moved,) = [r.json["code"] for r in out if r.status == 200]
    for b in before:
        now = d.get("/v1/bookings/" + b["code"], token=APP).json
        if b["code"] == moved:
            assert now["start"] == "10:00" and now["number"] == b["number"]
            assert slot[b["start"]]["booked"] == 0  # its old place is free
        else:
            assert now == b  # a refused move keeps the booking where it was
            assert slot[b["start"]]["booked"] == 1
