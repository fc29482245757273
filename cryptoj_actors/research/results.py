"""A sweep's files: every replay as a row of ``trials.csv`` (and
``trials.parquet`` when pyarrow is there), and ``objective.html``, the
objective over each parameter (plotly, self-contained, offline)."""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cryptoj_actors.research.sweep import Row
from cryptoj_actors.research.trial import TrialResult
from cryptoj_actors.state.files import write_atomic

#: The result columns, after fold, sample, trial, the parameters and the objective.
RESULT_COLUMNS = ("status", "sharpe", "sortino", "calmar", "total_return", "max_drawdown",
                  "trades", "fees", "end_equity", "seconds")


def table(rows: Sequence[Row], parameters: Sequence[str], objective: str) -> list[dict]:
    """The rows as flat records (one column per parameter; ``in_sample``:
    an out-of-sample row's in-sample objective)."""
    records = []
    for row in rows:
        record: dict = {"fold": row.fold, "sample": row.sample, "trial": row.trial}
        record.update({name: row.params.get(name) for name in parameters})
        record[objective] = row.value
        record["in_sample"] = row.in_sample
        result: TrialResult | None = row.result
        for column in RESULT_COLUMNS:
            record[column] = getattr(result, column) if result is not None else None
        record["reused"] = row.reused
        record["error"] = row.error
        records.append(record)
    return records


def write_tables(folder: Path, records: list[dict]) -> list[Path]:
    """``trials.csv`` (and ``trials.parquet`` with pyarrow), written atomically."""
    if not records:
        return []
    path = folder / "trials.csv"
    lines: list[str] = []

    class _Lines:
        def write(self, text: str) -> None:
            lines.append(text)

    out = csv.DictWriter(_Lines(), fieldnames=list(records[0]), lineterminator="\n")
    out.writeheader()
    out.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    write_atomic(path, "".join(lines))
    written = [path]
    if importlib.util.find_spec("pyarrow") is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = folder / "trials.parquet"
        pq.write_table(pa.Table.from_pylist(records), parquet)
        written.append(parquet)
    return written


def write_plot(folder: Path, records: list[dict], parameters: Sequence[str],
               objective: str) -> Path:
    """``objective.html``: the in-sample objective of every trial over each
    parameter, a panel a parameter, a colour a fold."""
    figure = make_subplots(rows=1, cols=len(parameters), shared_yaxes=True,
                           subplot_titles=list(parameters))
    folds = sorted({r["fold"] for r in records})
    palette = plotly.colors.qualitative.Plotly  # one colour a fold, the same in every panel
    for fold in folds:
        tried = [r for r in records if r["fold"] == fold and r["sample"] == "in"
                 and r[objective] is not None]
        for col, name in enumerate(parameters, start=1):
            figure.add_trace(go.Scatter(
                x=[r[name] for r in tried], y=[r[objective] for r in tried], mode="markers",
                marker={"color": palette[(fold - 1) % len(palette)]}, name=f"fold {fold}", legendgroup=f"fold {fold}", showlegend=col == 1,
                text=[f"trial {r['trial']}" for r in tried]), row=1, col=col)
    figure.update_yaxes(title_text=objective, row=1, col=1)
    figure.update_layout(title=f"{objective} by parameter (in-sample trials)",
                         template="plotly_white", height=420)
    path = folder / "objective.html"
    write_atomic(path, figure.to_html(include_plotlyjs=True, full_html=True))
    return path
