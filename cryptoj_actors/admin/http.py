"""The admin HTTP interface, on 127.0.0.1 only (DESIGN.md section 11).

| request | answer |
| --- | --- |
| ``GET /`` | the web dashboard (HTML); without a login, a redirect to ``/login`` |
| ``GET /login``, ``POST /login`` | the login page; a form field ``token`` buys a session |
| ``POST /logout`` | ends the session |
| ``GET /events`` | Server-Sent Events: the dashboard document every ``EVENTS_INTERVAL_S`` |
| ``GET /dashboard.json`` | the dashboard document once (JSON) |
| ``GET /static/...`` | the dashboard's script and style, and plotly.js from the plotly package |
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

Every request but the login page and the static files needs
``Authorization: Bearer <token>`` or a dashboard session's cookie (see
:mod:`cryptoj_actors.admin.session`); without either the answer is 401 and
the attempt is logged (with the client address, never a token). A request
that acts (``POST``) on a session's cookie must carry the session's CSRF
token in ``X-CSRF-Token``, else 403. A token is never taken from a URL. A
halt sets the halt switch in the request's own thread, before any mailbox
is involved.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pykka
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from cryptoj_actors.admin.dashboard import dashboard_document
from cryptoj_actors.admin.metrics import metrics_registry, metrics_text
from cryptoj_actors.admin.session import COOKIE, TTL_S, Session, Sessions
from cryptoj_actors.admin.status import status_document
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 4096
#: Seconds between two dashboard documents on ``/events``.
EVENTS_INTERVAL_S = 0.5
#: Seconds between the server's looks at a shutdown request: a stop waits up
#: to this long (the standard library's 0.5 s added half a second to every
#: replay's end; an idle look costs nothing worth counting).
SHUTDOWN_POLL_S = 0.02
WEB = files("cryptoj_actors.admin") / "web"
#: path -> (file, content type). plotly.js is the plotly package's own copy:
#: the dashboard works with no internet.
STATIC = {
    "/static/dashboard.js": (WEB / "dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": (WEB / "dashboard.css", "text/css; charset=utf-8"),
    "/static/plotly.min.js": (files("plotly") / "package_data" / "plotly.min.js",
                              "text/javascript; charset=utf-8"),
}
#: The pages' own headers: nothing from elsewhere, no framing (a halt button
#: must not be clickable through another site's page), no caching.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

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
        Handler.sessions = Sessions(token)
        Handler.on_halt, Handler.on_resume = staticmethod(on_halt), staticmethod(on_resume)
        Handler.on_report = staticmethod(on_report)
        self._server = _Server((LOOPBACK, port), Handler, rt)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        args=(SHUTDOWN_POLL_S,), name="admin-http",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.stopping.set()  # ends the /events streams
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    """Counts clients that leave before their answer instead of printing a
    traceback for each."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 rt: Runtime) -> None:
        super().__init__(address, handler)
        self.rt = rt
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError)):
            self.rt.telemetry.admin_disconnects += 1
            log.debug("admin: %s left before its answer: %s", client_address[0], error)
            return
        log.exception("admin: request from %s failed", client_address[0])


@dataclass(frozen=True, slots=True)
class _Caller:
    """Who a request comes from: a bearer token, or a dashboard session."""

    session: Session | None  # None: the bearer token


class _Handler(BaseHTTPRequestHandler):
    rt: Runtime
    token: str
    registry: Any
    sessions: Sessions
    on_halt: HaltHook
    on_resume: ResumeHook
    on_report: ReportHook
    server: _Server
    server_version = "cryptoj-admin"
    #: Seconds a connection may sit idle: a client that never sends its request
    #: must not hold a thread for ever.
    timeout = 10

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        if path == "/login":
            self._login_page(HTTPStatus.OK, "")
            return
        if path in STATIC:
            source, content_type = STATIC[path]
            self._send(HTTPStatus.OK, content_type, source.read_bytes(),
                       {"Cache-Control": "max-age=3600"})
            return
        if path == "/" and self._caller(quiet=True) is None:
            self._redirect("/login")
            return
        caller = self._caller()
        if caller is None:
            return
        if path == "/":
            csrf = caller.session.csrf if caller.session is not None else ""
            page = (WEB / "dashboard.html").read_text().replace("{{csrf}}", csrf)
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode(), PAGE_HEADERS)
        elif path == "/events":
            self._events(caller)
        elif path == "/dashboard.json":
            self._reply(HTTPStatus.OK, dashboard_document(self.rt))
        elif path == "/status":
            self._send(HTTPStatus.OK, "application/json",
                       json.dumps(status_document(self.rt), indent=2).encode() + b"\n")
        elif path == "/metrics":
            self._send(HTTPStatus.OK, "text/plain; version=0.0.4; charset=utf-8",
                       metrics_text(self.registry))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such resource: {path}")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        if path == "/login":
            self._login()
            return
        caller = self._caller()
        if caller is None:
            return
        if caller.session is not None and not Sessions.csrf_ok(
                caller.session, self.headers.get("X-CSRF-Token", "")):
            log.warning("admin: refused %s %r from %s: a session without its CSRF token",
                        self.command, path, self.client_address[0])
            self._error(HTTPStatus.FORBIDDEN, "the page's CSRF token is required")
            return
        if path == "/logout":
            if caller.session is not None:
                self.sessions.logout(caller.session.session_id)
            self._reply(HTTPStatus.OK, {"logged_out": True},
                        {"Set-Cookie": f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; "
                                       "Max-Age=0"})
            return
        kind = BODIES.get(path)
        if kind is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such action: {path}")
            return
        body = self._body(kind)
        if body is None:
            return
        reason = getattr(body, "reason", "") or f"admin interface ({self.client_address[0]})"
        if isinstance(body, HaltBody):
            self.on_halt(reason, body.unwind)
            self._reply(HTTPStatus.ACCEPTED, {"halted": True, "unwind": body.unwind,
                                              "reason": self.rt.halt.reason})
        elif path == "/resume":
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
        elif path == "/report":
            try:
                files = self.on_report()
            except RuntimeError as exc:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
                return
            self._reply(HTTPStatus.OK, {"files": files})

    def _caller(self, *, quiet: bool = False) -> _Caller | None:
        """The bearer token or a live session's cookie; else None, and
        (unless ``quiet``) the 401 sent and the attempt logged."""
        given = self.headers.get("Authorization", "")
        if given and hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return _Caller(None)
        session_id = self._cookie()
        session = self.sessions.find(session_id) if session_id else None
        if session is not None and not given:
            return _Caller(session)
        if not quiet:
            why = ("wrong token" if given else "an unknown or expired session" if session_id
                   else "no token")
            log.warning("admin: refused %s %r from %s: %s", self.command,
                        urlsplit(self.path).path, self.client_address[0], why)
            self._error(HTTPStatus.UNAUTHORIZED, "a valid bearer token is required")
        return None

    def _cookie(self) -> str:
        try:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get(COOKIE)
        except CookieError:
            return ""
        return morsel.value if morsel is not None else ""

    def _login(self) -> None:
        """``POST /login`` with the form field ``token``: a session cookie
        and a redirect to the dashboard, or the login page again with 401."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._login_page(HTTPStatus.BAD_REQUEST, "The form was refused: its length.")
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        session = self.sessions.login(form.get("token", [""])[0].strip())
        if session is None:
            log.warning("admin: refused a login from %s: wrong token", self.client_address[0])
            self._login_page(HTTPStatus.UNAUTHORIZED, "Wrong token.")
            return
        log.info("admin: a dashboard login from %s", self.client_address[0])
        self._redirect("/", {"Set-Cookie": f"{COOKIE}={session.session_id}; HttpOnly; "
                                           f"SameSite=Strict; Path=/; Max-Age={int(TTL_S)}"})

    def _login_page(self, status: HTTPStatus, error: str) -> None:
        page = (WEB / "login.html").read_text().replace("{{error}}", error)
        self._send(status, "text/html; charset=utf-8", page.encode(), PAGE_HEADERS)

    def _redirect(self, to: str, headers: dict[str, str] | None = None) -> None:
        self._send(HTTPStatus.SEE_OTHER, "text/plain", b"", {"Location": to, **(headers or {})})

    def _events(self, caller: _Caller) -> None:
        """The dashboard document as Server-Sent Events until the client
        leaves, its session ends, or the server stops."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        stopping = self.server.stopping
        while not stopping.is_set():
            if caller.session is not None and self.sessions.find(caller.session.session_id) is None:
                return
            data = json.dumps(dashboard_document(self.rt)).encode()
            try:
                self.wfile.write(b"data: " + data + b"\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                return  # the page was closed: nothing to count
            stopping.wait(EVENTS_INTERVAL_S)

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

    def _reply(self, status: HTTPStatus, doc: dict[str, Any],
               headers: dict[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(doc).encode() + b"\n", headers)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._reply(status, {"error": message})

    def _send(self, status: HTTPStatus, content_type: str, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
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
