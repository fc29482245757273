"""Journal backups on real SQLite files: a consistent copy while the journal
is open for writing, kept N deep, checked against the journal, and one a day."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.messages import Fill
from cryptoj_actors.model import Liquidity, Side
from cryptoj_actors.state.backup import BackupSchedule, backup_journal, backups, check_backup

T0 = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def fill(n: int) -> Fill:
    return Fill(sender="executor", ts_ns=n, fill_id=f"f{n}", client_order_id=f"o{n}",
                product_id="BTC-USD", side=Side.BUY, base_size=Decimal("0.001"),
                price=Decimal(90000), fee=Decimal("1.08"), liquidity=Liquidity.TAKER)


def journal_with(path: Path, fills: int) -> Journal:
    journal = Journal(path, "live-paper", mode="live", description="test", started_ns=0)
    for n in range(fills):
        journal.record_fill(fill(n))
    return journal


def test_a_backup_is_a_whole_copy_taken_while_the_journal_is_open(tmp_path):
    journal = journal_with(tmp_path / "journal.sqlite3", 3)  # still open, in WAL mode
    path = backup_journal(tmp_path / "journal.sqlite3", tmp_path / "backups", 7, T0)
    assert path == tmp_path / "backups" / "journal-20261202T150000Z.sqlite3"
    copy = Journal(path, "live-paper")
    assert [f.fill_id for f in copy.fills()] == ["f0", "f1", "f2"]
    copy.close()
    journal.record_fill(fill(3))  # the journal goes on; the backup is older, not wrong
    found = check_backup(tmp_path / "journal.sqlite3", tmp_path / "backups")
    assert (found.backup_fills, found.journal_fills, found.problem) == (3, 4, "")
    journal.close()
    assert not list((tmp_path / "backups").glob("*.part"))


def test_only_the_newest_backups_are_kept(tmp_path):
    journal_with(tmp_path / "journal.sqlite3", 1).close()
    for day in range(4):
        backup_journal(tmp_path / "journal.sqlite3", tmp_path / "backups", 2,
                       T0 + timedelta(days=day))
    assert [p.name for p in backups(tmp_path / "backups")] == [
        "journal-20261204T150000Z.sqlite3", "journal-20261205T150000Z.sqlite3"]


def test_a_backup_holding_a_fill_the_journal_lacks_is_a_problem(tmp_path):
    journal_with(tmp_path / "journal.sqlite3", 2).close()
    path = backup_journal(tmp_path / "journal.sqlite3", tmp_path / "backups", 7, T0)
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    with db:
        db.execute("DELETE FROM fills WHERE fill_id='f1'")
    db.close()
    found = check_backup(tmp_path / "journal.sqlite3", tmp_path / "backups")
    assert found.problem == f"1 fills of {path.name} are not in the journal"


def test_a_damaged_backup_is_said_so(tmp_path):
    journal_with(tmp_path / "journal.sqlite3", 1).close()
    path = backup_journal(tmp_path / "journal.sqlite3", tmp_path / "backups", 7, T0)
    path.write_bytes(b"\0" * 4096)
    assert "cannot be read" in check_backup(tmp_path / "journal.sqlite3",
                                            tmp_path / "backups").problem


def test_no_journal_no_backup_and_none_kept_none_taken(tmp_path):
    assert backup_journal(tmp_path / "journal.sqlite3", tmp_path / "backups", 7, T0) is None
    journal_with(tmp_path / "journal.sqlite3", 1).close()
    assert backup_journal(tmp_path / "journal.sqlite3", tmp_path / "backups", 0, T0) is None


def test_the_schedule_backs_up_once_a_utc_day():
    schedule = BackupSchedule()
    assert schedule.due(T0)
    schedule.done(T0)
    assert not schedule.due(T0 + timedelta(hours=8, minutes=59))  # 23:59 the same day
    assert schedule.due(T0 + timedelta(hours=9))  # 00:00 the next
