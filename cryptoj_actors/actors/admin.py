"""The admin actor: the operator's way in (DESIGN.md section 11).

* The control file ``HALT`` in the state directory: when it appears, the
  actor sets the halt switch at once (no mailbox stands between an operator
  and a halt) and tells the supervisor, with the file's text as the reason; a
  line ``unwind`` in it asks for the book to be unwound. The file is left in
  place; ``resume`` removes it.
* The HTTP interface on 127.0.0.1 (:mod:`cryptoj_actors.admin.http`), whose
  address it writes to ``admin.json`` in the state directory for the
  ``status`` and ``resume`` commands; with ``[admin] metrics_port``, also
  ``/metrics`` alone, without a token, for a scraper.
"""

from __future__ import annotations

import json
import logging
import os
import time
from wsgiref.simple_server import WSGIServer

import pykka

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.admin.http import LOOPBACK, AdminServer
from cryptoj_actors.admin.metrics import serve_metrics
from cryptoj_actors.admin.token import load_or_create_token
from cryptoj_actors.config import AdminConfig
from cryptoj_actors.messages import OperatorCommand, Tick
from cryptoj_actors.runtime import Runtime
from cryptoj_actors.state.files import write_atomic

log = logging.getLogger(__name__)

UNWIND_LINE = "unwind"
POLL_INTERVAL_S = 0.25
#: Seconds the HTTP interface waits for the supervisor to answer a resume.
RESUME_TIMEOUT_S = 10.0


class AdminActor(RoleActor):
    role = "admin"

    def __init__(self, runtime: Runtime, generation: int = 0) -> None:
        super().__init__(runtime, generation)
        self.path = runtime.run.state.control_file
        self._seen = False
        self.server: AdminServer | None = None
        self.metrics_server: WSGIServer | None = None

    def handlers(self) -> dict[type, Handler]:
        return {Tick: self.on_tick}

    def started(self) -> None:
        self.every(POLL_INTERVAL_S, "control-file")
        self.on_tick(None)
        try:
            self._serve(self.rt.config.admin)
        except Exception:
            self.stopping()  # what did start: its port is not left bound
            raise

    def _serve(self, cfg: AdminConfig) -> None:
        if cfg.http:
            state_dir = self.rt.run.state
            token = load_or_create_token(state_dir.admin_token(cfg.token_file))
            self.server = AdminServer(self.rt, cfg.port, token, on_halt=self.halt_now,
                                      on_resume=self.resume_now, on_report=self.report_now)
            self.server.start()
            write_atomic(state_dir.admin_endpoint, json.dumps(
                {"url": self.server.url, "pid": os.getpid(), "run_id": self.rt.run.run_id}))
            log.info("admin: listening on %s", self.server.url)
        if cfg.metrics_port:
            self.metrics_server = serve_metrics(self.rt, LOOPBACK, cfg.metrics_port)
            log.info("admin: /metrics without a token on http://%s:%d/metrics", LOOPBACK,
                     cfg.metrics_port)

    def stopping(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
            self.metrics_server = None
        if self.server is not None:
            self.server.stop()
            self.rt.run.state.admin_endpoint.unlink(missing_ok=True)
            self.server = None

    def on_tick(self, tick: Tick | None) -> None:
        present = self.path.exists()
        if present and not self._seen:
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                text = ""
            lines = [line.strip() for line in text.splitlines()]
            said = "; ".join(line for line in lines if line and line != UNWIND_LINE)
            self.halt_now(f"operator: control file {self.path.name}"
                          + (f": {said}" if said else ""),
                          UNWIND_LINE in lines, source="control-file")
        self._seen = present

    def halt_now(self, reason: str, unwind: bool, source: str = "http") -> None:
        """Set the halt switch here and now, then tell the supervisor. Called
        from the actor's thread (control file) or the HTTP thread."""
        self.rt.halt.set(reason, unwinding=unwind)
        self.send("supervisor", OperatorCommand(sender=self.role, ts_ns=time.time_ns(),
                                                command="halt", reason=reason, source=source,
                                                unwind=unwind))

    def report_now(self) -> list[str]:
        """Write the run's report files as the run stands (HTTP thread).

        Raises:
            RuntimeError: this run cannot report (no report writer, or the
                portfolio does not answer).
        """
        if self.rt.write_report is None:
            raise RuntimeError("this run has no report writer")
        results = self.rt.results()
        if results.portfolio is None or not results.portfolio.equity:
            raise RuntimeError("the portfolio has nothing to report yet")
        _, files = self.rt.write_report(results)
        return [str(path) for path in files]

    def resume_now(self, reason: str) -> str | None:
        """Remove the control file, then resume through the supervisor and
        wait for its answer (HTTP thread): None when resumed, else why not.
        A control file left behind would halt the next start again.

        Raises:
            OSError: the control file exists and cannot be removed; the
                system stays halted.
            pykka.ActorDeadError, pykka.Timeout: the supervisor is gone or
                does not answer in :data:`RESUME_TIMEOUT_S`.
        """
        self.path.unlink(missing_ok=True)
        supervisor = self.rt.directory.get("supervisor")
        if supervisor is None:
            raise pykka.ActorDeadError("the supervisor is not running")
        return supervisor.proxy().resume(reason).get(timeout=RESUME_TIMEOUT_S)
