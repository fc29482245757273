"""The one error for recorded market data that cannot be used."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "quoted"]


class DataError(Exception):
    """A recorded-data file cannot be used.

    ``str(err)`` is one line, ``FILE:LINE: problem``, or ``FILE: problem``
    when the problem concerns the whole file (``line`` is then ``None``).
    ``line`` is the 1-based physical line number in the file.
    """

    path: Path
    line: int | None
    problem: str

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        # args mirror __init__ so that the error survives pickling.
        super().__init__(path, line, problem)
        self.path = Path(path)
        self.line = line
        self.problem = problem.replace("\r", "\\r").replace("\n", "\\n")

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.problem}"


def quoted(text: str, limit: int = 80) -> str:
    """``text`` as a problem shows it: quoted, and cut after ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
