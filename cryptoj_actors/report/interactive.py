"""The interactive figures of ``report RUN_DIR --html``, drawn with plotly
and embedded with plotly.js itself, so that the page works offline: each
product's price with the run's entries and exits, equity beside buy-and-hold
of the same products and its drawdown, the weights against the position
limit, and the monthly returns as a heatmap; and a trade list that sorts by
any column.

Values are floats here: these are pictures of the exact figures the tables
and files hold.
"""

from __future__ import annotations

import html
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from cryptoj_actors.report.analysis import Mark, Trade, buy_and_hold

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BUY, SELL = "#0a7d38", "#c0162b"
LAYOUT = {"template": "plotly_white", "margin": {"t": 40, "r": 20, "b": 40, "l": 70},
          "legend": {"orientation": "h", "y": -0.12}, "hovermode": "x unified"}

#: Sorts the trade list by the clicked column: numbers by value, text as text.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach((th, col) => {
  th.addEventListener("click", () => {
    const body = th.closest("table").tBodies[0];
    const down = th.dataset.dir !== "asc";
    th.closest("tr").querySelectorAll("th").forEach((h) => delete h.dataset.dir);
    th.dataset.dir = down ? "asc" : "desc";
    const key = (row) => row.cells[col].dataset.sort ?? row.cells[col].textContent;
    const rows = Array.from(body.rows);
    const numeric = rows.every((r) => key(r) === "" || !isNaN(Number(key(r))));
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return down ? order : -order;
    });
    body.append(...rows);
  });
});
"""


def plotly_script() -> str:
    """plotly.js, the copy the plotly package ships, for the page's head."""
    return f"<script>{get_plotlyjs()}</script>"


def _div(fig: go.Figure, div_id: str) -> str:
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def prices_figure(marks: list[Mark], trades: list[Trade]) -> str:
    """One panel per product: its mark price, buys (up) and sells (down)."""
    products = sorted(marks[0].weights) if marks else []
    fig = make_subplots(rows=max(1, len(products)), cols=1, shared_xaxes=True,
                        subplot_titles=products, vertical_spacing=0.06)
    for row, product in enumerate(products, start=1):
        priced = [m for m in marks if product in m.prices]
        fig.add_trace(go.Scatter(x=[m.time for m in priced],
                                 y=[float(m.prices[product]) for m in priced],
                                 name=f"{product} price", mode="lines",
                                 line={"color": "#1f5fbf", "width": 1}), row=row, col=1)
        for side, color, symbol in (("BUY", BUY, "triangle-up"), ("SELL", SELL, "triangle-down")):
            fills = [t for t in trades if t.product_id == product and t.side == side]
            fig.add_trace(go.Scatter(
                x=[t.time for t in fills], y=[float(t.price) for t in fills],
                name=f"{product} {'entries' if side == 'BUY' else 'exits'}", mode="markers",
                marker={"color": color, "symbol": symbol, "size": 8},
                text=[f"{t.side} {t.base_size} at {t.price}, {t.reason}, realized PnL "
                      f"{t.realized_pnl}" for t in fills], hoverinfo="text+x"), row=row, col=1)
    fig.update_layout(**LAYOUT, height=260 * max(1, len(products)) + 60)
    return _div(fig, "prices")


def equity_figure(marks: list[Mark], start_equity: Decimal) -> str:
    """Equity beside buy-and-hold of the run's products, and the drawdown."""
    times = [m.time for m in marks]
    equity = [float(m.equity) for m in marks]
    benchmark = [None if v is None else float(v) for v in buy_and_hold(marks, start_equity)]
    peak, drawdown = float("-inf"), []
    for value in equity:
        peak = max(peak, value)
        drawdown.append(100 * (value / peak - 1) if peak > 0 else 0.0)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.05)
    fig.add_trace(go.Scatter(x=times, y=equity, name="equity (quote)", mode="lines",
                             line={"color": "#1f5fbf"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=times, y=benchmark, name="buy and hold, equal parts (quote)",
                             mode="lines", line={"color": "#667085", "dash": "dash"}),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=times, y=drawdown, name="drawdown (%)", mode="lines",
                             fill="tozeroy", line={"color": SELL}), row=2, col=1)
    fig.update_layout(**LAYOUT, height=560)
    fig.update_yaxes(title_text="quote (log scale)", type="log", tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return _div(fig, "equity")


def weights_figure(marks: list[Mark], limit: float) -> str:
    """Each product's weight (position notional / equity) and the limit."""
    times = [m.time for m in marks]
    fig = go.Figure()
    for product in sorted(marks[0].weights) if marks else []:
        fig.add_trace(go.Scatter(x=times, y=[100 * float(m.weights[product]) for m in marks],
                                 name=product, mode="lines", line={"width": 1}))
    fig.add_hline(y=100 * limit, line={"color": SELL, "dash": "dash"},
                  annotation_text=f"limit {limit:.0%}")
    fig.update_layout(**LAYOUT, height=360, yaxis_title="weight, % of equity")
    return _div(fig, "weights")


def monthly_figure(grid: dict[int, dict[int, float]]) -> str:
    """The monthly returns, years by months, green up and red down."""
    years = sorted(grid)
    z = [[100 * grid[y][m] if m in grid[y] else None for m in range(1, 13)] for y in years]
    text = [["" if v is None else f"{v:.1f}%" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=list(MONTHS), y=[str(y) for y in years], text=text,
                               texttemplate="%{text}", colorscale="RdYlGn", zmid=0,
                               colorbar={"title": "%"}, hoverongaps=False))
    fig.update_layout(**LAYOUT, height=120 + 50 * len(years), yaxis={"autorange": "reversed"})
    return _div(fig, "monthly")


TRADE_COLUMNS = ("time", "product", "side", "base size", "price", "fee", "realized PnL",
                 "reason")


def trades_table(trades: list[Trade]) -> str:
    """Every fill, sortable by clicking a column's heading."""
    head = "".join(f'<th title="sort">{html.escape(c)}</th>' for c in TRADE_COLUMNS)
    rows = []
    for t in trades:
        cells = (t.time, t.product_id, t.side, t.base_size, t.price, t.fee, t.realized_pnl,
                 t.reason)
        rows.append("<tr>" + "".join(
            f'<td data-sort="{html.escape(str(v))}">{html.escape(str(v))}</td>'
            for v in cells) + "</tr>")
    return (f'<table class="sortable" id="trades"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table><script>{SORT_SCRIPT}</script>")
