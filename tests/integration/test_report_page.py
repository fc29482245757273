"""The interactive report of a replay of the whole common window of the
three real hourly files, opened in a real browser (headless Chromium) from
the file itself: every figure draws, with no request beyond the file; the
prices carry the entries and exits, the equity its buy-and-hold benchmark,
the monthly returns are a heatmap; the trade list sorts by a column."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from tests.integration.conftest import screenshot
from tests.integration.test_cli import cli, run_dir_of

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
from playwright.sync_api import expect


def test_the_report_page_draws_offline_and_its_trades_sort(cdd_files, tmp_path, browser):
    assert cli("replay", "--state-dir", str(tmp_path), "--no-ui",
               *map(str, cdd_files)).returncode == 0
    run = run_dir_of(tmp_path)
    result = cli("report", str(run), "--html")
    assert result.returncode == 0, result.stderr

    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
            else elsewhere.append(r.url))
    page.goto((run / "report.html").as_uri())
    for figure in ("equity", "prices", "weights", "monthly"):
        expect(page.locator(f"#{figure} .main-svg").first).to_be_visible(timeout=30000)

    def traces(figure: str) -> list[dict]:
        return page.evaluate(f"""Array.from(document.getElementById("{figure}").data,
            (t) => ({{name: t.name, type: t.type, points: (t.y || []).length}}))""")

    prices = {t["name"]: t["points"] for t in traces("prices")}
    for product in ("BTC-USD", "ETH-USD", "LTC-USD"):
        assert prices[f"{product} price"] > 20_000
        assert prices[f"{product} entries"] > 0 and prices[f"{product} exits"] > 0
    equity = {t["name"]: t["points"] for t in traces("equity")}
    assert equity["buy and hold, equal parts (quote)"] == equity["equity (quote)"] > 20_000
    assert traces("monthly")[0]["type"] == "heatmap"

    with open(run / "trades.csv", newline="") as fh:
        best = max(Decimal(row["realized_pnl"]) for row in csv.DictReader(fh))
    heading = page.locator("#trades th", has_text="realized PnL")
    heading.click()
    heading.click()  # the second click: largest first
    first = page.locator("#trades tbody tr").first.locator("td").nth(6)
    assert Decimal(first.inner_text()) == best
    screenshot(page, tmp_path, "report.png")
    assert errors == [] and elsewhere == []
