"""The parser and the exit codes of ``python -m cryptoj_actors``.

Exit codes: 0 success (and a clean Ctrl-C of ``run``), 1 a replay whose ledger
failed a cross-check (or ``doctor`` found a problem), 2 bad input (config, data
files, arguments), 3 a run halted by the supervisor (``run``: stopped while
halted), 130 a replay interrupted with Ctrl-C.

With no command, ``run`` is meant: the bare command launches the system.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptoj_actors import __version__
from cryptoj_actors.cli import operator, replay, run, tools
from cryptoj_actors.cli.common import EXIT_USAGE, UsageError
from cryptoj_actors.config import DEFAULT_CONFIG_PATH, ConfigError
from cryptoj_actors.marketdata.errors import DataError

GROUPS = (run, replay, operator, tools)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser, commands = _parser()
    if not words or words[0] not in (*commands, "-h", "--help", "--version"):
        words.insert(0, "run")  # the bare command (perhaps with run's options) is `run`
    args = parser.parse_args(words)
    try:
        return int(args.func(args))
    except (ConfigError, DataError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> tuple[argparse.ArgumentParser, set[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m cryptoj_actors",
        description="Automated trading for Coinbase Advanced Trade on pykka actors "
                    "(paper trading unless configured otherwise).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=None,
                        help=f"TOML config (default: {DEFAULT_CONFIG_PATH} if present)")
    common.add_argument("--state-dir", type=Path, default=None,
                        help="state directory (default: [system] state_dir, 'var')")
    common.add_argument("-v", "--verbose", action="store_true", help="log INFO to the console")
    sub = parser.add_subparsers(dest="command")
    for group in GROUPS:
        group.register(sub, common)
    return parser, set(sub.choices)
