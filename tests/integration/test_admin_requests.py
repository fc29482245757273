"""The admin interface refuses what it cannot take exactly, over real HTTP on
127.0.0.1: bodies are checked strictly before anything is done."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

import pytest

from cryptoj_actors.admin.http import AdminServer
from cryptoj_actors.config import Config
from cryptoj_actors.runtime import RunInfo, Runtime

TOKEN = "t" * 43


@pytest.fixture
def admin(tmp_path: Path):
    rt = Runtime(config=Config(), run=RunInfo("admin", "replay", tmp_path, tmp_path / "run"))
    calls: list[tuple] = []
    server = AdminServer(rt, 0, TOKEN, on_halt=lambda r, u: calls.append(("halt", r, u)),
                         on_resume=lambda r: calls.append(("resume", r)),
                         on_report=lambda: calls.append(("report",)) or [])
    server.start()
    yield server, rt, calls
    server.stop()


def post(server: AdminServer, path: str, body: bytes) -> tuple[int, dict]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", path, body=body, headers={"Authorization": f"Bearer {TOKEN}",
                                                   "Content-Type": "application/json"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    return response.status, answer


@pytest.mark.parametrize("body,said", [
    (b'{"unwind": "false"}', "unwind: input should be a valid boolean"),
    (b'{"unwind": 1}', "unwind: input should be a valid boolean"),
    (b'{"reason": 5}', "reason: input should be a valid string"),
    (b'{"reason": "x", "force": true}', "unknown key 'force' (known: reason, unwind)"),
    (b'[1, 2]', "the body must be a JSON object"),
    (b'{"reason": ', "the body must be a JSON object"),
])
def test_a_halt_with_a_bad_body_is_refused_and_nothing_is_done(admin, body, said):
    server, _, calls = admin
    status, answer = post(server, "/halt", body)
    assert status == 400 and said in answer["error"]
    assert calls == []


def test_a_well_formed_halt_is_taken_as_written(admin):
    server, _, calls = admin
    assert post(server, "/halt", b'{"reason": "drill", "unwind": false}')[0] == 202
    assert post(server, "/halt", b"")[0] == 202
    assert calls[0] == ("halt", "drill", False)
    assert calls[1][0] == "halt" and calls[1][2] is False


def test_resume_and_report_take_only_their_own_keys(admin):
    server, _, calls = admin
    assert post(server, "/resume", b'{"unwind": true}')[0] == 400
    assert post(server, "/report", b'{"reason": "now"}')[0] == 400
    assert calls == []
    assert post(server, "/resume", b'{"reason": "all clear"}')[0] == 200
    assert calls == [("resume", "all clear")]


def test_a_body_nested_two_thousand_deep_is_refused(admin):
    server, _, calls = admin
    status, answer = post(server, "/halt", b'{"reason": ' + b"[" * 2000 + b"]" * 2000 + b"}")
    assert status == 400 and calls == []


def test_a_truncated_body_is_refused_and_nothing_is_done(admin):
    server, _, calls = admin
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /halt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)  # half-close: the other 98 bytes never come
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    assert b"ended after 2 of its 100 bytes" in answer
    assert calls == []


def test_a_client_gone_before_its_answer_is_counted_not_printed(admin, capsys):
    server, rt, _ = admin
    try:
        raise BrokenPipeError(32, "Broken pipe")
    except BrokenPipeError:
        server._server.handle_error(None, ("127.0.0.1", 5))
    assert rt.telemetry.admin_disconnects == 1
    assert capsys.readouterr().err == ""
