"""The admin actor: the operator's way in (DESIGN.md section 11).

It watches the control file ``HALT`` in the state directory: when the file
appears, it sets the halt switch at once (no mailbox stands between an
operator and a halt) and tells the supervisor, with the file's text as the
reason; a line ``unwind`` in it asks for the book to be unwound. The file is
left in place; ``resume`` removes it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.messages import OperatorCommand, Tick
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

CONTROL_FILE = "HALT"
UNWIND_LINE = "unwind"
POLL_INTERVAL_S = 0.25


def control_file(state_dir: Path) -> Path:
    return state_dir / CONTROL_FILE


class AdminActor(RoleActor):
    role = "admin"

    def __init__(self, runtime: Runtime, generation: int = 0) -> None:
        super().__init__(runtime, generation)
        self.path = control_file(runtime.run.state_dir)
        self._seen = False

    def handlers(self) -> dict[type, Handler]:
        return {Tick: self.on_tick}

    def started(self) -> None:
        self.every(POLL_INTERVAL_S, "control-file")
        self.on_tick(None)

    def on_tick(self, tick: Tick | None) -> None:
        present = self.path.exists()
        if present and not self._seen:
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                text = ""
            lines = [line.strip() for line in text.splitlines()]
            unwind = UNWIND_LINE in lines
            said = "; ".join(line for line in lines if line and line != UNWIND_LINE)
            reason = f"operator: control file {CONTROL_FILE}" + (f": {said}" if said else "")
            self.rt.halt.set(reason, unwinding=unwind)
            self.send("supervisor", OperatorCommand(sender=self.role, ts_ns=time.time_ns(),
                                                    command="halt", reason=reason,
                                                    source="control-file", unwind=unwind))
        self._seen = present
