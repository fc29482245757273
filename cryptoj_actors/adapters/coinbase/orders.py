"""Coinbase Advanced Trade order and fill shapes <-> the project's messages.

Pure functions, no I/O. Sources (Coinbase Developer Platform, Advanced Trade
API reference): "Create Order" (``order_configuration``), "Get Order" /
"List Orders" (``status``, ``filled_size``), "List Fills" (``entry_id``,
``size``, ``size_in_quote``, ``commission``, ``liquidity_indicator``).
Amounts travel as decimal strings both ways; they are never floats here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptoj_actors.clock import parse_rfc3339
from cryptoj_actors.messages import Fill
from cryptoj_actors.model import (
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    VenueBalance,
)
from cryptoj_actors.money import LEDGER_CONTEXT, ZERO, to_decimal

#: Coinbase's final order statuses -> ours. Every other status (``OPEN``,
#: ``PENDING``, ``QUEUED``, ``CANCEL_QUEUED``, ...) is an order still live at
#: the venue: open, or partly filled when ``filled_size`` > 0.
_ENDED = {"FILLED": OrderStatus.FILLED, "CANCELLED": OrderStatus.CANCELLED,
          "EXPIRED": OrderStatus.EXPIRED, "FAILED": OrderStatus.REJECTED}


class ShapeError(ValueError):
    """An answer from the venue lacks a field or has a malformed one."""


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it.

    ``filled_base`` in base units (cumulative); ``fill_count`` the venue's
    ``number_of_fills`` (None when it gives none); ``detail`` the venue's
    reject or cancel reason when it gives one.
    """

    order_id: str
    client_order_id: str
    product_id: str
    status: OrderStatus
    filled_base: Decimal
    detail: str = ""
    fill_count: int | None = None


def _plain(value: Decimal) -> str:
    return format(value, "f")


def create_order_body(order: Order) -> dict[str, Any]:
    """The ``POST /orders`` body for ``order``.

    A market buy is sized in quote (``quote_size``), every other order in
    base (``base_size``). A stop-limit's direction follows its side: a sell
    stops on the way down (``STOP_DIRECTION_STOP_DOWN``), a buy on the way up.

    Raises:
        ValueError: the order lacks the size or price its type needs.
    """
    if order.order_type is OrderType.MARKET:
        if order.side is Side.BUY and order.quote_size is not None:
            config = {"market_market_ioc": {"quote_size": _plain(order.quote_size)}}
        elif order.base_size is not None:
            config = {"market_market_ioc": {"base_size": _plain(order.base_size)}}
        else:
            raise ValueError(f"{order.client_order_id}: a market order needs a size")
    else:
        if order.base_size is None or order.limit_price is None:
            raise ValueError(f"{order.client_order_id}: a {order.order_type.value} order needs "
                             f"base_size and limit_price")
        if order.order_type is OrderType.LIMIT:
            config = {"limit_limit_gtc": {"base_size": _plain(order.base_size),
                                          "limit_price": _plain(order.limit_price),
                                          "post_only": False}}
        else:
            if order.stop_price is None:
                raise ValueError(f"{order.client_order_id}: a stop-limit order needs stop_price")
            config = {"stop_limit_stop_limit_gtc": {
                "base_size": _plain(order.base_size), "limit_price": _plain(order.limit_price),
                "stop_price": _plain(order.stop_price),
                "stop_direction": "STOP_DIRECTION_STOP_DOWN" if order.side is Side.SELL
                else "STOP_DIRECTION_STOP_UP"}}
    return {"client_order_id": order.client_order_id, "product_id": order.product_id,
            "side": order.side.value, "order_configuration": config}


def create_order_result(answer: dict[str, Any]) -> tuple[str, str]:
    """From a ``POST /orders`` answer: ``(order_id, "")`` when the venue took
    the order, ``("", reason)`` when it refused it (``success: false``).

    Raises:
        ShapeError: neither a success nor an error response.
    """
    if answer.get("success") is True:
        ok = answer.get("success_response") or {}
        order_id = ok.get("order_id") or answer.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise ShapeError("create order: success without an order_id")
        return order_id, ""
    if answer.get("success") is False:
        err = answer.get("error_response") or {}
        parts = [str(err.get(k)) for k in ("error", "message", "error_details",
                                            "preview_failure_reason", "new_order_failure_reason")
                 if err.get(k) and "UNKNOWN" not in str(err.get(k))]
        reason = answer.get("failure_reason")
        if reason and "UNKNOWN" not in str(reason):
            parts.append(str(reason))
        return "", "; ".join(dict.fromkeys(parts)) or "refused by the venue (no reason given)"
    raise ShapeError("create order: the answer has no success field")


def _decimal(raw: Any, name: str) -> Decimal:
    if raw is None or raw == "":
        return ZERO
    try:
        value = to_decimal(str(raw), name)
    except ValueError as exc:
        raise ShapeError(str(exc)) from None
    if value < 0:
        raise ShapeError(f"{name} must be a non-negative number: {raw!r}")
    return value


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise ShapeError(f"missing {name}")
    return value


def parse_order(raw: dict[str, Any]) -> VenueOrder:
    """A ``GET /orders/historical/...`` order object as a :class:`VenueOrder`.

    Raises:
        ShapeError: a field is missing or malformed.
    """
    status_text = _text(raw, "status")
    filled = _decimal(raw.get("filled_size"), "filled_size")
    if status_text in _ENDED:
        status = _ENDED[status_text]
    elif status_text == "UNKNOWN_ORDER_STATUS":
        status = OrderStatus.UNKNOWN
    else:  # OPEN, PENDING, QUEUED, ...: and a status new to us is not an end either
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
    detail = ""
    for key in ("reject_message", "reject_reason", "cancel_message"):
        value = raw.get(key)
        if value and "UNKNOWN" not in str(value) and str(value) != "":
            detail = str(value)
            break
    count = raw.get("number_of_fills")
    try:
        fill_count = None if count in (None, "") else int(count)
    except (TypeError, ValueError):
        raise ShapeError(f"number_of_fills is not a whole number: {count!r}") from None
    return VenueOrder(order_id=_text(raw, "order_id"),
                      client_order_id=str(raw.get("client_order_id") or ""),
                      product_id=_text(raw, "product_id"), status=status, filled_base=filled,
                      detail=detail, fill_count=fill_count)


def parse_time_ns(text: str) -> int:
    """An RFC 3339 time as Unix nanoseconds (:func:`cryptoj_actors.clock.parse_rfc3339`).

    Raises:
        ShapeError: not such a time.
    """
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise ShapeError(str(exc)) from None


def parse_fill(raw: dict[str, Any], client_order_id: str) -> Fill:
    """A ``GET /orders/historical/fills`` entry as a :class:`Fill`.

    The fill id is the venue's ``entry_id`` (unique per fill; ``trade_id`` is
    the market trade it was part of). A size in quote (``size_in_quote``) is
    turned into base units at the fill price. ``commission`` is the fee, in
    quote. ``final`` is false: the order's end comes with its status.

    Raises:
        ShapeError: a field is missing or malformed.
    """
    price = _decimal(raw.get("price"), "price")
    size = _decimal(raw.get("size"), "size")
    if price <= 0 or size <= 0:
        raise ShapeError(f"fill {raw.get('entry_id')!r}: price and size must be positive")
    if raw.get("size_in_quote") is True:
        size = LEDGER_CONTEXT.divide(size, price)
    side = _text(raw, "side")
    if side not in ("BUY", "SELL"):
        raise ShapeError(f"fill side must be BUY or SELL: {side!r}")
    liquidity = {"MAKER": Liquidity.MAKER, "TAKER": Liquidity.TAKER}.get(
        str(raw.get("liquidity_indicator")), Liquidity.TAKER)
    return Fill(sender="executor", ts_ns=parse_time_ns(_text(raw, "trade_time")),
                fill_id=str(raw.get("entry_id") or _text(raw, "trade_id")),
                client_order_id=client_order_id, product_id=_text(raw, "product_id"),
                side=Side(side), base_size=size, price=price,
                fee=_decimal(raw.get("commission"), "commission"), liquidity=liquidity,
                final=False)


def parse_balances(accounts: Iterable[dict[str, Any]]) -> Iterator[VenueBalance]:
    """``GET /accounts`` entries as :class:`VenueBalance` (one per currency:
    ``available_balance`` plus ``hold`` is what the account holds).

    Raises:
        ShapeError: a balance is not a non-negative number.
    """
    for account in accounts:
        available = account.get("available_balance") or {}
        hold = account.get("hold") or {}
        currency = str(available.get("currency") or account.get("currency") or "")
        if currency:
            yield VenueBalance(currency=currency,
                               available=_decimal(available.get("value"), f"{currency} available"),
                               hold=_decimal(hold.get("value"), f"{currency} hold"))
