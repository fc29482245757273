"""PAPER or LIVE is said first wherever a run shows itself: the status
document, the view, the status line, /metrics, the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from cryptoj_actors.admin.metrics import metrics_registry, metrics_text
from cryptoj_actors.admin.status import status_document
from cryptoj_actors.config import Config
from cryptoj_actors.report.table import render_report
from cryptoj_actors.runtime import RunInfo, Runtime
from cryptoj_actors.ui.view import one_line, render


@pytest.mark.parametrize("venue,trading", [("paper", "PAPER"), ("coinbase", "LIVE")])
def test_every_view_of_a_live_run_says_paper_or_live(tmp_path: Path, venue, trading):
    rt = Runtime(config=Config(), run=RunInfo("live-1", "live", tmp_path, tmp_path / "r",
                                              venue=venue))
    doc = status_document(rt)
    assert doc["run"]["trading"] == trading and doc["run"]["mode"] == "live"
    assert one_line(doc).startswith(f"status: {trading} ")
    console = Console(width=120, record=True)
    console.print(render(doc))
    header = console.export_text().splitlines()[1]
    assert f" {trading} " in header
    assert ("REAL MONEY" in header) == (trading == "LIVE")
    assert ("paper trading" in header) == (trading == "PAPER")
    text = metrics_text(metrics_registry(rt)).decode()
    assert f'cryptoj_run_info{{mode="live",run_id="live-1",trading="{trading}"}} 1.0' in text


def test_the_report_says_paper_first():
    console = Console(width=120, record=True)
    console.print(render_report({"run": {"trading": "PAPER", "products": ["BTC-USD"]}}))
    assert "PAPER (no real orders)" in console.export_text()
