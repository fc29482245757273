"""The package's shape: every module imports only from its own layer or the
layers below it, and no module grows past a size one can read in a sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cryptoj_actors"

#: Lowest first. A module belongs to the longest prefix that names it; a
#: module may import from its own layer and any layer below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cryptoj_actors", "model", "money", "clock", "ids", "backoff"),  # values and units
    ("messages", "config", "config_fields", "state"),              # envelopes, settings, files
    ("marketdata", "strategy", "risk", "portfolio", "execution",   # the domain objects
     "health", "supervision", "report", "alerts"),
    ("adapters",),                                                 # venues
    ("runtime",),                                                  # what one system's actors share
    ("admin",),                                                    # the operator interface's parts
    ("actors",),                                                   # thin shells
    ("system", "ui"),                                              # the assembled system
    ("research",),                                                 # sweeps of whole replays
    ("cli", "__main__"),                                           # the command line
)
MAX_LINES = 500


def _layer(module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else parts[0]
    for rank, names in enumerate(LAYERS):
        if name in names:
            return rank
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m.split(".")[0] == "cryptoj_actors"}


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_module_imports_from_a_layer_above_its_own(module, path):
    above = sorted(m for m in _imports(path) if _layer(m) > _layer(module))
    assert not above, f"{module} (layer {_layer(module)}) imports {above}"


def test_no_module_is_over_the_size_limit():
    long = {module: n for module, path in _modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"
