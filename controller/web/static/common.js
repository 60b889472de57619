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
        if (msg.type === "hello") { backoff = 500; refresh(); return; }  // full state every (re)connect
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
    if (hallOffsetMin === null) return clockText(new Date());
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

  return { t, addTexts, applyTexts, setLang, getLang, onLang, mountLangSwitch, el, api, newKey, live,
           clockText, hallClock, hhmm, stateText, storedToken, saveToken };
})();
