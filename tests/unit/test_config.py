"""Configuration loading and validation (cryptoj_actors.config)."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from cryptoj_actors.config import (
    AdminConfig,
    AlertsConfig,
    CoinbaseConfig,
    Config,
    ConfigError,
    FaultsConfig,
    FeedConfig,
    HealthConfig,
    PaperConfig,
    ProductRules,
    ReportConfig,
    RiskConfig,
    StrategyConfig,
    SupervisorConfig,
    SystemConfig,
    UiConfig,
    explain,
    load_config,
    parse_config,
)
from cryptoj_actors.strategy.trend import TrendRiskParity

D = Decimal
REPO = Path(__file__).resolve().parents[2]
DEFAULT_TOML = REPO / "conf" / "default.toml"


def write(tmp_path: Path, text: str, name: str = "test.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return path, str(info.value)


# --- defaults ---------------------------------------------------------------------


def test_defaults():
    config = load_config(None)
    assert config == Config()
    assert config.source == "<defaults>"
    assert config.system == SystemConfig(state_dir=Path("var"), mode="paper", log_level="INFO")
    assert config.feed == FeedConfig(
        url="wss://advanced-trade-ws.coinbase.com", products=("BTC-USD", "ETH-USD", "LTC-USD"),
        batch_interval_s=1.0, bar_interval_s=3600, credit_window=1, replay_credit_window=16,
        reconnect_initial_s=0.25, reconnect_max_s=30.0)
    assert config.starting_cash == D("10000")
    assert config.paper == PaperConfig(maker_fee_rate=D("0.006"), taker_fee_rate=D("0.012"),
                                       slippage_bps=D("5"), max_volume_participation=D("0.10"))
    assert config.risk == RiskConfig(max_position_fraction=D("0.10"), daily_loss_limit=D("0.02"),
                                     stop_loss=D("0.05"), stop_loss_cooldown_s=86_400,
                                     max_orders=10, order_rate_window_s=60)
    assert config.strategy.name == "trend_risk_parity"
    assert dict(config.strategy.params) == {}
    assert config.supervisor == SupervisorConfig(0.5, 30.0, 60.0, 5, 60.0, 5.0)
    assert config.health == HealthConfig(interval_s=1.0, memory_critical_mb=4096,
                                         mailbox_degraded=1_000, mailbox_critical=10_000)
    assert config.report == ReportConfig(0.0)
    assert dict(config.products) == {}


def test_an_empty_file_gives_the_defaults(tmp_path):
    path = write(tmp_path, "")
    config = load_config(path)
    assert config == replace(Config(), source=str(path))


def test_parse_config_of_an_empty_document_gives_the_defaults():
    assert parse_config({}) == replace(Config(), source="<inline>")
    assert parse_config({}, source="x").source == "x"


def test_rules_fall_back_to_defaults_for_unknown_products(tmp_path):
    path = write(tmp_path, """
[products.BTC-USD]
base_increment = "0.0001"
min_notional = 10
""")
    config = load_config(path)
    assert config.rules("BTC-USD") == ProductRules(base_increment=D("0.0001"),
                                                   quote_increment=D("0.01"),
                                                   min_base_size=D("0.00000001"),
                                                   min_notional=D("10"))
    assert config.rules("DOGE-USD") == ProductRules()
    assert ProductRules() == ProductRules(D("0.00000001"), D("0.01"), D("0.00000001"), D("1"))
    assert Config().rules("BTC-USD") == ProductRules()


def test_with_state_dir():
    config = Config().with_state_dir(Path("/tmp/x"))
    assert config.system.state_dir == Path("/tmp/x")
    assert config.system.mode == "paper"
    assert Config().system.state_dir == Path("var")


# --- a full file -----------------------------------------------------------------


FULL = """
[system]
state_dir = "state"
mode = "live"
log_level = "DEBUG"

[feed]
url = "ws://localhost:9000/feed"
products = ["BTC-USD", "SOL-EUR"]
batch_interval_s = 2
bar_interval_s = 60
credit_window = 3
replay_credit_window = 32
reconnect_initial_s = 0.5
reconnect_max_s = 10

[portfolio]
starting_cash = 2500.5

[paper]
maker_fee_rate = 0.004
taker_fee_rate = "0.006"
slippage_bps = 0
max_volume_participation = 1

[risk]
max_position_fraction = 0.1
daily_loss_limit = 0.03
stop_loss = 0.07
stop_loss_cooldown_s = 0
max_orders = 3
order_rate_window_s = 5

[strategy]
name = "mypkg.mod:Strat"

[strategy.params]
fast_span = 10
label = "x"

[supervisor]
restart_initial_s = 1
restart_max_s = 2.5
restart_reset_s = 3
max_restarts = 0
restart_window_s = 4
shutdown_timeout_s = 0.1

[health]
interval_s = 0.5
memory_critical_mb = 100
mailbox_degraded = 5
mailbox_critical = 50

[report]
risk_free_rate = -0.01

[products.SOL-EUR]
base_increment = 0.001
quote_increment = "0.0001"
min_base_size = 0
min_notional = 0.3
"""


def test_a_full_file(tmp_path):
    path = write(tmp_path, FULL)
    config = load_config(path)
    assert config.source == str(path)
    assert config.system == SystemConfig(state_dir=Path("state"), mode="live", log_level="DEBUG")
    assert config.feed == FeedConfig(
        url="ws://localhost:9000/feed", products=("BTC-USD", "SOL-EUR"), batch_interval_s=2.0,
        bar_interval_s=60, credit_window=3, replay_credit_window=32, reconnect_initial_s=0.5,
        reconnect_max_s=10.0)
    assert type(config.feed.batch_interval_s) is float
    assert type(config.feed.reconnect_max_s) is float
    assert config.starting_cash == D("2500.5")
    assert config.paper == PaperConfig(D("0.004"), D("0.006"), D("0"), D("1"))
    assert config.risk == RiskConfig(max_position_fraction=D("0.1"), daily_loss_limit=D("0.03"),
                                     stop_loss=D("0.07"), stop_loss_cooldown_s=0, max_orders=3,
                                     order_rate_window_s=5)
    assert config.strategy == StrategyConfig(name="mypkg.mod:Strat",
                                             params={"fast_span": 10, "label": "x"})
    assert config.supervisor == SupervisorConfig(
        restart_initial_s=1.0, restart_max_s=2.5, restart_reset_s=3.0, max_restarts=0,
        restart_window_s=4.0, shutdown_timeout_s=0.1)
    assert config.health == HealthConfig(interval_s=0.5, memory_critical_mb=100,
                                         mailbox_degraded=5, mailbox_critical=50)
    assert config.report == ReportConfig(-0.01)
    assert dict(config.products) == {"SOL-EUR": ProductRules(D("0.001"), D("0.0001"), D("0"),
                                                             D("0.3"))}


@pytest.mark.parametrize(
    ("toml_value", "expected"),
    [
        ("0.1", "0.1"),
        ("0.3", "0.3"),
        ("0.07", "0.07"),
        ("1e-3", "0.001"),
        ('"0.10"', "0.10"),
        ('" 0.25 "', "0.25"),
        ("1", "1"),
    ],
)
def test_floats_read_as_their_repr(tmp_path, toml_value, expected):
    path = write(tmp_path, f"[risk]\nstop_loss = {toml_value}\n")
    value = load_config(path).risk.stop_loss
    assert isinstance(value, Decimal)
    assert value == D(expected)
    # the number written, not the binary float nearest it
    assert str(value) == expected


def test_float_repr_is_exact_not_binary(tmp_path):
    path = write(tmp_path, "[paper]\ntaker_fee_rate = 0.012\n[products.BTC-USD]\n"
                           "base_increment = 1e-8\n")
    config = load_config(path)
    assert config.paper.taker_fee_rate == D("0.012")
    assert config.paper.taker_fee_rate != D(0.012)  # what Decimal(float) would have given
    assert config.rules("BTC-USD").base_increment == D("0.00000001")


# --- errors -------------------------------------------------------------------------

FRACTION = "must be a fraction in (0, 1] (0.10 means 10 %)"
KNOWN_RISK = ("daily_loss_limit, max_drawdown, max_orders, max_position_fraction, "
              "order_rate_window_s, position_trim_fraction, stop_loss, stop_loss_cooldown_s, "
              "unwind_max_attempts, unwind_on_drawdown, unwind_slice_fraction")
KNOWN_TOP = ("admin, alerts, coinbase, faults, feed, health, paper, portfolio, products, report, risk, "
             "strategy, supervisor, system, ui")


BAD = [
    # out of range
    ("[risk]\nmax_position_fraction = 1.5", "risk.max_position_fraction", f"{FRACTION}, got 1.5"),
    ('[risk]\nmax_position_fraction = "0"', "risk.max_position_fraction", f"{FRACTION}, got 0"),
    ("[risk]\ndaily_loss_limit = -0.02", "risk.daily_loss_limit", f"{FRACTION}, got -0.02"),
    ("[risk]\nstop_loss = 0.0", "risk.stop_loss", f"{FRACTION}, got 0.0"),
    ("[risk]\nmax_orders = 0", "risk.max_orders", "must be greater than 0, got 0"),
    ("[risk]\nstop_loss_cooldown_s = -1", "risk.stop_loss_cooldown_s",
     "must not be negative, got -1"),
    ("[risk]\norder_rate_window_s = 0", "risk.order_rate_window_s",
     "must be greater than 0, got 0"),
    ("[paper]\ntaker_fee_rate = 1", "paper.taker_fee_rate",
     "must be a fraction in [0, 1) (0.006 means 0.6 %), got 1"),
    ("[paper]\nmaker_fee_rate = -0.001", "paper.maker_fee_rate",
     "must be a fraction in [0, 1) (0.006 means 0.6 %), got -0.001"),
    ("[paper]\nslippage_bps = -1", "paper.slippage_bps", "must not be negative, got -1"),
    ("[paper]\nmax_volume_participation = 0", "paper.max_volume_participation",
     f"{FRACTION}, got 0"),
    ('[portfolio]\nstarting_cash = "-5"', "portfolio.starting_cash",
     "must be greater than 0, got -5"),
    ("[report]\nrisk_free_rate = 1.5", "report.risk_free_rate",
     "must be an annual rate as a fraction (0.04 means 4 %), got 1.5"),
    ("[report]\nrisk_free_rate = -1", "report.risk_free_rate",
     "must be an annual rate as a fraction (0.04 means 4 %), got -1"),
    ('[system]\nmode = "live2"', "system.mode", "must be one of paper, live, got 'live2'"),
    ('[system]\nlog_level = "debug"', "system.log_level",
     "must be one of DEBUG, INFO, WARNING, ERROR, got 'debug'"),
    ('[system]\nstate_dir = "  "', "system.state_dir", "must not be empty, got '  '"),
    ('[strategy]\nname = ""', "strategy.name", "must not be empty, got ''"),
    ("[feed]\ncredit_window = 0", "feed.credit_window", "must be from 1 to 1024, got 0"),
    ("[feed]\nreplay_credit_window = 1025", "feed.replay_credit_window",
     "must be from 1 to 1024, got 1025"),
    ('[risk]\nposition_trim_fraction = "0.11"', "risk.position_trim_fraction",
     "must not exceed risk.max_position_fraction (0.10), got 0.11"),
    ("[feed]\nbatch_interval_s = -1.0", "feed.batch_interval_s",
     "must not be negative, got -1.0"),
    ("[feed]\nreconnect_max_s = nan", "feed.reconnect_max_s", "must be a finite number, got nan"),
    ("[supervisor]\nmax_restarts = -1", "supervisor.max_restarts",
     "must not be negative, got -1"),
    ("[health]\ninterval_s = 0", "health.interval_s", "must be greater than 0, got 0"),
    ("[health]\nmailbox_critical = 0", "health.mailbox_critical",
     "must be greater than 0, got 0"),
    ('[products.BTC-USD]\nbase_increment = "0"', "products.BTC-USD.base_increment",
     "must be greater than 0, got 0"),
    ('[products.BTC-USD]\nmin_notional = "-1"', "products.BTC-USD.min_notional",
     "must not be negative, got -1"),
    # wrong type
    ('[risk]\nmax_orders = "10"', "risk.max_orders", "must be an integer, got '10'"),
    ("[risk]\nmax_orders = 10.0", "risk.max_orders", "must be an integer, got 10.0"),
    ("[risk]\nmax_orders = true", "risk.max_orders", "must be an integer, got True"),
    ("[risk]\nmax_position_fraction = true", "risk.max_position_fraction",
     'must be a number (e.g. "0.10"), got True'),
    ('[risk]\nmax_position_fraction = "ten"', "risk.max_position_fraction",
     "must be a number (e.g. \"0.10\"), got 'ten'"),
    ("[risk]\nmax_position_fraction = [0.1]", "risk.max_position_fraction",
     "must be a number (e.g. \"0.10\"), got [0.1]"),
    ("[risk]\nmax_position_fraction = inf", "risk.max_position_fraction",
     "must be a finite number, got inf"),
    ("[risk]\nmax_position_fraction = nan", "risk.max_position_fraction",
     "must be a finite number, got nan"),
    ('[feed]\nbatch_interval_s = "1"', "feed.batch_interval_s", "must be a finite number, got '1'"),
    ("[feed]\nbatch_interval_s = false", "feed.batch_interval_s",
     "must be a finite number, got False"),
    ("[feed]\nurl = 5", "feed.url", "must be a string, got 5"),
    ('[feed]\nproducts = "BTC-USD"', "feed.products", "must be a list, got 'BTC-USD'"),
    ("[strategy]\nparams = 5", "strategy.params", "must be a table, got int"),
    ("risk = 5", "risk", "must be a table, got int"),
    ("products = []", "products", "must be a table, got list"),
    ('[products]\nBTC-USD = "x"', "products.BTC-USD", "must be a table, got str"),
    # unknown keys (typos)
    ("[risk]\nmax_positon_fraction = 0.1", "risk.max_positon_fraction",
     f"unknown key (known: {KNOWN_RISK})"),
    ("[riks]\nmax_orders = 1", "riks", f"unknown key (known: {KNOWN_TOP})"),
    ("starting_cash = 5", "starting_cash", f"unknown key (known: {KNOWN_TOP})"),
    ('[products.BTC-USD]\nmin_size = "1"', "products.BTC-USD.min_size",
     "unknown key (known: base_increment, min_base_size, min_notional, quote_increment)"),
    ("[portfolio]\ncash = 5", "portfolio.cash", "unknown key (known: starting_cash)"),
    # bad product ids
    ('[feed]\nproducts = ["btc-usd"]', "feed.products",
     "product ids look like BTC-USD, got 'btc-usd'"),
    ('[feed]\nproducts = ["BTCUSD"]', "feed.products",
     "product ids look like BTC-USD, got 'BTCUSD'"),
    ('[feed]\nproducts = ["BTC-USD-X"]', "feed.products",
     "product ids look like BTC-USD, got 'BTC-USD-X'"),
    ('[feed]\nproducts = ["BTC-USD", 5]', "feed.products",
     "product ids look like BTC-USD, got 5"),
    ("[feed]\nproducts = []", "feed.products", "must name at least one product, got []"),
    ('[feed]\nproducts = ["BTC-USD", "BTC-USD"]', "feed.products",
     "lists a product twice, got ['BTC-USD', 'BTC-USD']"),
    ("[products.btc-usd]", "products.btc-usd",
     "product ids look like BTC-USD, got 'btc-usd'"),
    # rules of the other sections
    ('[feed]\nchannels = ["level2", "tickr", "heartbeats"]', "feed.channels",
     "unknown channel (known: level2, market_trades, ticker, candles, heartbeats, status), "
     "got 'tickr'"),
    ('[feed]\nchannels = ["level2"]', "feed.channels",
     "must include heartbeats (the connection's liveness and sequence check), got ['level2']"),
    ("[admin]\nport = 65536", "admin.port",
     "must be a TCP port from 0 to 65535 (0: any free port), got 65536"),
    ('[admin]\nhttp = "yes"', "admin.http", "must be true or false, got 'yes'"),
    ('[faults]\nrole = "db"', "faults.role",
     "must be one of , feed, strategy, risk, portfolio, executor, health, notifier, admin, got 'db'"),
    ("[faults]\ntimes = -1", "faults.times", "must not be negative, got -1"),
    ("[ui]\nrefresh_per_second = 0", "ui.refresh_per_second", "must be greater than 0, got 0"),
    ('[coinbase]\nrest_url = "ftp://x"', "coinbase.rest_url",
     "must be an http:// or https:// URL, got 'ftp://x'"),
    ("[system]\nstate_dir = 5", "system.state_dir", "must be a string, got 5"),
    ('[system]\nstate_dir = ""', "system.state_dir", "must not be empty, got ''"),
    ("[risk]\nmax_position_fraction = 0.05", "risk.position_trim_fraction",
     "must not exceed risk.max_position_fraction (0.05), got 0.09"),
    ('[strategy]\nsource = "x"', "strategy.source", "unknown key (known: name, params)"),
    ('source = "x"', "source", f"unknown key (known: {KNOWN_TOP})"),
    ("portfolio = 5", "portfolio", "must be a table, got int"),
    # bad URLs
    ('[feed]\nurl = "https://advanced-trade-ws.coinbase.com"', "feed.url",
     "must be a ws:// or wss:// URL, got 'https://advanced-trade-ws.coinbase.com'"),
    ('[feed]\nurl = "advanced-trade-ws.coinbase.com"', "feed.url",
     "must be a ws:// or wss:// URL, got 'advanced-trade-ws.coinbase.com'"),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD, ids=[f"{k}:{r[:30]}" for _, k, r in BAD])
def test_bad_values_name_the_key_and_the_reason_on_one_line(tmp_path, text, key, reason):
    path, message = load_error(tmp_path, text + "\n")
    assert message == f"config {path}: {key}: {reason}"
    assert "\n" not in message


SECTIONS = {"system": SystemConfig, "feed": FeedConfig, "paper": PaperConfig, "risk": RiskConfig,
            "strategy": StrategyConfig, "supervisor": SupervisorConfig, "health": HealthConfig,
            "admin": AdminConfig, "ui": UiConfig, "faults": FaultsConfig,
            "report": ReportConfig, "coinbase": CoinbaseConfig}


@pytest.mark.parametrize("table", sorted(SECTIONS))
def test_an_unknown_key_lists_the_fields_of_its_section(table):
    with pytest.raises(ConfigError) as info:
        parse_config({table: {"zz_typo": 1}}, source="f")
    known = ", ".join(sorted(f.name for f in fields(SECTIONS[table])))
    assert str(info.value) == f"config f: {table}.zz_typo: unknown key (known: {known})"


def test_an_unknown_key_comes_before_other_problems():
    with pytest.raises(ConfigError) as info:
        parse_config({"feed": {"url": 5}, "risk": {"max_orders": 0, "max_order": 1}}, source="f")
    assert str(info.value).startswith("config f: risk.max_order: unknown key")


def test_sections_are_validated_when_built_in_code_too():
    assert FeedConfig(products=["BTC-USD"]).products == ("BTC-USD",)
    assert RiskConfig(stop_loss=0.07).stop_loss == D("0.07")
    assert type(SupervisorConfig(restart_initial_s=1).restart_initial_s) is float
    assert SystemConfig(state_dir="x").state_dir == Path("x")
    feed = FeedConfig()
    assert replace(feed, url="ws://127.0.0.1:1").url == "ws://127.0.0.1:1"
    for build in (lambda: replace(feed, url="http://x"), lambda: FeedConfig(credit_window=0),
                  lambda: RiskConfig(max_position_fraction=D("0.05")),
                  lambda: ProductRules(base_increment=D(0)), lambda: FeedConfig(urll="ws://x")):
        with pytest.raises(ValidationError):
            build()


def test_explain_turns_a_validation_error_into_a_key_and_a_reason():
    with pytest.raises(ValidationError) as info:
        Config(products={"BTC-USD": {"min_notional": "-1"}})
    assert explain(info.value, Config) == ("products.BTC-USD.min_notional",
                                           "must not be negative, got -1")
    with pytest.raises(ValidationError) as info:
        Config(risk={"stop_los": 1})
    assert explain(info.value, Config) == ("risk.stop_los", f"unknown key (known: {KNOWN_RISK})")


def test_the_first_unknown_key_in_sorted_order_is_named(tmp_path):
    _, message = load_error(tmp_path, "[risk]\nzz = 1\nmax_order = 2\n")
    assert message.split(": ")[1] == "risk.max_order"


def test_parse_config_names_its_source():
    with pytest.raises(ConfigError) as info:
        parse_config({"risk": {"max_orders": 0}}, source="<cli>")
    assert str(info.value) == "config <cli>: risk.max_orders: must be greater than 0, got 0"


def test_a_non_table_document_is_refused():
    with pytest.raises(ConfigError) as info:
        parse_config([], source="s")  # type: ignore[arg-type]
    assert str(info.value) == "config s: <top level>: must be a table, got list"


def test_a_missing_file_cannot_be_read(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config {path}: cannot read: No such file or directory"


def test_a_directory_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"config {tmp_path}: cannot read: Is a directory"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("[risk\nmax_orders = 1\n",
         "Expected ']' at the end of a table declaration (at line 1, column 6)"),
        ("[risk]\nmax_orders = 1\nmax_orders = 2\n", "Cannot overwrite a value"),
        ("[risk]\nmax_orders = \n", "Invalid value (at line 2, column 14)"),
        ("a = 'unterminated\n", 'Expected "\'" (at end of document)'),
    ],
)
def test_invalid_toml(tmp_path, text, detail):
    path, message = load_error(tmp_path, text)
    assert message.startswith(f"config {path}: not valid TOML: {detail}")
    assert "\n" not in message


def test_invalid_utf8_is_invalid_toml(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[system]\nstate_dir = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"config {path}: not valid TOML: ")
    assert "\n" not in str(info.value)


# --- bugs -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ['[products."BTC\\nUSD"]\n', '[risk]\n"max\\norders" = 1\n'])
def test_error_stays_on_one_line_for_keys_with_newlines(tmp_path, text):
    _, message = load_error(tmp_path, text)
    assert "\n" not in message


@pytest.mark.parametrize("product", ["BTC-", "-USD", "BTC-USD "])
def test_malformed_product_ids_are_refused(tmp_path, product):
    path, message = load_error(tmp_path, f'[feed]\nproducts = ["{product}"]\n')
    assert message.startswith(f"config {path}: feed.products: product ids look like BTC-USD")


@pytest.mark.parametrize("text", ["[feed]\nbatch_interval_s = inf",
                                  "[supervisor]\nshutdown_timeout_s = inf",
                                  "[health]\ninterval_s = inf"])
def test_infinite_numbers_are_refused(tmp_path, text):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text + "\n"))


# --- conf/default.toml ----------------------------------------------------------------


def test_default_toml_loads_and_matches_the_code_defaults():
    if not DEFAULT_TOML.exists():
        pytest.skip("conf/default.toml does not exist yet")
    config = load_config(DEFAULT_TOML)
    assert config.source == str(DEFAULT_TOML)
    # "a missing key takes the value shown here": the file restates the defaults
    expected = replace(Config(), source=str(DEFAULT_TOML),
                       strategy=replace(StrategyConfig(), params=config.strategy.params),
                       products=config.products)
    assert config == expected
    assert set(config.products) <= set(config.feed.products)
    for product in config.feed.products:
        assert config.rules(product) == ProductRules()


def test_default_toml_strategy_params_are_the_strategy_defaults():
    if not DEFAULT_TOML.exists():
        pytest.skip("conf/default.toml does not exist yet")
    config = load_config(DEFAULT_TOML)
    defaults = {f.name: f.default for f in fields(TrendRiskParity.Params)}
    assert dict(config.strategy.params) == defaults
    assert TrendRiskParity(products=["BTC-USD"], **config.strategy.params).params == \
        TrendRiskParity.Params()


def test_default_toml_mentions_every_key():
    if not DEFAULT_TOML.exists():
        pytest.skip("conf/default.toml does not exist yet")
    with open(DEFAULT_TOML, "rb") as fh:
        data = tomllib.load(fh)
    assert set(data) == {"system", "feed", "portfolio", "paper", "risk", "strategy",
                         "supervisor", "health", "admin", "alerts", "ui", "faults", "report",
                         "coinbase", "products"}
    assert set(data["admin"]) == set(AdminConfig.__dataclass_fields__)
    assert set(data["alerts"]) == set(AlertsConfig.__dataclass_fields__)
    assert set(data["coinbase"]) == set(CoinbaseConfig.__dataclass_fields__)
    assert set(data["risk"]) == set(RiskConfig.__dataclass_fields__)
    assert set(data["feed"]) == set(FeedConfig.__dataclass_fields__)
    assert set(data["paper"]) == set(PaperConfig.__dataclass_fields__)
    assert set(data["supervisor"]) == set(SupervisorConfig.__dataclass_fields__)
    assert set(data["health"]) == set(HealthConfig.__dataclass_fields__)
    assert set(data["system"]) == set(SystemConfig.__dataclass_fields__)
