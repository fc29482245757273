"""Wiring: builds the actors of one run and hands them to the supervisor.

The same system runs live and in replay; only the market source differs
(DESIGN.md section 8). Market data flows feed -> strategy (targets) and
feed -> executor (the venue: the paper exchange matches, Coinbase is
polled) -> portfolio (marks) -> risk, which joins each batch's snapshot with
the strategy's targets; orders flow risk -> portfolio (reserve) -> executor ->
portfolio (fills). The executor returns the feed its credit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pykka

from cryptoj_actors.actors.admin import AdminActor
from cryptoj_actors.actors.executor import ExecutorActor
from cryptoj_actors.actors.feed import FeedActor
from cryptoj_actors.actors.health import HealthActor
from cryptoj_actors.actors.notifier import NotifierActor
from cryptoj_actors.actors.portfolio import PortfolioActor
from cryptoj_actors.actors.risk import RiskActor
from cryptoj_actors.actors.strategy import StrategyActor
from cryptoj_actors.actors.supervisor import START_ORDER, ChildSpec, SupervisorActor
from cryptoj_actors.adapters.coinbase.credentials import Credentials
from cryptoj_actors.adapters.coinbase.execution import CoinbaseExchange
from cryptoj_actors.adapters.coinbase.rest import RestClient
from cryptoj_actors.adapters.coinbase.user_channel import UserChannel
from cryptoj_actors.backoff import Backoff
from cryptoj_actors.config import Config
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.execution.paper import PaperExchange
from cryptoj_actors.execution.venue import Venue
from cryptoj_actors.execution.worker import VenueWorker
from cryptoj_actors.ids import OrderIds
from cryptoj_actors.marketdata.history import Warmup
from cryptoj_actors.marketdata.source import MarketSource
from cryptoj_actors.portfolio.ledger import Ledger
from cryptoj_actors.report.metrics import periods_per_year
from cryptoj_actors.report.results import RunResults
from cryptoj_actors.risk.policy import RiskPolicy
from cryptoj_actors.runtime import RunInfo, Runtime
from cryptoj_actors.strategy.base import Strategy, load_strategy
from cryptoj_actors.supervision.restart import RestartType

log = logging.getLogger(__name__)


class TradingSystem:
    """One running system: build, :meth:`start`, :meth:`wait`, :meth:`stop`.

    Args:
        config: the validated configuration.
        run: identity and folders of this run.
        source: makes a fresh market source (a replay or a live feed); a
            restarted feed gets a new one.
        strategy: a ready strategy, or None to build the configured one.
        credentials: the CDP key, when ``run.venue`` is ``coinbase``.
        warmup: live, ``load(now_ns)`` gives the strategy's warm-up; each
            generation of the strategy is warmed by it, the first with
            ``first_warmup`` when given (the one the start loaded and checked).

    Raises:
        ValueError: a Coinbase run without credentials.
    """

    def __init__(self, config: Config, run: RunInfo, source: Callable[[], MarketSource],
                 strategy: Strategy | None = None, credentials: Credentials | None = None,
                 warmup: Callable[[int], Warmup] | None = None,
                 first_warmup: Warmup | None = None) -> None:
        if run.venue == "coinbase" and credentials is None:
            raise ValueError("trading on Coinbase needs an API key")
        self.credentials = credentials
        self.rt = Runtime(config=config, run=run)
        self.source = source
        first = source()
        self.products = tuple(first.products)
        self.period_ns = first.period_ns  # what one batch covers (nominal when event-driven)
        self.periods_per_year = periods_per_year(first.period_ns)
        #: What a strategy's spans are counted in: live, the bars cut from
        #: trades; in replay, the recorded bars (one batch each).
        self.bar_interval_s = (config.feed.bar_interval_s if run.mode == "live"
                               else first.period_ns // 1_000_000_000)
        self._strategy = strategy
        self._warmup = warmup
        self._first_warmup = first_warmup
        self.supervisor: pykka.ActorRef[Any] | None = None

    def specs(self) -> list[ChildSpec]:
        """The child specs, in start order.

        Health, the notifier (live only: a replay alerts nobody) and admin
        hold no trading state: restarted alone, with backoff.

        The pipeline (portfolio, executor, risk, strategy, feed) is one state
        machine fed by one stream: a failure of any of them restarts all of
        it (``rest_for_one`` from the portfolio), with backoff, within the
        restart budget (a spent budget halts). In replay it runs again from
        the first batch: being deterministic it rebuilds the same ledger, and
        the journal keeps every order and fill once (it stops the run if they
        differ). Live, the new generation starts as a new process would: the
        portfolio rebuilds the ledger from the journal, the executor hands
        the venue the journal's open orders (the paper exchange rests them
        again, Coinbase looks them up and reconciles), risk reloads its saved
        state, the strategy warms again, and the feed connects anew. A
        rebuild that fails is a failure of its own, restarted within the
        same budget.
        """
        cfg = self.rt.config
        timeout = cfg.supervisor.shutdown_timeout_s
        products = self.products
        deterministic = self.rt.run.mode == "replay"

        def health(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            return HealthActor.start(rt, gen)

        def portfolio(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            ledger = Ledger(cfg.starting_cash, cfg.risk.max_position_fraction)
            return PortfolioActor.start(rt, gen, ledger=ledger, products=products,
                                        periods_per_year=self.periods_per_year)

        def executor(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            return ExecutorActor.start(rt, gen, exchange=self._venue(rt))

        def risk(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            policy = RiskPolicy(cfg.risk, cfg.rules, OrderIds(deterministic))
            return RiskActor.start(rt, gen, policy=policy)

        def strategy(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            chosen = self._strategy if gen == 0 and self._strategy is not None else \
                load_strategy(cfg.strategy, products, cfg.source, self.bar_interval_s)
            return StrategyActor.start(rt, gen, strategy=chosen, warmup=self._warm_up(gen))

        def feed(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            return FeedActor.start(rt, gen, source=self.source(),
                                   subscribers=("strategy", "executor"))

        def admin(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            return AdminActor.start(rt, gen)

        def notifier(rt: Runtime, gen: int) -> pykka.ActorRef[Any]:
            return NotifierActor.start(rt, gen)

        factories = {"health": health, "portfolio": portfolio, "executor": executor,
                     "risk": risk, "strategy": strategy, "feed": feed, "admin": admin}
        if not deterministic:
            factories["notifier"] = notifier

        def spec(role: str) -> ChildSpec:
            if role in ("health", "notifier", "admin"):
                return ChildSpec(role=role, factory=factories[role],
                                 restart=RestartType.PERMANENT, significant=False,
                                 shutdown_timeout_s=timeout)
            return ChildSpec(role=role, factory=factories[role],
                             restart=RestartType.PERMANENT, shutdown_timeout_s=timeout,
                             restart_from="portfolio")

        return [spec(role) for role in START_ORDER if role in factories]

    def _warm_up(self, generation: int) -> Callable[[], Warmup] | None:
        """What warms generation ``generation`` of the strategy (None: nothing)."""
        load, first = self._warmup, self._first_warmup
        if load is None:
            return None
        if generation == 0 and first is not None:
            return lambda: first
        return lambda: load(time.time_ns())

    def _venue(self, rt: Runtime) -> Venue:
        """The paper exchange, or Coinbase when this run trades real money."""
        cfg = rt.config
        if rt.run.venue == "paper":
            return PaperExchange(cfg.paper, cfg.rules)

        def count(exc: Exception) -> None:
            rt.telemetry.errors["executor.venue"] += 1

        cb = cfg.coinbase
        assert self.credentials is not None  # checked when the system was built
        channel = None
        if cb.user_url:
            channel = UserChannel(cb.user_url, self.credentials, cfg.feed.products,
                                  stale_after_s=cb.user_stale_after_s,
                                  backoff=Backoff(cfg.feed.reconnect_initial_s,
                                                  cfg.feed.reconnect_max_s),
                                  telemetry=rt.telemetry)
        venue = CoinbaseExchange(RestClient(cb, self.credentials),
                                 poll_interval_s=cb.poll_interval_s,
                                 unknown_timeout_s=cb.unknown_timeout_s, on_error=count,
                                 user_channel_fresh=(lambda: False) if channel is None
                                 else lambda: channel.fresh,
                                 user_poll_interval_s=cb.user_poll_interval_s)
        return VenueWorker(venue, doorbell=channel, clock_ns=time.time_ns)

    def start(self) -> None:
        if self._strategy is None:
            self._strategy = load_strategy(self.rt.config.strategy, self.products,
                                           self.rt.config.source, self.bar_interval_s)
        run = self.rt.run
        run.run_dir.mkdir(parents=True, exist_ok=True)
        # The journal file (in WAL mode) exists before the actors that share it start.
        Journal(run.state.journal, run.ledger_id, mode=run.mode, description=str(run.run_dir),
                started_ns=time.time_ns()).close()
        self.supervisor = SupervisorActor.start(self.rt, self.specs())
        # The supervisor starts its children in on_start; a call queued behind
        # it returns once every child has been started and registered.
        self.supervisor.proxy().children().get(timeout=30)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run finishes or halts; False on time-out."""
        return self.rt.outcome.done.wait(timeout)

    def results(self, timeout: float = 10.0) -> RunResults:
        """Collect the results from the actors (they must still be running)."""
        return self.rt.results(timeout, if_running="stopped")

    def stop(self) -> None:
        """Stop every actor in reverse start order, then the supervisor.

        Each child gets its shutdown time-out; one that does not stop in time
        (hung) is left behind, logged: its thread is a daemon and cannot keep
        the process alive.
        """
        if self.supervisor is None:
            return
        cfg = self.rt.config.supervisor
        budget = cfg.shutdown_timeout_s * (len(START_ORDER) + 1)
        try:
            self.supervisor.proxy().shutdown().get(timeout=budget)
            self.supervisor.stop(block=True, timeout=cfg.shutdown_timeout_s)
        except (pykka.ActorDeadError, pykka.Timeout) as exc:
            log.error("stop: the supervisor did not finish the shutdown: %r", exc)
        self.supervisor = None

