"""A Coinbase Advanced Trade REST venue on 127.0.0.1: how tests, the latency
benchmark and an operator exercise the order client without the internet.

    python scripts/exchange_server.py --key-file KEY.json [--port 8766]
        [--balance USD=10000 ...] [--price BTC-USD=114000.00/114000.01 ...]
        [--candles FILE ...] [--public-rate 10] [--user-port 8767]
        [--user-drop-after N] [--user-skip-seq N] [--user-stall-after N]

writes a fresh test key to KEY.json (mode 0600, CDP's layout) and serves
until Ctrl-C; then run the system with ``[coinbase] rest_url =
"http://127.0.0.1:8766"``, ``key_file = "KEY.json"``, ``mode = "live"`` and
``--live``.

It speaks the protocol (``/api/v3/brokerage``): every private request must
carry a valid ES256 JWT for the configured key (``kid`` and ``sub`` the key
name, ``iss`` "cdp", ``nbf``/``exp`` within 120 s, ``uri`` = "METHOD
host/path", a ``nonce``), else 401 with Coinbase's plain ``Unauthorized``.
Answers have Coinbase's shapes: ``success``/``success_response``/
``error_response`` for orders, ``has_next``/``cursor`` pages, decimal
strings. A repeated ``client_order_id`` returns the order it already names,
as Coinbase documents.

The venue: market orders fill at once against the configured best bid/ask
(taker fee); limit orders rest and fill when :meth:`Venue.set_price` crosses
them (maker fee); stop-limit orders rest (their trigger is not simulated).
Public candles (``GET /market/products/{id}/candles``) come from a list
given to the server, or with ``--candles FILE...`` from recorded bars in any
layout ``replay`` reads, each file's times shifted so that its last bar ends
at the start of the current bar (for hourly bars: this hour), as if the
history had just happened: a live start warms up on it. At most 300 candles
a request (400 beyond, as Coinbase answers); public requests beyond
``--public-rate`` a second get a 429 with ``Retry-After``, as Coinbase's
public rate limit does.

The authenticated ``user`` websocket channel (:class:`UserChannelServer`,
``[coinbase] user_url = "ws://127.0.0.1:8767"``) pushes every change of an
order as the venue makes it, with the market-data server's faults (drop,
gap, stall).

Faults, scripted per request: an HTTP status (with Coinbase's bodies: 401
text, 429, 500), a slow answer, a dropped connection, each either before or
after the request took effect (a create that placed the order and then
failed to answer is the case the client must never repeat).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cryptoj_actors.marketdata.bars.align import join
from cryptoj_actors.marketdata.bars.series import load_bars

BROKERAGE = "/api/v3/brokerage"
TAKER_FEE = Decimal("0.012")
MAKER_FEE = Decimal("0.006")
CANDLE_WINDOW = 300


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def make_key(name: str | None = None) -> tuple[str, str, ec.EllipticCurvePublicKey]:
    """A fresh EC P-256 test key: (key name, PEM private key, public key)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    name = name or f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
    return name, pem, private.public_key()


# --- the venue -----------------------------------------------------------------------


@dataclass
class Venue:
    """One account at a simulated Coinbase: balances, orders, fills, prices."""

    balances: dict[str, Decimal]
    prices: dict[str, tuple[Decimal, Decimal]]  # product -> (best bid, best ask)
    base_increment: Decimal = Decimal("0.00000001")
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    by_client: dict[str, str] = field(default_factory=dict)
    holds: dict[str, Decimal] = field(default_factory=dict)
    #: Seconds a fill takes to be listed by ``GET /orders/historical/fills``
    #: after the order's status already counts it (the venue's views lag).
    fills_delay_s: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Told of every order that changes (a copy, under the lock: must not block).
    watchers: list[Any] = field(default_factory=list)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            coid = body.get("client_order_id") or ""
            if coid in self.by_client:  # Coinbase: the existing order, no new one
                return self._success(self.orders[self.by_client[coid]])
            product = body.get("product_id", "")
            side = body.get("side", "")
            config = body.get("order_configuration") or {}
            if product not in self.prices or side not in ("BUY", "SELL") or len(config) != 1:
                return self._failure("INVALID_ARGUMENT", "invalid order", "INVALID_REQUEST")
            kind, params = next(iter(config.items()))
            order = {
                "order_id": str(uuid.uuid4()), "client_order_id": coid, "product_id": product,
                "side": side, "status": "OPEN", "filled_size": "0", "filled_value": "0",
                "average_filled_price": "0", "total_fees": "0", "number_of_fills": "0",
                "created_time": _rfc3339(time.time()),
                "order_configuration": config, "order_type": kind, "reject_reason": "",
                "cancel_message": "", "completion_percentage": "0"}
            base_currency, quote_currency = product.split("-")
            if kind == "market_market_ioc":
                bid, ask = self.prices[product]
                price = ask if side == "BUY" else bid
                if side == "BUY" and "quote_size" in params:
                    quote = Decimal(params["quote_size"])
                    size = (quote / (1 + TAKER_FEE) / price).quantize(self.base_increment,
                                                                       ROUND_DOWN)
                else:
                    size = Decimal(params["base_size"])
                cost = size * price
                fee = (cost * TAKER_FEE).quantize(Decimal("0.01"))
                if side == "BUY" and cost + fee > self._free(quote_currency):
                    return self._failure("INSUFFICIENT_FUND", "Insufficient balance in source "
                                         "account", "PREVIEW_INSUFFICIENT_FUND")
                if side == "SELL" and size > self._free(base_currency):
                    return self._failure("INSUFFICIENT_FUND", "Insufficient balance in source "
                                         "account", "PREVIEW_INSUFFICIENT_FUND")
                self._register(order)
                self._fill(order, size, price, fee, "TAKER")
                order["status"] = "FILLED"
            elif kind in ("limit_limit_gtc", "stop_limit_stop_limit_gtc"):
                size, limit = Decimal(params["base_size"]), Decimal(params["limit_price"])
                held, currency = (size * limit * (1 + MAKER_FEE), quote_currency) \
                    if side == "BUY" else (size, base_currency)
                if held > self._free(currency):
                    return self._failure("INSUFFICIENT_FUND", "Insufficient balance in source "
                                         "account", "PREVIEW_INSUFFICIENT_FUND")
                self.holds[currency] = self.holds.get(currency, Decimal(0)) + held
                order["_hold"] = (currency, held)
                self._register(order)
                self._cross(order)
            else:
                return self._failure("UNSUPPORTED_ORDER_CONFIGURATION",
                                     f"{kind} is not supported", "UNSUPPORTED_ORDER_CONFIGURATION")
            self._changed(order)
            return self._success(order)

    def cancel(self, order_ids: list[str]) -> list[dict[str, Any]]:
        with self.lock:
            results = []
            for order_id in order_ids:
                order = self.orders.get(order_id)
                if order is None or order["status"] != "OPEN":
                    results.append({"success": False, "order_id": order_id,
                                    "failure_reason": "UNKNOWN_CANCEL_ORDER" if order is None
                                    else "ORDER_IS_FULLY_FILLED"})
                    continue
                order["status"] = "CANCELLED"
                order["cancel_message"] = "User requested cancel"
                self._release(order)
                self._changed(order)
                results.append({"success": True, "order_id": order_id,
                                "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON"})
            return results

    def set_price(self, product: str, bid: Decimal, ask: Decimal) -> None:
        """Move the market; resting limit orders it crosses fill."""
        with self.lock:
            self.prices[product] = (bid, ask)
            for order in list(self.orders.values()):
                if order["product_id"] == product and order["status"] == "OPEN":
                    self._cross(order)
                    if order["status"] != "OPEN":
                        self._changed(order)

    def accounts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, c)), "name": f"{c} Wallet",
                     "currency": c, "active": True, "ready": True, "type": "ACCOUNT_TYPE_CRYPTO",
                     "available_balance": {"value": str(self._free(c)), "currency": c},
                     "hold": {"value": str(self.holds.get(c, Decimal(0))), "currency": c}}
                    for c in sorted(self.balances)]

    def public_order(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    def open_orders(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.public_order(o) for o in self.orders.values() if o["status"] == "OPEN"]

    # -- internals

    def _changed(self, order: dict[str, Any]) -> None:
        for watcher in self.watchers:
            watcher(self.public_order(order))

    def _free(self, currency: str) -> Decimal:
        return self.balances.get(currency, Decimal(0)) - self.holds.get(currency, Decimal(0))

    def _register(self, order: dict[str, Any]) -> None:
        self.orders[order["order_id"]] = order
        self.by_client[order["client_order_id"]] = order["order_id"]

    def _cross(self, order: dict[str, Any]) -> None:
        if order["order_type"] != "limit_limit_gtc":
            return
        params = order["order_configuration"]["limit_limit_gtc"]
        limit, size = Decimal(params["limit_price"]), Decimal(params["base_size"])
        bid, ask = self.prices[order["product_id"]]
        if (order["side"] == "BUY" and ask <= limit) or (order["side"] == "SELL" and bid >= limit):
            self._release(order)
            self._fill(order, size, limit, (size * limit * MAKER_FEE).quantize(Decimal("0.01")),
                       "MAKER")
            order["status"] = "FILLED"

    def _release(self, order: dict[str, Any]) -> None:
        currency, held = order.pop("_hold", ("", Decimal(0)))
        if currency:
            self.holds[currency] -= held

    def _fill(self, order: dict[str, Any], size: Decimal, price: Decimal, fee: Decimal,
              liquidity: str) -> None:
        base, quote = order["product_id"].split("-")
        sign = 1 if order["side"] == "BUY" else -1
        self.balances[base] = self.balances.get(base, Decimal(0)) + sign * size
        self.balances[quote] = self.balances.get(quote, Decimal(0)) - sign * size * price - fee
        now = _rfc3339(time.time())
        self.fills.append({
            "entry_id": str(uuid.uuid4()), "trade_id": str(uuid.uuid4()),
            "order_id": order["order_id"], "trade_time": now, "trade_type": "FILL",
            "price": str(price), "size": str(size), "commission": str(fee),
            "product_id": order["product_id"], "sequence_timestamp": now,
            "liquidity_indicator": liquidity, "size_in_quote": False, "user_id": "test-user",
            "side": order["side"]})
        order.update(filled_size=str(size), filled_value=str(size * price),
                     average_filled_price=str(price), total_fees=str(fee),
                     completion_percentage="100",
                     number_of_fills=str(int(order["number_of_fills"]) + 1))

    def _success(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "success_response": {
            "order_id": order["order_id"], "product_id": order["product_id"],
            "side": order["side"], "client_order_id": order["client_order_id"]},
            "order_configuration": order["order_configuration"]}

    @staticmethod
    def _failure(error: str, message: str, preview: str) -> dict[str, Any]:
        return {"success": False, "error_response": {
            "error": error, "message": message, "error_details": "",
            "preview_failure_reason": preview}}


# --- faults ---------------------------------------------------------------------------


@dataclass
class Fault:
    """Applied to the next ``times`` requests matching ``method`` and ``path``
    (a prefix under ``/api/v3/brokerage``). ``kind``: ``"401"``, ``"429"``,
    ``"500"`` (an HTTP answer), ``"slow"`` (answer after ``delay_s``) or
    ``"drop"`` (close the connection without an answer). ``after`` makes the
    request take effect first (the order is placed, the answer is lost)."""

    method: str
    path: str
    kind: str
    times: int = 1
    after: bool = False
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any] | None
    authorized: bool
    claims: dict[str, Any] | None
    fault: str = ""


# --- the HTTP server ------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a dropped connection (a fault) or a client gone: nothing to report


class ExchangeServer:
    """The venue behind HTTP on 127.0.0.1, in a background thread.

    Args:
        venue: the simulated account.
        key_name: the CDP key name JWTs must carry.
        public_key: verifies their ES256 signatures.
        (:attr:`keys` holds every accepted key by name: a rotation adds the
        new one, then removes the old, as the CDP portal does.)
        candles: product -> candles (dicts in Coinbase's shape), any order.
        public_rate_per_s: public requests a second before a 429 (None: no limit).
        candles_end_now: serve each product's candles shifted, at every
            request, so that the last ends at the start of the current bar.
    """

    def __init__(self, venue: Venue, key_name: str, public_key: ec.EllipticCurvePublicKey, *,
                 port: int = 0, candles: dict[str, list[dict[str, str]]] | None = None,
                 public_rate_per_s: float | None = None, candles_end_now: bool = False) -> None:
        self.venue = venue
        self.candles_end_now = candles_end_now
        self.public_rate_per_s = public_rate_per_s
        self._public_times: list[float] = []  # monotonic times of the last second's requests
        self.keys = {key_name: public_key}
        self.candles = candles or {}
        #: (method, path under /api/v3/brokerage) -> an answer served verbatim
        #: (recorded replies of the real venue).
        self.canned: dict[tuple[str, str], dict[str, Any]] = {}
        self.clock_offset_s = 0.0  # how far the venue's clock is ahead of ours
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.nonces: set[str] = set()
        self.throttled = 0  # public requests answered 429
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body are two writes: with Nagle's algorithm
            # the body waits for the client's delayed ACK of the headers, up
            # to 40 ms a request, which no real venue adds.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="exchange-server",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ExchangeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def requests(self, method: str, path: str) -> list[Seen]:
        """Requests seen for ``method`` and a path under ``/api/v3/brokerage``."""
        with self._lock:
            return [s for s in self.seen if s.method == method and s.path == BROKERAGE + path]

    # -- request handling

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        public = path == f"{BROKERAGE}/time" or path.startswith(f"{BROKERAGE}/market/")
        claims = None if public else self._verify(h, method, path)
        if public and not self._within_public_rate():
            self._send(h, 429, b'{"error":"RESOURCE_EXHAUSTED","message":"Too many requests"}',
                       "application/json", retry_after=1)
            return
        fault = self._take_fault(method, path)
        with self._lock:
            self.seen.append(Seen(method, path, query, body, public or claims is not None,
                                  claims, fault.kind if fault else ""))
        if fault is not None and fault.kind == "slow":
            if not fault.after:  # the request takes effect late, then is answered
                time.sleep(fault.delay_s)
                fault = None
        elif fault is not None and not fault.after:
            self._fail(h, fault)
            return
        if not public and claims is None:
            self._send(h, 401, b"Unauthorized", "text/plain")
            return
        status, answer = self._route(method, path, query, body or {})
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay_s)  # took effect at once, answered late
        elif fault is not None:
            self._fail(h, fault)
            return
        self._send(h, status, json.dumps(answer).encode(), "application/json")

    def _verify(self, h: BaseHTTPRequestHandler, method: str, path: str) -> dict[str, Any] | None:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        token = auth[len("Bearer "):]
        try:
            header = jwt.get_unverified_header(token)
            name = header.get("kid")
            public_key = self.keys.get(name) if isinstance(name, str) else None
            if public_key is None:
                return None
            claims = jwt.decode(token, public_key, algorithms=["ES256"],
                                options={"require": ["sub", "iss", "nbf", "exp", "uri"]})
        except jwt.PyJWTError:
            return None
        nonce = header.get("nonce")
        host = h.headers.get("Host", "")
        good = (claims["sub"] == name
                and claims["iss"] == "cdp" and 0 < claims["exp"] - claims["nbf"] <= 120
                and claims["uri"] == f"{method} {host}{path}" and isinstance(nonce, str)
                and nonce and nonce not in self.nonces)
        if not good:
            return None
        with self._lock:
            self.nonces.add(nonce)
        return claims

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and path.startswith(BROKERAGE + fault.path) \
                        and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _fail(self, h: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        bodies = {"401": (b"Unauthorized", "text/plain"),
                  "429": (b"<html><body>Too Many Requests</body></html>", "text/html"),
                  "500": (b'{"error":"INTERNAL","code":13,"message":"internal error"}',
                          "application/json")}
        body, kind = bodies[fault.kind]
        self._send(h, int(fault.kind), body, kind)

    def _within_public_rate(self) -> bool:
        """A sliding window of one second over the public requests."""
        if self.public_rate_per_s is None:
            return True
        now = time.monotonic()
        with self._lock:
            self._public_times = [t for t in self._public_times if now - t < 1.0]
            if len(self._public_times) >= self.public_rate_per_s:
                self.throttled += 1
                return False
            self._public_times.append(now)
            return True

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, kind: str,
              retry_after: int | None = None) -> None:
        h.send_response(status)
        if retry_after is not None:
            h.send_header("Retry-After", str(retry_after))
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        venue = self.venue
        sub = path[len(BROKERAGE):]
        if (method, sub) in self.canned:
            return 200, self.canned[(method, sub)]
        if method == "POST" and sub == "/orders":
            return 200, venue.create(body)
        if method == "POST" and sub == "/orders/batch_cancel":
            return 200, {"results": venue.cancel(list(body.get("order_ids") or []))}
        if method == "GET" and sub == "/orders/historical/batch":
            with venue.lock:
                orders = [venue.public_order(o) for o in venue.orders.values()
                          if _matches(o, query)]
            return 200, _page(orders, query, "orders", has_next=True)
        if method == "GET" and sub == "/orders/historical/fills":
            with venue.lock:
                ids = set(query.get("order_ids", []))
                since = query.get("start_sequence_timestamp", [""])[0]
                listed = time.time() - venue.fills_delay_s
                fills = [f for f in venue.fills if (not ids or f["order_id"] in ids)
                         and (not since or _seconds(f["sequence_timestamp"]) >= _seconds(since))
                         and _seconds(f["trade_time"]) <= listed]
            return 200, _page(fills, query, "fills", has_next=False)
        if method == "GET" and sub.startswith("/orders/historical/"):
            order = venue.orders.get(sub.rsplit("/", 1)[1])
            if order is None:
                return 404, {"error": "NOT_FOUND", "error_details": "order not found",
                             "message": "order not found"}
            return 200, {"order": venue.public_order(order)}
        if method == "GET" and sub == "/accounts":
            return 200, _page(venue.accounts(), query, "accounts", has_next=True)
        if method == "GET" and sub == "/best_bid_ask":
            wanted = query.get("product_ids") or list(venue.prices)
            return 200, {"pricebooks": [
                {"product_id": p, "bids": [{"price": str(venue.prices[p][0]), "size": "1"}],
                 "asks": [{"price": str(venue.prices[p][1]), "size": "1"}],
                 "time": _rfc3339(time.time())} for p in wanted if p in venue.prices]}
        if method == "GET" and (sub.startswith("/products/") or (
                sub.startswith("/market/products/") and sub.count("/") == 3)):
            product = sub.rsplit("/", 1)[1]
            if product not in venue.prices:
                return 404, {"error": "NOT_FOUND", "error_details": "product not found",
                             "message": "product not found"}
            bid, ask = venue.prices[product]
            return 200, {"product_id": product, "price": str((bid + ask) / 2),
                         "base_increment": f"{venue.base_increment:f}",  # plain, never 1E-8
                         "quote_increment": "0.01", "base_min_size": "0.00000001",
                         "quote_min_size": "1", "status": "online", "trading_disabled": False}
        if method == "GET" and sub == "/time":
            now = time.time() + self.clock_offset_s
            return 200, {"iso": _rfc3339(now), "epochSeconds": str(int(now)),
                         "epochMillis": str(int(now * 1000))}
        if method == "GET" and sub == "/market/products":
            return 200, {"products": [{"product_id": p, "status": "online"}
                                      for p in sorted(venue.prices)],
                         "num_products": len(venue.prices)}
        if method == "GET" and sub.startswith("/market/products/") and sub.endswith("/candles"):
            return self._candles(sub.split("/")[3], query)
        return 404, {"error": "NOT_FOUND", "error_details": "Not Found", "message": "Not Found"}

    def _candles(self, product: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        granularity = {"ONE_MINUTE": 60, "FIVE_MINUTE": 300, "FIFTEEN_MINUTE": 900,
                       "ONE_HOUR": 3600, "SIX_HOUR": 21600, "ONE_DAY": 86400}.get(
            query.get("granularity", [""])[0])
        try:
            start, end = int(query["start"][0]), int(query["end"][0])
        except (KeyError, ValueError):
            granularity = None
        if granularity is None:
            return 400, {"error": "INVALID_ARGUMENT", "error_details": "granularity argument is "
                         "invalid", "message": "granularity argument is invalid"}
        if (end - start) // granularity > CANDLE_WINDOW:
            return 400, {"error": "INVALID_ARGUMENT", "message": "start and end argument is "
                         "invalid - number of candles requested should be less than 300"}
        rows = self.candles.get(product, [])
        if self.candles_end_now and rows:
            boundary = int(time.time()) // granularity * granularity
            shift = boundary - (max(int(c["start"]) for c in rows) + granularity)
            rows = [{**c, "start": str(int(c["start"]) + shift)} for c in rows]
        rows = [c for c in rows if start <= int(c["start"]) < end]
        rows.sort(key=lambda c: -int(c["start"]))  # newest first, as Coinbase sends them
        return 200, {"candles": rows}


# --- the user channel -----------------------------------------------------------------


#: The user channel's order types, by the REST order configuration.
USER_ORDER_TYPE = {"market_market_ioc": "Market", "limit_limit_gtc": "Limit",
                   "stop_limit_stop_limit_gtc": "Stop Limit"}


@dataclass
class UserFaults:
    """Faults of every user-channel connection, as the market-data server's:
    close it after ``drop_after`` frames, skip one sequence number at frame
    ``skip_seq``, stop sending after ``stall_after`` frames (it stays open)."""

    drop_after: int | None = None
    skip_seq: int | None = None
    stall_after: int | None = None


def user_order(order: dict[str, Any]) -> dict[str, Any]:
    """A venue order as the ``user`` channel shows it (Coinbase's fields)."""
    params = next(iter(order["order_configuration"].values()), {})
    filled = Decimal(order["filled_size"])
    size = Decimal(params["base_size"]) if "base_size" in params else filled
    leaves = size - filled if order["status"] == "OPEN" else Decimal(0)
    return {"order_id": order["order_id"], "client_order_id": order["client_order_id"],
            "cumulative_quantity": order["filled_size"], "leaves_quantity": str(leaves),
            "avg_price": order["average_filled_price"], "total_fees": order["total_fees"],
            "status": order["status"], "product_id": order["product_id"],
            "creation_time": order["created_time"], "order_side": order["side"],
            "order_type": USER_ORDER_TYPE.get(order["order_type"], order["order_type"]),
            "cancel_reason": order["cancel_message"], "reject_reason": order["reject_reason"],
            "number_of_fills": order["number_of_fills"], "product_type": "SPOT"}


class UserChannelServer:
    """The venue's authenticated ``user`` channel, a websocket on 127.0.0.1
    (Coinbase's ``wss://advanced-trade-ws-user.coinbase.com``), fed by the
    venue's own matching.

    A subscribe must carry a ``jwt`` for the configured key (ES256, ``kid``
    and ``sub`` the key name, ``iss`` "cdp", ``nbf``/``exp`` within 120 s, a
    fresh ``nonce``; no ``uri``, as Coinbase's websocket JWTs have none), else
    an ``error`` frame and the connection closes. ``user`` answers a
    ``snapshot`` of the open orders, then an ``update`` for every change of
    an order (created, filled, cancelled); ``heartbeats`` sends one a second.
    ``sequence_num`` counts every frame of a connection from 0.
    """

    def __init__(self, venue: Venue, key_name: str, public_key: ec.EllipticCurvePublicKey, *,
                 port: int = 0, faults: UserFaults | None = None) -> None:
        self.venue = venue
        self.key_name = key_name
        self.public_key = public_key
        self.port = port
        self.faults = faults or UserFaults()
        self.connections = 0
        self.subscriptions: list[dict[str, Any]] = []
        self._queues: set[asyncio.Queue] = set()
        self._nonces: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="user-channel", daemon=True)
        venue.watchers.append(self._changed)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> UserChannelServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the user channel server did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop: asyncio.Future = self._loop.create_future()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        server = await websockets.serve(self._handle, "127.0.0.1", self.port, close_timeout=0.5)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop
        finally:
            server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    def _changed(self, order: dict[str, Any]) -> None:
        """From the venue's thread, under its lock: queued to every subscriber."""
        event = {"type": "update", "orders": [user_order(order)]}
        self._loop.call_soon_threadsafe(self._broadcast, event)

    def _broadcast(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            queue.put_nowait(("user", [event]))

    def _authorized(self, token: object) -> bool:
        if not isinstance(token, str):
            return False
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"],
                                options={"require": ["sub", "iss", "nbf", "exp"]})
        except jwt.PyJWTError:
            return False
        nonce = header.get("nonce")
        good = (header.get("kid") == self.key_name and claims["sub"] == self.key_name
                and claims["iss"] == "cdp" and 0 < claims["exp"] - claims["nbf"] <= 120
                and "uri" not in claims and isinstance(nonce, str) and nonce
                and nonce not in self._nonces)
        if good:
            self._nonces.add(nonce)
        return good

    async def _handle(self, ws) -> None:  # noqa: ANN001 - a websockets connection
        self.connections += 1
        queue: asyncio.Queue = asyncio.Queue()
        beats: asyncio.Task | None = None
        sender = asyncio.create_task(self._send(ws, queue))
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.subscriptions.append(message)
                if message.get("type") != "subscribe":
                    continue
                if not self._authorized(message.get("jwt")):
                    queue.put_nowait(("error", "authentication failure"))
                    break
                channel = message.get("channel")
                queue.put_nowait(("subscriptions", channel))
                if channel == "user":
                    orders = [user_order(o) for o in self.venue.open_orders()]
                    queue.put_nowait(("user", [{"type": "snapshot", "orders": orders}]))
                    self._queues.add(queue)
                elif channel == "heartbeats" and beats is None:
                    beats = asyncio.create_task(self._beat(queue))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._queues.discard(queue)
            if beats is not None:
                beats.cancel()
            queue.put_nowait(None)
            await asyncio.gather(sender, return_exceptions=True)

    @staticmethod
    async def _beat(queue: asyncio.Queue) -> None:
        counter = 0
        while True:
            await asyncio.sleep(1.0)
            counter += 1
            queue.put_nowait(("heartbeats", counter))

    async def _send(self, ws, queue: asyncio.Queue) -> None:  # noqa: ANN001
        seq = sent = 0
        f = self.faults
        while (item := await queue.get()) is not None:
            kind, payload = item
            now = _rfc3339(time.time())
            if kind == "error":
                await ws.send(json.dumps({"type": "error", "message": payload}))
                await ws.close()
                return
            if kind == "subscriptions":
                channel, events = "subscriptions", [{"subscriptions": {payload: []}}]
            elif kind == "heartbeats":
                channel, events = "heartbeats", [{"current_time": now,
                                                  "heartbeat_counter": payload}]
            else:
                channel, events = "user", payload
            if f.stall_after is not None and sent >= f.stall_after:
                continue  # the connection stays open, silent
            if f.drop_after is not None and sent >= f.drop_after:
                await ws.close()
                return
            if f.skip_seq is not None and sent == f.skip_seq:
                seq += 1  # one number never sent: a gap
            try:
                await ws.send(json.dumps({"channel": channel, "client_id": "", "timestamp": now,
                                          "sequence_num": seq, "events": events}))
            except websockets.ConnectionClosed:
                return
            seq += 1
            sent += 1


def _matches(order: dict[str, Any], query: dict[str, list[str]]) -> bool:
    if "order_ids" in query and order["order_id"] not in query["order_ids"]:
        return False
    if "product_ids" in query and order["product_id"] not in query["product_ids"]:
        return False
    if "order_status" in query and order["status"] not in query["order_status"]:
        return False
    since = query.get("start_date", [""])[0]
    return not since or _seconds(order["created_time"]) >= _seconds(since)


def _page(items: list[dict[str, Any]], query: dict[str, list[str]], key: str, *,
          has_next: bool) -> dict[str, Any]:
    """Cursor pages of 2 items unless ``limit`` says otherwise: small pages,
    so that every client walks them."""
    limit = int(query.get("limit", ["2"])[0])
    start = int(query.get("cursor", ["0"])[0] or 0)
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    page: dict[str, Any] = {key: chunk, "cursor": str(start + limit) if more else ""}
    if has_next:
        page["has_next"] = more
    return page


def recorded_candles(paths: list[Path]) -> dict[str, list[dict[str, str]]]:
    """Candles in Coinbase's shape from bar files (any layout ``replay`` reads),
    in their recorded times; one product's several files join. Serve them
    with ``ExchangeServer(..., candles_end_now=True)``."""
    by_product: dict[str, list[Any]] = {}
    for path in paths:
        series = load_bars(path)
        by_product.setdefault(series.product_id, []).append(series)
    return {product: [{"start": str(b.start_ns // 1_000_000_000), "low": str(b.low),
                       "high": str(b.high), "open": str(b.open), "close": str(b.close),
                       "volume": str(b.volume)} for b in join(files).bars]
            for product, files in by_product.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key-file", type=Path, required=True,
                        help="where to write the test key (CDP's JSON layout, mode 0600)")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--balance", action="append", default=[], metavar="CUR=AMOUNT")
    parser.add_argument("--price", action="append", default=[], metavar="PRODUCT=BID/ASK")
    parser.add_argument("--candles", nargs="+", type=Path, default=[], metavar="FILE",
                        help="recorded bars to serve as public candles, shifted to end now")
    parser.add_argument("--public-rate", type=float, default=10.0,
                        help="public requests a second before a 429 (default: %(default)s)")
    parser.add_argument("--user-port", type=int, default=8767,
                        help="the user channel's websocket port (default: %(default)s; -1: none)")
    parser.add_argument("--user-drop-after", type=int, metavar="N",
                        help="close every user-channel connection after N frames")
    parser.add_argument("--user-skip-seq", type=int, metavar="N",
                        help="skip one user-channel sequence number at frame N")
    parser.add_argument("--user-stall-after", type=int, metavar="N",
                        help="stop sending on a user-channel connection after N frames")
    args = parser.parse_args()
    name, pem, public = make_key()
    fd = os.open(args.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"name": name, "privateKey": pem}, out)
    balances = {c: Decimal(v) for c, v in (b.split("=") for b in args.balance)} or \
        {"USD": Decimal("10000")}
    prices = {p: tuple(Decimal(x) for x in v.split("/")) for p, v in
              (s.split("=") for s in args.price)} or {
        "BTC-USD": (Decimal("114000.00"), Decimal("114000.01"))}
    candles = recorded_candles(args.candles) if args.candles else None
    venue = Venue(balances, prices)  # type: ignore[arg-type]
    server = ExchangeServer(venue, name, public, port=args.port, candles=candles,
                            public_rate_per_s=args.public_rate, candles_end_now=True).start()
    print(f"serving Coinbase Advanced Trade REST on {server.url} (key in {args.key_file})")
    user = None
    if args.user_port >= 0:
        faults = UserFaults(args.user_drop_after, args.user_skip_seq, args.user_stall_after)
        user = UserChannelServer(venue, name, public, port=args.user_port, faults=faults).start()
        print(f"serving the user channel on {user.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
        if user is not None:
            user.stop()


if __name__ == "__main__":
    main()
