"""The live status view (rich), and its one-line form for logs.

Both render a status document (:func:`cryptoj_actors.admin.status.status_document`):
the running system's, taken from what the actors publish, or a remote one
fetched from a running instance's admin interface. Rendering never asks an
actor anything, so watching the system does not slow it down.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

TRADING_STYLE = {"LIVE": "bold white on red", "PAPER": "bold black on green"}
LEVEL_STYLE = {"ACTIVE": "bold green", "REDUCING": "bold yellow", "HALTED": "bold red",
               "OK": "green", "DEGRADED": "yellow", "CRITICAL": "bold red"}


def _money(text: str | None) -> str:
    return "n/a" if text is None else f"{Decimal(text):,.2f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


class RateMeter:
    """Messages per second per channel, from running totals seen at two times."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[str, int]] | None = None
        self.rates: dict[str, float] = {}

    def update(self, totals: dict[str, int], now: float) -> dict[str, float]:
        if self._last is not None and now > self._last[0]:
            then, before = self._last
            self.rates = {c: (n - before.get(c, 0)) / (now - then) for c, n in totals.items()}
        self._last = (now, dict(totals))
        return self.rates


def render(doc: dict[str, Any], rates: dict[str, float] | None = None) -> RenderableType:
    """The whole picture of one status document."""
    state = doc.get("trading_state") or {}
    level = state.get("level", "?")
    head = Text()
    run = doc["run"]
    trading = run.get("trading", "PAPER")
    head.append(f" {trading} ", style=TRADING_STYLE.get(trading, ""))
    head.append(" REAL MONEY" if trading == "LIVE" else " paper trading", style="bold")
    head.append(f"   {run['mode']} data   {run['run_id']}   ")
    head.append(level, style=LEVEL_STYLE.get(level, ""))
    head.append(f"  {state.get('reason', '')}")
    progress = doc["progress"]
    if progress["batches_total"]:
        done = progress["batches_settled"] / progress["batches_total"]
        head.append(f"\nprogress {progress['batches_settled']:,}/{progress['batches_total']:,} "
                    f"batches ({done:.1%})")
    health = doc.get("health")
    if health:
        head.append("   health ")
        head.append(health["level"], style=LEVEL_STYLE.get(health["level"], ""))
        if health["checks"]:
            head.append(f"  {'; '.join(health['checks'][:2])}")

    warmup = doc.get("warmup")
    if warmup and warmup["needed_bars"]:
        head.append(f"\n{warmup_text(warmup)}")

    parts: list[RenderableType] = [Panel(head, title="cryptoj_actors", box=box.ROUNDED)]
    parts.append(_money_table(doc))
    if doc.get("portfolio", {}).get("positions"):
        parts.append(_positions_table(doc["portfolio"]["positions"]))
    parts.append(_actors_table(doc))
    parts.append(_feed_line(doc, rates))
    return Group(*parts)


def _money_table(doc: dict[str, Any]) -> Table:
    table = Table(title="Equity and performance", show_header=False, box=None)
    for _ in range(4):
        table.add_column()
    pf = doc.get("portfolio")
    perf = doc.get("performance") or {}
    if pf is None:
        table.add_row("Equity", "waiting for the first mark", "", "")
        return table
    table.add_row("Equity", _money(pf["equity"]), "Total return", _percent(perf.get("total_return")))
    table.add_row("Cash", _money(pf["cash"]), "Sharpe / Sortino",
                  f"{_ratio(perf.get('sharpe'))} / {_ratio(perf.get('sortino'))}")
    table.add_row("PnL today", _money(pf["today_pnl"]), "Max drawdown",
                  _percent(perf.get("max_drawdown")))
    table.add_row("Realized / unrealized", f"{_money(pf['realized_pnl'])} / "
                  f"{_money(pf['unrealized_pnl'])}", "Win rate / profit factor",
                  f"{_percent(perf.get('win_rate'))} / {_ratio(perf.get('profit_factor'))}")
    table.add_row("Fees", _money(pf["fees"]), "Fills", str(perf.get("number_of_trades", "n/a")))
    return table


def _positions_table(positions: list[dict[str, str]]) -> Table:
    table = Table(title="Positions", box=box.SIMPLE_HEAD)
    for name in ("product", "size", "entry", "mark", "unrealized PnL", "open orders"):
        table.add_column(name, justify="left" if name == "product" else "right")
    for p in positions:
        open_orders = []
        if Decimal(p["open_buy_quote"]):
            open_orders.append(f"buy {_money(p['open_buy_quote'])}")
        if Decimal(p["open_sell_base"]):
            open_orders.append(f"sell {p['open_sell_base']}")
        table.add_row(p["product_id"], p["base_size"], _money(p["avg_entry_price"]),
                      _money(p["mark_price"]), _money(p["unrealized_pnl"]),
                      ", ".join(open_orders) or "-")
    return table


def _actors_table(doc: dict[str, Any]) -> Table:
    components = (doc.get("health") or {}).get("components", {})
    table = Table(title="Actors", box=box.SIMPLE_HEAD)
    for name in ("actor", "state", "health", "generation", "restarts", "mailbox", "errors"):
        table.add_column(name, justify="left" if name in ("actor", "state", "health") else "right")
    for role, actor in doc["actors"].items():
        level = components.get(f"actor:{role}", "OK" if actor["alive"] else "CRITICAL")
        table.add_row(role, Text("alive" if actor["alive"] else "down",
                                 style="green" if actor["alive"] else "bold red"),
                      Text(level, style=LEVEL_STYLE.get(level, "")), str(actor["generation"]),
                      str(actor["restarts"]),
                      "-" if actor["mailbox"] is None else str(actor["mailbox"]),
                      str(doc["errors"].get(role, 0)))
    return table


def _feed_line(doc: dict[str, Any], rates: dict[str, float] | None) -> Text:
    feed, latency = doc["feed"], doc["latency"]
    channels = ", ".join(
        f"{c} {rates[c]:,.0f}/s" if rates and c in rates else f"{c} {n:,}"
        for c, n in sorted(feed["messages"].items())) or "none yet"
    dead = sum(doc["dead_letters"].values())
    return Text(f"feed: {channels}; lag {_seconds(feed['lag_s'])}   "
                f"tick-to-order {_seconds(latency['tick_to_order']['mean_s'])}   "
                f"order round trip {_seconds(latency['order_round_trip']['mean_s'])}   "
                f"dead letters {dead}")


def warmup_text(warmup: dict[str, Any]) -> str:
    """``warm-up ready: 672/672 bars (rest)``, or when trading may start."""
    bars = f"{warmup['have_bars']:,}/{warmup['needed_bars']:,} bars ({warmup['source']})"
    if warmup["ready"]:
        return f"warm-up ready: {bars}"
    return f"warm-up {bars}: trading from {warmup['trading_from']}"


def one_line(doc: dict[str, Any]) -> str:
    """The status in one log line (no terminal, or ``--no-ui``)."""
    state = (doc.get("trading_state") or {}).get("level", "n/a")
    health = (doc.get("health") or {}).get("level", "n/a")
    progress = doc["progress"]
    share = (f" {progress['batches_settled']:,}/{progress['batches_total']:,} batches"
             if progress["batches_total"] else "")
    pf = doc.get("portfolio")
    equity = f" equity {_money(pf['equity'])} today {_money(pf['today_pnl'])}" if pf else ""
    held = len(pf["positions"]) if pf else 0
    alive = sum(a["alive"] for a in doc["actors"].values())
    trading = doc["run"].get("trading", "PAPER")
    warmup = doc.get("warmup")
    warm = f" | {warmup_text(warmup)}" if warmup and warmup["needed_bars"] else ""
    return (f"status: {trading}{share}{equity} | {state} | health {health} | {held} positions | "
            f"{alive}/{len(doc['actors'])} actors alive{warm}")


class Refresher:
    """Keeps the channel rates between renders of the running system's status."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._meter = RateMeter()

    def __rich__(self) -> RenderableType:
        doc = self._source()
        rates = self._meter.update(doc["feed"]["messages"], time.monotonic())
        return render(doc, rates)
