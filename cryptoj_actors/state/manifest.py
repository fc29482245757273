"""A replay's manifest (``run.json`` in its run directory): what
``replay --resume`` needs to run the same replay again after the process was
killed: the run id, the input files and the config file (each with its
SHA-256, so that a changed input refuses the resume), the state directory
and the credit window.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptoj_actors.state.files import read_json_object, sha256_file, write_atomic
from cryptoj_actors.state.layout import RunDir


class ManifestError(ValueError):
    """The manifest is missing or unreadable, or an input changed since; the
    message says which file and why the run cannot be resumed."""


@dataclass(frozen=True, slots=True)
class RunManifest:
    """``files`` are input specs (``FILE`` or ``PRODUCT=FILE``) with absolute
    paths, ``sha256`` their digests in the same order; ``config`` the config
    file's absolute path (None: the defaults); ``credit_window`` as given on
    the command line (None: the config's)."""

    run_id: str
    files: tuple[str, ...]
    sha256: tuple[str, ...]
    config: str | None
    config_sha256: str | None
    state_dir: str
    credit_window: int | None

    @classmethod
    def of(cls, run_id: str, specs: tuple[str, ...], digests: tuple[str, ...],
           config: Path | None, state_dir: Path, credit_window: int | None) -> RunManifest:
        """The manifest of a new run (paths made absolute, the config hashed).

        Raises:
            OSError: the config file cannot be read.
        """
        return cls(run_id=run_id, files=tuple(_absolute(spec) for spec in specs),
                   sha256=digests, config=str(config.resolve()) if config else None,
                   config_sha256=sha256_file(config) if config else None,
                   state_dir=str(state_dir.resolve()), credit_window=credit_window)

    def write(self, run_dir: RunDir) -> None:
        """Raises: OSError: the manifest cannot be written."""
        write_atomic(run_dir.manifest, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: RunDir) -> RunManifest:
        """The manifest of ``run_dir``, its inputs checked unchanged.

        Raises:
            ManifestError: no manifest, a damaged one, or an input or the
                config file missing or changed since the run started.
        """
        try:
            record = read_json_object(run_dir.manifest, "replay manifest")
            if record is None:
                raise ValueError(f"{run_dir.manifest}: no such file")
            manifest = cls(**{**record, "files": tuple(record["files"]),
                              "sha256": tuple(record["sha256"])})
        except (ValueError, TypeError, KeyError) as exc:
            raise ManifestError(f"{run_dir.path}: not a replay run directory ({exc})") from None
        for spec, digest in zip(manifest.files, manifest.sha256, strict=True):
            _unchanged(Path(spec.partition("=")[2] or spec), digest)
        if manifest.config:
            _unchanged(Path(manifest.config), manifest.config_sha256)
        return manifest


def _absolute(spec: str) -> str:
    product, sep, name = spec.partition("=")
    return f"{product}={Path(name).resolve()}" if sep else str(Path(spec).resolve())


def _unchanged(path: Path, digest: str | None) -> None:
    if not path.is_file() or sha256_file(path) != digest:
        raise ManifestError(f"{path}: missing or changed since the run started: cannot resume")
