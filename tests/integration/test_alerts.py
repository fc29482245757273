"""Alerts delivered through apprise to a real HTTP receiver on 127.0.0.1
(apprise's ``json://`` webhook): the delivery thread with a receiver that
answers, one that fails and then answers, and none at all; and a live
(paper) run whose halt reaches the receiver, and whose trading goes on when
the receiver is gone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptoj_actors.alerts.delivery import AlertSender
from cryptoj_actors.alerts.rules import AlertKind, AlertRules
from cryptoj_actors.config import AlertsConfig
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.messages import Notice
from cryptoj_actors.runtime import LIVE_LEDGER
from tests.conftest import REPO, journal_count, load_script, wait_until
from tests.integration.test_live_feed import capture  # noqa: F401 - a fixture

replay_server = load_script("replay_server")


class Receiver:
    """A webhook on 127.0.0.1: keeps every JSON body posted; answers 500 to
    the first ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[dict] = []
        self.fail_first = fail_first
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                if receiver.requests <= receiver.fail_first:
                    self.send_response(500)
                else:
                    receiver.posts.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def halt_alert(cause: str = "trading HALTED: drill"):
    rules = AlertRules(AlertsConfig(), trading="PAPER", run_id="live-1")
    [alert] = rules.on_notice(Notice(sender="supervisor", ts_ns=time.time_ns(),
                                     kind=AlertKind.HALT.value, cause=cause))
    return alert


@contextmanager
def sender(urls: tuple[str, ...], **overrides) -> Iterator[tuple[AlertSender, Telemetry]]:
    telemetry = Telemetry()
    config = replace(AlertsConfig(), urls=urls, retry_initial_s=0.05, retry_max_s=0.1,
                     **overrides)
    s = AlertSender(config, telemetry)
    s.start()
    try:
        yield s, telemetry
    finally:
        s.stop(5)


def test_an_alert_reaches_the_webhook_with_its_title_body_and_type():
    with Receiver() as receiver, sender((receiver.url,)) as (s, telemetry):
        s.send(halt_alert())
        wait_until(lambda: receiver.posts, timeout=10)
    [post] = receiver.posts
    assert post["title"] == "[PAPER] HALTED" and post["type"] == "failure"
    assert post["message"].startswith("trading HALTED: drill\nrun live-1, PAPER trading, at ")
    assert telemetry.alerts["sent"] == 1 and telemetry.alerts["failed"] == 0


def test_a_failed_delivery_is_retried_and_only_that_channel_again():
    with Receiver(fail_first=2) as flaky, Receiver() as steady, \
            sender((flaky.url, steady.url)) as (s, telemetry):
        s.send(halt_alert())
        wait_until(lambda: flaky.posts and steady.posts, timeout=10)
    assert len(flaky.posts) == len(steady.posts) == 1  # no channel told twice
    assert flaky.requests == 3
    assert telemetry.alerts["retried"] == 2 and telemetry.alerts["sent"] == 2


def test_with_no_receiver_failures_are_counted_and_send_never_blocks(caplog):
    dead = f"json://127.0.0.1:{closed_port()}/hook"
    with sender((dead,), retries=1) as (s, telemetry):
        started = time.monotonic()
        for i in range(20):
            s.send(halt_alert(f"#{i}"))
        assert time.monotonic() - started < 0.5  # queued, not delivered, on this thread
        wait_until(lambda: telemetry.alerts["failed"] >= 2, timeout=20)
    assert telemetry.alerts["sent"] == 0 and telemetry.alerts["retried"] >= 2
    assert "channel 1 (json)" in caplog.text and "not delivered after 2 attempt(s)" in caplog.text
    assert str(dead) not in caplog.text  # a URL may hold a secret: never logged


def live_config(tmp_path: Path, alert_url: str) -> Path:
    conf = tmp_path / "live.toml"
    conf.write_text(
        '[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbar_interval_s = 1\n'
        '[strategy]\nname = "tests.integration.test_live_feed:FivePercentEach"\n'
        f'[alerts]\nurls = ["{alert_url}"]\nretries = 1\nretry_initial_s = 0.1\n')
    return conf


def run_live(conf: Path, state: Path, feed_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cryptoj_actors", "run", "--config", str(conf),
         "--state-dir", str(state), "--no-ui", "--feed-url", f"ws://127.0.0.1:{feed_port}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cryptoj_actors", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=30)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=30)[1]


def test_a_halt_of_a_running_system_is_alerted_within_5_s(capture, tmp_path):  # noqa: F811
    with Receiver() as receiver, \
            replay_server.Running(replay_server.ReplayServer(capture, loop=True)) as feed:
        proc = run_live(live_config(tmp_path, receiver.url), tmp_path, feed.port)
        try:
            wait_until(lambda: journal_count(tmp_path / "journal.sqlite3", "fills",
                                             LIVE_LEDGER) > 0, timeout=40)
            halted = cli("halt", "--state-dir", str(tmp_path), "--reason", "drill at 3 a.m.")
            assert halted.returncode == 0, halted.stderr
            asked = time.monotonic()
            wait_until(lambda: any("HALTED" in p["title"] for p in receiver.posts), timeout=5)
            took = time.monotonic() - asked
        finally:
            stderr = stop(proc)
    [alert] = [p for p in receiver.posts if "HALTED" in p["title"]]
    assert alert["title"] == "[PAPER] HALTED", stderr
    assert "drill at 3 a.m." in alert["message"] and "PAPER trading" in alert["message"]
    assert took < 5
    assert "Traceback" not in stderr


def status(state: Path) -> dict:
    result = cli("status", "--state-dir", str(state), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_trading_goes_on_with_the_receiver_down_and_the_failures_are_counted(
        capture, tmp_path):  # noqa: F811
    dead = f"json://127.0.0.1:{closed_port()}/hook"
    with replay_server.Running(replay_server.ReplayServer(capture, loop=True)) as feed:
        proc = run_live(live_config(tmp_path, dead), tmp_path, feed.port)
        try:
            wait_until(lambda: status(tmp_path).get("portfolio") is not None, timeout=40)
            # A halt, then a resume: two alerts that cannot be delivered.
            assert cli("halt", "--state-dir", str(tmp_path)).returncode == 0
            wait_until(lambda: status(tmp_path)["trading_state"]["level"] == "HALTED")
            resumed = cli("resume", "--state-dir", str(tmp_path))
            assert resumed.returncode == 0, resumed.stderr
            wait_until(lambda: status(tmp_path)["alerts"]["failed"] >= 2, timeout=20)
            # The strategy decides on every bar (one a second): it goes on.
            decided = status(tmp_path)["strategy"]["decisions"]
            wait_until(lambda: status(tmp_path)["strategy"]["decisions"] >= decided + 3)
            doc = status(tmp_path)
        finally:
            stderr = stop(proc)
    assert doc["trading_state"]["level"] == "ACTIVE", stderr
    assert doc["alerts"]["channels"] == 1 and doc["alerts"]["sent"] == 0
    assert "Traceback" not in stderr
