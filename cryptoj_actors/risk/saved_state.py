"""``risk_state.json``: what a live risk policy must carry across restarts.

The policy makes the record (:meth:`RiskPolicy.saved_state`: the UTC day and
its start-of-day equity, the daily loss state, the drawdown halt, the equity
peak, the stop-loss cooldowns; Decimals as text). This file writes it
atomically whenever a part of it changes, except that the equity peak alone
is written only once it has risen :data:`PEAK_SAVE_STEP` (1 %) since the last
write, so that a rising market does not write every batch (a restart then
takes up a peak at most 1 % low, which only delays a drawdown halt by as
much). It also makes the one offline edit, an operator's resume while no
system runs (:meth:`RiskStateFile.lift_halt`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptoj_actors.state.files import read_json_object, write_atomic

PEAK_SAVE_STEP = Decimal("1.01")
#: The keys of a saved risk state.
KEYS = frozenset({"day", "start_of_day_equity", "daily", "halt", "equity_peak",
                  "cooldown_until"})


class RiskStateFile:
    """The risk state file of a live state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        """The saved record, or None when there is none.

        Raises:
            ValueError: the file cannot be read or is not a risk state (the
                message names the file).
        """
        record = read_json_object(self.path, "risk state")
        if record is None:
            return None
        if not KEYS <= record.keys():
            raise ValueError(f"{self.path}: not a risk state (expected the keys "
                             f"{', '.join(sorted(KEYS))})")
        return record

    def written(self, state: dict[str, Any]) -> None:
        """Take ``state`` as what the file holds now (after a restore)."""
        self._saved = state

    def save_if_changed(self, state: dict[str, Any]) -> bool:
        """Write ``state`` when it differs from the last one written in more
        than a rising peak of under 1 %; True when written.

        Raises:
            OSError: the file cannot be written.
        """
        saved = self._saved
        if saved is not None:
            rest_changed = {k: v for k, v in state.items() if k != "equity_peak"} != \
                {k: v for k, v in saved.items() if k != "equity_peak"}
            peak, saved_peak = state["equity_peak"], saved["equity_peak"]
            peak_rose = peak is not None and (
                saved_peak is None or Decimal(peak) >= Decimal(saved_peak) * PEAK_SAVE_STEP)
            if not (rest_changed or peak_rose):
                return False
        write_atomic(self.path, json.dumps(state, indent=2) + "\n")
        self._saved = state
        return True

    def lift_halt(self) -> bool:
        """An operator's resume while no system runs: forget the drawdown halt
        and the equity peak (it restarts from the next mark), as a running
        policy's resume does. True when there was a halt to lift.

        Raises:
            ValueError: the file is not a risk state.
            OSError: the file cannot be written.
        """
        record = self.load()
        if record is None or record["halt"] is None:
            return False
        write_atomic(self.path, json.dumps({**record, "halt": None, "equity_peak": None},
                                           indent=2) + "\n")
        return True
