/* Shared by every hall page: texts in Chinese and English, API calls, and the live
   connection. The live connection re-fetches the page's full state on every (re)connect
   and after every event; while the daemon cannot be reached the page keeps what it shows
   and puts up the 连接中断 banner, never an empty queue. Plain ES2020, no build step. */
"use strict";
const HC = (() => {
  const texts = {
    conn_lost: ["连接中断，正在重新连接…", "Connection lost, reconnecting…"],
    lang: ["English", "中文"],
    signin: ["登录", "Sign in"],
    signout: ["退出", "Sign out"],
    token: ["令牌", "Token"],
    token_hint: ["请输入管理员发放的令牌（hallctl token create）", "Enter the token from your administrator (hallctl token create)"],
    bad_token: ["令牌无效或已撤销", "Unknown or revoked token"],
    wrong_role: ["此令牌不能用于本页面", "This token cannot be used on this page"],
    window_n: ["{n}号窗口", "Window {n}"],
    people: ["{n}人", "{n}"],
    minutes: ["约{n}分钟", "about {n} min"],
    st_open: ["服务中", "Open"], st_paused: ["暂停服务", "Paused"], st_closed: ["已关闭", "Closed"],
    none: ["无", "none"],
    // The daemon's refusals people meet at the kiosk, the pad and the console, in their
    // language (the API's `detail` is English, for engineers). Others: a generic line.
    err_generic: ["无法办理（{code}），请咨询工作人员", "Not possible ({code}): please ask the staff"],
    err_unauthorized: ["设备令牌无效或已撤销，请联系管理员", "This device's token is unknown or revoked: call the administrator"],
    err_bad_identity: ["身份证号码或手机号码有误，请核对后重新输入", "That ID or mobile number is not valid: please check it"],
    err_appointment_not_found: ["未找到您今天的预约", "No appointment found for you today"],
    err_outside_slot: ["不在预约签到时间内：{detail}", "Outside your check-in time: {detail}"],
    err_not_today: ["您的预约不在今天", "Your appointment is not today"],
    err_appointment_not_booked: ["该预约已签到或已取消", "This appointment was already used or cancelled"],
    err_case_not_found: ["未找到该办件编号，请核对", "No such case number: please check it"],
    err_not_ready: ["该办件尚未办结，暂不能取件", "This case is not ready for collection yet"],
    err_pickup_ticket_exists: ["该办件已取过取件号", "A pickup ticket was already taken for this case"],
    err_quota_reached: ["今日该业务号已取完", "Today's tickets for this service are all taken"],
    err_numbers_exhausted: ["今日该业务号已取完", "Today's tickets for this service are all taken"],
    err_person_limit: ["您今日取号次数已达上限", "You have taken the most tickets allowed today"],
    err_hall_closed: ["当前不在取号时间：{detail}", "Outside ticket hours: {detail}"],
    err_already_evaluated: ["本次服务已评价", "Already rated"],
    err_recall_limit: ["已达重呼次数上限，请做过号处理", "Recalled as often as allowed: mark it a no-show"],
    err_window_paused: ["窗口暂停中，请先恢复服务", "The window is paused: resume it first"],
    err_no_current_ticket: ["当前没有正在办理的号", "No ticket is being served"],
    err_wrong_window: ["该号不属于本窗口", "That ticket is not this window's"],
  };
  let lang = localStorage.getItem("hc.lang") === "en" ? "en" : "zh";

  function addTexts(more) { Object.assign(texts, more); }
  function t(key, vars) {
    const pair = texts[key];
    let s = pair ? pair[lang === "en" ? 1 : 0] : key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }
  function applyTexts(root) {
    (root || document).querySelectorAll("[data-t]").forEach(el => { el.textContent = t(el.dataset.t); });
    (root || document).querySelectorAll("[data-t-placeholder]").forEach(el => {
      el.placeholder = t(el.dataset.tPlaceholder);
    });
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  }
  const langListeners = [];
  function onLang(fn) { langListeners.push(fn); }
  function setLang(value) {
    lang = value; localStorage.setItem("hc.lang", value); applyTexts();
    langListeners.forEach(fn => fn());
  }
  function mountLangSwitch(el) {
    const b = document.createElement("button");
    b.className = "lang-switch"; b.dataset.t = "lang"; b.id = "lang";
    b.addEventListener("click", () => setLang(lang === "en" ? "zh" : "en"));
    el.appendChild(b);
  }
  function getLang() { return lang; }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  async function api(method, path, opts) {
    opts = opts || {};
    const headers = {};
    if (opts.token) headers["Authorization"] = "Bearer " + opts.token;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.idem) headers["Idempotency-Key"] = opts.idem;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), opts.timeout || 8000);
    try {
      const resp = await fetch(path, { method, headers, signal: ctrl.signal, cache: "no-store",
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined });
      let body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      return { status: resp.status, ok: resp.ok, body };
    } finally { clearTimeout(timer); }
  }
  function newKey() {
    return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  }

  /* live({refresh, onEvent}): refresh() fetches everything the page shows (throws when the
     daemon cannot be reached); onEvent(event) sees each committed event. */
  function live(opts) {
    const banner = document.getElementById("conn") || document.body.appendChild(el("div", { id: "conn" }));
    banner.dataset.t = "conn_lost"; banner.textContent = t("conn_lost");
    let ws = null, backoff = 500, online = false, timer = null, refreshing = null, again = false;
    const status = { online: false, lastOk: 0 };
    function setOnline(v) {
      online = v; status.online = v;
      document.body.classList.toggle("offline", !v);
      document.body.dataset.conn = v ? "online" : "offline";
    }
    async function refresh() {
      if (refreshing) { again = true; return refreshing; }
      refreshing = (async () => {
        do {
          again = false;
          try { await opts.refresh(); status.lastOk = Date.now(); if (ws && ws.readyState === 1) setOnline(true); }
          catch (e) { setOnline(false); }
        } while (again);
      })();
      try { await refreshing; } finally { refreshing = null; }
    }
    function connect() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      try { ws = new WebSocket(proto + "//" + location.host + "/api/stream"); }
      catch (e) { return retry(); }
      ws.onmessage = (m) => {
        let msg; try { msg = JSON.parse(m.data); } catch (e) { return; }
        if (msg.type === "hello") {  // full state every (re)connect
          backoff = 500; refresh();
          if (opts.onConnect) { try { opts.onConnect(); } catch (e) { console.error(e); } }
          return;
        }
        if (msg.type === "event") {
          if (opts.onEvent) { try { opts.onEvent(msg.event); } catch (e) { console.error(e); } }
          clearTimeout(timer); timer = setTimeout(refresh, 60);
        }
      };
      ws.onclose = () => { setOnline(false); retry(); };
      ws.onerror = () => { try { ws.close(); } catch (e) { /* closed */ } };
    }
    function retry() {
      ws = null;
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
    // Staleness: a socket can look open while the daemon is gone (a cable pulled). Ask
    // /healthz every few seconds; if it fails, say so and start over.
    setInterval(async () => {
      try {
        const r = await api("GET", "/healthz", { timeout: 3000 });
        if (!r.ok) throw new Error("unhealthy");
        if (!status.online && ws && ws.readyState === 1) refresh();
      } catch (e) {
        setOnline(false);
        if (ws) { try { ws.close(); } catch (x) { /* closed */ } }
      }
    }, opts.healthEveryMs || 4000);
    setOnline(false);
    connect();
    return { refresh, status };
  }

  function clockText(d) {
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  /* The time in the hall's zone (taken from the offset of a server timestamp such as
     2026-11-27T09:30:00+08:00), whatever zone the display device is set to. */
  let hallOffsetMin = null;
  function hallClock(serverIso) {
    const m = serverIso && serverIso.match(/([+-])(\d\d):(\d\d)$/);
    if (m) hallOffsetMin = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
    if (hallOffsetMin === null) return "";  // not the browser's zone: nothing until the hall's is known
    const d = new Date(Date.now() + hallOffsetMin * 60000);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  }
  function hhmm(iso) { return iso ? iso.slice(11, 16) : ""; }
  function stateText(s) { return t("st_" + s); }

  /* A device token kept in the browser: sessionStorage for people (console, dashboard),
     localStorage for devices fixed to a place (kiosk, pad). `#token=...` in the address
     installs one without typing. */
  function storedToken(key, persistent) {
    const store = persistent ? localStorage : sessionStorage;
    const m = location.hash.match(/token=([^&]+)/);
    if (m) { store.setItem(key, decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname + location.search); }
    return store.getItem(key);
  }
  function saveToken(key, persistent, value) {
    (persistent ? localStorage : sessionStorage)[value ? "setItem" : "removeItem"](key, value);
  }

  /* What to tell a person about a failed answer `r` ({status, body}): the refusal in their
     language where there is a text for its code; in English the daemon's own detail. */
  function errorText(r) {
    const code = (r && r.body && r.body.error) || (r && r.status === 401 ? "unauthorized" : "");
    const detail = (r && r.body && r.body.detail) || "";
    if (texts["err_" + code]) {
      // a time in the detail ("from 09:30 to 10:45") says more than any fixed text
      const times = (detail.match(/\d{1,2}:\d{2}(?:\D+\d{1,2}:\d{2})?/) || [""])[0];
      return t("err_" + code, { detail: times || detail });
    }
    if (lang === "en" && detail) return detail;
    return t("err_generic", { code: code || (r ? r.status : "?") });
  }
  /* A button's action that must not run twice at once (a double tap, a tap while the first
     answer is on its way): calls while one is running are dropped. */
  function once(fn) {
    let busy = false;
    return async (...args) => {
      if (busy) return;
      busy = true;
      try { return await fn(...args); } finally { busy = false; }
    };
  }
  return { t, addTexts, applyTexts, setLang, getLang, onLang, mountLangSwitch, el, api, newKey, live,
           clockText, hallClock, hhmm, stateText, storedToken, saveToken, errorText, once };
})();
