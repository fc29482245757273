"""The admin HTTP interface, on 127.0.0.1 only (DESIGN.md section 11).

| request | answer |
| --- | --- |
| ``GET /status`` | the status document (JSON) |
| ``GET /metrics`` | Prometheus text exposition |
| ``POST /halt`` | halt now; JSON body ``{"reason": "...", "unwind": true}`` optional |
| ``POST /resume`` | lift a halt: 200 done, 409 refused, 202 queued (see below); |
| | JSON body ``{"reason": "..."}`` optional |
| ``POST /report`` | write the run's report files as they stand now (JSON: the files); no body |

A request body is checked strictly before anything is done: a JSON object of
the keys above only, each of its type (``unwind`` is ``true`` or ``false``,
never the string ``"false"``), no shorter than its ``Content-Length``; else
400 with the reason, and no action. A client that goes away before its
answer is counted (``admin.disconnects`` in the status document) and logged
at debug.

A resume is refused (409, with the reason) while a pipeline actor is down or
hung, or when it cannot be recorded; it is queued (202) when the supervisor
is too busy to answer within ``RESUME_TIMEOUT_S``, and acts on it when free.

Every request needs ``Authorization: Bearer <token>``; without the right one
the answer is 401 and the attempt is logged (with the client address, never
a token). A halt sets the halt switch in the request's own thread, before
any mailbox is involved.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pykka
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from cryptoj_actors.admin.metrics import metrics_registry, metrics_text
from cryptoj_actors.admin.status import status_document
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 4096

#: ``on_halt(reason, unwind)``, ``on_resume(reason)`` -> why refused or None,
#: ``on_report()`` -> files.
HaltHook = Callable[[str, bool], None]
ResumeHook = Callable[[str], str | None]
ReportHook = Callable[[], list[str]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HaltBody(_Body):
    reason: StrictStr = ""
    unwind: StrictBool = False


class ResumeBody(_Body):
    reason: StrictStr = ""


BODIES: dict[str, type[_Body]] = {"/halt": HaltBody, "/resume": ResumeBody, "/report": _Body}


class AdminServer:
    """An HTTP server in a daemon thread.

    Args:
        rt: the running system (status board, directory, halt switch).
        port: TCP port on 127.0.0.1 (0: any free one, see :attr:`url`).
        token: the bearer token.
        on_halt, on_resume: what a ``POST /halt`` or ``/resume`` does.

    Raises:
        OSError: the port cannot be bound.
    """

    def __init__(self, rt: Runtime, port: int, token: str, on_halt: HaltHook,
                 on_resume: ResumeHook, on_report: ReportHook) -> None:
        registry = metrics_registry(rt)

        class Handler(_Handler):
            pass

        Handler.rt, Handler.token, Handler.registry = rt, token, registry
        Handler.on_halt, Handler.on_resume = staticmethod(on_halt), staticmethod(on_resume)
        Handler.on_report = staticmethod(on_report)
        self._server = _Server((LOOPBACK, port), Handler, rt)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="admin-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    """Counts clients that leave before their answer instead of printing a
    traceback for each."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 rt: Runtime) -> None:
        super().__init__(address, handler)
        self.rt = rt

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError)):
            self.rt.telemetry.admin_disconnects += 1
            log.debug("admin: %s left before its answer: %s", client_address[0], error)
            return
        log.exception("admin: request from %s failed", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    rt: Runtime
    token: str
    registry: Any
    on_halt: HaltHook
    on_resume: ResumeHook
    on_report: ReportHook
    server_version = "cryptoj-admin"
    #: Seconds a connection may sit idle: a client that never sends its request
    #: must not hold a thread for ever.
    timeout = 10

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._authorized():
            return
        if self.path == "/status":
            self._send(HTTPStatus.OK, "application/json",
                       json.dumps(status_document(self.rt), indent=2).encode() + b"\n")
        elif self.path == "/metrics":
            self._send(HTTPStatus.OK, "text/plain; version=0.0.4; charset=utf-8",
                       metrics_text(self.registry))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such resource: {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._authorized():
            return
        kind = BODIES.get(self.path)
        if kind is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such action: {self.path}")
            return
        body = self._body(kind)
        if body is None:
            return
        reason = getattr(body, "reason", "") or f"admin interface ({self.client_address[0]})"
        if isinstance(body, HaltBody):
            self.on_halt(reason, body.unwind)
            self._reply(HTTPStatus.ACCEPTED, {"halted": True, "unwind": body.unwind,
                                              "reason": self.rt.halt.reason})
        elif self.path == "/resume":
            try:
                refusal = self.on_resume(reason)
            except OSError as exc:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR,
                            f"cannot remove the control file, still halted: {exc.strerror}")
                return
            except pykka.Timeout:
                # The request stays in the supervisor's mailbox: it may still
                # take effect, and the answer must not say it failed.
                self._reply(HTTPStatus.ACCEPTED, {"resumed": False, "pending": True,
                                                  "reason": reason})
                return
            except pykka.ActorDeadError as exc:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"the supervisor is gone: {exc}")
                return
            if refusal is not None:
                self._error(HTTPStatus.CONFLICT, f"still halted: {refusal}")
                return
            self._reply(HTTPStatus.OK, {"resumed": True, "reason": reason})
        elif self.path == "/report":
            try:
                files = self.on_report()
            except RuntimeError as exc:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
                return
            self._reply(HTTPStatus.OK, {"files": files})

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        log.warning("admin: refused %s %r from %s: %s", self.command, self.path,
                    self.client_address[0], "no token" if not given else "wrong token")
        self._error(HTTPStatus.UNAUTHORIZED, "a valid bearer token is required")
        return False

    def _body(self, kind: type[_Body]) -> _Body | None:
        """The request's body as ``kind`` (an empty body: the defaults), or
        None when it was refused (the 400 or 413 is sent)."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._error(HTTPStatus.BAD_REQUEST, "Content-Length must be a whole number")
            return None
        if length > MAX_BODY_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
            return None
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            self._error(HTTPStatus.BAD_REQUEST, f"the body ended after {len(raw)} of its "
                                                f"{length} bytes: nothing done")
            return None
        if not raw.strip():
            return kind()
        try:
            return kind.model_validate_json(raw)
        except ValidationError as exc:
            self._error(HTTPStatus.BAD_REQUEST, _refusal(exc, kind))
            return None

    def _reply(self, status: HTTPStatus, doc: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(doc).encode() + b"\n")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._reply(status, {"error": message})

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("admin: %s %s", self.client_address[0], format % args)


def _refusal(exc: ValidationError, kind: type[_Body]) -> str:
    """One line: the first problem, with the keys the request takes."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    known = ", ".join(kind.model_fields) or "none"
    if first["type"] == "extra_forbidden":
        return f"unknown key {where!r} (known: {known})"
    if first["type"] in ("json_invalid", "model_type") or not where:
        return f"the body must be a JSON object with the keys: {known} ({first['msg']})"
    return f"{where}: {first['msg'].lower()}"
