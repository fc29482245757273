"""Online backups of the journal: what survives when its disk or file does not.

SQLite's backup API (``sqlite3.Connection.backup``) copies a consistent
snapshot while the system keeps writing (the journal is in WAL mode, so
writers are not blocked). A backup is written as ``<name>.part``, synced, and
renamed into place: an interrupted one never looks complete. The live system
backs up at start and once a UTC day (:class:`BackupSchedule`), keeping the
newest ``[system] backups``; ``doctor`` checks the newest one
(:func:`check_backup`).

Restoring: stop the system, move ``journal.sqlite3`` (and its ``-wal`` and
``-shm`` files) aside, copy the backup to ``journal.sqlite3``, start again:
the ledger is rebuilt from it and the venue reconciled (the fills after the
backup come back from the venue on Coinbase; on paper they are lost).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BackupCheck", "BackupSchedule", "backup_journal", "backups", "check_backup"]

_PREFIX = "journal-"
_SUFFIX = ".sqlite3"
_STAMP = "%Y%m%dT%H%M%SZ"


def _read_only(path: Path) -> str:
    """A read-only SQLite URI for ``path``, escaped (a ``?`` or ``%`` in it is a name)."""
    return f"{path.resolve().as_uri()}?mode=ro"


def backups(folder: Path) -> list[Path]:
    """The backups in ``folder``, oldest first (their names sort by time)."""
    return sorted(folder.glob(f"{_PREFIX}*{_SUFFIX}")) if folder.is_dir() else []


def backup_journal(journal: Path, folder: Path, keep: int, now: datetime) -> Path | None:
    """Copy ``journal`` to ``folder/journal-<UTC time>.sqlite3`` and remove
    all but the newest ``keep`` backups; None (nothing done) when there is no
    journal yet or ``keep`` is 0.

    Raises:
        OSError, sqlite3.Error: the copy cannot be made (the journal is left
            as it is; a partial copy is removed).
    """
    if keep <= 0 or not journal.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{_PREFIX}{now.astimezone(UTC).strftime(_STAMP)}{_SUFFIX}"
    part = target.with_name(target.name + ".part")
    for stale in folder.glob(f"{_PREFIX}*{_SUFFIX}.part"):  # a copy a kill interrupted
        stale.unlink(missing_ok=True)
    source = sqlite3.connect(_read_only(journal), uri=True, timeout=10)
    try:
        copy = sqlite3.connect(part)
        try:
            source.backup(copy)
        finally:
            copy.close()
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    for old in backups(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return target


@dataclass(slots=True)
class BackupSchedule:
    """Once a UTC day: ``due(now)`` after a backup on an earlier day (or none)."""

    last: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.last is None or self.last.astimezone(UTC).date() < now.astimezone(UTC).date()

    def done(self, now: datetime) -> None:
        self.last = now


@dataclass(frozen=True, slots=True)
class BackupCheck:
    """The newest backup against the journal: ``problem`` is "" when the
    backup opens and every fill it holds is in the journal (which may hold
    more: the fills since)."""

    backup: Path | None
    backup_fills: int
    journal_fills: int
    problem: str


def check_backup(journal: Path, folder: Path) -> BackupCheck:
    """Open the newest backup in ``folder`` and compare its fills with ``journal``'s."""
    found = backups(folder)
    if not found:
        return BackupCheck(None, 0, 0, f"no backup in {folder}")
    newest = found[-1]
    try:
        db = sqlite3.connect(_read_only(newest), uri=True)
        try:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return BackupCheck(newest, 0, 0, f"{newest.name}: damaged (quick_check failed)")
            held = set(db.execute("SELECT run_id, fill_id FROM fills"))
        finally:
            db.close()
        db = sqlite3.connect(_read_only(journal), uri=True)
        try:
            now = set(db.execute("SELECT run_id, fill_id FROM fills"))
        finally:
            db.close()
    except sqlite3.Error as exc:
        return BackupCheck(newest, 0, 0, f"{newest.name}: cannot be read ({exc})")
    lost = len(held - now)
    problem = f"{lost} fills of {newest.name} are not in the journal" if lost else ""
    return BackupCheck(newest, len(held), len(now), problem)
