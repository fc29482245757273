"""equity.png drawn by a worker process: the same bytes, and never lost to it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import psutil
import pytest

from cryptoj_actors.clock import NS_PER_HOUR, from_datetime
from cryptoj_actors.report.files import EquitySeries, draw_equity_png
from cryptoj_actors.report.metrics import EquityPoint
from cryptoj_actors.report.plot_worker import PlotWorker

T0 = from_datetime(datetime(2021, 3, 1, tzinfo=UTC))


def points(equities):
    return [EquityPoint(time_ns=T0 + i * NS_PER_HOUR, equity=Decimal(e), cash=Decimal(e),
                        realized_pnl=Decimal(0), unrealized_pnl=Decimal(0), fees=Decimal(0),
                        gross_exposure=Decimal(0), weights=(("BTC-USD", Decimal(0)),))
            for i, e in enumerate(equities)]


CURVE = points(["10000", "10250.125", "9800.5", "9990", "11000.75", "10500"])


def workers():
    return psutil.Process().children()


def test_the_worker_draws_the_bytes_this_process_draws(tmp_path):
    draw_equity_png(tmp_path / "here.png", EquitySeries.of(CURVE), "BTC-USD")
    with PlotWorker() as plots:
        plots.submit(tmp_path / "there.png", EquitySeries.of(CURVE), "BTC-USD").result()
    assert (tmp_path / "there.png").read_bytes() == (tmp_path / "here.png").read_bytes()


def test_the_worker_ends_with_its_context():
    before = {p.pid for p in workers()}
    with PlotWorker():
        started = [p for p in workers() if p.pid not in before]
        assert len(started) == 1
    assert not started[0].is_running() or started[0].status() == psutil.STATUS_ZOMBIE


def test_a_dead_worker_leaves_the_plot_to_this_process(tmp_path, caplog):
    draw_equity_png(tmp_path / "here.png", EquitySeries.of(CURVE), "t")
    before = {p.pid for p in workers()}
    with PlotWorker() as plots:
        (worker,) = [p for p in workers() if p.pid not in before]
        worker.kill()  # not reaped here: the run learns how it ended
        with caplog.at_level(logging.WARNING, logger="cryptoj_actors.report.plot_worker"):
            plots.submit(tmp_path / "there.png", EquitySeries.of(CURVE), "t").result()
    assert (tmp_path / "there.png").read_bytes() == (tmp_path / "here.png").read_bytes()
    assert "the plot worker failed (it exited with code -9)" in caplog.text


def test_a_plot_that_cannot_be_written_raises_its_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with PlotWorker() as plots:
        future = plots.submit(tmp_path / "file" / "equity.png", EquitySeries.of(CURVE), "t")
        with pytest.raises(NotADirectoryError):
            future.result()


def test_without_a_python_to_start_the_plot_is_drawn_here(tmp_path, monkeypatch, caplog):
    draw_equity_png(tmp_path / "here.png", EquitySeries.of(CURVE), "t")
    monkeypatch.setattr("sys.executable", "")
    with caplog.at_level(logging.WARNING, logger="cryptoj_actors.report.plot_worker"), \
            PlotWorker() as plots:
        plots.submit(tmp_path / "there.png", EquitySeries.of(CURVE), "t").result()
    assert (tmp_path / "there.png").read_bytes() == (tmp_path / "here.png").read_bytes()
    assert "no plot worker (no Python executable to start it with)" in caplog.text
