/* The screen above one window: /window/N. Content from /api/display/windows/N. */
"use strict";
HC.addTexts({
  serving_prefix: ["请", "Now serving"], serving_suffix: ["号办理", ""],
  idle: ["热情为您服务", "At your service"], paused: ["暂停服务", "Paused"], closed: ["暂停服务", "Closed"],
  serves: ["办理：{list}", "Serves: {list}"], no_window: ["没有这个窗口", "No such window"],
});
const number = Number(location.pathname.split("/").filter(Boolean)[1]);
let view = null, lastCall = null;

function render() {
  if (!view) return;
  document.getElementById("wnum").textContent = HC.t("window_n", { n: view.number });
  document.getElementById("wname").textContent = view.name.replace(/^\d+号窗口\s*/, "");
  const main = document.getElementById("screen");
  main.dataset.mode = view.mode;
  const [l1, l2, l3] = ["line1", "line2", "line3"].map(id => document.getElementById(id));
  const cats = view.categories.map(c => c.name).join("、");
  if (view.mode === "serving") {
    l1.textContent = HC.t("serving_prefix");
    l2.textContent = view.current.number;
    l3.textContent = (HC.getLang() === "en" ? "" : HC.t("serving_suffix") + " · ") + view.current.category_name;
  } else if (view.mode === "idle") {
    l1.textContent = ""; l2.textContent = HC.t("idle"); l3.textContent = HC.t("serves", { list: cats });
  } else {
    l1.textContent = ""; l2.textContent = HC.t(view.mode);
    l3.textContent = view.pause_reason || "";
  }
  document.title = HC.t("window_n", { n: view.number });
}

async function refresh() {
  const r = await HC.api("GET", `/api/display/windows/${number}`);
  if (r.status === 404) { document.getElementById("line2").textContent = HC.t("no_window"); return; }
  if (!r.ok) throw new Error("display " + r.status);
  view = r.body;
  const call = view.current ? view.current.number + "@" + view.current.called_at : null;
  if (call && call !== lastCall) {  // a new call or a recall: flash about 3 s
    const main = document.getElementById("screen");
    main.classList.remove("flash"); void main.offsetWidth; main.classList.add("flash");
  }
  lastCall = call;
  render();
}

HC.mountLangSwitch(document.getElementById("lang-slot"));
HC.applyTexts();
HC.onLang(render);
HC.live({ refresh });
