/// The dashboard's web page: one self-contained HTML document (inline CSS and plain
/// JavaScript, nothing fetched from elsewhere) that polls `GET /api/state` every second.
///
/// It shows the pool (utilization, servers, sessions, users, the balancer's last decisions),
/// one box per server with a sessions bar against `CONNECTION_LIMIT_PER_HOST` (click the box
/// to list its users, each with a disconnect button), a box for users on no server, a form
/// that connects N new users and a button that disconnects every user. Opened as
/// `/#expanded`, it lists every server's users from the start.
///
/// Its API calls carry the admin token. The page takes it from `#token=<token>` in its address
/// (a fragment never reaches a server or its logs) or from a form it shows after a 401, and
/// keeps it in the tab's `sessionStorage` only.
public enum DashboardPage {
    /// The id of the page's root element.
    public static let rootElementID = "wsscale-dashboard"

    /// The whole page.
    public static let html: String = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsscale dashboard</title>
<style>
  :root { --bg:#f4f5f7; --card:#fff; --ink:#1d2430; --muted:#667085; --line:#e3e6eb;
          --ok:#2e9e5b; --warn:#d98e04; --bad:#d1423a; --accent:#2f6fde; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:baseline; gap:16px; padding:14px 24px; background:var(--ink); color:#fff; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header .sub { color:#b8c0cc; font-size:13px; }
  main { padding:16px 24px 32px; max-width:1600px; }
  .row { display:flex; flex-wrap:wrap; align-items:flex-start; gap:12px; margin-bottom:14px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
  .stat { min-width:150px; }
  .stat .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
  .stat .value { font-size:24px; font-weight:600; }
  .bar { height:8px; background:#e9ecf1; border-radius:4px; overflow:hidden; margin-top:6px; }
  .bar > div { height:100%; background:var(--ok); }
  .bar.warn > div { background:var(--warn); } .bar.bad > div { background:var(--bad); }
  .controls { display:flex; flex-wrap:wrap; align-items:center; gap:10px; }
  .controls input { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:5px; }
  .controls input[type=number] { width:90px; } .controls input[type=text] { width:120px; }
  button { font:inherit; padding:5px 12px; border-radius:5px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
  button.ghost { background:#fff; color:var(--bad); border-color:var(--bad); }
  button.small { padding:0 6px; font-size:11px; }
  #message { color:var(--muted); } #message.bad { color:var(--bad); }
  #errors { display:none; background:#fdecea; border:1px solid #f5c2bd; color:#8a1f17; border-radius:8px; padding:10px 14px; margin-bottom:14px; }
  #errors.shown { display:block; }
  .decisions { flex:1 1 520px; min-width:320px; }
  .decisions h2, .section h2 { font-size:13px; margin:0 0 6px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
  .decisions ol { list-style:none; margin:0; padding:0; max-height:150px; overflow:auto; }
  .decisions li { padding:3px 0; border-top:1px solid var(--line); font-size:13px; }
  .decisions li:first-child { border-top:none; }
  .decisions .when { color:var(--muted); font-variant-numeric:tabular-nums; margin-right:6px; }
  .decisions .kind { font-weight:600; margin-right:6px; }
  .decisions .err { color:var(--bad); }
  .servers { display:grid; grid-template-columns:repeat(auto-fill,minmax(290px,1fr)); gap:12px; align-items:start; }
  .server { cursor:pointer; }
  .server .head { display:flex; flex-wrap:wrap; justify-content:space-between; align-items:center; gap:4px 8px; }
  .server .id { font-weight:600; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; white-space:nowrap; }
  .server .pills { display:flex; gap:4px; }
  .pill { display:inline-block; padding:0 7px; border-radius:10px; font-size:12px; background:#e9ecf1; color:var(--ink); }
  .pill.active { background:#dff3e7; color:#1d6b3c; } .pill.draining { background:#fdf0d5; color:#8a5a00; }
  .pill.starting { background:#e3ecfb; color:#1f4fa3; } .pill.unknown { background:#eee; color:var(--muted); }
  .server .meta { color:var(--muted); font-size:12px; margin-top:4px; display:flex; justify-content:space-between; }
  .server .disagree { color:var(--bad); }
  .users { list-style:none; margin:8px 0 0; padding:0; border-top:1px solid var(--line); max-height:260px; overflow-y:auto; overflow-x:hidden; cursor:default; }
  .users li { display:flex; align-items:center; justify-content:space-between; gap:6px; padding:3px 0; font-size:13px; }
  .users .uid { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; flex-shrink:0; }
  .users button { flex-shrink:0; }
  .users .info { color:var(--muted); font-size:12px; margin-left:auto; margin-right:6px; white-space:nowrap; min-width:0; overflow:hidden; text-overflow:ellipsis; }
  .users .state-connected { color:var(--ok); }
  #unplaced .users { columns:4 230px; column-gap:24px; max-height:none; border-top:none; margin-top:0; }
  #unplaced .users li { break-inside:avoid; }
  .users .state-reconnecting, .users .state-connecting { color:var(--warn); } .users .state-disconnected { color:var(--muted); }
  .hint { color:var(--muted); font-size:12px; margin-top:6px; text-transform:none; letter-spacing:0; font-weight:normal; }
  .section h2 { display:flex; align-items:baseline; gap:10px; }
  .section h2 .hint { margin-top:0; }
  button.link { background:none; border:none; color:var(--accent); padding:0; font-size:12px; text-transform:none; letter-spacing:0; }
  .section { margin-top:18px; }
  .empty { color:var(--muted); }
</style>
</head>
<body>
<div id="wsscale-dashboard">
<header><h1>wsscale</h1><span class="sub" id="subtitle">connecting…</span></header>
<main>
  <div id="errors"></div>
  <form id="tokenForm" class="card controls" hidden>
    <label>Admin token <input type="password" id="token" autocomplete="off" required></label>
    <button type="submit">Use</button>
    <span class="hint">the value of WSSCALE_ADMIN_TOKEN (wsscale up stores it in its state directory, file admin-token)</span>
  </form>
  <div class="row">
    <div class="card stat"><div class="label">Utilization</div><div class="value" id="utilization">–</div><div class="bar" id="utilizationBar"><div style="width:0"></div></div></div>
    <div class="card stat"><div class="label">Servers (active / pool)</div><div class="value" id="poolSize">–</div></div>
    <div class="card stat"><div class="label">Sessions</div><div class="value" id="sessions">–</div></div>
    <div class="card stat"><div class="label">Users connected / known</div><div class="value" id="users">–</div></div>
    <div class="card decisions"><h2>Last decisions</h2><ol id="decisions"><li class="empty">none yet</li></ol></div>
  </div>
  <div class="card controls">
    <form id="connectForm" class="controls">
      <label>Connect <input type="number" id="count" min="1" max="10000" value="10" required></label>
      <label>users, ids starting with <input type="text" id="prefix" value="user" pattern="[A-Za-z0-9_\-]{1,32}" required></label>
      <button type="submit">Connect</button>
    </form>
    <button type="button" class="ghost" id="disconnectAll">Disconnect all</button>
    <span id="message"></span>
  </div>
  <div class="section"><h2>Servers <span class="hint">click a server to list its users</span><button type="button" class="link" id="expandAll">expand all</button></h2><div class="servers" id="servers"></div></div>
  <div class="section"><h2>Users on no server</h2><div class="card" id="unplaced"></div></div>
</main>
</div>
<script>
"use strict";
const expanded = new Set();
let lastState = null;

// The admin token: taken once from the address's fragment (#token=..., never sent to a
// server) or typed into the form, then kept in this tab's session storage only.
(function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem("wsscaleAdminToken", decodeURIComponent(match[1]));
    const rest = location.hash.slice(1).split("&").filter(part => !part.startsWith("token=")).join("&");
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
})();
function authorized(headers) {
  const token = sessionStorage.getItem("wsscaleAdminToken");
  return token ? Object.assign({ "Authorization": "Bearer " + token }, headers || {}) : (headers || {});
}
function askForToken(show) { document.getElementById("tokenForm").hidden = !show; }
document.getElementById("tokenForm").addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem("wsscaleAdminToken", document.getElementById("token").value.trim());
  document.getElementById("token").value = "";
  askForToken(false);
  poll();
});

function el(tag, props, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.appendChild(child);
  return node;
}
function barClass(percent) { return percent >= 100 ? "bar bad" : percent >= 70 ? "bar warn" : "bar"; }
function bar(percent) {
  const inner = el("div"); inner.style.width = Math.min(100, Math.max(0, percent)) + "%";
  return el("div", { class: barClass(percent) }, [inner]);
}
function time(ms) { return new Date(ms).toLocaleTimeString([], { hour12: false }); }

function userRow(user) {
  const details = [];
  if (user.reconnectCount) details.push("↻" + user.reconnectCount);
  if (user.lastCloseCode) details.push(String(user.lastCloseCode));
  const title = user.state + " · " + user.reconnectCount + " reconnect(s)" + (user.lastCloseCode ? " · last close code " + user.lastCloseCode : "");
  const info = el("span", { class: "info", title: title }, [el("span", { class: "state-" + user.state, text: user.state }),
    document.createTextNode(details.length ? " · " + details.join(" · ") : "")]);
  const children = [el("span", { class: "uid", text: user.userId }), info];
  if (user.state !== "disconnected") children.push(el("button", { class: "small ghost", "data-user": user.userId, text: "disconnect" }));
  return el("li", {}, children);
}

function serverBox(server, usersKnown) {
  const state = server.state || "unknown";
  const pills = [el("span", { class: "pill " + state, text: server.state || "not in pool" })];
  if (server.proxyState) pills.push(el("span", { class: "pill", text: "haproxy " + server.proxyState }));
  const head = el("div", { class: "head" }, [el("span", { class: "id", text: server.id }), el("span", { class: "pills" }, pills)]);
  const limit = server.connectionLimit;
  const sessionsText = server.sessions + (limit ? " / " + limit + " sessions" : " sessions");
  let haproxyText = server.proxyConnections == null ? "" : "haproxy " + server.proxyConnections + " conn";
  const meta = el("div", { class: "meta" }, [el("span", { text: sessionsText }),
    el("span", { class: server.proxyConnections != null && server.proxyConnections !== server.sessions ? "disagree" : "", text: haproxyText })]);
  const children = [head, bar(server.utilizationPercent == null ? 0 : server.utilizationPercent), meta];
  const count = server.users.length;
  if (expanded.has(server.id)) {
    const list = el("ul", { class: "users" }, server.users.map(userRow));
    if (!count) list.appendChild(el("li", { class: "empty", text: "no simulated user here" }));
    children.push(list);
  } else {
    children.push(el("div", { class: "hint", text: usersKnown ? count + (count === 1 ? " user" : " users") + " ▸" : "users unknown" }));
  }
  return el("div", { class: "card server", "data-server": server.id }, children);
}

let expandOnFirstState = location.hash === "#expanded";
function render(state) {
  lastState = state;
  if (expandOnFirstState) {
    state.servers.forEach(server => expanded.add(server.id));
    document.getElementById("expandAll").textContent = "collapse all";
    expandOnFirstState = false;
  }
  const errors = document.getElementById("errors");
  errors.replaceChildren(...state.errors.map(e => el("div", { text: e.upstream + " unavailable: " + e.message })));
  errors.className = state.errors.length ? "shown" : "";
  const pool = state.pool;
  document.getElementById("utilization").textContent = pool ? pool.utilizationPercent.toFixed(0) + " %" : "–";
  document.getElementById("utilizationBar").replaceWith(Object.assign(bar(pool ? pool.utilizationPercent : 0), { id: "utilizationBar" }));
  document.getElementById("poolSize").textContent = pool ? pool.activeServers + " / " + pool.poolSize : "–";
  document.getElementById("sessions").textContent = pool ? pool.totalSessions : "–";
  const totals = state.userTotals;
  document.getElementById("users").textContent = totals ? totals.connected + " / " + totals.users : "–";
  document.getElementById("subtitle").textContent = pool
    ? "backend " + pool.driver + " · limit " + pool.connectionLimitPerHost + " sessions per server" + (pool.lastError ? " · last error: " + pool.lastError : "")
    : "balancer unavailable";
  const decisions = (pool ? pool.decisions : []).map(d => el("li", {}, [
    el("span", { class: "when", text: time(d.timestamp) }), el("span", { class: "kind", text: d.kind }),
    el("span", { text: d.reasons.join("; ") + (d.actions.length ? " → " + d.actions.join(", ") : "") }),
    ...d.errors.map(e => el("div", { class: "err", text: e }))]));
  document.getElementById("decisions").replaceChildren(...(decisions.length ? decisions : [el("li", { class: "empty", text: "none yet" })]));
  const servers = state.servers.map(server => serverBox(server, state.userTotals != null));
  document.getElementById("servers").replaceChildren(...(servers.length ? servers : [el("div", { class: "empty", text: "no server" })]));
  const unplaced = state.unplacedUsers;
  document.getElementById("unplaced").replaceChildren(unplaced.length
    ? el("ul", { class: "users" }, unplaced.map(userRow)) : el("div", { class: "empty", text: state.userTotals ? "none" : "unknown" }));
}

async function poll() {
  try {
    const answer = await fetch("/api/state", { cache: "no-store", headers: authorized() });
    if (answer.status === 401 || answer.status === 403) {
      askForToken(true);
      throw new Error((await answer.json()).error || answer.status);
    }
    askForToken(false);
    render(await answer.json());
  } catch (error) {
    const errors = document.getElementById("errors");
    errors.replaceChildren(el("div", { text: "dashboard unavailable: " + error }));
    errors.className = "shown";
  }
}

async function post(path, body) {
  const message = document.getElementById("message");
  try {
    const answer = await fetch(path, { method: "POST", headers: authorized({ "Content-Type": "application/json" }), body: JSON.stringify(body) });
    if (answer.status === 401) askForToken(true);
    const result = await answer.json();
    if (!answer.ok) throw new Error(result.error || answer.status);
    message.className = "";
    message.textContent = (path === "/api/connect" ? "connecting " : "disconnecting ") + result.userIds.length + " user(s)";
  } catch (error) {
    message.className = "bad";
    message.textContent = String(error.message || error);
  }
  poll();
}

document.getElementById("connectForm").addEventListener("submit", event => {
  event.preventDefault();
  post("/api/connect", { count: Number(document.getElementById("count").value), prefix: document.getElementById("prefix").value });
});
document.getElementById("disconnectAll").addEventListener("click", () => {
  const ids = [];
  if (lastState) {
    for (const server of lastState.servers) for (const user of server.users) ids.push(user.userId);
    for (const user of lastState.unplacedUsers) if (user.state !== "disconnected") ids.push(user.userId);
  }
  if (!ids.length) { document.getElementById("message").textContent = "no user to disconnect"; return; }
  post("/api/disconnect", { userIds: ids });
});
document.getElementById("expandAll").addEventListener("click", () => {
  const ids = lastState ? lastState.servers.map(server => server.id) : [];
  const allShown = ids.length > 0 && ids.every(id => expanded.has(id));
  expanded.clear();
  if (!allShown) ids.forEach(id => expanded.add(id));
  document.getElementById("expandAll").textContent = allShown ? "expand all" : "collapse all";
  if (lastState) render(lastState);
});
document.addEventListener("click", event => {
  const userButton = event.target.closest("button[data-user]");
  if (userButton) { post("/api/disconnect", { userIds: [userButton.dataset.user] }); return; }
  if (event.target.closest(".users")) return;
  const box = event.target.closest("[data-server]");
  if (!box) return;
  const id = box.dataset.server;
  if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
  if (lastState) render(lastState);
});
// The next poll starts a second after the last one ended, so slow answers never pile up.
(async function refresh() { await poll(); setTimeout(refresh, 1000); })();
</script>
</body>
</html>
"""#
}
