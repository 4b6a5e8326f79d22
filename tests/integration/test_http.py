"""The contract's common rules (API.md section 3): routing, methods, tokens and roles, bodies,
the error shape, rate limiting, keep-alive and clients that stop halfway."""
import json
import socket
import time

from conftest import (ADMIN, APP, MONDAY, assert_error, booking_body, catalogue, counter_token,
                      held, kiosk_token)

BOOKING = booking_body("001234567890")


def test_unknown_route_is_a_json_404(daemon):
    for method, path in [("GET", "/nowhere"), ("GET", "/v1/bookingsx"), ("GET", "/v2/health"),
                         ("POST", "/v1/nothing"), ("GET", "/")]:
        r = daemon.request(method, path, token=ADMIN)
        assert_error(r, 404, "not_found", None)


def test_wrong_method_is_405_with_allow(daemon):
    r = daemon.request("PUT", "/v1/health")
    assert_error(r, 405, "method_not_allowed")
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert "GET" in allowed and "PUT" not in allowed, r.headers
    # HEAD is answered wherever GET is, and said so
    assert "HEAD" in allowed, r.headers
    assert daemon.request("HEAD", "/v1/health").status == 200

    r = daemon.request("DELETE", "/v1/points", token=ADMIN)
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]

    b = daemon.book("001234567890")
    assert b.status == 201, b
    r = daemon.request("PUT", "/v1/bookings/" + b.json["code"], BOOKING, token=APP)
    assert_error(r, 405, "method_not_allowed")
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed, r.headers
    assert "PUT" not in allowed


def test_no_token_and_unknown_token_are_401(daemon):
    r = daemon.post("/v1/bookings", BOOKING)
    assert_error(r, 401, "unauthorized")
    r = daemon.post("/v1/bookings", BOOKING, token="not-a-token")
    assert_error(r, 401, "unauthorized")
    r = daemon.post("/v1/bookings", BOOKING, headers={"Authorization": "Basic YXBwOmFwcA=="})
    assert_error(r, 401, "unauthorized")
    r = daemon.get("/v1/bookings?citizen_id=001234567890")
    assert_error(r, 401, "unauthorized")
    r = daemon.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=APP + "x")
    assert_error(r, 401, "unauthorized")
    # nothing was booked by the refused requests
    assert daemon.get("/v1/bookings?citizen_id=001234567890", token=APP).json["bookings"] == []


def test_wrong_role_is_403(daemon):
    r = daemon.post("/v1/bookings", BOOKING, token=kiosk_token("cua-nam"))
    assert_error(r, 403, "forbidden")
    r = daemon.post("/v1/bookings", BOOKING, token=counter_token("cua-nam-1"))
    assert_error(r, 403, "forbidden")
    # the day listing is admin-only
    r = daemon.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=APP)
    assert_error(r, 403, "forbidden")
    assert daemon.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=ADMIN).status == 200
    # the clock is admin-only
    r = daemon.request("PUT", "/v1/admin/clock", {"now": "2026-11-23T09:00:00+07:00"}, token=APP)
    assert_error(r, 403, "forbidden")
    # and nothing was booked by a refused request
    assert daemon.get("/v1/bookings?citizen_id=001234567890", token=APP).json["bookings"] == []


def test_body_without_json_content_type_is_415(daemon):
    data = json.dumps(BOOKING).encode()
    r = daemon.post("/v1/bookings", raw=data, token=APP, headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    r = daemon.post("/v1/bookings", raw=data, token=APP,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported_media_type")
    r = daemon.post("/v1/bookings", raw=data, token=APP)  # no Content-Type at all
    assert_error(r, 415, "unsupported_media_type")
    # a charset parameter is still JSON
    r = daemon.post("/v1/bookings", raw=data, token=APP,
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status == 201, r


def test_body_over_16_kib_is_413(daemon):
    big = dict(BOOKING, name="x" * 17000)
    r = daemon.post("/v1/bookings", big, token=APP)
    assert_error(r, 413, "payload_too_large")
    # exactly 16 KiB is not over the limit (unknown fields are ignored)
    body = dict(BOOKING, padding="")
    size = len(json.dumps(body).encode())
    body["padding"] = "p" * (16384 - size)
    data = json.dumps(body).encode()
    assert len(data) == 16384
    r = daemon.post("/v1/bookings", raw=data, token=APP, headers={"Content-Type": "application/json"})
    assert r.status == 201, r
    # one byte more is
    body2 = dict(body, citizen_id="001234567891", padding=body["padding"] + "p")
    data = json.dumps(body2).encode()
    assert len(data) == 16385
    r = daemon.post("/v1/bookings", raw=data, token=APP, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    # the refused one booked nothing
    assert daemon.get("/v1/bookings?citizen_id=001234567891", token=APP).json["bookings"] == []


def test_invalid_json_is_400(daemon):
    ct = {"Content-Type": "application/json"}
    for raw in [b"{", b"not json", b"[]", b'[{"point":"cua-nam"}]', b'"a string"', b"42",
                b"null", b'{"point": "cua-nam",}', b"\xff\xfe{}"]:
        r = daemon.post("/v1/bookings", raw=raw, token=APP, headers=ct)
        assert_error(r, 400, "invalid_json")
    # the same rule on another write endpoint
    b = daemon.book("001234567890")
    assert b.status == 201, b
    r = daemon.request("PATCH", "/v1/bookings/" + b.json["code"], raw=b"[1,2]", token=APP,
                       headers=ct)
    assert_error(r, 400, "invalid_json")


def test_error_bodies_are_never_empty_or_html(daemon):
    """Each kind of error across the API has the one JSON shape."""
    cases = [
        daemon.get("/v1/tickets/NOSUCHCODE1"),
        daemon.get("/v1/points/nowhere"),
        daemon.get("/v1/points/cua-nam/availability"),
        daemon.request("DELETE", "/v1/bookings/NOSUCHCODE1", token=APP),
        daemon.request("POST", "/v1/health"),
        daemon.book("12"),
    ]
    for r in cases:
        assert r.status >= 400, r
        assert r.raw, r
        assert r.headers["content-type"].startswith("application/json"), r.headers
        assert "<html" not in r.raw.lower()
        err = r.json["error"]
        assert isinstance(err["code"], str) and isinstance(err["message"], str)
        assert set(err) <= {"code", "message", "field"}
    assert cases[2].json["error"]["field"] == "service"
    assert cases[5].json["error"]["field"] == "citizen_id"


def test_an_error_quoting_bytes_that_are_not_utf8_is_still_json(daemon):
    """The message of a 404 quotes the id asked for: an id of any bytes, or one long enough to
    be cut inside a character, still gets the JSON error, as valid UTF-8."""
    long_id = "a" + "é" * 200          # cut at 256 bytes in the middle of an "é"
    cases = [
        daemon.get("/v1/points/%ff"),
        daemon.get("/v1/tickets/%ff%fe"),
        daemon.get("/v1/points/a" + "%c3%a9" * 150),
        daemon.post("/v1/bookings", booking_body("001234567890", point=long_id), token=APP),
        daemon.post("/v1/points/cua-nam/tickets", {"service": long_id},
                    token=kiosk_token("cua-nam")),
    ]
    for r in cases:
        assert r.status == 404, r
        assert r.headers["content-type"].startswith("application/json"), r.headers
        assert r.json["error"]["code"] == "not_found", r
        assert isinstance(r.json["error"]["message"], str), r
        # read_response decodes with replacement: a stray byte would show as U+FFFD
        assert "\ufffd" not in r.raw, r.raw
    for r in cases[:2]:
        assert "?" in r.json["error"]["message"], r   # the byte quoted as '?'
    # such bytes in a query parameter make it malformed (API.md: 400), still answered in JSON
    r = daemon.get("/v1/points/cua-nam/availability?service=%ff")
    assert (r.status, r.json["error"]["code"], r.json["error"]["field"]) == (
        400, "invalid_field", "service"), r
    assert "\ufffd" not in r.raw, r.raw
    # a booking for no point made nothing
    assert daemon.get("/v1/bookings?citizen_id=001234567890", token=APP).json["bookings"] == []


def limited_config():
    cfg = catalogue()
    cfg["rate_limit"] = {"per_ip_per_second": 1, "burst": 2}
    return cfg


def test_rate_limit_applies_to_requests_without_a_token(make_daemon):
    d = make_daemon(config=limited_config())
    got = [d.get("/v1/points") for _ in range(10)]
    limited = [r for r in got if r.status == 429]
    assert limited, got
    assert all(r.status in (200, 429) for r in got), got
    # at most the burst (plus one refill) got through
    assert sum(r.status == 200 for r in got) <= 3, got
    for r in limited:
        assert_error(r, 429, "rate_limited")
        retry = r.headers.get("retry-after")
        assert retry is not None and retry.isdigit() and int(retry) >= 1, r.headers
    # an unknown token is no token: it is limited too
    r = d.get("/v1/points", token="not-a-token")
    assert r.status in (401, 429), r
    assert d.get("/v1/points", token="not-a-token").status == 429


def test_rate_limit_spares_authenticated_clients(make_daemon):
    d = make_daemon(config=limited_config())
    # use up this IP's allowance without a token
    statuses = [d.get("/v1/points").status for _ in range(6)]
    assert 429 in statuses, statuses
    # clients with a valid token keep working from the same IP
    for _ in range(15):
        r = d.get("/v1/points", token=APP)
        assert r.status == 200, r
    for i in range(6):
        r = d.book("0012345678%02d" % i, start="10:00" if i < 3 else "10:30")
        assert r.status == 201, r
    for _ in range(5):
        assert d.get("/v1/bookings?point=cua-nam&date=" + MONDAY, token=ADMIN).status == 200
    # the allowance comes back with time
    time.sleep(1.2)
    assert d.get("/v1/points").status == 200


def test_keep_alive_get(daemon):
    conn = daemon.connection()
    try:
        r1 = daemon.request("GET", "/v1/health", conn=conn)
        assert r1.status == 200, r1
        assert r1.headers.get("connection", "").lower() != "close", r1.headers
        sock = conn.sock
        assert sock is not None, "the client closed the connection after the first answer"
        r2 = daemon.request("GET", "/v1/points", conn=conn)
        assert r2.status == 200, r2
        assert r2.headers.get("connection", "").lower() != "close", r2.headers
        assert conn.sock is sock, "the second request did not use the same connection"
    finally:
        conn.close()


def test_keep_alive_post_with_body(daemon):
    conn = daemon.connection()
    try:
        r1 = daemon.request("POST", "/v1/bookings", BOOKING, token=APP, conn=conn)
        assert r1.status == 201, r1
        assert r1.headers.get("connection", "").lower() != "close", r1.headers
        sock = conn.sock
        assert sock is not None
        body = dict(BOOKING, citizen_id="001234567891")
        r2 = daemon.request("POST", "/v1/bookings", body, token=APP, conn=conn)
        assert r2.status == 201, r2
        assert r2.headers.get("connection", "").lower() != "close", r2.headers
        assert conn.sock is sock
        # an error answer to a request with a body keeps the connection too
        r3 = daemon.request("POST", "/v1/bookings", dict(BOOKING, citizen_id="1"), token=APP,
                            conn=conn)
        assert r3.status == 400, r3
        r4 = daemon.request("GET", "/v1/bookings/" + r2.json["code"], token=APP, conn=conn)
        assert r4.status == 200 and r4.json["number"] == "A002", r4
        assert conn.sock is sock
    finally:
        conn.close()


def test_a_client_that_stops_halfway_harms_nobody(daemon):
    stalled = []
    try:
        # half a request line and headers
        s1 = socket.create_connection(("127.0.0.1", daemon.port))
        s1.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        stalled.append(s1)
        # whole headers, half the promised body
        s2 = socket.create_connection(("127.0.0.1", daemon.port))
        s2.sendall(b"POST /v1/bookings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Authorization: Bearer " + APP.encode() + b"\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"point\":")
        stalled.append(s2)
        # connected, nothing sent
        stalled.append(socket.create_connection(("127.0.0.1", daemon.port)))
        held(daemon, 3)
        # answered while they stall, not once the daemon gives up on them (30 s)
        t0 = time.time()
        conn = daemon.connection(timeout=5)
        r = daemon.get("/v1/health", conn=conn)
        assert r.status == 200, r
        r = daemon.book("001234567890")
        assert r.status == 201, r
        conn.close()
        assert time.time() - t0 < 15
    finally:
        for s in stalled:
            s.close()
    assert daemon.get("/v1/health").status == 200
