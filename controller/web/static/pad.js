/* The evaluation pad of one window: /pad/N. Idle until the stream says its window
   completed a service (ticket.completed at window N), then the five levels; a low rating
   asks for reasons; POST /api/evaluations with the pad's token. */
"use strict";
HC.addTexts({
  setup: ["设备设置", "Device setup"], welcome: ["欢迎评价我们的服务", "Please rate our service"],
  idle_sub: ["办理完成后，请在此为本次服务评价", "After your service, rate it here"],
  ask: ["请为本次服务（{n}号）评价", "How was your service (ticket {n})?"],
  voluntary: ["评价自愿，您的信息将受到保护", "Rating is voluntary; your data is protected"],
  why: ["请选择不满意的原因（可多选）", "What went wrong? (choose any)"], back: ["返回", "Back"],
  submit: ["提交评价", "Submit"], thanks: ["感谢您的评价！", "Thank you!"],
  l5: ["非常满意", "Very satisfied"], l4: ["满意", "Satisfied"], l3: ["基本满意", "Fair"],
  l2: ["不满意", "Unsatisfied"], l1: ["非常不满意", "Very unsatisfied"],
  need_reason: ["请至少选择一个原因", "Choose at least one reason"], failed: ["提交失败：{d}", "Failed: {d}"],
  already: ["本次服务已评价", "Already rated"],
  anon: ["匿名评价（上报时不含您的身份信息）", "Rate anonymously (your identity is not reported)"],
});
const FACES = { 5: "★★★★★", 4: "★★★★", 3: "★★★", 2: "★★", 1: "★" };
const number = Number(location.pathname.split("/").filter(Boolean)[1]);
const P = { token: HC.storedToken(`hc.pad.${number}.token`, true), reasons: [], pending: null, level: null,
            chosen: new Set(), timer: null, anonymous: false };
const $ = (id) => document.getElementById(id);

function screen(name, timeoutMs) {
  for (const s of ["setup", "idle", "rate", "reasons", "thanks"]) $(s).hidden = s !== name;
  document.body.dataset.screen = name;
  clearTimeout(P.timer);
  if (timeoutMs) P.timer = setTimeout(() => {
    if (P.pending) P.offered = P.pending.ticket_id;  // voluntary: not offered again
    P.pending = null; screen("idle");
  }, timeoutMs);
}

function renderLevels() {
  $("rate-error").textContent = "";
  $("ask").textContent = HC.t("ask", { n: P.pending ? P.pending.number : "" });
  $("levels").replaceChildren(...[5, 4, 3, 2, 1].map(l => HC.el("button", { "data-level": l, onclick: () => choose(l) },
    HC.el("span", { class: "face", text: FACES[l] }), HC.el("span", { text: HC.t("l" + l) }))));
  $("reason-list").replaceChildren(...P.reasons.map(r => HC.el("button", {
    "data-code": r.code, class: P.chosen.has(r.code) ? "on" : "", text: r.label,
    onclick: () => { P.chosen.has(r.code) ? P.chosen.delete(r.code) : P.chosen.add(r.code); $("reasons-error").textContent = ""; renderLevels(); } })));
  $("anon").setAttribute("aria-pressed", String(P.anonymous));
  $("idle-win").textContent = HC.t("window_n", { n: number });
  $("pad-title").textContent = HC.t("window_n", { n: number }) + " · " + HC.t("welcome");
}

function choose(level) {
  P.level = level;
  if (level <= 2 && P.reasons.length) { P.chosen.clear(); renderLevels(); screen("reasons", 90000); return; }
  send();
}

// One rating per tap: a double tap is not a second request.
const send = HC.once(async () => {
  const body = { level: P.level, ticket_id: P.pending.ticket_id };
  if (P.anonymous) body.anonymous = true;
  if (P.level <= 2) {
    if (P.reasons.length && !P.chosen.size) { $("reasons-error").textContent = HC.t("need_reason"); return; }
    body.reasons = [...P.chosen];
  }
  try {
    const r = await HC.api("POST", "/api/evaluations", { token: P.token, body, idem: P.pending.ticket_id + ":" + P.level });
    if (!r.ok && !(r.body && r.body.error === "already_evaluated")) {
      $("reasons-error").textContent = HC.t("failed", { d: HC.errorText(r) });
      if (!$("reasons").hidden) return;
      screen("thanks", 4000); $("thanks-sub").textContent = HC.t("failed", { d: HC.errorText(r) });
      return;
    }
    $("thanks-sub").textContent = HC.t("l" + P.level);
    P.pending = null;
    screen("thanks", 5000);
  } catch (e) {  // said on the screen the citizen is looking at, who may tap again
    $(!$("reasons").hidden ? "reasons-error" : "rate-error").textContent = HC.t("failed", { d: HC.t("conn_lost") });
  }
});

async function refresh() {
  const r = await HC.api("GET", "/api/evaluation-reasons");
  if (!r.ok) throw new Error("reasons " + r.status);
  // Every event in the hall re-reads this: the buttons are rebuilt only when the reasons
  // change, so a citizen's slow press is never lost to a rebuild.
  const same = JSON.stringify(r.body.reasons) === JSON.stringify(P.reasons);
  P.reasons = r.body.reasons;
  if (!same) renderLevels();
}

// On every (re)connect: a service that ended while this pad's link was down (the stream
// told it nothing) is offered once, as the live event would have.
async function offerMissed() {
  if (P.pending || document.body.dataset.screen !== "idle") return;
  const p = await HC.api("GET", "/api/evaluations/pending", { token: P.token });
  const s = p.ok && p.body && p.body.pending;
  if (s && s.ticket_id !== P.offered && !P.pending) {
    P.pending = { ticket_id: s.ticket_id, number: s.number }; P.offered = s.ticket_id;
    P.anonymous = false;
    renderLevels(); screen("rate", 60000);
  }
}

async function start(token) {
  const r = await HC.api("GET", "/api/whoami", { token });
  if (r.status === 401) throw new Error(HC.t("bad_token"));
  if (!r.ok || r.body.role !== "pad" || r.body.window !== number) throw new Error(HC.t("wrong_role"));
  P.token = token; HC.saveToken(`hc.pad.${number}.token`, true, token);
  screen("idle");
  HC.live({
    refresh,
    onConnect: () => { offerMissed().catch(() => {}); },  // a failed ask: the next connect asks again
    onEvent(e) {
      if (e.type === "ticket.completed" && e.data.window === number) {
        P.pending = { ticket_id: e.data.ticket_id, number: e.data.number };
        P.offered = e.data.ticket_id;
        P.anonymous = false;  // each citizen chooses for themselves
        renderLevels(); screen("rate", 60000);  // voluntary: back to idle after a minute
      }
    },
  });
}

$("setup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  start($("token").value.trim()).catch(err => { $("setup-error").textContent = err.message; });
});
$("reasons-back").addEventListener("click", () => screen("rate", 60000));
$("reasons-go").addEventListener("click", send);
$("anon").addEventListener("click", () => {
  P.anonymous = !P.anonymous; renderLevels();
  if (P.pending) screen("rate", 60000);  // a touch is a citizen still there: the minute again
});
HC.mountLangSwitch($("lang-slot"));
HC.applyTexts();
HC.onLang(renderLevels);
renderLevels();
if (P.token) start(P.token).catch(() => screen("setup")); else screen("setup");
