"""The order and fill journal: SQLite in WAL mode, in the state directory.

Write-ahead (DESIGN.md section 7): the executor records an order, with its
``client_order_id``, before it sends it, and records a fill before it tells
the portfolio. A fill id is a primary key within its run, so a fill can never
be journaled twice. Client order ids are unique per run (replay ids repeat
from run to run by design; see :mod:`cryptoj_actors.ids`). Decimals are
stored as their exact plain text (``0.00000001``, never ``1E-8``).

One :class:`Journal` belongs to one thread (SQLite connections are not shared
across threads): the executor opens it in ``on_start``.

Re-execution: a replay that is restarted (after a crash, or a pipeline
restart) runs again from its first batch under the same run id, and being
deterministic it decides the same orders and gets the same fills. Recording
an order or fill that is already journaled with the same content is then a
no-op that says so (``False``); the same id with different content means the
run did not repeat itself and raises :class:`JournalDivergence`.

Status changes keep to the order life cycle
(:data:`~cryptoj_actors.model.ORDER_TRANSITIONS`): an update the journaled
status cannot take raises :class:`~cryptoj_actors.model.InvalidTransition`
and writes nothing. An order re-executed goes through its life cycle again
from ``PENDING``, held to the same table; while the journal already holds a
later status than the re-executed one (the order ended in the first
execution), its updates are recognized as history and not written, and an
end other than the journaled one is a :class:`JournalDivergence`.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from cryptoj_actors.messages import Fill
from cryptoj_actors.model import (
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    check_transition,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_ns INTEGER NOT NULL,
    mode TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    client_order_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    base_size TEXT,
    quote_size TEXT,
    limit_price TEXT,
    stop_price TEXT,
    reduce_only INTEGER NOT NULL,
    decision_seq INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    filled_base TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    updated_ns INTEGER NOT NULL,
    exchange_order_id TEXT,
    PRIMARY KEY (run_id, client_order_id)
);
CREATE TABLE IF NOT EXISTS fills (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    fill_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    side TEXT NOT NULL,
    base_size TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    PRIMARY KEY (run_id, fill_id)
);
CREATE INDEX IF NOT EXISTS fills_by_order ON fills(run_id, client_order_id);
"""


class JournalError(Exception):
    """The journal file cannot be used: damaged, not a database, or not
    writable. The message is one line naming the file and what to do."""


def check_journal(path: Path) -> None:
    """Open ``path`` read-only and check its integrity (SQLite's
    ``quick_check``) before a system trusts its ledger to it; nothing when
    there is no such file.

    Raises:
        JournalError: the file is not an SQLite database or is damaged.
    """
    if not path.exists():
        return
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise JournalError(f"{path}: the journal is damaged ({verdict}): move it aside and "
                           "restore a copy, or start over with `run --fresh`")


def journal_has_run(path: Path, run_id: str) -> bool:
    """Whether the journal at ``path`` exists and has ``run_id`` (a ledger)
    registered: an earlier start that used it.

    Raises:
        JournalError: the file is not an SQLite database or is damaged.
    """
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            return "runs" in tables and db.execute(
                "SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: the journal cannot be read ({exc})") from None


class JournalDivergence(Exception):
    """A re-executed run produced an order or fill unlike the one journaled
    under the same id: the recorded history and this run disagree."""


_ORDER_COLUMNS = ("client_order_id", "run_id", "product_id", "side", "order_type", "base_size",
                  "quote_size", "limit_price", "stop_price", "reduce_only", "decision_seq",
                  "created_ns", "reason")
#: Columns later versions added to a journal an earlier one created.
_ADDED_COLUMNS = (("orders", "stop_price", "TEXT"), ("orders", "exchange_order_id", "TEXT"))
_FILL_COLUMNS = ("fill_id", "run_id", "client_order_id", "product_id", "side", "base_size",
                 "price", "fee", "liquidity", "ts_ns")


def _plain(value: Decimal) -> str:
    """Exact plain text: ``0.00000001`` rather than ``1E-8``, trailing zeros kept."""
    return format(value, "f")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else _plain(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def checkpoint(path: Path) -> None:
    """Copy the journal's WAL into the database (SQLite's PASSIVE checkpoint:
    it never blocks the writer, and the GIL is released meanwhile), for a
    journal whose writer does not checkpoint itself.

    Raises:
        sqlite3.Error: the journal cannot be opened.
    """
    db = sqlite3.connect(path, timeout=1)
    try:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        db.close()


class Journal:
    """Append-only record of one run's orders and fills.

    Args:
        path: the database file (created with its folder if missing).
        run_id: the run every row belongs to; registered on open.
        autocheckpoint: False leaves the WAL's checkpoints (and their fsync,
            milliseconds on a busy disk) to :func:`checkpoint`, called off
            the order path: the live executor's journal.

    Raises:
        JournalError: the database cannot be opened or set up (damaged, not
            a database, a full disk).
        sqlite3.Error: a later read or write fails.
    """

    def __init__(self, path: Path, run_id: str, *, mode: str = "paper",
                 description: str = "", started_ns: int = 0,
                 autocheckpoint: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.run_id = run_id
        try:
            self._open(run_id, mode, description, started_ns)
            if not autocheckpoint:
                self._db.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: cannot use the journal ({exc}): move it aside and "
                               "restore a copy, or start over with `run --fresh`") from None
        #: Orders this journal met again (a re-execution) whose updates have
        #: not caught up with their journaled status: their re-executed status.
        self._replaying: dict[str, OrderStatus] = {}

    def _open(self, run_id: str, mode: str, description: str, started_ns: int) -> None:
        self._db = sqlite3.connect(self.path, isolation_level=None)
        # WAL survives a killed process with every committed row; NORMAL
        # syncs at checkpoints, which is enough against process crashes.
        # WAL is a property of the file: set once. Setting it needs an
        # exclusive lock that SQLite does not wait for, so a journal opened by
        # two actors at once must not both try (TradingSystem.start creates
        # the file first).
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        for table, column, kind in _ADDED_COLUMNS:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self._db.execute(
            "INSERT OR IGNORE INTO runs(run_id, started_ns, mode, description) VALUES (?,?,?,?)",
            (run_id, started_ns, mode, description))

    def record_order(self, order: Order) -> bool:
        """Journal a new order as ``PENDING``, before it is sent.

        Returns:
            True if journaled now, False if this very order was journaled
            before in this run (a re-execution).

        Raises:
            JournalDivergence: another order has this client order id.
        """
        values = (order.client_order_id, self.run_id, order.product_id, order.side.value,
                  order.order_type.value, _text(order.base_size), _text(order.quote_size),
                  _text(order.limit_price), _text(order.stop_price), int(order.reduce_only),
                  order.decision_seq,
                  order.created_ns, order.reason)
        fresh = self._insert("orders", _ORDER_COLUMNS, values,
                             extra={"status": OrderStatus.PENDING.value, "filled_base": "0",
                                    "updated_ns": order.created_ns})
        if not fresh:
            self._replaying[order.client_order_id] = OrderStatus.PENDING
        return fresh

    def update_order(self, client_order_id: str, status: OrderStatus, filled_base: Decimal,
                     ts_ns: int, detail: str = "") -> bool:
        """Record an order's new status and cumulative filled size (base units).

        Returns:
            True if written; False if the order is being re-executed and the
            journal holds this part of its history already.

        Raises:
            LookupError: the order was never journaled in this run (an update
                for an order nobody recorded would otherwise vanish).
            InvalidTransition: the order's status cannot become ``status``
                (nothing is written).
            JournalDivergence: a re-executed order ends otherwise than the
                journal says it ended.
        """
        held = self.order_status(client_order_id)
        if held is None:
            raise LookupError(f"journal: no order {client_order_id} in run {self.run_id}")
        held_status, held_filled = held
        replayed = self._replaying.get(client_order_id)
        if replayed is None:
            check_transition(held_status, status, client_order_id)
        else:
            check_transition(replayed, status, client_order_id)
            if not held_status.can_become(status):  # the journal is further on
                if not status.is_terminal:
                    self._replaying[client_order_id] = status
                    return False
                del self._replaying[client_order_id]
                if (status, filled_base) != (held_status, held_filled):
                    raise JournalDivergence(
                        f"journal: order {client_order_id} of run {self.run_id} ended "
                        f"{held_status.value} with {_plain(held_filled)} filled, now "
                        f"{status.value} with {_plain(filled_base)}")
                return False
            del self._replaying[client_order_id]  # caught up: an update like any other
        cursor = self._db.execute(
            "UPDATE orders SET status=?, filled_base=?, detail=?, updated_ns=?"
            " WHERE run_id=? AND client_order_id=?",
            (status.value, _plain(filled_base), detail, ts_ns, self.run_id, client_order_id))
        if cursor.rowcount != 1:
            raise LookupError(f"journal: no order {client_order_id} in run {self.run_id}")
        return True

    def set_exchange_order_id(self, client_order_id: str, order_id: str) -> None:
        """Record the id the venue gave the order (Coinbase's ``order_id``).

        Raises:
            LookupError: the order was never journaled in this run.
        """
        cursor = self._db.execute(
            "UPDATE orders SET exchange_order_id=? WHERE run_id=? AND client_order_id=?",
            (order_id, self.run_id, client_order_id))
        if cursor.rowcount != 1:
            raise LookupError(f"journal: no order {client_order_id} in run {self.run_id}")

    def exchange_order_ids(self) -> dict[str, str]:
        """Client order id -> the venue's order id, for every order that has one."""
        return dict(self._db.execute(
            "SELECT client_order_id, exchange_order_id FROM orders WHERE run_id=? AND "
            "exchange_order_id IS NOT NULL", (self.run_id,)))

    def order_status(self, client_order_id: str) -> tuple[OrderStatus, Decimal] | None:
        """An order's journaled status and cumulative filled size (base units),
        or ``None`` if the run has no such order."""
        row = self._db.execute(
            "SELECT status, filled_base FROM orders WHERE run_id=? AND client_order_id=?",
            (self.run_id, client_order_id)).fetchone()
        return None if row is None else (OrderStatus(row[0]), Decimal(row[1]))

    def record_fill(self, fill: Fill) -> bool:
        """Journal a fill, before the portfolio hears of it. A fill id is
        stored once per run, whatever happens.

        Returns:
            True if journaled now, False if this very fill was journaled
            before in this run (a re-execution).

        Raises:
            JournalDivergence: another fill has this fill id.
        """
        values = (fill.fill_id, self.run_id, fill.client_order_id, fill.product_id,
                  fill.side.value, _plain(fill.base_size), _plain(fill.price), _plain(fill.fee),
                  fill.liquidity.value, fill.ts_ns)
        return self._insert("fills", _FILL_COLUMNS, values)

    def _insert(self, table: str, columns: tuple[str, ...], values: tuple[object, ...],
                extra: dict[str, object] | None = None) -> bool:
        names = columns + tuple(extra or ())
        row = values + tuple((extra or {}).values())
        try:
            self._db.execute(f"INSERT INTO {table}({', '.join(names)}) "
                             f"VALUES ({', '.join('?' * len(names))})", row)
            return True
        except sqlite3.IntegrityError:
            stored = self._db.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]}=? AND run_id=?",
                (values[0], self.run_id)).fetchone()
            if stored == values:
                return False
            raise JournalDivergence(f"journal: {table} {values[0]} of run {self.run_id} was "
                                    f"{stored}, now {values}") from None

    def fills(self) -> list[Fill]:
        """This run's fills, in the order they were journaled."""
        rows = self._db.execute(
            "SELECT fill_id, client_order_id, product_id, side, base_size, price, fee, "
            "liquidity, ts_ns FROM fills WHERE run_id=? ORDER BY rowid", (self.run_id,))
        return [Fill(sender="journal", ts_ns=ts, fill_id=fid, client_order_id=coid,
                     product_id=product, side=Side(side), base_size=Decimal(size),
                     price=Decimal(price), fee=Decimal(fee), liquidity=Liquidity(liquidity))
                for fid, coid, product, side, size, price, fee, liquidity, ts in rows]

    def orders_created_since(self, since_ns: int) -> list[int]:
        """The decision times (ns) of this run's orders created after ``since_ns``."""
        return [created for (created,) in self._db.execute(
            "SELECT created_ns FROM orders WHERE run_id=? AND created_ns>? ORDER BY created_ns",
            (self.run_id, since_ns))]

    def open_orders(self) -> list[Order]:
        """This run's orders that have not ended (sent or about to be)."""
        ended = tuple(s.value for s in OrderStatus if s.is_terminal)
        rows = self._db.execute(
            "SELECT client_order_id, product_id, side, order_type, base_size, quote_size, "
            "limit_price, stop_price, reduce_only, decision_seq, created_ns, reason FROM orders "
            f"WHERE run_id=? AND status NOT IN ({', '.join('?' * len(ended))}) ORDER BY rowid",
            (self.run_id, *ended))
        return [Order(client_order_id=coid, product_id=product, side=Side(side),
                      order_type=OrderType(kind), base_size=_decimal(base),
                      quote_size=_decimal(quote), limit_price=_decimal(limit),
                      stop_price=_decimal(stop), reduce_only=bool(reduce_only),
                      decision_seq=seq, created_ns=created, reason=reason)
                for coid, product, side, kind, base, quote, limit, stop, reduce_only, seq,
                created, reason in rows]

    def close(self) -> None:
        self._db.close()
