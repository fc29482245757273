"""Files of the state directory: atomic replacement (DESIGN.md section 6:
temp file, fsync, rename, fsync of the directory) and reading JSON records.

A reader, or a process started after a crash at any instant, sees the old
file or the new one, never a torn one. The temporary file has a unique name
in the same directory (``rename`` is atomic only within one file system), so
two writers never share one; it is removed if the write fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: os.PathLike[str] | str, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8).

    Raises:
        OSError: the file or its temporary cannot be written (a full disk,
            no permission); ``path`` is then left as it was, no temporary
            stays behind, and the error's ``filename`` is ``path``.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _named(exc, target) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_directory(target.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _named(exc, target) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_png(figure: Any, path: os.PathLike[str] | str) -> None:
    """A matplotlib figure written as a PNG through :func:`write_atomic`."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` with the file it concerns: ``[Errno 28] ...: 'var/x.json'``."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def _fsync_directory(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_object(path: Path, what: str) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is no such file.

    Raises:
        ValueError: the file cannot be read, is not JSON, or not an object;
            the message names the file and says it is not a ``what``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: unreadable: {exc}") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: not a {what} ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a {what} (not a JSON object)")
    return record


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex (read in 1 MiB chunks).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OnceOnFailure(logging.Handler):
    """Mixed into a file handler (``class H(OnceOnFailure, FileHandler)``):
    when its file cannot be written (a full disk), it says so in one line on
    standard error and stops trying, instead of printing a traceback for
    every later record."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - the stdlib's name
        error = sys.exc_info()[1]
        self.failed = True
        name = getattr(self, "baseFilename", "a log file")
        print(f"warning: cannot write {name}: "
              f"{getattr(error, 'strerror', None) or error}; its later lines are lost",
              file=sys.stderr)
