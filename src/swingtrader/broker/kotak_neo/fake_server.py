"""A fake Kotak Neo server: a real HTTP server (stdlib, threaded, 127.0.0.1) speaking the wire contract of
KOTAK_NEO_API.md on top of a `Broker` that plays the exchange, so orders really fill.

It serves both the login host (`/login/1.0/tradeApiLogin`, `/login/1.0/tradeApiValidate`) and the per-user
`baseUrl` (itself). It checks what Kotak checks: the consumer key in `Authorization`, the TOTP (pyotp, against
the clock it is given, each code once), the MPIN, and `Sid` + `Auth` of a live trade session. Trade tokens are
JWT-shaped with an `exp` at the next IST midnight; a new login supersedes the old session. Faults come from a
`FaultSpec` (see `faults.py`). `record` writes one JSON line per request with every secret masked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp

from swingtrader.broker.base import Broker
from swingtrader.broker.kotak_neo.auth import KotakCredentials, totp_window
from swingtrader.broker.kotak_neo.fake_exchange import DEFAULT_UNIVERSE, ExchangeDesk, Universe, WireError
from swingtrader.broker.kotak_neo.faults import CannedReply, FaultPlan, FaultSpec
from swingtrader.broker.kotak_neo.wire import outbound as tx
from swingtrader.clock import IST, Clock, ist_date

_ENDPOINTS = {(ep.method, f"/{ep.path}"): ep for ep in (
    tx.LOGIN, tx.VALIDATE, tx.PLACE, tx.MODIFY, tx.CANCEL, tx.ORDERS, tx.HISTORY, tx.TRADES, tx.POSITIONS,
    tx.HOLDINGS, tx.LIMITS, tx.MASTER,
)}
_QUOTES_PREFIX = f"/{tx.QUOTES.path}/"
_ORDER_PREFIX = f"/{tx.ORDERS.path}/"
_SDK_309_POSITIONS = "/portfolio/v2/positions"  # where the SDK 3.0.9 (the contract tests' client) reads positions
_SESSION_TOKEN_INVALID = {"stCode": 100022, "errMsg": "invalid session token", "stat": "Not_Ok"}
_MASKED_FIELDS = frozenset({"mobileNumber", "ucc", "totp", "mpin"})
_INVALID_JWT = {"code": "900901", "message": "Invalid Credentials",
                "description": "Invalid JWT token. Make sure you have provided the correct security credentials"}
_INVALID_SESSION = {"message": "Invalid session, please re-login to continue", "stat": "Not_Ok"}


@dataclass
class Reply:
    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    fault: str | None = None

    def payload(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


@dataclass
class _Session:
    token: str
    exp: datetime
    kill_at: datetime | None
    dead: bool = False
    counted: bool = False


class FakeKotakServer:
    """The fake: `start()` binds 127.0.0.1 (port 0 picks a free port) and serves in a thread; `url` is the base.

    `credentials` are the only ones it accepts; `fault_counts()` reports injected faults by kind."""

    def __init__(
        self,
        exchange: Broker,
        clock: Clock,
        credentials: KotakCredentials,
        *,
        faults: FaultSpec | None = None,
        record: Path | None = None,
        symbols: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.credentials = credentials
        self._clock = clock
        self._faults = FaultPlan(faults or FaultSpec())
        self._desk = ExchangeDesk(exchange, Universe(DEFAULT_UNIVERSE + tuple(symbols)), clock, self._faults)
        self._record = record.open("a", encoding="utf-8") if record else None
        self._secrets = set(credentials.secrets())
        self._key = secrets.token_bytes(32)
        self._views: dict[str, str] = {}
        self._sessions: dict[str, _Session] = {}
        self._used_totp: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self._http = _Server((host, port), _Handler)
        self._http.fake = self
        self.url = f"http://{host}:{self._http.server_address[1]}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="kotak-fake", daemon=True
        )

    # ---- control ------------------------------------------------------------------------------------------
    def start(self) -> FakeKotakServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._record:
            self._record.close()

    def __enter__(self) -> FakeKotakServer:
        return self if self._thread.is_alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fault_counts(self) -> dict[str, int]:
        return self._faults.counts()

    def expire_now(self) -> None:
        """Kill every live trade session now (counted as an injected `expire` when a request meets it)."""
        with self._lock:
            for s in self._sessions.values():
                s.kill_at = self._clock.now()

    def drop_next(self, op: str) -> None:
        """Carry out the next `op` request (e.g. `place_order`), then drop its reply."""
        self._faults.drop_next(op)

    def rewrite_tag(self, order_id: str, *, cancel: bool) -> None:
        """Rewrite an order's `GuiOrdId` as a cancel (`<tag>-<epoch>`) or a modify (`...-ADMINAPI`) made by hand
        in Kotak's app does."""
        self._desk.rewrite_tag(order_id, cancel=cancel)

    def refuse_quotes(self, *symbols: str) -> None:
        """The quote service no longer knows these instruments (a quote batch naming one is refused whole)."""
        self._desk.refuse_quotes(symbols)

    def serve_next(self, op: str, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Answer the next `op` request (`login`, `validate`, `orders`, `holdings`, ...) with this reply."""
        self._faults.serve_next(op, CannedReply(status, body, content_type))

    # ---- one request --------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        """Answer one HTTP request; the reply may be `drop` (close the connection without answering)."""
        if self._faults.spec.latency_ms:
            time.sleep(self._faults.spec.latency_ms / 1000)
            self._faults.record("latency")
        path = unquote(urlsplit(target).path)
        h = {k.lower(): v for k, v in headers}
        fields: dict[str, Any] | None = None
        try:
            ep, fields = self._route(method, path), _fields(h, body)
            reply = self._dispatch(ep, path, h, fields)
        except WireError as exc:
            reply = Reply(exc.status, {"stat": "Not_Ok", "stCode": exc.code, "errMsg": str(exc)})
        self._write_record(method, path, headers, h, fields, reply)
        return reply

    def _route(self, method: str, path: str) -> tx.Endpoint | None:
        if method == "GET" and path.startswith(_QUOTES_PREFIX):
            return tx.QUOTES
        if method == "GET" and path.startswith("/scripmaster/"):
            return None
        if method == "GET" and path.startswith(_ORDER_PREFIX):
            return tx.ORDERS
        if method == "GET" and path == _SDK_309_POSITIONS:
            return tx.POSITIONS
        ep = _ENDPOINTS.get((method, path))
        if ep is None:
            raise WireError(f"no route {method} {path}", code=404, status=404)
        return ep

    def _dispatch(self, ep: tx.Endpoint | None, path: str, h: dict[str, str], f: dict[str, Any] | None) -> Reply:
        if ep is None:
            return Reply(200, raw=self._desk.universe.csv().encode(), content_type="text/csv")
        canned = self._faults.take_canned(ep.op)
        if canned is not None:
            self._faults.record("canned")
            return Reply(canned.status, raw=canned.body, content_type=canned.content_type, fault="canned")
        if ep.consumer and h.get("authorization") != _reveal(self.credentials.consumer_key):
            return Reply(401, _INVALID_JWT)
        if ep is tx.LOGIN:
            return self._login(h, f or {})
        if ep is tx.VALIDATE:
            return self._validate(h, f or {})
        if ep.session:
            refused = self._check_session(h)
            if refused is not None:
                return refused
        fault = "lost_reply" if self._faults.take_drop(ep.op) else self._faults.draw()
        if fault is not None:
            self._faults.record(fault)
            if fault == "http429":
                return Reply(429, {"error": [{"code": "429", "message": "Too many requests"}]},
                             headers={"Retry-After": "1"}, fault=fault)
            if fault == "http5xx":
                return Reply(503, raw=b"<html><body>503 Service Unavailable</body></html>", content_type="text/html",
                             fault=fault)
        result = self._operate(ep, path, f or {})
        if fault == "lost_reply":
            return Reply(0, drop=True, fault=fault)
        if fault == "non_json":
            return Reply(200, raw=b"<html><body>Gateway says hello</body></html>", content_type="text/html",
                         fault=fault)
        return Reply(200, result)

    def _operate(self, ep: tx.Endpoint, path: str, f: dict[str, Any]) -> Any:
        d = self._desk
        if ep is tx.QUOTES:
            parts = path[len(_QUOTES_PREFIX):].split("/")
            return d.quotes([p.split("|", 1)[-1] for p in parts[0].split(",") if p])
        if ep is tx.MASTER:
            return d.master_paths(self.url, ist_date(self._clock.now()))
        ops = {tx.PLACE: d.place, tx.MODIFY: d.modify, tx.CANCEL: d.cancel, tx.HISTORY: d.history}
        if ep in ops:
            return ops[ep](f)
        if ep is tx.ORDERS and path.startswith(_ORDER_PREFIX):
            return d.order_book(path[len(_ORDER_PREFIX):])
        reads = {tx.ORDERS: d.order_book, tx.TRADES: d.trades, tx.POSITIONS: d.positions, tx.HOLDINGS: d.holdings,
                 tx.LIMITS: d.limits}
        return reads[ep]()

    # ---- login --------------------------------------------------------------------------------------------
    def _login(self, h: dict[str, str], f: dict[str, Any]) -> Reply:
        c = self.credentials
        if h.get("neo-fin-key") != tx.NEO_FIN_KEY:
            return Reply(400, {"error": [{"code": "10001", "message": "neo-fin-key header missing or invalid"}]})
        if f.get("mobileNumber") != _reveal(c.mobile_number) or f.get("ucc") != _reveal(c.ucc):
            return Reply(400, {"error": [{"code": "10002", "message": "Invalid mobile number or UCC"}]})
        now = self._clock.now()
        code = str(f.get("totp", ""))
        with self._lock:
            if not pyotp.TOTP(_reveal(c.totp_secret)).verify(code, for_time=now, valid_window=1):
                return Reply(400, {"error": [{"code": "10522", "message": "Invalid or expired TOTP"}]})
            last = self._used_totp
            if last is not None and last[1] == code and totp_window(now) - last[0] <= 2:
                return Reply(400, {"error": [{"code": "10523", "message": "TOTP already used"}]})
            self._used_totp = (totp_window(now), code)
            sid = secrets.token_hex(16)
            self._views[sid] = self._jwt(now + timedelta(minutes=15), "View")
            token = self._views[sid]
        self._secrets.update((sid, token))
        return Reply(200, {"data": {"token": token, "sid": sid, "rid": secrets.token_hex(8), "ucc": f["ucc"],
                                    "kType": "View", "status": "success", "dataCenter": "E21"}})

    def _validate(self, h: dict[str, str], f: dict[str, Any]) -> Reply:
        if h.get("neo-fin-key") != tx.NEO_FIN_KEY:
            return Reply(400, {"error": [{"code": "10001", "message": "neo-fin-key header missing or invalid"}]})
        with self._lock:
            view = self._views.get(h.get("sid", ""))
            if view is None or view != h.get("auth"):
                return Reply(401, _INVALID_JWT)
            if f.get("mpin") != _reveal(self.credentials.mpin):
                return Reply(400, {"stCode": 10031, "errMsg": "Invalid MPIN", "status": "failure"})
            del self._views[h["sid"]]
            now = self._clock.now()
            exp = datetime.combine(ist_date(now) + timedelta(days=1), dtime(0), IST)
            every = self._faults.spec.expire_every
            for old in self._sessions.values():
                old.dead = True
            sid, token = secrets.token_hex(16), self._jwt(exp, "Trade")
            self._sessions[sid] = _Session(token, exp, now + every if every else None)
        self._secrets.update((sid, token))
        return Reply(200, {"data": {"token": token, "sid": sid, "rid": secrets.token_hex(8), "baseUrl": self.url,
                                    "dataCenter": "E21", "kType": "Trade", "status": "success", "ucc": "",
                                    "feedUrl": ""}})

    def _check_session(self, h: dict[str, str]) -> Reply | None:
        with self._lock:
            s = self._sessions.get(h.get("sid", ""))
            if s is None or s.token != h.get("auth") or s.dead or self._clock.now() >= s.exp:
                return Reply(401, _INVALID_JWT)
            if s.kill_at is None or self._clock.now() < s.kill_at:
                return None
            first, s.counted = not s.counted, True
        if first:
            self._faults.record("expire")
        body = self._faults.session_reply()
        if body == "403":
            return Reply(403, _INVALID_SESSION, fault="expire")
        if body == "100022":  # inside a 200, as users saw on place order (kotak-neo-api #280)
            return Reply(200, _SESSION_TOKEN_INVALID, fault="expire")
        return Reply(401, _INVALID_JWT, fault="expire")

    def _jwt(self, exp: datetime, kind: str) -> str:
        def b64(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        claims = {"sub": "fake", "kType": kind, "iat": int(self._clock.now().timestamp()),
                  "exp": int(exp.timestamp()), "jti": secrets.token_hex(8)}
        head = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}"
        sig = hmac.new(self._key, head.encode(), hashlib.sha256).digest()
        return f"{head}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"

    # ---- recording ----------------------------------------------------------------------------------------
    def _write_record(self, method: str, path: str, headers: list[tuple[str, str]], h: dict[str, str],
                      fields: dict[str, Any] | None, reply: Reply) -> None:
        if self._record is None:
            return
        kind = "json" if "json" in h.get("content-type", "") else "jData"
        masked = {k: ("***" if k in _MASKED_FIELDS else v) for k, v in (fields or {}).items()}
        line = json.dumps({"method": method, "path": path, "headers": [k for k, _ in headers],
                           kind: masked if fields is not None else None, "status": reply.status,
                           "fault": reply.fault}, sort_keys=True)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if len(secret) >= 4:
                line = line.replace(secret, "***")
        with self._lock:
            self._record.write(line + "\n")
            self._record.flush()


def _reveal(secret: Any) -> str:
    return str(secret.get_secret_value())


def _fields(h: dict[str, str], body: bytes) -> dict[str, Any] | None:
    """The request's JSON object (login) or decoded `jData` (form posts); None without a body."""
    if not body:
        return None
    try:
        if "json" in h.get("content-type", ""):
            value = json.loads(body)
        else:
            value = json.loads(parse_qs(body.decode(), keep_blank_values=True)["jData"][0])
    except (ValueError, KeyError, UnicodeDecodeError):
        raise WireError("request body is not the expected JSON / jData form") from None
    if not isinstance(value, dict):
        raise WireError("request body is not a JSON object")
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeKotakServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out at once

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.handle(self.command, self.path, list(self.headers.items()), body)
        if reply.drop:
            self.close_connection = True
            return
        payload = reply.payload()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: requests are recorded (masked) by `--record`, not printed."""
