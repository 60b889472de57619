/* Charts of the supervisors' dashboard, drawn as inline SVG (no library, no CDN):
   arrivals per half hour against capacity, mean/p90 wait per half hour, the evaluation
   distribution and Table 1 staffing against the windows open. Each chart is drawn at the
   pixel width of its box (not stretched by a viewBox), so the text stays crisp and no
   label falls off the edge; the page draws again when the box changes size.
   Data: GET /api/flow and GET /api/staffing (docs/flow.md, "For the dashboard"). */
"use strict";
const HCCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const H = 230;  // chart height, px
  HC.addTexts({
    ch_issued: ["取号", "Tickets"], ch_over: ["超过接待能力", "Above capacity"], ch_capacity: ["接待能力", "Capacity"],
    ch_cap_note: ["接待能力 = 开放窗口数 × 30 ÷ 平均办理 {m} 分钟", "capacity = windows open × 30 ÷ {m} min per service"],
    ch_cap_none: ["暂无办理时长，未画接待能力", "No service times yet: capacity not drawn"],
    ch_mean: ["平均等候", "Mean wait"], ch_p90: ["90%等候", "p90 wait"], ch_min_axis: ["分钟", "min"],
    ch_no_data: ["今日暂无数据", "No data today yet"], ch_no_waits: ["今日暂无叫号", "No calls today yet"],
    ch_no_evals: ["今日暂无评价", "No ratings today yet"],
    ch_rec: ["表1建议", "Table 1"], ch_open: ["开放窗口", "Windows open"], ch_no_window: ["无窗口", "no window"],
    ch_outside: ["非办公时段", "outside opening hours"],
    lvl_5: ["非常满意", "Very satisfied"], lvl_4: ["满意", "Satisfied"], lvl_3: ["基本满意", "Fairly satisfied"],
    lvl_2: ["不满意", "Dissatisfied"], lvl_1: ["非常不满意", "Very dissatisfied"],
    post_guide: ["导服", "Guide"], post_consult_onsite: ["现场咨询", "Consult"], post_consult_online: ["线上咨询", "Web consult"],
    post_intake: ["综合受理", "Intake"], post_self_service: ["自助服务", "Self-service"], post_online: ["网上办理", "Online"],
    post_pickup: ["出件", "Pickup"],
  });

  function s(tag, attrs, ...children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const title = (text) => s("title", {}, text);
  /* A round top for the y axis and its ticks: whole steps of 1, 2 or 5 times a power of
     ten (counts and minutes), about four of them. */
  function scale(max) {
    if (!(max > 0)) max = 1;
    const raw = max / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = Math.max(1, [1, 2, 5, 10].map(m => m * p).find(x => x >= raw));
    const top = Math.ceil(max / step) * step;
    const ticks = [];
    for (let v = 0; v <= top; v += step) ticks.push(v);
    return { top, ticks };
  }
  function frame(box, name, w, m) {
    const svg = s("svg", { width: w, height: H, "data-chart": name, role: "img", class: "chart-svg" });
    box.replaceChildren(svg);
    return { svg, x0: m.l, y0: m.t, pw: w - m.l - m.r, ph: H - m.t - m.b };
  }
  function yAxis(f, sc, unit) {
    for (const v of sc.ticks) {
      const y = f.y0 + f.ph - (v / sc.top) * f.ph;
      f.svg.append(s("line", { x1: f.x0, x2: f.x0 + f.pw, y1: y, y2: y, class: v ? "grid" : "axis" }),
        s("text", { x: f.x0 - 6, y: y + 4, "text-anchor": "end", class: "tick" }, String(v)));
    }
    if (unit) f.svg.append(s("text", { x: f.x0 + 4, y: f.y0 - 3, class: "tick unit" }, unit));
  }
  /* Slot labels under the x axis: one an hour, or one every two hours when they would
     crowd; none that would run past the right edge. */
  function xLabels(f, slots, bw) {
    const every = bw * 2 >= 44 ? 2 : 4;
    slots.forEach((sl, i) => {
      if (i % every !== 0) return;
      const x = f.x0 + i * bw;
      if (i !== 0 && x + 18 > f.x0 + f.pw) return;
      f.svg.append(s("text", { x, y: f.y0 + f.ph + 16, "text-anchor": i === 0 ? "start" : "middle",
        class: "tick" }, HC.hhmm(sl.start)));
    });
  }
  function legend(box, items, note) {
    const lg = HC.el("div", { class: "legend" }, ...items.map(([cls, text]) =>
      HC.el("span", { class: "lg" }, HC.el("i", { class: "sw " + cls }), text)));
    if (note) lg.append(HC.el("span", { class: "lg-note muted", text: note }));
    box.append(lg);
  }
  function empty(box, name, text) {
    box.replaceChildren(s("svg", { width: 1, height: 1, "data-chart": name, class: "chart-svg empty" }),
      HC.el("div", { class: "chart-empty muted", text }));
  }
  const width = (box) => Math.max(280, Math.floor(box.clientWidth));

  function arrivals(box, flow) {
    if (!box.clientWidth) return;
    const slots = flow.slots || [];
    if (!slots.length) return empty(box, "arrivals", HC.t("ch_no_data"));
    // The capacity line is the API's (controller/core/flow.py): each slot's `capacity`, and
    // the service time it was reckoned with, null before the day's first completed service.
    const minutes = flow.capacity_basis_min ?? null;
    const caps = slots.map(sl => sl.capacity ?? null);
    const w = width(box);
    const f = frame(box, "arrivals", w, { l: 36, r: 10, t: 14, b: 24 });
    // The axis follows the arrivals; a capacity far above them (a quiet hour with many
    // windows open) is drawn along the top, its figure written at the line's end.
    const most = Math.max(4, ...slots.map(x => x.issued));
    const sc = scale(Math.max(most, Math.min(Math.max(0, ...caps.filter(c => c !== null)), most * 2)));
    yAxis(f, sc);
    const bw = f.pw / slots.length;
    const y = (v) => f.y0 + f.ph - (v / sc.top) * f.ph;
    slots.forEach((sl, i) => {
      const h = f.y0 + f.ph - y(sl.issued);
      const tip = `${HC.hhmm(sl.start)}-${HC.hhmm(sl.end)} ${HC.t("ch_issued")} ${sl.issued}` +
        (caps[i] !== null ? ` / ${HC.t("ch_capacity")} ${caps[i]}` : "") +
        (sl.in_opening_hours === false ? ` (${HC.t("ch_outside")})` : "");
      f.svg.append(s("rect", { x: f.x0 + i * bw + bw * 0.12, y: y(sl.issued), width: Math.max(1, bw * 0.76),
        height: Math.max(0, h), class: "bar" + (sl.in_opening_hours === false ? " outside" : "") +
        (caps[i] !== null && sl.issued > caps[i] ? " over" : ""), "data-slot": HC.hhmm(sl.start) }, title(tip)));
    });
    if (minutes !== null) {
      let d = "";
      const yc = (c) => Math.max(f.y0, y(c));
      caps.forEach((c, i) => { d += `${i ? "L" : "M"}${f.x0 + i * bw},${yc(c)} L${f.x0 + (i + 1) * bw},${yc(c)} `; });
      const last = caps[caps.length - 1];
      f.svg.append(s("path", { d: d.trim(), class: "cap" }, title(HC.t("ch_capacity"))),
        s("text", { x: f.x0 + f.pw, y: yc(last) - 3, "text-anchor": "end", class: "cap-value" },
          (last > sc.top ? "↑" : "") + last));
    }
    xLabels(f, slots, bw);
    const items = [["bar", HC.t("ch_issued")], ["cap", HC.t("ch_capacity")]];
    if (caps.some((c, i) => c !== null && slots[i].issued > c)) items.splice(1, 0, ["over", HC.t("ch_over")]);
    legend(box, items,
      minutes !== null ? HC.t("ch_cap_note", { m: minutes }) : HC.t("ch_cap_none"));
  }

  function waits(box, flow) {
    if (!box.clientWidth) return;
    const slots = flow.slots || [];
    if (!slots.some(x => x.wait_mean_min !== null)) return empty(box, "waits", HC.t("ch_no_waits"));
    const w = width(box);
    const f = frame(box, "waits", w, { l: 36, r: 10, t: 14, b: 24 });
    const sc = scale(Math.max(4, ...slots.map(x => x.wait_p90_min || 0), ...slots.map(x => x.wait_mean_min || 0)));
    yAxis(f, sc, HC.t("ch_min_axis"));
    const bw = f.pw / slots.length;
    const y = (v) => f.y0 + f.ph - (v / sc.top) * f.ph;
    for (const [key, cls, label] of [["wait_p90_min", "p90", "ch_p90"], ["wait_mean_min", "mean", "ch_mean"]]) {
      let d = "", pen = "M";
      const pts = [];
      slots.forEach((sl, i) => {
        const v = sl[key];
        if (v === null || v === undefined) { pen = "M"; return; }
        const cx = f.x0 + (i + 0.5) * bw, cy = y(v);
        d += `${pen}${cx},${cy} `; pen = "L";
        pts.push(s("circle", { cx, cy, r: 3.5, class: "pt pt-" + cls, "data-slot": HC.hhmm(sl.start) },
          title(`${HC.hhmm(sl.start)}-${HC.hhmm(sl.end)} ${HC.t(label)} ${v} ${HC.t("ch_min_axis")}`)));
      });
      f.svg.append(s("path", { d: d.trim(), class: "line line-" + cls }), ...pts);
    }
    xLabels(f, slots, bw);
    legend(box, [["mean", HC.t("ch_mean")], ["p90", HC.t("ch_p90")]]);
  }

  function evaluations(box, flow) {
    if (!box.clientWidth) return;
    const ev = (flow.totals && flow.totals.evaluations) || {};
    const levels = [5, 4, 3, 2, 1];
    const total = levels.reduce((n, l) => n + (ev[String(l)] || 0), 0);
    const w = width(box);
    const f = frame(box, "evals", w, { l: HC.getLang() === "en" ? 124 : 88, r: 76, t: 8, b: 8 });
    const max = Math.max(1, ...levels.map(l => ev[String(l)] || 0));
    const rh = f.ph / levels.length;
    levels.forEach((l, i) => {
      const n = ev[String(l)] || 0;
      const yy = f.y0 + i * rh;
      const bw = (n / max) * f.pw;
      const pct = total ? Math.round((n / total) * 100) : 0;
      f.svg.append(
        s("text", { x: f.x0 - 8, y: yy + rh / 2 + 5, "text-anchor": "end", class: "label" }, HC.t("lvl_" + l)),
        s("rect", { x: f.x0, y: yy + rh * 0.18, width: f.pw, height: rh * 0.64, class: "track" }),
        s("rect", { x: f.x0, y: yy + rh * 0.18, width: Math.max(n ? 2 : 0, bw), height: rh * 0.64,
          class: "bar lvl-" + l, "data-level": l }, title(`${HC.t("lvl_" + l)} ${n}`)),
        s("text", { x: f.x0 + f.pw + 8, y: yy + rh / 2 + 5, class: "value", "data-level": l }, `${n} · ${pct}%`));
    });
    if (!total) legend(box, [], HC.t("ch_no_evals"));
  }

  /* Table 1 against windows open, per post: `now` (today: the last 30 minutes' 5-minute
     peak) or else the busiest half hour of the day. */
  function staffing(box, st) {
    if (!box.clientWidth) return null;
    let posts = null, caption = "";
    if (st.now) {
      posts = st.now.posts;
      caption = { zh: `当前：近30分钟5分钟高峰 ${st.now.peak_5min_last_30min} 人，档位 ${st.now.recommended.band}`,
                  en: `Now: 5-min peak of the last 30 min ${st.now.peak_5min_last_30min}, band ${st.now.recommended.band}` };
    } else if (st.slots && st.slots.length) {
      const peak = st.slots.reduce((a, b) => (b.peak_5min > a.peak_5min ? b : a));
      posts = peak.posts;
      caption = { zh: `高峰时段 ${HC.hhmm(peak.start)}-${HC.hhmm(peak.end)}，5分钟高峰 ${peak.peak_5min} 人`,
                  en: `Busiest half hour ${HC.hhmm(peak.start)}-${HC.hhmm(peak.end)}, 5-min peak ${peak.peak_5min}` };
    }
    if (!posts) { empty(box, "staffing", HC.t("ch_no_data")); return null; }
    const w = width(box);
    const f = frame(box, "staffing", w, { l: 30, r: 8, t: 14, b: 24 });
    const sc = scale(Math.max(4, ...posts.map(p => Math.max(p.recommended, p.open || 0))));
    yAxis(f, sc);
    const gw = f.pw / posts.length;
    const y = (v) => f.y0 + f.ph - (v / sc.top) * f.ph;
    const bw = Math.min(28, gw * 0.36);
    posts.forEach((p, i) => {
      const cx = f.x0 + (i + 0.5) * gw;
      const name = HC.t("post_" + p.post);
      f.svg.append(s("rect", { x: cx - bw - 1, y: y(p.recommended), width: bw, height: f.y0 + f.ph - y(p.recommended),
        class: "bar-rec", "data-post": p.post }, title(`${name} ${HC.t("ch_rec")} ${p.recommended}`)));
      if (p.open === null || p.open === undefined) {
        f.svg.append(s("text", { x: cx + 1 + bw / 2, y: f.y0 + f.ph - 4, "text-anchor": "middle", class: "na" }, "—"));
      } else if (p.open === 0) {
        f.svg.append(s("text", { x: cx + 1 + bw / 2, y: f.y0 + f.ph - 4, "text-anchor": "middle",
          class: "zero" + (p.short ? " short" : "") }, "0"));
        f.svg.append(s("rect", { x: cx + 1, y: f.y0 + f.ph, width: bw, height: 0, class: "bar-open short", "data-post": p.post }));
      } else {
        f.svg.append(s("rect", { x: cx + 1, y: y(p.open), width: bw, height: f.y0 + f.ph - y(p.open),
          class: "bar-open" + (p.short ? " short" : ""), "data-post": p.post },
          title(`${name} ${HC.t("ch_open")} ${p.open}` + (p.short ? ` (-${p.short})` : ""))));
      }
      f.svg.append(s("text", { x: cx, y: f.y0 + f.ph + 16, "text-anchor": "middle", class: "tick post" }, name));
    });
    legend(box, [["rec", HC.t("ch_rec")], ["open", HC.t("ch_open")], ["na", "— " + HC.t("ch_no_window")]],
      caption[HC.getLang() === "en" ? "en" : "zh"]);
    return posts;
  }

  return { arrivals, waits, evaluations, staffing };
})();
