"""The parser and the exit codes of ``python -m cryptoj_actors``.

Exit codes: 0 success (and a clean Ctrl-C of ``run``), 1 a replay whose ledger
failed a cross-check (or ``doctor`` found a problem), 2 bad input (config, data
files, arguments), 3 a run halted by the supervisor (``run``: stopped while
halted), 70 an unexpected error (a defect: one line on the console, the
traceback in the log; ``EX_SOFTWARE`` of BSD's sysexits), 74 a file that
cannot be written or read (a full disk; ``EX_IOERR``), 130 a replay
interrupted with Ctrl-C, 143 one stopped by SIGTERM.

With no command, ``run`` is meant: the bare command launches the system.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptoj_actors import __version__
from cryptoj_actors.cli import operator, optimize, replay, run, tools
from cryptoj_actors.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    UsageError,
)
from cryptoj_actors.config import DEFAULT_CONFIG_PATH, ConfigError
from cryptoj_actors.execution.journal import JournalError
from cryptoj_actors.marketdata.errors import DataError

GROUPS = (run, replay, operator, tools, optimize)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser, commands = _parser()
    if not words or words[0] not in (*commands, "-h", "--help", "--version"):
        words.insert(0, "run")  # the bare command (perhaps with run's options) is `run`
    args = parser.parse_args(words)
    try:
        return int(args.func(args))
    except (ConfigError, DataError, JournalError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling (a warm-up's fetch)
        print(f"{args.command}: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the disk or the system refused: a full disk, a permission
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: {args.command}: cannot use{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_IO
    except Exception as exc:  # noqa: BLE001 - a defect: said in one line, kept in full
        where = _record_crash(exc, args)
        print(f"error: {args.command} failed unexpectedly: {type(exc).__name__}: "
              f"{_one_line(exc)}; the traceback is in {where}", file=sys.stderr)
        return EXIT_UNEXPECTED


def _record_crash(exc: BaseException, args: argparse.Namespace) -> Path:
    """Append the traceback to the run's log when the command has one, else
    to ``crash.log`` in the state directory (or the temporary directory when
    that cannot be written); the file written."""
    text = (f"{datetime.now(UTC).isoformat()} CRITICAL unexpected error in "
            f"{args.command}:\n" + "".join(traceback.format_exception(exc)))
    logs = [Path(h.baseFilename) for h in logging.getLogger().handlers
            if isinstance(h, logging.FileHandler) and h.baseFilename != os.devnull]
    folder = Path(args.state_dir or "var")
    fallback = Path(tempfile.gettempdir()) / "cryptoj_actors-crash.log"
    for path in [*logs, folder / "crash.log", fallback]:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    return Path("(nowhere: no log could be written)")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "(no message)"


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
    common.add_argument("-v", "--verbose", action="store_true",
                        help="also log INFO on the console, not only warnings (run always does)")
    sub = parser.add_subparsers(dest="command")
    for group in GROUPS:
        group.register(sub, common)
    return parser, set(sub.choices)
