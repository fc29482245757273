"""The field types of the config sections: each a type and its constraint
(``Annotated[Dec, Fraction]``), declared once and read by pydantic.

:func:`rule` makes a constraint whose refusal is one line naming the reason;
:data:`SECTION` is every section's pydantic config (unknown keys refused,
defaults checked). Used by :mod:`cryptoj_actors.config` and by a strategy's
own parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BeforeValidator,
    ConfigDict,
    Strict,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from cryptoj_actors.model import PRODUCT_ID

#: Bounds ``feed.credit_window``: the window bounds every mailbox of the
#: pipeline, and a huge one only stores batches in the strategy's mailbox.
MAX_CREDIT_WINDOW = 1024
CHANNELS = ("level2", "market_trades", "ticker", "candles", "heartbeats", "status")

def refuse(reason: str, value: Any = None) -> PydanticCustomError:
    """What a check raises: ``reason``, and the value read (shown if Decimal)."""
    return PydanticCustomError("refused", "{reason}", {"reason": reason, "value": value})


def rule(ok: Callable[[Any], object], reason: str, *, before: bool = False) -> Any:
    """A constraint, ``Annotated[type, rule(...)]``: refuses what ``ok`` finds
    false; ``before``: checks the value given, before the type reads it."""
    def check(value: Any) -> Any:
        if not ok(value):
            raise refuse(reason, value)
        return value
    return BeforeValidator(check) if before else AfterValidator(check)


def one_of(*choices: str) -> AfterValidator:
    return rule(lambda v: v in choices, f"must be one of {', '.join(choices)}")


def not_above(field: str, limit: str, shown: str | None = None) -> Any:
    """A section's validator: ``field`` must not exceed the field ``limit``
    (declared before it); ``shown`` names the limit in the error."""

    def check(cls: type, value: Any, info: ValidationInfo) -> Any:
        top = info.data.get(limit)
        if top is not None and value > top:
            raise refuse(f"must not exceed {shown or limit} ({top})", value)
        return value

    return field_validator(field)(check)


Int = Annotated[int, Strict()]  # not a bool, not a float
Float = Annotated[float, Strict(), AllowInfNan(False)]  # an int or a float, finite
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
# A finite float through its shortest repr: the number the operator wrote.
Dec = Annotated[Decimal, AllowInfNan(False), BeforeValidator(
    lambda v: repr(v) if isinstance(v, float) and math.isfinite(v) else v)]
Dir = Annotated[Path, rule(lambda v: str(v).strip(), "must not be empty", before=True)]

Positive = rule(lambda v: v > 0, "must be greater than 0")
NonNegative = rule(lambda v: v >= 0, "must not be negative")
Fraction = rule(lambda v: 0 < v <= 1, "must be a fraction in (0, 1] (0.10 means 10 %)")
FeeRate = rule(lambda v: 0 <= v < 1, "must be a fraction in [0, 1) (0.006 means 0.6 %)")
AnnualRate = rule(lambda v: -1 < v < 1, "must be an annual rate as a fraction (0.04 means 4 %)")
NonEmpty = rule(lambda v: v.strip(), "must not be empty")
Port = rule(lambda v: 0 <= v <= 65535, "must be a TCP port from 0 to 65535 (0: any free port)")
PortOrOff = rule(lambda v: 0 <= v <= 65535, "must be a TCP port from 1 to 65535, or 0 (off)")
Window = rule(lambda v: 1 <= v <= MAX_CREDIT_WINDOW, f"must be from 1 to {MAX_CREDIT_WINDOW}")
WsUrl = rule(lambda v: v.startswith(("ws://", "wss://")), "must be a ws:// or wss:// URL")
HttpUrl = rule(lambda v: v.startswith(("http://", "https://")),
               "must be an http:// or https:// URL")

ProductId = Annotated[str, rule(lambda v: isinstance(v, str) and PRODUCT_ID.fullmatch(v),
                                "product ids look like BTC-USD", before=True)]
ProductIds = Annotated[tuple[ProductId, ...], rule(len, "must name at least one product"),
                       rule(lambda v: len(set(v)) == len(v), "lists a product twice")]
Channel = Annotated[Str, rule(lambda v: v in CHANNELS,
                              f"unknown channel (known: {', '.join(CHANNELS)})")]
Channels = Annotated[tuple[Channel, ...], rule(
    lambda v: "heartbeats" in v,
    "must include heartbeats (the connection's liveness and sequence check)")]

#: Every section: unknown keys are refused, and defaults are checked too (so
#: that a rule across two fields holds when one of them is left out).
SECTION = ConfigDict(extra="forbid", validate_default=True)
