"""Coinbase CDP API keys, and the ES256 JWT that authenticates each request.

Source: Coinbase Developer Platform, "Advanced Trade API: API key
authentication". A key has a **name** (``organizations/{org}/apiKeys/{key}``)
and an EC P-256 **private key** (PEM). Each REST request carries a fresh JWT in
``Authorization: Bearer``, signed ES256, with

* header: ``kid`` = the key name, ``nonce`` = a random hex string;
* claims: ``sub`` = the key name, ``iss`` = ``"cdp"``, ``nbf`` = now (Unix
  seconds), ``exp`` = ``nbf + 120``, ``uri`` = ``"METHOD host/path"`` (for
  example ``"GET api.coinbase.com/api/v3/brokerage/accounts"``, no query).

Where a key comes from: the environment (``COINBASE_API_KEY`` and
``COINBASE_API_SECRET``, the names Coinbase's own SDK reads), or the JSON file
CDP lets one download (``{"name": ..., "privateKey": ...}``), which must be
readable by its owner only. The secret never leaves this module as text: it
is parsed into a key object at load, and neither ``repr`` nor any error
message shows it.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

# PyJWT and cryptography are imported where a key is parsed or a JWT signed:
# importing them costs 80 ms that a replay, which never signs, need not pay.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

#: Environment variables a key is read from (as Coinbase's SDK names them).
ENV_KEY_NAME = "COINBASE_API_KEY"
ENV_PRIVATE_KEY = "COINBASE_API_SECRET"

#: Seconds a JWT is valid for (Coinbase's documented maximum).
JWT_LIFETIME_S = 120

#: The layout of a CDP key name.
KEY_NAME = re.compile(r"organizations/[0-9a-fA-F-]{8,}/apiKeys/[0-9a-fA-F-]{8,}")


class CredentialsError(Exception):
    """A key is missing, malformed or stored unsafely. The message names the
    source and the problem, never the secret."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A loaded CDP API key.

    ``name`` is sent in every JWT, but it names the organization and the key,
    so logs show :attr:`label` instead; ``private_key`` is secret. Both are
    kept out of ``repr``.
    """

    name: str = field(repr=False)
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    source: str = ""

    @property
    def label(self) -> str:
        """The key as logs and reports show it: the last 4 characters of its
        id (``apiKeys/…1f77``), enough to tell keys apart, too little to
        name the organization or the key."""
        return f"apiKeys/…{self.name.rsplit('/', 1)[-1][-4:]}"

    def jwt(self, method: str, host: str, path: str, *, now: float | None = None) -> str:
        """A fresh ES256 JWT for one request.

        Args:
            method: the HTTP method, upper case (``"GET"``).
            host: the API host as the request addresses it, with the port when
                it is not the scheme's default (``"api.coinbase.com"``).
            path: the request path without the query (``"/api/v3/brokerage/orders"``).
            now: Unix seconds to sign at (the current time by default).
        """
        return self._sign({"uri": f"{method} {host}{path}"}, now)

    def websocket_jwt(self, *, now: float | None = None) -> str:
        """A fresh ES256 JWT for one websocket subscribe: as a request's, but
        without ``uri`` (Coinbase's "WebSocket Authentication": the JWT
        names no request). Valid :data:`JWT_LIFETIME_S` seconds, so each
        subscribe needs a new one."""
        return self._sign({}, now)

    def _sign(self, extra: dict[str, str], now: float | None) -> str:
        import jwt

        issued = int(time.time() if now is None else now)
        claims = {"sub": self.name, "iss": "cdp", "nbf": issued,
                  "exp": issued + JWT_LIFETIME_S, **extra}
        return jwt.encode(claims, self.private_key, algorithm="ES256",
                          headers={"kid": self.name, "nonce": secrets.token_hex(16)})


def parse_credentials(name: str, pem: str, source: str) -> Credentials:
    """Check a key name and parse its PEM private key.

    A PEM pasted into an environment variable often has literal ``\\n``
    sequences instead of line breaks; they are accepted.

    Raises:
        CredentialsError: the name is not a CDP key name, or the private key is
            not a PEM EC P-256 key (the only kind ES256 signs with).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    name = name.strip()
    if not KEY_NAME.fullmatch(name):
        raise CredentialsError(f"{source}: the key name must look like "
                               f"organizations/{{org_id}}/apiKeys/{{key_id}}")
    text = pem.strip().replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        # The parser's own message may quote the input: it is not repeated.
        raise CredentialsError(f"{source}: the private key is not an unencrypted PEM "
                               f"private key") from None
    except Exception:  # noqa: BLE001 - a malformed key must never show in a traceback
        raise CredentialsError(f"{source}: the private key cannot be read") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CredentialsError(f"{source}: the private key must be an EC P-256 (ECDSA) key; "
                               f"Advanced Trade signs its JWTs with ES256")
    return Credentials(name=name, private_key=key, source=source)


def check_owner_only(path: Path) -> None:
    """Refuse a secret file that another user could read or write.

    Raises:
        CredentialsError: the file is missing, not a regular file, not owned
            by this user, or open to its group or others (mode beyond 0600).
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise CredentialsError(f"key file {path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsError(f"key file {path}: not a regular file")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CredentialsError(f"key file {path}: owned by another user")
    if info.st_mode & 0o077:
        raise CredentialsError(f"key file {path}: readable or writable by others (mode "
                               f"{stat.S_IMODE(info.st_mode):04o}); chmod 600 it")


def load_credentials(key_file: str = "", environ: Mapping[str, str] | None = None
                     ) -> Credentials | None:
    """The configured key, or ``None`` when there is none.

    ``key_file`` (a CDP JSON key file) wins when set; otherwise the
    environment is read. Setting only one of the two variables is an error,
    not a silent "no key".

    Raises:
        CredentialsError: the key is incomplete, malformed, or in a file that
            is not private to its owner.
    """
    env = os.environ if environ is None else environ
    if key_file:
        path = Path(key_file).expanduser()
        check_owner_only(path)
        source = f"key file {path}"
        try:
            data = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise CredentialsError(f"{source}: cannot read: {exc.strerror}") from None
        except orjson.JSONDecodeError:
            raise CredentialsError(f"{source}: not JSON (expected CDP's key file: "
                                   f"{{\"name\": ..., \"privateKey\": ...}})") from None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
                or not isinstance(data.get("privateKey"), str):
            raise CredentialsError(f"{source}: expected the strings \"name\" and "
                                   f"\"privateKey\" (CDP's key file)")
        return parse_credentials(data["name"], data["privateKey"], source)
    name, pem = env.get(ENV_KEY_NAME, ""), env.get(ENV_PRIVATE_KEY, "")
    if not name and not pem:
        return None
    if not name or not pem:
        missing = ENV_KEY_NAME if not name else ENV_PRIVATE_KEY
        raise CredentialsError(f"environment: {missing} is not set (both {ENV_KEY_NAME} and "
                               f"{ENV_PRIVATE_KEY} are needed)")
    return parse_credentials(name, pem, "environment")
