"""Configuration: TOML files (``conf/*.toml``) read with :mod:`tomllib`.

Every key has a default, so an empty file is a valid paper-trading config.
Validation happens once, at start-up: a bad value raises :class:`ConfigError`
whose message is one line naming the dotted key and the reason, and the
command stops before any actor starts. Unknown keys are errors too, so a typo
never silently falls back to a default.

Money, sizes and fractions become :class:`~decimal.Decimal`. A TOML float is
read through its shortest repr (``0.1`` -> ``Decimal("0.1")``), which is the
number the operator wrote; strings (``"0.1"``) are accepted as well.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from cryptoj_actors.model import PRODUCT_ID

T = TypeVar("T")

#: The config ``run`` and ``replay`` read when no ``--config`` is given,
#: relative to the working directory.
DEFAULT_CONFIG_PATH = Path("conf/default.toml")


class ConfigError(Exception):
    """A configuration value is missing, mistyped or out of range.

    ``str(err)`` is one line: ``config <file>: <key>: <reason>``.
    """


@dataclass(frozen=True, slots=True)
class ProductRules:
    """Trading rules of one product, as Coinbase publishes them.

    Source: ``GET /api/v3/brokerage/market/products/{product_id}`` fields
    ``base_increment``, ``quote_increment`` (price tick), ``base_min_size`` and
    ``quote_min_size`` (minimum notional), all strings there, Decimal here.
    """

    base_increment: Decimal = Decimal("0.00000001")
    quote_increment: Decimal = Decimal("0.01")
    min_base_size: Decimal = Decimal("0.00000001")
    min_notional: Decimal = Decimal("1")


@dataclass(frozen=True, slots=True)
class SystemConfig:
    state_dir: Path = Path("var")
    mode: str = "paper"
    log_level: str = "INFO"


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """Market data. ``url`` is the Coinbase Advanced Trade websocket.

    ``credit_window``: market batches in flight live (1: every decision on the
    freshest data); ``replay_credit_window``: the same in replay, where a
    larger window lets the strategy run ahead without changing any result
    (DESIGN.md section 9; a test holds the reports equal).

    Live connection: ``channels`` subscribed (``heartbeats`` always);
    reconnect backoff ``reconnect_initial_s`` doubling to ``reconnect_max_s``
    with full jitter, reset after ``reconnect_reset_s`` connected; the feed is
    reported down after ``circuit_breaker_failures`` failures in a row; data
    older than ``stale_after_s`` forces a reconnect; ``book_depth`` levels a
    side go into each batch.
    """

    url: str = "wss://advanced-trade-ws.coinbase.com"
    products: tuple[str, ...] = ("BTC-USD", "ETH-USD", "LTC-USD")
    channels: tuple[str, ...] = ("level2", "market_trades", "ticker", "heartbeats")
    batch_interval_s: float = 1.0
    bar_interval_s: int = 3600
    credit_window: int = 1
    replay_credit_window: int = 16
    reconnect_initial_s: float = 0.25
    reconnect_max_s: float = 30.0
    reconnect_reset_s: float = 60.0
    circuit_breaker_failures: int = 5
    stale_after_s: float = 5.0
    book_depth: int = 20


@dataclass(frozen=True, slots=True)
class CoinbaseConfig:
    """The order client for Coinbase Advanced Trade REST (live venue only).

    ``rest_url``: scheme and host; ``key_file``: a CDP key file (JSON, mode
    0600), or empty to read ``COINBASE_API_KEY`` / ``COINBASE_API_SECRET``;
    ``private_rate_per_s`` / ``public_rate_per_s``: requests a second
    (Coinbase's published limits: 30 private, 10 public); ``timeout_s``:
    seconds to wait for an answer; ``max_retries`` with backoff
    ``retry_initial_s`` doubling to ``retry_max_s`` (full jitter);
    ``poll_interval_s``: seconds between polls of open orders;
    ``unknown_timeout_s``: seconds an order whose outcome is unknown may stay
    unlisted by the venue before it is ended as never placed.
    """

    rest_url: str = "https://api.coinbase.com"
    key_file: str = ""
    private_rate_per_s: float = 30.0
    public_rate_per_s: float = 10.0
    timeout_s: float = 10.0
    max_retries: int = 4
    retry_initial_s: float = 0.25
    retry_max_s: float = 8.0
    poll_interval_s: float = 1.0
    unknown_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """The paper exchange.

    Fee defaults are Coinbase Advanced Trade's published entry tier
    ("Intro 1", under $1K of 30-day volume: maker 0.60 %, taker 1.20 %), from
    help.coinbase.com, "Advanced Trade fees". Rates are fractions.
    """

    maker_fee_rate: Decimal = Decimal("0.006")
    taker_fee_rate: Decimal = Decimal("0.012")
    slippage_bps: Decimal = Decimal("5")
    max_volume_participation: Decimal = Decimal("0.10")


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Risk limits (DESIGN.md section 6; defaults from the design notes).

    Fractions, not percent: ``max_position_fraction = 0.10`` is 10 % of equity.
    ``position_trim_fraction`` (at most the maximum) is where a position that
    grew through price moves alone is trimmed back to, so that one bar's move
    rarely carries it past the hard limit. ``max_drawdown`` (from the equity
    peak) halts trading and, with ``unwind_on_drawdown``, unwinds the book in
    slices of ``unwind_slice_fraction`` of each position, falling back to one
    market order after ``unwind_max_attempts`` unfilled slices in a row.
    """

    max_position_fraction: Decimal = Decimal("0.10")
    position_trim_fraction: Decimal = Decimal("0.09")
    daily_loss_limit: Decimal = Decimal("0.02")
    stop_loss: Decimal = Decimal("0.05")
    stop_loss_cooldown_s: int = 86_400
    max_orders: int = 10
    order_rate_window_s: int = 60
    max_drawdown: Decimal = Decimal("0.20")
    unwind_on_drawdown: bool = True
    unwind_slice_fraction: Decimal = Decimal("0.25")
    unwind_max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """``name`` is a built-in strategy or ``package.module:Class``."""

    name: str = "trend_risk_parity"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SupervisorConfig:
    """Restart policy (after Erlang/OTP intensity and Akka's backoff supervisor),
    and liveness: every ``liveness_interval_s`` each actor is pinged; one that
    has not answered within ``liveness_timeout_s`` is hung (seconds)."""

    restart_initial_s: float = 0.5
    restart_max_s: float = 30.0
    restart_reset_s: float = 60.0
    max_restarts: int = 5
    restart_window_s: float = 60.0
    shutdown_timeout_s: float = 5.0
    liveness_interval_s: float = 2.0
    liveness_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Health sampling and thresholds (see :mod:`cryptoj_actors.health.model`).

    Seconds, MiB, messages and errors per minute. Every sample is also kept
    in the run directory (``metrics.jsonl``), rotated at ``metrics_file_mb``
    with ``metrics_files`` old files kept. ``recover_after_s``: how long
    health must stay below ``CRITICAL`` before the ``REDUCING`` it caused is
    lifted (live), so that a check hovering at its threshold does not flip
    the trading state every sample.
    """

    interval_s: float = 1.0
    memory_critical_mb: int = 4096
    available_memory_critical_mb: int = 256
    mailbox_degraded: int = 1_000
    mailbox_critical: int = 10_000
    feed_lag_degraded_s: float = 2.0
    feed_lag_critical_s: float = 10.0
    latency_degraded_s: float = 0.5
    latency_critical_s: float = 2.0
    errors_degraded_per_min: float = 1.0
    errors_critical_per_min: float = 10.0
    metrics_file_mb: int = 10
    metrics_files: int = 3
    recover_after_s: float = 30.0


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """The admin HTTP interface on 127.0.0.1 (``port`` 0: any free port, which
    the running system writes to ``admin.json`` in the state directory). The
    bearer token lives in ``token_file`` (relative to the state directory),
    created with mode 0600."""

    http: bool = True
    port: int = 0
    token_file: str = "admin.token"


@dataclass(frozen=True, slots=True)
class UiConfig:
    """The live status view: redraws per second in a terminal; without one
    (or with ``--no-ui``), one status line every ``log_interval_s`` seconds.
    ``live_metrics``: keep the performance metrics up to date during the run
    (the report computes them at the end either way)."""

    refresh_per_second: float = 2.0
    log_interval_s: float = 10.0
    live_metrics: bool = True


@dataclass(frozen=True, slots=True)
class FaultsConfig:
    """Fault injection for drills: the actor ``role`` raises
    :class:`~cryptoj_actors.actors.base.InjectedFault` on the first message it
    receives that carries batch sequence number ``at_batch``, at most
    ``times`` times over the run (restarts included). Off when ``role`` is
    empty."""

    role: str = ""
    at_batch: int = 0
    times: int = 1


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """``risk_free_rate`` is annual, as a fraction, for Sharpe and Sortino."""

    risk_free_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Config:
    system: SystemConfig = SystemConfig()
    feed: FeedConfig = FeedConfig()
    starting_cash: Decimal = Decimal("10000")
    paper: PaperConfig = PaperConfig()
    risk: RiskConfig = RiskConfig()
    strategy: StrategyConfig = StrategyConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    health: HealthConfig = HealthConfig()
    admin: AdminConfig = AdminConfig()
    ui: UiConfig = UiConfig()
    faults: FaultsConfig = FaultsConfig()
    report: ReportConfig = ReportConfig()
    coinbase: CoinbaseConfig = CoinbaseConfig()
    products: Mapping[str, ProductRules] = field(default_factory=dict)
    source: str = "<defaults>"

    def rules(self, product_id: str) -> ProductRules:
        """The product's rules, or the generic defaults when the config names none."""
        return self.products.get(product_id, ProductRules())

    def with_state_dir(self, state_dir: Path) -> Config:
        return replace(self, system=replace(self.system, state_dir=state_dir))


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML config; ``None`` gives the defaults.

    Raises:
        ConfigError: the file cannot be read or parsed, or a key is unknown,
            mistyped or out of range.
    """
    if path is None:
        return Config()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML: not UTF-8 text ({exc.reason} "
                          f"at byte {exc.start})") from None
    return parse_config(data, source=str(path))


def parse_config(data: Mapping[str, Any], source: str = "<inline>") -> Config:
    """Validate an already-parsed TOML document; see :func:`load_config`."""
    reader = _Reader(source)
    top = reader.table(data, "", {"system", "feed", "portfolio", "paper", "risk", "strategy",
                                  "supervisor", "health", "admin", "ui", "faults", "report",
                                  "coinbase", "products"})

    s = reader.table(top.get("system", {}), "system", {"state_dir", "mode", "log_level"})
    system = SystemConfig(
        state_dir=Path(reader.value(s, "system.state_dir", str, "var", _non_empty)),
        mode=reader.value(s, "system.mode", str, "paper", _one_of("paper", "live")),
        log_level=reader.value(s, "system.log_level", str, "INFO",
                               _one_of("DEBUG", "INFO", "WARNING", "ERROR")),
    )

    f = reader.table(top.get("feed", {}), "feed", {
        "url", "products", "channels", "batch_interval_s", "bar_interval_s", "credit_window",
        "replay_credit_window", "reconnect_initial_s", "reconnect_max_s", "reconnect_reset_s",
        "circuit_breaker_failures", "stale_after_s", "book_depth"})
    d = FeedConfig()
    feed = FeedConfig(
        url=reader.value(f, "feed.url", str, d.url, _ws_url),
        products=tuple(reader.value(f, "feed.products", list, list(d.products), _products)),
        channels=tuple(reader.value(f, "feed.channels", list, list(d.channels), _channels)),
        batch_interval_s=reader.number(f, "feed.batch_interval_s", d.batch_interval_s, _positive),
        bar_interval_s=reader.value(f, "feed.bar_interval_s", int, d.bar_interval_s, _positive),
        credit_window=reader.value(f, "feed.credit_window", int, d.credit_window, _window),
        replay_credit_window=reader.value(f, "feed.replay_credit_window", int,
                                          d.replay_credit_window, _window),
        reconnect_initial_s=reader.number(f, "feed.reconnect_initial_s", d.reconnect_initial_s,
                                          _positive),
        reconnect_max_s=reader.number(f, "feed.reconnect_max_s", d.reconnect_max_s, _positive),
        reconnect_reset_s=reader.number(f, "feed.reconnect_reset_s", d.reconnect_reset_s,
                                        _positive),
        circuit_breaker_failures=reader.value(f, "feed.circuit_breaker_failures", int,
                                              d.circuit_breaker_failures, _positive),
        stale_after_s=reader.number(f, "feed.stale_after_s", d.stale_after_s, _positive),
        book_depth=reader.value(f, "feed.book_depth", int, d.book_depth, _positive),
    )

    pf = reader.table(top.get("portfolio", {}), "portfolio", {"starting_cash"})
    starting_cash = reader.decimal(pf, "portfolio.starting_cash", Config().starting_cash, _positive)

    p = reader.table(top.get("paper", {}), "paper", {
        "maker_fee_rate", "taker_fee_rate", "slippage_bps", "max_volume_participation"})
    dp = PaperConfig()
    paper = PaperConfig(
        maker_fee_rate=reader.decimal(p, "paper.maker_fee_rate", dp.maker_fee_rate, _fraction0),
        taker_fee_rate=reader.decimal(p, "paper.taker_fee_rate", dp.taker_fee_rate, _fraction0),
        slippage_bps=reader.decimal(p, "paper.slippage_bps", dp.slippage_bps, _non_negative),
        max_volume_participation=reader.decimal(p, "paper.max_volume_participation",
                                                dp.max_volume_participation, _fraction),
    )

    r = reader.table(top.get("risk", {}), "risk", {
        "max_position_fraction", "position_trim_fraction", "daily_loss_limit", "stop_loss",
        "stop_loss_cooldown_s", "max_orders", "order_rate_window_s", "max_drawdown",
        "unwind_on_drawdown", "unwind_slice_fraction", "unwind_max_attempts"})
    dr = RiskConfig()
    risk = RiskConfig(
        max_position_fraction=reader.decimal(r, "risk.max_position_fraction",
                                             dr.max_position_fraction, _fraction),
        position_trim_fraction=reader.decimal(r, "risk.position_trim_fraction",
                                              dr.position_trim_fraction, _fraction),
        daily_loss_limit=reader.decimal(r, "risk.daily_loss_limit", dr.daily_loss_limit,
                                        _fraction),
        stop_loss=reader.decimal(r, "risk.stop_loss", dr.stop_loss, _fraction),
        stop_loss_cooldown_s=reader.value(r, "risk.stop_loss_cooldown_s", int,
                                          dr.stop_loss_cooldown_s, _non_negative),
        max_orders=reader.value(r, "risk.max_orders", int, dr.max_orders, _positive),
        order_rate_window_s=reader.value(r, "risk.order_rate_window_s", int,
                                         dr.order_rate_window_s, _positive),
        max_drawdown=reader.decimal(r, "risk.max_drawdown", dr.max_drawdown, _fraction),
        unwind_on_drawdown=reader.value(r, "risk.unwind_on_drawdown", bool,
                                        dr.unwind_on_drawdown),
        unwind_slice_fraction=reader.decimal(r, "risk.unwind_slice_fraction",
                                             dr.unwind_slice_fraction, _fraction),
        unwind_max_attempts=reader.value(r, "risk.unwind_max_attempts", int,
                                         dr.unwind_max_attempts, _positive),
    )

    if risk.position_trim_fraction > risk.max_position_fraction:
        raise reader.fail("risk.position_trim_fraction",
                          f"must not exceed risk.max_position_fraction "
                          f"({risk.max_position_fraction}), got {risk.position_trim_fraction}")

    st = reader.table(top.get("strategy", {}), "strategy", {"name", "params"})
    strategy = StrategyConfig(
        name=reader.value(st, "strategy.name", str, StrategyConfig().name, _non_empty),
        params=dict(reader.value(st, "strategy.params", dict, {})),
    )

    sv = reader.table(top.get("supervisor", {}), "supervisor", {
        "restart_initial_s", "restart_max_s", "restart_reset_s", "max_restarts",
        "restart_window_s", "shutdown_timeout_s", "liveness_interval_s", "liveness_timeout_s"})
    ds = SupervisorConfig()
    supervisor = SupervisorConfig(
        restart_initial_s=reader.number(sv, "supervisor.restart_initial_s",
                                        ds.restart_initial_s, _positive),
        restart_max_s=reader.number(sv, "supervisor.restart_max_s", ds.restart_max_s, _positive),
        restart_reset_s=reader.number(sv, "supervisor.restart_reset_s", ds.restart_reset_s,
                                      _positive),
        max_restarts=reader.value(sv, "supervisor.max_restarts", int, ds.max_restarts,
                                  _non_negative),
        restart_window_s=reader.number(sv, "supervisor.restart_window_s", ds.restart_window_s,
                                       _positive),
        shutdown_timeout_s=reader.number(sv, "supervisor.shutdown_timeout_s",
                                         ds.shutdown_timeout_s, _positive),
        liveness_interval_s=reader.number(sv, "supervisor.liveness_interval_s",
                                          ds.liveness_interval_s, _positive),
        liveness_timeout_s=reader.number(sv, "supervisor.liveness_timeout_s",
                                         ds.liveness_timeout_s, _positive),
    )

    dh = HealthConfig()
    h = reader.table(top.get("health", {}), "health", set(HealthConfig.__dataclass_fields__))
    health = HealthConfig(
        interval_s=reader.number(h, "health.interval_s", dh.interval_s, _positive),
        memory_critical_mb=reader.value(h, "health.memory_critical_mb", int,
                                        dh.memory_critical_mb, _positive),
        available_memory_critical_mb=reader.value(h, "health.available_memory_critical_mb", int,
                                                  dh.available_memory_critical_mb,
                                                  _non_negative),
        mailbox_degraded=reader.value(h, "health.mailbox_degraded", int, dh.mailbox_degraded,
                                      _positive),
        mailbox_critical=reader.value(h, "health.mailbox_critical", int, dh.mailbox_critical,
                                      _positive),
        feed_lag_degraded_s=reader.number(h, "health.feed_lag_degraded_s",
                                          dh.feed_lag_degraded_s, _positive),
        feed_lag_critical_s=reader.number(h, "health.feed_lag_critical_s",
                                          dh.feed_lag_critical_s, _positive),
        latency_degraded_s=reader.number(h, "health.latency_degraded_s",
                                         dh.latency_degraded_s, _positive),
        latency_critical_s=reader.number(h, "health.latency_critical_s",
                                         dh.latency_critical_s, _positive),
        errors_degraded_per_min=reader.number(h, "health.errors_degraded_per_min",
                                              dh.errors_degraded_per_min, _positive),
        errors_critical_per_min=reader.number(h, "health.errors_critical_per_min",
                                              dh.errors_critical_per_min, _positive),
        metrics_file_mb=reader.value(h, "health.metrics_file_mb", int, dh.metrics_file_mb,
                                     _positive),
        metrics_files=reader.value(h, "health.metrics_files", int, dh.metrics_files,
                                   _positive),
        recover_after_s=reader.number(h, "health.recover_after_s", dh.recover_after_s,
                                      _non_negative),
    )

    ad = reader.table(top.get("admin", {}), "admin", {"http", "port", "token_file"})
    da = AdminConfig()
    admin = AdminConfig(
        http=reader.value(ad, "admin.http", bool, da.http),
        port=reader.value(ad, "admin.port", int, da.port, _port),
        token_file=reader.value(ad, "admin.token_file", str, da.token_file, _non_empty),
    )

    u = reader.table(top.get("ui", {}), "ui", {"refresh_per_second", "log_interval_s",
                                                "live_metrics"})
    ui = UiConfig(
        refresh_per_second=reader.number(u, "ui.refresh_per_second", 2.0, _positive),
        log_interval_s=reader.number(u, "ui.log_interval_s", 10.0, _positive),
        live_metrics=reader.value(u, "ui.live_metrics", bool, True),
    )

    fa = reader.table(top.get("faults", {}), "faults", {"role", "at_batch", "times"})
    faults = FaultsConfig(
        role=reader.value(fa, "faults.role", str, "", _one_of("", "feed", "strategy", "risk",
                                                              "portfolio", "executor", "health",
                                                              "admin")),
        at_batch=reader.value(fa, "faults.at_batch", int, 0, _non_negative),
        times=reader.value(fa, "faults.times", int, 1, _non_negative),
    )

    rp = reader.table(top.get("report", {}), "report", {"risk_free_rate"})
    report = ReportConfig(
        risk_free_rate=reader.number(rp, "report.risk_free_rate", 0.0, _rate),
    )

    cb = reader.table(top.get("coinbase", {}), "coinbase",
                      set(CoinbaseConfig.__dataclass_fields__))
    dc = CoinbaseConfig()
    coinbase = CoinbaseConfig(
        rest_url=reader.value(cb, "coinbase.rest_url", str, dc.rest_url, _http_url),
        key_file=reader.value(cb, "coinbase.key_file", str, dc.key_file),
        private_rate_per_s=reader.number(cb, "coinbase.private_rate_per_s",
                                         dc.private_rate_per_s, _positive),
        public_rate_per_s=reader.number(cb, "coinbase.public_rate_per_s", dc.public_rate_per_s,
                                        _positive),
        timeout_s=reader.number(cb, "coinbase.timeout_s", dc.timeout_s, _positive),
        max_retries=reader.value(cb, "coinbase.max_retries", int, dc.max_retries,
                                 _non_negative),
        retry_initial_s=reader.number(cb, "coinbase.retry_initial_s", dc.retry_initial_s,
                                      _positive),
        retry_max_s=reader.number(cb, "coinbase.retry_max_s", dc.retry_max_s, _positive),
        poll_interval_s=reader.number(cb, "coinbase.poll_interval_s", dc.poll_interval_s,
                                      _positive),
        unknown_timeout_s=reader.number(cb, "coinbase.unknown_timeout_s",
                                        dc.unknown_timeout_s, _positive),
    )

    products: dict[str, ProductRules] = {}
    raw_products = reader.table(top.get("products", {}), "products", None)
    for product_id, raw in raw_products.items():
        key = f"products.{product_id}"
        reason = _products([product_id])
        if reason:
            raise reader.fail(key, reason)
        t = reader.table(raw, key, {"base_increment", "quote_increment", "min_base_size",
                                    "min_notional"})
        dd = ProductRules()
        products[product_id] = ProductRules(
            base_increment=reader.decimal(t, f"{key}.base_increment", dd.base_increment,
                                          _positive),
            quote_increment=reader.decimal(t, f"{key}.quote_increment", dd.quote_increment,
                                           _positive),
            min_base_size=reader.decimal(t, f"{key}.min_base_size", dd.min_base_size,
                                         _non_negative),
            min_notional=reader.decimal(t, f"{key}.min_notional", dd.min_notional,
                                        _non_negative),
        )

    return Config(system=system, feed=feed, starting_cash=starting_cash, paper=paper, risk=risk,
                  strategy=strategy, supervisor=supervisor, health=health, admin=admin,
                  ui=ui, faults=faults, report=report, coinbase=coinbase, products=products,
                  source=source)


# --- validation helpers -----------------------------------------------------------

Check = Callable[[Any], str | None]


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, reason: str) -> ConfigError:
        shown = key if key.isprintable() else key.encode("unicode_escape").decode("ascii")
        return ConfigError(f"config {self.source}: {shown or '<top level>'}: {reason}")

    def table(self, raw: Any, key: str, allowed: set[str] | None) -> Mapping[str, Any]:
        if not isinstance(raw, Mapping):
            raise self.fail(key, f"must be a table, got {type(raw).__name__}")
        if allowed is not None:
            unknown = sorted(set(raw) - allowed)
            if unknown:
                prefix = f"{key}." if key else ""
                raise self.fail(prefix + unknown[0],
                                f"unknown key (known: {', '.join(sorted(allowed))})")
        return raw

    def value(self, table: Mapping[str, Any], key: str, kind: type[T], default: T,
              check: Check | None = None) -> T:
        raw = table.get(key.rsplit(".", 1)[-1], default)
        if kind is int and isinstance(raw, bool) or not isinstance(raw, kind):
            raise self.fail(key, f"must be {_kind_name(kind)}, got {raw!r}")
        self._check(key, raw, check)
        return raw

    def number(self, table: Mapping[str, Any], key: str, default: float,
               check: Check | None = None) -> float:
        raw = table.get(key.rsplit(".", 1)[-1], default)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise self.fail(key, f"must be a finite number, got {raw!r}")
        self._check(key, raw, check)
        return float(raw)

    def decimal(self, table: Mapping[str, Any], key: str, default: Decimal,
                check: Check | None = None) -> Decimal:
        raw = table.get(key.rsplit(".", 1)[-1], default)
        if isinstance(raw, bool):
            raise self.fail(key, f"must be a number, got {raw!r}")
        if isinstance(raw, float):
            raw = repr(raw)
        try:
            value = Decimal(raw) if isinstance(raw, (str, int, Decimal)) else None
        except ArithmeticError:
            value = None
        if value is None or not value.is_finite():
            raise self.fail(key, f"must be a number (e.g. \"0.10\"), got {raw!r}")
        self._check(key, value, check)
        return value

    def _check(self, key: str, value: Any, check: Check | None) -> None:
        reason = check(value) if check else None
        if reason:
            shown = str(value) if isinstance(value, Decimal) else repr(value)
            raise self.fail(key, f"{reason}, got {shown}")


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", list: "a list", dict: "a table",
            bool: "true or false"}.get(
        kind, kind.__name__)


def _non_empty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


def _fraction(v: Any) -> str | None:
    return None if 0 < v <= 1 else "must be a fraction in (0, 1] (0.10 means 10 %)"


def _fraction0(v: Any) -> str | None:
    return None if 0 <= v < 1 else "must be a fraction in [0, 1) (0.006 means 0.6 %)"


def _rate(v: Any) -> str | None:
    return None if -1 < v < 1 else "must be an annual rate as a fraction (0.04 means 4 %)"


MAX_CREDIT_WINDOW = 1024
CHANNELS = ("level2", "market_trades", "ticker", "candles", "heartbeats", "status")


def _channels(v: list[Any]) -> str | None:
    unknown = [c for c in v if c not in CHANNELS]
    if unknown:
        return f"unknown channel {unknown[0]!r} (known: {', '.join(CHANNELS)})"
    if "heartbeats" not in v:
        return "must include heartbeats (the connection's liveness and sequence check)"
    return None


def _port(v: int) -> str | None:
    return None if 0 <= v <= 65535 else "must be a TCP port from 0 to 65535 (0: any free port)"


def _window(v: int) -> str | None:
    # The window bounds every mailbox of the pipeline; a huge one only
    # stores batches in the strategy's mailbox.
    return None if 1 <= v <= MAX_CREDIT_WINDOW else f"must be from 1 to {MAX_CREDIT_WINDOW}"


def _one_of(*choices: str) -> Check:
    def check(v: str) -> str | None:
        return None if v in choices else f"must be one of {', '.join(choices)}"
    return check


def _ws_url(v: str) -> str | None:
    return None if v.startswith(("ws://", "wss://")) else "must be a ws:// or wss:// URL"


def _http_url(v: str) -> str | None:
    return None if v.startswith(("http://", "https://")) else "must be an http:// or https:// URL"


def _products(v: list[Any]) -> str | None:
    if not v:
        return "must name at least one product"
    for item in v:
        if not isinstance(item, str) or not PRODUCT_ID.fullmatch(item):
            return f"product ids look like BTC-USD ({item!r} does not)"
    if len(set(v)) != len(v):
        return "lists a product twice"
    return None
