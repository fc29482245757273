"""``equity.png`` drawn in a process of its own, started with the run.

A replay's actors share one interpreter lock, so the process is bound by one
core, and the plot is a fixed cost at the end of it: importing matplotlib
took 0.8 s and drawing the three-product hourly window 0.5 s on the
benchmark's machine. A worker process started with the run imports
matplotlib on another core while the replay runs, and draws while the run
writes its other files. The bytes of the file are the same as when drawn in
the run's own process (one function draws both, :func:`draw_equity_png`).

Protocol, one JSON object a line each way: the run sends ``{"path",
"title", "times_ns", "equity", "drawdown_pct"}`` (see
:class:`~cryptoj_actors.report.files.EquitySeries`), the worker answers
``{"ok": true}`` or ``{"error": "<type>: <message>"}``. The worker ends when
its input ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Self

import orjson

from cryptoj_actors.report.files import EquitySeries, draw_equity_png

log = logging.getLogger(__name__)

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class PlotError(Exception):
    """The worker failed to draw a plot; the message is its reason."""


class PlotWorker:
    """A worker process that draws ``equity.png``; a context manager (ends it).

    If the worker cannot start, dies or fails, :meth:`submit` draws in this
    process instead and logs why: the run never loses its plot to the worker.
    """

    def __init__(self) -> None:
        env = dict(os.environ)
        # The worker imports this package from where the run found it.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            if not sys.executable:  # an embedded interpreter: no Python to start
                raise OSError("no Python executable to start it with")
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError as exc:
            log.warning("report: no plot worker (%s): equity.png is drawn in this process", exc)
        # One thread talks to the worker, so requests from the run's end and
        # from the admin interface's POST /report never interleave.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plot-worker")

    def submit(self, path: Path, curve: EquitySeries, title: str) -> Future[None]:
        """Draw ``curve`` into ``path``; the future's result is None once the
        file is written, or the drawing's own error (an OSError writing it)."""
        return self._io.submit(self._draw, path, curve, title)

    def _draw(self, path: Path, curve: EquitySeries, title: str) -> None:
        if self._proc is not None:
            try:
                self._round_trip(path, curve, title)
                return
            except (OSError, PlotError) as exc:
                log.warning("report: the plot worker failed (%s): equity.png is drawn in this "
                            "process", exc)
                self._end()
        draw_equity_png(path, curve, title)

    def _round_trip(self, path: Path, curve: EquitySeries, title: str) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin and proc.stdout
        try:
            proc.stdin.write(orjson.dumps({
                "path": str(path), "title": title, "times_ns": curve.times_ns,
                "equity": curve.equity, "drawdown_pct": curve.drawdown_pct}) + b"\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except BrokenPipeError:
            line = b""
        if not line:
            raise PlotError(f"it exited with code {proc.wait()}")
        reply = orjson.loads(line)
        if "error" in reply:
            raise PlotError(reply["error"])

    def _end(self) -> None:
        if self._proc is not None:
            self._proc.kill()  # idle or useless by now: nothing of it is waited for
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):  # what was left unsent to a dead worker
                        pipe.close()
            self._proc = None

    def close(self) -> None:
        """Wait for the plots submitted, then end the worker."""
        self._io.shutdown(wait=True)
        self._end()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> int:
    # Ctrl-C at a terminal reaches the whole process group: the run decides
    # what happens then, and ends this worker (or its input ends).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Imported first, while the run replays: this is the cost the worker hides.
    import matplotlib.backends.backend_agg
    import matplotlib.dates
    import matplotlib.figure  # noqa: F401

    for line in sys.stdin.buffer:
        try:
            request = orjson.loads(line)
            curve = EquitySeries(times_ns=tuple(request["times_ns"]),
                                equity=tuple(request["equity"]),
                                drawdown_pct=tuple(request["drawdown_pct"]))
            draw_equity_png(Path(request["path"]), curve, request["title"])
            reply: dict[str, object] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - every failure is the run's to report
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.buffer.write(orjson.dumps(reply) + b"\n")
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
