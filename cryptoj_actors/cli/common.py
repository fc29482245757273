"""What every command shares: exit codes, the one-line usage error, the
config, logging, a new run's directory and the admin interface's checks."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import secrets
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cryptoj_actors.admin.client import Endpoint, running_endpoint
from cryptoj_actors.admin.token import TokenError, load_or_create_token
from cryptoj_actors.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    FeedConfig,
    explain,
    load_config,
)
from cryptoj_actors.model import PRODUCT_ID
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state.files import OnceOnFailure
from cryptoj_actors.state.layout import StateDir

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_HALTED, EXIT_UNEXPECTED, EXIT_IO = \
    0, 1, 2, 3, 70, 74  # 70, 74: EX_SOFTWARE, EX_IOERR of BSD's sysexits
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM, as shells say


class UsageError(Exception):
    """Bad input from the operator: printed as one line, exit code 2."""


def config_path(args: argparse.Namespace) -> Path | None:
    """``--config``, else ``conf/default.toml`` when it exists, else None (the defaults)."""
    if args.config is None and DEFAULT_CONFIG_PATH.exists():
        return DEFAULT_CONFIG_PATH
    return args.config


def load(args: argparse.Namespace) -> Config:
    """The validated config of a command, ``--state-dir`` applied.

    Raises:
        ConfigError: the config is unreadable or invalid.
    """
    config = load_config(config_path(args))
    if args.state_dir is not None:
        config = config.with_state_dir(args.state_dir)
    return config


def with_feed(config: Config, **options: Any) -> Config:
    """``config`` with ``[feed]`` keys given on the command line
    (``feed_url="..."`` is ``url``); None leaves a key as configured.

    Raises:
        UsageError: a value the key does not take (one line naming the option).
    """
    names = {"feed_url": "url"}
    changes = {names.get(option, option): value for option, value in options.items()
               if value is not None}
    try:
        return dataclasses.replace(config, feed=dataclasses.replace(config.feed, **changes))
    except ValidationError as exc:
        key, reason = explain(exc, FeedConfig)
        option = next((o for o, k in names.items() if k == key), key)
        raise UsageError(f"--{option.replace('_', '-')}: {reason}") from None


def state_dir(config: Config) -> StateDir:
    return StateDir(config.system.state_dir)


def setup_logging(config: Config, verbose: bool, log_file: Path | None,
                  tag: str | None = None) -> None:
    """Warnings (INFO with ``verbose``) on the console; ``log_file`` at the
    config's level; ``tag`` (``PAPER`` or ``LIVE``) begins every line."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    prefix = f"{tag} " if tag else ""
    console = _StderrHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(_OneLine(f"{prefix}%(levelname)s %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = _FileHandler(log_file, encoding="utf-8")
        to_file.setLevel(getattr(logging, config.system.log_level))
        to_file.setFormatter(logging.Formatter(
            f"%(asctime)s {prefix}%(levelname)s %(threadName)s %(name)s: %(message)s"))
        root.addHandler(to_file)


class _OneLine(logging.Formatter):
    """The console's lines: one per record, a traceback never (it is in the
    run's log, which keeps the whole record)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None,
                                            "exc_text": None, "stack_info": None})
        return super().format(record).replace("\n", " ")


class _FileHandler(OnceOnFailure, logging.FileHandler):
    """The run's log; one line on the console when it cannot be written."""


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so that log lines
    go above the live view (which redirects it) instead of through it."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def new_run(config: Config, mode: str) -> RunInfo:
    """A new run, its directory created.

    Raises:
        UsageError: the state directory cannot be created or written.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{mode}-{stamp}-{secrets.token_hex(3)}"
    folder = config.system.state_dir
    run = RunInfo(run_id=run_id, mode=mode, state_dir=folder,
                  run_dir=StateDir(folder).run(run_id).path)
    try:
        run.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"state directory {folder}: cannot create {run.run_dir}: "
                         f"{exc.strerror}") from None
    return run


def endpoint(config: Config) -> Endpoint | None:
    """The admin interface of the system running on the config's state
    directory, or None when none runs there.

    Raises:
        UsageError: the token file is unusable.
    """
    try:
        return running_endpoint(state_dir(config), config.admin.token_file)
    except TokenError as exc:
        raise UsageError(str(exc)) from None


def check_admin(config: Config) -> None:
    """Stop start-up with one line if the admin interface (or its metrics
    port) could not start."""
    admin = config.admin
    if admin.metrics_port and admin.metrics_port == admin.port and admin.http:
        raise UsageError(f"config admin.metrics_port: {admin.metrics_port} is admin.port too")
    ports = {"metrics_port": admin.metrics_port}
    if admin.http:
        ports["port"] = admin.port
        try:
            config.system.state_dir.mkdir(parents=True, exist_ok=True)
            load_or_create_token(state_dir(config).admin_token(admin.token_file))
        except (TokenError, OSError) as exc:
            raise UsageError(str(exc)) from None
    for key, port in ports.items():
        if not port:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise UsageError(f"config admin.{key}: 127.0.0.1:{port} is not "
                                 f"free ({exc.strerror})") from None


def product_list(text: str) -> tuple[str, ...]:
    """``BTC-USD,ETH-USD`` -> the product ids (an argparse type)."""
    products = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in products if not PRODUCT_ID.fullmatch(p)]
    if not products or bad:
        raise argparse.ArgumentTypeError(f"product ids look like BTC-USD, got {text!r}")
    return products


def utc_date(text: str) -> datetime:
    """An ISO 8601 date or time, UTC unless it says otherwise (an argparse type)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 date, got {text!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def command(sub: Any, common: argparse.ArgumentParser, name: str, func: Any,
            summary: str, description: str) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` in the list of ``--help``, ``description``
    atop its own ``--help``; ``func(args)`` runs it."""
    parser = sub.add_parser(name, parents=[common], help=summary,
                            description=f"{summary[0].upper()}{summary[1:]}. {description}")
    parser.set_defaults(func=func)
    return parser


def add_reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default="",
                        help="why, in words (kept with the trading state and in the log)")


def add_no_ui(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-ui", dest="no_ui", action="store_true",
                        help="no live view: a status line every [ui] log_interval_s instead")
