"""The browser of the browser tests: Debian's Chromium, headless, driven
by Playwright (never a browser Playwright downloads), one per module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Off: the connections this machine's closed network refuses, at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (the test extra)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (Debian's chromium package; .ci/run installs it)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def screenshot(page, tmp_path: Path, name: str, **options) -> Path:
    """A full-page screenshot in the test's directory, and in
    ``$CRYPTOJ_SCREENSHOTS`` when that is set (to look at it)."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True, **options)
    target = os.environ.get("CRYPTOJ_SCREENSHOTS")
    if target:
        shutil.copy(path, Path(target) / name)
    return path
