/* The supervisors' dashboard: /dashboard. A supervisor token (sessionStorage) reads the
   queues, windows, sync links, evaluations and, where the daemon has them, devices. */
"use strict";
HC.addTexts({
  title: ["值班看板", "Supervisor dashboard"], k_waiting: ["等候人数", "Waiting"], k_served: ["今日已办结", "Served today"],
  k_open: ["开放窗口", "Open windows"], k_evals: ["今日评价", "Ratings"], k_longest: ["最长等候", "Longest wait"],
  queues: ["业务队列", "Queues"], windows: ["窗口状态", "Windows"], sync: ["云端同步", "Cloud sync"],
  devices: ["设备状态", "Devices"], business: ["业务", "Service"], waiting_n: ["等候", "Waiting"],
  issued: ["今日取号", "Issued"], longest: ["最长等候", "Longest"], est: ["预计", "Est."], window: ["窗口", "Window"],
  state: ["状态", "State"], current: ["当前号码", "Current"], served: ["已办", "Served"],
  min: ["{n}分钟", "{n} min"], connected: ["已连接", "connected"], disconnected: ["未连接", "disconnected"],
  not_configured: ["未配置", "not configured"], backlog: ["待发送 {n}", "backlog {n}"],
  no_devices: ["暂无设备接入", "No devices reported yet"], dev_online: ["在线", "online"],
  dev_offline: ["离线", "offline"], dev_degraded: ["不稳定", "degraded"],
  dev_sum: ["共{n}台设备，{bad}台异常", "{n} devices, {bad} with problems"],
});
const D = { token: HC.storedToken("hc.dashboard.token", false) };
const $ = (id) => document.getElementById(id);
const minutesSince = (iso) => Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));

function show(signedIn) { $("signin").hidden = signedIn; $("board").hidden = !signedIn; $("signout").hidden = !signedIn; }

async function refresh() {
  const opts = { token: D.token };
  const [w, q, s, e, hd] = await Promise.all([HC.api("GET", "/api/windows"), HC.api("GET", "/api/queue"),
    HC.api("GET", "/api/sync", opts), HC.api("GET", "/api/evaluations", opts), HC.api("GET", "/api/display/hall")]);
  if (!w.ok || !q.ok || !hd.ok) throw new Error("refresh");
  D.data = { windows: w.body.windows, queue: q.body, sync: s.ok ? s.body : null, evals: e.ok ? e.body.evaluations : [],
             hall: hd.body };
  try { const dv = await HC.api("GET", "/api/devices", opts); D.data.devices = dv.ok ? dv.body : null; }
  catch (x) { D.data.devices = null; }
  render();
}

function render() {
  const d = D.data; if (!d) return;
  $("hall-name").textContent = d.hall.hall_name;
  const waiting = d.queue.categories.reduce((n, c) => n + c.waiting_count, 0);
  const served = d.windows.reduce((n, w) => n + w.served, 0);
  let longest = 0;
  for (const c of d.queue.categories) for (const t of c.waiting) longest = Math.max(longest, minutesSince(t.issued_at));
  $("k-waiting").textContent = waiting; $("k-served").textContent = served;
  $("k-open").textContent = d.windows.filter(w => w.state === "open").length + " / " + d.windows.length;
  $("k-evals").textContent = d.evals.filter(x => x.at.slice(0, 10) === (d.queue.business_day || x.at.slice(0, 10))).length;
  $("k-longest").textContent = waiting ? HC.t("min", { n: longest }) : "—";
  const est = Object.fromEntries(d.hall.waiting.map(w => [w.prefix, w.estimated_wait_min]));
  $("queues").replaceChildren(...d.queue.categories.map(c => {
    const oldest = c.waiting.length ? Math.max(...c.waiting.map(t => minutesSince(t.issued_at))) : 0;
    return HC.el("tr", { "data-prefix": c.prefix, class: oldest > c.service_level_min ? "warn" : "" },
      HC.el("td", { text: `${c.prefix} ${c.name}` }), HC.el("td", { class: "num", text: c.waiting_count }),
      HC.el("td", { class: "num", text: `${c.issued_today}/${c.daily_quota}` }),
      HC.el("td", { class: "num", text: c.waiting_count ? HC.t("min", { n: oldest }) : "—" }),
      HC.el("td", { class: "num", text: c.waiting_count ? HC.t("min", { n: est[c.prefix] }) : "—" }));
  }));
  $("windows").replaceChildren(...d.windows.map(w => HC.el("tr", { "data-window": w.number },
    HC.el("td", { text: w.name }),
    HC.el("td", {}, HC.el("span", { class: "badge " + w.state, text: HC.stateText(w.state) }),
      w.pause_reason ? HC.el("div", { class: "reason", text: w.pause_reason }) : null),
    HC.el("td", { text: w.current ? w.current.number : "—" }), HC.el("td", { class: "num", text: w.served }))));
  $("sync").replaceChildren(...(d.sync ? d.sync.links : []).map(l => HC.el("tr", {},
    HC.el("td", { text: l.link }),
    HC.el("td", { text: l.state === "not_configured" ? HC.t("not_configured") : HC.t(l.connected ? "connected" : "disconnected") }),
    HC.el("td", { class: "num", text: HC.t("backlog", { n: l.backlog }) }))));
  const dev = $("devices");
  const list = d.devices && (d.devices.devices || d.devices);
  if (!Array.isArray(list) || !list.length) dev.textContent = HC.t("no_devices");
  else {
    const bad = list.filter(x => x.status !== "online").length;
    dev.replaceChildren(HC.el("div", { class: bad ? "dev-sum bad" : "dev-sum", text: HC.t("dev_sum", { n: list.length, bad }) }),
      HC.el("table", {}, HC.el("tbody", {}, ...list.map(x => HC.el("tr", { "data-device": x.id, class: x.status !== "online" ? "warn" : "" },
        HC.el("td", { text: x.id }),
        HC.el("td", { text: x.window ? HC.t("window_n", { n: x.window }) : (x.role || x.kind) }),
        HC.el("td", {}, HC.el("span", { class: "badge " + (x.status === "online" ? "open" : x.status === "degraded" ? "paused" : "closed"),
          text: HC.t("dev_" + x.status) })),
        HC.el("td", { class: "reason", text: x.last_error || "" }))))));
  }
}

async function signIn(token) {
  const r = await HC.api("GET", "/api/whoami", { token });
  if (r.status === 401) throw new Error(HC.t("bad_token"));
  if (!r.ok || !["supervisor", "admin"].includes(r.body.role)) throw new Error(HC.t("wrong_role"));
  D.token = token; HC.saveToken("hc.dashboard.token", false, token);
  show(true);
  if (!D.live) D.live = HC.live({ refresh });
}
$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("token").value.trim()).catch(err => { $("signin-error").textContent = err.message; });
});
$("signout").addEventListener("click", () => { HC.saveToken("hc.dashboard.token", false, null); location.reload(); });
HC.mountLangSwitch($("lang-slot"));
HC.applyTexts();
HC.onLang(render);
setInterval(() => { $("clock").textContent = HC.clockText(new Date()); render(); }, 1000 * 15);
$("clock").textContent = HC.clockText(new Date());
if (D.token) signIn(D.token).catch(() => show(false)); else show(false);
