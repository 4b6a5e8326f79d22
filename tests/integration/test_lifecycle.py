"""The program's life (API.md section 1, and the "limits" of the configuration): a graceful stop
with requests in flight, refusals to start (bad configuration, unreadable database, busy port),
--check-config, keep-alive, connection limits and idle connections.
"""
import http.client
import json
import signal
import socket
import threading
import time

from conftest import (ADMIN, APP, WRAP, big_catalogue, booking_body, catalogue, cli, free_port,
                      held)

TUESDAY = "2026-11-24"


def config(**changes):
    c = json.loads(json.dumps(catalogue()))
    c.update(changes)
    return c


def write(tmp_path, cfg, name="hangdoi.json", port=None, database=None):
    cfg = json.loads(json.dumps(cfg))
    cfg["listen"] = "127.0.0.1:%d" % (port or free_port())
    if not cfg.get("database"):
        cfg["database"] = database or str(tmp_path / "hangdoi.db")
    path = tmp_path / name
    path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return path, cfg


def lines(stderr):
    """stderr's lines, without valgrind's own when it wraps the daemon."""
    return [l for l in stderr.splitlines() if l.strip() and not (WRAP and l.startswith("=="))]


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def assert_refused_to_start(r, *words):
    """Exit status 1 and exactly one line on stderr that names the problem."""
    err = lines(r.stderr)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert len(err) == 1, r.stderr
    for w in words:
        assert w in err[0], (w, err[0])
    return err[0]


def raw_request(method, path, body=None, token=None):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    data = b""
    if token:
        head += "Authorization: Bearer %s\r\n" % token
    if body is not None:
        data = json.dumps(body).encode()
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    return (head + "\r\n").encode() + data


def read_socket_response(sock):
    r = http.client.HTTPResponse(sock)
    r.begin()
    return r.status, r.read()


# ---------------------------------------------------------------------------------------------
# A graceful stop


def test_sigterm_answers_the_requests_in_flight_then_exits_0(make_daemon):
    d = make_daemon(config=big_catalogue())
    n = 24
    socks = []
    try:
        # connections already accepted (each has been answered once)
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            s.sendall(raw_request("GET", "/v1/health"))
            assert read_socket_response(s)[0] == 200
            socks.append(s)
        # a display's long-poll, held by the daemon
        poll = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        socks.append(poll)
        poll.sendall(raw_request("GET", "/v1/points/cua-nam/display?since=0&wait=30"))
        held(d, n + 1)  # the served connections and the long-poll
        # every booking is sent whole, then the signal comes
        for i, s in enumerate(socks[:n]):
            body = booking_body("0010000000%02d" % i, date=TUESDAY)
            s.sendall(raw_request("POST", "/v1/bookings", body, token=APP))
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        answers = []
        for s in socks[:n]:
            status, body = read_socket_response(s)
            answers.append((status, json.loads(body)))
        status, body = read_socket_response(poll)
        assert status == 200, body
        assert json.loads(body)["calls"] == []
        rc = d.proc.wait(30)
        stopped = time.time() - t0
    finally:
        for s in socks:
            s.close()
    assert rc == 0, d.logs()[-2000:]
    assert stopped < 15, stopped  # the long-poll did not hold the stop for its 30 seconds
    d.log.close()
    assert not port_open(d.port)
    # each was answered in full: booked, or refused as "shutting down, nothing changed"
    for status, body in answers:
        assert status in (201, 503), (status, body)
        if status == 503:
            assert body["error"]["code"] == "unavailable"
    booked = {b["code"]: b for status, b in answers if status == 201}
    assert booked, answers

    d2 = make_daemon(config=d.config)
    for code, b in booked.items():
        assert d2.get("/v1/bookings/" + code, token=APP).json == b
    for i, (status, _) in enumerate(answers):
        mine = d2.get("/v1/bookings?citizen_id=0010000000%02d" % i, token=APP).json["bookings"]
        assert len(mine) == (1 if status == 201 else 0), (i, status, mine)


def test_sigint_stops_it_too(make_daemon):
    d = make_daemon()
    assert d.book("002000000001").status == 201
    assert d.stop(signal.SIGINT) == 0, d.logs()[-2000:]
    assert not port_open(d.port)


# ---------------------------------------------------------------------------------------------
# Refusals to start


def test_a_bad_configuration_exits_1_with_one_line(tmp_path):
    db = tmp_path / "never.db"
    port = free_port()

    def bad(mutate, name):
        cfg = config()
        mutate(cfg)
        path, _ = write(tmp_path, cfg, name=name, port=port, database=str(db))
        return path

    cases = [
        (tmp_path / "missing.json", ["missing.json"]),
        (bad(lambda c: c["points"][0]["services"][1].update(prefix="b1"), "prefix.json"),
         ["points[0].services[1].prefix"]),
        (bad(lambda c: c.pop("citizen_id_secret"), "secret.json"), ["citizen_id_secret"]),
        (bad(lambda c: c.update(citizen_id_secret="short"), "short.json"), ["citizen_id_secret"]),
        (bad(lambda c: c["tokens"][1].update(role="root"), "role.json"), ["tokens[1].role"]),
        (bad(lambda c: c.update(points=[]), "points.json"), ["points"]),
        (bad(lambda c: c.update(horizon_days="seven"), "horizon.json"), ["horizon_days"]),
        (bad(lambda c: c["points"][1].update(id="Kim Lien"), "id.json"), ["points[1].id"]),
        (bad(lambda c: c.update(limits={"connection_timeout_seconds": 0}), "limits.json"),
         ["limits.connection_timeout_seconds"]),
        (bad(lambda c: c.update(webhooks=[{"url": "http://127.0.0.1:9/hook", "secret": "s",
                                           "events": ["ticket.sent"]}]), "webhooks.json"),
         ["webhooks[0].events[0]"]),
        # what this build does not do is refused, not ignored
        (bad(lambda c: c.update(database="postgresql://hangdoi@127.0.0.1/hangdoi"), "pg.json"),
         ["database", "SQLite"]),
    ]
    syntax = tmp_path / "syntax.json"
    syntax.write_text('{"listen": "127.0.0.1:%d", "points": [' % port)
    cases.append((syntax, ["JSON"]))
    empty = tmp_path / "empty.json"
    empty.write_text("")
    cases.append((empty, []))
    array = tmp_path / "array.json"
    array.write_text("[]")
    cases.append((array, []))
    for path, words in cases:
        r = cli("--config", path, "--test-clock", "2026-11-23T08:00:00+07:00", timeout=30)
        assert_refused_to_start(r, *words)
        # never half-started: nothing listens, no database was made
        assert not port_open(port), path
        assert not db.exists(), path


def test_check_config_lists_every_problem(tmp_path):
    cfg = config()
    cfg["points"] = json.loads(json.dumps(cfg["points"]))
    cfg["points"][0]["services"][1]["prefix"] = "b1"
    cfg["points"][1]["hours"] = {"mon": ["12:00-08:00"], "fri": ["07:30-12:00"]}
    cfg["points"][0]["closed"] = ["2026-02-30"]
    cfg["tokens"][0]["role"] = "boss"
    cfg["horizon_days"] = 0
    cfg["rate_limit"] = {"per_ip_per_second": -1}
    path, _ = write(tmp_path, cfg, database=str(tmp_path / "never.db"))
    r = cli("--config", path, "--check-config")
    assert r.returncode == 1, r
    err = lines(r.stderr)
    expected = ["points[0].services[1].prefix", "points[1].hours.mon[0]", "points[0].closed[0]",
                "tokens[0].role", "horizon_days", "rate_limit.per_ip_per_second"]
    for p in expected:
        assert [l for l in err if l.startswith(p + ":")], (p, err)
    # one line per problem, each "path: what is wrong"
    assert len(err) == len(expected), err
    for l in err:
        path_part, _, reason = l.partition(": ")
        assert path_part and " " not in path_part and reason, l
    assert not (tmp_path / "never.db").exists()

    # the contract's own example of a problem
    cfg = config()
    cfg["points"] = json.loads(json.dumps(cfg["points"]))
    cfg["points"][0]["services"][1]["prefix"] = "abc"
    path, _ = write(tmp_path, cfg, name="one.json")
    r = cli("--config", path, "--check-config")
    assert r.returncode == 1
    assert lines(r.stderr) == ["points[0].services[1].prefix: must be 1-2 capital letters"]

    # a good file: 0, nothing to say, nothing started
    path, good = write(tmp_path, config(), name="good.json", database=str(tmp_path / "good.db"))
    r = cli("--config", path, "--check-config", timeout=30)
    assert r.returncode == 0, r.stderr
    assert lines(r.stderr) == []
    assert not port_open(int(good["listen"].rsplit(":", 1)[1]))
    assert not (tmp_path / "good.db").exists()


def test_an_unusable_database_exits_1_with_one_line(tmp_path):
    (tmp_path / "a-directory").mkdir()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database\n" * 400)
    port = free_port()
    for i, db in enumerate([tmp_path / "no" / "such" / "dir" / "x.db", tmp_path / "a-directory",
                            garbage]):
        path, _ = write(tmp_path, config(), name="db%d.json" % i, port=port, database=str(db))
        r = cli("--config", path, timeout=30)
        assert_refused_to_start(r, str(db))
        assert not port_open(port)
    # the file that was there is left as it was
    assert garbage.read_bytes() == b"this is not a database\n" * 400


def test_a_busy_port_exits_1_with_one_line(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    port = holder.getsockname()[1]
    try:
        path, _ = write(tmp_path, config(), port=port)
        r = cli("--config", path, timeout=30)
        line = assert_refused_to_start(r, str(port))
        assert "in use" in line.lower(), line
        # the port's owner still has it
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn, _ = holder.accept()
        conn.close()
        c.close()
    finally:
        holder.close()


# ---------------------------------------------------------------------------------------------
# Connections


def test_keep_alive_across_every_kind_of_answer(daemon):
    d = daemon
    conn = d.connection()
    try:
        def req(method, path, body=None, token=APP):
            r = d.request(method, path, body, token=token, conn=conn)
            assert r.headers.get("connection", "").lower() != "close", (path, r.headers)
            return r

        assert req("GET", "/v1/health").status == 200
        sock = conn.sock
        b = req("POST", "/v1/bookings", booking_body("003000000001", date=TUESDAY))
        assert b.status == 201, b
        code = b.json["code"]
        assert req("PATCH", "/v1/bookings/" + code, {"date": TUESDAY, "start": "10:00"}).status == 200
        assert req("GET", "/v1/bookings/" + code).json["start"] == "10:00"
        assert req("POST", "/v1/bookings", booking_body("003000000001", date=TUESDAY)).status == 409
        assert req("GET", "/v1/bookings/" + code, token=None).status == 401
        assert req("GET", "/v1/bookings?point=cua-nam&date=" + TUESDAY).status == 403
        assert req("GET", "/v1/nowhere").status == 404
        assert req("PUT", "/v1/bookings/" + code, {"a": 1}).status == 405
        assert req("PUT", "/v1/admin/clock", {"now": "x"}, token=ADMIN).status == 400
        assert req("DELETE", "/v1/bookings/" + code).status == 200
        assert req("GET", "/v1/points/cua-nam/availability?service=cu-tru&date=" + TUESDAY
                   ).status == 200
        assert conn.sock is sock, "the connection was not kept"
    finally:
        conn.close()


def connect_served(port, attempts=50):
    """A new connection that has been answered once. Connections closed just before may still
    be counted by the daemon for a moment: try again briefly if this one is refused."""
    for _ in range(attempts):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(raw_request("GET", "/v1/health"))
            if read_socket_response(s)[0] == 200:
                return s
        except (OSError, http.client.HTTPException):
            pass
        s.close()
        time.sleep(0.1)
    raise AssertionError("no connection was served")


def refused(sock, wait):
    """True if the daemon closes SOCK without answering its request, False if it answers; None
    if neither happens within WAIT seconds (held)."""
    try:
        sock.sendall(raw_request("GET", "/v1/health"))
    except OSError:
        return True
    sock.settimeout(wait)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return None
    except OSError:
        return True
    return data == b""


def test_per_ip_connection_limit(make_daemon):
    d = make_daemon(config=config(limits={"per_ip_connections": 4}))
    held = [connect_served(d.port) for _ in range(4)]
    try:
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        assert refused(extra, 10) is True
        extra.close()
        # the earlier ones still work
        for s in held:
            s.sendall(raw_request("GET", "/v1/points"))
            assert read_socket_response(s)[0] == 200
        # one closes: a new one is served
        held.pop().close()
        held.append(connect_served(d.port))
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        assert refused(extra, 10) is True
        extra.close()
    finally:
        for s in held:
            s.close()


def test_connection_limit(make_daemon):
    d = make_daemon(config=config(limits={"max_connections": 16, "per_ip_connections": 0}))
    held = [connect_served(d.port) for _ in range(16)]
    extra = None
    try:
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        # the seventeenth is not served while sixteen are open (refused, or held back)
        state = refused(extra, 1.0)
        assert state in (True, None), state
        for s in held:
            s.sendall(raw_request("GET", "/v1/health"))
            assert read_socket_response(s)[0] == 200
        held.pop().close()
        if state is None:
            # held back: served once a place is free
            extra.settimeout(10)
            assert read_socket_response(extra)[0] == 200
        else:
            held.append(connect_served(d.port))
    finally:
        for s in held:
            s.close()
        if extra:
            extra.close()


def test_idle_connections_are_closed_after_the_timeout(make_daemon):
    d = make_daemon(config=config(limits={"connection_timeout_seconds": 2}))
    silent = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    idle = connect_served(d.port)  # answered once, then says nothing
    busy = connect_served(d.port)
    t0 = time.time()
    closed_after = {}

    def watch(name, s):
        s.settimeout(30)
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        closed_after[name] = (time.time() - t0, data)

    watchers = [threading.Thread(target=watch, args=("silent", silent)),
                threading.Thread(target=watch, args=("idle", idle))]
    for w in watchers:
        w.start()
    try:
        # a connection that keeps talking is kept past the timeout
        while time.time() - t0 < 3.5:
            busy.sendall(raw_request("GET", "/v1/health"))
            assert read_socket_response(busy)[0] == 200
            time.sleep(0.5)
        for w in watchers:
            w.join(30)
        for name in ("silent", "idle"):
            after, data = closed_after[name]
            assert data == b"", (name, data)
            assert 1.0 <= after < 20, (name, after)
        busy.sendall(raw_request("GET", "/v1/health"))
        assert read_socket_response(busy)[0] == 200
    finally:
        for s in (silent, idle, busy):
            s.close()


def test_command_line(tmp_path):
    r = cli("--help")
    assert r.returncode == 0, r.stderr
    assert "--config" in r.stdout and "--check-config" in r.stdout and "--test-clock" in r.stdout
    path, cfg = write(tmp_path, config())
    port = int(cfg["listen"].rsplit(":", 1)[1])
    for args in (["--config", path, "--test-clock", "tomorrow"],
                 ["--config", path, "--test-clock", "2026-11-23T08:00:00"],
                 ["--config", path, "--test-clock", "1970-01-01T00:00:00Z"],
                 ["--config", path, "--test-clock", "9999-06-01T00:00:00Z"],
                 ["--config", path, "--no-such-option"],
                 []):
        r = cli(*args, timeout=30)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert lines(r.stderr), args
        assert not port_open(port)
