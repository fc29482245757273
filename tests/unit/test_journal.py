"""The order and fill journal, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from cryptoj_actors.execution.journal import Journal, JournalDivergence
from cryptoj_actors.messages import Fill
from cryptoj_actors.model import (
    InvalidTransition,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
)

D = Decimal

ORDER_COLUMNS = ("run_id, client_order_id, product_id, side, order_type, base_size, quote_size,"
                 " limit_price, reduce_only, decision_seq, created_ns, reason, status,"
                 " filled_base, detail, updated_ns")
FILL_COLUMNS = ("run_id, fill_id, client_order_id, product_id, side, base_size, price, fee,"
                " liquidity, ts_ns")


def order(coid: str = "r1-000001", **kw) -> Order:
    fields = dict(client_order_id=coid, product_id="BTC-USD", side=Side.BUY,
                  order_type=OrderType.MARKET, quote_size=D("1000.10"), decision_seq=7,
                  created_ns=1_700_000_000_000_000_001, reason="rebalance to 0.10")
    fields.update(kw)
    return Order(**fields)


def fill(fill_id: str = "r1-000001-fill", coid: str = "r1-000001", **kw) -> Fill:
    fields = dict(sender="executor", ts_ns=1_700_000_003_600_000_000, fill_id=fill_id,
                  client_order_id=coid, product_id="BTC-USD", side=Side.BUY,
                  base_size=D("0.02469119"), price=D("40020.02"), fee=D("11.857703011486"),
                  liquidity=Liquidity.TAKER)
    fields.update(kw)
    return Fill(**fields)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "state" / "journal.sqlite3"  # the folder does not exist yet


@pytest.fixture
def journal(db_path):
    j = Journal(db_path, "run-1", mode="paper", description="unit test", started_ns=42)
    yield j
    j.close()


def read(path, sql, *args):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_file_is_created_in_wal_mode(journal, db_path):
    assert db_path.exists()
    assert journal.path == db_path
    assert journal._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # WAL is a property of the file: a fresh connection sees it too
    assert read(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert read(db_path, "SELECT run_id, started_ns, mode, description FROM runs") == [
        ("run-1", 42, "paper", "unit test")]


def test_order_update_fill_round_trip(journal, db_path):
    o = order()
    journal.record_order(o)
    assert read(db_path, f"SELECT {ORDER_COLUMNS} FROM orders") == [(
        "run-1", "r1-000001", "BTC-USD", "BUY", "MARKET", None, "1000.10", None, 0, 7,
        1_700_000_000_000_000_001, "rebalance to 0.10", "PENDING", "0", "",
        1_700_000_000_000_000_001)]

    journal.update_order("r1-000001", OrderStatus.OPEN, D("0"), 1_700_000_003_000_000_000)
    journal.update_order("r1-000001", OrderStatus.FILLED, D("0.02469119"),
                         1_700_000_007_200_000_000, "done")
    f = fill()
    journal.record_fill(f)

    rows = read(db_path, f"SELECT {ORDER_COLUMNS} FROM orders")
    assert rows == [(
        "run-1", "r1-000001", "BTC-USD", "BUY", "MARKET", None, "1000.10", None, 0, 7,
        1_700_000_000_000_000_001, "rebalance to 0.10", "FILLED", "0.02469119", "done",
        1_700_000_007_200_000_000)]
    assert read(db_path, f"SELECT {FILL_COLUMNS} FROM fills") == [(
        "run-1", "r1-000001-fill", "r1-000001", "BTC-USD", "BUY", "0.02469119", "40020.02",
        "11.857703011486", "TAKER", 1_700_000_003_600_000_000)]
    # the text is exact: it parses back to the very same Decimal, trailing zeros included
    (base, price, fee), = read(db_path, "SELECT base_size, price, fee FROM fills")
    assert (D(base), D(price), D(fee)) == (f.base_size, f.price, f.fee)
    assert D(fee).as_tuple() == f.fee.as_tuple()


def test_sell_order_with_every_optional_field(journal, db_path):
    o = order("s-1", side=Side.SELL, order_type=OrderType.LIMIT, quote_size=None,
              base_size=D("0.00000001"), limit_price=D("39999.990"), reduce_only=True)
    journal.record_order(o)
    (row,) = read(db_path, "SELECT side, order_type, base_size, quote_size, limit_price,"
                           " reduce_only FROM orders")
    assert row == ("SELL", "LIMIT", "0.00000001", None, "39999.990", 1)
    assert D(row[2]) == D("0.00000001")
    assert D(row[4]).as_tuple() == D("39999.990").as_tuple()


def test_decimals_with_many_digits_are_stored_without_rounding(journal, db_path):
    size = D("123456789012345678901234567890.123456789012345678901")
    journal.record_fill(fill(base_size=size, fee=D("0.000000000001")))
    (base, fee), = read(db_path, "SELECT base_size, fee FROM fills")
    assert D(base) == size
    assert D(fee) == D("1E-12")


def test_a_different_fill_under_a_journaled_id_is_a_divergence(journal, db_path):
    journal.record_order(order())
    assert journal.record_fill(fill()) is True
    with pytest.raises(JournalDivergence, match="fills r1-000001-fill of run run-1"):
        journal.record_fill(fill(base_size=D("1")))
    assert read(db_path, "SELECT base_size FROM fills") == [("0.02469119",)]


def test_a_different_order_under_a_journaled_id_is_a_divergence(journal, db_path):
    assert journal.record_order(order()) is True
    with pytest.raises(JournalDivergence):
        journal.record_order(order(quote_size=D("5")))
    assert read(db_path, "SELECT quote_size FROM orders") == [("1000.10",)]


def test_re_executing_the_same_order_and_fill_records_nothing_twice(journal, db_path):
    journal.record_order(order())
    journal.record_fill(fill())
    assert journal.record_order(order()) is False
    assert journal.record_fill(fill()) is False
    assert read(db_path, "SELECT count(*) FROM orders") == [(1,)]
    assert read(db_path, "SELECT count(*) FROM fills") == [(1,)]


def test_same_ids_in_two_runs_are_fine(db_path):
    first = Journal(db_path, "run-1", started_ns=1)
    second = Journal(db_path, "run-2", started_ns=2)
    try:
        first.record_order(order())
        second.record_order(order(quote_size=D("2000")))
        first.record_fill(fill())
        second.record_fill(fill(price=D("40000")))
        second.update_order("r1-000001", OrderStatus.FILLED, D("0.05"), 9)
    finally:
        first.close()
        second.close()
    assert read(db_path, "SELECT run_id, quote_size, status, filled_base FROM orders"
                         " ORDER BY run_id") == [
        ("run-1", "1000.10", "PENDING", "0"), ("run-2", "2000", "FILLED", "0.05")]
    assert read(db_path, "SELECT run_id, fill_id, price FROM fills ORDER BY run_id") == [
        ("run-1", "r1-000001-fill", "40020.02"), ("run-2", "r1-000001-fill", "40000")]
    assert read(db_path, "SELECT run_id, started_ns FROM runs ORDER BY run_id") == [
        ("run-1", 1), ("run-2", 2)]


def test_reopening_a_run_keeps_its_rows_and_registration(db_path):
    j = Journal(db_path, "run-1", started_ns=1, description="first")
    j.record_order(order())
    j.close()
    j = Journal(db_path, "run-1", started_ns=2, description="second")
    try:
        assert j.record_order(order()) is False  # the run re-executed: already there
    finally:
        j.close()
    assert read(db_path, "SELECT run_id, started_ns, description FROM runs") == [
        ("run-1", 1, "first")]
    assert read(db_path, "SELECT count(*) FROM orders") == [(1,)]


def test_an_independent_connection_sees_committed_rows_while_journal_is_open(journal, db_path):
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        journal.record_order(order())
        journal.record_fill(fill())
        journal.update_order("r1-000001", OrderStatus.FILLED, D("0.02469119"), 5)
        # no close, no explicit commit: every write is committed on its own
        assert other.execute("SELECT client_order_id, status, filled_base FROM orders"
                             ).fetchall() == [("r1-000001", "FILLED", "0.02469119")]
        assert other.execute("SELECT fill_id, fee FROM fills").fetchall() == [
            ("r1-000001-fill", "11.857703011486")]
    finally:
        other.close()
    assert journal._db.in_transaction is False


def test_update_of_an_order_never_recorded_is_an_error(journal, db_path):
    journal.record_order(order())
    with pytest.raises(LookupError, match="no order nope in run run-1"):
        journal.update_order("nope", OrderStatus.FILLED, D("1"), 5)
    assert read(db_path, "SELECT client_order_id, status FROM orders") == [("r1-000001", "PENDING")]


def test_fills_are_indexed_by_order(journal, db_path):
    names = {r[0] for r in read(db_path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert "fills_by_order" in names


# --- status changes keep to the life cycle -------------------------------------------------


def row(path, coid="r1-000001"):
    return read(path, "SELECT status, filled_base, detail, updated_ns FROM orders"
                      " WHERE client_order_id=?", coid)


def test_an_impossible_status_change_raises_and_leaves_the_row_unchanged(journal, db_path):
    journal.record_order(order())
    journal.update_order("r1-000001", OrderStatus.OPEN, D("0"), 10)
    journal.update_order("r1-000001", OrderStatus.FILLED, D("0.02469119"), 20, "done")
    before = row(db_path)
    with pytest.raises(InvalidTransition,
                       match="FILLED -> OPEN for client order id r1-000001"):
        journal.update_order("r1-000001", OrderStatus.OPEN, D("0"), 30, "again")
    assert row(db_path) == before == [("FILLED", "0.02469119", "done", 20)]


@pytest.mark.parametrize("end", [OrderStatus.FILLED, OrderStatus.CANCELLED,
                                 OrderStatus.REJECTED, OrderStatus.EXPIRED])
def test_an_ended_order_takes_no_status_at_all(journal, db_path, end):
    journal.record_order(order())
    journal.update_order("r1-000001", end, D("0"), 10)
    for new in OrderStatus:
        with pytest.raises(InvalidTransition):
            journal.update_order("r1-000001", new, D("0"), 20)
    assert row(db_path) == [(end.value, "0", "", 10)]


def test_the_same_status_again_is_recorded(journal, db_path):
    journal.record_order(order())
    journal.update_order("r1-000001", OrderStatus.UNKNOWN, D("0"), 1, "timed out")
    journal.update_order("r1-000001", OrderStatus.UNKNOWN, D("0"), 2, "venue: unknown")
    journal.update_order("r1-000001", OrderStatus.PARTIALLY_FILLED, D("0.01"), 3)
    journal.update_order("r1-000001", OrderStatus.PARTIALLY_FILLED, D("0.02"), 4)
    assert row(db_path) == [("PARTIALLY_FILLED", "0.02", "", 4)]


def test_a_fill_is_not_taken_back(journal, db_path):
    journal.record_order(order())
    journal.update_order("r1-000001", OrderStatus.PARTIALLY_FILLED, D("0.01"), 3)
    with pytest.raises(InvalidTransition, match="PARTIALLY_FILLED -> OPEN"):
        journal.update_order("r1-000001", OrderStatus.OPEN, D("0"), 4)
    assert row(db_path) == [("PARTIALLY_FILLED", "0.01", "", 3)]


def first_execution(db_path, *updates):
    j = Journal(db_path, "run-1")
    j.record_order(order())
    for status, filled, ts in updates:
        j.update_order("r1-000001", status, filled, ts, "first")
    j.close()
    return Journal(db_path, "run-1")


def test_a_re_execution_recognizes_the_life_cycle_it_holds(db_path):
    j = first_execution(db_path, (OrderStatus.OPEN, D("0"), 10),
                        (OrderStatus.FILLED, D("0.02469119"), 20))
    try:
        assert j.record_order(order()) is False
        assert j.update_order("r1-000001", OrderStatus.OPEN, D("0"), 10, "again") is False
        assert j.update_order("r1-000001", OrderStatus.FILLED, D("0.02469119"), 20,
                              "again") is False
        assert row(db_path) == [("FILLED", "0.02469119", "first", 20)]
        # caught up: the order's journaled end is final again
        with pytest.raises(InvalidTransition):
            j.update_order("r1-000001", OrderStatus.OPEN, D("0"), 30)
    finally:
        j.close()


def test_a_re_execution_picks_up_where_the_journal_stopped(db_path):
    j = first_execution(db_path, (OrderStatus.OPEN, D("0"), 10))  # killed before the fill
    try:
        assert j.record_order(order()) is False
        assert j.update_order("r1-000001", OrderStatus.OPEN, D("0"), 10, "again") is True
        assert j.update_order("r1-000001", OrderStatus.FILLED, D("0.02469119"), 20) is True
    finally:
        j.close()
    assert row(db_path) == [("FILLED", "0.02469119", "", 20)]


def test_a_re_execution_that_ends_otherwise_is_a_divergence(db_path):
    j = first_execution(db_path, (OrderStatus.OPEN, D("0"), 10),
                        (OrderStatus.FILLED, D("0.02469119"), 20))
    try:
        j.record_order(order())
        j.update_order("r1-000001", OrderStatus.OPEN, D("0"), 10)
        with pytest.raises(JournalDivergence, match="r1-000001 of run run-1 ended FILLED"):
            j.update_order("r1-000001", OrderStatus.EXPIRED, D("0"), 20)
    finally:
        j.close()
    assert row(db_path) == [("FILLED", "0.02469119", "first", 20)]


def test_a_re_execution_keeps_to_the_life_cycle_too(db_path):
    j = first_execution(db_path, (OrderStatus.PARTIALLY_FILLED, D("0.01"), 10),
                        (OrderStatus.FILLED, D("0.02"), 20))
    try:
        j.record_order(order())
        assert j.update_order("r1-000001", OrderStatus.PARTIALLY_FILLED, D("0.01"), 10) is False
        with pytest.raises(InvalidTransition, match="PARTIALLY_FILLED -> OPEN"):
            j.update_order("r1-000001", OrderStatus.OPEN, D("0"), 15)
    finally:
        j.close()
    assert row(db_path) == [("FILLED", "0.02", "first", 20)]



@pytest.mark.parametrize("autocheckpoint", [True, False])
def test_a_live_writer_leaves_its_checkpoints_to_another_connection(tmp_path, autocheckpoint):
    """The live executor's journal does not checkpoint (an fsync that stalls
    the order after it); :func:`checkpoint`, off the order path, does."""
    from cryptoj_actors.execution.journal import checkpoint

    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, "r1", autocheckpoint=autocheckpoint)
    for n in range(3000):
        journal.record_fill(fill(f"f{n}"))
    wal = (tmp_path / "journal.sqlite3-wal").stat().st_size
    # SQLite checkpoints at 1,000 pages (4 MiB) and then reuses the WAL; the
    # 3,000 commits here take well over that.
    assert (wal < 5 * 2**20) is autocheckpoint
    checkpoint(path)
    db = sqlite3.connect(path)
    busy, frames, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, done)  # everything in the WAL is in the database now
    assert db.execute("SELECT count(*) FROM fills").fetchone()[0] == 3000
    db.close()
    journal.close()
