"""Coinbase Advanced Trade REST client (``/api/v3/brokerage``), over requests.

Source: Coinbase Developer Platform, "Advanced Trade API" reference (orders,
fills, accounts, products, best bid/ask; public market endpoints and server
time) and "Rate limits". Every private request carries a fresh ES256 JWT
(:mod:`cryptoj_actors.adapters.coinbase.credentials`); public ones carry none.

Failure model, which the order path depends on:

* **2xx**: the JSON body is returned as a dict. A create-order answer can be
  a 200 with ``success: false``: that is the venue's refusal, returned as is.
* **401/403** raise :class:`AuthenticationError`; **404**
  :class:`NotFound`; any other **4xx** :class:`RequestRejected`. The venue
  refused the request: retrying it cannot help.
* **429, 5xx, time-outs and connection errors** are retried with
  exponential backoff and full jitter (:class:`~cryptoj_actors.backoff.Backoff`:
  ``retry_initial_s`` doubling to ``retry_max_s``; ``Retry-After`` honoured),
  within the rate limit, when the request is safe to repeat: every read, and
  cancels. A create-order request is repeated only after a 429 (which means
  it was not processed). When retries run out, or the request must not be repeated,
  :class:`Unavailable` is raised; its ``maybe_processed`` says whether the
  venue may have acted on it (a time-out or a 5xx: yes; a refused connection
  or a 429: no). The order client turns "maybe" into ``UNKNOWN``, never into
  a failure.

No error message carries a token, a key or a request body.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
)

from cryptoj_actors.adapters.coinbase.credentials import Credentials
from cryptoj_actors.adapters.coinbase.rate_limit import TokenBucket
from cryptoj_actors.backoff import Backoff
from cryptoj_actors.config import CoinbaseConfig

log = logging.getLogger(__name__)

BROKERAGE = "/api/v3/brokerage"

#: Candle granularities of ``GET /market/products/{id}/candles``, in seconds.
GRANULARITY_S = {"ONE_MINUTE": 60, "FIVE_MINUTE": 300, "FIFTEEN_MINUTE": 900,
                 "THIRTY_MINUTE": 1800, "ONE_HOUR": 3600, "TWO_HOUR": 7200,
                 "SIX_HOUR": 21600, "ONE_DAY": 86400}

#: Most candles one candles request asks for: the documented limit is 350,
#: but 300 has been seen enforced, so requests stay within that.
MAX_CANDLES = 300


class CoinbaseError(Exception):
    """A REST request did not succeed.

    Attributes:
        status: the HTTP status (0 when no answer came).
        error: Coinbase's error code (``"UNAUTHENTICATED"``, ...) or ``""``.
    """

    def __init__(self, message: str, *, status: int = 0, error: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class AuthenticationError(CoinbaseError):
    """401/403: the key is wrong, expired, lacks a permission, or the clock is off."""


class NotFound(CoinbaseError):
    """404: no such order, product or account."""


class RequestRejected(CoinbaseError):
    """Another 4xx: the request itself is invalid."""


class Unavailable(CoinbaseError):
    """No usable answer: 429 or 5xx after retries, a time-out, a dropped
    connection, or a body that is not JSON.

    ``maybe_processed`` is true when the venue may have acted on the request
    (it was sent and the answer was lost or was a server error).
    """

    def __init__(self, message: str, *, status: int = 0, error: str = "",
                 maybe_processed: bool = True) -> None:
        super().__init__(message, status=status, error=error)
        self.maybe_processed = maybe_processed


class RestClient:
    """Coinbase Advanced Trade REST.

    Args:
        settings: URL, rate limits, time-out and retry policy (``[coinbase]``).
        credentials: the CDP key for private endpoints (``None``: public only;
            a private call then raises :class:`AuthenticationError`).
        sleep: how to wait between retries (injectable for tests).
        rng: the retries' jitter (seed it in tests).
    """

    def __init__(self, settings: CoinbaseConfig, credentials: Credentials | None = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.credentials = credentials
        parts = urlsplit(settings.rest_url)
        self.host = parts.netloc  # the JWT's uri names host[:port], as requested
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._private = TokenBucket(settings.private_rate_per_s, sleep=sleep)
        self._public = TokenBucket(settings.public_rate_per_s, sleep=sleep)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "cryptoj_actors"
        self.requests = 0  # sent, retries included
        self.retries = 0

    def close(self) -> None:
        self._session.close()

    # --- transport ------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Mapping[str, Any] | None = None, private: bool = True,
                repeatable: bool = True) -> dict[str, Any]:
        """Send one request (retrying as the module docstring says).

        Args:
            path: the path under the host (``/api/v3/brokerage/orders``).
            params: query parameters; a sequence value repeats the key
                (``order_ids=a&order_ids=b``).
            repeatable: false for requests that must not be sent twice
                (creating an order): only a 429 is then retried.

        Raises:
            AuthenticationError, NotFound, RequestRejected, Unavailable.
        """
        if private and self.credentials is None:
            raise AuthenticationError(f"{method} {path}: no API key configured (set "
                                      f"coinbase.key_file or the environment variables)")
        data = orjson.dumps(body) if body is not None else None
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s, self._rng)
        while True:
            (self._private if private else self._public).acquire()
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            if private:
                assert self.credentials is not None
                headers["Authorization"] = "Bearer " + self.credentials.jwt(method, self.host,
                                                                           path)
            self.requests += 1
            retry_after = None
            try:
                response = self._session.request(
                    method, self._base + path, params=params, data=data, headers=headers,
                    timeout=(min(3.05, self.settings.timeout_s), self.settings.timeout_s),
                    allow_redirects=False)
            except requests.RequestException as exc:
                failure = Unavailable(f"{method} {path}: {_describe(exc)}",
                                      maybe_processed=not _never_sent(exc))
                may_retry = repeatable or not failure.maybe_processed
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        parsed = orjson.loads(response.content) if response.content else {}
                    except orjson.JSONDecodeError:
                        raise Unavailable(f"{method} {path}: HTTP {status} with a body that "
                                          f"is not JSON", status=status) from None
                    if not isinstance(parsed, dict):
                        raise Unavailable(f"{method} {path}: HTTP {status} with a JSON "
                                          f"{type(parsed).__name__}, expected an object",
                                          status=status)
                    return parsed
                error, message = _error_of(response)
                text = f"{method} {path}: HTTP {status}" + (f" {error}" if error else "") + \
                    (f": {message}" if message else "")
                if status in (401, 403):
                    raise AuthenticationError(text, status=status, error=error)
                if status == 404:
                    raise NotFound(text, status=status, error=error)
                if status != 429 and status < 500:
                    raise RequestRejected(text, status=status, error=error)
                failure = Unavailable(text, status=status, error=error,
                                      maybe_processed=status != 429)
                may_retry = repeatable or status == 429
                retry_after = _retry_after(response)
            if not may_retry or backoff.attempts >= self.settings.max_retries:
                raise failure
            wait = backoff.next_delay(retry_after)
            self.retries += 1
            log.info("coinbase: %s; retry %d of %d in %.2f s", failure, backoff.attempts,
                     self.settings.max_retries, wait)
            self._sleep(wait)

    def _pages(self, path: str, key: str, params: dict[str, Any], *,
               private: bool = True) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list. Orders and accounts say
        ``has_next``; fills only give a ``cursor``, so an empty page or a
        cursor that does not move ends the list too."""
        params = dict(params)
        while True:
            page = self.request("GET", path, params=params, private=private)
            items = page.get(key)
            if not isinstance(items, list):
                raise Unavailable(f"GET {path}: the answer has no list {key!r}", status=200)
            yield from items
            cursor = page.get("cursor")
            if not items or not cursor or page.get("has_next") is False \
                    or cursor == params.get("cursor"):
                return
            params["cursor"] = cursor

    # --- private endpoints ----------------------------------------------------

    def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /orders``; ``body`` from
        :func:`cryptoj_actors.adapters.coinbase.orders.create_order_body`. Returns the
        answer, ``success`` true or false. Never repeated unless refused with 429."""
        return self.request("POST", f"{BROKERAGE}/orders", body=body, repeatable=False)

    def cancel_orders(self, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``POST /orders/batch_cancel``: one result per id,
        ``{"success": bool, "failure_reason": str, "order_id": str}``."""
        answer = self.request("POST", f"{BROKERAGE}/orders/batch_cancel",
                              body={"order_ids": list(order_ids)})
        return list(answer.get("results") or [])

    def get_order(self, order_id: str) -> dict[str, Any]:
        """``GET /orders/historical/{order_id}``: the ``order`` object."""
        answer = self.request("GET", f"{BROKERAGE}/orders/historical/{order_id}")
        order = answer.get("order")
        if not isinstance(order, dict):
            raise Unavailable(f"GET order {order_id}: the answer has no order", status=200)
        return order

    def list_orders(self, **params: Any) -> Iterator[dict[str, Any]]:
        """``GET /orders/historical/batch`` with its filters (``product_ids``,
        ``order_status``, ``start_date`` RFC 3339, ``order_ids``, ...), every page."""
        return self._pages(f"{BROKERAGE}/orders/historical/batch", "orders", params)

    def list_fills(self, **params: Any) -> Iterator[dict[str, Any]]:
        """``GET /orders/historical/fills`` (``order_ids``, ``product_ids``,
        ``start_sequence_timestamp`` RFC 3339), every page."""
        return self._pages(f"{BROKERAGE}/orders/historical/fills", "fills", params)

    def accounts(self) -> list[dict[str, Any]]:
        """``GET /accounts``: every account (one per currency) with
        ``available_balance`` and ``hold`` as ``{"value", "currency"}``."""
        return list(self._pages(f"{BROKERAGE}/accounts", "accounts", {"limit": 250}))

    def product(self, product_id: str) -> dict[str, Any]:
        """``GET /products/{product_id}``: price, increments, minimum sizes, status."""
        return self.request("GET", f"{BROKERAGE}/products/{product_id}")

    def best_bid_ask(self, product_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``GET /best_bid_ask``: ``pricebooks``, each ``{"product_id", "bids",
        "asks", "time"}`` with levels ``{"price", "size"}``."""
        answer = self.request("GET", f"{BROKERAGE}/best_bid_ask",
                              params={"product_ids": list(product_ids)})
        return list(answer.get("pricebooks") or [])

    # --- public endpoints -------------------------------------------------------

    def server_time(self) -> dict[str, Any]:
        """``GET /time``: ``{"iso", "epochSeconds", "epochMillis"}`` (strings)."""
        return self.request("GET", f"{BROKERAGE}/time", private=False)

    def public_products(self) -> list[dict[str, Any]]:
        """``GET /market/products``: every product with its trading rules."""
        answer = self.request("GET", f"{BROKERAGE}/market/products", private=False)
        return list(answer.get("products") or [])

    def public_product(self, product_id: str) -> dict[str, Any]:
        """``GET /market/products/{product_id}``: the product's trading rules
        and status, without a key."""
        return self.request("GET", f"{BROKERAGE}/market/products/{product_id}", private=False)

    def public_candles(self, product_id: str, granularity: str, start_s: int,
                       end_s: int) -> list[dict[str, Any]]:
        """``GET /market/products/{id}/candles``: at most :data:`MAX_CANDLES`
        candles ``{"start", "low", "high", "open", "close", "volume"}``
        (strings; ``start`` in Unix seconds) from ``start_s`` to ``end_s``
        (Unix seconds), newest first as Coinbase sends them.

        Raises:
            ValueError: an unknown granularity (see :data:`GRANULARITY_S`).
        """
        if granularity not in GRANULARITY_S:
            raise ValueError(f"granularity must be one of {', '.join(GRANULARITY_S)}")
        answer = self.request("GET", f"{BROKERAGE}/market/products/{product_id}/candles",
                              params={"start": str(start_s), "end": str(end_s),
                                      "granularity": granularity}, private=False)
        candles = answer.get("candles")
        if not isinstance(candles, list):
            raise Unavailable(f"GET candles {product_id}: the answer has no candles", status=200)
        return candles


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server: the connection
    was refused or timed out before it was made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out" if not isinstance(exc, requests.ConnectTimeout) else \
            "connection timed out"
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, NameResolutionError):
            return "cannot connect: the host name does not resolve"
        return "cannot connect" if _never_sent(exc) else "connection lost"
    return type(exc).__name__


def _error_of(response: requests.Response) -> tuple[str, str]:
    """Coinbase's ``error`` code and ``message`` (``error_details`` when the
    message is empty), or the first line of a non-JSON body, cut short."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.text.strip().splitlines()[0] if response.text.strip() else ""
        return "", text[:200]
    if not isinstance(body, dict):
        return "", ""
    error = str(body.get("error") or "")
    message = str(body.get("message") or body.get("error_details") or "")
    return error[:80], message[:200]


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds, within 0 to 60; None when absent or not a
    finite number (``nan`` would make the sleep raise)."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), 60.0) if math.isfinite(seconds) else None
