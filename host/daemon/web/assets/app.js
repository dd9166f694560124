// datasync dashboard: plain JavaScript over the daemon's API. The token is
// kept in sessionStorage (this tab only) and sent as a bearer token.
"use strict";

const tokenKey = "datasync.token";
const $ = (sel) => document.querySelector(sel);
let selected = null; // name of the sync shown in detail
let record = null;   // {side, id} of the record whose history is shown
let timer = null;
// What was last drawn: the page is redrawn only when data changed, so a
// reader's place (and a click in progress) is not lost every few seconds.
const drawn = { syncs: "", detail: "" };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class Unauthorized extends Error {}

async function api(path, method) {
  const res = await fetch(path, { method: method || "GET",
    headers: { Authorization: "Bearer " + sessionStorage.getItem(tokenKey) } });
  if (res.status === 401) throw new Unauthorized("token refused");
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && body.error) || res.statusText);
  return body;
}

// put replaces parent's children, leaving out null ones.
function put(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function when(t) {
  if (!t) return "—";
  const d = new Date(t), s = Math.round((d - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return "just now";
  const rel = abs < 60 ? abs + "s" : abs < 3600 ? Math.round(abs / 60) + "m" : abs < 86400 ? Math.round(abs / 3600) + "h" : Math.round(abs / 86400) + "d";
  return (s >= 0 ? "in " + rel : rel + " ago");
}

function showLogin(message) {
  clearInterval(timer);
  $("#dashboard").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").hidden = !message;
  $("#login-error").textContent = message || "";
  $("#token").focus();
}

async function refresh() {
  try {
    const syncs = await api("/api/v1/syncs");
    $("#login").hidden = true;
    $("#dashboard").hidden = false;
    $("#logout").hidden = false;
    renderSyncs(syncs);
    if (selected) await renderDetail(selected);
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (e instanceof Unauthorized) {
      sessionStorage.removeItem(tokenKey);
      showLogin("The token was refused. Check $DATASYNC_HOME/api.token.");
    } else {
      $("#updated").textContent = "cannot reach the daemon: " + e.message;
    }
  }
}

function statusClass(s) {
  if (s.held) return "held";
  if (s.health.failing > 0 || s.health.errors > 0 || (s.last_run && s.last_run.status === "failed")) return "failing";
  if (s.state === "paused") return "paused";
  return "healthy";
}

async function act(name, action) {
  try {
    await api("/api/v1/syncs/" + encodeURIComponent(name) + "/" + action, "POST");
  } catch (e) {
    alert(action + " " + name + ": " + e.message);
  }
  setTimeout(refresh, 300);
}

function renderSyncs(syncs) {
  const key = JSON.stringify(syncs, (k, v) => (k === "next_run" || k === "finished" ? when(v) : v));
  if (key === drawn.syncs) return;
  drawn.syncs = key;
  const box = $("#syncs");
  box.replaceChildren();
  if (syncs.length === 0) {
    box.append(el("p", { class: "muted" }, "No syncs yet: define one with `datasync sync create` and activate it."));
  }
  for (const s of syncs) {
    const cls = statusClass(s);
    const lr = s.last_run;
    const badges = [el("span", { class: "badge " + s.state }, s.state)];
    if (s.running) badges.push(el("span", { class: "badge running" }, "running"));
    if (s.queued) badges.push(el("span", { class: "badge running" }, "queued"));
    if (s.running_by) badges.push(el("span", { class: "badge running", title: "its lease is held by " + s.running_by }, "running on " + s.running_by));
    if (s.held) badges.push(el("span", { class: "badge held", title: s.held }, "held: " + s.held));
    const pauseBtn = s.state === "active"
      ? el("button", { class: "pause", onclick: () => act(s.name, "pause") }, "Pause")
      : el("button", { class: "resume", onclick: () => act(s.name, "resume") }, "Resume");
    box.append(el("div", { class: "card " + cls, "data-sync": s.name, "data-status": cls },
      el("div", { class: "top" },
        el("button", { class: "name", onclick: () => { selected = s.name; record = null; refresh(); } }, s.name),
        el("span", { class: "muted" }, s.left + " ⇄ " + s.right + " · " + (s.every === "on demand" ? "runs on demand" : "every " + s.every) +
          (s.watched ? ", and on each change to its " + s.watched.join(" and ") + " side" : "")),
        ...badges,
        el("div", { class: "actions" },
          el("button", { class: "run", onclick: () => act(s.name, "run") }, "Run now"),
          pauseBtn,
          el("button", { class: "retry", onclick: () => act(s.name, "retry") }, "Retry failing"))),
      el("div", { class: "stats" },
        el("div", { class: "stat syncing" }, el("b", {}, s.health.syncing), "syncing"),
        el("div", { class: "stat excluded" }, el("b", {}, s.health.excluded), "excluded"),
        el("div", { class: "stat failing" + (s.health.failing === 0 ? " ok" : "") }, el("b", {}, s.health.failing), "failing"),
        el("div", { class: "stat" }, el("b", {}, lr ? when(lr.finished || lr.started) : "—"),
          "last run" + (lr ? " (" + lr.status + ")" : "")),
        el("div", { class: "stat" }, el("b", {}, s.running ? "now" : when(s.next_run)), "next run")),
      s.last_error ? el("p", { class: "error" }, s.last_error) : null));
  }
}

function valueText(v) {
  if (v === null || v === undefined || v === "") return "(empty)";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

async function renderDetail(name) {
  const base = "/api/v1/syncs/" + encodeURIComponent(name);
  const [groups, runs, conflicts] = await Promise.all([api(base + "/errors"), api(base + "/runs?limit=40"), api(base + "/conflicts")]);
  const hist = record ? await api(base + "/records/" + record.side + "/" + encodeURIComponent(record.id) + "/history") : null;
  const key = JSON.stringify([name, groups, runs, conflicts, record, hist]);
  if (key === drawn.detail) return;
  drawn.detail = key;
  const d = $("#detail");
  d.hidden = false;
  put(d, el("h2", {}, name),
    el("h3", {}, "Activity"), chart(runs.slice().reverse()),
    el("h3", {}, "Errors by cause"),
    groups.length === 0 ? el("p", { class: "ok-text no-errors" }, "No failing records.") : null,
    ...groups.map((g) => el("div", { class: "group", "data-category": g.category },
      el("div", {}, el("span", { class: "count" }, g.count), " × ", el("b", {}, g.category)),
      el("p", { class: "hint" }, "Remedy: " + g.hint),
      el("table", {},
        el("tr", {}, el("th", {}, "side"), el("th", {}, "record"), el("th", {}, "field"), el("th", {}, "value"), el("th", {}, "message")),
        ...g.records.map((r) => el("tr", { class: "record" },
          el("td", {}, r.side || "—"),
          el("td", {}, r.record_id ? el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); record = { side: r.side, id: r.record_id }; refresh(); } }, r.record_id) : "(run)"),
          el("td", {}, r.field || ""), el("td", { class: "value" }, r.value || ""), el("td", {}, r.message)))))),
    conflicts.length ? el("h3", {}, "Conflicts waiting (" + conflicts.length + ")") : null,
    conflicts.length ? el("table", {}, el("tr", {}, el("th", {}, "left"), el("th", {}, "right"), el("th", {}, "field"), el("th", {}, "left value"), el("th", {}, "right value")),
      ...conflicts.map((c) => el("tr", {}, el("td", {}, c.left_id), el("td", {}, c.right_id), el("td", {}, c.field),
        el("td", { class: "value" }, valueText(c.left)), el("td", { class: "value" }, valueText(c.right))))) : null,
    el("div", { id: "history" }));
  if (record) drawHistory(record.side, record.id, hist);
}

function drawHistory(side, id, h) {
  const box = $("#history");
  put(box, el("h3", {}, "Record " + side + "/" + id),
    ...h.errors.map((e) => el("p", { class: "error" }, e.category + (e.field ? " (" + e.field + " = " + e.value + ")" : "") + ": " + e.message +
      " · tried " + e.attempts + "×, next " + when(e.next_retry))),
    h.history.length === 0 ? el("p", { class: "muted" }, "Nothing synced for this record yet.") : null,
    el("ul", { class: "history" }, ...h.history.map((x) => el("li", {},
      el("b", {}, x.op), " " + x.direction + " · " + new Date(x.at).toLocaleString(),
      el("ul", {}, ...x.changes.map((c) => el("li", {}, c.field + ": " + valueText(c.old) + " → " + valueText(c.new))))))));
}

// chart draws created/updated/failed per run as stacked bars in inline SVG.
function chart(runs) {
  const ns = "http://www.w3.org/2000/svg";
  const W = 800, H = 160, pad = 24;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H + pad}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "records created, updated and failed per run");
  const data = runs.map((r) => ({ created: r.left.created + r.right.created, updated: r.left.updated + r.right.updated,
    failed: r.errors, at: r.started, status: r.status }));
  const maxV = Math.max(1, ...data.map((d) => d.created + d.updated + d.failed));
  const bw = Math.min(40, (W - pad) / Math.max(1, data.length));
  data.forEach((d, i) => {
    let y = H;
    for (const k of ["created", "updated", "failed"]) {
      const h = (d[k] / maxV) * (H - 10);
      if (h <= 0) continue;
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", pad + i * bw + 2); r.setAttribute("width", Math.max(1, bw - 4));
      r.setAttribute("y", y - h); r.setAttribute("height", h); r.setAttribute("class", "c-" + k);
      const t = document.createElementNS(ns, "title");
      t.textContent = `${new Date(d.at).toLocaleString()}: ${d.created} created, ${d.updated} updated, ${d.failed} failed (${d.status})`;
      r.append(t); svg.append(r); y -= h;
    }
  });
  const axis = document.createElementNS(ns, "line");
  axis.setAttribute("x1", pad); axis.setAttribute("x2", W); axis.setAttribute("y1", H); axis.setAttribute("y2", H);
  axis.setAttribute("stroke", "#e4e7ec"); svg.append(axis);
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 0); label.setAttribute("y", 12); label.setAttribute("font-size", "11"); label.setAttribute("fill", "#667085");
  label.textContent = String(maxV); svg.append(label);
  return el("div", { class: "chart" }, svg,
    el("div", { class: "legend" }, el("span", {}, el("i", { class: "c-created" }), "created"),
      el("span", {}, el("i", { class: "c-updated" }), "updated"), el("span", {}, el("i", { class: "c-failed" }), "failed"),
      el("span", {}, data.length + " runs")));
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(tokenKey, $("#token").value.trim());
    $("#token").value = "";
    refresh().then(() => { clearInterval(timer); timer = setInterval(refresh, 3000); });
  });
  $("#logout").addEventListener("click", () => { sessionStorage.removeItem(tokenKey); showLogin(); });
  if (sessionStorage.getItem(tokenKey)) {
    refresh();
    timer = setInterval(refresh, 3000);
  } else {
    showLogin();
  }
});
