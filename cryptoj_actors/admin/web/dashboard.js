// The dashboard: renders each dashboard document the server pushes on
// /events (Server-Sent Events), and posts halt and resume with the page's
// CSRF token. Text from the server goes in through textContent only.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
let lastUpdate = 0;
let chartReady = false;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child ?? "–"));
  }
  return node;
}

function table(id, head, rows, empty) {
  const t = $(id);
  t.replaceChildren(el("tr", {}, ...head.map((h) => el("th", {}, h))));
  if (!rows.length) {
    t.append(el("tr", {}, el("td", { colspan: head.length, class: "muted" }, empty || "none")));
  }
  for (const row of rows) t.append(row);
}

// Money arrives as exact decimal text; shown rounded, for reading only.
function money(text, digits = 2) {
  if (text === null || text === undefined) return "–";
  const n = Number(text);
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function signed(node, text) {
  node.textContent = money(text);
  node.className = "big " + (Number(text) > 0 ? "pos" : Number(text) < 0 ? "neg" : "");
}
const pct = (x, digits = 1) => (x === null || x === undefined ? "–" : (100 * x).toFixed(digits) + " %");
const secs = (s) => (s === null || s === undefined ? "–" : s < 1 ? (1000 * s).toFixed(1) + " ms"
  : s < 120 ? s.toFixed(1) + " s" : s < 7200 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h");
// "2026-12-03T07:34:38.614442931Z" -> "2026-12-03 07:34:38.614" (UTC)
const when = (iso) => iso.replace("T", " ").replace("Z", "").replace(/(\.\d{3})\d+$/, "$1");
const td = (text, cls) => el("td", cls ? { class: cls } : {}, text);
const num = (text) => td(text, "num");

function header(doc) {
  const trading = doc.run.trading;
  const banner = $("trading");
  banner.textContent = trading === "LIVE" ? "LIVE · REAL MONEY" : "PAPER";
  banner.className = "banner " + trading.toLowerCase();
  const state = doc.trading_state;
  const level = state ? state.level : "STARTING";
  $("trading-state").textContent = level;
  $("trading-state").className = "state " + level;
  const reason = state ? `${state.reason} (since ${when(state.since)} UTC)` : "";
  $("state-reason").textContent = doc.halt.set ? `halt switch: ${doc.halt.reason}` : reason;
  $("run").textContent = `run ${doc.run.run_id} · ${doc.run.mode} market data · venue ${doc.run.venue}`;
}

function cards(doc) {
  const p = doc.portfolio;
  if (p) {
    $("equity").textContent = money(p.equity);
    signed($("today-pnl"), p.today_pnl);
    const net = Number(p.realized_pnl) + Number(p.unrealized_pnl) - Number(p.fees);
    signed($("total-pnl"), String(net));
    $("fees").textContent = money(p.fees);
  }
  const perf = doc.performance;
  if (perf) {
    $("max-drawdown").textContent = pct(perf.max_drawdown);
    $("sharpe").textContent = perf.sharpe === null ? "–" : Number(perf.sharpe).toFixed(2);
  }
}

function chart(doc) {
  if (typeof Plotly === "undefined" || !doc.equity_curve.length) return;
  const t = doc.equity_curve.map((p) => p.t);
  const data = [
    { x: t, y: doc.equity_curve.map((p) => p.equity), name: "equity (quote)", type: "scatter",
      mode: "lines", line: { color: "#1f5fbf" } },
    { x: t, y: doc.equity_curve.map((p) => -100 * p.drawdown), name: "drawdown (%)", type: "scatter",
      mode: "lines", fill: "tozeroy", line: { color: "#c0162b" }, yaxis: "y2" },
  ];
  const layout = {
    margin: { t: 10, r: 10, b: 30, l: 70 }, showlegend: true, legend: { orientation: "h" },
    yaxis: { domain: [0.35, 1], title: "equity" }, yaxis2: { domain: [0, 0.28], title: "drawdown %" },
    xaxis: { anchor: "y2" },
  };
  if (!chartReady) {
    Plotly.newPlot("chart", data, layout, { displaylogo: false, responsive: true });
    chartReady = true;
  } else {
    Plotly.react("chart", data, layout);
  }
}

function positions(doc) {
  const p = doc.portfolio;
  const limit = Number(doc.limits.max_position_fraction);
  const rows = (p ? p.positions : []).map((x) => {
    const weight = x.weight === null ? 0 : Number(x.weight);
    const fill = el("span", { class: weight > limit ? "over" : "" });
    fill.style.width = Math.min(100, (100 * weight) / limit).toFixed(1) + "%";
    return el("tr", { "data-product": x.product_id }, td(x.product_id), num(x.base_size),
      num(money(x.mark_price)), num(money(x.avg_entry_price)), num(money(x.unrealized_pnl)),
      el("td", {}, el("div", { class: "bar", title: `${pct(weight)} of ${pct(limit)}` }, fill),
        `${pct(weight)} / ${pct(limit)}`));
  });
  table("positions", ["product", "base size", "mark", "entry", "unrealized PnL", "weight / limit"],
    rows, "flat");
  table("open-orders", ["client order id", "product", "side", "held"],
    doc.open_orders.map((o) => el("tr", {}, td(o.client_order_id), td(o.product_id), td(o.side),
      num(o.side === "BUY" ? money(o.held_quote) + " quote" : o.held_base + " base"))));
  table("fills", ["time (UTC)", "product", "side", "base size", "price", "fee", "realized PnL", "reason"],
    doc.recent_fills.slice(0, 10).map((f) => el("tr", {}, td(when(f.time)), td(f.product_id), td(f.side),
      num(f.base_size), num(money(f.price)), num(money(f.fee, 4)), num(money(f.realized_pnl)),
      td(f.reason))));
  table("orders", ["final status", "orders"],
    Object.entries(doc.orders.by_final_status).map(([k, v]) => el("tr", {}, td(k), num(v))));
  table("denials", ["stage", "reason", "orders"],
    doc.orders.denials.map((d) => el("tr", {}, td(d.stage), td(d.reason), num(d.count))));
}

function actors(doc) {
  const errors = {};
  for (const [key, count] of Object.entries(doc.errors)) {
    const role = key.split(".")[0];
    errors[role] = (errors[role] || 0) + count;
  }
  table("actors", ["role", "alive", "generation", "restarts", "mailbox", "errors"],
    Object.entries(doc.actors).map(([role, a]) => el("tr", { "data-role": role }, td(role),
      td(a.alive ? "alive" : "down", a.alive ? "ok" : "bad"), num(a.generation), num(a.restarts),
      num(a.mailbox), num(errors[role] || 0))));
  const h = doc.health;
  const cls = { OK: "ok", DEGRADED: "warn", CRITICAL: "bad" };
  $("health").replaceChildren(h ? el("span", { class: cls[h.level] }, h.level) : "no sample yet");
  $("health-checks").replaceChildren(...(h ? h.checks : []).map((c) => el("li", {}, c)));
}

function feed(doc) {
  const f = doc.feed;
  const messages = Object.values(f.messages).reduce((a, b) => a + b, 0);
  const events = Object.entries(f.events).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const reconnects = Object.entries(f.reconnects).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const rows = [
    ["state", f.state], ["up for", secs(f.up_for_s)],
    ["availability, last hour", pct(f.availability["1h"], 2)],
    ["availability, last day", pct(f.availability["1d"], 2)],
    ["lag", secs(f.lag_s)], ["messages", messages.toLocaleString("en-US")],
    ["connections", f.connections], ["events", events], ["reconnects", reconnects],
    ["user channel", doc.user_channel.state],
    ["tick to order, mean", secs(doc.latency.tick_to_order.mean_s)],
  ];
  table("feed", ["", ""], rows.map(([k, v]) => el("tr", {}, td(k, "muted"), td(String(v)))));
  table("feed-history", ["time", "state"],
    f.history.slice().reverse().map((c) => el("tr", {}, td(when(c.at)), td(c.state))),
    "none (replay)");
  const w = doc.warmup;
  const wrows = w ? [["ready", w.ready ? "yes" : "no"], ["bars", `${w.have_bars} of ${w.needed_bars}`],
    ["source", w.source], ["trading from", w.trading_from], ["problem", w.problem || "none"]]
    : [["warm-up", doc.run.mode === "replay" ? "n/a (replay)" : "not yet"]];
  table("warmup", ["", ""], wrows.map(([k, v]) => el("tr", {}, td(k, "muted"), td(String(v)))));
}

function render(doc) {
  header(doc);
  cards(doc);
  positions(doc);
  actors(doc);
  feed(doc);
  chart(doc);
  lastUpdate = Date.now();
}

function connect() {
  const source = new EventSource("/events");
  source.onmessage = (event) => render(JSON.parse(event.data));
  source.onerror = () => { $("updated").textContent = "connection lost: retrying"; };
}

setInterval(() => {
  if (lastUpdate) $("updated").textContent = `updated ${((Date.now() - lastUpdate) / 1000).toFixed(1)} s ago`;
}, 500);

// --- controls: each asks for a reason and a confirmation ---------------------
let pending = null;
const ACTIONS = {
  "halt": { path: "/halt", title: "Halt trading", text: "No order will be sent until a resume.", unwind: false },
  "halt-unwind": { path: "/halt", title: "Halt and unwind",
    text: "Trading halts and every position is closed at the market.", unwind: true },
  "resume": { path: "/resume", title: "Resume trading", text: "Orders will be sent again." },
};
for (const [id, action] of Object.entries(ACTIONS)) {
  $(id).addEventListener("click", () => {
    pending = action;
    $("confirm-title").textContent = action.title;
    $("confirm-text").textContent = action.text;
    $("confirm-reason").value = "";
    $("confirm").showModal();
  });
}
$("confirm").addEventListener("close", async () => {
  const action = pending;
  pending = null;
  if ($("confirm").returnValue !== "ok" || !action) return;
  const body = { reason: $("confirm-reason").value };
  if (action.path === "/halt") body.unwind = action.unwind;
  const answer = await fetch(action.path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
  });
  const reply = await answer.json().catch(() => ({}));
  $("action-result").textContent = answer.ok
    ? `${action.title}: done (${answer.status})` : `${action.title}: refused: ${reply.error || answer.status}`;
  $("action-result").className = answer.ok ? "ok" : "bad";
});

$("logout").addEventListener("click", async () => {
  await fetch("/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  window.location.assign("/login");
});

connect();
