"""A sweep: Optuna asks for points of the space, each is replayed as a
trial, and walk-forward folds judge the best on data they have not seen.

Each fold is an Optuna study in the sweep's storage (SQLite in the sweep's
folder), so an interrupted sweep resumes where it stopped: finished trials
are kept, and a trial that was running when it stopped is asked again with
the same point. A sweep's fingerprint (space, data, config, objective,
folds, sampler, seed) is kept with it; another sweep under the same name is
refused rather than mixed in.

The ask-and-tell interface keeps :attr:`RayCluster.slots` trials in flight;
TPE runs with ``constant_liar`` so that the points in flight are not asked
twice.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from cryptoj_actors.research.folds import Fold, Window
from cryptoj_actors.research.space import SearchSpace
from cryptoj_actors.research.trial import TrialResult

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "grid")
#: The trial attribute that says a trial was told: one without it was
#: running when the sweep stopped.
OUTCOME = "outcome"
#: The trial attribute that keeps its point as the space gave it (Optuna's
#: own copy of a stepped float is not rounded to the step).
POINT = "point"
#: Out-of-sample below this share of in-sample (on average) is the
#: overfitting warning; so is a positive in-sample mean judged negative.
OVERFIT_SHARE = 0.5


class Cluster(Protocol):
    slots: int

    def submit(self, window: Window, params: dict[str, Any]) -> Any: ...
    def next_done(self, pending: list[Any], timeout_s: float) -> Any | None: ...
    def result(self, ref: Any) -> TrialResult: ...


class SweepError(ValueError):
    """A sweep that cannot start (one line naming why)."""


class SweepInterrupted(Exception):
    """The sweep's stop was asked for (Ctrl-C): what finished is kept, and
    the trials in flight are asked again when the sweep resumes."""


#: Seconds between looks at the stop switch while trials run.
STOP_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class Settings:
    """``trials`` per fold; ``top``: the best in-sample points judged out-of-sample
    (the folds themselves are :class:`Sweep`'s)."""

    objective: str
    trials: int
    top: int = 3
    sampler: str = "tpe"
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Row:
    """One replay of the sweep: ``sample`` is ``in`` (a tuning trial) or
    ``out`` (a tuned point judged on the next window); ``trial`` is the
    in-sample trial's number in its fold; ``value`` the objective (None:
    undefined, or the trial failed with ``error``); ``reused``: a point
    asked again, given its earlier result instead of a second replay."""

    fold: int
    sample: str
    trial: int
    params: dict[str, Any]
    value: float | None
    result: TrialResult | None
    error: str = ""
    in_sample: float | None = None  # an ``out`` row: its point's in-sample value
    reused: bool = False


@dataclass
class Outcome:
    """Every row, and the ranking: out-of-sample rows best first (or, with no
    folds, the in-sample ones)."""

    rows: list[Row] = field(default_factory=list)

    @property
    def ranking(self) -> list[Row]:
        judged = [r for r in self.rows if r.sample == "out"] or \
            [r for r in self.rows if r.sample == "in"]
        return sorted((r for r in judged if r.value is not None),
                      key=lambda r: (-r.value, r.fold, r.trial))

    def gap(self) -> tuple[float, float] | None:
        """(mean in-sample, mean out-of-sample) objective of the judged points;
        None without folds."""
        pairs = [(r.in_sample, r.value) for r in self.rows if r.sample == "out"
                 and r.value is not None and r.in_sample is not None]
        if not pairs:
            return None
        return statistics.fmean(p[0] for p in pairs), statistics.fmean(p[1] for p in pairs)

    def overfit(self) -> bool:
        gap = self.gap()
        if gap is None:
            return False
        inside, outside = gap
        return inside > 0 and (outside < 0 or outside < OVERFIT_SHARE * inside)


def sampler_of(settings: Settings, space: SearchSpace) -> optuna.samplers.BaseSampler:
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=settings.seed)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=settings.seed)
    return optuna.samplers.TPESampler(seed=settings.seed, constant_liar=True)


class Sweep:
    """Tunes each fold, then judges its best points out-of-sample.

    Args:
        settings: objective, trials, folds, sampler.
        space: the dimensions.
        folds: the walk-forward windows (:func:`~cryptoj_actors.research.folds.folds`).
        storage: Optuna's storage URL (``sqlite:///...``).
        fingerprint: what makes this sweep this one (see the module's docstring).
        cluster: where trials run.
        on_row: called with every row as it comes (the results table, the progress).
        stop: set it to stop the sweep (:class:`SweepInterrupted`) at the next
            look, within :data:`STOP_POLL_S` (a signal handler sets it: a
            KeyboardInterrupt could land in any library's code).

    Raises:
        SweepError: the storage holds another sweep under this name.
    """

    def __init__(self, settings: Settings, space: SearchSpace, folds: list[Fold], storage: str,
                 fingerprint: str, cluster: Cluster,
                 on_row: Callable[[Row], None] = lambda row: None,
                 stop: threading.Event | None = None) -> None:
        self.settings, self.space, self.folds = settings, space, folds
        self.cluster, self.on_row = cluster, on_row
        self.stop = stop or threading.Event()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.studies = []
        for fold in folds:
            study = optuna.create_study(study_name=f"fold-{fold.number}", storage=storage,
                                        sampler=sampler_of(settings, space),
                                        direction="maximize", load_if_exists=True)
            known = study.user_attrs.get("fingerprint")
            if known is None:
                study.set_user_attr("fingerprint", fingerprint)
            elif known != fingerprint:
                raise SweepError("this sweep's folder holds another sweep (another space, "
                                 "data, config, objective, folds, sampler or seed): give "
                                 "another --name, or remove the folder")
            self.studies.append(study)

    def trials_wanted(self) -> int:
        """Trials per fold: ``settings.trials``, at most the grid's size."""
        if self.settings.sampler != "grid":
            return self.settings.trials
        return min(self.settings.trials, math.prod(len(v) for v in self.space.grid().values()))

    def run(self) -> Outcome:
        outcome = Outcome()
        for fold, study in zip(self.folds, self.studies, strict=True):
            outcome.rows.extend(self._tune(fold, study))
            if fold.out_of_sample is not None:
                outcome.rows.extend(self._judge(fold, study))
        return outcome

    # --- in-sample ---------------------------------------------------------------------

    def _tune(self, fold: Fold, study: optuna.Study) -> list[Row]:
        rows = [self._row_of(fold, t) for t in study.get_trials(deepcopy=False)
                if OUTCOME in t.user_attrs]
        for row in rows:
            self.on_row(row)
        for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(stale.number, state=TrialState.FAIL)  # interrupted: asked again
            study.enqueue_trial(stale.params)
        wanted = self.trials_wanted()
        pending: dict[Any, tuple[optuna.Trial, dict[str, Any]]] = {}
        while len(rows) + len(pending) < wanted or pending:
            while len(pending) < self.cluster.slots and len(rows) + len(pending) < wanted:
                trial = study.ask()
                params = self.space.suggest(trial)
                known = next((r.result for r in rows if r.params == params and r.result), None)
                if known is not None:  # a replay is deterministic: the same point, the same result
                    row = self._record(fold, study, trial, params, known, reused=True)
                    rows.append(row)
                    self.on_row(row)
                    continue
                pending[self.cluster.submit(fold.in_sample, params)] = (trial, params)
            if not pending:
                continue
            done = self._next_done(pending)
            trial, params = pending.pop(done)
            row = self._told(fold, study, trial, params, done)
            rows.append(row)
            self.on_row(row)
        return rows

    def _next_done(self, pending: dict[Any, Any]) -> Any:
        """The first trial in flight to finish.

        Raises:
            SweepInterrupted: the stop switch is set.
        """
        while True:
            if self.stop.is_set():
                raise SweepInterrupted
            done = self.cluster.next_done(list(pending), STOP_POLL_S)
            if done is not None:
                return done

    def _told(self, fold: Fold, study: optuna.Study, trial: optuna.Trial,
              params: dict[str, Any], ref: Any) -> Row:
        try:
            result = self.cluster.result(ref)
        except Exception as exc:  # noqa: BLE001 - a trial's failure is its row, not the sweep's
            log.error("fold %d trial %d failed: %s", fold.number, trial.number, exc)
            trial.set_user_attr(OUTCOME, f"error: {exc}")
            study.tell(trial, state=TrialState.FAIL)
            return Row(fold.number, "in", trial.number, params, None, None, str(exc))
        return self._record(fold, study, trial, params, result)

    def _record(self, fold: Fold, study: optuna.Study, trial: optuna.Trial,
                params: dict[str, Any], result: TrialResult, reused: bool = False) -> Row:
        value = result.objective(self.settings.objective)
        trial.set_user_attr(POINT, params)
        trial.set_user_attr("result", result.as_dict())
        trial.set_user_attr("reused", reused)
        trial.set_user_attr(OUTCOME, result.status)
        if value is None or math.isnan(value):
            study.tell(trial, state=TrialState.FAIL)
            value = None
        else:
            study.tell(trial, value)
        return Row(fold.number, "in", trial.number, params, value, result, reused=reused)

    def _row_of(self, fold: Fold, trial: optuna.trial.FrozenTrial) -> Row:
        """A trial an earlier (interrupted) sweep finished."""
        kept = trial.user_attrs.get("result")
        result = TrialResult(**kept) if kept else None
        error = trial.user_attrs[OUTCOME] if result is None else ""
        value = trial.value if trial.state is TrialState.COMPLETE else None
        return Row(fold.number, "in", trial.number, point_of(trial), value, result,
                   error.removeprefix("error: "), reused=trial.user_attrs.get("reused", False))

    # --- out-of-sample -----------------------------------------------------------------

    def _judge(self, fold: Fold, study: optuna.Study) -> list[Row]:
        best = sorted((t for t in study.get_trials(deepcopy=False, states=(
            TrialState.COMPLETE,))), key=lambda t: (-t.value, t.number))
        chosen, seen = [], set()
        for trial in best:
            key = tuple(sorted(point_of(trial).items()))
            if key not in seen:
                seen.add(key)
                chosen.append(trial)
            if len(chosen) == self.settings.top:
                break
        pending = {self.cluster.submit(fold.out_of_sample, point_of(t)): t for t in chosen}
        rows = []
        while pending:
            done = self._next_done(pending)
            trial = pending.pop(done)
            try:
                result = self.cluster.result(done)
                value = result.objective(self.settings.objective)
                row = Row(fold.number, "out", trial.number, point_of(trial), value, result,
                          in_sample=trial.value)
            except Exception as exc:  # noqa: BLE001 - as in _told
                row = Row(fold.number, "out", trial.number, point_of(trial), None, None,
                          str(exc), in_sample=trial.value)
            rows.append(row)
            self.on_row(row)
        return sorted(rows, key=lambda r: r.trial)


def point_of(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A told trial's point as the space gave it."""
    return dict(trial.user_attrs.get(POINT, trial.params))


def storage_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'study.sqlite3'}"
