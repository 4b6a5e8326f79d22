"""The harness: a real hangdoid on a free loopback port, a temporary SQLite file, real HTTP.

HANGDOID names the binary (default build/hangdoid); HANGDOID_WRAP prefixes the command (for
valgrind). Every test's daemon must stop cleanly on SIGTERM with exit status 0.
"""
import copy
import http.client
import json
import os
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


class Daemon:
    def __init__(self, tmp_path, config=None, clock=START, extra_args=()):
        self.dir = tmp_path
        self.config = copy.deepcopy(config) if config else catalogue()
        self.port = free_port()
        self.config["listen"] = "127.0.0.1:%d" % self.port
        if not self.config.get("database"):
            self.config["database"] = str(tmp_path / "hangdoi.db")
        self.config_path = tmp_path / "hangdoi.json"
        self.clock = clock
        self.extra_args = list(extra_args)
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
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hangdoid exited %d: %s" % (self.proc.returncode, self.logs()))
            try:
                if self.get("/v1/health").status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
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
            r = c.getresponse()
            payload = r.read().decode("utf-8", errors="replace")
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    # The contract's clients.
    def book(self, citizen, date=MONDAY, start="09:00", point="cua-nam", service="cu-tru", **extra):
        body = {"point": point, "service": service, "date": date, "start": start,
                "citizen_id": citizen}
        body.update(extra)
        return self.post("/v1/bookings", body, token=APP)

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
