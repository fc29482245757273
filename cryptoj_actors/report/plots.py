"""The report's extra figures (matplotlib, headless): positions over time per
product, and monthly returns. The equity and drawdown figure is
:func:`cryptoj_actors.report.files.draw_equity_png`."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

from cryptoj_actors.report.analysis import Mark, parse_time
from cryptoj_actors.state.files import save_png


def _figure(height: float):  # noqa: ANN202 - matplotlib's Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def write_positions_png(path: Path, marks: list[Mark], title: str,
                        limit: float | None = None) -> None:
    """Each product's weight (percent of equity) over time, one panel per
    product, with the position limit (a fraction) as a dashed line."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    products = sorted(marks[0].weights) if marks else []
    fig = _figure(1.0 + 2.0 * max(1, len(products)))
    axes = fig.subplots(max(1, len(products)), 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(title)
    times = [parse_time(m.time) for m in marks]
    for ax, product, color in zip(axes, products, ("tab:blue", "tab:orange", "tab:green",
                                                   "tab:purple", "tab:brown") * 4):
        weights = [float(m.weights[product]) * 100 for m in marks]
        ax.fill_between(times, weights, 0.0, color=color, alpha=0.6, linewidth=0)
        if limit is not None:
            ax.axhline(limit * 100, color="black", linestyle="--", linewidth=0.8)
        ax.set_ylabel(f"{product}\n% of equity")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    if marks:
        locator = AutoDateLocator(tz=timezone.utc)
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=timezone.utc))
    axes[-1].set_xlabel("Time (UTC)")
    fig.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=0.08, hspace=0.12)
    save_png(fig, path)


def write_monthly_png(path: Path, monthly: list[tuple[str, float]], title: str) -> None:
    """Monthly returns (percent) as bars, green up, red down, labelled."""
    fig = _figure(5.0)
    ax = fig.subplots()
    fig.suptitle(title)
    labels = [label for label, _ in monthly]
    values = [value * 100 for _, value in monthly]
    colors = ["tab:green" if v >= 0 else "tab:red" for v in values]
    ax.bar(range(len(values)), values, color=colors)
    ax.axhline(0, color="black", linewidth=0.8)
    step = max(1, len(labels) // 14)
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
    ax.set_ylabel("Return (%)")
    ax.grid(True, axis="y", alpha=0.3)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.2)
    save_png(fig, path)
