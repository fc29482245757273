"""Coinbase order shapes: the ``POST /orders`` body for each order type (exact
decimal strings, never exponent notation), reading a create-order answer,
mapping venue order statuses to ours, reading fills (quote-sized fills, fee,
liquidity, nanosecond trade times) and refusing malformed answers."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoj_actors.adapters.coinbase.orders import (
    ShapeError,
    create_order_body,
    create_order_result,
    parse_fill,
    parse_order,
    parse_time_ns,
)
from cryptoj_actors.model import Liquidity, Order, OrderStatus, OrderType, Side

D = Decimal


def order(side: Side, kind: OrderType, **kw) -> Order:
    return Order(client_order_id="c-1", product_id="BTC-USD", side=side, order_type=kind, **kw)


def test_market_buy_in_quote_and_sell_in_base() -> None:
    buy = create_order_body(order(Side.BUY, OrderType.MARKET, quote_size=D("25.50")))
    assert buy == {"client_order_id": "c-1", "product_id": "BTC-USD", "side": "BUY",
                   "order_configuration": {"market_market_ioc": {"quote_size": "25.50"}}}
    sell = create_order_body(order(Side.SELL, OrderType.MARKET, base_size=D("0.00000001")))
    assert sell["side"] == "SELL"
    assert sell["order_configuration"] == {"market_market_ioc": {"base_size": "0.00000001"}}


def test_limit_body() -> None:
    body = create_order_body(order(Side.BUY, OrderType.LIMIT, base_size=D("1E-8"),
                                   limit_price=D("6.5E+4")))
    assert body["order_configuration"] == {"limit_limit_gtc": {
        "base_size": "0.00000001", "limit_price": "65000", "post_only": False}}


@pytest.mark.parametrize("side,direction", [(Side.SELL, "STOP_DIRECTION_STOP_DOWN"),
                                            (Side.BUY, "STOP_DIRECTION_STOP_UP")])
def test_stop_limit_body(side, direction) -> None:
    body = create_order_body(order(side, OrderType.STOP_LIMIT, base_size=D("0.5"),
                                   limit_price=D("59000.10"), stop_price=D("59100")))
    assert body["side"] == side.value
    assert body["order_configuration"] == {"stop_limit_stop_limit_gtc": {
        "base_size": "0.5", "limit_price": "59000.10", "stop_price": "59100",
        "stop_direction": direction}}


@given(st.decimals(min_value=D("1E-12"), max_value=D("1E+12"), places=12))
def test_amounts_are_plain_exact_strings(size) -> None:
    cfg = create_order_body(order(Side.SELL, OrderType.LIMIT, base_size=size,
                                  limit_price=size))["order_configuration"]["limit_limit_gtc"]
    for text in (cfg["base_size"], cfg["limit_price"]):
        assert "E" not in text.upper() and D(text) == size


@pytest.mark.parametrize("bad", [
    order(Side.SELL, OrderType.MARKET, quote_size=D("10")),
    order(Side.BUY, OrderType.MARKET),
    order(Side.BUY, OrderType.LIMIT, base_size=D("1")),
    order(Side.BUY, OrderType.LIMIT, limit_price=D("1")),
    order(Side.SELL, OrderType.STOP_LIMIT, base_size=D("1"), limit_price=D("1")),
    order(Side.SELL, OrderType.STOP_LIMIT, base_size=D("1"), stop_price=D("1")),
])
def test_missing_size_or_price_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="c-1"):
        create_order_body(bad)


def test_create_order_result_success() -> None:
    answer = {"success": True, "success_response": {"order_id": "abc-123",
                                                    "client_order_id": "c-1"}}
    assert create_order_result(answer) == ("abc-123", "")
    assert create_order_result({"success": True, "order_id": "top"}) == ("top", "")
    with pytest.raises(ShapeError):
        create_order_result({"success": True, "success_response": {}})


def test_create_order_result_refused() -> None:
    answer = {"success": False, "failure_reason": "UNKNOWN_FAILURE_REASON",
              "error_response": {"error": "INSUFFICIENT_FUND", "message": "Insufficient balance",
                                 "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND",
                                 "new_order_failure_reason": "UNKNOWN_FAILURE_REASON"}}
    order_id, reason = create_order_result(answer)
    assert order_id == ""
    for part in ("INSUFFICIENT_FUND", "Insufficient balance", "PREVIEW_INSUFFICIENT_FUND"):
        assert part in reason
    assert "UNKNOWN" not in reason
    order_id, reason = create_order_result({"success": False})
    assert order_id == "" and reason  # a reason even when the venue gives none
    for neither in ({}, {"success": "true"}, {"error": "x"}):
        with pytest.raises(ShapeError):
            create_order_result(neither)


def venue_order(status: str, filled: object = "0", **kw) -> dict:
    return {"order_id": "v-1", "client_order_id": "c-1", "product_id": "BTC-USD",
            "status": status, "filled_size": filled, **kw}


@pytest.mark.parametrize("venue,ours", [("FILLED", OrderStatus.FILLED),
                                        ("CANCELLED", OrderStatus.CANCELLED),
                                        ("EXPIRED", OrderStatus.EXPIRED),
                                        ("FAILED", OrderStatus.REJECTED)])
def test_parse_order_ended(venue, ours) -> None:
    parsed = parse_order(venue_order(venue, "0.25"))
    assert parsed.status is ours and parsed.status.is_terminal
    assert (parsed.order_id, parsed.client_order_id,
            parsed.product_id) == ("v-1", "c-1", "BTC-USD")
    assert parsed.filled_base == D("0.25")


@pytest.mark.parametrize("venue", ["OPEN", "PENDING", "QUEUED", "CANCEL_QUEUED",
                                   "SOMETHING_NEW"])
def test_parse_order_live(venue) -> None:
    assert parse_order(venue_order(venue, "0")).status is OrderStatus.OPEN
    partly = parse_order(venue_order(venue, "0.001"))
    assert partly.status is OrderStatus.PARTIALLY_FILLED and not partly.status.is_terminal
    assert partly.filled_base == D("0.001")


def test_parse_order_unknown_empty_and_detail() -> None:
    assert parse_order(venue_order("UNKNOWN_ORDER_STATUS")).status is OrderStatus.UNKNOWN
    empty = parse_order(venue_order("OPEN", ""))
    assert empty.filled_base == 0 and empty.status is OrderStatus.OPEN
    failed = parse_order(venue_order("FAILED", reject_reason="UNKNOWN_REJECT_REASON",
                                     reject_message="post only would cross"))
    assert failed.detail == "post only would cross"
    assert parse_order(venue_order("FAILED", reject_reason="UNKNOWN_X")).detail == ""


@pytest.mark.parametrize("drop,change", [("order_id", {}), ("status", {}), ("product_id", {}),
                                         (None, {"filled_size": "abc"}),
                                         (None, {"filled_size": "-1"}), (None, {"order_id": ""})])
def test_parse_order_malformed(drop, change) -> None:
    raw = {**venue_order("OPEN"), **change}
    raw.pop(drop, None)
    with pytest.raises(ShapeError):
        parse_order(raw)


def venue_fill(**kw) -> dict:
    return {"entry_id": "e-1", "trade_id": "t-1", "order_id": "v-1", "product_id": "BTC-USD",
            "trade_time": "2026-09-30T02:39:53.670986313Z", "price": "40000", "size": "0.01",
            "commission": "1.60", "liquidity_indicator": "MAKER", "side": "BUY",
            "size_in_quote": False, **kw}


def test_parse_fill() -> None:
    fill = parse_fill(venue_fill(), "c-1")
    assert (fill.fill_id, fill.client_order_id, fill.product_id) == ("e-1", "c-1", "BTC-USD")
    assert fill.side is Side.BUY and fill.liquidity is Liquidity.MAKER
    assert (fill.base_size, fill.price, fill.fee) == (D("0.01"), D("40000"), D("1.60"))
    assert fill.final is False
    assert fill.ts_ns == parse_time_ns("2026-09-30T02:39:53.670986313Z")
    taker = parse_fill(venue_fill(liquidity_indicator="TAKER", side="SELL"), "c-1")
    assert taker.liquidity is Liquidity.TAKER and taker.side is Side.SELL
    assert parse_fill(venue_fill(entry_id=None), "c-1").fill_id == "t-1"


def test_parse_fill_size_in_quote() -> None:
    fill = parse_fill(venue_fill(size="100", size_in_quote=True, price="40000"), "c-1")
    assert fill.base_size == D("0.0025")
    third = parse_fill(venue_fill(size="1", size_in_quote=True, price="3"), "c-1")
    assert abs(third.base_size * 3 - 1) < D("1E-50")


@pytest.mark.parametrize("change", [{"price": "0"}, {"price": "-40000"}, {"price": ""},
                                    {"size": "0"}, {"price": "NaN"}, {"side": "HOLD"},
                                    {"trade_time": "yesterday"}, {"commission": "-1"}])
def test_parse_fill_malformed(change) -> None:
    with pytest.raises(ShapeError):
        parse_fill(venue_fill(**change), "c-1")


def test_parse_time_ns_exact() -> None:
    seconds = int(datetime(2026, 9, 30, 2, 39, 53, tzinfo=UTC).timestamp())
    assert parse_time_ns("2026-09-30T02:39:53.670986313Z") == seconds * 10**9 + 670986313
    assert parse_time_ns("2026-09-30T02:39:53Z") == seconds * 10**9
    assert parse_time_ns("2026-09-30T02:39:53.5Z") == seconds * 10**9 + 500_000_000


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
       st.integers(0, 10**9 - 1), st.integers(0, 9))
def test_parse_time_ns_round_trip(moment, ns, digits) -> None:
    fraction = f"{ns:09d}"[:digits]
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + "Z"
    expected = calendar.timegm(moment.timetuple()) * 10**9 + int((fraction or "0").ljust(9, "0"))
    assert parse_time_ns(text) == expected


def test_parse_time_ns_numeric_offset() -> None:
    base = parse_time_ns("2026-09-30T02:39:53.5Z")
    assert parse_time_ns("2026-09-30T04:39:53.5+02:00") == base
    assert parse_time_ns("2026-09-30T04:39:53+02:00") == base - 500_000_000
