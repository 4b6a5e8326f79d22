"""The displays' feeds (API.md section 5, public): the board GET /v1/points/{point}/display,
its long-poll (since, wait), and the event stream GET /v1/points/{point}/events (framing,
Last-Event-ID, pings, a display that stops reading, publication after the commit, shutdown)."""
import http.client
import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (MONDAY, assert_error, call_next, catalogue, counter_token, held, metric,
                      preload_daemon, read_response, restart, wait_for, call_written, SYNC_SHIM, walked_in)

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
CALL_FIELDS = {"seq", "number", "service", "counter", "counter_name", "called_at", "recall"}


# ---------------------------------------------------------------------------------------------
# Clients


class Stream:
    """An event-stream client on a raw socket: HTTP/1.1, chunked transfer decoded by hand,
    the body split into SSE blocks (the lines between blank lines)."""

    def __init__(self, port, point="cua-nam", last_event_id=None, rcvbuf=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        req = "GET /v1/points/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" % point
        if last_event_id is not None:
            req += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((req + "\r\n").encode())
        self.raw = b""       # received, not yet decoded
        self.body = b""      # decoded body, not yet split into blocks
        self.blocks = []     # complete blocks not yet taken, each a list of lines
        self.status = None
        self.headers = {}
        self.chunked = False
        self.data_left = 0   # bytes of the current chunk still to come
        self.crlf_left = 0   # bytes of the CRLF that ends it still to come
        self.eof = False     # the connection ended (orderly or not)
        self.ended = False   # the last chunk (size 0) arrived

    def close(self):
        self.sock.close()

    def _recv(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.raw += data
        self._decode()
        return True

    def read_head(self, timeout=10):
        deadline = time.time() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                raise AssertionError("no response head: %r" % self.raw[:300])
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._decode()
        return self

    def _decode(self):
        if self.status is None:
            return
        if not self.chunked:
            self.body += self.raw
            self.raw = b""
        while self.raw and not self.ended:
            if self.data_left:
                take = self.raw[:self.data_left]
                self.body += take
                self.data_left -= len(take)
            elif self.crlf_left:
                take = self.raw[:self.crlf_left]
                assert take == b"\r\n"[2 - self.crlf_left:][:len(take)], "a chunk not ended by CRLF"
                self.crlf_left -= len(take)
            else:
                if b"\r\n" not in self.raw:
                    break
                size, self.raw = self.raw.split(b"\r\n", 1)
                n = int(size.split(b";")[0], 16)
                self.ended = n == 0
                self.data_left, self.crlf_left = n, 2
                continue
            self.raw = self.raw[len(take):]
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            self.blocks.append(block.decode("utf-8").split("\n"))

    def next_block(self, timeout=5):
        """The next block, or None if none comes within TIMEOUT or the stream ended."""
        deadline = time.time() + timeout
        while not self.blocks:
            if self.eof or self.ended or not self._recv(deadline):
                return None
        return self.blocks.pop(0)

    def next_event(self, timeout=5):
        """The next call event as (id, data), skipping retry-only and comment blocks."""
        deadline = time.time() + timeout
        while True:
            block = self.next_block(max(0.0, deadline - time.time()))
            if block is None:
                return None
            if all(line.startswith(":") or line.startswith("retry:") for line in block):
                continue
            return parse_event(block)

    def events_until_quiet(self, quiet=0.5, limit=10000):
        out = []
        while len(out) < limit:
            e = self.next_event(timeout=quiet)
            if e is None:
                break
            out.append(e)
        return out

    def wait_end(self, timeout=5):
        """True once the server has ended the stream (last chunk or closed connection)."""
        deadline = time.time() + timeout
        while not (self.eof or self.ended):
            if not self._recv(deadline) and time.time() >= deadline:
                return False
        return True


def parse_event(block):
    """A call event is exactly three lines: `id: N`, `event: call`, `data: {json}`."""
    assert len(block) == 3, block
    assert re.fullmatch(r"id: [1-9][0-9]*", block[0]), block
    assert block[1] == "event: call", block
    assert block[2].startswith("data: {"), block
    seq = int(block[0][4:])
    data = json.loads(block[2][6:])
    assert set(data) == CALL_FIELDS, data
    assert data["seq"] == seq, block
    return seq, data


def open_stream(d, point="cua-nam", **kw):
    s = Stream(d.port, point, **kw).read_head()
    assert s.status == 200, (s.status, s.headers)
    assert s.headers["content-type"].split(";")[0].strip() == "text/event-stream", s.headers
    return s


class LongPoll(threading.Thread):
    """GET /v1/points/{point}/display?since&wait on its own connection, timed. start() sends
    the request whole before it returns; the thread then waits for the answer."""

    def __init__(self, d, point, since, wait):
        super().__init__(daemon=True)
        self.d, self.path = d, "/v1/points/%s/display?since=%d&wait=%d" % (point, since, wait)
        self.response = self.error = None
        self.sent = self.answered = None
        self.conn = None

    def start(self):
        self.conn = self.d.connection()
        self.sent = time.time()
        self.conn.request("GET", self.path)
        super().start()

    def run(self):
        try:
            self.response = read_response(self.conn)
        except (OSError, http.client.HTTPException) as e:
            self.error = e
        finally:
            self.conn.close()
        self.answered = time.time()

    def elapsed(self):
        return self.answered - self.sent


def board(d, point="cua-nam", query=""):
    r = d.get("/v1/points/%s/display%s" % (point, query))
    assert r.status == 200, r
    assert r.headers["content-type"].split(";")[0] == "application/json", r.headers
    return r.json


def walkins(d, n, service="cu-tru", point="cua-nam"):
    return [walked_in(d, service=service, point=point)["code"] for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# The board


def live_call(d, s, counter, point="cua-nam", after=0):
    """A walk-in called now at COUNTER: stream S carries that call, with an id past AFTER."""
    walkins(d, 1, point=point)
    t = call_next(d, counter)
    e = s.next_event()
    assert e is not None and e[1]["number"] == t["number"] and e[1]["counter"] == counter, e
    assert e[0] > after, e
    return e


def test_board_shows_calls_counters_and_waiting_counts(daemon):
    d = daemon
    b = board(d)
    assert b["point"] == "cua-nam" and b["seq"] == 0 and b["calls"] == [], b
    assert [(c["id"], c["name"], c["state"], c["current"]) for c in b["counters"]] == [
        ("cua-nam-1", "Quầy 1", "open", None), ("cua-nam-2", "Quầy 2", "open", None),
        ("cua-nam-3", "Quầy 3", "open", None)], b
    assert sorted((w["service"], w["count"]) for w in b["waiting"]) == [("cu-tru", 0), ("khai-sinh", 0)]

    walkins(d, 2, "cu-tru")
    walkins(d, 1, "khai-sinh")
    b = board(d)
    assert sorted((w["service"], w["count"]) for w in b["waiting"]) == [("cu-tru", 2), ("khai-sinh", 1)]
    assert b["calls"] == [] and b["seq"] == 0

    a = call_next(d, "cua-nam-2")
    bb = call_next(d, "cua-nam-3")
    assert (a["number"], bb["number"]) == ("A001", "B001")
    b = board(d)
    calls = b["calls"]
    assert [(c["number"], c["service"], c["counter"], c["counter_name"], c["recall"]) for c in calls] == [
        ("B001", "khai-sinh", "cua-nam-3", "Quầy 3", False),
        ("A001", "cu-tru", "cua-nam-2", "Quầy 2", False)], calls
    for c in calls:
        assert set(c) == CALL_FIELDS, c
        assert isinstance(c["seq"], int) and c["seq"] > 0, c
        assert INSTANT.match(c["called_at"]) and c["called_at"].endswith("+07:00"), c
    assert calls[0]["called_at"] == bb["called_at"] and calls[1]["called_at"] == a["called_at"]
    assert calls[0]["seq"] > calls[1]["seq"] and b["seq"] == calls[0]["seq"], b
    current = {c["id"]: c["current"] for c in b["counters"]}
    assert current == {"cua-nam-1": None, "cua-nam-2": "A001", "cua-nam-3": "B001"}, b["counters"]
    assert sorted((w["service"], w["count"]) for w in b["waiting"]) == [("cu-tru", 1), ("khai-sinh", 0)]

    # since: only the calls after SEQ; the rest of the board as ever
    later = board(d, query="?since=%d" % calls[1]["seq"])
    assert [c["number"] for c in later["calls"]] == ["B001"] and later["seq"] == b["seq"]
    assert later["counters"] == b["counters"] and later["waiting"] == b["waiting"]
    assert board(d, query="?since=%d" % b["seq"])["calls"] == []

    # a served ticket leaves its counter; a paused counter shows as paused
    assert d.counter("cua-nam-2", "complete").status == 200
    assert d.counter("cua-nam-1", "pause").status == 200
    b2 = board(d)
    states = {c["id"]: (c["state"], c["current"]) for c in b2["counters"]}
    assert states == {"cua-nam-1": ("paused", None), "cua-nam-2": ("open", None),
                      "cua-nam-3": ("open", "B001")}, states
    assert b2["calls"] == b["calls"], "completing is not a call"

    # the other point's board is untouched
    k = board(d, "kim-lien")
    assert k["point"] == "kim-lien" and k["calls"] == [] and k["seq"] == 0, k
    assert [(c["id"], c["current"]) for c in k["counters"]] == [("kim-lien-1", None)]


def test_board_lists_at_most_ten_calls_newest_first(make_daemon):
    config = catalogue()
    config["max_calls"] = 20
    d = make_daemon(config)
    walkins(d, 1)
    call_next(d, "cua-nam-1")
    for _ in range(11):
        assert d.counter("cua-nam-1", "recall").status == 200
    calls = board(d)["calls"]
    assert len(calls) == 10, calls
    seqs = [c["seq"] for c in calls]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 10
    assert all(c["recall"] for c in calls), "the 10 newest are the recalls"
    assert board(d)["seq"] == seqs[0]


def test_board_of_an_unknown_point_is_404(daemon):
    assert_error(daemon.get("/v1/points/nowhere/display"), 404, "not_found")
    assert_error(daemon.get("/v1/points/nowhere/display?since=0&wait=5"), 404, "not_found")
    assert_error(daemon.get("/v1/points/nowhere/events"), 404, "not_found")


def test_bad_since_and_wait_are_400(daemon):
    d = daemon
    for q, field in [("since=-1", "since"), ("since=abc", "since"), ("since=1.5", "since"),
                     ("since=", "since"), ("since=99999999999999999999999", "since"),
                     ("since=0&wait=61", "wait"), ("since=0&wait=-1", "wait"),
                     ("since=0&wait=x", "wait"), ("since=0&wait=2.5", "wait"),
                     ("since=0&wait=", "wait")]:
        r = d.get("/v1/points/cua-nam/display?" + q)
        assert_error(r, 400, "invalid_field", field)


# ---------------------------------------------------------------------------------------------
# Long-poll


def test_long_poll_is_woken_by_a_call(daemon):
    d = daemon
    code = walkins(d, 1)[0]
    seq = board(d)["seq"]
    poll = LongPoll(d, "cua-nam", seq, 30)
    other = LongPoll(d, "kim-lien", board(d, "kim-lien")["seq"], 2)
    poll.start()
    other.start()
    held(d, 2)  # both are held before the call
    assert poll.is_alive(), "the long-poll answered with nothing new: %r" % poll.response

    t = call_next(d, "cua-nam-1")
    returned = time.time()
    poll.join(10)
    assert not poll.is_alive(), "the long-poll was not answered after the call"
    assert poll.error is None, poll.error
    # woken by the call, not answered when its 30 s were up
    assert poll.answered - returned < 10, "answered %.2f s after the call" % (
        poll.answered - returned)
    r = poll.response
    assert r.status == 200, r
    assert [(c["number"], c["counter"], c["recall"]) for c in r.json["calls"]] == [
        (t["number"], "cua-nam-1", False)], r.json
    assert r.json["seq"] == r.json["calls"][0]["seq"] > seq
    assert {c["id"]: c["current"] for c in r.json["counters"]}["cua-nam-1"] == t["number"]
    assert d.get("/v1/tickets/" + code).json["status"] == "called"

    # the other point's waiter was not woken by this call: it ran to its time
    other.join(10)
    assert other.response.status == 200 and other.response.json["calls"] == [], other.response
    assert 1.8 <= other.elapsed() < 10, other.elapsed()  # held for its 2 s, then let go


def test_long_poll_with_nothing_new_answers_when_the_time_is_up(daemon):
    d = daemon
    walkins(d, 1)
    call_next(d, "cua-nam-1")
    before = board(d)
    poll = LongPoll(d, "cua-nam", before["seq"], 2)
    poll.start()
    poll.join(15)
    assert poll.error is None and not poll.is_alive()
    # held for its 2 s, then answered (not held on)
    assert 1.8 <= poll.elapsed() < 10, "answered after %.2f s for wait=2" % poll.elapsed()
    r = poll.response
    assert r.status == 200, r
    assert r.json["calls"] == [] and r.json["seq"] == before["seq"], r.json
    assert r.json["counters"] == before["counters"] and r.json["waiting"] == before["waiting"]


def test_long_poll_behind_the_latest_call_answers_at_once(daemon):
    d = daemon
    walkins(d, 2)
    first = call_next(d, "cua-nam-1")
    call_next(d, "cua-nam-2")
    b = board(d)
    t0 = time.time()
    r = d.get("/v1/points/cua-nam/display?since=%d&wait=30" % b["calls"][1]["seq"])
    assert time.time() - t0 < 10  # answered at once, not held for the 30 s wait
    assert r.status == 200 and [c["counter"] for c in r.json["calls"]] == ["cua-nam-2"], r
    r = d.get("/v1/points/cua-nam/display?since=0&wait=60")
    assert r.status == 200 and len(r.json["calls"]) == 2, r
    assert r.json["calls"][1]["number"] == first["number"]


# ---------------------------------------------------------------------------------------------
# The event stream


def test_head_of_a_stream_is_its_headers_only(daemon):
    """HEAD on the event stream: its status and type and no body, so that the next answer on
    the connection starts right after its headers (a chunk terminator there would be read as
    the next answer's status line)."""
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        s.sendall(b"HEAD /v1/points/cua-nam/events HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert b"content-type: text/event-stream" in head.lower(), head
        assert b"x-accel-buffering: no" in head.lower(), head
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
        deadline = time.monotonic() + 5
        while b"\"status\"" not in rest and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 "), rest[:80]
    finally:
        s.close()


def test_stream_framing_ids_and_recalls(daemon):
    d = daemon
    walkins(d, 2)
    s = open_stream(d)
    k = open_stream(d, "kim-lien")
    try:
        assert s.headers.get("transfer-encoding") == "chunked" or "content-length" not in s.headers
        t1 = call_next(d, "cua-nam-1")
        assert d.counter("cua-nam-1", "recall").status == 200
        t2 = call_next(d, "cua-nam-2")
        assert d.counter("cua-nam-1", "recall").status == 200
        # a ticket is announced at most max_calls (3) times: the third recall is refused
        r = d.counter("cua-nam-1", "recall")
        assert_error(r, 409, "invalid_state")

        events = [s.next_event() for _ in range(4)]
        assert None not in events, events
        ids = [e[0] for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 4, ids
        got = [(e[1]["number"], e[1]["counter"], e[1]["counter_name"], e[1]["recall"]) for e in events]
        assert got == [(t1["number"], "cua-nam-1", "Quầy 1", False),
                       (t1["number"], "cua-nam-1", "Quầy 1", True),
                       (t2["number"], "cua-nam-2", "Quầy 2", False),
                       (t1["number"], "cua-nam-1", "Quầy 1", True)], got
        assert s.next_event(timeout=0.7) is None, "the refused recall was announced"
        # the same calls as the board, which lists them newest first
        assert [e[1] for e in reversed(events)] == board(d)["calls"]

        # the other point's stream saw none of it, and sees its own
        assert k.next_event(timeout=0.3) is None
        live_call(d, k, "kim-lien-1", point="kim-lien", after=ids[-1])
        assert s.next_event(timeout=0.3) is None
    finally:
        s.close()
        k.close()


def test_last_event_id_replays_the_days_calls_after_it(daemon):
    d = daemon
    walkins(d, 1)
    monday = call_next(d, "cua-nam-1")  # yesterday's, once the clock moves on
    assert monday["date"] == MONDAY
    assert d.counter("cua-nam-1", "complete").status == 200
    d.set_clock("2026-11-24T08:00:00+07:00")
    walkins(d, 3)
    first = call_next(d, "cua-nam-1")
    assert d.counter("cua-nam-1", "complete").status == 200
    calls = [first, call_next(d, "cua-nam-2"), call_next(d, "cua-nam-1")]
    ids = [c["seq"] for c in reversed(board(d)["calls"])]
    assert len(ids) == 3

    # after the first: the two others, in order, then the live calls, each once
    s = open_stream(d, last_event_id=ids[0])
    try:
        got = s.events_until_quiet()
        assert [e[0] for e in got] == ids[1:], got
        assert [e[1]["number"] for e in got] == [c["number"] for c in calls[1:]]
        assert d.counter("cua-nam-2", "complete").status == 200
        live = live_call(d, s, "cua-nam-2", after=ids[-1])
        assert s.next_event(timeout=0.5) is None
    finally:
        s.close()

    # from 0: the whole day, and only the day (Monday's call is not replayed)
    s = open_stream(d, last_event_id=0)
    try:
        got = s.events_until_quiet()
        assert [e[0] for e in got] == ids + [live[0]], got
        assert all(e[1]["called_at"].startswith("2026-11-24T") for e in got), got
    finally:
        s.close()
    # from the last id: nothing but what comes
    s = open_stream(d, last_event_id=live[0])
    try:
        assert s.next_event(timeout=0.7) is None
    finally:
        s.close()


def many_calls_config(counter_name=None):
    """cua-nam with up to 100 announcements per ticket and room for many walk-ins."""
    config = catalogue()
    config["max_calls"] = 100
    for p in config["points"]:
        for s in p["services"]:
            s["walkin_daily_limit"] = 9999
    if counter_name:
        config["points"][0]["counters"][0]["name"] = counter_name
    return config


def announce(d, n, conn=None):
    """N announcements at cua-nam-1: calls of new walk-ins, each followed by recalls."""
    done = 0
    token = counter_token("cua-nam-1")
    while done < n:
        walkins(d, 1)
        r = d.request("POST", "/v1/counters/cua-nam-1/call-next", token=token, conn=conn)
        assert r.status == 200, r
        done += 1
        while done < n and done % 100:
            r = d.request("POST", "/v1/counters/cua-nam-1/recall", token=token, conn=conn)
            assert r.status == 200, r
            done += 1
        r = d.request("POST", "/v1/counters/cua-nam-1/complete", token=token, conn=conn)
        assert r.status == 200, r


def test_last_event_id_replays_a_long_day_whole(make_daemon):
    # A busy day's calls are more than a stream holds for a live reader (64 KiB): a display
    # back from an outage still gets every one of them, in order, and then the live calls.
    d = make_daemon(many_calls_config())
    conn = d.connection()
    announce(d, 450, conn)
    conn.close()
    last = board(d)["seq"]
    s = open_stream(d, last_event_id=0)
    try:
        got = s.events_until_quiet(quiet=1)
        assert len(got) == 450, "replayed %d of 450 calls; stream ended: %s" % (len(got), s.eof or s.ended)
        ids = [e[0] for e in got]
        assert ids == sorted(ids) and len(set(ids)) == 450 and ids[-1] == last
        assert sum(1 for e in got if not e[1]["recall"]) == 5
        live_call(d, s, "cua-nam-2", after=last)
    finally:
        s.close()


def test_a_ping_comes_within_15_seconds_of_silence(daemon):
    s = open_stream(daemon)
    try:
        t0 = time.time()
        while True:
            block = s.next_block(timeout=max(0.0, 15 - (time.time() - t0)))
            assert block is not None, "no comment within 15 s of silence (stream ended: %s)" % (
                s.eof or s.ended)
            if block[0].startswith("retry:"):
                continue
            # nothing was called: the only thing a quiet stream may carry is a comment
            assert all(line.startswith(":") for line in block), block
            break
        assert time.time() - t0 <= 15
        # the stream is still alive after the ping
        live_call(daemon, s, "cua-nam-1")
    finally:
        s.close()


class Reader(threading.Thread):
    """Reads a stream as fast as it comes, noting each event as (seq, number, recall)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.arrivals = []
        self.stop = False

    def run(self):
        while not self.stop:
            e = self.stream.next_event(timeout=0.2)
            if e is not None:
                self.arrivals.append((e[0], e[1]["number"], e[1]["recall"]))
            elif self.stream.eof or self.stream.ended:
                return


def test_a_display_that_stops_reading_is_dropped_and_harms_no_other(make_daemon):
    # Long counter names make each event about 4 KB, so that the stalled display's socket
    # buffers and its 64 KiB in the daemon fill up after a few hundred calls, not tens of
    # thousands.
    d = make_daemon(many_calls_config("Quầy 1 " + "- tiếp nhận và trả kết quả " * 150))
    good = open_stream(d)
    reader = Reader(good)
    reader.start()
    stalled = Stream(d.port, rcvbuf=1)  # the smallest receive buffer; never read again
    conn = d.connection()
    token = counter_token("cua-nam-1")
    walkins(d, 1, point="kim-lien")  # opens conn: the counter's connection, kept alive
    r = d.request("POST", "/v1/counters/kim-lien-1/call-next", token=counter_token("kim-lien-1"),
                  conn=conn)
    assert r.status == 200, r
    assert wait_for(lambda: metric(d, "hangdoi_event_streams") == 2)
    conns_with_stalled = metric(d, "hangdoi_connections")

    returned = []  # each call made, as (number, recall)
    dropped_after = None
    try:
        while len(returned) < 4000:
            walkins(d, 1)
            for k in range(100):
                action = "call-next" if k == 0 else "recall"
                r = d.request("POST", "/v1/counters/cua-nam-1/" + action, token=token, conn=conn)
                assert r.status == 200, r
                returned.append((r.json["ticket"]["number"], action == "recall"))
                if len(returned) % 50 == 0 and dropped_after is None:
                    # while the stalled display still holds its place, the reading one keeps
                    # up: it is never left waiting behind it
                    assert wait_for(lambda: len(reader.arrivals) >= len(returned), 10), \
                        "the reading display got %d of %d calls while the other stalled" % (
                            len(reader.arrivals), len(returned))
                    if metric(d, "hangdoi_event_streams") == 1:
                        dropped_after = len(returned)
            r = d.request("POST", "/v1/counters/cua-nam-1/complete", token=token, conn=conn)
            assert r.status == 200, r
            if dropped_after is not None:
                break
        assert dropped_after is not None, "the stalled display still counts as a stream after " \
            "%d calls" % len(returned)
        # a dropped display's connection is closed, not held
        assert wait_for(lambda: metric(d, "hangdoi_connections") < conns_with_stalled, 5), \
            "the stalled display's connection is still open"
        assert stalled.wait_end(timeout=10), "the stalled display's connection did not end"

        # the other display got every call, once each, in the order they were made, and still
        # gets them
        assert wait_for(lambda: len(reader.arrivals) >= len(returned), 10), \
            "the reading display got %d of %d calls" % (len(reader.arrivals), len(returned))
        seqs = [a[0] for a in reader.arrivals]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == len(returned)
        assert [a[1:] for a in reader.arrivals] == returned
        walkins(d, 1)
        call_next(d, "cua-nam-2")
        assert wait_for(lambda: len(reader.arrivals) == len(returned) + 1, 5)
    finally:
        reader.stop = True
        conn.close()
        stalled.close()
        reader.join(5)
        good.close()


# ---------------------------------------------------------------------------------------------
# Publication after the commit


def test_the_called_ticket_is_readable_when_its_event_arrives(daemon):
    d = daemon
    codes = walkins(d, 2)
    s = open_stream(d)
    try:
        for counter, code in zip(("cua-nam-1", "cua-nam-2"), codes):
            caller = threading.Thread(target=d.counter, args=(counter, "call-next"), daemon=True)
            caller.start()
            e = s.next_event()
            assert e is not None, "no event for the call at %s" % counter
            t = d.get("/v1/tickets/" + code)  # another connection, at once
            assert t.status == 200 and t.json["status"] == "called", t
            assert t.json["counter"] == counter and t.json["number"] == e[1]["number"]
            assert t.json["called_at"] == e[1]["called_at"]
            caller.join(10)
    finally:
        s.close()


def test_calls_made_at_the_same_moment_all_reach_the_displays(daemon):
    # Three counters press "next" at once: their calls may share one commit; each is shown.
    d = daemon
    walkins(d, 5, "cu-tru")
    walkins(d, 5, "khai-sinh")
    s = open_stream(d)
    poll_since = board(d)["seq"]
    counters = ("cua-nam-1", "cua-nam-2", "cua-nam-3")
    shown = []
    try:
        for _ in range(3):
            socks = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in counters]
            reqs = [("POST /v1/counters/%s/call-next HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n" % (k, counter_token(k))).encode()
                    for k in counters]
            for sock, req in zip(socks, reqs):  # all three in flight before any is answered
                sock.sendall(req)
            for sock in socks:
                answer = b""
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    answer += data
                sock.close()
                assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            got = [s.next_event() for _ in counters]
            assert None not in got, "only %d of 3 simultaneous calls reached the stream: %r" % (
                len([e for e in got if e]), got)
            shown += got
            assert sorted(e[1]["counter"] for e in got) == sorted(counters)
            for k in counters:
                assert d.counter(k, "complete").status == 200
        assert s.next_event(timeout=0.5) is None
        ids = [e[0] for e in shown]
        assert ids == sorted(ids) and len(set(ids)) == 9
        # and the board agrees, as does a long-poll from before them
        assert [c["seq"] for c in board(d)["calls"]] == sorted(ids, reverse=True)
        r = d.get("/v1/points/cua-nam/display?since=%d&wait=5" % poll_since)
        assert sorted(c["seq"] for c in r.json["calls"]) == ids
    finally:
        s.close()


def held_disk_daemon(make_daemon, tmp_path, monkeypatch):
    """A daemon whose syncs wait while the returned file exists (an LD_PRELOAD shim)."""
    gate = tmp_path / "gate"
    d = preload_daemon(make_daemon, tmp_path, monkeypatch, SYNC_SHIM, {"SYNC_GATE": str(gate)})
    return d, gate


def test_calls_are_published_only_once_durable(make_daemon, tmp_path, monkeypatch):
    # With the disk's syncs held, two calls are made: the first waits in its sync, the second
    # is written while that sync is under way. Neither is durable, so no display (live stream,
    # stream that connects meanwhile, long-poll, board) may show either, and neither caller
    # is answered. Once the disk lets go, every display shows both, in order, each once.
    d, gate = held_disk_daemon(make_daemon, tmp_path, monkeypatch)
    codes = walkins(d, 2)
    live = open_stream(d)
    before = board(d)
    poll = LongPoll(d, "cua-nam", before["seq"], 20)
    poll.start()
    answered = {}

    def call(counter):
        answered[counter] = d.counter(counter, "call-next")

    gate.write_text("")
    late = None
    try:
        callers = [threading.Thread(target=call, args=(k,), daemon=True)
                   for k in ("cua-nam-1", "cua-nam-2")]
        callers[0].start()
        assert wait_for(lambda: call_written(d, "cua-nam-1"), 5)
        callers[1].start()  # while the first call's sync is under way
        assert wait_for(lambda: call_written(d, "cua-nam-2"), 5)
        late = open_stream(d, last_event_id=0)  # a display that (re)connects now
        b = board(d)
        assert b["calls"] == before["calls"] and b["seq"] == before["seq"], b
        assert live.next_event(timeout=0.5) is None, "the live stream showed a call not durable"
        assert late.next_event(timeout=0.5) is None, "a replay showed a call not durable"
        assert poll.is_alive(), "the long-poll was answered with a call not durable"
        assert answered == {}, answered
    finally:
        gate.unlink()
    try:
        # the long-poll is answered by the first call alone; the next one waits for the second
        poll.join(10)
        assert poll.response.status == 200, poll.response
        assert [c["counter"] for c in poll.response.json["calls"]] == ["cua-nam-1"], poll.response
        poll2 = LongPoll(d, "cua-nam", poll.response.json["seq"], 10)
        poll2.start()
        for stream, name in ((live, "live stream"), (late, "replayed stream")):
            got = []
            while len(got) < 2:
                e = stream.next_event(timeout=6)
                assert e is not None, "%s: %d of 2 calls" % (name, len(got))
                got.append(e[1]["counter"])
            assert got == ["cua-nam-1", "cua-nam-2"], (name, got)
            assert stream.next_event(timeout=0.3) is None, "%s: a call announced twice" % name
        for t in callers:
            t.join(10)
        poll2.join(10)
        assert [c["counter"] for c in poll2.response.json["calls"]] == ["cua-nam-2"], poll2.response
    finally:
        late.close()
        live.close()
    assert all(answered[k].status == 200 for k in ("cua-nam-1", "cua-nam-2")), answered
    assert [c["counter"] for c in board(d)["calls"]] == ["cua-nam-2", "cua-nam-1"]
    assert d.get("/v1/tickets/" + codes[1]).json["status"] == "called"


# ---------------------------------------------------------------------------------------------
# Shutdown


def test_sigterm_ends_streams_and_long_polls_promptly(daemon):
    d = daemon
    streams = [open_stream(d), open_stream(d, "kim-lien"), open_stream(d, last_event_id=0)]
    polls = [LongPoll(d, "cua-nam", 0, 30), LongPoll(d, "kim-lien", 0, 30)]
    for p in polls:
        p.start()
    assert wait_for(lambda: metric(d, "hangdoi_event_streams") == 3)
    held(d, 5)  # the three streams and the two long-polls
    assert all(p.is_alive() for p in polls)

    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail("hangdoid still running 5 s after SIGTERM with displays connected")
    assert rc == 0, d.logs()[-2000:]
    for s in streams:
        assert s.wait_end(timeout=2), "a stream was not ended"
        s.close()
    for p in polls:
        p.join(2)
        assert not p.is_alive(), "a long-poll was left hanging"
        # a request in flight is finished: a held long-poll is answered with its board
        assert p.error is None, "a held long-poll got no answer: %r" % p.error
        assert p.response.status == 200 and p.response.json["calls"] == [], p.response


def test_sigterm_while_a_call_waits_for_the_disk(make_daemon, tmp_path, monkeypatch):
    # SIGTERM arrives while a call's sync is held: once the disk lets go, the call is finished
    # (its caller gets its answer, it stays done), the display's stream ends, the exit is clean.
    d, gate = held_disk_daemon(make_daemon, tmp_path, monkeypatch)
    code = walkins(d, 1)[0]
    s = open_stream(d)
    answer = {}

    def call():
        try:
            answer["r"] = d.counter("cua-nam-1", "call-next")
        except OSError as e:
            answer["error"] = e

    gate.write_text("")
    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    try:
        assert wait_for(lambda: d.get("/v1/counters/cua-nam-1", token=counter_token(
            "cua-nam-1")).json["current"] is not None, 5)
        d.proc.send_signal(signal.SIGTERM)
        # the daemon waits for the call in flight: it neither exits nor answers meanwhile
        with pytest.raises(subprocess.TimeoutExpired):
            d.proc.wait(0.5)
        assert answer == {}, answer
    finally:
        gate.unlink()
    try:
        rc = d.proc.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail("hangdoid still running 5 s after SIGTERM and the disk's sync")
    assert rc == 0, "exit status %s: %s" % (rc, d.logs()[-1500:])
    caller.join(5)
    assert "r" in answer and answer["r"].status == 200, answer
    assert s.wait_end(timeout=2)
    s.close()

    again = restart(make_daemon, d)
    t = again.get("/v1/tickets/" + code)
    assert t.status == 200 and t.json["status"] == "called", t
    assert [c["number"] for c in board(again)["calls"]] == [t.json["number"]]
