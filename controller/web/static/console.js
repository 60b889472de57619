/* The clerk console: /console. Signs in with a token (kept in sessionStorage), acts for
   one window through the same API as curl, and shows the queue that window serves. */
"use strict";
HC.addTexts({
  title: ["窗口工作台", "Clerk console"], call_next: ["叫号", "Call next"], recall: ["重呼", "Recall"],
  no_show: ["过号", "No-show"], transfer: ["转号", "Transfer"], complete: ["办结", "Complete"],
  pause: ["暂停", "Pause"], resume: ["恢复", "Resume"], open: ["开窗", "Open"], close: ["关窗", "Close"],
  to_category: ["转到业务", "To service"], to_window: ["或指定窗口", "Or to window"], reason: ["原因", "Reason"],
  confirm_transfer: ["确认转号", "Transfer"], case_no: ["办件编号（可选）", "Case number (optional)"],
  credit_code: ["统一社会信用代码（企业办事，可选）", "Company credit code (for a company, optional)"],
  err_credit_code: ["统一社会信用代码校验不通过，请核对后重新输入", "The company credit code does not check out: please look again"],
  err_case_no: ["办件编号只能是字母、数字或 _.:/-，最多50位", "A case number is 1-50 letters, digits or _.:/-"],
  confirm_complete: ["确认办结", "Complete"], confirm_pause: ["确认暂停", "Pause"], cancel: ["取消", "Cancel"],
  queue: ["本窗口等候队列", "Queue of this window"], serving: ["正在办理：{cat}，已重呼{n}次", "Serving: {cat}, recalled {n}×"],
  no_current: ["当前无办理中的号码", "No ticket at the window"], any: ["（不指定）", "(any)"],
  done: ["已完成：{what}", "Done: {what}"], called: ["已呼叫 {n}", "Called {n}"], waiting_count: ["等候{n}人", "{n} waiting"],
  nobody: ["暂无等候", "Nobody waiting"], err: ["操作失败：{d}", "Failed: {d}"],
  nobody_waiting: ["队列中没有等候的号", "Nobody is waiting for this window"],
  role_clerk: ["窗口人员", "clerk"], role_supervisor: ["值班长", "supervisor"], role_admin: ["管理员", "admin"],
});
const C = { token: HC.storedToken("hc.console.token", false), who: null, window: null, windows: [], queue: null };
const $ = (id) => document.getElementById(id);

function show(signedIn) {
  $("signin").hidden = signedIn; $("work").hidden = !signedIn; $("signout").hidden = !signedIn;
}

async function signIn(token) {
  const r = await HC.api("GET", "/api/whoami", { token });
  if (r.status === 401) throw new Error(HC.t("bad_token"));
  if (!r.ok) throw new Error(HC.t("err", { d: r.body && r.body.detail }));
  if (!["clerk", "supervisor", "admin"].includes(r.body.role)) throw new Error(HC.t("wrong_role"));
  C.token = token; C.who = r.body; HC.saveToken("hc.console.token", false, token);
  C.window = r.body.window || Number(sessionStorage.getItem("hc.console.window")) || 1;
  $("who").textContent = HC.t("role_" + r.body.role) + (r.body.window ? " · " + HC.t("window_n", { n: r.body.window }) : "");
  show(true);
  if (!C.live) C.live = HC.live({ refresh });
  else await C.live.refresh();
}

function message(text, ok) { const m = $("message"); m.textContent = text; m.className = "message " + (ok ? "ok" : "err"); }

// One action at a time: a double click on 叫号 would complete the citizen just called,
// unserved, and call the next one.
const act = HC.once(async (action, body) => {
  let r;
  try {
    r = await HC.api("POST", `/api/windows/${C.window}/${action}`, { token: C.token, body: body || {}, idem: HC.newKey() });
  } catch (e) {  // the daemon out of reach: say so, the clerk may try again
    message(HC.t("err", { d: HC.t("conn_lost") }), false);
    return false;
  }
  if (!r.ok) {  // the form's own mistakes in the clerk's words, else the refusal in theirs
    const own = { bad_credit_code: "err_credit_code", bad_case_no: "err_case_no" }[r.body && r.body.error];
    message(own ? HC.t(own) : HC.t("err", { d: HC.errorText(r) }), false);
    return false;
  }
  const tk = r.body.ticket;
  if (action === "call-next" && !tk) { message(HC.t("nobody_waiting"), true); await C.live.refresh(); return true; }
  message(action === "call-next" && tk ? HC.t("called", { n: tk.number }) : HC.t("done", { what: HC.t(action.replace("-", "_")) }), true);
  document.querySelectorAll(".panel").forEach(p => { p.hidden = true; });
  await C.live.refresh();
  return true;
});

function renderWindow() {
  const w = C.windows.find(x => x.number === C.window);
  if (!w) return;
  $("win-title").textContent = w.name;
  const badge = $("win-state"); badge.textContent = HC.stateText(w.state); badge.className = "badge " + w.state;
  badge.dataset.state = w.state;
  $("current-number").textContent = w.current ? w.current.number : "—";
  $("current-info").textContent = w.current ? HC.t("serving", { cat: w.current.category_name, n: w.current.recalls }) : HC.t("no_current");
  const has = !!w.current, open = w.state === "open";
  const enabled = {
    "call-next": open, recall: has, "no-show": has, transfer: has, complete: has,
    pause: open, resume: w.state === "paused", open: w.state === "closed", close: w.state !== "closed" && !has,
  };
  document.querySelectorAll(".actions .btn").forEach(b => { b.disabled = !enabled[b.dataset.action || b.dataset.panel]; });
  // the pickers for transfer
  const cats = $("to-category"), wins = $("to-window");
  if (C.queue && cats.options.length !== C.queue.categories.length + 1) {
    cats.replaceChildren(HC.el("option", { value: "", text: HC.t("any") }),
      ...C.queue.categories.map(c => HC.el("option", { value: c.prefix, text: `${c.prefix} ${c.name}` })));
  }
  if (wins.options.length !== C.windows.length || wins.dataset.for !== String(C.window)) {
    wins.dataset.for = String(C.window);  // a supervisor who switches window: not itself
    wins.replaceChildren(HC.el("option", { value: "", text: HC.t("any") }),
      ...C.windows.filter(x => x.number !== C.window).map(x => HC.el("option", { value: x.number, text: x.name })));
  }
  // the queue this window serves
  const q = $("queue");
  q.replaceChildren(...(C.queue ? C.queue.categories.filter(c => w.categories.includes(c.prefix)) : []).map(c =>
    HC.el("div", { class: "cat", "data-prefix": c.prefix },
      HC.el("h3", { text: `${c.prefix} ${c.name} · ${HC.t("waiting_count", { n: c.waiting_count })}` }),
      HC.el("div", { class: "nums" }, ...(c.waiting.length ? c.waiting.slice(0, 40).map(t =>
        HC.el("span", { class: t.priority ? "prio" : "", title: t.priority || "", text: t.number + (t.directed_window ? "→" + t.directed_window : "") }))
        : [HC.el("span", { class: "muted", text: HC.t("nobody") })])))));
}

async function refresh() {
  const [w, q] = await Promise.all([HC.api("GET", "/api/windows"), HC.api("GET", "/api/queue")]);
  if (!w.ok || !q.ok) throw new Error("refresh");
  C.windows = w.body.windows; C.queue = q.body;
  const pick = $("window-pick");
  if (C.who && C.who.role !== "clerk") {
    pick.hidden = false;
    if (pick.options.length !== C.windows.length) {
      pick.replaceChildren(...C.windows.map(x => HC.el("option", { value: x.number, text: x.name })));
    }
    pick.value = String(C.window);
  }
  renderWindow();
}

document.querySelectorAll(".actions .btn").forEach(b => b.addEventListener("click", () => {
  if (b.dataset.action) { act(b.dataset.action); return; }
  document.querySelectorAll(".panel").forEach(p => { p.hidden = p.id !== "panel-" + b.dataset.panel; });
  const first = document.querySelector(`#panel-${b.dataset.panel} input, #panel-${b.dataset.panel} select`);
  if (first) first.focus();
}));
document.querySelectorAll("[data-cancel]").forEach(b => b.addEventListener("click", () => { b.closest(".panel").hidden = true; }));
$("panel-transfer").addEventListener("submit", (e) => {
  e.preventDefault();
  const body = { reason: $("transfer-reason").value.trim() };
  if ($("to-category").value) body.to_category = $("to-category").value;
  if ($("to-window").value) body.to_window = Number($("to-window").value);
  act("transfer", body).then(ok => { if (ok) $("transfer-reason").value = ""; });
});
$("panel-complete").addEventListener("submit", (e) => {
  e.preventDefault();
  // For a company's business, its credit code makes the review report name the company
  // (userProp 2); the daemon checks it and says so when a character is wrong.
  const no = $("case-no").value.trim(), company = $("credit-code").value.trim();
  const body = {};
  if (no) body.case_no = no;
  if (company) body.credit_code = company;
  act("complete", body).then(ok => { if (ok) { $("case-no").value = ""; $("credit-code").value = ""; } });
});
$("panel-pause").addEventListener("submit", (e) => {
  e.preventDefault();
  act("pause", { reason: $("pause-reason").value.trim() }).then(ok => { if (ok) $("pause-reason").value = ""; });
});
$("window-pick").addEventListener("change", (e) => {
  C.window = Number(e.target.value); sessionStorage.setItem("hc.console.window", C.window); renderWindow();
});
$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try { await signIn($("token").value.trim()); $("signin-error").textContent = ""; }
  catch (err) { $("signin-error").textContent = err.message; }
});
$("signout").addEventListener("click", () => { HC.saveToken("hc.console.token", false, null); location.reload(); });

HC.mountLangSwitch($("lang-slot"));
HC.applyTexts();
HC.onLang(renderWindow);
if (C.token) signIn(C.token).catch(() => { HC.saveToken("hc.console.token", false, null); show(false); $("signin").hidden = false; });
else { show(false); }
