"""``run --live``: the whole system sends real-protocol orders to a Coinbase
REST venue on 127.0.0.1 (checking every JWT), on market data from the replay
server serving real recorded frames, and takes the venue's balances at start.
Real orders need both ``mode = "live"`` and ``--live``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.admin.client import call, running_endpoint
from cryptoj_actors.runtime import COINBASE_LEDGER
from cryptoj_actors.state.layout import StateDir
from tests.conftest import REPO, journal_count, load_script, wait_until
from tests.integration.test_live_feed import capture, direct_books  # noqa: F401

server_script = load_script("exchange_server")
replay_server = load_script("replay_server")


def write_key(path: Path, name: str, pem: str, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        json.dump({"name": name, "privateKey": pem}, out)
    os.chmod(path, mode)
    return path


def live_config(tmp_path: Path, rest_url: str, key_file: Path, mode: str = "live", *,
                user_url: str = "", poll_interval_s: float = 0.2) -> Path:
    conf = tmp_path / "live.toml"
    conf.write_text(
        f'[system]\nmode = "{mode}"\n'
        f'[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbar_interval_s = 1\n'
        f'[strategy]\nname = "tests.integration.test_live_feed:FivePercentEach"\n'
        f'[coinbase]\nrest_url = "{rest_url}"\nkey_file = "{key_file}"\n'
        f'timeout_s = 2.0\npoll_interval_s = {poll_interval_s}\nuser_url = "{user_url}"\n'
        + "".join(f'[products.{p}]\nbase_increment = "0.00000001"\nquote_increment = "0.01"\n'
                  f'min_base_size = "0.00000001"\nmin_notional = "1"\n'
                  for p in ("BTC-USD", "ETH-USD")))
    return conf


def start_run_live(conf: Path, state: Path, feed_port: int) -> subprocess.Popen:
    """``run --live`` as a process on the replay server at ``feed_port``; its stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "cryptoj_actors", "run", "--live", "--config", str(conf),
         "--state-dir", str(state), "--no-ui", "--feed-url", f"ws://127.0.0.1:{feed_port}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30):
    return subprocess.run([sys.executable, "-m", "cryptoj_actors", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_run_live_trades_on_the_venue_and_reconciles_its_balances(capture, tmp_path):  # noqa: F811
    name, pem, public = server_script.make_key()
    books = direct_books(capture)
    prices = {p: (b.best_bid, b.best_ask) for p, b in books.items()}
    # The account holds less than the config's starting cash: the venue is right.
    venue = server_script.Venue(balances={"USD": Decimal("8000"), "ETH": Decimal("0.05")},
                                prices=prices)
    rest = server_script.ExchangeServer(venue, name, public).start()
    key_file = write_key(tmp_path / "cdp_api_key.json", name, pem)
    conf = live_config(tmp_path, rest.url, key_file)
    feed = replay_server.ReplayServer(capture, speed=1.0, loop=True)
    try:
        with replay_server.Running(feed):
            proc = start_run_live(conf, tmp_path, feed.port)
            journal = tmp_path / "journal.sqlite3"
            traded = False
            try:
                # A market order can fill in pieces: wait for orders in both
                # products, and for the reconciliation that follows their fills.
                wait_until(lambda: journal_count(journal, "fills", COINBASE_LEDGER) >= 2 and {
                    p.body["product_id"] for p in rest.requests("POST", "/orders")} == {
                    "BTC-USD", "ETH-USD"} and _eth_applied(tmp_path), timeout=40)
                traded = True
            except AssertionError:
                pass  # said below, with what the system logged
            finally:
                proc.send_signal(signal.SIGINT)
                stderr = proc.communicate(timeout=30)[1]
    finally:
        rest.stop()
    assert traded, f"no fills in both products; the system said:\n{stderr[-4000:]}"
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "LIVE TRADING WITH REAL MONEY" in stderr
    assert pem.splitlines()[1] not in stderr  # the secret never reaches a log
    assert name not in stderr and f"apiKeys/…{name[-4:]}" in stderr  # nor the key's name
    posts = rest.requests("POST", "/orders")
    assert posts and all(p.authorized for p in posts)
    assert len({p.body["client_order_id"] for p in posts}) == len(posts)  # each sent once
    assert {p.body["product_id"] for p in posts} == {"BTC-USD", "ETH-USD"}
    # Balances were taken up at start: USD 8000 on the venue, 10000 in the
    # config; the ETH the account held, once the first batch had marked it.
    run_dir = next((tmp_path / "runs").iterdir())
    lines = [json.loads(line) for line in
             (run_dir / "reconciliation.jsonl").read_text().splitlines()]
    first = lines[0]
    assert (first["currency"], first["venue"], first["ledger"], first["applied"]) == \
        ("USD", "8000", "10000", True)
    eth = [(Decimal(d["venue"]) - Decimal(d["ledger"]), d["applied"])
           for d in lines if d["currency"] == "ETH"]
    assert eth[0] == (Decimal("0.05"), False)  # at start: no ETH mark yet
    assert (Decimal("0.05"), True) in eth[1:]
    assert all(s.authorized for s in rest.seen)


def _eth_applied(state: Path) -> bool:
    """The run's reconciliation has applied an ETH difference to the ledger."""
    found = list(state.glob("runs/*/reconciliation.jsonl"))
    text = found[0].read_text() if found else ""
    whole = text[:text.rfind("\n") + 1]  # not a line still being written
    return any(d["currency"] == "ETH" and d["applied"]
               for d in map(json.loads, whole.splitlines()))


def test_live_orders_need_both_the_live_mode_and_the_flag(tmp_path):
    name, pem, _ = server_script.make_key()
    key_file = write_key(tmp_path / "key.json", name, pem)
    paper_conf = live_config(tmp_path, "http://127.0.0.1:9", key_file, mode="paper")
    result = run_cli("run", "--live", "--config", str(paper_conf), "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f'error: --live needs system.mode = "live" in the config ({paper_conf} has "paper")']


@pytest.mark.parametrize("problem", ["world-readable", "missing", "not-a-key"])
def test_a_bad_key_stops_a_live_start_with_one_line(tmp_path, problem):
    name, pem, _ = server_script.make_key()
    key_file = tmp_path / "key.json"
    if problem == "world-readable":
        write_key(key_file, name, pem, mode=0o644)
        expected = "readable or writable by others (mode 0644); chmod 600 it"
    elif problem == "not-a-key":
        write_key(key_file, name, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE "
                  "KEY-----\n")
        expected = "the private key is not an unencrypted PEM private key"
    else:
        expected = "cannot read"
    conf = live_config(tmp_path, "http://127.0.0.1:9", key_file)
    result = run_cli("run", "--live", "--config", str(conf), "--state-dir", str(tmp_path))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: key file") and expected in line
    assert "AAAA" not in line



@pytest.mark.parametrize("fault", ["none", "stall"])
def test_fills_come_at_the_user_channels_news_and_by_polling_while_it_is_stale(
        capture, tmp_path, fault):  # noqa: F811
    """With the channel up, orders are polled only when it brings news (the
    clock's poll is 30 s away): fills are journaled at once. Stalled after
    its opening frames, it goes stale, and polling every 0.2 s (and the
    reconciliation at each new subscription) takes over."""
    name, pem, public = server_script.make_key()
    prices = {p: (b.best_bid, b.best_ask) for p, b in direct_books(capture).items()}
    venue = server_script.Venue(balances={"USD": Decimal("10000")}, prices=prices)
    rest = server_script.ExchangeServer(venue, name, public).start()
    # Stalled after its opening frames (two subscriptions, the snapshot), the
    # channel never tells of an order.
    faults = server_script.UserFaults(stall_after=3 if fault == "stall" else None)
    user = server_script.UserChannelServer(venue, name, public, faults=faults).start()
    key_file = write_key(tmp_path / "cdp_api_key.json", name, pem)
    conf = live_config(tmp_path, rest.url, key_file, user_url=user.url,
                       poll_interval_s=30.0 if fault == "none" else 0.2)
    conf.write_text(conf.read_text().replace(
        "[coinbase]\n", "[coinbase]\nuser_poll_interval_s = 30.0\nuser_stale_after_s = 1.0\n"))
    feed = replay_server.ReplayServer(capture, speed=1.0, loop=True)
    journal = tmp_path / "journal.sqlite3"
    try:
        with replay_server.Running(feed):
            proc = start_run_live(conf, tmp_path, feed.port)
            try:
                wait_until(lambda: len(rest.requests("POST", "/orders")) >= 2, timeout=40)
                # Both orders filled at once on the venue; their fills are
                # journaled within 10 s (the clock's poll is 30 s away).
                wait_until(lambda: journal_count(journal, "fills", COINBASE_LEDGER) >= 2,
                           timeout=10)
                if fault == "stall":
                    wait_until(lambda: user_status(tmp_path)["events"].get("reconnects"),
                               timeout=15)
                status = user_status(tmp_path)
            finally:
                proc.send_signal(signal.SIGINT)
                stderr = proc.communicate(timeout=30)[1]
    finally:
        rest.stop()
        user.stop()
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    assert {m["channel"] for m in user.subscriptions} == {"user", "heartbeats"}
    polls = len(rest.requests("GET", "/orders/historical/fills"))
    if fault == "none":
        assert status["state"] == "up" and status["events"]["orders"] >= 2, status
        assert polls <= 4  # one a news: at most an order's open and fill
    else:  # polling and the reconciliations brought them
        assert status["events"].get("orders", 0) == 0 and polls >= 1, status


def user_status(state: Path) -> dict:
    endpoint = running_endpoint(StateDir(state), "admin.token")
    assert endpoint is not None
    return call(endpoint, "GET", "/status")["user_channel"]
