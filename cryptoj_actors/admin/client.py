"""Talking to a running system's admin interface from the command line
(``status``, ``resume``), with requests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import requests

from cryptoj_actors.admin.token import load_or_create_token
from cryptoj_actors.state.layout import StateDir

TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    token: str
    run_id: str


def running_endpoint(state_dir: StateDir, token_file: str) -> Endpoint | None:
    """The admin endpoint of the system running on ``state_dir``, or None when
    none runs there (no ``admin.json``, or its process is gone)."""
    try:
        record = json.loads(state_dir.admin_endpoint.read_text(encoding="utf-8"))
        pid = int(record["pid"])
        os.kill(pid, 0)  # signal 0: does the process exist?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Endpoint(url=str(record["url"]), run_id=str(record.get("run_id", "")),
                    token=load_or_create_token(state_dir.admin_token(token_file)))


def call(endpoint: Endpoint, method: str, path: str,
         body: dict[str, Any] | None = None, *, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """One authenticated request; the decoded JSON answer.

    Raises:
        requests.HTTPError: the system answered with an error status; the
            message is the status and the system's own ``error`` text.
        requests.RequestException: the system did not answer.
    """
    response = requests.request(method, endpoint.url + path, json=body, timeout=timeout_s,
                                headers={"Authorization": f"Bearer {endpoint.token}"})
    if not response.ok:
        try:
            said = response.json().get("error")
        except (ValueError, AttributeError):
            said = None
        raise requests.HTTPError(f"{response.status_code} {said or response.reason}",
                                 response=response)
    return response.json()
