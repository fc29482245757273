"""One self-contained HTML page for a finished run: the metrics, the
breakdowns and the figures (interactive, with plotly.js in the page's
head), nothing to fetch."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.neg { color: #b00; } .pos { color: #070; }
img { max-width: 100%; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[data-dir="asc"]::after { content: " \\25B2"; }
table.sortable th[data-dir="desc"]::after { content: " \\25BC"; }
#trades-box { max-height: 600px; overflow: auto; }
"""


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    text = html.escape(str(value))
    if isinstance(value, str) and value.endswith("%") and value.startswith("-"):
        return f'<span class="neg">{text}</span>'
    return text


def flat(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested mapping as ``(dotted key, value)`` rows, for a parameters table."""
    if isinstance(value, Mapping):
        return [row for key, item in value.items()
                for row in flat(item, f"{prefix}.{key}" if prefix else str(key))]
    return [(prefix, str(value))]


def page(title: str, sections: Mapping[str, str], head: str = "") -> str:
    """``sections``: heading -> HTML body; ``head``: more of the page's head."""
    parts = [f"<h2>{html.escape(name)}</h2>\n{body}" for name, body in sections.items()]
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>{head}</head>"
            f"<body><h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n")
