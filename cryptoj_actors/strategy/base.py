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
``[strategy.params]`` as keyword arguments; a bad parameter should raise
``ValueError`` with a message naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cryptoj_actors.config import ConfigError, StrategyConfig
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import OrderIntent


@runtime_checkable
class Strategy(Protocol):
    """The strategy interface."""

    def on_batch(self, batch: MarketBatch) -> Sequence[OrderIntent]:
        """Target weights after ``batch``; an empty sequence keeps the current ones."""
        ...


def _builtins() -> dict[str, type]:
    from cryptoj_actors.strategy.trend import TrendRiskParity

    return {"trend_risk_parity": TrendRiskParity}


def load_strategy(config: StrategyConfig, products: Sequence[str]) -> Strategy:
    """Build the configured strategy for ``products``.

    Raises:
        ConfigError: the name cannot be imported, is not a strategy, or a
            parameter is refused.
    """
    cls = _builtins().get(config.name)
    if cls is None:
        module_name, _, class_name = config.name.partition(":")
        if not class_name:
            known = ", ".join(sorted(_builtins()))
            raise ConfigError(f"config: strategy.name: unknown strategy {config.name!r} "
                              f"(built-in: {known}; or package.module:ClassName)")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            raise ConfigError(f"config: strategy.name: cannot import {config.name}: {exc}") from None
    try:
        strategy = cls(products=tuple(products), **config.params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: strategy.params: {exc}") from None
    if not isinstance(strategy, Strategy):
        raise ConfigError(f"config: strategy.name: {config.name} has no on_batch(batch) method")
    return strategy
