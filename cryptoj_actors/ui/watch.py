"""Showing a running system until its run ends (a live run: until Ctrl-C):
the live view in a terminal, otherwise one status line every
``[ui] log_interval_s`` on standard error."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live

from cryptoj_actors.admin.status import status_document
from cryptoj_actors.system import TradingSystem
from cryptoj_actors.ui.view import Refresher, one_line


def watch(system: TradingSystem, show_ui: bool) -> None:
    """Block until the system's run ends; ``show_ui`` false: status lines only.

    Raises:
        KeyboardInterrupt: Ctrl-C (or SIGTERM turned into it by the caller).
    """
    cfg = system.rt.config.ui
    console = Console(stderr=True)

    def document() -> dict[str, object]:
        return status_document(system.rt)

    if show_ui and console.is_terminal:
        with Live(Refresher(document), console=console, refresh_per_second=cfg.refresh_per_second):
            while not system.wait(0.1):
                pass
        return
    next_line = time.monotonic() + cfg.log_interval_s
    while not system.wait(0.2):
        if time.monotonic() >= next_line:
            print(one_line(document()), file=sys.stderr)
            next_line += cfg.log_interval_s
