"""The search space of a sweep (``optimize --space SPACE.toml``).

A space names strategy parameters (``[strategy.params]``) and risk limits
(``[risk]``), each a range or a list of choices::

    [strategy.params]
    fast_span = { low = 96, high = 240, step = 24 }
    slow_span = { choices = [504, 672, 840] }
    [risk]
    max_drawdown = { low = 0.10, high = 0.30, step = 0.05 }

A range of integers (``low``, ``high`` and ``step`` integers) gives integers;
any other range gives numbers rounded to the places of its ``step`` (or
continuous, without one; ``log = true`` samples on a log scale). Both ends
are included. A risk limit is a fraction in the ledger's terms, so its value
becomes a ``Decimal`` of the same digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cryptoj_actors.config import Config, ConfigError, RiskConfig, read_toml

Number = int | float
Choice = bool | int | float | str


class Range(BaseModel):
    """``{ low = .., high = .., step = .. }``, both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    low: Number
    high: Number
    step: Number | None = None
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be greater than 0, got {self.step}")
        if self.log and (self.step is not None or self.low <= 0):
            raise ValueError("log needs low above 0 and no step")
        return self

    @property
    def integers(self) -> bool:
        return all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def grid(self) -> list[Number]:
        """Every value of a stepped range (a grid search's points).

        Raises:
            ValueError: the range has no step.
        """
        if self.step is None:
            raise ValueError("a grid needs a step in every range")
        low, step = Decimal(str(self.low)), Decimal(str(self.step))
        count = int((Decimal(str(self.high)) - low) / step) + 1
        values = [low + i * step for i in range(count)]
        return [int(v) if self.integers else float(v) for v in values]

    def suggest(self, trial: optuna.Trial, name: str) -> Number:
        if self.integers:
            return trial.suggest_int(name, self.low, self.high, step=self.step or 1)
        value = trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)
        if self.step is None:
            return value
        places = Decimal(str(self.step)).as_tuple().exponent
        return float(Decimal(str(value)).quantize(Decimal(1).scaleb(places)))


class Choices(BaseModel):
    """``{ choices = [..] }``: one of these values."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    choices: list[Choice] = Field(min_length=1)

    def grid(self) -> list[Choice]:
        return list(self.choices)

    def suggest(self, trial: optuna.Trial, name: str) -> Choice:
        return trial.suggest_categorical(name, self.choices)


Dimension = Range | Choices
#: The tables of a space file, and the prefix of their parameters' names.
TABLES = {("strategy", "params"): "strategy.", ("risk",): "risk."}


class SpaceError(ValueError):
    """A space file that cannot be read, parsed or used (one line naming it)."""


#: The parameter names of a trial: ``strategy.fast_span``, ``risk.max_drawdown``.
STRATEGY, RISK = TABLES[("strategy", "params")], TABLES[("risk",)]


def _dimension(where: str, value: object) -> Dimension:
    """A range or a list of choices (told apart by ``choices``).

    Raises:
        SpaceError: malformed (without the file's name, which the caller adds).
    """
    if not isinstance(value, dict):
        raise SpaceError(f"{where}: must be a table {{ low = .., high = .. }} or "
                         f"{{ choices = [..] }}")
    model = Choices if "choices" in value else Range
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise SpaceError(f"{where}{'.' + key if key else ''}: {message}") from None


def _dimensions(data: dict) -> dict[str, Dimension]:
    known = {"strategy", "risk"}
    if unknown := sorted(set(data) - known):
        raise SpaceError(f"{unknown[0]}: not a table of a space (known: strategy.params, risk)")
    if unknown := sorted(set(data.get("strategy", {})) - {"params"}):
        raise SpaceError(f"strategy.{unknown[0]}: not a table of a space (known: "
                         "strategy.params)")
    found: dict[str, Dimension] = {}
    for path, prefix in TABLES.items():
        table: object = data
        for part in path:
            table = table.get(part, {}) if isinstance(table, dict) else None
        if not isinstance(table, dict):
            raise SpaceError(f"{'.'.join(path)}: must be a table")
        for name, value in table.items():
            found[prefix + name] = _dimension(f"{'.'.join(path)}.{name}", value)
    return found


class SearchSpace:
    """The dimensions of a sweep, by parameter name (``strategy.X``, ``risk.Y``).

    Args:
        dimensions: name -> :class:`Range` or :class:`Choices`.
        source: the file, for messages.

    Raises:
        SpaceError: no dimension, or a risk name that is no risk limit.
    """

    def __init__(self, dimensions: Mapping[str, Dimension], source: str = "<inline>") -> None:
        self.dimensions = dict(dimensions)
        self.source = source
        if not self.dimensions:
            raise SpaceError(f"space {source}: names no parameter ([strategy.params] or [risk])")
        limits = {f.name for f in fields(RiskConfig) if not f.name.startswith("_")}
        for name in self.dimensions:
            if name.startswith(RISK) and name[len(RISK):] not in limits:
                raise SpaceError(f"space {source}: {name}: not a risk limit (known: "
                                 f"{', '.join(sorted(limits))})")

    @classmethod
    def read(cls, path: Path) -> SearchSpace:
        """Read and check ``path``.

        Raises:
            SpaceError: the file cannot be read, is not TOML, or a dimension
                is malformed (the message names the key).
        """
        try:
            data = read_toml(path, "space")
        except ConfigError as exc:
            raise SpaceError(str(exc)) from None
        try:
            dimensions = _dimensions(data)
        except SpaceError as exc:
            raise SpaceError(f"space {path}: {exc}") from None
        return cls(dimensions, str(path))

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """One point of the space, asked of Optuna's ``trial``."""
        return {name: dim.suggest(trial, name) for name, dim in self.dimensions.items()}

    def grid(self) -> dict[str, list[Any]]:
        """Every point of every dimension, for Optuna's grid sampler.

        Raises:
            SpaceError: a range without a step.
        """
        try:
            return {name: dim.grid() for name, dim in self.dimensions.items()}
        except ValueError as exc:
            raise SpaceError(f"space {self.source}: {exc}") from None

    def first(self) -> dict[str, Any]:
        """A point of the space (every dimension's low end or first choice)."""
        return {name: dim.choices[0] if isinstance(dim, Choices) else dim.low
                for name, dim in self.dimensions.items()}


def apply(config: Config, params: Mapping[str, Any]) -> Config:
    """``config`` with a trial's ``params`` in place.

    Raises:
        ValueError: a risk value the risk config refuses (pydantic's message).
    """
    strategy = {k[len(STRATEGY):]: v for k, v in params.items() if k.startswith(STRATEGY)}
    risk = {k[len(RISK):]: Decimal(str(v)) if isinstance(v, float) else v
            for k, v in params.items() if k.startswith(RISK)}
    if strategy:
        config = replace(config, strategy=replace(
            config.strategy, params={**config.strategy.params, **strategy}))
    if risk:
        config = replace(config, risk=replace(config.risk, **risk))
    return config
