/* The hall wall: current calls, waiting per category, notices; speaks calls when the
   hall's voice backend is "browser". Content from /api/display/hall (the one composer). */
"use strict";
HC.addTexts({
  now_calling: ["正在呼叫", "Now calling"], number: ["号码", "Number"], window: ["窗口", "Window"],
  business: ["业务", "Service"], waiting: ["等候人数", "Waiting"], waiting_n: ["等候", "Waiting"],
  est: ["预计等候", "Est. wait"], no_calls: ["请取号等候叫号", "Please take a ticket and wait to be called"],
  sound_off: ["声音已关闭 · 点击开启声音", "Sound is off · click to enable"],
  sound_on: ["声音已开启", "Sound on"],
  sound_blocked: ["浏览器阻止了声音 · 请点击开启", "Browser blocked sound · click to enable"],
  sound_remote: ["由大厅广播播报", "Announced on the hall speakers"],
  call_line: ["请{number}号到{window}号窗口办理", "Number {number}, please go to window {window}"],
  welcome: ["欢迎光临", "Welcome"],
  ticker_default: ["欢迎来到{hall}，请取号后在休息区等候，留意叫号", "Welcome to {hall}. Take a ticket and wait for your number"],
});
const Hall = {
  view: null, sound: localStorage.getItem("hc.sound") === "on", blocked: false, flashUntil: 0,
  pending: [],  // calls heard on the stream, spoken once the refreshed view has their text
};

function renderSound() {
  const b = document.getElementById("sound");
  const remote = Hall.view && Hall.view.voice.backend !== "browser";
  let key = remote ? "sound_remote" : Hall.blocked ? "sound_blocked" : Hall.sound ? "sound_on" : "sound_off";
  b.textContent = HC.t(key);
  b.className = "sound " + (key === "sound_on" || key === "sound_remote" ? "on" : "off");
  b.dataset.state = key.replace("sound_", "");
}

document.getElementById("sound").addEventListener("click", () => {
  // The click is the user gesture browsers require; the choice is remembered.
  Hall.sound = !Hall.sound || Hall.blocked;
  Hall.blocked = false;
  localStorage.setItem("hc.sound", Hall.sound ? "on" : "off");
  if (Hall.sound && window.speechSynthesis) {
    const u = new SpeechSynthesisUtterance(HC.t("welcome"));
    u.lang = "zh-CN"; u.volume = 0.6;
    speechSynthesis.speak(u);
  }
  renderSound();
});

function speak(call) {
  if (!Hall.view || Hall.view.voice.backend !== "browser" || !Hall.sound || !window.speechSynthesis) return;
  const voices = speechSynthesis.getVoices();
  const zh = voices.find(v => /^zh(-CN|_CN)?/i.test(v.lang));
  // One queue: speechSynthesis plays utterances in order, never two at once.
  for (let i = 0; i < Hall.view.voice.repeat; i++) {
    const u = new SpeechSynthesisUtterance(call.speech);
    u.lang = "zh-CN"; u.rate = 0.9;
    if (zh) u.voice = zh;
    u.onerror = (e) => { if (e.error === "not-allowed") { Hall.blocked = true; renderSound(); } };
    speechSynthesis.speak(u);
  }
  document.body.dataset.lastSpoken = call.speech;
}

// The latest call must be read whole from across the hall: shrink it to fit, never cut it.
function fitText(el) {
  el.style.fontSize = "";
  let size = parseFloat(getComputedStyle(el).fontSize);
  while (el.scrollWidth > el.clientWidth + 1 && size > 24) { size -= 4; el.style.fontSize = size + "px"; }
}

function render() {
  const v = Hall.view; if (!v) return;
  document.getElementById("hall-name").textContent = v.hall_name;
  document.title = v.hall_name + " 叫号屏";
  const latest = document.getElementById("latest");
  if (v.calls.length) {
    const c = v.calls[0];
    latest.textContent = HC.getLang() === "en" ? HC.t("call_line", { number: c.number, window: c.window }) : c.text;
    latest.classList.remove("empty");
  } else {
    latest.textContent = HC.t("no_calls"); latest.classList.add("empty");
  }
  fitText(latest);
  const tbody = document.getElementById("calls");
  tbody.replaceChildren(...v.calls.slice(0, 6).map(c => HC.el("tr", { "data-number": c.number },
    HC.el("td", { class: "num", text: c.number }),
    HC.el("td", { class: "win", text: HC.t("window_n", { n: c.window }) }),
    HC.el("td", { text: c.category_name }))));
  const wt = document.getElementById("waiting");
  wt.closest("section").style.setProperty("--rows", String(Math.max(8, v.waiting.length)));
  wt.replaceChildren(...v.waiting.map(w => HC.el("tr", { "data-prefix": w.prefix },
    HC.el("td", { text: `${w.prefix} ${w.name}` }),
    HC.el("td", { class: "count", text: HC.t("people", { n: w.waiting }) }),
    HC.el("td", { class: "est", text: w.waiting ? HC.t("minutes", { n: w.estimated_wait_min }) : "—" }))));
  const n = document.getElementById("notices");
  const items = v.notices.map(x => x.text);
  const advice = v.advice || Hall.offPeak;
  if (advice) items.push(advice);
  if (!items.length) items.push(HC.t("ticker_default", { hall: v.hall_name }));
  const texts = JSON.stringify(items);
  if (n.dataset.texts !== texts) {  // unchanged notices keep scrolling where they are
    n.dataset.texts = texts;
    n.replaceChildren(...items.map(x => HC.el("span", { text: x })));
  }
  layoutTicker();
  renderSound();
}

// The ticker: notices that fit the width stand still; longer ones scroll at a steady
// reading speed, whatever their length (the duration follows the distance travelled).
const TICKER_SPEED = 140;  // px per second
function layoutTicker() {
  const n = document.getElementById("notices"), bar = n.parentElement;
  if (!n.firstElementChild) return;
  const first = n.firstElementChild.getBoundingClientRect(), last = n.lastElementChild.getBoundingClientRect();
  const textWidth = last.right - first.left;  // the same whether still or moving
  const pad = 2 * 32;  // .notices.still's padding left and right
  const still = textWidth + pad <= bar.clientWidth;
  n.classList.toggle("still", still);
  // It travels its whole width: the bar's width (padding-left: 100%) plus the text.
  const duration = still ? "" : ((bar.clientWidth + textWidth) / TICKER_SPEED).toFixed(1) + "s";
  if (n.style.animationDuration !== duration) n.style.animationDuration = duration;
}
window.addEventListener("resize", layoutTicker);
if (document.fonts) document.fonts.ready.then(layoutTicker);

// Off-peak advice (错时办事): the composer's `advice` when a module registers one, else
// the flow statistics' own text from /api/off-peak where the daemon has it (read rarely:
// it changes once a day). Missing or failing, the wall simply has no advice line.
async function loadOffPeak() {
  if (Date.now() - (Hall.offPeakAt || 0) < 600000) return;
  Hall.offPeakAt = Date.now();
  try {
    const r = await HC.api("GET", "/api/off-peak", { timeout: 5000 });
    Hall.offPeak = r.ok && r.body && r.body.text ? r.body.text : null;
  } catch (e) { Hall.offPeak = null; }
}

async function refresh() {
  const r = await HC.api("GET", "/api/display/hall");
  if (!r.ok) throw new Error("display " + r.status);
  const before = Hall.view && Hall.view.calls[0];
  Hall.view = r.body;
  loadOffPeak().then(render);
  const top = Hall.view.calls[0];
  if (top && (!before || before.number !== top.number || before.at !== top.at)) {
    const latest = document.getElementById("latest");
    latest.classList.remove("flash"); void latest.offsetWidth; latest.classList.add("flash");
  }
  render();
  // Speak what the stream announced, with the text the hall composed.
  const still = [];
  for (const p of Hall.pending) {
    const call = Hall.view.calls.find(c => c.number === p.number && c.window === p.window);
    if (call) speak(call); else if (Date.now() - p.at < 3000) still.push(p);
  }
  Hall.pending = still;
}

HC.mountLangSwitch(document.getElementById("lang-slot"));
HC.applyTexts();
HC.onLang(render);
const tick = () => { document.getElementById("clock").textContent = HC.hallClock(Hall.view && Hall.view.now); };
setInterval(tick, 1000); tick();
renderSound();
HC.live({
  refresh,
  onEvent(e) {
    if (["ticket.called", "ticket.recalled", "ticket.called_back"].includes(e.type)) {
      Hall.pending.push({ number: e.data.number, window: e.data.window, at: Date.now() });
    }
  },
});
