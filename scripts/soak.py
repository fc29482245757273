"""Soak: the live system (``run --live``, a process of its own) for a given
time on the loopback servers, with faults on a schedule, and what it did.

    python scripts/soak.py --minutes 30 [--fault-every 60] [--out soak.json]

The market data is the real recorded Advanced Trade capture, looped at its
recorded pace by the replay server; orders go to the Coinbase-protocol REST
venue (``exchange_server.py``), every request signed and checked. Both run in
this process; the system under test runs in its own, as an operator runs it,
with a strategy that trades every bar (five-second bars) and a fault injected
into a pipeline actor every ``--actor-fault-batches`` batches.

Every ``--fault-every`` seconds the next fault of the schedule is switched on
for ``--fault-for`` seconds, in turn: the connection dropped, a skipped
sequence number, a stalled stream, malformed frames, late heartbeats, venue
5xx answers, slow venue answers, the ``user`` channel dropped, the ``user``
channel stalled.

At the end (after a halt and a few polls, so that the venue's last fills are
taken up): uptime (the process lived throughout, and the share of time its
trading state was not HALTED, over the time its status answered), restarts by role, orders, fills, fills lost
(on the venue, never journaled) or doubled (journaled twice, or more than
their order), and the process's RSS over time, with the change from the end
of warm-up (the first fifth of the run) to the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import exchange_server  # noqa: E402
import replay_server  # noqa: E402

from cryptoj_actors.admin.client import call, running_endpoint  # noqa: E402
from cryptoj_actors.messages import MarketBatch  # noqa: E402
from cryptoj_actors.model import Bar, OrderIntent  # noqa: E402
from cryptoj_actors.runtime import COINBASE_LEDGER  # noqa: E402
from cryptoj_actors.state.layout import StateDir  # noqa: E402

CAPTURE = REPO.parent / "shared" / "data" / "coinbase_advanced_ws_2026-09-30_fastmm" / \
    "advanced_md_stream.jsonl"
PRODUCTS = ("BTC-USD", "ETH-USD")
PIPELINE = ("feed", "strategy", "risk", "portfolio", "executor")


class Seesaw:
    """Per product and bar, 5 % of equity and then 2 %: an order every bar."""

    def __init__(self, *, products: tuple[str, ...]) -> None:
        self.bars: Counter[str] = Counter()

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        intents = []
        for bar in (e for e in batch.events if isinstance(e, Bar)):
            self.bars[bar.product_id] += 1
            weight = Decimal("0.05") if self.bars[bar.product_id] % 2 else Decimal("0.02")
            intents.append(OrderIntent(product_id=bar.product_id, target_weight=weight,
                                       rebalance_threshold=Decimal("0.01")))
        return intents


def schedule(server: replay_server.ReplayServer, venue: exchange_server.ExchangeServer,
             user: exchange_server.UserChannelServer) -> list[tuple[str, Any, Any]]:
    """(name, switch on, switch off) for each fault, in the order they come."""
    def feed(**faults: Any) -> tuple[Any, Any]:
        return (lambda: setattr(server, "faults", replay_server.Faults(**faults)),
                lambda: setattr(server, "faults", replay_server.Faults()))

    def rest(kind: str, **more: Any) -> tuple[Any, Any]:
        fault = exchange_server.Fault("GET", "/orders", kind, times=10**6, **more)
        return (lambda: venue.add_fault(fault), lambda: setattr(fault, "times", 0))

    def channel(**faults: Any) -> tuple[Any, Any]:
        return (lambda: setattr(user, "faults", exchange_server.UserFaults(**faults)),
                lambda: setattr(user, "faults", exchange_server.UserFaults()))

    return [("drop", *feed(drop_after=200)), ("gap", *feed(skip_seq=150)),
            ("stall", *feed(stall_after=150)), ("malformed", *feed(malformed=0.05)),
            ("late heartbeats", *feed(heartbeat_delay_s=2.0)),
            ("venue 500", *rest("500")), ("venue slow", *rest("slow", delay_s=1.5)),
            ("user channel drop", *channel(drop_after=3)),
            ("user channel stall", *channel(stall_after=3))]


def journal(path: Path) -> tuple[int, list[tuple[str, str, Decimal]], dict[str, Decimal]]:
    """Orders, fills (fill id, order, size) and each order's filled size, as journaled."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        orders = db.execute("SELECT count(*) FROM orders WHERE run_id=?",
                            (COINBASE_LEDGER,)).fetchone()[0]
        fills = [(f, o, Decimal(s)) for f, o, s in db.execute(
            "SELECT fill_id, client_order_id, base_size FROM fills WHERE run_id=?",
            (COINBASE_LEDGER,))]
        filled = {o: Decimal(s) for o, s in db.execute(
            "SELECT client_order_id, filled_base FROM orders WHERE run_id=?",
            (COINBASE_LEDGER,))}
    finally:
        db.close()
    return orders, fills, filled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--fault-for", type=float, default=15.0, help="seconds")
    parser.add_argument("--actor-fault-batches", type=int, default=3000,
                        help="a pipeline actor fails every this many batches (0: never)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    parser.add_argument("--log", type=Path, help="keep the system's stderr here")
    args = parser.parse_args()
    if not CAPTURE.exists():
        print(f"error: the recorded capture is missing: {CAPTURE}", file=sys.stderr)
        return 2
    name, pem, public = exchange_server.make_key()
    prices = {"BTC-USD": (Decimal("83277.25"), Decimal("83277.26")),
              "ETH-USD": (Decimal("2631.25"), Decimal("2631.26"))}
    account = exchange_server.Venue(balances={"USD": Decimal("10000")}, prices=prices)
    venue = exchange_server.ExchangeServer(account, name, public).start()
    user = exchange_server.UserChannelServer(account, name, public).start()
    feed = replay_server.ReplayServer(replay_server.Capture.read(CAPTURE), speed=1.0,
                                      loop=True)
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp, replay_server.Running(feed):
        state = Path(tmp) / "var"
        key = Path(tmp) / "key.json"
        key.write_text(json.dumps({"name": name, "privateKey": pem}))
        key.chmod(0o600)
        faults = (f'[faults]\nrole = "risk"\nat_batch = {args.actor_fault_batches}\n'
                  f"times = 1000\n" if args.actor_fault_batches else "")
        config = Path(tmp) / "soak.toml"
        config.write_text(
            f'[system]\nmode = "live"\n[feed]\nproducts = ["BTC-USD", "ETH-USD"]\n'
            f'batch_interval_s = 0.1\nbar_interval_s = 5\n[strategy]\nname = "soak:Seesaw"\n'
            f'[coinbase]\nrest_url = "{venue.url}"\nkey_file = "{key}"\npoll_interval_s = 0.2\n'
            f'user_url = "{user.url}"\n'
            f'timeout_s = 3.0\n[risk]\nmax_orders = 1000000\ndaily_loss_limit = 1\n'
            f'max_drawdown = 1\nstop_loss = 1\n'
            f'[supervisor]\nmax_restarts = 5\nrestart_window_s = 30\n{faults}'
            + "".join(f'[products.{p}]\nbase_increment = "0.00000001"\n'
                      f'quote_increment = "0.01"\nmin_base_size = "0.00000001"\n'
                      f'min_notional = "1"\n' for p in PRODUCTS))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(REPO / "scripts"), str(REPO), os.environ.get("PYTHONPATH", "")])}
        err_file = (Path(tmp) / "err").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cryptoj_actors", "run", "--live", "--config", str(config),
             "--state-dir", str(state), "--feed-url", f"ws://127.0.0.1:{feed.port}", "--no-ui"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
        process = psutil.Process(proc.pid)
        faults_due = schedule(feed, venue, user)
        started = time.monotonic()
        rss: list[tuple[float, float]] = []
        halted_s = unknown_s = 0.0
        last = started
        fired: list[tuple[float, str]] = []
        nth, off_at = 0, None
        status: dict[str, Any] = {}
        try:
            while (now := time.monotonic()) - started < seconds and proc.poll() is None:
                elapsed = now - started
                if off_at is None and elapsed >= (nth + 1) * args.fault_every:
                    name_, on, off = faults_due[nth % len(faults_due)]
                    on()
                    fired.append((elapsed, name_))
                    off_at = (now + args.fault_for, off)
                    nth += 1
                elif off_at is not None and now >= off_at[0]:
                    off_at[1]()
                    off_at = None
                endpoint = running_endpoint(StateDir(state), "admin.token")
                level = None
                if endpoint is not None:
                    try:
                        status = call(endpoint, "GET", "/status")
                        level = (status.get("trading_state") or {}).get("level")
                    except Exception:  # noqa: BLE001 - no answer: this span is unknown
                        pass
                if level is None:
                    unknown_s += now - last
                elif level == "HALTED":
                    halted_s += now - last
                last = now
                rss.append((elapsed, process.memory_info().rss / 2**20))
                time.sleep(5)
        finally:
            alive = proc.poll() is None
            if off_at is not None:
                off_at[1]()
            _settle(state)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            err_file.close()
        lived = time.monotonic() - started
        orders, fills, filled = journal(state / "journal.sqlite3") \
            if (state / "journal.sqlite3").exists() else (0, [], {})
        err = (Path(tmp) / "err").read_text()
        if args.log:
            args.log.write_text(err)
    venue.stop()
    user.stop()
    journaled = Counter(f for f, _, _ in fills)
    on_venue = {f["entry_id"] for f in venue.venue.fills}
    over = sum(1 for o, size in _sizes(fills).items() if size > filled.get(o, Decimal(0)))
    lost = len(on_venue - set(journaled))
    doubled = sum(n - 1 for n in journaled.values() if n > 1) + over
    warm = [r for t, r in rss if t >= seconds / 5] or [r for _, r in rss] or [0.0]
    figures = {
        "minutes": round(lived / 60, 2), "process_lived": alive, "exit_code": proc.returncode,
        "not_halted_share": round(1 - halted_s / (lived - unknown_s), 4)
        if lived > unknown_s else None,
        "status_unanswered_s": round(unknown_s, 1),
        "restarts": {r: a.get("restarts", 0) for r, a in (status.get("actors") or {}).items()},
        "orders": orders, "fills": len(fills), "venue_fills": len(on_venue),
        "lost_fills": lost, "doubled_fills": doubled,
        "rss_mb_after_warmup": round(warm[0], 1), "rss_mb_end": round(warm[-1], 1),
        "rss_change": round(warm[-1] / warm[0] - 1, 4) if warm[0] else None,
        "rss_min_max_after_warmup": [round(min(warm), 1), round(max(warm), 1)],
        "faults": [f"{t:.0f}s {n}" for t, n in fired],
        "tracebacks": err.count("Traceback"),
    }
    table = Table(title=f"Soak: {figures['minutes']} min of live trading on 127.0.0.1")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key_, value in figures.items():
        table.add_row(key_, str(value))
    Console(width=160).print(table)
    if args.out:
        args.out.write_text(json.dumps({**figures, "rss": rss}, indent=1))
    return 0 if alive and not lost and not doubled else 1


def _settle(state: Path) -> None:
    """Halt the system (no new orders) and give its polls time to take up the
    venue's last fills, so that a fill made just before the end is not
    counted lost."""
    endpoint = running_endpoint(StateDir(state), "admin.token")
    if endpoint is None:
        return
    try:
        call(endpoint, "POST", "/halt", {"reason": "the soak ends"})
    except Exception:  # noqa: BLE001 - it may be down: the counts will say so
        return
    time.sleep(3)  # many polls (every 0.2 s): every fill the venue made is read


def _sizes(fills: list[tuple[str, str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for _, order, size in fills:
        out[order] = out.get(order, Decimal(0)) + size
    return out


if __name__ == "__main__":
    sys.exit(main())
