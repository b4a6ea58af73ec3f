// The operations console. No framework, no CDN: every value goes into the page
// through textContent or setAttribute, never as HTML.
"use strict";

const CSRF = (document.querySelector('meta[name="csrf"]') || {}).content || "";
const SVG_NS = "http://www.w3.org/2000/svg";

function $(id) { return document.getElementById(id); }

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.method === "POST") opts.headers["X-CSRF-Token"] = CSRF;
  if (opts.json !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401) { window.location = "/login"; throw new Error("log in"); }
  let body = {};
  try { body = await resp.json(); } catch (e) { body = { error: "HTTP " + resp.status }; }
  if (!resp.ok) throw new Error(body.error || ("HTTP " + resp.status));
  return body;
}

function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows.map((cells) => {
    const tr = el("tr");
    cells.forEach((c) => tr.appendChild(el("td", c)));
    return tr;
  }));
}

function pct(x) { return (100 * (x || 0)).toFixed(1) + "%"; }

// A bar/line chart as SVG: series of equal length, optional marked indexes.
function chart(container, series, labels, marked) {
  const w = 960, h = 220, pad = 28;
  const n = labels.length;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", class: "chartsvg" });
  const x = (i) => pad + (i * (w - 2 * pad)) / n;
  const y = (v) => h - pad - (v * (h - 2 * pad)) / max;
  root.appendChild(svg("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" }));
  const axisLabel = svg("text", { x: 2, y: pad, class: "tick" });
  axisLabel.textContent = String(max);
  root.appendChild(axisLabel);
  const step = Math.max(1, Math.ceil(n / 12));
  labels.forEach((label, i) => {
    if (i % step) return;
    const t = svg("text", { x: x(i), y: h - 8, class: "tick" });
    t.textContent = label;
    root.appendChild(t);
  });
  series.forEach((s, si) => {
    const bw = (w - 2 * pad) / n / series.length;
    s.values.forEach((v, i) => {
      const cls = s.cls + ((marked || []).includes(i) ? " marked" : "");
      const top = y(v);
      const r = svg("rect", { x: x(i) + si * bw, y: top, width: Math.max(1, bw - 1),
        height: h - pad - top, class: cls });
      const tip = svg("title");
      tip.textContent = `${labels[i]}: ${v}`;
      r.appendChild(tip);
      root.appendChild(r);
    });
  });
  container.replaceChildren(root);
}

function slotLabels() {
  const out = [];
  for (let i = 0; i < 96; i++) {
    out.push(String(Math.floor(i / 4)).padStart(2, "0") + ":" + String((i % 4) * 15).padStart(2, "0"));
  }
  return out;
}

// --- Now -------------------------------------------------------------------------

function describeControls(c) {
  const out = [];
  if (c.announcement) {
    const a = c.announcement;
    out.push(`紧急公告 Announcement: ${a.text || a.prompt} (${a.lines.length ? a.lines.join(",") : "全部 all"}, 至 until ${a.expires_at})`);
  }
  if (c.escalation) {
    const e = c.escalation;
    out.push(`强制级别 Forced level ${e.level}: ${e.reason} (至 until ${e.until})`);
  }
  for (const s of c.splits) {
    out.push(`A/B ${s.line}: A=${s.flow_a} B=${s.flow_b} (B ${pct(s.share)})`);
  }
  return out;
}

let controlsSeen = "";

function renderState(state) {
  const live = state.live;
  $("live-total").textContent = live.total;
  const qs = Object.values(state.queues);
  $("q-waiting").textContent = qs.reduce((a, q) => a + q.waiting, 0);
  $("q-hold").textContent = Math.max(0, ...qs.map((q) => q.longest_hold_s)) + " s";
  $("q-free").textContent = qs.reduce((a, q) => a + q.free, 0);
  $("shed-level").textContent = state.shedding.level;
  $("shed-rule").textContent = state.shedding.rule || "-";
  const t = state.today || {};
  $("t-calls").textContent = t.calls ?? "-";
  $("t-self").textContent = t.error ? "-" : pct(t.self_service_share);
  $("t-transfer").textContent = t.error ? "-" : pct(t.transfer_share);
  $("t-abandoned").textContent = t.abandoned_in_queue ?? "-";
  $("t-callbacks").textContent = `${t.callbacks_requested ?? "-"} / ${t.callbacks_made ?? "-"}`;
  fillTable("by-line", Object.entries(live.by_line));
  fillTable("by-node", Object.entries(live.by_node));
  fillTable("calls", live.calls.map((c) => [c.id, c.line, c.node || "-", c.seconds]));
  fillTable("queues", Object.entries(state.queues).map(([n, q]) => [n, q.waiting, q.longest_hold_s, q.free]));
  const notices = describeControls(state.controls);
  $("active-controls").replaceChildren(...notices.map((n) => el("p", n)));
  if (t.quarter_hours) {
    chart($("chart"), [
      { values: t.quarter_hours.last_week, cls: "week" },
      { values: t.quarter_hours.today, cls: "today" },
    ], slotLabels());
  }
  const seen = JSON.stringify(state.controls);
  if (seen !== controlsSeen) { controlsSeen = seen; loadAudit(); }
}

async function loadAudit() {
  try {
    const body = await api("/api/controls");
    fillTable("audit", body.audit.map((a) => [a.at, a.who, `${a.action} ${a.kind} ${a.scope}`,
      a.before ? JSON.stringify(a.before) : "-", a.after ? JSON.stringify(a.after) : "-"]));
  } catch (e) { /* shown by the next change */ }
}

function formBody(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) if (typeof v === "string") out[k] = v;
  return out;
}

async function control(path, options) {
  $("control-error").textContent = "";
  try {
    const body = await api(path, Object.assign({ method: "POST" }, options));
    renderControlsNow(body.controls);
    return body;
  } catch (e) {
    $("control-error").textContent = e.message;
    return null;
  }
}

function renderControlsNow(c) {
  $("active-controls").replaceChildren(...describeControls(c).map((n) => el("p", n)));
  loadAudit();
}

function fillSelect(id, values) {
  $(id).replaceChildren(...values.map((v) => el("option", v, { value: v })));
}

async function initNow() {
  const flows = await api("/api/flows");
  const lines = [...new Set(flows.flows.flatMap((f) => f.numbers))].sort();
  const ids = flows.flows.map((f) => f.id);
  fillSelect("ab-line", lines);
  fillSelect("ab-flow-a", ids);
  fillSelect("ab-flow-b", ids);
  if (ids.length > 1) $("ab-flow-b").value = ids[1];

  $("f-announce").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const file = form.querySelector('input[type="file"]');
    if (file.files.length) control("/api/announcement", { body: new FormData(form) });
    else {
      const b = formBody(form);
      control("/api/announcement", { json: { text: b.text, lines: b.lines, minutes: b.minutes, language: b.language } });
    }
  });
  $("announce-clear").addEventListener("click", () => control("/api/announcement/clear", { json: {} }));
  $("f-escalate").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const b = formBody(ev.target);
    control("/api/escalation", { json: { level: Number(b.level), minutes: b.minutes, reason: b.reason } });
  });
  $("escalate-clear").addEventListener("click", () => control("/api/escalation/clear", { json: {} }));
  $("f-ab").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const b = formBody(ev.target);
    control("/api/ab", { json: { line: b.line, flow_a: b.flow_a, flow_b: b.flow_b, share: Number(b.share) } });
  });
  $("ab-clear").addEventListener("click", () => control("/api/ab/clear", { json: { line: $("ab-line").value } }));

  const source = new EventSource("/api/events");
  source.addEventListener("state", (ev) => {
    $("feed-status").textContent = "实时 Live · " + new Date().toLocaleTimeString();
    $("feed-status").dataset.live = "1";
    renderState(JSON.parse(ev.data));
  });
  source.onerror = () => { $("feed-status").textContent = "重新连接中 Reconnecting…"; };
  loadAudit();
}

// --- Flows -----------------------------------------------------------------------

function safeSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  root.querySelectorAll("script, foreignObject, a").forEach((n) => n.remove());
  root.querySelectorAll("*").forEach((n) => {
    for (const attr of [...n.attributes]) if (/^on/i.test(attr.name)) n.removeAttribute(attr.name);
  });
  return document.importNode(root, true);
}

function showNode(id, data) {
  const t = data.traffic[id] || { visits: 0, hangups: 0, agent_requests: 0 };
  const box = $("node-detail");
  box.replaceChildren(el("h3", `节点 Node: ${id}`),
    el("p", `访问 visits ${t.visits} · 挂机 hung up ${t.hangups} · 转人工 agent ${t.agent_requests}`),
    el("pre", JSON.stringify(data.nodes[id], null, 2)));
}

let flowShown = 0; // only the latest request draws (a quick change of flow races the first)

async function showFlow() {
  const mine = ++flowShown;
  const id = $("flow-select").value;
  const q = new URLSearchParams({ from: $("flow-from").value, to: $("flow-to").value });
  const data = await api(`/api/flows/${encodeURIComponent(id)}?${q}`);
  if (mine !== flowShown) return;
  const graph = safeSvg(data.svg);
  graph.removeAttribute("width");
  graph.removeAttribute("height");
  $("graph").replaceChildren(graph);
  const max = Math.max(1, ...Object.values(data.traffic).map((t) => t.visits));
  graph.querySelectorAll("g.node").forEach((g) => {
    const title = g.querySelector("title");
    const nid = title ? title.textContent : "";
    const t = data.traffic[nid] || { visits: 0, hangups: 0, agent_requests: 0 };
    g.dataset.node = nid;
    const shape = g.querySelector("polygon, ellipse, path");
    if (shape && t.visits) shape.setAttribute("fill", `rgba(220, 80, 40, ${0.15 + 0.6 * t.visits / max})`);
    const box = g.getBBox();
    const label = svg("text", { x: box.x + box.width / 2, y: box.y + box.height + 11, class: "traffic" });
    label.textContent = `${t.visits} · ${t.hangups} · ${t.agent_requests}`;
    g.appendChild(label);
    g.addEventListener("click", () => showNode(nid, data));
  });
  fillTable("traffic", Object.entries(data.traffic).sort((a, b) => b[1].visits - a[1].visits)
    .map(([n, t]) => [n, t.visits, t.hangups, t.agent_requests]));
  const v = await api(`/api/variants?${q}`);
  if (mine !== flowShown) return;
  fillTable("variants", v.variants.map((r) => [r.variant, r.calls,
    `${pct(r.self_service_share)} (${r.self_service}/${r.calls})`,
    `${pct(r.transfer_share)} (${r.transferred}/${r.calls})`,
    r.avg_ivr_s === null ? "-" : `${r.avg_ivr_s} s (n=${r.timed_calls})`]));
}

async function initFlows() {
  const flows = await api("/api/flows");
  // The hotline's today, not the browser's: journeys' days are in its time zone.
  const today = new Date(flows.today + "T00:00:00Z");
  const week = new Date(today.getTime() - 6 * 86400000);
  $("flow-to").value = flows.today;
  $("flow-from").value = week.toISOString().slice(0, 10);
  fillSelect("flow-select", flows.flows.map((f) => f.id));
  $("flow-show").addEventListener("click", showFlow);
  $("flow-select").addEventListener("change", showFlow);
  $("flow-reload").addEventListener("click", async () => {
    $("reload-errors").replaceChildren();
    try {
      const body = await api("/api/flows/reload", { method: "POST", json: {} });
      const r = body.result;
      $("reload-result").textContent = r.ok ? `已重载 Reloaded: ${r.version}` : `拒绝 Refused, keeping ${r.version}`;
      $("reload-errors").replaceChildren(...(r.errors || []).map((e) => el("li", e)));
    } catch (e) { $("reload-result").textContent = e.message; }
  });
  if (flows.flows.length) await showFlow();
}

// --- Month -----------------------------------------------------------------------

async function showMonth() {
  const picked = $("month-pick").value;
  const data = await api(picked ? `/api/month?month=${encodeURIComponent(picked)}` : "/api/month");
  $("month-pick").value = data.month;
  $("m-calls").textContent = data.calls;
  $("m-fluct").textContent = data.fluctuation;
  const labels = data.days.map((d) => d.day.slice(8));
  const marked = data.days.map((d, i) => (data.peaks.includes(d.day) ? i : -1)).filter((i) => i >= 0);
  chart($("month-chart"), [{ values: data.days.map((d) => d.calls), cls: "today" }], labels, marked);
  fillTable("month-days", data.days.map((d) => [
    d.day + (data.peaks.includes(d.day) ? " ▲" : ""), d.calls, pct(d.self_service_share),
    pct(d.transfer_share), d.abandoned_in_queue, `${d.callbacks_requested} / ${d.callbacks_made}`]));
}

async function initMonth() {
  $("month-show").addEventListener("click", showMonth);
  await showMonth();
}

const PAGES = { now: initNow, flows: initFlows, month: initMonth };
const page = document.body.dataset.page;
if (PAGES[page]) PAGES[page]().catch((e) => {
  const p = $("control-error") || $("reload-result") || document.querySelector("main");
  if (p) p.appendChild(el("span", e.message, { class: "error" }));
});
