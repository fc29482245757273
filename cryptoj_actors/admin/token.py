"""The admin interface's bearer token: a random secret in a file only its
owner can read (mode 0600), created on first use."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class TokenError(Exception):
    """The token file is unusable; the message names the file and the fix."""


def load_or_create_token(path: Path) -> str:
    """The token in ``path``, created (mode 0600, 256 random bits) if missing.

    Raises:
        TokenError: the file is readable or writable by group or others, is
            empty, or cannot be read or created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise TokenError(f"{path}: cannot create the admin token: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise TokenError(f"{path}: the admin token must be readable by its owner only "
                             f"(mode {mode:04o}; run: chmod 600 {path})")
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"{path}: cannot read the admin token: {exc}") from None
    if not token:
        raise TokenError(f"{path}: the admin token file is empty (delete it to get a new one)")
    return token
