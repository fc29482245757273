"""How strategies plug in.

A strategy is a plain object with one method, :meth:`Strategy.on_batch`: it
sees every market batch, in order, and answers with the target weights it
wants (:class:`~cryptoj_actors.messages.OrderIntent`, one per product it has
an opinion on). It never sees the ledger and never sizes orders: risk turns a
target weight into an order against the current position, inside the limits.
That keeps a strategy a pure function of market data, which is what makes a
replay deterministic and lets the strategy run ahead of the order path.

A strategy is named in the config, ``[strategy] name = "..."``: a built-in
name, or ``package.module:ClassName`` for your own. Its constructor receives
``products`` (the traded product ids, in order) and every key of
``[strategy.params]`` as keyword arguments.

The parameters are checked before the constructor runs. A strategy may
declare them as a class attribute ``Params``, a pydantic dataclass or model
(fields with types, defaults and constraints, as the sections of
:mod:`cryptoj_actors.config` are): the keys are validated by it and the
constructor gets the keys given, with the values as validated. Without
``Params`` the keys must be keyword parameters of the constructor (any key, if
it takes ``**kwargs``). Either way an unknown or bad key is a one-line
:class:`~cryptoj_actors.config.ConfigError` naming the file and
``strategy.params.<key>``; a ``ValueError`` the constructor raises itself
should name the parameter too (:class:`ParamError` does).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import ValidationError

from cryptoj_actors.config import ConfigError, StrategyConfig, explain, unknown_key
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import OrderIntent

P = TypeVar("P")


@runtime_checkable
class Strategy(Protocol):
    """The strategy interface. A strategy may also say how many bars it needs
    before its first decision, ``warmup_bars`` (read with :func:`warmup_bars`;
    none said is 0)."""

    def on_batch(self, batch: MarketBatch) -> Sequence[OrderIntent]:
        """Target weights after ``batch``; an empty sequence keeps the current ones."""
        ...


def warmup_bars(strategy: object) -> int:
    """The bars (bar times) ``strategy`` needs before it decides anything."""
    value = getattr(strategy, "warmup_bars", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class ParamError(ValueError):
    """A strategy parameter is refused. ``str(err)`` is ``<key>: <reason>``."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}" if key else reason)
        self.key, self.reason = key, reason


def check_params(model: type[P], params: Mapping[str, Any]) -> P:
    """``params`` validated by ``model`` (a pydantic dataclass or model).

    Raises:
        ParamError: a key ``model`` has no field for, or a value it refuses.
    """
    known = getattr(model, "__pydantic_fields__", {})
    if unknown := sorted(set(params) - set(known)):
        raise ParamError(unknown[0], unknown_key(known))
    try:
        return model(**params)
    except ValidationError as exc:
        raise ParamError(*explain(exc, model)) from None


def _check_names(cls: type, params: Mapping[str, Any]) -> None:
    """Without ``Params``: every key must be a keyword parameter of ``cls``."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    keywords = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return
    known = {name for name, p in signature.parameters.items() if p.kind in keywords} - {"products"}
    if unknown := sorted(set(params) - known):
        raise ParamError(unknown[0], unknown_key(known))


def _builtins() -> dict[str, type]:
    from cryptoj_actors.strategy.trend import TrendRiskParity

    return {"trend_risk_parity": TrendRiskParity}


#: A span given as a duration: a number and a unit (s, m, h, d, w).
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def spans_in_bars(params: Mapping[str, Any], bar_interval_s: int | None) -> dict[str, Any]:
    """``params`` with each ``*_span`` given as a duration (``"7d"``, ``"90m"``)
    turned into bars of ``bar_interval_s`` seconds, so that one config serves
    hourly and minute data; every other value as given.

    Raises:
        ParamError: a duration that is not a whole number of bars (or no
            bar interval to count it in).
    """
    out = dict(params)
    for key, value in params.items():
        if not (key.endswith("_span") and isinstance(value, str)):
            continue
        match = _DURATION.fullmatch(value.strip())
        if match is None:
            raise ParamError(key, f"a span is a number of bars or a duration like \"7d\", "
                                  f"\"36h\" or \"90m\", got {value!r}")
        if bar_interval_s is None:
            raise ParamError(key, f"{value} needs the bar interval to count it in bars")
        seconds = Decimal(match.group(1)) * _UNIT_S[match.group(2)]
        bars = seconds / bar_interval_s
        if bars != bars.to_integral_value() or bars < 1:
            raise ParamError(key, f"{value} is {bars.normalize()} bars of {bar_interval_s} s: "
                                  "not a whole number of bars")
        out[key] = int(bars)
    return out


def load_strategy(config: StrategyConfig, products: Sequence[str],
                  source: str = "<inline>", bar_interval_s: int | None = None) -> Strategy:
    """Build the configured strategy for ``products``; ``source`` is the
    config file, for the messages (``Config.source``); ``bar_interval_s``
    (seconds) counts spans given as durations (:func:`spans_in_bars`).

    Raises:
        ConfigError: the name cannot be imported, is not a strategy, or a
            parameter is refused.
    """
    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError(f"config {source}: {key}: {reason}")

    cls = _builtins().get(config.name)
    if cls is None:
        module_name, _, class_name = config.name.partition(":")
        if not class_name:
            known = ", ".join(sorted(_builtins()))
            raise fail("strategy.name", f"unknown strategy {config.name!r} "
                                        f"(built-in: {known}; or package.module:ClassName)")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            raise fail("strategy.name", f"cannot import {config.name}: {exc}") from None
    model = getattr(cls, "Params", None)
    try:
        given = spans_in_bars(config.params, bar_interval_s)
        if model is None:
            _check_names(cls, given)
            params = given
        else:
            checked = check_params(model, given)
            params = {key: getattr(checked, key) for key in given}
        strategy = cls(products=tuple(products), **params)
    except (ParamError, ValidationError) as exc:  # the latter: a constructor's own pydantic
        key, reason = (exc.key, exc.reason) if isinstance(exc, ParamError) else explain(exc, cls)
        raise fail(f"strategy.params.{key}" if key else "strategy.params", reason) from None
    except (TypeError, ValueError) as exc:
        raise fail("strategy.params", str(exc)) from None
    if not isinstance(strategy, Strategy):
        raise fail("strategy.name", f"{config.name} has no on_batch(batch) method")
    return strategy
