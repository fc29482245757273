"""The operator's commands: ``halt``, ``status``, ``resume`` (of the system
running on a state directory, or of its persisted state when none runs) and
``report`` (of a run directory)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import requests
from rich.console import Console

from cryptoj_actors.actors.admin import RESUME_TIMEOUT_S, UNWIND_LINE
from cryptoj_actors.admin.client import TIMEOUT_S, call
from cryptoj_actors.cli.common import (
    EXIT_OK,
    UsageError,
    add_reason,
    command,
    endpoint,
    load,
    state_dir,
)
from cryptoj_actors.clock import iso
from cryptoj_actors.config import Config
from cryptoj_actors.messages import TradingState
from cryptoj_actors.report.run_dir import RunDirError, render_run
from cryptoj_actors.risk.saved_state import RiskStateFile
from cryptoj_actors.state.trading import TradingStateFile
from cryptoj_actors.ui.view import render


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    report = command(sub, common, "report", cmd_report,
                     "render a finished run: breakdowns, monthly returns, figures",
                     "Prints the metrics, a breakdown per product and by exit reason and the "
                     "monthly returns of a run directory, and writes its figures; a running "
                     "run first writes its files as they stand.")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="the run's directory, <state dir>/runs/<run id>, or its run id")
    report.add_argument("--html", action="store_true",
                        help="also write report.html, one self-contained page")

    halt = command(sub, common, "halt", cmd_halt,
                   "halt a running system through the control file",
                   "Writes HALT in the state directory: a running system halts within a "
                   "second (only reduce-only exits pass); a system started later starts "
                   "halted.")
    add_reason(halt)
    halt.add_argument("--unwind", action="store_true",
                      help="also close every position gradually, largest first")

    status = command(sub, common, "status", cmd_status,
                     "show a running system (or the persisted trading state)",
                     "Asks the system running on the state directory; with none running, "
                     "says what the state directory holds.")
    status.add_argument("--json", action="store_true", help="the raw status document")

    add_reason(command(sub, common, "resume", cmd_resume,
                       "lift a halt (a running system's at once, else for the next start)",
                       "Removes the control file and lifts the trading state's halt, risk's "
                       "drawdown halt included; a running system may refuse, and says why."))


def cmd_report(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # a file or a pipe: room for the wide tables
    if not args.run_dir.exists() and len(args.run_dir.parts) == 1:  # a run id
        args.run_dir = state_dir(load(args)).run(args.run_dir.name).path
    if args.state_dir is None:  # a run directory lives in <state dir>/runs/
        args.state_dir = args.run_dir.resolve().parent.parent
    config = load(args)
    running = endpoint(config)
    if running is not None and running.run_id == args.run_dir.name:
        try:  # a running run: have it write its files as they stand now
            call(running, "POST", "/report")
        except requests.RequestException as exc:
            raise UsageError(f"the running system at {running.url} did not answer: {exc}") \
                from None
        console.print(f"run {running.run_id} is running: its report as of now")
    try:
        written = render_run(args.run_dir, console, write_html=args.html)
    except RunDirError as exc:
        raise UsageError(str(exc)) from None
    except (OSError, KeyError, ValueError) as exc:
        raise UsageError(f"{args.run_dir}: cannot read the run: {exc}") from None
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_halt(args: argparse.Namespace) -> int:
    config = load(args)
    path = state_dir(config).control_file
    reason = args.reason or f"halt requested by {os.environ.get('USER', 'operator')}"
    text = reason + "\n" + (UNWIND_LINE + "\n" if args.unwind else "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    running = endpoint(config)
    if running is not None:
        print(f"wrote {path}: the running system {running.run_id} halts within a second")
    else:
        print(f"wrote {path}: no system runs on {config.system.state_dir} now; the next start "
              "there starts halted (`resume` lifts it)")
    return EXIT_OK


def _live_state(config: Config) -> tuple[TradingStateFile, TradingState | None]:
    state_file = TradingStateFile(state_dir(config).trading_state)
    try:
        return state_file, state_file.load()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _lift_risk_halt(config: Config) -> bool:
    """Lift risk's own halt (the drawdown) in ``risk_state.json``, as a
    running system's resume does; True when there was one.

    Raises:
        UsageError: the file cannot be read, is not a risk state, or cannot
            be written.
    """
    saved = RiskStateFile(state_dir(config).risk_state)
    try:
        return saved.lift_halt()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{saved.path}: cannot write: {exc.strerror}") from None


def cmd_status(args: argparse.Namespace) -> int:
    config = load(args)
    running = endpoint(config)
    if running is not None:
        try:
            doc = call(running, "GET", "/status")
        except requests.RequestException as exc:
            raise UsageError(f"the running system at {running.url} did not answer: {exc}") \
                from None
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            Console().print(render(doc))
        return EXIT_OK
    doc = _persisted_status(config)
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(f"no system runs on {doc['state_dir']}")
    state = doc["trading_state"]
    if state is None:
        print(f"no trading state in {doc['state_dir']} (never run live here)")
    else:
        print(f"trading state: {state['level']} since {state['since']}: {state['reason']}")
    last = doc["last_replay"]
    if last is not None:
        print(f"last replay {last['run_id']}: {last['level']} since {last['since']}: "
              f"{last['reason']}")
    if doc["control_file"]:
        print(f"control file {doc['control_file']} is present: the next start here starts "
              "halted")
    return EXIT_OK


def _persisted_status(config: Config) -> dict[str, Any]:
    """What the state directory says when no system runs on it (the document
    ``status --json`` prints then): ``running`` false, the live trading
    state, the last replay's, and the control file's path when present."""
    _, state = _live_state(config)
    folder = state_dir(config)
    last = None
    replays = [run for run in folder.runs_of("replay") if run.trading_state.is_file()]
    if replays:
        last_run = max(replays, key=lambda run: run.trading_state.stat().st_mtime)
        try:
            replayed = TradingStateFile(last_run.trading_state).load()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if replayed is not None:
            last = {"run_id": last_run.run_id, **_state_dict(replayed)}
    return {"running": False, "state_dir": str(config.system.state_dir),
            "trading_state": None if state is None else _state_dict(state),
            "last_replay": last,
            "control_file": str(folder.control_file) if folder.control_file.exists() else None}


def _state_dict(state: TradingState) -> dict[str, Any]:
    return {"level": state.level.value, "reason": state.reason, "since": iso(state.since_ns)}


def cmd_resume(args: argparse.Namespace) -> int:
    config = load(args)
    control = state_dir(config).control_file
    try:
        control.unlink()
        removed = True
    except FileNotFoundError:
        removed = False
    except OSError as exc:
        raise UsageError(f"cannot remove {control}: {exc.strerror}; still halted") from None
    reason = args.reason or f"resumed by {os.environ.get('USER', 'operator')}"
    running = endpoint(config)
    if running is not None:
        try:
            # Longer than the system's own wait for its supervisor, so that
            # its answer (done, refused, or still queued) is the one shown.
            answer = call(running, "POST", "/resume", {"reason": reason},
                          timeout_s=RESUME_TIMEOUT_S + TIMEOUT_S)
        except requests.HTTPError as exc:
            raise UsageError(f"the running system {running.run_id} refused: {exc}") from None
        except requests.RequestException as exc:
            raise UsageError(f"the running system at {running.url} did not answer: {exc}") \
                from None
        if removed:
            print(f"removed {control}")
        if answer.get("pending"):
            print(f"resume queued: the running system {running.run_id} is busy and acts on it "
                  f"when free ({reason}); `status` shows when it has")
        else:
            print(f"resumed the running system {running.run_id}: {reason}")
        return EXIT_OK
    state_file, _ = _live_state(config)
    risk_lifted = _lift_risk_halt(config)
    try:
        lifted = state_file.resume_offline(reason, time.time_ns())
    except OSError as exc:
        raise UsageError(f"{state_file.path}: cannot write: {exc.strerror}") from None
    if removed:
        print(f"removed {control}: the next start would have started halted")
    if risk_lifted:
        print("risk's drawdown halt lifted for the next start")
    if lifted is not None:
        print(f"resumed: the next start trades again ({reason}); was halted: {lifted.reason}")
    elif not (removed or risk_lifted):
        print("not halted: nothing to resume")
    return EXIT_OK
