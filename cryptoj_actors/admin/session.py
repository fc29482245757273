"""Logins to the web dashboard: the admin token, given once on the login
page, buys a session; the browser holds the session's id in an HttpOnly,
SameSite=Strict cookie, and the page holds the session's CSRF token, which
every action it posts must carry (the cookie alone cannot post: a page of
another site can make the browser send the cookie, never read the token).

A session ends at logout, after ``ttl_s`` seconds, or with the process.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "cryptoj_session"
#: Seconds a login lasts.
TTL_S = 12 * 3600.0
#: Sessions kept at most; the oldest goes first.
MAX_SESSIONS = 64


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str  # the cookie's value
    csrf: str        # in the page; required on every action it posts
    expires_s: float  # monotonic


class Sessions:
    """The live sessions, shared by the admin interface's request threads."""

    def __init__(self, token: str, ttl_s: float = TTL_S) -> None:
        self._token = token
        self._ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def login(self, given: str) -> Session | None:
        """A new session if ``given`` is the admin token, else None."""
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            return None
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          time.monotonic() + self._ttl_s)
        with self._lock:
            while len(self._sessions) >= MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[session.session_id] = session
        return session

    def find(self, session_id: str) -> Session | None:
        """The session of this cookie value, if it is live."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires_s <= time.monotonic():
                del self._sessions[session_id]
                return None
        return session

    def logout(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    @staticmethod
    def csrf_ok(session: Session, given: str) -> bool:
        return hmac.compare_digest(given.encode(), session.csrf.encode())
