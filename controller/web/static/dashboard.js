/* The supervisors' dashboard: /dashboard. A supervisor token (sessionStorage) reads the
   queues, windows, sync links, evaluations and, where the daemon has them, devices; below
   them the things to act on (congestion alerts, follow-ups of bad ratings, supervision
   flags, complaints and cases) and the day's charts (dashboard-charts.js). The panels are
   read again on every event and every (re)connect; the charts on every (re)connect and at
   most every few seconds while events arrive, since the flow record is the costly read. */
"use strict";
HC.addTexts({
  title: ["值班看板", "Supervisor dashboard"], k_waiting: ["等候人数", "Waiting"], k_served: ["今日已办结", "Served today"],
  k_open: ["开放窗口", "Open windows"], k_evals: ["今日评价", "Ratings"], k_longest: ["最长等候", "Longest wait"],
  queues: ["业务队列", "Queues"], windows: ["窗口状态", "Windows"], sync: ["云端同步", "Cloud sync"],
  devices: ["设备状态", "Devices"], business: ["业务", "Service"], waiting_n: ["等候", "Waiting"],
  issued: ["今日取号", "Issued"], longest: ["最长等候", "Longest"], est: ["预计", "Est."], window: ["窗口", "Window"],
  state: ["状态", "State"], current: ["当前号码", "Current"], served: ["已办", "Served"],
  min: ["{n}分钟", "{n} min"], connected: ["已连接", "connected"], disconnected: ["未连接", "disconnected"], idle: ["待发送时连接", "idle (connects when a report is due)"],
  not_configured: ["未配置", "not configured"], backlog: ["待发送 {n}", "backlog {n}"],
  held: ["实名待报身份证号 {n} 个（加密保存）", "{n} ID numbers held sealed for reports"],
  no_devices: ["暂无设备接入", "No devices reported yet"], dev_online: ["在线", "online"],
  dev_offline: ["离线", "offline"], dev_degraded: ["不稳定", "degraded"],
  dev_sum: ["共{n}台设备，{bad}台异常", "{n} devices, {bad} with problems"],
  k_attn: ["待处理", "Needs action"],
  k_attn_tip: ["未处理完的告警、待整改差评、超期办件和超期投诉", "Open alerts, open follow-ups, overdue cases and complaints"],
  p_alerts: ["拥堵告警", "Congestion alerts"], p_followups: ["差评整改", "Bad-rating follow-ups"],
  p_flags: ["督办事项", "Supervision flags"], p_cases: ["办件与投诉", "Cases and complaints"],
  c_ready: ["待取件", "Ready for pickup"], c_overdue: ["超期办件", "Overdue cases"], c_complaints: ["未结投诉", "Open complaints"],
  ch_arrivals: ["每半小时取号与接待能力", "Tickets per half hour against capacity"],
  ch_waits: ["每半小时等候时间", "Waits per half hour"], ch_evals: ["今日评价分布", "Ratings today"],
  ch_staffing: ["人员配置：表1建议与开放窗口", "Staffing: Table 1 against windows open"],
  al_raised: ["待确认", "New"], al_acknowledged: ["已确认", "Acknowledged"],
  al_active: ["持续中", "ongoing"], al_cleared: ["已缓解", "cleared"],
  rule_waiting: ["大厅等候 {v} 人，超过 {t} 人", "{v} people waiting in the hall, over {t}"],
  rule_service_level: ["{cat}最长等候 {v} 分钟，超过时限 {t} 分钟", "{cat}: longest wait {v} min, over the {t} min limit"],
  rule_arrivals: ["{cat}取号 {v} 张/分钟，超过接待能力 {t} 张/分钟", "{cat}: {v} tickets/min, above the {t}/min the open windows serve"],
  sug_open: ["建议开放{w}", "Open {w}"], sug_none: ["没有可开放的窗口：请增派人员或引导错时办理", "No window left to open: add staff or guide citizens to off-peak times"],
  btn_ack: ["确认", "Acknowledge"], btn_resolve: ["处理完毕", "Resolve"],
  no_alerts: ["暂无告警", "No open alerts"], failed: ["操作失败：{e}", "Failed: {e}"], read_failed: ["无法读取（{e}）", "Cannot read ({e})"],
  step_verify: ["核实", "Verify"], step_rectify: ["整改", "Rectify"], step_revisit: ["回访", "Revisit"], step_close: ["办结", "Close"],
  do_step: ["完成{s}", "{s}: done"], fu_note: ["处理说明（必填）", "What was done (required)"],
  need_note: ["请填写处理说明", "Please say what was done"], due: ["截止{d}", "due {d}"],
  late: ["逾期", "late"], overdue: ["已超期", "overdue"], no_followups: ["暂无待整改的差评", "No open follow-ups"],
  fu_closed: ["今日已办结 {n} 件", "{n} closed today"], fu_head: ["{number} · {window} · {level}", "{number} · {window} · {level}"],
  flag_service_over_limit: ["办理超时", "Service over limit"], flag_window_paused_too_long: ["暂停过长", "Paused too long"],
  flag_transfer_loop: ["反复转移", "Transfer loop"], flag_case_past_deadline: ["办件超期", "Case past deadline"],
  fd_service: ["{number} 办理 {m} 分钟（限 {l} 分钟）", "{number}: {m} min (limit {l})"],
  fd_paused: ["暂停 {m} 分钟（限 {l} 分钟）{r}", "paused {m} min (limit {l}) {r}"],
  fd_transfer: ["{number} 转移 {n} 次：{path}", "{number}: {n} transfers: {path}"],
  fd_case: ["{case} {item} 应于 {due} 前办结", "{case} {item}, due {due}"],
  ongoing: ["进行中", "ongoing"], no_flags: ["今日暂无督办事项", "No flags today"],
  oc_line: ["{case} {item} 应于 {due} 办结", "{case} {item}, due {due}"],
  cp_registered: ["待分派", "Registered"], cp_assigned: ["处理中", "Assigned"], cp_resolved: ["待办结", "Resolved"],
  cp_assign: ["分派", "Assign"], cp_resolve: ["办理完毕", "Resolve"], cp_close: ["办结", "Close"],
  cp_ph_assign: ["承办人或岗位", "Who handles it"], cp_ph_resolve: ["办理结果", "The result"], cp_ph_close: ["办结说明", "Closing note"],
  no_complaints: ["暂无未结投诉", "No open complaints"],
  cp_new: ["登记投诉", "Register a complaint"], cp_window: ["窗口号", "Window"], cp_summary: ["投诉内容（必填）", "What it is about (required)"],
  cp_submit: ["登记", "Register"], cp_need_summary: ["请填写投诉内容", "Please say what the complaint is about"],
  chan_letter: ["信函", "letter"], chan_on_site: ["现场", "on site"], chan_phone: ["电话", "phone"], chan_wechat: ["微信", "WeChat"],
});
const D = { token: HC.storedToken("hc.dashboard.token", false), events: 0, chartsAt: 0, reasons: {} };
const CHARTS_EVERY_MS = 5000;  // at most one flow/staffing read this often while events arrive
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
  // No event since the last read: this is a (re)connect, so everything is read again.
  const fresh = D.events === 0; D.events = 0;
  D.panels = await readPanels();
  render();
  // The charts are read beside, not in, this refresh: the first flow read after a daemon
  // restart goes through the whole log and must not hold up the panels.
  const wait = fresh ? 0 : Math.max(0, D.chartsAt + CHARTS_EVERY_MS - Date.now());
  if (!D.chartTimer) D.chartTimer = setTimeout(refreshCharts, wait);
  else if (fresh) { clearTimeout(D.chartTimer); D.chartTimer = setTimeout(refreshCharts, 0); }
}

/* An answer, or {failed: status} for a panel to say it could not read (a network error
   still throws: the page is then offline). */
async function read(path) {
  const r = await HC.api("GET", path, { token: D.token });
  return r.ok ? r.body : { failed: r.status };
}
async function readPanels() {
  const [alerts, followups, sup, flags, complaints, ready] = await Promise.all([
    read("/api/alerts?state=open"), read("/api/follow-ups"), read("/api/supervision"), read("/api/flags"),
    read("/api/complaints?status=open"), read("/api/cases?status=ready")]);
  return { alerts, followups, sup, flags, complaints, ready };
}
async function refreshCharts() {
  clearTimeout(D.chartTimer); D.chartTimer = null;
  if (D.chartsBusy) { D.chartsAgain = true; return; }
  D.chartsBusy = true; D.chartsAt = Date.now();
  try {
    const [flow, staffing] = await Promise.all([read("/api/flow"), read("/api/staffing")]);
    D.charts = { flow, staffing };
    renderCharts();
  } catch (e) { /* offline: the page's own refresh says so; the next (re)connect reads again */ }
  finally {
    D.chartsBusy = false;
    if (D.chartsAgain) { D.chartsAgain = false; D.chartTimer = setTimeout(refreshCharts, CHARTS_EVERY_MS); }
  }
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
  $("k-evals").textContent = d.evals.filter(x => !d.queue.business_day || x.business_day === d.queue.business_day).length;
  $("k-longest").textContent = waiting ? HC.t("min", { n: longest }) : "—";
  const est = Object.fromEntries(d.hall.waiting.map(w => [w.prefix, w.estimated_wait_min]));
  $("queues").replaceChildren(...d.queue.categories.map(c => {
    const oldest = c.waiting.length ? Math.max(...c.waiting.map(t => minutesSince(t.issued_at))) : 0;
    return HC.el("tr", { "data-prefix": c.prefix, class: oldest > c.service_level_min ? "warn" : "" },
      HC.el("td", { text: `${c.prefix} ${c.name}` }), HC.el("td", { class: "num", text: c.waiting_count }),
      // The quota counts walk-ins; booked tickets come on top (shown as +N).
      HC.el("td", { class: "num", text: `${c.walk_ins_today}/${c.daily_quota}` +
        (c.issued_today > c.walk_ins_today ? ` +${c.issued_today - c.walk_ins_today}` : "") }),
      HC.el("td", { class: "num", text: c.waiting_count ? HC.t("min", { n: oldest }) : "—" }),
      HC.el("td", { class: "num", text: c.waiting_count ? HC.t("min", { n: est[c.prefix] }) : "—" }));
  }));
  $("windows").replaceChildren(...d.windows.map(w => HC.el("tr", { "data-window": w.number },
    HC.el("td", { text: w.name }),
    HC.el("td", {}, HC.el("span", { class: "badge " + w.state, text: HC.stateText(w.state) }),
      w.pause_reason ? HC.el("div", { class: "reason", text: w.pause_reason }) : null),
    HC.el("td", { text: w.current ? w.current.number : "—" }), HC.el("td", { class: "num", text: w.served }))));
  // A link's last error is shown while it is down (a broker refusing the hall's publishes,
  // a wrong password...), and the ID numbers held for real-name reports, when any.
  $("sync").replaceChildren(...(d.sync ? d.sync.links : []).map(l => HC.el("tr", { "data-link": l.link, class: l.last_error && !l.connected ? "warn" : "" },
    HC.el("td", { text: l.link }),
    HC.el("td", {}, HC.el("div", { text: l.state === "not_configured" || l.state === "idle" ? HC.t(l.state) : HC.t(l.connected ? "connected" : "disconnected") }),
      l.last_error && !l.connected ? HC.el("div", { class: "reason link-error", text: l.last_error }) : null,
      l.identities_held ? HC.el("div", { class: "reason", text: HC.t("held", { n: l.identities_held }) }) : null),
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
  renderPanels();
}

// ---- the panels: what a supervisor acts on ------------------------------------------

/* Draws a list again without disturbing what a supervisor is typing: an entry whose data
   did not change keeps its element (its note, its focus); the list is only re-ordered when
   its entries changed. */
function keyed(box, items, keyOf, build, emptyText) {
  const old = new Map([...box.children].filter(c => c.dataset.key).map(c => [c.dataset.key, c]));
  const next = items.map(it => {
    const key = keyOf(it), sig = HC.getLang() + JSON.stringify(it) + JSON.stringify(D.reasons);
    const prev = old.get(key);
    if (prev && prev.dataset.sig === sig) return prev;
    const e = build(it);
    e.dataset.key = key; e.dataset.sig = sig;
    const was = prev && prev.querySelector("input.note"), now = e.querySelector("input.note");
    if (was && now && was.value && was.dataset.for === now.dataset.for) now.value = was.value;
    return e;
  });
  if (!items.length) next.push(HC.el("div", { class: "empty muted", text: emptyText }));
  const same = next.length === box.children.length && next.every((e, i) => e === box.children[i]);
  if (!same) box.replaceChildren(...next);
}
const failedText = (x) => (x && x.failed ? HC.t("read_failed", { e: x.failed }) : null);
const dayOf = (iso) => (iso ? iso.slice(5, 10) : "");
const catName = (prefix) => {
  const c = D.data && D.data.queue.categories.find(x => x.prefix === prefix);
  return c ? c.name : (prefix || "");
};

/* A POST from a button: the button is off while it runs, the answer's error shown next
   to it; on success the page reads everything again (the stream also says so). */
async function act(button, path, body, errorBox) {
  button.disabled = true; errorBox.textContent = "";
  try {
    const r = await HC.api("POST", path, { token: D.token, body, idem: HC.newKey() });
    if (!r.ok) errorBox.textContent = HC.t("failed", { e: (r.body && (r.body.detail || r.body.error)) || r.status });
    else if (D.live) D.live.refresh();
  } catch (e) {
    errorBox.textContent = HC.t("conn_lost");
  } finally { button.disabled = false; }
}
/* A step that needs a note (follow-ups, complaints): an input and a button. */
function noteAction(forWhat, label, placeholder, path, field) {
  const input = HC.el("input", { class: "note", "data-for": forWhat, placeholder, maxlength: 500 });
  const error = HC.el("div", { class: "error small" });
  const button = HC.el("button", { class: "btn small", "data-step": forWhat, text: label });
  const go = () => {
    const note = input.value.trim();
    if (!note) { error.textContent = HC.t("need_note"); input.focus(); return; }
    act(button, path, { [field]: note }, error).then(() => { if (!error.textContent) input.value = ""; });
  };
  button.addEventListener("click", go);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  return HC.el("div", { class: "act" }, HC.el("div", { class: "act-row" }, input, button), error);
}

function alertText(a) {
  const vars = { v: a.value, t: a.threshold, cat: catName(a.category) };
  return HC.t("rule_" + a.rule, vars);
}
function suggestionText(sug) {
  if (!sug) return "";
  if (HC.getLang() !== "en") return sug.text;
  const wins = (sug.open_windows || []).map(w => HC.t("window_n", { n: w.window }));
  return wins.length ? HC.t("sug_open", { w: wins.join(", ") }) + " (" + sug.categories.map(catName).join(", ") + ")"
                     : HC.t("sug_none");
}
function buildAlert(a) {
  const error = HC.el("div", { class: "error small" });
  const buttons = HC.el("div", { class: "act-row" });
  if (a.state === "raised") {
    const ack = HC.el("button", { class: "btn small gray", "data-act": "ack", text: HC.t("btn_ack") });
    ack.addEventListener("click", () => act(ack, `/api/alerts/${encodeURIComponent(a.id)}/ack`, {}, error));
    buttons.append(ack);
  }
  const res = HC.el("button", { class: "btn small green", "data-act": "resolve", text: HC.t("btn_resolve") });
  res.addEventListener("click", () => act(res, `/api/alerts/${encodeURIComponent(a.id)}/resolve`, {}, error));
  buttons.append(res);
  return HC.el("div", { class: "item alert " + a.state + (a.active ? " active" : ""), "data-alert": a.id },
    HC.el("div", { class: "i-head" },
      HC.el("span", { class: "badge " + (a.state === "raised" ? "hot" : "paused"), text: HC.t("al_" + a.state) }),
      HC.el("span", { class: "i-title", text: alertText(a) }),
      HC.el("span", { class: "i-time muted", text: HC.hhmm(a.raised_at) + " · " + HC.t(a.active ? "al_active" : "al_cleared") })),
    HC.el("div", { class: "i-sub suggestion", text: suggestionText(a.suggestion) }),
    HC.el("div", { class: "act" }, buttons, error));
}

const STEPS = ["verify", "rectify", "revisit", "close"];
function buildFollowUp(f) {
  const done = Object.fromEntries(f.steps.map(s => [s.step, s]));
  const steps = HC.el("ol", { class: "steps" }, ...STEPS.map(step => {
    const d = done[step], late = (d && d.late) || (!d && f.overdue_steps.includes(step));
    return HC.el("li", { class: (d ? "done" : step === f.next_step ? "next" : "todo") + (late ? " late" : ""), "data-step": step },
      HC.el("b", { text: HC.t("step_" + step) + (d ? " ✓" : "") }),
      HC.el("span", { text: d ? dayOf(d.at) + (d.late ? " " + HC.t("late") : "")
                                : HC.t("due", { d: dayOf(f.deadlines[step]) }) + (late ? " " + HC.t("overdue") : "") }));
  }));
  const reasons = (f.reasons || []).map(code => D.reasons[code] || code).join("；");
  return HC.el("div", { class: "item followup" + (f.overdue_steps.length ? " late" : ""), "data-followup": f.id },
    HC.el("div", { class: "i-head" },
      HC.el("span", { class: "badge lvl-" + f.level, text: HC.t("lvl_" + f.level) }),
      HC.el("span", { class: "i-title", text: [f.number, f.window ? HC.t("window_n", { n: f.window }) : null, f.case_no]
        .filter(Boolean).join(" · ") }),
      HC.el("span", { class: "i-time muted", text: dayOf(f.opened_at) + " " + HC.hhmm(f.opened_at) })),
    reasons ? HC.el("div", { class: "i-sub", text: reasons }) : null,
    steps,
    f.next_step ? noteAction(f.next_step, HC.t("do_step", { s: HC.t("step_" + f.next_step) }), HC.t("fu_note"),
                             `/api/follow-ups/${encodeURIComponent(f.id)}/${f.next_step}`, "note") : null);
}

function flagText(x) {
  if (x.kind === "service_over_limit") return HC.t("fd_service", { number: x.number, m: x.minutes, l: x.limit_min });
  if (x.kind === "window_paused_too_long") return HC.t("fd_paused", { m: x.minutes, l: x.limit_min, r: x.reason || "" });
  if (x.kind === "transfer_loop") return HC.t("fd_transfer", { number: x.number, n: x.transfers, path: (x.categories || []).join("→") });
  if (x.kind === "case_past_deadline") return HC.t("fd_case", { case: x.case_no, item: x.item_name || x.item_code || "", due: x.due_date });
  return "";
}
function buildFlag(x) {
  return HC.el("div", { class: "item flag" + (x.ongoing ? " active" : ""), "data-flag": x.kind },
    HC.el("div", { class: "i-head" },
      HC.el("span", { class: "badge " + (x.ongoing ? "hot" : "closed"), text: HC.t("flag_" + x.kind) }),
      HC.el("span", { class: "i-title", text: x.window ? HC.t("window_n", { n: x.window }) : "" }),
      HC.el("span", { class: "i-time muted", text: HC.hhmm(x.since) + (x.ongoing ? " · " + HC.t("ongoing") : "–" + HC.hhmm(x.at)) })),
    HC.el("div", { class: "i-sub", text: flagText(x) }));
}

const NEXT_COMPLAINT = { registered: ["assign", "to"], assigned: ["resolve", "result"], resolved: ["close", "note"] };
function buildComplaint(c) {
  const next = NEXT_COMPLAINT[c.status];
  return HC.el("div", { class: "item complaint" + (c.overdue ? " late" : ""), "data-complaint": c.id },
    HC.el("div", { class: "i-head" },
      HC.el("span", { class: "badge " + (c.overdue ? "hot" : "paused"), text: HC.t("cp_" + c.status) }),
      HC.el("span", { class: "i-title", text: [c.number, HC.t("chan_" + c.channel), c.window ? HC.t("window_n", { n: c.window }) : null].filter(Boolean).join(" · ") }),
      HC.el("span", { class: "i-time muted", text: HC.t("due", { d: dayOf(c.deadline) }) + (c.overdue ? " " + HC.t("overdue") : "") })),
    HC.el("div", { class: "i-sub", text: c.summary }),
    next ? noteAction(next[0], HC.t("cp_" + next[0]), HC.t("cp_ph_" + next[0]),
                      `/api/complaints/${encodeURIComponent(c.id)}/${next[0]}`, next[1]) : null);
}

function renderPanels() {
  const p = D.panels; if (!p) return;
  const list = (x, key) => (x && !x.failed ? x[key] : []);
  const alerts = list(p.alerts, "alerts");
  const allFollowUps = list(p.followups, "follow_ups");
  const open = allFollowUps.filter(f => f.status === "open");
  const today = D.data && D.data.queue.business_day;
  const closedToday = allFollowUps.filter(f => f.status === "closed" && f.steps.length &&
    f.steps[f.steps.length - 1].business_day === today).length;
  const flags = list(p.flags, "flags").slice().sort((a, b) => (b.ongoing - a.ongoing) || (a.since < b.since ? 1 : -1));
  const complaints = list(p.complaints, "complaints");
  const overdueCases = list(p.sup, "overdue_cases");
  const overdueComplaints = list(p.sup, "overdue_complaints");

  keyed($("alerts"), alerts, a => a.id, buildAlert, failedText(p.alerts) || HC.t("no_alerts"));
  keyed($("followups"), open, f => f.id, buildFollowUp, failedText(p.followups) || HC.t("no_followups"));
  let closedLine = $("followups-closed");
  if (!closedLine) { closedLine = HC.el("div", { id: "followups-closed", class: "muted small" }); $("p-followups").append(closedLine); }
  closedLine.textContent = closedToday ? HC.t("fu_closed", { n: closedToday }) : "";
  keyed($("flags"), flags, x => [x.kind, x.since, x.window, x.ticket_id || x.number || x.case_no || ""].join("|"), buildFlag,
        failedText(p.flags) || HC.t("no_flags"));
  keyed($("overdue-cases"), overdueCases, c => c.case_no, c => HC.el("div", { class: "item case late", "data-case": c.case_no },
    HC.el("div", { class: "i-head" }, HC.el("span", { class: "badge hot", text: HC.t("c_overdue") }),
      HC.el("span", { class: "i-title", text: HC.t("oc_line", { case: c.case_no, item: c.item_name || "", due: c.due_date || c.missing_due || "" }) }))), "");
  keyed($("complaints"), complaints, c => c.id, buildComplaint, failedText(p.complaints) || HC.t("no_complaints"));

  $("n-alerts").textContent = alerts.length || "";
  $("n-followups").textContent = open.length || "";
  $("n-flags").textContent = flags.length || "";
  $("c-ready").textContent = list(p.ready, "cases").length;
  $("c-overdue").textContent = overdueCases.length;
  $("c-complaints").textContent = complaints.length;
  const attn = alerts.length + open.length + overdueCases.length + overdueComplaints.length;
  $("k-attn").textContent = attn;
  $("kpi-attn").classList.toggle("hot", attn > 0);
  $("kpi-attn").title = HC.t("k_attn_tip");
}

function renderCharts() {
  const c = D.charts; if (!c || $("board").hidden) return;
  const failed = (box, x) => box.replaceChildren(HC.el("div", { class: "chart-empty error", text: failedText(x) }));
  if (c.flow && !c.flow.failed) {
    HCCharts.arrivals($("c-arrivals"), c.flow);
    HCCharts.waits($("c-waits"), c.flow);
    HCCharts.evaluations($("c-evals"), c.flow);
  } else for (const id of ["c-arrivals", "c-waits", "c-evals"]) failed($(id), c.flow);
  if (c.staffing && !c.staffing.failed) HCCharts.staffing($("c-staffing"), c.staffing);
  else failed($("c-staffing"), c.staffing);
}

async function signIn(token) {
  const r = await HC.api("GET", "/api/whoami", { token });
  if (r.status === 401) throw new Error(HC.t("bad_token"));
  if (!r.ok || !["supervisor", "admin"].includes(r.body.role)) throw new Error(HC.t("wrong_role"));
  D.token = token; HC.saveToken("hc.dashboard.token", false, token);
  show(true);
  if (!D.live) D.live = HC.live({ refresh, onEvent: () => { D.events += 1; } });
  HC.api("GET", "/api/evaluation-reasons", { token }).then(r => {
    if (r.ok) { D.reasons = Object.fromEntries(r.body.reasons.map(x => [x.code, x.label])); render(); }
  }).catch(() => {});
}
$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("token").value.trim()).catch(err => { $("signin-error").textContent = err.message; });
});
$("complaint-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const summary = $("cp-summary").value.trim(), win = Number($("cp-window").value);
  if (!summary) { $("cp-error").textContent = HC.t("cp_need_summary"); return; }
  const body = { channel: $("cp-channel").value, summary };
  if (win) body.window = win;
  await act(e.submitter || $("complaint-form").querySelector("button"), "/api/complaints", body, $("cp-error"));
  if (!$("cp-error").textContent) { $("cp-summary").value = ""; $("cp-window").value = ""; $("complaint-new").open = false; }
});
$("signout").addEventListener("click", () => { HC.saveToken("hc.dashboard.token", false, null); location.reload(); });
HC.mountLangSwitch($("lang-slot"));
HC.applyTexts();
HC.onLang(() => { render(); renderCharts(); });
if (window.ResizeObserver) {
  let pending = false;
  let lastWidth = 0;
  new ResizeObserver(() => {
    if (pending || $("charts").clientWidth === lastWidth) return;
    lastWidth = $("charts").clientWidth;
    pending = true; requestAnimationFrame(() => { pending = false; renderCharts(); });
  }).observe($("charts"));
}
setInterval(() => { if (D.live && D.live.status.online) refreshCharts(); }, 60000);
// The hall's time (from /api/display/hall's `now`), whatever zone the browser is set to.
const clock = () => HC.hallClock(D.data && D.data.hall && D.data.hall.now);
setInterval(() => { $("clock").textContent = clock(); }, 1000);
setInterval(render, 1000 * 15);
$("clock").textContent = clock();
if (D.token) signIn(D.token).catch(() => show(false)); else show(false);
