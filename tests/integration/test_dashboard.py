"""The web dashboard in a real browser: Playwright driving Debian's headless
Chromium against the admin interface of a replay and of a live (paper) run
on the loopback servers. The page loads through the login page, shows the
trading state, equity and every actor, follows a change within 2 s, halts
the system from its controls within 1 s, and refuses a wrong token; the
cookie alone cannot post.

Screenshots are saved in the test's directory, and also in
``$CRYPTOJ_SCREENSHOTS`` when that is set (to look at them).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from cryptoj_actors.admin.client import running_endpoint
from cryptoj_actors.config import StrategyConfig
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state.layout import StateDir
from cryptoj_actors.system import TradingSystem
from tests.actors.test_system import START, EveryBatchStrategy, config_for
from tests.conftest import load_script, wait_until, window
from tests.integration.conftest import screenshot
from tests.integration.test_admin import endpoint_of
from tests.integration.test_alerts import run_live, stop
from tests.integration.test_live_feed import capture  # noqa: F401 - a fixture

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
from playwright.sync_api import expect

replay_server = load_script("replay_server")

ROLES = {"feed", "strategy", "risk", "portfolio", "executor", "health", "admin", "supervisor"}


class PacedEveryBatch(EveryBatchStrategy):
    """An order on almost every batch, 20 ms a batch: a replay that runs long
    enough to be watched, with fills and open orders to show."""

    def on_batch(self, batch):
        time.sleep(0.02)
        return super().on_batch(batch)


def start_replay(aligned, tmp_path: Path) -> TradingSystem:
    config = replace(config_for(tmp_path, credit_window=16),
                     strategy=StrategyConfig(name=f"{__name__}:PacedEveryBatch"))
    run = RunInfo(run_id="dashboard", mode="replay", state_dir=tmp_path,
                  run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(window(aligned, START, 2400)))
    system.start()
    return system


def log_in(page, url: str, token: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(url + "/login")
    page.fill("#token", token)
    page.click("#login")
    expect(page).to_have_url(url + "/")


def test_the_dashboard_of_a_replay(aligned_real, tmp_path, browser):
    system = start_replay(aligned_real, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        endpoint = endpoint_of(tmp_path)
        url, token = endpoint.url, endpoint.token
        bearer = {"Authorization": f"Bearer {token}"}
        # scripts: the bearer token works, nothing works without it
        html = requests.get(url + "/", headers=bearer, timeout=5)
        assert html.status_code == 200 and "<title>cryptoj_actors</title>" in html.text
        assert html.headers["X-Frame-Options"] == "DENY"
        anonymous = requests.get(url + "/", allow_redirects=False, timeout=5)
        assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/login"
        assert requests.get(url + "/events", timeout=5).status_code == 401

        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # a wrong token: refused, no session
        page.goto(url + "/login")
        page.fill("#token", "not-the-token")
        page.click("#login")
        expect(page.locator("#login-error")).to_have_text("Wrong token.")
        assert context.cookies() == []

        log_in(page, url, token)
        [cookie] = context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert token not in page.url and cookie["value"] != token

        expect(page.locator("#trading")).to_have_text("PAPER")
        expect(page.locator("#trading-state")).to_have_text("ACTIVE", timeout=5000)
        expect(page.locator("#equity")).not_to_have_text("–", timeout=5000)
        for role in ROLES:
            expect(page.locator(f'#actors tr[data-role="{role}"]')).to_contain_text("alive")
        expect(page.locator("#chart .main-svg").first).to_be_visible(timeout=5000)
        expect(page.locator("#fills tr").nth(1)).not_to_contain_text("none", timeout=10000)

        # the cookie alone cannot post: a forged request lacks the page's token
        jar = {"cryptoj_session": cookie["value"]}
        forged = requests.post(url + "/halt", cookies=jar, json={"reason": "forged"}, timeout=5)
        assert forged.status_code == 403 and not system.rt.halt.is_set()
        wrong = requests.post(url + "/halt", cookies=jar, json={"reason": "forged"},
                              headers={"X-CSRF-Token": "guess"}, timeout=5)
        assert wrong.status_code == 403 and not system.rt.halt.is_set()

        # a change made elsewhere shows within 2 s
        assert requests.post(url + "/halt", headers=bearer,
                             json={"reason": "halted from a script"}, timeout=5).ok
        expect(page.locator("#trading-state")).to_have_text("HALTED", timeout=2000)
        expect(page.locator("#state-reason")).to_contain_text("halted from a script")

        # resume from the page, with a reason and a confirmation
        page.click("#resume")
        page.fill("#confirm-reason", "checked: resuming")
        page.click("#confirm-ok")
        expect(page.locator("#action-result")).to_contain_text("done")
        wait_until(lambda: not system.rt.halt.is_set(), timeout=5)
        expect(page.locator("#trading-state")).to_have_text("ACTIVE", timeout=2000)

        # a cancelled halt does nothing
        page.click("#halt")
        page.click("#confirm-cancel")
        assert not system.rt.halt.is_set()

        # halt from the page: the system halts within 1 s of the confirmation
        page.click("#halt")
        page.fill("#confirm-reason", "drill from the dashboard")
        clicked = time.monotonic()
        page.click("#confirm-ok")
        wait_until(lambda: system.rt.halt.is_set(), timeout=5)
        took = time.monotonic() - clicked
        assert "drill from the dashboard" in system.rt.halt.reason
        expect(page.locator("#trading-state")).to_have_text("HALTED", timeout=2000)
        screenshot(page, tmp_path, "dashboard-replay.png")
        assert took < 1.0, f"the halt took {took:.2f} s"
        assert errors == []

        # logging out ends the session: the cookie no longer opens anything
        page.click("#logout")
        expect(page).to_have_url(url + "/login")
        gone = requests.get(url + "/dashboard.json", cookies=jar, timeout=5)
        assert gone.status_code == 401
    finally:
        context.close()
        system.stop()


def test_the_dashboard_of_a_live_paper_run(capture, tmp_path, browser):  # noqa: F811
    conf = tmp_path / "live.toml"
    conf.write_text('[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbar_interval_s = 1\n'
                    '[strategy]\nname = "tests.integration.test_live_feed:FivePercentEach"\n')
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    with replay_server.Running(replay_server.ReplayServer(capture, loop=True)) as feed:
        proc = run_live(conf, tmp_path, feed.port)
        try:
            wait_until(lambda: running_endpoint(StateDir(tmp_path), "admin.token") is not None,
                       timeout=40)
            endpoint = running_endpoint(StateDir(tmp_path), "admin.token")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(page, endpoint.url, endpoint.token)
            expect(page.locator("#trading")).to_have_text("PAPER")
            expect(page.locator("#run")).to_contain_text("live market data", timeout=5000)
            feed_table = page.locator("#feed")
            expect(feed_table).to_contain_text("up", timeout=20000)
            expect(page.locator("#feed-history")).to_contain_text("connecting")
            expect(page.locator("#warmup")).to_contain_text("ready", timeout=20000)
            expect(page.locator("#equity")).not_to_have_text("–", timeout=20000)
            for role in ROLES | {"notifier"}:
                expect(page.locator(f'#actors tr[data-role="{role}"]')).to_contain_text("alive")
            expect(page.locator("#fills tr").nth(1)).not_to_contain_text("none", timeout=30000)
            screenshot(page, tmp_path, "dashboard-live.png")
            assert errors == []
        finally:
            context.close()
            stderr = stop(proc)
    assert "Traceback" not in stderr
