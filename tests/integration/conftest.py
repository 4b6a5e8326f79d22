"""The harness: a real hangdoid on a free loopback port, a temporary SQLite file, real HTTP.

HANGDOID names the binary (default build/hangdoid); HANGDOID_WRAP prefixes the command (for
valgrind). Every test's daemon must stop cleanly on SIGTERM with exit status 0.
"""
import copy
import datetime
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("HANGDOID", os.path.join(ROOT, "build", "hangdoid"))
WRAP = shlex.split(os.environ.get("HANGDOID_WRAP", ""))
START_TIMEOUT = 60 if WRAP else 10

# The test clock starts on Monday 2026-11-23 at 08:00 in Hanoi.
MONDAY = "2026-11-23"
START = "2026-11-23T08:00:00+07:00"

APP = "app-token-0001"
ADMIN = "admin-token-0001"
SECRET = "test-secret-0123456789abcdef0123456789"

WEEKDAY_HOURS = ["07:30-12:00", "13:30-17:00"]


def kiosk_token(point):
    return "kiosk-%s-token" % point


def counter_token(counter):
    return "counter-%s-token" % counter


def catalogue():
    """Two points; cua-nam is closed on Thursday 2026-11-26."""
    hours = {d: WEEKDAY_HOURS for d in ("mon", "tue", "wed", "thu", "fri")}
    hours.update({"sat": ["07:30-11:30"], "sun": []})
    points = [
        {
            "id": "cua-nam", "name": "Phường Cửa Nam", "address": "Số 1 Phố Hàng Bông",
            "hours": hours, "closed": ["2026-11-26"],
            "services": [
                {"id": "cu-tru", "name": "Đăng ký thường trú", "prefix": "A", "slot_minutes": 30,
                 "slot_capacity": 3, "walkin_daily_limit": 5, "avg_service_minutes": 12,
                 "documents": ["Tờ khai CT01"], "fee_vnd": 20000},
                {"id": "khai-sinh", "name": "Đăng ký khai sinh", "prefix": "B", "slot_minutes": 15,
                 "slot_capacity": 2, "walkin_daily_limit": 100, "avg_service_minutes": 10},
            ],
            "counters": [
                {"id": "cua-nam-1", "name": "Quầy 1", "services": ["cu-tru", "khai-sinh"]},
                {"id": "cua-nam-2", "name": "Quầy 2", "services": ["cu-tru"]},
                {"id": "cua-nam-3", "name": "Quầy 3", "services": ["khai-sinh"]},
            ],
        },
        {
            "id": "kim-lien", "name": "Phường Kim Liên", "address": "Số 2 Phố Lương Định Của",
            "hours": hours,
            "services": [
                {"id": "cu-tru", "name": "Đăng ký thường trú", "prefix": "A", "slot_minutes": 30,
                 "slot_capacity": 3, "walkin_daily_limit": 50, "avg_service_minutes": 15},
            ],
            "counters": [{"id": "kim-lien-1", "name": "Quầy 1", "services": ["cu-tru"]}],
        },
    ]
    tokens = [{"name": "app", "role": "app", "token": APP},
              {"name": "ops", "role": "admin", "token": ADMIN}]
    for p in points:
        tokens.append({"name": "kiosk-" + p["id"], "role": "kiosk", "point": p["id"],
                       "token": kiosk_token(p["id"])})
        for c in p["counters"]:
            tokens.append({"name": "quay-" + c["id"], "role": "counter", "counter": c["id"],
                           "token": counter_token(c["id"])})
    return {
        "listen": "127.0.0.1:0", "database": "", "utc_offset": "+07:00",
        "citizen_id_secret": SECRET,
        "rate_limit": {"per_ip_per_second": 0, "burst": 0},
        "tokens": tokens, "points": points,
    }


def big_catalogue(**changes):
    """The test catalogue with room for many bookings in every slot and many walk-ins a day;
    CHANGES replace top-level fields."""
    c = catalogue()
    for p in c["points"]:
        for s in p["services"]:
            s["slot_capacity"] = 1000
            s["walkin_daily_limit"] = 1000
    c["max_active_bookings_per_citizen"] = 3
    c.update(changes)
    return c


def booking_body(citizen, date=MONDAY, start="09:00", point="cua-nam", service="cu-tru", **extra):
    """The body of POST /v1/bookings."""
    body = {"point": point, "service": service, "date": date, "start": start,
            "citizen_id": citizen}
    body.update(extra)
    return body


def T(hms, date=MONDAY):
    """The instant DATE HH:MM[:SS] in +07:00, as the API writes it."""
    if len(hms) == 5:
        hms += ":00"
    return "%sT%s+07:00" % (date, hms)


def instant(s):
    return datetime.datetime.fromisoformat(s)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        """The contract's error code, or None."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def read_response(conn):
    """The answer to the request just sent on CONN, as a Response."""
    r = conn.getresponse()
    payload = r.read().decode("utf-8", errors="replace")
    return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)


# Errors that no single field causes: their bodies name none.
FIELDLESS = {"invalid_json", "unauthorized", "forbidden", "method_not_allowed",
             "payload_too_large", "unsupported_media_type", "rate_limited", "invalid_config"}
AS_THE_CODE_SAYS = object()


def assert_error(r, status, code, field=AS_THE_CODE_SAYS):
    """The contract's one error shape, as application/json: {"error": {"code", "message"[,
    "field"]}} with STATUS and CODE (a reload's invalid_config also lists its "problems").
    FIELD is the field named at fault, or None for none; left out, invalid_field must name one,
    the FIELDLESS codes none, and the others may."""
    assert r.status == status, r
    assert r.headers.get("content-type", "").split(";")[0].strip() == "application/json", r.headers
    assert isinstance(r.json, dict) and set(r.json) == {"error"}, r
    err = r.json["error"]
    allowed = {"code", "message", "field"} | ({"problems"} if code == "invalid_config" else set())
    assert isinstance(err, dict) and set(err) <= allowed, r
    assert err.get("code") == code, r
    assert isinstance(err.get("message"), str) and err["message"], r
    if field is AS_THE_CODE_SAYS:
        if code == "invalid_field":
            assert isinstance(err.get("field"), str) and err["field"], r
        elif code in FIELDLESS:
            assert "field" not in err, r
        elif "field" in err:
            assert isinstance(err["field"], str) and err["field"], r
    elif field is None:
        assert "field" not in err, r
    else:
        assert err.get("field") == field, r


class Daemon:
    """PREEXEC_FN, if given, runs in the child just before the daemon is executed (limits)."""

    def __init__(self, tmp_path, config=None, clock=START, extra_args=(), preexec_fn=None):
        self.dir = tmp_path
        self.config = copy.deepcopy(config) if config else catalogue()
        self.port = free_port()
        self.config["listen"] = "127.0.0.1:%d" % self.port
        if not self.config.get("database"):
            self.config["database"] = str(tmp_path / "hangdoi.db")
        self.config_path = tmp_path / "hangdoi.json"
        self.clock = clock
        self.extra_args = list(extra_args)
        self.preexec_fn = preexec_fn
        self.proc = None
        self.log_path = tmp_path / "daemon.log"
        self.write_config()

    def write_config(self, config=None):
        if config is not None:
            self.config = config
        self.config_path.write_text(json.dumps(self.config, ensure_ascii=False), encoding="utf-8")

    def start(self):
        args = WRAP + [BIN, "--config", str(self.config_path)]
        if self.clock:
            args += ["--test-clock", self.clock]
        args += self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log,
                                     preexec_fn=self.preexec_fn)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hangdoid exited %d: %s" % (self.proc.returncode, self.logs()))
            try:
                if self.get("/v1/health").status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("hangdoid did not answer: " + self.logs())

    def logs(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=None, headers=None, raw=None, conn=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            h.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or self.connection()
        try:
            c.request(method, path, body=data, headers=h)
            return read_response(c)
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    # The contract's clients.
    def book(self, citizen, **kw):
        """POST /v1/bookings of booking_body(CITIZEN, **KW)."""
        return self.post("/v1/bookings", booking_body(citizen, **kw), token=APP)

    def set_clock(self, instant):
        r = self.request("PUT", "/v1/admin/clock", {"now": instant}, token=ADMIN)
        assert r.status == 200, r
        return r

    def counter(self, counter, action, body=None):
        return self.post("/v1/counters/%s/%s" % (counter, action), body, token=counter_token(counter))

    def checkin(self, code, point="cua-nam"):
        return self.post("/v1/points/%s/checkin" % point, {"code": code}, token=kiosk_token(point))

    def walkin(self, service="cu-tru", point="cua-nam", **extra):
        body = {"service": service}
        body.update(extra)
        return self.post("/v1/points/%s/tickets" % point, body, token=kiosk_token(point))


def public_ticket(d, code):
    """GET /v1/tickets/{code}: the public view of a ticket."""
    r = d.get("/v1/tickets/" + code)
    assert r.status == 200, r
    return r.json


def walked_in(d, service="cu-tru", point="cua-nam", **kw):
    """A walk-in issued at POINT's kiosk: the ticket as the kiosk got it."""
    r = d.walkin(service=service, point=point, **kw)
    assert r.status == 201, r
    return r.json


def booked(d, citizen_id, start, **kw):
    """A booking of CITIZEN_ID at START (booking_body's fields otherwise): the ticket made."""
    r = d.book(citizen_id, start=start, **kw)
    assert r.status == 201, r
    return r.json


def call_next(d, counter):
    """The ticket COUNTER calls next (someone must be waiting)."""
    r = d.counter(counter, "call-next")
    assert r.status == 200, r
    return r.json["ticket"]


def call_written(d, counter):
    """Whether COUNTER's call is in the database, durable or not yet (its console shows it)."""
    r = d.get("/v1/counters/" + counter, token=counter_token(counter))
    return r.status == 200 and r.json["current"] is not None


def cli(*args, timeout=60, env=None):
    """hangdoid run with ARGS to its end (under HANGDOID_WRAP too)."""
    return subprocess.run(WRAP + [BIN] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def wait_for(pred, timeout=5.0, step=0.05):
    """PRED's first true value within TIMEOUT seconds, else its last value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}, and {family: type}, and the set of HELP'd families."""
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample: %r" % line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types, helps


def metrics(d):
    """GET /metrics, parsed: (samples, types, helps) as parse_metrics gives them."""
    r = d.get("/metrics", token=ADMIN)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    return parse_metrics(r.raw)


def metric(d, name, **labels):
    """One sample's value from GET /metrics."""
    samples = metrics(d)[0]
    key = (name, frozenset(labels.items()))
    assert key in samples, "no %s%s in /metrics" % (name, labels or "")
    return samples[key]


# A shim for preload_daemon: the daemon's fdatasync, held or failed by files (each variable
# optional):
# - while $SYNC_FAILS exists, it fails with EIO;
# - while $SYNC_GATE exists, the Nth waits (30 s at most) unless N <= the number written in
#   $SYNC_GATE.release; each writes its N to $SYNC_GATE.n as it begins.
SYNC_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int fdatasync(int fd) {
    static int (*real)(int);
    static int count;
    const char *fails = getenv("SYNC_FAILS"), *gate = getenv("SYNC_GATE");
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (fails && access(fails, F_OK) == 0) { errno = EIO; return -1; }
    if (gate) {
        char released[512], began[512];
        int me = __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
        snprintf(released, sizeof released, "%s.release", gate);
        snprintf(began, sizeof began, "%s.n", gate);
        FILE *f = fopen(began, "w");
        if (f) { fprintf(f, "%d\n", me); fclose(f); }
        for (int i = 0; i < 3000 && access(gate, F_OK) == 0; i++) {
            int upto = 0;
            if ((f = fopen(released, "r"))) { if (fscanf(f, "%d", &upto) != 1) upto = 0; fclose(f); }
            if (me <= upto) break;
            usleep(10000);
        }
    }
    return real(fd);
}
"""


def preload_daemon(make_daemon, tmp_path, monkeypatch, shim_c, env):
    """A daemon started with the C source SHIM_C built and LD_PRELOADed, and ENV (a dict) set
    for it: a shim wraps a system call to hold it, slow it or log it."""
    src, lib = tmp_path / "shim.c", tmp_path / "shim.so"
    src.write_text(shim_c)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    monkeypatch.setenv("LD_PRELOAD", str(lib))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # an AddressSanitizer build wants its runtime first in the list; the shim only wraps a call
    asan = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (asan + ":" if asan else "") + "verify_asan_link_order=0")
    d = make_daemon()
    monkeypatch.delenv("LD_PRELOAD")
    return d


def restart(make_daemon, d, **kw):
    """A new daemon on the same database file (and the same catalogue); KW as make_daemon's."""
    again = make_daemon(config=d.config, **kw)
    assert again.config["database"] == d.config["database"]
    return again


def held(d, connections):
    """Waits until the daemon has CONNECTIONS open connections besides the one that asks.
    Clients that send their requests whole before this is called (streams, long-polls) have
    them there to be read as soon as the daemon accepts the connection; the second look gives
    the daemon one more turn of its loop to have read them (and so to hold a long-poll)."""
    want = connections + 1
    assert wait_for(lambda: metric(d, "hangdoi_connections") == want), \
        "hangdoi_connections %s, not %d" % (metric(d, "hangdoi_connections"), want)
    assert metric(d, "hangdoi_connections") == want


@pytest.fixture
def make_daemon(tmp_path):
    """Starts daemons on demand; each must exit 0 on SIGTERM at the end of the test."""
    started = []

    def make(config=None, clock=START, subdir=None, **kw):
        d = tmp_path / (subdir or "d%d" % len(started))
        d.mkdir(exist_ok=True)
        daemon = Daemon(d, config=config, clock=clock, **kw)
        started.append(daemon)
        return daemon.start()

    yield make
    for d in started:
        if d.proc and d.proc.poll() is None:
            rc = d.stop()
            assert rc == 0, "hangdoid exited %s on SIGTERM: %s" % (rc, d.logs()[-2000:])


@pytest.fixture
def daemon(make_daemon):
    return make_daemon()
