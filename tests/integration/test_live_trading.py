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

from cryptoj_actors.runtime import COINBASE_LEDGER
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


def live_config(tmp_path: Path, rest_url: str, key_file: Path, mode: str = "live") -> Path:
    conf = tmp_path / "live.toml"
    conf.write_text(
        f'[system]\nmode = "{mode}"\n'
        f'[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbar_interval_s = 1\n'
        f'[strategy]\nname = "tests.integration.test_live_feed:FivePercentEach"\n'
        f'[coinbase]\nrest_url = "{rest_url}"\nkey_file = "{key_file}"\n'
        f'timeout_s = 2.0\npoll_interval_s = 0.2\n'
        + "".join(f'[products.{p}]\nbase_increment = "0.00000001"\nquote_increment = "0.01"\n'
                  f'min_base_size = "0.00000001"\nmin_notional = "1"\n'
                  for p in ("BTC-USD", "ETH-USD")))
    return conf


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
            proc = subprocess.Popen(
                [sys.executable, "-m", "cryptoj_actors", "run", "--live", "--config", str(conf),
                 "--state-dir", str(tmp_path), "--no-ui", "--feed-url",
                 f"ws://127.0.0.1:{feed.port}"],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
            journal = tmp_path / "journal.sqlite3"
            traded = False
            try:
                # A market order can fill in pieces: wait for orders in both products.
                wait_until(lambda: journal_count(journal, "fills", COINBASE_LEDGER) >= 2 and {
                    p.body["product_id"] for p in rest.requests("POST", "/orders")} == {
                    "BTC-USD", "ETH-USD"}, timeout=40)
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
