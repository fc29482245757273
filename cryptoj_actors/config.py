"""Configuration: TOML files (``conf/*.toml``) read with :mod:`tomllib`.

Every key has a default, so an empty file is a valid paper-trading config.
Validation happens once, at start-up: a bad value raises :class:`ConfigError`
whose message is one line naming the dotted key and the reason, and the command
stops before any actor starts. Unknown keys are errors too, so a typo never
silently falls back to a default.

Money, sizes and fractions become :class:`~decimal.Decimal`. A TOML float is
read through its shortest repr (``0.1`` -> ``Decimal("0.1")``), which is the
number the operator wrote; strings (``"0.1"``) are accepted as well. Floats
must be finite; an integer is never a boolean or a float, a string never a
number.

Each section is declared once, as a frozen pydantic dataclass: a field's type,
default and constraint (``Annotated[Dec, Fraction]``) are all there is of it,
and a section is validated whenever it is built, from a file or in code;
:func:`explain` puts pydantic's report in one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import ValidationError
from pydantic.dataclasses import dataclass

from cryptoj_actors.config_fields import (
    SECTION,
    AnnualRate,
    Bool,
    Channels,
    Dec,
    Dir,
    FeeRate,
    Float,
    Fraction,
    HttpUrl,
    Int,
    NonEmpty,
    NonNegative,
    Port,
    PortOrOff,
    Positive,
    ProductId,
    ProductIds,
    Str,
    Window,
    WsUrl,
    not_above,
    one_of,
    rule,
)

#: What ``run`` and ``replay`` read without ``--config`` (relative to the working directory).
DEFAULT_CONFIG_PATH = Path("conf/default.toml")


class ConfigError(Exception):
    """A config value missing, mistyped or out of range: ``config <file>: <key>: <reason>``."""


# --- sections ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, config=SECTION)
class ProductRules:
    """Trading rules of one product, as Coinbase publishes them.

    Source: ``GET /api/v3/brokerage/market/products/{product_id}`` fields
    ``base_increment``, ``quote_increment`` (price tick), ``base_min_size`` and
    ``quote_min_size`` (minimum notional), all strings there, Decimal here.
    """

    base_increment: Annotated[Dec, Positive] = Decimal("0.00000001")
    quote_increment: Annotated[Dec, Positive] = Decimal("0.01")
    min_base_size: Annotated[Dec, NonNegative] = Decimal("0.00000001")
    min_notional: Annotated[Dec, NonNegative] = Decimal("1")


@dataclass(frozen=True, slots=True, config=SECTION)
class SystemConfig:
    """Where state lives (``state_dir``), ``paper`` or ``live``, the level of
    each run's ``run.log``, and how many daily journal ``backups`` to keep (0: none)."""

    state_dir: Dir = Path("var")
    mode: Annotated[Str, one_of("paper", "live")] = "paper"
    log_level: Annotated[Str, one_of("DEBUG", "INFO", "WARNING", "ERROR")] = "INFO"
    backups: Annotated[Int, NonNegative] = 7


@dataclass(frozen=True, slots=True, config=SECTION)
class FeedConfig:
    """Market data. ``url`` is the Coinbase Advanced Trade websocket.

    ``batch_interval_s``: live, a batch every so often; 0 cuts one as soon as a frame arrives and
    credit allows (conflating while the pipeline is busy). ``credit_window``: market batches in
    flight live (1: every decision on the freshest data); ``replay_credit_window``: the same in
    replay, where a larger window lets the strategy run ahead without changing any result
    (DESIGN.md section 9; a test holds the reports equal).

    Live connection: ``channels`` subscribed (``heartbeats`` always); reconnect backoff
    ``reconnect_initial_s`` doubling to ``reconnect_max_s`` with full jitter, reset after
    ``reconnect_reset_s`` connected; the feed is reported down after ``circuit_breaker_failures``
    failures in a row; data older than ``stale_after_s`` forces a reconnect; ``book_depth`` levels
    a side go into each batch.

    Replay: a product whose latest bar is more than ``replay_stale_bars`` intervals old (a gap in
    the data) is unreliable, as stale live data is: risk lets nothing add exposure to it until its
    next bar, and the replay notes how long each product was so. With ``replay_one_cpu`` its
    threads, which take turns on one interpreter lock, stay on one CPU (cheaper hand-offs).

    Warm-up (live): Coinbase's candles of ``bar_interval_s`` and the candle cache; a history older
    than ``warmup_max_age_s`` (offline) is refused.
    """

    url: Annotated[Str, WsUrl] = "wss://advanced-trade-ws.coinbase.com"
    products: ProductIds = ("BTC-USD", "ETH-USD", "LTC-USD")
    channels: Channels = ("level2", "market_trades", "ticker", "heartbeats")
    batch_interval_s: Annotated[Float, NonNegative] = 1.0  # 0: a batch per arrival
    bar_interval_s: Annotated[Int, Positive] = 3600
    credit_window: Annotated[Int, Window] = 1
    replay_credit_window: Annotated[Int, Window] = 16
    reconnect_initial_s: Annotated[Float, Positive] = 0.25
    reconnect_max_s: Annotated[Float, Positive] = 30.0
    reconnect_reset_s: Annotated[Float, Positive] = 60.0
    circuit_breaker_failures: Annotated[Int, Positive] = 5
    stale_after_s: Annotated[Float, Positive] = 5.0
    book_depth: Annotated[Int, Positive] = 20
    replay_stale_bars: Annotated[Int, Positive] = 5
    warmup_max_age_s: Annotated[Float, Positive] = 21600.0
    replay_one_cpu: Bool = True


@dataclass(frozen=True, slots=True, config=SECTION)
class CoinbaseConfig:
    """The order client for Coinbase Advanced Trade REST (live venue only).

    ``rest_url``: scheme and host; ``key_file``: a CDP key file (JSON, mode
    0600), or empty to read ``COINBASE_API_KEY`` / ``COINBASE_API_SECRET``;
    ``private_rate_per_s`` / ``public_rate_per_s``: requests a second
    (Coinbase's published limits: 30 private, 10 public); ``timeout_s``:
    seconds to wait for an answer; ``max_retries`` with backoff
    ``retry_initial_s`` doubling to ``retry_max_s`` (full jitter);
    ``poll_interval_s``: seconds between polls of open orders while the
    user channel is down or stale; ``unknown_timeout_s``: seconds an order
    whose outcome is unknown may stay unlisted by the venue before it is
    ended as never placed. ``user_url``: the authenticated ``user``
    websocket channel, whose news of our orders makes the venue be read at
    once (empty: none, poll only); ``user_stale_after_s``: seconds without a
    frame from it (a heartbeat comes every second) before it counts as
    stale and is reconnected; ``user_poll_interval_s``: seconds between
    safety polls while it is fresh.
    """

    rest_url: Annotated[Str, HttpUrl] = "https://api.coinbase.com"
    key_file: Str = ""
    private_rate_per_s: Annotated[Float, Positive] = 30.0
    public_rate_per_s: Annotated[Float, Positive] = 10.0
    timeout_s: Annotated[Float, Positive] = 10.0
    max_retries: Annotated[Int, NonNegative] = 4
    retry_initial_s: Annotated[Float, Positive] = 0.25
    retry_max_s: Annotated[Float, Positive] = 8.0
    poll_interval_s: Annotated[Float, Positive] = 1.0
    unknown_timeout_s: Annotated[Float, Positive] = 60.0
    user_url: Annotated[Str, rule(lambda v: not v or v.startswith(("ws://", "wss://")),
                                  "must be a ws:// or wss:// URL, or empty")] = \
        "wss://advanced-trade-ws-user.coinbase.com"
    user_stale_after_s: Annotated[Float, Positive] = 5.0
    user_poll_interval_s: Annotated[Float, Positive] = 15.0


@dataclass(frozen=True, slots=True, config=SECTION)
class PaperConfig:
    """The paper exchange.

    Fee defaults are Coinbase Advanced Trade's published entry tier
    ("Intro 1", under $1K of 30-day volume: maker 0.60 %, taker 1.20 %), from
    help.coinbase.com, "Advanced Trade fees". Rates are fractions.
    """

    maker_fee_rate: Annotated[Dec, FeeRate] = Decimal("0.006")
    taker_fee_rate: Annotated[Dec, FeeRate] = Decimal("0.012")
    slippage_bps: Annotated[Dec, NonNegative] = Decimal("5")
    max_volume_participation: Annotated[Dec, Fraction] = Decimal("0.10")


@dataclass(frozen=True, slots=True, config=SECTION)
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

    max_position_fraction: Annotated[Dec, Fraction] = Decimal("0.10")
    position_trim_fraction: Annotated[Dec, Fraction] = Decimal("0.09")
    daily_loss_limit: Annotated[Dec, Fraction] = Decimal("0.02")
    stop_loss: Annotated[Dec, Fraction] = Decimal("0.05")
    stop_loss_cooldown_s: Annotated[Int, NonNegative] = 86_400
    max_orders: Annotated[Int, Positive] = 10
    order_rate_window_s: Annotated[Int, Positive] = 60
    max_drawdown: Annotated[Dec, Fraction] = Decimal("0.20")
    unwind_on_drawdown: Bool = True
    unwind_slice_fraction: Annotated[Dec, Fraction] = Decimal("0.25")
    unwind_max_attempts: Annotated[Int, Positive] = 3

    _trim_within_the_limit = not_above("position_trim_fraction", "max_position_fraction",
                                       "risk.max_position_fraction")


@dataclass(frozen=True, slots=True, config=SECTION)
class StrategyConfig:
    """``name`` is a built-in strategy or ``package.module:Class``; ``params``
    (``[strategy.params]``) are checked by the strategy when it is loaded
    (:func:`cryptoj_actors.strategy.base.load_strategy`)."""

    name: Annotated[Str, NonEmpty] = "trend_risk_parity"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, config=SECTION)
class SupervisorConfig:
    """Restart policy (after Erlang/OTP intensity and Akka's backoff supervisor),
    and liveness: every ``liveness_interval_s`` each actor is pinged; one that
    has not answered within ``liveness_timeout_s`` is hung (seconds).
    ``auto_resume_after_s`` (0: off): a halt whose only cause was a hung
    actor is resumed once nothing has been hung for that long (live)."""

    restart_initial_s: Annotated[Float, Positive] = 0.5
    restart_max_s: Annotated[Float, Positive] = 30.0
    restart_reset_s: Annotated[Float, Positive] = 60.0
    max_restarts: Annotated[Int, NonNegative] = 5
    restart_window_s: Annotated[Float, Positive] = 60.0
    shutdown_timeout_s: Annotated[Float, Positive] = 5.0
    liveness_interval_s: Annotated[Float, Positive] = 2.0
    liveness_timeout_s: Annotated[Float, Positive] = 10.0
    auto_resume_after_s: Annotated[Float, NonNegative] = 0.0


@dataclass(frozen=True, slots=True, config=SECTION)
class HealthConfig:
    """Health sampling and thresholds (see :mod:`cryptoj_actors.health.model`).

    Seconds, MiB, messages and errors per minute. Every sample is also kept
    in the run directory (``metrics.jsonl``), rotated at ``metrics_file_mb``
    with ``metrics_files`` old files kept. ``recover_after_s``: how long
    health must stay below ``CRITICAL`` before the ``REDUCING`` it caused is
    lifted (live), so that a check hovering at its threshold does not flip
    the trading state every sample.
    """

    interval_s: Annotated[Float, Positive] = 1.0
    memory_critical_mb: Annotated[Int, Positive] = 4096
    available_memory_critical_mb: Annotated[Int, NonNegative] = 256
    mailbox_degraded: Annotated[Int, Positive] = 1_000
    mailbox_critical: Annotated[Int, Positive] = 10_000
    feed_lag_degraded_s: Annotated[Float, Positive] = 2.0
    feed_lag_critical_s: Annotated[Float, Positive] = 10.0
    latency_degraded_s: Annotated[Float, Positive] = 0.5
    latency_critical_s: Annotated[Float, Positive] = 2.0
    errors_degraded_per_min: Annotated[Float, Positive] = 1.0
    errors_critical_per_min: Annotated[Float, Positive] = 10.0
    metrics_file_mb: Annotated[Int, Positive] = 10
    metrics_files: Annotated[Int, Positive] = 3
    recover_after_s: Annotated[Float, NonNegative] = 30.0


@dataclass(frozen=True, slots=True, config=SECTION)
class AdminConfig:
    """The admin HTTP interface on 127.0.0.1 (``port`` 0: any free port, which
    the running system writes to ``admin.json`` in the state directory). The
    bearer token lives in ``token_file`` (relative to the state directory),
    created with mode 0600. ``metrics_port``: also ``/metrics`` alone, with no
    token, on this port of 127.0.0.1, for a scraper (0: off)."""

    http: Bool = True
    port: Annotated[Int, Port] = 0
    metrics_port: Annotated[Int, PortOrOff] = 0
    token_file: Annotated[Str, NonEmpty] = "admin.token"


@dataclass(frozen=True, slots=True, config=SECTION)
class UiConfig:
    """The live status view: redraws per second in a terminal; without one
    (or with ``--no-ui``), one status line every ``log_interval_s`` seconds.
    ``live_metrics``: keep the performance metrics up to date during the run
    (the report computes them at the end either way)."""

    refresh_per_second: Annotated[Float, Positive] = 2.0
    log_interval_s: Annotated[Float, Positive] = 10.0
    live_metrics: Bool = True


@dataclass(frozen=True, slots=True, config=SECTION)
class FaultsConfig:
    """Fault injection for drills: the actor ``role`` raises
    :class:`~cryptoj_actors.actors.base.InjectedFault` on the first message it
    receives that carries batch sequence number ``at_batch``, at most
    ``times`` times over the run (restarts included). Off when ``role`` is
    empty."""

    role: Annotated[Str, one_of("", "feed", "strategy", "risk", "portfolio", "executor",
                                "health", "notifier", "admin")] = ""
    at_batch: Annotated[Int, NonNegative] = 0
    times: Annotated[Int, NonNegative] = 1


def _apprise_url(url: str) -> bool:
    """Whether apprise can send to ``url`` (imported only when a URL is given)."""
    import apprise

    with apprise.LogCapture():  # its complaint is said in our one line instead
        return apprise.Apprise().add(url)


AppriseUrl = Annotated[Str, rule(_apprise_url, "is not a URL apprise can send to (see "
                                 "apprise's list of services: json://, tgram://, mailto://...)")]


@dataclass(frozen=True, slots=True, config=SECTION)
class AlertsConfig:
    """Alerts to the operator's channels, live only (the notifier actor).

    ``urls``: apprise URLs, one per channel (``json://host:port/path``,
    ``tgram://token/chat``, ``slack://...``, ``mailto://...``); none: alerts
    are only logged. ``fills``: an alert for every fill (off by default).
    ``daily_summary_utc``: ``HH:MM``, the UTC time of a daily summary
    (equity, today's PnL, fees, trades); empty: none. ``max_per_minute``:
    alerts a channel gets in any minute before the rest are summed up in
    one ("12 more alerts in the last minute"); halts, resumes and a spent
    restart budget are never held back. A failed delivery is tried
    ``retries`` more times, after ``retry_initial_s`` doubling up to
    ``retry_max_s`` (seconds).
    """

    urls: tuple[AppriseUrl, ...] = ()
    fills: Bool = False
    daily_summary_utc: Annotated[Str, rule(
        lambda v: not v or (len(v) == 5 and v[2] == ":" and v[:2].isdigit() and v[3:].isdigit()
                            and int(v[:2]) < 24 and int(v[3:]) < 60),
        "must be a UTC time as HH:MM (00:00 to 23:59), or empty for none")] = ""
    max_per_minute: Annotated[Int, Positive] = 10
    retries: Annotated[Int, NonNegative] = 3
    retry_initial_s: Annotated[Float, Positive] = 1.0
    retry_max_s: Annotated[Float, Positive] = 30.0


@dataclass(frozen=True, slots=True, config=SECTION)
class ReportConfig:
    """``risk_free_rate`` is annual, as a fraction, for Sharpe and Sortino."""

    risk_free_rate: Annotated[Float, AnnualRate] = 0.0


@dataclass(frozen=True, slots=True, config=SECTION)
class Config:
    """A section per table of the file; ``starting_cash`` (quote currency) is
    ``[portfolio] starting_cash``; ``source`` names the file read."""

    system: SystemConfig = SystemConfig()
    feed: FeedConfig = FeedConfig()
    starting_cash: Annotated[Dec, Positive] = Decimal("10000")
    paper: PaperConfig = PaperConfig()
    risk: RiskConfig = RiskConfig()
    strategy: StrategyConfig = StrategyConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    health: HealthConfig = HealthConfig()
    admin: AdminConfig = AdminConfig()
    ui: UiConfig = UiConfig()
    faults: FaultsConfig = FaultsConfig()
    report: ReportConfig = ReportConfig()
    alerts: AlertsConfig = AlertsConfig()
    coinbase: CoinbaseConfig = CoinbaseConfig()
    products: Mapping[ProductId, ProductRules] = field(default_factory=dict)
    source: str = "<defaults>"

    def rules(self, product_id: str) -> ProductRules:
        """The product's rules, or the generic defaults when the config names none."""
        return self.products.get(product_id, _GENERIC_RULES)

    def without_rules(self, products: Iterable[str]) -> tuple[str, ...]:
        """The products of ``products`` that have no ``[products.X]`` table:
        they would trade with the generic rules (a one-satoshi increment, a
        notional of 1), not the venue's."""
        return tuple(p for p in products if p not in self.products)

    def with_state_dir(self, state_dir: Path) -> Config:
        return replace(self, system=replace(self.system, state_dir=state_dir))


_GENERIC_RULES = ProductRules()
#: The tables of a file: Config's sections, and [portfolio] for starting_cash.
_TABLES = {f.name for f in fields(Config)} - {"starting_cash", "source"} | {"portfolio"}
_PORTFOLIO = {"starting_cash"}


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML config; ``None`` gives the defaults.

    Raises:
        ConfigError: the file cannot be read or parsed, or a key is unknown,
            mistyped or out of range.
    """
    if path is None:
        return Config()
    return parse_config(read_toml(path), source=str(path))


def read_toml(path: Path, kind: str = "config") -> dict[str, Any]:
    """The TOML document in ``path``; ``kind`` begins the messages.

    Raises:
        ConfigError: the file cannot be read, or is not TOML (or not UTF-8)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{kind} {path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{kind} {path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{kind} {path}: not valid TOML: not UTF-8 text ({exc.reason} "
                          f"at byte {exc.start})") from None


def parse_config(data: Mapping[str, Any], source: str = "<inline>") -> Config:
    """Validate an already-parsed TOML document; see :func:`load_config`."""
    def fail(key: str, reason: str) -> ConfigError:
        shown = key if key.isprintable() else key.encode("unicode_escape").decode("ascii")
        return ConfigError(f"config {source}: {shown or '<top level>'}: {reason}")

    portfolio = data.get("portfolio", {}) if isinstance(data, Mapping) else None
    for key, table, known in (("", data, _TABLES), ("portfolio", portfolio, _PORTFOLIO)):
        if not isinstance(table, Mapping):
            raise fail(key, f"must be a table, got {type(table).__name__}")
        if unknown := sorted(set(table) - known):
            raise fail(f"{key}.{unknown[0]}" if key else unknown[0], unknown_key(known))
    sections = {k: v for k, v in data.items() if k != "portfolio"}
    try:
        return Config(**sections, **portfolio, source=source)
    except ValidationError as exc:
        key, reason = explain(exc, Config)
        raise fail(f"portfolio.{key}" if key in _PORTFOLIO else key, reason) from None


# --- pydantic's report, in one line ---------------------------------------------------

_UNKNOWN = {"unexpected_keyword_argument", "extra_forbidden"}
_TABLE = {"dataclass_type", "dict_type", "model_type"}
_NUMBER = 'must be a number (e.g. "0.10")'
_REASONS = {"int_type": "must be an integer", "string_type": "must be a string",
            "bool_type": "must be true or false", "float_type": "must be a finite number",
            "finite_number": "must be a finite number", "missing": "is required",
            "path_type": "must be a string", "tuple_type": "must be a list",
            "decimal_type": _NUMBER, "decimal_parsing": _NUMBER}


def unknown_key(known: Iterable[str]) -> str:
    names = ", ".join(sorted(known))
    return f"unknown key (known: {names})" if names else "unknown key"


def explain(error: ValidationError, root: type) -> tuple[str, str]:
    """What ``error`` (from validating ``root``) reports: (dotted key, reason),
    the reason one line, ``must be ..., got <value>`` (a Decimal as read, else
    as given). An unknown key (the first in sorted order; the reason lists the
    keys of its table) comes before any other problem."""
    problems = error.errors(include_url=False)
    unknown = sorted((p["loc"] for p in problems if p["type"] in _UNKNOWN), key=str)
    problem = next(p for p in problems if p["loc"] == unknown[0]) if unknown else problems[0]
    # a list's index is no key; a mapping's key is named by the loc before it
    loc = [part for part in problem["loc"] if isinstance(part, str) and part != "[key]"]
    kind, given, ctx = problem["type"], problem["input"], problem.get("ctx") or {}
    if kind in _UNKNOWN:
        table = root
        for part in loc[:-1]:  # a section's field, or a mapping's value type
            known = getattr(table, "__pydantic_fields__", {})
            table = known[part].annotation if part in known else (get_args(table) or [0])[-1]
        return ".".join(loc), unknown_key(getattr(table, "__pydantic_fields__", {}))
    if kind in _TABLE:
        return ".".join(loc), f"must be a table, got {type(given).__name__}"
    reason = ctx["reason"] if kind == "refused" else \
        _REASONS.get(kind, " ".join(problem["msg"].split()))
    if kind == "missing":  # no value to show
        return ".".join(loc), reason
    shown = str(ctx["value"]) if isinstance(ctx.get("value"), Decimal) else repr(given)
    return ".".join(loc), f"{reason}, got {shown}"

