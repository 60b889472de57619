/* The ticket machine: /kiosk. A kiosk token (kept in localStorage: the kiosk is a fixed
   device) takes tickets and checks in appointments; the ticket view is printable. */
"use strict";
HC.addTexts({
  setup: ["设备设置", "Device setup"], choose: ["请选择办理业务", "Please choose a service"],
  prio_note: ["绿色通道（老年人、残疾人、军人、孕妇等）请如实选择，窗口将核验", "Green channel (elderly, disabled, servicemen, pregnant women): staff will verify"],
  normal: ["普通取号", "Regular"], checkin: ["预约签到", "Appointment check-in"],
  checkin_title: ["预约签到：请输入身份证号码", "Check-in: enter your ID number"], back: ["返回", "Back"],
  confirm: ["确认签到", "Check in"], print: ["打印", "Print"], done_btn: ["完成", "Done"],
  hint_wait: ["请在休息区等候，注意呼叫及大屏显示信息", "Please wait in the seating area and watch the screens"],
  hint_void: ["过号无效，请您重新取号", "A missed call voids the ticket"],
  ahead: ["您前面还有 {n} 人在等待", "{n} people ahead of you"], waiting_meta: ["等候{n}人 · 约{m}分钟", "{n} waiting · ~{m} min"],
  waiting_meta0: ["无需等候", "No wait"], failed: ["取号失败：{d}", "Could not issue: {d}"],
  checkin_failed: ["签到失败：{d}", "Check-in failed: {d}"], del: ["删除", "Del"],
  pickup: ["办件取件", "Collect a result"], pickup_title: ["取件：请输入办件编号", "Collect: enter your case number"],
  pickup_go: ["取号取件", "Get a pickup ticket"], pickup_failed: ["取件取号失败：{d}", "Could not get a pickup ticket: {d}"],
  choose_item: ["{cat}：请选择办理事项", "{cat}: what do you need?"],
  any_item: ["其他事项，直接取号", "Something else: just a ticket"], promised: ["承诺{n}个工作日", "{n} working days"],
  enter_number: ["请先输入号码", "Enter the number first"],
});
// `mode` of the number-entry screen: "checkin" (an ID number) or "pickup" (a case number)
const K = { token: HC.storedToken("hc.kiosk.token", true), view: null, prio: null, id: "", backTimer: null,
            mode: "checkin" };
const MAX_LEN = { checkin: 18, pickup: 50 };
const $ = (id) => document.getElementById(id);

function screen(name) {
  for (const s of ["setup", "home", "items", "checkin", "ticket-view"]) $(s).hidden = s !== name;
  document.body.dataset.screen = name;
  clearTimeout(K.backTimer);
  if (name === "ticket-view") K.backTimer = setTimeout(() => screen("home"), 30000);
  // an ID number never stays on an unattended screen
  if (name === "checkin") K.backTimer = setTimeout(() => screen("home"), 60000);
  else { K.id = ""; renderId(); }
  if (name === "checkin") {
    K.id = ""; renderId(); $("checkin-error").textContent = "";
    $("checkin-title").textContent = HC.t(K.mode === "pickup" ? "pickup_title" : "checkin_title");
    $("checkin-go").textContent = HC.t(K.mode === "pickup" ? "pickup_go" : "confirm");
  }
}

function render() {
  const v = K.view; if (!v) return;
  $("hall-name").textContent = v.hall_name;
  const prio = $("prio");
  const groups = [{ name: null, label: HC.t("normal") }, ...v.priority_groups];
  prio.replaceChildren(...groups.map(g => HC.el("button", {
    class: K.prio === g.name ? "on" : "", "data-prio": g.name || "normal", text: g.label,
    onclick: () => { K.prio = g.name; render(); } })));
  // Every event in the hall re-reads the view: the buttons are rebuilt only when the
  // categories themselves change, so a citizen's slow press is never lost to a rebuild.
  const meta = (c) => c.waiting ? HC.t("waiting_meta", { n: c.waiting, m: c.estimated_wait_min }) : HC.t("waiting_meta0");
  const shape = JSON.stringify(v.categories.map(c => [c.prefix, c.name]));
  const cats = $("cats");
  if (cats.dataset.shape === shape) {
    v.categories.forEach((c, i) => { cats.children[i].querySelector(".meta").textContent = meta(c); });
    return;
  }
  cats.dataset.shape = shape;
  // a button needs only its category's prefix and name, which its shape holds
  cats.replaceChildren(...v.categories.map(c => HC.el("button", {
    class: "cat", "data-prefix": c.prefix, onclick: () => chooseCategory(c) },
    HC.el("span", { class: "name" }, HC.el("span", { class: "prefix", text: c.prefix }), c.name),
    HC.el("span", { class: "meta", text: meta(c) }))));
}

function showTicket(t) {
  $("t-hall").textContent = K.view ? K.view.hall_name : "";
  $("t-cat").textContent = t.category_name;
  $("t-number").textContent = t.number;
  $("t-ahead").textContent = HC.t("ahead", { n: t.waiting_ahead });
  $("t-time").textContent = t.issued_at.slice(0, 19).replace("T", " ");
  $("t-qr").src = `/api/display/tickets/${encodeURIComponent(t.id)}/qr.svg`;
  screen("ticket-view");
}

/* With a catalog (GET /api/items), a category opens its items: the citizen picks what
   they came for, and the ticket carries the item. Without one, a category issues at once. */
const chooseCategory = HC.once(async (c) => {
  let items = [];
  try {
    const r = await HC.api("GET", `/api/items?category=${encodeURIComponent(c.prefix)}&limit=100`, { timeout: 4000 });
    if (r.ok && r.body && Array.isArray(r.body.items)) items = r.body.items.filter(i => i.servable !== false);
  } catch (e) { items = []; }
  if (!items.length) { issue(c.prefix); return; }
  K.category = c;
  $("items-title").textContent = HC.t("choose_item", { cat: c.name });
  $("items-error").textContent = "";
  $("item-list").replaceChildren(...items.map(i => HC.el("button", { class: "item", "data-item": i.code,
    onclick: () => issue(c.prefix, i.code) },
    HC.el("span", { class: "iname", text: i.name }),
    HC.el("span", { class: "imeta", text: [i.path && i.path.length > 1 ? i.path.slice(0, -1).map(p => p.name).join(" › ") : "",
      i.case_type_name || "", i.promised_days ? HC.t("promised", { n: i.promised_days }) : ""].filter(Boolean).join(" · ") }))));
  screen("items");
  K.backTimer = setTimeout(() => screen("home"), 60000);
});

// One ticket per tap: a double tap, or a tap while the first answer is on its way, is not
// a second ticket.
const issue = HC.once(async (prefix, itemCode) => {
  $("home-error").textContent = ""; $("items-error").textContent = "";
  const body = { category: prefix };
  if (itemCode) body.item_code = itemCode;
  if (K.prio) body.priority = K.prio;
  try {
    const r = await HC.api("POST", "/api/tickets", { token: K.token, body, idem: HC.newKey() });
    if (r.status === 401) return revoked();
    if (!r.ok) {
      $(!$("items").hidden ? "items-error" : "home-error").textContent = HC.t("failed", { d: HC.errorText(r) });
      return;
    }
    K.prio = null;
    showTicket(r.body);
  } catch (e) { $(!$("items").hidden ? "items-error" : "home-error").textContent = HC.t("failed", { d: HC.t("conn_lost") }); }
});

// The kiosk's token was revoked: back to the setup screen, saying why (not a dead kiosk).
function revoked() {
  HC.saveToken("hc.kiosk.token", true, null); K.token = null;
  screen("setup"); $("setup-error").textContent = HC.t("bad_token");
}

// An ID or phone number is on a screen others can see: only its first characters, the key
// just pressed and, once whole, its last four are shown (1101**********002X for an ID,
// 139****5678 for a mobile number). A case number (pickup) is not personal: shown as typed.
function maskedId(v) {
  if (K.mode === "pickup" || v.length <= 3) return v;
  if (v.length >= 18) return v.slice(0, 4) + "*".repeat(v.length - 8) + v.slice(-4);
  if (v.length === 11) return v.slice(0, 3) + "*".repeat(4) + v.slice(-4);
  return v.slice(0, 3) + "*".repeat(v.length - 4) + v.slice(-1);
}
function renderId() { $("id-display").textContent = maskedId(K.id) || "\u00a0"; }
function buildKeypad() {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "0", "⌫"];
  $("keypad").replaceChildren(...keys.map(k => HC.el("button", { "data-key": k, text: k, onclick: () => {
    if (k === "⌫") K.id = K.id.slice(0, -1); else if (K.id.length < MAX_LEN[K.mode]) K.id += k;
    renderId(); } })));
}
async function pickup() {
  const caseNo = K.id;
  try {
    const r = await HC.api("POST", "/api/cases/" + encodeURIComponent(caseNo) + "/pickup-ticket",
                           { token: K.token, body: {}, idem: HC.newKey() });
    K.id = ""; renderId();
    if (r.status === 401) return revoked();
    if (!r.ok) { $("checkin-error").textContent = HC.t("pickup_failed", { d: HC.errorText(r) }); return; }
    showTicket(r.body);
  } catch (e) { $("checkin-error").textContent = HC.t("pickup_failed", { d: HC.t("conn_lost") }); }
}
const checkIn = HC.once(async () => {
  if (!K.id) { $("checkin-error").textContent = HC.t("enter_number"); return; }
  if (K.mode === "pickup") return pickup();
  try {
    const r = await HC.api("POST", "/api/appointments/check-in", { token: K.token, body: { identity: K.id }, idem: HC.newKey() });
    K.id = ""; renderId();  // the number leaves the screen at once
    if (r.status === 401) return revoked();
    if (!r.ok) { $("checkin-error").textContent = HC.t("checkin_failed", { d: HC.errorText(r) }); return; }
    showTicket(r.body.ticket);
  } catch (e) { $("checkin-error").textContent = HC.t("checkin_failed", { d: HC.t("conn_lost") }); }
});

async function refresh() {
  const r = await HC.api("GET", "/api/display/kiosk");
  if (!r.ok) throw new Error("kiosk " + r.status);
  K.view = r.body; render();
  // back online: a "connection lost" line from a tap made while it was down is old news
  for (const id of ["home-error", "items-error"]) {
    if ($(id).textContent.includes(HC.t("conn_lost"))) $(id).textContent = "";
  }
}

async function start(token) {
  const r = await HC.api("GET", "/api/whoami", { token });
  if (r.status === 401) throw new Error(HC.t("bad_token"));
  if (!r.ok || !["kiosk", "supervisor", "admin"].includes(r.body.role)) throw new Error(HC.t("wrong_role"));
  K.token = token; HC.saveToken("hc.kiosk.token", true, token);
  screen("home");
  HC.live({ refresh });
}

$("setup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  start($("token").value.trim()).catch(err => { $("setup-error").textContent = err.message; });
});
$("checkin-btn").addEventListener("click", () => { K.mode = "checkin"; screen("checkin"); });
$("pickup-btn").addEventListener("click", () => { K.mode = "pickup"; screen("checkin"); });
$("items-back").addEventListener("click", () => screen("home"));
$("items-any").addEventListener("click", () => issue(K.category.prefix));
$("checkin-back").addEventListener("click", () => screen("home"));
$("checkin-go").addEventListener("click", checkIn);
$("print").addEventListener("click", () => window.print());
$("done").addEventListener("click", () => screen("home"));
HC.mountLangSwitch($("lang-slot"));
HC.applyTexts();
HC.onLang(render);
buildKeypad();
// The hall's time (from the daemon's answers), whatever zone the kiosk's computer is set to.
const tick = () => { $("clock").textContent = HC.hallClock(K.view && K.view.now); };
setInterval(tick, 1000);
tick();
if (K.token) start(K.token).catch(() => screen("setup")); else screen("setup");
