"""Issue 3, the queue: kiosk check-in and walk-in tickets, counters, the call order, deadlines,
no-show strikes, the admin's view of a queue and a day, and the events every change leaves.

Everything goes over HTTP to the real daemon; time moves only by PUT /v1/admin/clock (the test
clock runs on in whole seconds between moves, so instants are checked with a few seconds of
slack where a step's own duration could show).
"""
import datetime
import math
import threading
import time

import pytest

from conftest import (ADMIN, APP, MONDAY, assert_error, call_next, catalogue, counter_token,
                      kiosk_token, T, instant, booked, public_ticket, walked_in, big_catalogue)

TUESDAY = "2026-11-24"
THURSDAY = "2026-11-26"   # cua-nam is closed that day
SUNDAY = "2026-11-29"
HANOI = datetime.timezone(datetime.timedelta(hours=7))




def citizen(i):
    return "%012d" % (1000000 + i)


def ticket(d, code):
    """The staff view of a ticket (booking or walk-in)."""
    r = d.get("/v1/bookings/" + code, token=ADMIN)
    assert r.status == 200, r
    return r.json


def status(d, code):
    return public_ticket(d, code)["status"]


def queue(d, point="cua-nam", service=None):
    path = "/v1/points/%s/queue" % point
    if service:
        path += "?service=" + service
    r = d.get(path, token=ADMIN)
    assert r.status == 200, r
    return [t["code"] for t in r.json["tickets"]]




def checked_in(d, code, point="cua-nam"):
    r = d.checkin(code, point=point)
    assert r.status == 200, r
    return r.json


def events(d, point="cua-nam", date=MONDAY):
    r = d.get("/v1/audit?point=%s&date=%s" % (point, date), token=ADMIN)
    assert r.status == 200, r
    return r.json["events"]


def events_of(d, code, **kw):
    return [e for e in events(d, **kw) if e["ticket"] == code]


def display_calls(d, point="cua-nam"):
    r = d.get("/v1/points/%s/display" % point)
    assert r.status == 200, r
    return r.json["calls"]


# ---------------------------------------------------------------------------------------------
# The kiosk: check-in


def test_checkin_window_position_and_eta(daemon):
    d = daemon
    code = booked(d, citizen(1), "09:30")["code"]
    b = ticket(d, code)
    assert (b["status"], b["checkin_from"], b["checkin_until"]) == (
        "booked", T("08:30"), T("10:15")), b

    # too early: 60 minutes before the start at the soonest
    r = d.checkin(code)
    assert_error(r, 422, "checkin_not_open")
    d.set_clock(T("08:29:30"))
    assert_error(d.checkin(code), 422, "checkin_not_open")
    assert status(d, code) == "booked"

    d.set_clock(T("08:30:05"))
    t = checked_in(d, code)
    # cu-tru: 12 minutes a ticket, two open counters serve it (cua-nam-1 and cua-nam-2)
    assert (t["code"], t["status"], t["position"], t["eta_minutes"]) == (code, "waiting", 1, 6), t
    assert status(d, code) == "waiting"

    # already checked in
    r = d.checkin(code)
    assert_error(r, 409, "invalid_state")

    # a walk-in issued now is entitled now, before the booking's 09:30: it goes first
    w = d.walkin()
    assert (w.json["position"], w.json["eta_minutes"]) == (1, 6), w
    assert (ticket(d, code)["position"], ticket(d, code)["eta_minutes"]) == (2, 12)
    # eta = ceil(position * avg / open counters serving the service)
    assert d.counter("cua-nam-2", "pause").status == 200
    assert ticket(d, code)["eta_minutes"] == 24
    assert ticket(d, w.json["code"])["eta_minutes"] == 12
    # no open counter: eta counts as if one were open
    assert d.counter("cua-nam-1", "pause").status == 200
    assert ticket(d, code)["eta_minutes"] == 24
    assert d.counter("cua-nam-1", "open").status == 200
    assert d.counter("cua-nam-2", "open").status == 200
    assert ticket(d, code)["eta_minutes"] == 12

    # khai-sinh has 10-minute tickets and two counters (cua-nam-1, cua-nam-3)
    k = booked(d, citizen(2), "09:15", service="khai-sinh")["code"]
    t = checked_in(d, k)
    assert (t["position"], t["eta_minutes"]) == (1, 5), t


def test_kiosk_answers_leave_the_dossier_out(daemon):
    """The dossier number is shown to the counter and admin, and in the booking itself: not on
    the kiosk's answers (check-in, walk-in), which do show the masked citizen id."""
    d = daemon
    d.set_clock(T("08:50"))
    codes = []
    for who in (21, 22):
        r = d.book(citizen(who), start="09:30", dossier_id="000.00.12.H26-261123-00%d" % who)
        assert r.status == 201 and r.json["dossier_id"].endswith("00%d" % who), r
        codes.append(r.json["code"])
    t = checked_in(d, codes[0])
    assert "dossier_id" not in t and t["citizen_id"] == "********" + citizen(21)[-4:], t
    w = walked_in(d)["code"]
    assert "dossier_id" not in w, w
    r = d.post("/v1/points/cua-nam/checkin", {"code": codes[1]}, token=ADMIN)
    assert r.status == 200 and r.json["dossier_id"] == "000.00.12.H26-261123-0022", r
    assert ticket(d, codes[0])["dossier_id"] == "000.00.12.H26-261123-0021"


def test_end_of_day_lets_a_counter_go_of_a_ticket_left_called(daemon):
    """A ticket still called when its day ends expires, as one still waiting does: its counter
    calls again the next morning, the hall no longer shows yesterday's number, and a booking
    so left no longer counts among its citizen's active ones."""
    d = daemon
    d.set_clock(T("16:00"))
    w = walked_in(d, service="khai-sinh")["code"]
    r = d.counter("cua-nam-3", "call-next")
    assert r.status == 200 and r.json["ticket"]["code"] == w, r
    b = booked(d, citizen(9), "16:30")["code"]
    checked_in(d, b)
    d.set_clock(T("16:30"))
    r = d.counter("cua-nam-1", "call-next")
    assert r.status == 200 and r.json["ticket"]["code"] == b, r
    d.set_clock(T("08:00", date=TUESDAY))
    r = d.get("/v1/counters/cua-nam-3", token=counter_token("cua-nam-3"))
    assert r.status == 200 and r.json["current"] is None, r
    board = d.get("/v1/points/cua-nam/display").json
    current = {c["id"]: c["current"] for c in board["counters"]}
    assert current["cua-nam-1"] is None and current["cua-nam-3"] is None, board
    assert status(d, w) == "expired" and status(d, b) == "expired"
    assert_error(d.counter("cua-nam-3", "complete"), 409, "invalid_state")
    today = walked_in(d, service="khai-sinh")["code"]
    r = d.counter("cua-nam-3", "call-next")
    assert r.status == 200 and r.json["ticket"]["code"] == today, r
    # the citizen books up to the limit again: the expired booking is not active
    for date, start, service in ((TUESDAY, "09:00", "cu-tru"), (TUESDAY, "09:30", "khai-sinh"),
                                 ("2026-11-25", "10:00", "cu-tru")):
        r = d.book(citizen(9), date=date, start=start, service=service)
        assert r.status == 201, r


def test_checkin_refusals(daemon):
    d = daemon
    code = booked(d, citizen(1), "09:00")["code"]
    late = booked(d, citizen(2), "08:30")["code"]             # checks in until 09:15
    cancelled = booked(d, citizen(3), "09:00")["code"]
    assert d.request("DELETE", "/v1/bookings/" + cancelled, token=APP).status == 200
    elsewhere = booked(d, citizen(4), "09:00", point="kim-lien")["code"]

    # a booking of cua-nam at kim-lien's kiosk, and kim-lien's at cua-nam's
    r = d.checkin(code, point="kim-lien")
    assert_error(r, 422, "wrong_point")
    r = d.checkin(elsewhere, point="cua-nam")
    assert_error(r, 422, "wrong_point")
    # a kiosk acts for its own point only
    r = d.post("/v1/points/kim-lien/checkin", {"code": elsewhere}, token=kiosk_token("cua-nam"))
    assert_error(r, 403, "forbidden")
    assert status(d, elsewhere) == "booked"
    # unknown and malformed codes, and a body without a code
    assert_error(d.checkin("ZZZZZZZZZZ"), 404, "not_found")
    assert_error(d.checkin("nope"), 400, "invalid_field", "code")
    r = d.post("/v1/points/cua-nam/checkin", {}, token=kiosk_token("cua-nam"))
    assert_error(r, 400, "invalid_field", "code")
    # a cancelled booking, and a walk-in (already waiting), cannot check in
    assert_error(d.checkin(cancelled), 409, "invalid_state")
    w = walked_in(d)["code"]
    assert_error(d.checkin(w), 409, "invalid_state")
    # the admin may check in at any point
    r = d.post("/v1/points/cua-nam/checkin", {"code": code}, token=ADMIN)
    assert r.status == 200 and r.json["status"] == "waiting", r

    # after checkin_until: closed, whether or not it has been marked expired yet
    d.set_clock(T("09:15:30"))
    r = d.checkin(late)
    assert_error(r, 422, "checkin_closed")
    assert status(d, late) == "expired"


# ---------------------------------------------------------------------------------------------
# The kiosk: walk-in tickets


def test_walkin_tickets_limit_and_priority(daemon):
    d = daemon
    r = d.walkin()
    assert r.status == 201, r
    w = r.json
    assert (w["kind"], w["status"], w["number"], w["service"], w["point"], w["date"]) == (
        "walkin", "waiting", "A001", "cu-tru", "cua-nam", MONDAY), w
    assert (w["start"], w["end"], w["checkin_from"], w["checkin_until"], w["priority"]) == (
        None, None, None, None, None), w
    assert (w["position"], w["eta_minutes"]) == (1, 6), w
    assert abs((instant(w["created_at"]) - instant(T("08:00"))).total_seconds()) < 30, w

    # cu-tru issues 5 walk-ins a day: the 6th is refused and takes no number
    numbers = [w["number"]] + [d.walkin().json["number"] for _ in range(4)]
    assert numbers == ["A001", "A002", "A003", "A004", "A005"]
    r = d.walkin()
    assert_error(r, 409, "daily_limit_reached")
    assert_error(d.walkin(), 409, "daily_limit_reached")
    assert len(queue(d, service="cu-tru")) == 5
    b = d.book(citizen(1), start="10:00")
    assert b.json["number"] == "A006", b            # bookings and walk-ins share the numbers
    # the limit is per service
    r = d.walkin(service="khai-sinh", priority="pregnant")
    assert r.status == 201 and (r.json["number"], r.json["priority"]) == ("B001", "pregnant"), r

    r = d.walkin(service="khai-sinh", priority="vip")
    assert_error(r, 400, "invalid_field", "priority")
    r = d.walkin(service="nope")
    assert_error(r, 404, "not_found", "service")
    r = d.post("/v1/points/cua-nam/tickets", {}, token=kiosk_token("cua-nam"))
    assert_error(r, 400, "invalid_field", "service")
    assert walked_in(d, service="khai-sinh", phone="0912345678")["code"]

    # the next day counts again from 001, with a fresh limit
    d.set_clock(T("07:31", TUESDAY))
    r = d.walkin()
    assert r.status == 201 and r.json["number"] == "A001" and r.json["date"] == TUESDAY, r


@pytest.mark.parametrize("now,point", [
    (T("07:29:00"), "cua-nam"),            # before opening
    (T("12:00:30"), "cua-nam"),            # lunch break
    (T("13:29:00"), "cua-nam"),
    (T("17:00:30"), "cua-nam"),            # after closing
    (T("10:00", THURSDAY), "cua-nam"),     # a closed day
    (T("10:00", SUNDAY), "kim-lien"),      # no hours on Sunday
    (T("11:40", "2026-11-28"), "kim-lien"),  # Saturday closes at 11:30
])
def test_walkin_outside_opening_hours_is_closed(daemon, now, point):
    d = daemon
    d.set_clock(now)
    r = d.walkin(point=point)
    assert_error(r, 422, "closed")
    assert queue(d, point=point) == []


def test_walkin_within_opening_hours(daemon):
    d = daemon
    for now, point in [(T("07:30:30"), "cua-nam"), (T("13:30:30"), "cua-nam"),
                       (T("16:58"), "cua-nam"), (T("10:00", THURSDAY), "kim-lien"),
                       (T("11:20", "2026-11-28"), "kim-lien")]:
        d.set_clock(now)
        r = d.walkin(point=point)
        assert r.status == 201, (now, r)


# ---------------------------------------------------------------------------------------------
# Counters


def test_counter_view_lists_the_waiting_tickets_of_its_services(daemon):
    """The console's waiting list: its own services only, in call order, the called one gone."""
    d = daemon
    a1 = d.walkin(service="cu-tru").json["code"]
    b1 = d.walkin(service="khai-sinh").json["code"]
    a2 = d.walkin(service="cu-tru", priority="elderly").json["code"]
    def waiting(counter):
        r = d.get("/v1/counters/" + counter, token=counter_token(counter))
        assert r.status == 200, r
        return [t["code"] for t in r.json["waiting"]]
    assert waiting("cua-nam-2") == [a2, a1]
    assert waiting("cua-nam-3") == [b1]
    assert set(waiting("cua-nam-1")) == {a1, a2, b1} and waiting("cua-nam-1")[0] == a2
    assert call_next(d, "cua-nam-2")["code"] == a2
    assert waiting("cua-nam-2") == [a1]
    assert d.get("/v1/counters/cua-nam-2", token=counter_token("cua-nam-2")).json["current"]["code"] == a2


def test_counter_view_lists_the_waiting_in_the_order_it_will_call_them(make_daemon):
    """With priority_streak_max (3) priority calls in a row behind it, the counter's next call
    is the first ticket without priority: its waiting list says so, call after call."""
    d = make_daemon(big_catalogue())
    elderly = [walked_in(d, priority="elderly")["code"] for _ in range(5)]
    plain = [walked_in(d)["code"] for _ in range(2)]

    def waiting():
        r = d.get("/v1/counters/cua-nam-2", token=counter_token("cua-nam-2"))
        assert r.status == 200, r
        return [t["code"] for t in r.json["waiting"]]

    order = waiting()
    assert order == elderly[:3] + plain[:1] + elderly[3:] + plain[1:], order
    called = []
    for _ in range(len(order)):
        first = waiting()[0]
        got = call_next(d, "cua-nam-2")["code"]
        assert got == first, (got, first)
        called.append(got)
        assert d.counter("cua-nam-2", "complete").status == 200
    assert called == order
    assert waiting() == []


def test_counter_open_pause_call_complete(daemon):
    d = daemon
    r = d.get("/v1/counters/cua-nam-1", token=counter_token("cua-nam-1"))
    assert r.status == 200, r
    assert r.json == {"id": "cua-nam-1", "name": "Quầy 1", "point": "cua-nam",
                      "services": ["cu-tru", "khai-sinh"], "state": "open", "current": None,
                      "waiting": []}, r

    # nobody waits: 204, no ticket
    r = d.counter("cua-nam-1", "call-next")
    assert r.status == 204 and r.raw == "", r

    w = walked_in(d)["code"]
    r = d.counter("cua-nam-1", "pause")
    assert r.status == 200 and r.json["state"] == "paused", r
    assert d.get("/v1/counters/cua-nam-1", token=ADMIN).json["state"] == "paused"
    point = d.get("/v1/points/cua-nam").json
    assert [(c["id"], c["state"]) for c in point["counters"]][0] == ("cua-nam-1", "paused")
    # a paused counter calls nobody
    r = d.counter("cua-nam-1", "call-next")
    assert_error(r, 409, "invalid_state")
    r = d.counter("cua-nam-1", "call", {"code": w})
    assert_error(r, 409, "invalid_state")
    assert status(d, w) == "waiting"

    r = d.counter("cua-nam-1", "open")
    assert r.status == 200 and r.json["state"] == "open", r
    d.set_clock(T("08:10"))
    t = call_next(d, "cua-nam-1")
    assert (t["code"], t["status"], t["counter"], t["position"]) == (w, "called", "cua-nam-1", None)
    assert abs((instant(t["called_at"]) - instant(T("08:10"))).total_seconds()) < 30, t
    c = d.get("/v1/counters/cua-nam-1", token=counter_token("cua-nam-1")).json
    assert c["current"]["code"] == w and c["current"]["status"] == "called", c
    point = d.get("/v1/points/cua-nam").json
    assert [c["current"] for c in point["counters"]] == ["A001", None, None], point

    # one ticket at a time
    w2 = walked_in(d)["code"]
    r = d.counter("cua-nam-1", "call-next")
    assert_error(r, 409, "invalid_state")
    r = d.counter("cua-nam-1", "call", {"code": w2})
    assert_error(r, 409, "invalid_state")
    assert status(d, w2) == "waiting"

    r = d.counter("cua-nam-1", "complete")
    assert r.status == 200 and r.json["ticket"]["code"] == w, r
    assert r.json["ticket"]["status"] == "served"
    assert status(d, w) == "served"
    assert d.get("/v1/counters/cua-nam-1", token=ADMIN).json["current"] is None
    for action in ("complete", "no-show", "park", "recall"):
        r = d.counter("cua-nam-1", action)
        assert_error(r, 409, "invalid_state")
    r = d.counter("cua-nam-1", "transfer", {"service": "khai-sinh"})
    assert_error(r, 409, "invalid_state")
    # a served ticket cannot be called again
    r = d.counter("cua-nam-1", "call", {"code": w})
    assert_error(r, 409, "invalid_state")
    assert call_next(d, "cua-nam-1")["code"] == w2


def test_recall_up_to_max_calls_then_refused(daemon):
    d = daemon
    w = walked_in(d)["code"]
    t = call_next(d, "cua-nam-2")
    first = t["called_at"]
    d.set_clock(T("08:05"))
    r = d.counter("cua-nam-2", "recall")
    assert r.status == 200 and r.json["ticket"]["code"] == w, r
    assert r.json["ticket"]["status"] == "called"
    assert instant(r.json["ticket"]["called_at"]) > instant(first), r
    assert d.counter("cua-nam-2", "recall").status == 200
    # max_calls (3) announcements: the call and two recalls
    r = d.counter("cua-nam-2", "recall")
    assert_error(r, 409, "invalid_state")
    calls = display_calls(d)
    assert [(c["number"], c["counter"], c["recall"]) for c in calls] == [
        ("A001", "cua-nam-2", True), ("A001", "cua-nam-2", True), ("A001", "cua-nam-2", False)]
    assert calls[0]["counter_name"] == "Quầy 2" and calls[0]["service"] == "cu-tru"
    # still called: it can be finished
    assert d.counter("cua-nam-2", "complete").status == 200


def test_max_calls_one_allows_no_recall(make_daemon):
    c = catalogue()
    c["max_calls"] = 1
    d = make_daemon(c)
    walked_in(d)["code"]
    call_next(d, "cua-nam-2")
    assert_error(d.counter("cua-nam-2", "recall"), 409, "invalid_state")


def test_park_and_call_back_by_code(daemon):
    d = daemon
    w1 = walked_in(d)["code"]
    w2 = walked_in(d)["code"]
    assert call_next(d, "cua-nam-2")["code"] == w1
    assert d.counter("cua-nam-2", "recall").status == 200
    r = d.counter("cua-nam-2", "park")
    assert r.status == 200 and r.json["ticket"]["status"] == "parked", r
    assert status(d, w1) == "parked"
    assert d.get("/v1/counters/cua-nam-2", token=ADMIN).json["current"] is None
    # a parked ticket waits outside the call order
    assert queue(d) == [w2]
    assert ticket(d, w1)["position"] is None
    assert call_next(d, "cua-nam-2")["code"] == w2
    assert d.counter("cua-nam-2", "complete").status == 200
    r = d.counter("cua-nam-2", "call-next")
    assert r.status == 204, r
    assert status(d, w1) == "parked"

    # called back by code (another counter of the point that serves it may do it)
    d.set_clock(T("08:20"))
    r = d.counter("cua-nam-1", "call", {"code": w1})
    assert r.status == 200, r
    t = r.json["ticket"]
    assert (t["code"], t["status"], t["counter"]) == (w1, "called", "cua-nam-1"), t
    # a new count of announcements: two recalls again, then no more
    assert d.counter("cua-nam-1", "recall").status == 200
    assert d.counter("cua-nam-1", "recall").status == 200
    assert_error(d.counter("cua-nam-1", "recall"), 409, "invalid_state")
    assert d.counter("cua-nam-1", "complete").json["ticket"]["status"] == "served"


def test_call_a_waiting_ticket_out_of_order(daemon):
    d = daemon
    first = walked_in(d)["code"]
    d.set_clock(T("08:05"))
    second = walked_in(d)["code"]
    r = d.counter("cua-nam-2", "call", {"code": second})
    assert r.status == 200 and r.json["ticket"]["code"] == second, r
    assert queue(d) == [first]
    assert d.counter("cua-nam-2", "no-show").status == 200
    r = d.counter("cua-nam-2", "call", {"code": "ZZZZZZZZZZ"})
    assert_error(r, 404, "not_found")
    r = d.counter("cua-nam-2", "call", {"code": "not a code"})
    assert_error(r, 400, "invalid_field", "code")
    r = d.post("/v1/counters/cua-nam-2/call", {}, token=counter_token("cua-nam-2"))
    assert_error(r, 400, "invalid_field", "code")
    # a booking not checked in is not in the queue yet
    b = booked(d, citizen(1), "09:00")["code"]
    r = d.counter("cua-nam-2", "call", {"code": b})
    assert_error(r, 409, "invalid_state")
    assert status(d, b) == "booked"


def test_no_show(daemon):
    d = daemon
    w = walked_in(d)["code"]
    call_next(d, "cua-nam-2")
    r = d.counter("cua-nam-2", "no-show")
    assert r.status == 200 and r.json["ticket"]["status"] == "no_show", r
    assert status(d, w) == "no_show"
    assert d.get("/v1/counters/cua-nam-2", token=ADMIN).json["current"] is None
    assert_error(d.counter("cua-nam-2", "call", {"code": w}), 409, "invalid_state")
    assert d.counter("cua-nam-2", "call-next").status == 204


def test_transfer_keeps_its_place_in_the_target_queue(daemon):
    d = daemon
    x = walked_in(d, "cu-tru")["code"]                      # 08:00
    d.set_clock(T("08:10"))
    y = walked_in(d, "khai-sinh")["code"]
    d.set_clock(T("08:15"))
    z = walked_in(d, "khai-sinh")["code"]
    d.set_clock(T("08:20"))
    assert call_next(d, "cua-nam-2")["code"] == x
    r = d.counter("cua-nam-2", "transfer", {"service": "nope"})
    assert_error(r, 404, "not_found", "service")
    r = d.post("/v1/counters/cua-nam-2/transfer", {}, token=counter_token("cua-nam-2"))
    assert_error(r, 400, "invalid_field", "service")
    assert status(d, x) == "called"

    r = d.counter("cua-nam-2", "transfer", {"service": "khai-sinh"})
    assert r.status == 200, r
    t = r.json["ticket"]
    # the number stays; it waits in khai-sinh's queue, ahead of later tickets
    assert (t["code"], t["status"], t["service"], t["number"]) == (
        x, "waiting", "khai-sinh", "A001"), t
    assert t["position"] == 1, t
    assert d.get("/v1/counters/cua-nam-2", token=ADMIN).json["current"] is None
    assert queue(d, service="khai-sinh") == [x, y, z]
    assert queue(d, service="cu-tru") == []
    # cua-nam-2 (cu-tru only) no longer sees it; cua-nam-3 (khai-sinh) calls it first
    assert d.counter("cua-nam-2", "call-next").status == 204
    t = call_next(d, "cua-nam-3")
    assert (t["code"], t["number"], t["service"]) == (x, "A001", "khai-sinh"), t
    assert display_calls(d)[0]["service"] == "khai-sinh"
    assert d.counter("cua-nam-3", "complete").status == 200
    assert [call_next(d, "cua-nam-3")["code"]] == [y]


def test_counter_serves_only_its_services_at_its_point(daemon):
    d = daemon
    a = walked_in(d, "cu-tru")["code"]
    d.set_clock(T("08:05"))
    b = walked_in(d, "khai-sinh")["code"]
    k = walked_in(d, "cu-tru", point="kim-lien")["code"]
    # cua-nam-3 serves khai-sinh only: it calls the later B ticket, never the A one
    assert call_next(d, "cua-nam-3")["code"] == b
    assert d.counter("cua-nam-3", "complete").status == 200
    assert d.counter("cua-nam-3", "call-next").status == 204
    # nor by code: a ticket of a service it does not serve, or of another point
    r = d.counter("cua-nam-3", "call", {"code": a})
    assert_error(r, 409, "invalid_state")
    r = d.counter("cua-nam-2", "call", {"code": k})
    assert_error(r, 404, "not_found")
    assert status(d, a) == "waiting" and status(d, k) == "waiting"
    assert d.get("/v1/counters/cua-nam-3", token=ADMIN).json["current"] is None
    # the right counters call them
    assert call_next(d, "kim-lien-1")["code"] == k
    assert call_next(d, "cua-nam-2")["code"] == a


def test_counter_token_acts_on_its_own_counter_only(daemon):
    d = daemon
    w = walked_in(d)["code"]
    mine = counter_token("cua-nam-1")
    for method, action, body in [("GET", "", None), ("POST", "/open", None),
                                 ("POST", "/pause", None), ("POST", "/call-next", None),
                                 ("POST", "/call", {"code": w}), ("POST", "/recall", None),
                                 ("POST", "/park", None), ("POST", "/complete", None),
                                 ("POST", "/no-show", None),
                                 ("POST", "/transfer", {"service": "cu-tru"})]:
        path = "/v1/counters/cua-nam-2" + action
        for token, want in [(mine, 403), (counter_token("kim-lien-1"), 403), (APP, 403),
                            (kiosk_token("cua-nam"), 403), (None, 401), ("bogus", 401)]:
            r = d.request(method, path, body, token=token)
            assert_error(r, want, "forbidden" if want == 403 else "unauthorized")
    assert status(d, w) == "waiting"
    assert d.get("/v1/counters/cua-nam-2", token=ADMIN).json["state"] == "open"
    r = d.get("/v1/counters/nope", token=ADMIN)
    assert_error(r, 404, "not_found")
    # its own token, and the admin's, act on it
    assert d.counter("cua-nam-2", "pause").json["state"] == "paused"
    r = d.post("/v1/counters/cua-nam-2/open", token=ADMIN)
    assert r.status == 200 and r.json["state"] == "open", r
    r = d.post("/v1/counters/cua-nam-2/call-next", token=ADMIN)
    assert r.status == 200 and r.json["ticket"]["code"] == w, r


def test_roles_of_kiosk_and_admin_queue_endpoints(daemon):
    d = daemon
    b = booked(d, citizen(1), "09:00")["code"]
    for path, body in [("/v1/points/cua-nam/checkin", {"code": b}),
                       ("/v1/points/cua-nam/tickets", {"service": "cu-tru"})]:
        for token, want in [(None, 401), ("bogus", 401), (APP, 403), (kiosk_token("kim-lien"), 403),
                            (counter_token("cua-nam-1"), 403)]:
            r = d.post(path, body, token=token)
            assert r.status == want, (path, token, r)
    assert status(d, b) == "booked" and queue(d) == []
    r = d.post("/v1/points/cua-nam/tickets", {"service": "khai-sinh"}, token=ADMIN)
    assert r.status == 201 and r.json["kind"] == "walkin", r
    for path in ["/v1/points/cua-nam/queue", "/v1/bookings?point=cua-nam&date=" + MONDAY,
                 "/v1/audit?point=cua-nam&date=" + MONDAY]:
        for token, want in [(None, 401), ("bogus", 401), (APP, 403), (kiosk_token("cua-nam"), 403),
                            (counter_token("cua-nam-1"), 403)]:
            r = d.get(path, token=token)
            assert r.status == want, (path, token, r)
        assert d.get(path, token=ADMIN).status == 200
    r = d.get("/v1/points/nope/queue", token=ADMIN)
    assert_error(r, 404, "not_found")
    r = d.get("/v1/points/cua-nam/queue?service=nope", token=ADMIN)
    assert_error(r, 404, "not_found", "service")


# ---------------------------------------------------------------------------------------------
# The call order


def test_call_order_priority_entitlement_and_number(daemon):
    d = daemon
    # 08:00: bookings; numbers in booking order
    x = booked(d, citizen(1), "09:00")["code"]                             # A001
    y = booked(d, citizen(2), "09:00")["code"]                             # A002
    pb = booked(d, citizen(3), "09:00", priority="disabled")["code"]       # A003
    b2 = booked(d, citizen(4), "08:30")["code"]                            # A004
    b3 = booked(d, citizen(5), "08:30")["code"]                            # A005
    d.set_clock(T("08:01"))
    w1 = walked_in(d)["code"]                                     # entitled 08:01
    d.set_clock(T("08:02"))
    checked_in(d, y)                                      # entitled 09:00 (slot start)
    d.set_clock(T("08:03"))
    checked_in(d, b2)                                     # entitled 08:30
    d.set_clock(T("08:04"))
    w2 = walked_in(d, priority="elderly")["code"]                 # priority, entitled 08:04
    d.set_clock(T("08:05"))
    checked_in(d, x)                                      # 09:00, ties with y: x's number first
    d.set_clock(T("08:06"))
    checked_in(d, pb)                                     # priority, entitled 09:00
    d.set_clock(T("08:40"))
    checked_in(d, b3)                                     # after its start: entitled 08:40
    d.set_clock(T("08:41"))
    w3 = walked_in(d)["code"]                                     # 08:41
    d.set_clock(T("08:42"))
    k1 = walked_in(d, "khai-sinh")["code"]                        # 08:42, another service

    cu_tru = [w2, pb, w1, b2, b3, w3, x, y]
    assert queue(d, service="cu-tru") == cu_tru
    assert queue(d, service="khai-sinh") == [k1]
    everything = [w2, pb, w1, b2, b3, w3, k1, x, y]
    assert queue(d) == everything
    for i, code in enumerate(cu_tru):
        t = ticket(d, code)
        assert (t["position"], t["eta_minutes"]) == (i + 1, math.ceil((i + 1) * 12 / 2)), t
    assert ticket(d, k1)["position"] == 1

    # cua-nam-1 serves both services and calls them in that order
    called = []
    while True:
        r = d.counter("cua-nam-1", "call-next")
        if r.status == 204:
            break
        assert r.status == 200, r
        called.append(r.json["ticket"]["code"])
        assert d.counter("cua-nam-1", "complete").status == 200
        assert len(called) <= len(everything)
    assert called == everything


def fairness_catalogue(streak_max):
    c = catalogue()
    c["priority_streak_max"] = streak_max
    return c


@pytest.mark.parametrize("streak_max,order", [
    (3, ["P1", "P2", "P3", "N1", "P4", "P5", "P6", "N2"]),
    (2, ["P1", "P2", "N1", "P3", "P4", "N2", "P5", "P6"]),
    (0, ["P1", "P2", "P3", "P4", "P5", "P6", "N1", "N2"]),   # 0: no limit
])
def test_priority_streak_fairness(make_daemon, streak_max, order):
    d = make_daemon(fairness_catalogue(streak_max))
    names = {}
    # the plain tickets came first; priorities jump ahead of them
    for i, (name, priority) in enumerate([
            ("N1", None), ("N2", None), ("P1", "elderly"), ("P2", "disabled"),
            ("P3", "pregnant"), ("P4", "child_under_6"), ("P5", "merit"), ("P6", "elderly")]):
        d.set_clock(T("08:%02d" % (i + 1)))
        extra = {"priority": priority} if priority else {}
        names[walked_in(d, "khai-sinh", **extra)["code"]] = name
    # the admin's queue is the plain call order: priorities first
    assert [names[c] for c in queue(d)] == ["P1", "P2", "P3", "P4", "P5", "P6", "N1", "N2"]
    called = []
    for _ in range(8):
        called.append(names[call_next(d, "cua-nam-3")["code"]])
        assert d.counter("cua-nam-3", "complete").status == 200
    assert called == order
    assert d.counter("cua-nam-3", "call-next").status == 204


def test_priority_streak_counts_per_counter(make_daemon):
    d = make_daemon(fairness_catalogue(1))
    names = {}
    for i, (name, priority) in enumerate([("N1", None), ("P1", "elderly"), ("P2", "merit"),
                                          ("P3", "disabled")]):
        d.set_clock(T("08:%02d" % (i + 1)))
        extra = {"priority": priority} if priority else {}
        names[walked_in(d, "khai-sinh", **extra)["code"]] = name
    # a priority call at cua-nam-3 does not hold back cua-nam-1's first priority call
    assert names[call_next(d, "cua-nam-3")["code"]] == "P1"
    assert names[call_next(d, "cua-nam-1")["code"]] == "P2"
    assert d.counter("cua-nam-3", "complete").status == 200
    assert d.counter("cua-nam-1", "complete").status == 200
    # each has had its one priority call: cua-nam-3 takes the plain ticket, and cua-nam-1,
    # with no plain ticket left, the priority one
    assert names[call_next(d, "cua-nam-3")["code"]] == "N1"
    assert names[call_next(d, "cua-nam-1")["code"]] == "P3"


# ---------------------------------------------------------------------------------------------
# Time: expiry


def test_booking_not_checked_in_expires_on_the_clock_move(daemon):
    d = daemon
    b = booked(d, citizen(1), "09:00")["code"]                 # checks in until 09:45
    kept = booked(d, citizen(2), "09:30")["code"]              # until 10:15
    d.set_clock(T("09:44:30"))
    assert status(d, b) == "booked"
    d.set_clock(T("10:00"))
    # the move itself made it expire: the very next read sees it
    assert status(d, b) == "expired"
    assert status(d, kept) == "booked"
    assert_error(d.checkin(b), 422, "checkin_closed")
    assert_error(d.request("DELETE", "/v1/bookings/" + b, token=APP), 409, "invalid_state")
    exp = [e for e in events_of(d, b)][-1]
    assert instant(T("09:45")) < instant(exp["at"]) <= instant(T("10:00:30")), exp


def test_booking_expires_by_the_deadline_timer(daemon):
    d = daemon
    b = booked(d, citizen(1), "09:00")["code"]                 # checks in until 09:45:00
    d.set_clock(T("09:44:59"))
    assert status(d, b) == "booked"
    # no request at all while the deadline passes
    time.sleep(7)
    now = instant(d.get("/v1/health").json["now"])
    assert status(d, b) == "expired"
    exp = events_of(d, b)[-1]
    # the timer fired at the deadline, well before this first look at the ticket
    assert instant(T("09:45")) < instant(exp["at"]) <= now - datetime.timedelta(seconds=3), (
        exp, now)


def test_waiting_tickets_expire_at_the_end_of_their_date(daemon):
    d = daemon
    w = walked_in(d)["code"]
    parked = walked_in(d)["code"]
    b = booked(d, citizen(1), "09:00")["code"]
    checked_in(d, b)
    served = walked_in(d, "khai-sinh")["code"]
    assert call_next(d, "cua-nam-3")["code"] == served
    assert d.counter("cua-nam-3", "complete").status == 200
    assert d.counter("cua-nam-2", "call", {"code": parked}).status == 200
    assert d.counter("cua-nam-2", "park").status == 200
    d.set_clock(T("23:59:00"))
    assert [status(d, c) for c in (w, parked, b, served)] == [
        "waiting", "parked", "waiting", "served"]
    d.set_clock(T("00:00:05", TUESDAY))
    # waiting (and set aside, parked) tickets do not outlive their day
    assert [status(d, c) for c in (w, parked, b, served)] == [
        "expired", "expired", "expired", "served"]
    assert queue(d) == []
    assert_error(d.counter("cua-nam-2", "call", {"code": parked}), 409, "invalid_state")


# ---------------------------------------------------------------------------------------------
# No-show strikes


def miss(d, code, counter, point="cua-nam"):
    """Check the booking in, call it at COUNTER and mark it a no-show; the instant of the
    no-show, as the audit recorded it."""
    checked_in(d, code, point=point)
    r = d.counter(counter, "call", {"code": code})
    assert r.status == 200, r
    r = d.counter(counter, "no-show")
    assert r.status == 200, r
    ev = events_of(d, code, point=point, date=r.json["ticket"]["date"])
    return instant(ev[-1]["at"])


def iso(t):
    return t.astimezone(HANOI).isoformat()


def test_no_show_strikes_suspend_booking(daemon):
    d = daemon
    who = citizen(7)
    wednesday = "2026-11-25"
    a = booked(d, citizen(7), "09:00")["code"]
    b = booked(d, citizen(7), "09:00", service="khai-sinh")["code"]
    c = booked(d, citizen(7), "09:00", point="kim-lien", date=TUESDAY)["code"]
    d.set_clock(T("08:30"))
    miss(d, a, "cua-nam-2")
    miss(d, b, "cua-nam-3")
    # two no-shows: still allowed to book
    r = d.book(who, date=wednesday, start="10:00")
    assert r.status == 201, r
    assert d.request("DELETE", "/v1/bookings/" + r.json["code"], token=APP).status == 200
    d.set_clock(T("08:40", TUESDAY))
    last = miss(d, c, "kim-lien-1", point="kim-lien")
    # the third (limit 3 within 30 days): suspended for 7 days after it, at every point
    r = d.book(who, date=wednesday, start="10:00")
    assert_error(r, 409, "booking_suspended")
    r = d.book(who, date=wednesday, start="10:00", point="kim-lien")
    assert_error(r, 409, "booking_suspended")
    # others are not
    assert d.book(citizen(8), date=wednesday, start="10:00").status == 201
    day7 = last + datetime.timedelta(days=7)
    date = day7.astimezone(HANOI).date().isoformat()
    d.set_clock(iso(day7 - datetime.timedelta(minutes=2)))
    assert_error(d.book(who, date=date, start="15:00"), 409, "booking_suspended")
    d.set_clock(iso(day7 + datetime.timedelta(minutes=2)))
    r = d.book(who, date=date, start="15:00")
    assert r.status == 201, r


def test_no_shows_outside_the_window_do_not_suspend(make_daemon):
    c = catalogue()
    c["no_show_strikes"] = {"limit": 2, "window_days": 1, "suspend_days": 2}
    d = make_daemon(c)
    who = 9
    first = booked(d, citizen(who), "09:00")["code"]
    d.set_clock(T("08:30"))
    miss(d, first, "cua-nam-2")
    # Wednesday: more than a day later
    d.set_clock(T("08:00", "2026-11-25"))
    second = booked(d, citizen(who), "09:00", date="2026-11-25")["code"]
    d.set_clock(T("08:30", "2026-11-25"))
    miss(d, second, "cua-nam-2")
    third = booked(d, citizen(who), "14:00", date="2026-11-25", service="khai-sinh")["code"]
    # the third within a day of the second: suspended (for 2 days)
    d.set_clock(T("13:30", "2026-11-25"))
    last = miss(d, third, "cua-nam-3")
    r = d.book(citizen(who), date="2026-11-27", start="09:00")
    assert_error(r, 409, "booking_suspended")
    d.set_clock(iso(last + datetime.timedelta(days=2, minutes=2)))
    r = d.book(citizen(who), date="2026-11-30", start="09:00")
    assert r.status == 201, r


# ---------------------------------------------------------------------------------------------
# The admin's view: a point's day


def test_day_listing_in_number_order(daemon):
    d = daemon
    codes = {}
    codes["A001"] = booked(d, citizen(1), "09:00")["code"]
    codes["B001"] = booked(d, citizen(2), "09:00", service="khai-sinh")["code"]
    codes["A002"] = walked_in(d)["code"]
    codes["B002"] = walked_in(d, "khai-sinh")["code"]
    codes["A003"] = booked(d, citizen(3), "10:00")["code"]
    assert d.request("DELETE", "/v1/bookings/" + codes["A003"], token=APP).status == 200
    booked(d, citizen(4), "09:00", date=TUESDAY)["code"]
    walked_in(d, point="kim-lien")["code"]
    r = d.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=ADMIN)
    assert r.status == 200, r
    got = [(t["number"], t["code"], t["kind"], t["status"]) for t in r.json["bookings"]]
    assert got == [("A001", codes["A001"], "booking", "booked"),
                   ("A002", codes["A002"], "walkin", "waiting"),
                   ("A003", codes["A003"], "booking", "cancelled"),
                   ("B001", codes["B001"], "booking", "booked"),
                   ("B002", codes["B002"], "walkin", "waiting")], got
    r = d.get("/v1/bookings?point=cua-nam&date=" + TUESDAY, token=ADMIN)
    assert [t["number"] for t in r.json["bookings"]] == ["A001"], r
    r = d.get("/v1/bookings?point=nope&date=" + MONDAY, token=ADMIN)
    assert_error(r, 404, "not_found", "point")
    r = d.get("/v1/bookings?point=cua-nam", token=ADMIN)
    assert_error(r, 400, "invalid_field", "date")
    r = d.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=APP)
    assert r.status == 403, r


# ---------------------------------------------------------------------------------------------
# Every state change leaves an event


def same_shape(actions, expected):
    """Whether ACTIONS follow EXPECTED label for label: equal labels where the changes are of
    one kind, different ones where they differ (the contract does not name them)."""
    if len(actions) != len(expected):
        return False
    seen = {}
    for a, e in zip(actions, expected):
        if seen.setdefault(e, a) != a:
            return False
    return len(set(seen.values())) == len(seen)


def test_every_state_change_is_an_audit_event(daemon):
    d = daemon
    t1 = booked(d, citizen(1), "09:00")["code"]
    t2 = booked(d, citizen(2), "09:00")["code"]
    t3 = booked(d, citizen(3), "08:30")["code"]
    d.request("DELETE", "/v1/bookings/" + t2, token=APP)
    d.set_clock(T("08:10"))
    checked_in(d, t1)
    w = walked_in(d)["code"]
    assert call_next(d, "cua-nam-1")["code"] == w
    d.counter("cua-nam-1", "no-show")
    d.set_clock(T("08:20"))
    assert call_next(d, "cua-nam-1")["code"] == t1
    d.counter("cua-nam-1", "recall")
    d.counter("cua-nam-1", "park")
    d.counter("cua-nam-2", "call", {"code": t1})
    d.counter("cua-nam-2", "transfer", {"service": "khai-sinh"})
    assert call_next(d, "cua-nam-3")["code"] == t1
    d.counter("cua-nam-3", "complete")
    d.set_clock(T("09:30"))                   # t3 expires at 09:15

    evs = events(d)
    seqs = [e["seq"] for e in evs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    ats = [instant(e["at"]) for e in evs]
    assert ats == sorted(ats)
    assert all(len(e["hash"]) == 64 for e in evs)
    acts = {code: [e["action"] for e in evs if e["ticket"] == code] for code in (t1, t2, t3, w)}
    labels = {
        t1: ["book", "checkin", "call", "recall", "park", "call", "transfer", "call", "complete"],
        t2: ["book", "cancel"],
        t3: ["book", "expire"],
        w: ["issue", "call", "no_show"],
    }
    every = sum((acts[c] for c in labels), [])
    assert same_shape(every, sum((labels[c] for c in labels), [])), acts
    # each names who acted: the app, the kiosk, the system, each counter
    actors = [e["actor"] for e in evs if e["ticket"] == t1]
    assert actors[2] == actors[3] == actors[4]                    # cua-nam-1
    assert actors[5] == actors[6]                                 # cua-nam-2
    assert actors[7] == actors[8]                                 # cua-nam-3
    assert len({actors[0], actors[1], actors[2], actors[5], actors[7]}) == 5, actors
    assert [e["actor"] for e in evs if e["ticket"] == t2] == [actors[0], actors[0]]
    assert [e["actor"] for e in evs if e["ticket"] == w][0] == actors[1]

    # the display shows each call and recall, newest first
    calls = display_calls(d)
    assert [(c["number"], c["counter"], c["recall"]) for c in calls] == [
        ("A001", "cua-nam-3", False), ("A001", "cua-nam-2", False),
        ("A001", "cua-nam-1", True), ("A001", "cua-nam-1", False),
        ("A004", "cua-nam-1", False)], calls
    assert events(d, point="kim-lien") == []


# ---------------------------------------------------------------------------------------------
# Many counters calling at the same instant

COUNTERS = 12
ROUNDS = 20


def crowded_catalogue():
    c = catalogue()
    p = c["points"][0]
    p["services"][1]["walkin_daily_limit"] = 1000
    for i in range(4, 4 + COUNTERS):
        cid = "cua-nam-%d" % i
        p["counters"].append({"id": cid, "name": "Quầy %d" % i, "services": ["khai-sinh"]})
        c["tokens"].append({"name": "quay-" + cid, "role": "counter", "counter": cid,
                            "token": counter_token(cid)})
    return c


def test_many_counters_calling_at_once_never_share_or_skip_a_ticket(make_daemon):
    d = make_daemon(crowded_catalogue())
    counters = ["cua-nam-%d" % i for i in range(4, 4 + COUNTERS)]
    issued = [walked_in(d, "khai-sinh")["code"] for _ in range(COUNTERS * ROUNDS - 3)]
    calls = {k: [] for k in counters}
    errors = []
    go = threading.Barrier(COUNTERS + 1)

    def work(k):
        conn = d.connection()
        try:
            for _ in range(ROUNDS + 1):
                go.wait(60)
                r = d.request("POST", "/v1/counters/%s/call-next" % k, token=counter_token(k),
                              conn=conn)
                calls[k].append(r.json["ticket"]["code"] if r.status == 200 else r.status)
                if r.status == 200:
                    f = d.request("POST", "/v1/counters/%s/complete" % k,
                                  token=counter_token(k), conn=conn)
                    if f.status != 200:
                        errors.append((k, f))
                elif r.status != 204:
                    errors.append((k, r))
                go.wait(60)
        except Exception as e:      # reported below, never lost in the thread
            errors.append((k, e))
            go.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in counters]
    for t in threads:
        t.start()
    rounds = []
    for _ in range(ROUNDS + 1):
        go.wait(60)
        go.wait(60)
        rounds.append([calls[k][-1] for k in counters])
    for t in threads:
        t.join(60)
    assert not errors, errors

    # each round calls exactly the next tickets in call order (issue order here)
    remaining = list(issued)
    for i, got in enumerate(rounds):
        codes = [c for c in got if isinstance(c, str)]
        assert len(codes) == len(set(codes)), (i, got)
        assert sorted(codes) == sorted(remaining[:COUNTERS]), (i, got)
        assert got.count(204) == COUNTERS - len(codes), (i, got)
        remaining = remaining[len(codes):]
    assert remaining == []
    everyone = sum(([c for c in calls[k] if isinstance(c, str)] for k in counters), [])
    assert sorted(everyone) == sorted(issued)
    assert all(status(d, c) == "served" for c in issued)
    called = [e["ticket"] for e in events(d) if e["ticket"] in set(issued)]
    assert sorted(called) == sorted(issued * 3)      # issue, call, complete: once each
