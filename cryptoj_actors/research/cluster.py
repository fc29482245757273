"""Trials on Ray: an embedded local instance by default, or a cluster.

The bars are parsed once, by the driver, and put once in Ray's object store;
each worker process fetches them on its first trial and keeps them for the
next (:data:`_BARS`), so a trial costs its replay, not a parse or a copy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import ray

from cryptoj_actors.config import Config
from cryptoj_actors.marketdata.bars.align import AlignedBars
from cryptoj_actors.research.folds import Window
from cryptoj_actors.research.trial import TrialResult, evaluate

#: A worker process's bars, by object id: fetched from the store once.
_BARS: dict[str, AlignedBars] = {}


class TrialError(Exception):
    """A trial that raised instead of giving a result (its one-line cause)."""


def _trial(bars: list[ray.ObjectRef], config: Config, start: int, stop: int,
           params: Mapping[str, Any]) -> TrialResult:
    # The ref comes in a list so that Ray hands it over unresolved: a worker
    # resolves it once and keeps the bars (see the module's docstring).
    (ref,) = bars
    aligned = _BARS.get(ref.hex())
    if aligned is None:
        logging.getLogger().setLevel(logging.ERROR)  # a trial's warnings are its report's
        aligned = _BARS.setdefault(ref.hex(), ray.get(ref))
    return evaluate(Window(start, stop).of(aligned), config, params)


class RayCluster:
    """Runs trials on Ray, at most :attr:`slots` at a time.

    Args:
        aligned: the bars every trial cuts its window from.
        config: the base config of every trial.
        address: None for an embedded local instance, else ``auto`` or
            ``ray://HOST:PORT`` (an existing cluster).
        workers: local CPUs for the embedded instance (None: every core).

    Raises:
        ConnectionError: the cluster at ``address`` cannot be reached.
    """

    def __init__(self, aligned: AlignedBars, config: Config, *, address: str | None = None,
                 workers: int | None = None) -> None:
        try:
            ray.init(address=address, num_cpus=workers if address is None else None,
                     include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as exc:  # noqa: BLE001 - Ray's own errors, said in one line
            raise ConnectionError(f"Ray at {address or 'a local instance'}: {exc}") from None
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._bars = [ray.put(aligned)]
        self._config = ray.put(config)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_trial)

    def submit(self, window: Window, params: Mapping[str, Any]) -> ray.ObjectRef:
        return self._remote.remote(self._bars, self._config, window.start, window.stop,
                                   dict(params))

    def next_done(self, pending: Sequence[ray.ObjectRef],
                  timeout_s: float) -> ray.ObjectRef | None:
        """The first of ``pending`` to finish, or None after ``timeout_s`` seconds."""
        done, _ = ray.wait(list(pending), num_returns=1, timeout=timeout_s)
        return done[0] if done else None

    def result(self, ref: ray.ObjectRef) -> TrialResult:
        """The trial's result.

        Raises:
            TrialError: the trial raised (its exception's one line).
        """
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            raise TrialError(f"{type(cause).__name__}: {cause}".splitlines()[0]) from None

    def close(self) -> None:
        ray.shutdown()
