/* pytest-llmops HTML report. Vanilla JS, no network. The data is JSON in #llmops-data.
 *
 * Safety: every piece of data reaches the page through textContent, Text nodes or attribute
 * values (never innerHTML), so a model output containing markup shows as text and runs nothing.
 * Speed: the matrix is virtual: only the rows in view exist in the DOM, so 5,000 cases open fast.
 */
(function () {
  "use strict";
  performance.mark("llmops-start");

  // -- helpers ---------------------------------------------------------------------------------
  const SVGNS = "http://www.w3.org/2000/svg";

  function add(parent, kid) {
    if (kid == null || kid === false) return;
    if (Array.isArray(kid)) { for (const k of kid) add(parent, k); return; }
    parent.append(kid instanceof Node ? kid : String(kid)); // a string becomes a Text node
  }
  function el(tag, props) {
    const e = document.createElement(tag);
    setProps(e, props);
    for (let i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function svg(tag, props) {
    const e = document.createElementNS(SVGNS, tag);
    setProps(e, props);
    for (let i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function setProps(e, props) {
    if (!props) return;
    for (const k in props) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === "class") e.setAttribute("class", v);
      else if (k === "text") e.textContent = v;
      else if (k === "style") { for (const s in v) e.style.setProperty(s, v[s]); }
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  const nf = new Intl.NumberFormat("en-US");
  function int(n) { return n == null ? "–" : nf.format(n); }
  function usd(v) {
    if (v == null) return "unknown";
    const a = Math.abs(v);
    if (v === 0) return "$0";
    if (a >= 1) return "$" + v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    if (a >= 0.01) return "$" + v.toFixed(4);
    return "$" + v.toFixed(6);
  }
  function ms(v) {
    if (v == null) return "–";
    if (v >= 10000) return (v / 1000).toFixed(1) + " s";
    if (v >= 1000) return (v / 1000).toFixed(2) + " s";
    return Math.round(v) + " ms";
  }
  function pct(v, digits) { return v == null ? "–" : (v * 100).toFixed(digits == null ? 0 : digits) + "%"; }
  function sc(v) { return v == null ? "–" : v.toFixed(2); }
  function signed(v, digits, unit) {
    if (v == null) return "";
    let t = v.toFixed(digits);
    if (Number(t) === 0) t = (0).toFixed(digits);
    return (t.startsWith("-") ? "−" + t.slice(1) : "+" + t) + (unit || "");
  }
  function clip(text, n) { return text.length > n ? text.slice(0, n) + "…" : text; }
  function firstLine(text) { const t = String(text || "").trim(); const i = t.indexOf("\n"); return i < 0 ? t : t.slice(0, i); }
  function basename(p) { const i = p.lastIndexOf("/"); return i < 0 ? p : p.slice(i + 1); }
  function dirname(p) { const i = p.lastIndexOf("/"); return i < 0 ? "" : p.slice(0, i + 1); }
  function percentile(values, q) {
    if (!values.length) return null;
    const s = values.slice().sort((a, b) => a - b);
    const rank = (s.length - 1) * q / 100, lo = Math.floor(rank), hi = Math.ceil(rank);
    return s[lo] + (s[hi] - s[lo]) * (rank - lo);
  }
  const OUTCOMES = { passed: "PASS", failed: "FAIL", error: "ERROR", unscored: "UNSCORED" };
  function outcomeClass(o) { return "o-" + (OUTCOMES[o] ? o : "other"); }
  function badge(o) { return el("span", { class: "badge " + outcomeClass(o), text: OUTCOMES[o] || String(o).toUpperCase() }); }

  // -- data ------------------------------------------------------------------------------------
  const D = JSON.parse(document.getElementById("llmops-data").textContent);
  const S = D.summary || {};
  const STR = D.strings || [];
  const SUITES = D.suites || [];
  const PALETTE = ["#2f6feb", "#d4760a", "#8250df", "#0f8b8d", "#bf3989", "#6b8e23", "#8a6a3b", "#1b98c9", "#e5534b", "#6e7781"];
  const VARIANTS = (D.variants || []).map((v, i) => ({
    name: String(v.variant),
    prompt: v.prompt == null ? null : String(v.prompt),
    version: v.prompt_version == null ? null : String(v.prompt_version),
    provider: String(v.provider || ""),
    color: PALETTE[i % PALETTE.length],
    index: i,
  }));
  function vTitle(v) { return v.prompt ? v.prompt + "@" + v.version : "(no prompt)"; }
  const CASES = D.cases || [];
  for (let i = 0; i < CASES.length; i++) {
    const c = CASES[i];
    c.i = i;
    c.suite = SUITES[c.s] || "";
    c.case = c.case == null ? "" : String(c.case);
    c.outcome = String(c.outcome || "");
    if (c.score == null) c.score = null;
    c.tags = c.tags || [];
    if (c.location == null && c.ln != null) c.location = c.suite + ":" + c.ln;
    // [type, passed, score, reason, line, {weight, metric, unscored, raw, ...}], type and reason pooled.
    c.assertions = (c.assertions || []).map((a) => Object.assign(
      { type: STR[a[0]], passed: !!a[1], score: a[2], reason: STR[a[3]], line: a[4], weight: 1, metric: null, unscored: false, raw: null }, a[5] || {}));
  }
  function messagesOf(c) { return (c.messages || []).map((m) => ({ role: String(m[0]), content: STR[m[1]] == null ? "" : String(STR[m[1]]) })); }
  function totalCost(c) {
    if (c.cost_usd == null && c.unpriced) return null;
    return (c.cost_usd || 0) + (c.judge_cost_usd || 0);
  }

  // Baseline marks: newly failing, fixed, score drops, new cases.
  const BL = S.baseline || null;
  const blMark = new Map();
  const blDrop = new Map();
  const blChange = new Map();
  if (BL) {
    for (const id of BL.added || []) blMark.set(id, "added");
    for (const d of BL.score_drops || []) { blMark.set(d.id, "drop"); blDrop.set(d.id, d); }
    for (const ch of BL.fixed || []) { blMark.set(ch.id, "fixed"); blChange.set(ch.id, ch); }
    for (const ch of BL.new_failures || []) { blMark.set(ch.id, "newfail"); blChange.set(ch.id, ch); }
  }
  for (const c of CASES) { const m = blMark.get(c.id); c.bl = m || null; }

  // Rows: one per (suite, case); columns: the variants that suite ran. Groups: one per suite.
  const groups = [];
  const groupBySuite = new Map();
  const rowByKey = new Map();
  for (const c of CASES) {
    let g = groupBySuite.get(c.s);
    if (!g) {
      g = { s: c.s, suite: c.suite, variantSet: new Set(), rows: [] };
      groupBySuite.set(c.s, g);
      groups.push(g);
    }
    g.variantSet.add(c.v);
    const key = c.s + "\u0000" + c.case;
    let r = rowByKey.get(key);
    if (!r) {
      r = { g: g, name: c.case, cells: new Map(), tags: new Set(), order: g.rows.length, hay: null };
      rowByKey.set(key, r);
      g.rows.push(r);
    }
    if (!r.cells.has(c.v)) r.cells.set(c.v, c);
    c.row = r;
    for (const t of c.tags) r.tags.add(String(t));
  }
  groups.sort((a, b) => (a.suite < b.suite ? -1 : a.suite > b.suite ? 1 : 0));
  let maxCols = 1;
  for (const g of groups) {
    g.variants = Array.from(g.variantSet).sort((a, b) => a - b);
    maxCols = Math.max(maxCols, g.variants.length);
    g.tpl = "var(--case-w) repeat(" + g.variants.length + ", minmax(var(--cell-w), 1fr))";
    g.stats = g.variants.map((v) => {
      const cs = g.rows.map((r) => r.cells.get(v)).filter(Boolean);
      const scores = cs.filter((c) => c.score != null).map((c) => c.score);
      const lat = cs.filter((c) => c.outcome !== "error" && c.latency_ms != null).map((c) => c.latency_ms);
      let cost = 0, unknown = 0;
      for (const c of cs) { const t = totalCost(c); if (t == null) unknown++; else cost += t; }
      return {
        cases: cs.length, passed: cs.filter((c) => c.outcome === "passed").length,
        mean: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
        cost: cost, unknown: unknown, p95: percentile(lat, 95),
      };
    });
    for (const r of g.rows) {
      let fail = false, minScore = null, maxCost = null, maxLat = null, drop = null, changed = false;
      for (const c of r.cells.values()) {
        if (c.outcome !== "passed") fail = true;
        if (c.score != null && (minScore == null || c.score < minScore)) minScore = c.score;
        const t = totalCost(c);
        if (t != null && (maxCost == null || t > maxCost)) maxCost = t;
        if (c.latency_ms != null && (maxLat == null || c.latency_ms > maxLat)) maxLat = c.latency_ms;
        const d = blDrop.get(c.id);
        if (d && (drop == null || d.drop > drop)) drop = d.drop;
        if (c.bl) changed = true;
      }
      Object.assign(r, { failing: fail, minScore: minScore, maxCost: maxCost, maxLat: maxLat, drop: drop, changed: changed });
    }
  }
  const allTags = Array.from(new Set(CASES.flatMap((c) => c.tags.map(String)))).sort();
  const rowCount = groups.reduce((n, g) => n + g.rows.length, 0);

  // -- word diff (LCS over words) --------------------------------------------------------------
  function tokens(text) { return String(text || "").match(/\s+|[^\s]+\s*/g) || []; }
  /** [[op, text]...]: "-" only in a, "+" only in b, and ["=", text in a, text in b] for the same
   *  word: words are compared without the whitespace after them, and each side keeps its own. */
  function wordDiff(a, b) {
    const A = tokens(a), B = tokens(b);
    const ka = A.map((t) => t.trimEnd()), kb = B.map((t) => t.trimEnd());
    let pre = 0;
    while (pre < A.length && pre < B.length && ka[pre] === kb[pre]) pre++;
    let suf = 0;
    while (suf < A.length - pre && suf < B.length - pre && ka[A.length - 1 - suf] === kb[B.length - 1 - suf]) suf++;
    const n = A.length - pre - suf, m = B.length - pre - suf, ops = [];
    const push = (op, t, u) => {
      const last = ops[ops.length - 1];
      if (last && last[0] === op) { last[1] += t; if (op === "=") last[2] += u; } else ops.push(op === "=" ? [op, t, u] : [op, t]);
    };
    for (let k = 0; k < pre; k++) push("=", A[k], B[k]);
    if (n * m > 4000000) {
      // Too long for a table of n × m: show the middle as replaced.
      push("-", A.slice(pre, pre + n).join("")); push("+", B.slice(pre, pre + m).join(""));
    } else if (n && m) {
      // L[i][j]: length of the LCS of the middles from i and j on (min(n, m) <= 2000: 16 bits).
      const w = m + 1, L = new Uint16Array((n + 1) * w);
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          L[i * w + j] = ka[pre + i] === kb[pre + j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
        }
      }
      let i = 0, j = 0;
      while (i < n && j < m) {
        if (ka[pre + i] === kb[pre + j]) { push("=", A[pre + i], B[pre + j]); i++; j++; }
        else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) push("-", A[pre + i++]);
        else push("+", B[pre + j++]);
      }
      while (i < n) push("-", A[pre + i++]);
      while (j < m) push("+", B[pre + j++]);
    } else {
      if (n) push("-", A.slice(pre, pre + n).join(""));
      if (m) push("+", B.slice(pre, pre + m).join(""));
    }
    for (let k = suf; k > 0; k--) push("=", A[A.length - k], B[B.length - k]);
    return ops;
  }
  function diffSide(ops, side) {
    const pre = el("pre", { class: "text" });
    for (const op of ops) {
      if (op[0] === "=") pre.append(side === "a" ? op[1] : op[2]);
      else if (op[0] === "-" && side === "a") pre.append(el("del", { text: op[1] }));
      else if (op[0] === "+" && side === "b") pre.append(el("ins", { text: op[1] }));
    }
    return pre;
  }
  function wordCount(t) { return (t.match(/[^\s]+/g) || []).length; }

  // -- summary ---------------------------------------------------------------------------------
  const app = document.getElementById("app");
  const gates = S.gates || [];
  const breached = gates.filter((g) => !g.passed);
  const notPassed = (S.cases || 0) - (S.passed || 0);

  function header() {
    const gen = D.generator || {};
    const verdict = breached.length
      ? el("div", { class: "verdict bad", text: "✗ " + breached.length + " of " + gates.length + " gate" + (gates.length === 1 ? "" : "s") + " failed" })
      : gates.length
        ? el("div", { class: "verdict ok", text: "✓ every gate held (" + gates.length + ")" })
        : notPassed
          ? el("div", { class: "verdict warn", text: notPassed + " case" + (notPassed === 1 ? "" : "s") + " did not pass" })
          : el("div", { class: "verdict ok", text: "✓ every case passed" });
    return el("header", { class: "top" },
      el("h1", null, el("span", { class: "logo" }), "pytest-llmops report"),
      el("span", { class: "meta" },
        [int(S.cases) + " cases", VARIANTS.length + " variant" + (VARIANTS.length === 1 ? "" : "s"),
          SUITES.length + " suite" + (SUITES.length === 1 ? "" : "s"),
          D.created_at ? String(D.created_at).replace("T", " ").replace("+00:00", " UTC") : null,
          gen.version ? "pytest-llmops " + gen.version : null,
          D.prices_as_of ? "prices as of " + D.prices_as_of : null].filter(Boolean).join(" · ")),
      verdict);
  }

  function card(k, v, s, cls) { return el("div", { class: "card" + (cls ? " " + cls : "") }, el("div", { class: "k", text: k }), el("div", { class: "v", text: v }), s ? el("div", { class: "s", text: s }) : null); }

  function cards() {
    const cost = S.cost_usd || {};
    const tok = S.tokens || {};
    const lat = S.latency_ms || {};
    const parts = [];
    if (S.failed) parts.push(S.failed + " failed");
    if (S.errors) parts.push(S.errors + " errors");
    if (S.unscored) parts.push(S.unscored + " unscored");
    const costText = S.unpriced_cases ? (cost.total ? usd(cost.total) + " + ?" : "unknown") : usd(cost.total);
    return el("div", { class: "cards" },
      card("Pass rate", pct(S.pass_rate, 1), int(S.passed) + " of " + int(S.cases) + " passed" + (parts.length ? " · " + parts.join(", ") : ""), S.pass_rate === 1 ? "good" : S.passed < S.cases ? "bad" : ""),
      card("Mean score", S.mean_score == null ? "–" : S.mean_score.toFixed(3), Object.keys(S.metrics || {}).length ? Object.entries(S.metrics).map(([k, v]) => k + " " + sc(v)).join(" · ") : "over the scored cases"),
      card("Cost", costText, "app " + usd(cost.app) + (cost.judge ? " · judge " + usd(cost.judge) : "") + (S.unpriced_cases ? " · " + S.unpriced_cases + " unpriced" : "") + (S.budget_usd != null ? " · budget " + usd(S.budget_usd) : "")),
      card("Latency p95", ms(lat.p95), "p50 " + ms(lat.p50) + " · max " + ms(lat.max)),
      card("Tokens", int(tok.total), int(tok.input) + " in · " + int(tok.output) + " out" + ((S.judge_tokens || {}).total ? " · judge " + int(S.judge_tokens.total) : "")),
      card("Replayed", int(S.replayed) + " / " + int(S.cases), S.replayed === S.cases ? "from cassettes, offline" : "live calls: " + usd(cost.live)));
  }

  const GATE_SHOW = {
    max_cost: usd, min_pass_rate: (v) => pct(v, 1), min_score: (v) => v.toFixed(3), max_p95_latency_ms: ms,
    max_error_rate: (v) => pct(v, 1), max_new_failures: (v) => String(Math.round(v)), max_score_drop: (v) => v.toFixed(3),
    max_cost_increase: (v) => signed(v, 1, "%"), max_p95_increase: (v) => signed(v, 1, "%"),
    min_baseline_match: (v) => pct(v, 1), regression: (v) => "p " + pval(v), min_win_rate: (v) => pct(v, 0),
    min_judge_agreement: (v) => pct(v, 1),
  };
  function gatesBox() {
    if (!gates.length) return null;
    const chips = gates.map((g) => {
      const show = GATE_SHOW[g.name] || ((v) => String(v));
      const bound = String(g.name).startsWith("min_") ? "≥ " : "≤ ";
      const limitText = g.name === "regression" ? "fails at adjusted p ≤ " + g.limit : g.name === "max_cost_increase" || g.name === "max_p95_increase" ? bound + "+" + Number(g.limit).toFixed(1) + "%" : bound + show(g.limit);
      return el("div", { class: "gate " + (g.passed ? "held" : "breached"), title: g.message, "data-gate": g.name },
        el("div", { class: "gl" }, el("span", { class: g.passed ? "gate-ok" : "gate-bad", text: g.passed ? "✓" : "✗" }), " " + (g.label || g.name)),
        el("div", { class: "gv", text: g.value == null ? "n/a" : show(g.value) }),
        el("div", { class: "gs" }, "limit " + limitText + " · ", el("span", { class: "mono", text: "llmops_" + g.name })));
    });
    return el("section", { class: "panelbox", id: "gates" },
      el("h2", null, "Gates", el("span", { class: "muted", text: breached.length ? breached.length + " of " + gates.length + " failed" : "all " + gates.length + " held" })),
      el("div", { class: "gates" }, chips));
  }

  function caseLink(id) {
    const c = CASES.find((x) => x.id === id);
    return el("button", { class: "linkbtn", title: id, onclick: () => c && openDetail(c.i) }, c ? c.case + " · " + vTitle(VARIANTS[c.v]) : id);
  }
  function baselineBox() {
    if (!BL) return null;
    const change = (label, ch, show, abs) => {
      if (!ch) return null;
      const delta = abs ? (ch.change == null ? "" : " (" + signed(ch.change, 3) + ")") : (ch.change_pct == null ? "" : " (" + signed(ch.change_pct, 1, "%") + ")");
      return el("div", { class: "line" }, el("span", { class: "muted", text: label }), (ch.baseline == null ? "n/a" : show(ch.baseline)) + " → " + (ch.current == null ? "n/a" : show(ch.current)) + delta);
    };
    const list = (title, items, cls, extra) => items.length ? el("div", { class: "line" }, el("span", { class: "flag " + cls, text: title + " " + items.length }), items.slice(0, 12).map((it) => el("span", null, caseLink(it.id), extra ? " " + extra(it) : "")), items.length > 12 ? el("span", { class: "muted", text: "… and " + (items.length - 12) + " more (filter: changed vs baseline)" }) : null) : null;
    return el("section", { class: "panelbox", id: "baseline" },
      el("h2", null, "Baseline", el("span", { class: "muted mono", text: BL.path })),
      el("div", { class: "blist" },
        el("div", { class: "line" }, int(BL.matched) + " cases compared · " + (BL.added || []).length + " new · " + (BL.removed || []).length + " no longer run"),
        list("NEWLY FAILING", BL.new_failures || [], "newfail", (it) => "(" + it.baseline_outcome + " → " + it.outcome + ")"),
        list("SCORE DROPS", BL.score_drops || [], "drop", (it) => sc(it.baseline_score) + " → " + sc(it.score)),
        list("FIXED", BL.fixed || [], "fixed"),
        change("mean score", BL.mean_score, (v) => v.toFixed(3), true),
        change("cost", BL.cost_usd, usd),
        change("p95 latency", BL.p95_latency_ms, ms)));
  }

  function versionsBox() {
    const diffs = S.version_diffs || [];
    if (!diffs.length) return null;
    return el("section", { class: "panelbox", id: "versions" },
      el("h2", null, "Prompt versions", el("span", { class: "muted", text: "the same suite, two versions of a prompt" })),
      el("table", { class: "t" },
        el("thead", null, el("tr", null, ["prompt", "versions", "pass rate", "mean score", "cost", "p95"].map((h, i) => el("th", { class: i > 1 ? "r" : "", text: h })))),
        el("tbody", null, diffs.map((d) => el("tr", { title: d.suite + " · " + d.provider },
          el("td", null, el("div", { class: "vname" }, el("span", { class: "nm", text: d.prompt })), el("div", { class: "muted", style: { "font-size": "12px" }, text: basename(d.suite) + " · " + d.provider })),
          el("td", { class: "mono", text: d.from_version + " → " + d.to_version }),
          el("td", { class: "r", text: pct(d.pass_rate.from) + " → " + pct(d.pass_rate.to) + " (" + signed(d.pass_rate.change * 100, 0, " pp") + ")" }),
          el("td", { class: "r", text: sc(d.mean_score.from) + " → " + sc(d.mean_score.to) + (d.mean_score.change == null ? "" : " (" + signed(d.mean_score.change, 2) + ")") }),
          el("td", { class: "r", text: usd(d.cost_usd.from) + " → " + usd(d.cost_usd.to) + (d.cost_usd.change_pct == null ? "" : " (" + signed(d.cost_usd.change_pct, 0, "%") + ")") }),
          el("td", { class: "r", text: ms(d.p95_latency_ms.from) + " → " + ms(d.p95_latency_ms.to) }))))));
  }

  // -- statistics: 95% intervals, paired comparisons, reruns ---------------------------------------
  function pval(p) { return p == null ? "–" : p >= 0.1 ? p.toFixed(2) : p >= 0.001 ? p.toFixed(3) : "<0.001"; }
  function ci(iv, show) { return iv ? "[" + show(iv.low) + ", " + show(iv.high) + "]" : "[–]"; }
  function pp(v) { return signed(v * 100, 0); }
  function statsBox() {
    const sv = S.variants || [];
    const rows = sv.map((v) => el("tr", null,
      el("td", { class: "mono", text: String(v.variant) }),
      el("td", { class: "r", text: int(v.cases) }),
      el("td", { class: "r", text: pct(v.pass_rate) + " " + ci(v.pass_rate_interval, (x) => pct(x)) }),
      el("td", { class: "r", text: v.mean_score == null ? "–" : sc(v.mean_score) + " " + ci(v.mean_score_interval, sc) }),
      el("td", { class: "r", text: v.run_pass_rate ? int(v.run_pass_rate.passed) + "/" + int(v.run_pass_rate.runs) + " " + ci(v.run_pass_rate.interval, (x) => pct(x)) : "" })));
    const comparisons = (S.version_diffs || []).filter((d) => d.paired).map((d) => [d.prompt + " " + d.from_version + " → " + d.to_version, basename(d.suite) + " · " + d.provider, d.paired]);
    if (BL && BL.paired) comparisons.push(["this run vs the baseline", BL.path, BL.paired]);
    const drop = (f, unit) => f && f.detectable_drop != null ? (unit ? (f.detectable_drop * 100).toFixed(0) + " pp" : f.detectable_drop.toFixed(2)) : "–";
    const pairedRows = comparisons.map(([name, sub, p]) => {
      const r = p.pass_rate, m = p.mean_score;
      return el("tr", { "data-comparison": name },
        el("td", null, el("div", { text: name }), el("div", { class: "muted", style: { "font-size": "12px" }, text: sub })),
        el("td", { class: "r", text: int(p.pairs) }),
        el("td", { class: "r", text: pp(r.change) + " pp " + ci(r.interval, pp), title: r.worse + " worse, " + r.better + " better" }),
        el("td", { class: "r", text: pval(r.p_value) }),
        el("td", { class: "r", text: m ? signed(m.change, 2) + " " + ci(m.interval, (x) => signed(x, 2)) : "–" }),
        el("td", { class: "r", text: m ? pval(m.p_value) : "–" }),
        el("td", { class: "r", text: drop(r, true) + (m && m.detectable_drop != null ? " · " + drop(m, false) : "") }));
    });
    const pw = (S.pairwise || []).map((c) => el("tr", { "data-pairwise": c.prompt + " " + c.to_version },
      el("td", null, el("div", { text: c.prompt + " " + c.from_version + " → " + c.to_version }), el("div", { class: "muted", style: { "font-size": "12px" }, text: basename(c.suite) + " · " + c.provider })),
      el("td", { class: "r", text: int(c.cases) }),
      el("td", { class: "r", text: c.win_rate == null ? "–" : pct(c.win_rate) + " " + ci(c.interval, (x) => pct(x)) }),
      el("td", { class: "r", text: int(c.wins) + " / " + int(c.ties) + " / " + int(c.losses) }),
      el("td", { class: "r", text: pval(c.p_value) }),
      el("td", { class: "r", text: int(c.position_flips) + (c.unscored ? " · " + int(c.unscored) + " unscored" : "") })));
    const rr = S.reruns || {};
    const alpha = comparisons.length ? comparisons[0][2].alpha : null;
    return el("section", { class: "panelbox", id: "statistics" },
      el("h2", null, "Statistics", el("span", { class: "muted", text: "95% intervals; the case is the unit" })),
      el("table", { class: "t", id: "intervals" },
        el("thead", null, el("tr", null, ["variant", "cases", "pass rate (Wilson)", "mean score (t)", "runs passed (clustered)"].map((h, i) => el("th", { class: i ? "r" : "", text: h })))),
        el("tbody", null, rows)),
      pairedRows.length ? el("table", { class: "t", id: "paired" },
        el("thead", null, el("tr", null, ["paired comparison", "cases", "pass rate change", "McNemar p", "score change", "sign test p", "detectable drop (80% power, one-sided at " + (alpha == null ? "–" : Number(alpha.toPrecision(3))) + ")"].map((h, i) => el("th", { class: i ? "r" : "", text: h })))),
        el("tbody", null, pairedRows)) : null,
      pw.length ? el("table", { class: "t", id: "pairwise" },
        el("thead", null, el("tr", null, ["pairwise preference (both orders)", "cases", "win rate (ties half)", "won / tied / lost", "sign test p", "position flips"].map((h, i) => el("th", { class: i ? "r" : "", text: h })))),
        el("tbody", null, pw)) : null,
      rr.attempts ? el("div", { class: "line muted", id: "reruns", style: { padding: "8px 14px" }, text: "reruns: " + int(rr.cases) + " case(s) ran again (" + int(rr.attempts) + " earlier attempt(s)), counted once with the last attempt; spent on reruns, apart from the totals: " + int(((rr.tokens || {}).total || 0) + ((rr.judge_tokens || {}).total || 0)) + " tokens, " + usd((rr.cost_usd || {}).total) }) : null);
  }

  // Judges checked against people (judge_checks: in a suite): agreement and Cohen's kappa per judge.
  function judgesBox() {
    const groups = S.judge_agreement || [];
    if (!groups.length) return null;
    const checks = D.judge_checks || [];
    const disagree = checks.filter((c) => c.agreed === false);
    const kappa = (k) => (k == null ? "n/a" : k.toFixed(2));
    return el("section", { class: "panelbox", id: "judges" },
      el("h2", null, "Judges checked against people", el("span", { class: "muted", text: checks.length + " labelled example" + (checks.length === 1 ? "" : "s") })),
      el("table", { class: "t" },
        el("thead", null, el("tr", null, ["judge", "agree", "agreement", "Cohen's kappa", "judge pass, person fail", "judge fail, person pass", "unscored", "errors"].map((h, i) => el("th", { class: i ? "r" : "", text: h })))),
        el("tbody", null, groups.map((g) => el("tr", { "data-judge": g.type + " × " + g.judge },
          el("td", null, el("b", { text: g.type }), el("span", { class: "muted", text: g.judge ? " × " + g.judge : "" })),
          el("td", { class: "r", text: g.agreed + "/" + g.scored }),
          el("td", { class: "r", text: pct(g.agreement, 1) }),
          el("td", { class: "r", text: kappa(g.kappa) }),
          el("td", { class: "r", text: String((g.confusion || {}).judge_pass_person_fail || 0) }),
          el("td", { class: "r", text: String((g.confusion || {}).judge_fail_person_pass || 0) }),
          el("td", { class: "r", text: String(g.unscored || 0) }),
          el("td", { class: "r", text: String(g.errors || 0) }))))),
      disagree.length ? el("div", { class: "blist" }, disagree.slice(0, 20).map((c) => el("div", { class: "line", "data-disagreement": c.id },
        el("span", { class: "flag newfail", text: "DISAGREE" }), " ",
        el("span", { class: "mono", text: c.name }), " · person " + c.human_verdict + ", judge " + c.judge_verdict + " · ",
        el("span", { class: "muted", text: clip(firstLine(c.reason), 200) }))),
        disagree.length > 20 ? el("div", { class: "muted", text: "… and " + (disagree.length - 20) + " more (see the JSON report)" }) : null) : null);
  }

  // Small inline-SVG charts: score histogram, cost bar and p95 bar per variant.
  function scoreHistogram(scores, missing) {
    const bins = new Array(10).fill(0);
    for (const s of scores) bins[Math.min(9, Math.max(0, Math.floor(s * 10)))]++;
    const max = Math.max(1, missing, ...bins);
    const W = 132, H = 26, bw = 11;
    const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "score distribution" });
    g.append(svg("line", { class: "axis", x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5 }));
    if (missing) {
      const h = Math.max(2, (missing / max) * (H - 3));
      g.append(svg("rect", { x: 0, y: H - 1 - h, width: 8, height: h, fill: "#8c959f", rx: 1 }, svg("title", null, missing + " without a score")));
    }
    bins.forEach((n, i) => {
      if (!n) return;
      const h = Math.max(2, (n / max) * (H - 3));
      const hue = Math.round(i * 12); // red (low) to green (high)
      g.append(svg("rect", { x: 12 + i * (bw + 1), y: H - 1 - h, width: bw, height: h, rx: 1, fill: "hsl(" + hue + ", 62%, 45%)" },
        svg("title", null, n + " case" + (n === 1 ? "" : "s") + " scored " + (i / 10).toFixed(1) + "–" + ((i + 1) / 10).toFixed(1))));
    });
    return g;
  }
  function hbar(value, max, cls, label) {
    const W = 110, H = 14;
    const w = value == null || !max ? 0 : Math.max(1.5, (value / max) * W);
    return el("div", { style: { display: "flex", "align-items": "center", gap: "8px", "justify-content": "flex-end" } },
      el("span", { class: "num", text: label }),
      svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label },
        svg("rect", { x: 0, y: 2, width: W, height: H - 4, rx: 2, fill: "currentColor", "fill-opacity": "0.07" }),
        svg("rect", { class: "bar " + cls, x: 0, y: 2, width: w, height: H - 4, rx: 2 })));
  }
  function variantsBox() {
    const sv = S.variants || [];
    const byName = new Map(sv.map((v) => [String(v.variant), v]));
    const scoresBy = VARIANTS.map(() => []), missingBy = VARIANTS.map(() => 0);
    for (const c of CASES) { if (c.score == null) missingBy[c.v]++; else scoresBy[c.v].push(c.score); }
    const costOf = (v) => ((v.cost_usd || {}).total == null ? null : v.cost_usd.total);
    const maxCost = Math.max(0, ...sv.map((v) => costOf(v) || 0));
    const maxP95 = Math.max(0, ...sv.map((v) => (v.latency_ms || {}).p95 || 0));
    const rows = VARIANTS.map((V) => {
      const v = byName.get(V.name) || {};
      const cost = costOf(v);
      const p95 = (v.latency_ms || {}).p95;
      return el("tr", { "data-variant": V.index },
        el("td", { style: { "max-width": "320px" } }, el("div", { class: "vname", title: V.name }, el("span", { class: "sw", style: { background: V.color } }),
          el("span", { class: "nm" }, el("b", { text: vTitle(V) }), el("span", { class: "muted", text: " × " + V.provider })))),
        el("td", { class: "r", text: int(v.cases) }),
        el("td", { class: "r", text: pct(v.pass_rate) }),
        el("td", { class: "r", text: sc(v.mean_score) }),
        el("td", { class: "chartcell" }, scoreHistogram(scoresBy[V.index], missingBy[V.index])),
        el("td", { class: "r chartcell" }, hbar(cost, maxCost, "cost", (v.unpriced_cases ? "≥ " : "") + usd(cost))),
        el("td", { class: "r chartcell" }, hbar(p95, maxP95, "lat", ms(p95))),
        el("td", { class: "r", text: int((v.tokens || {}).total) }));
    });
    const tot = S;
    rows.push(el("tr", { class: "total" }, el("td", { text: "total" }), el("td", { class: "r", text: int(tot.cases) }), el("td", { class: "r", text: pct(tot.pass_rate) }),
      el("td", { class: "r", text: sc(tot.mean_score) }), el("td", null, ""), el("td", { class: "r", text: usd((tot.cost_usd || {}).total) }),
      el("td", { class: "r", text: ms((tot.latency_ms || {}).p95) }), el("td", { class: "r", text: int((tot.tokens || {}).total) })));
    return el("section", { class: "panelbox", id: "variants" },
      el("h2", null, "Variants", el("span", { class: "muted", text: "prompt version × model" })),
      el("div", { style: { "overflow-x": "auto" } }, el("table", { class: "t" },
        el("thead", null, el("tr", null, ["variant", "cases", "pass", "score", "score distribution", "cost", "p95 latency", "tokens"].map((h, i) => el("th", { class: i && i !== 4 ? "r" : "", text: h })))),
        el("tbody", null, rows))));
  }

  // -- toolbar and filters ---------------------------------------------------------------------
  const state = { q: "", suite: -1, tag: "", failures: false, changed: false, sort: "default" };
  let searchTimer = 0;
  const countEl = el("span", { class: "count", id: "count" });
  const sortOptions = [["default", "suite order"], ["score-asc", "score: lowest first"], ["score-desc", "score: highest first"],
    ["cost-desc", "cost: highest first"], ["latency-desc", "latency: slowest first"]];
  if (BL) sortOptions.push(["drop-desc", "score drop vs baseline"]);
  function toolbar() {
    const search = el("input", { type: "search", id: "q", placeholder: "Search cases, outputs, tags   /", "aria-label": "search",
      oninput: (e) => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { state.q = e.target.value; applyFilters(); }, 120); } });
    const suite = el("select", { id: "suite", "aria-label": "suite", onchange: (e) => { state.suite = Number(e.target.value); applyFilters(); } },
      el("option", { value: "-1", text: "all suites (" + groups.length + ")" }),
      groups.map((g) => el("option", { value: String(g.s), text: g.suite })));
    const tag = allTags.length ? el("select", { id: "tag", "aria-label": "tag", onchange: (e) => { state.tag = e.target.value; applyFilters(); } },
      el("option", { value: "", text: "all tags" }), allTags.map((t) => el("option", { value: t, text: t }))) : null;
    const chk = (id, label, key, n) => el("label", { class: "chk" }, el("input", { type: "checkbox", id: id, onchange: (e) => { state[key] = e.target.checked; applyFilters(); } }), label, n != null ? el("span", { class: "muted", text: "(" + n + ")" }) : null);
    const failingRows = groups.reduce((n, g) => n + g.rows.filter((r) => r.failing).length, 0);
    const changedRows = groups.reduce((n, g) => n + g.rows.filter((r) => r.changed).length, 0);
    const sort = el("select", { id: "sort", "aria-label": "sort", onchange: (e) => { state.sort = e.target.value; applyFilters(); } },
      sortOptions.map(([v, t]) => el("option", { value: v, text: t })));
    return el("div", { class: "toolbar", id: "toolbar" }, search, suite, tag,
      chk("failures", "failures only", "failures", failingRows),
      BL ? chk("changed", "changed vs baseline", "changed", changedRows) : null,
      el("span", { class: "lbl", text: "sort" }), sort, countEl);
  }

  function rowHay(r) {
    if (r.hay == null) {
      const parts = [r.name, r.g.suite, ...r.tags];
      for (const c of r.cells.values()) { parts.push(c.id, c.output || "", c.error || "", VARIANTS[c.v].name); }
      r.hay = parts.join("\n").toLowerCase();
    }
    return r.hay;
  }
  function matches(r, terms) {
    if (state.failures && !r.failing) return false;
    if (state.changed && !r.changed) return false;
    if (state.tag && !r.tags.has(state.tag)) return false;
    if (terms.length) { const h = rowHay(r); for (const t of terms) if (h.indexOf(t) < 0) return false; }
    return true;
  }
  const nullLast = (get, dir) => (a, b) => {
    const x = get(a), y = get(b);
    if (x == null && y == null) return a.order - b.order;
    if (x == null) return 1;
    if (y == null) return -1;
    return (x - y) * dir || a.order - b.order;
  };
  const SORTS = {
    "score-asc": nullLast((r) => r.minScore, 1), "score-desc": nullLast((r) => r.minScore, -1),
    "cost-desc": nullLast((r) => r.maxCost, -1), "latency-desc": nullLast((r) => r.maxLat, -1),
    "drop-desc": nullLast((r) => r.drop, -1),
  };

  // -- the virtual matrix ----------------------------------------------------------------------
  const ROW_H = 78, HEAD_H = 66, OVERSCAN = 6;
  let items = [];          // {k: "g"|"r", g, r}
  let offsets = new Float64Array(1);
  const matrix = el("div", { class: "matrix", id: "matrix", role: "grid", "aria-label": "cases × variants" });
  const sticky = el("div", { class: "sticky hidden" });
  const spacer = el("div", { class: "spacer", id: "rows" });
  matrix.append(sticky, spacer);
  let rendered = new Map(); // item index -> element
  let stickyGroup = null;
  let selectedCase = -1;

  function applyFilters() {
    const terms = state.q.toLowerCase().split(/\s+/).filter(Boolean);
    items = [];
    let shown = 0;
    for (const g of groups) {
      if (state.suite >= 0 && g.s !== state.suite) continue;
      let rows = g.rows.filter((r) => matches(r, terms));
      if (!rows.length) continue;
      if (SORTS[state.sort]) rows = rows.slice().sort(SORTS[state.sort]);
      items.push({ k: "g", g: g });
      for (const r of rows) items.push({ k: "r", g: g, r: r });
      shown += rows.length;
    }
    offsets = new Float64Array(items.length + 1);
    for (let i = 0; i < items.length; i++) offsets[i + 1] = offsets[i] + (items[i].k === "g" ? HEAD_H : ROW_H);
    spacer.style.setProperty("height", offsets[items.length] + "px");
    countEl.textContent = shown === rowCount ? int(rowCount) + " rows · " + int(CASES.length) + " results" : int(shown) + " of " + int(rowCount) + " rows";
    for (const e of rendered.values()) e.remove();
    rendered = new Map();
    stickyGroup = null;
    const old = spacer.querySelector(".emptymsg");
    if (old) old.remove();
    if (!items.length) spacer.append(el("div", { class: "emptymsg", text: rowCount ? "No case matches these filters." : "This report has no cases." }));
    matrix.scrollTop = 0;
    render();
  }

  function groupHeadEl(g, top) {
    const e = el("div", { class: "ghead", style: { top: top + "px", "grid-template-columns": g.tpl } },
      el("div", { class: "casecol" }, el("div", { class: "suitename", title: g.suite, text: basename(g.suite) }),
        el("div", { class: "sub", title: g.suite, text: (dirname(g.suite) ? dirname(g.suite) + " · " : "") + g.rows.length + " case" + (g.rows.length === 1 ? "" : "s") })));
    g.variants.forEach((vi, k) => {
      const V = VARIANTS[vi], st = g.stats[k];
      e.append(el("div", { class: "vhead", title: V.name },
        el("div", { class: "p" }, el("span", { class: "sw", style: { background: V.color } }), vTitle(V)),
        el("div", { class: "m", text: V.provider }),
        el("div", { class: "st", text: st.passed + "/" + st.cases + " passed · score " + sc(st.mean) + " · " + (st.unknown ? "≥ " : "") + usd(st.cost) + " · p95 " + ms(st.p95) }),
        el("div", { class: "passbar" }, el("i", { style: { width: (st.cases ? (100 * st.passed) / st.cases : 0) + "%" } }))));
    });
    return e;
  }

  function snippetOf(c) {
    if (c.outcome === "error" && c.error) return el("div", { class: "snip err", text: clip(firstLine(c.error), 200) });
    if (c.output == null || c.output === "") return el("div", { class: "snip none", text: "(no output)" });
    return el("div", { class: "snip", text: clip(String(c.output).replace(/\s+/g, " ").trim(), 240) });
  }
  function flagOf(c) {
    if (!c.bl) return null;
    if (c.bl === "newfail") return el("span", { class: "flag newfail", title: "passed in the baseline", text: "NEW FAIL" });
    if (c.bl === "drop") { const d = blDrop.get(c.id); return el("span", { class: "flag drop", title: "baseline " + sc(d.baseline_score), text: "▼" + d.drop.toFixed(2) }); }
    if (c.bl === "fixed") return el("span", { class: "flag fixed", title: "failed in the baseline", text: "FIXED" });
    return el("span", { class: "flag added", title: "not in the baseline", text: "NEW" });
  }
  function cellEl(c) {
    const cost = totalCost(c);
    return el("div", { class: "cell " + outcomeClass(c.outcome) + (c.bl ? " bl-" + c.bl : "") + (c.i === selectedCase ? " selected" : ""),
      "data-case": c.i, "data-outcome": c.outcome, tabindex: 0, role: "gridcell", title: VARIANTS[c.v].name },
      el("div", { class: "ch" }, badge(c.outcome),
        el("span", { class: "score" }, sc(c.score), c.threshold != null ? el("span", { class: "thr", text: " / " + sc(c.threshold) }) : null),
        flagOf(c),
        el("span", { class: "meta", text: (cost == null ? "unpriced" : usd(cost)) + " · " + ms(c.latency_ms) })),
      snippetOf(c));
  }
  function rowEl(item, top) {
    const r = item.r, g = item.g;
    const first = r.cells.values().next().value;
    const loc = first && first.location ? basename(String(first.location)) : "";
    const e = el("div", { class: "row" + (r.failing ? " failing" : ""), role: "row", "data-case-name": r.name, style: { top: top + "px", "grid-template-columns": g.tpl } },
      el("div", { class: "casecol" },
        el("div", { class: "name", title: r.name, text: r.name }),
        el("div", { class: "sub", title: first ? String(first.location || "") : "", text: loc }),
        el("div", { class: "acts" },
          r.cells.size > 1 ? el("button", { class: "cmpbtn", "data-compare": "1", title: "compare two variants of this case side by side" }, "⇆ compare") : null,
          Array.from(r.tags).slice(0, 3).map((t) => el("span", { class: "tag", text: t })))));
    e._row = r;
    for (const vi of g.variants) {
      const c = r.cells.get(vi);
      e.append(c ? cellEl(c) : el("div", { class: "cell empty", text: "not run" }));
    }
    return e;
  }

  function firstVisible(y) {
    let lo = 0, hi = items.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (offsets[mid] <= y) lo = mid; else hi = mid - 1; }
    return lo;
  }
  let frame = 0;
  function schedule() { if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); }); }
  function render() {
    if (!items.length) { sticky.classList.add("hidden"); return; }
    const top = matrix.scrollTop, h = matrix.clientHeight || window.innerHeight;
    const start = Math.max(0, firstVisible(top) - OVERSCAN);
    let end = firstVisible(top + h) + OVERSCAN;
    end = Math.min(items.length - 1, end);
    for (const [i, e] of rendered) if (i < start || i > end) { e.remove(); rendered.delete(i); }
    const frag = document.createDocumentFragment();
    for (let i = start; i <= end; i++) {
      if (rendered.has(i)) continue;
      const it = items[i];
      const e = it.k === "g" ? groupHeadEl(it.g, offsets[i]) : rowEl(it, offsets[i]);
      rendered.set(i, e);
      frag.append(e);
    }
    spacer.append(frag);
    // A sticky copy of the current suite's header once its own header has scrolled away.
    const at = firstVisible(top);
    const g = items[at].g;
    const showSticky = !(items[at].k === "g" && offsets[at] >= top - 1);
    if (showSticky) {
      if (stickyGroup !== g) { sticky.replaceChildren(groupHeadEl(g, 0)); stickyGroup = g; }
      sticky.classList.remove("hidden");
    } else sticky.classList.add("hidden");
  }
  matrix.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);
  spacer.addEventListener("click", (e) => {
    const t = e.target;
    if (!(t instanceof Element)) return;
    const cmp = t.closest("[data-compare]");
    if (cmp) { const row = cmp.closest(".row")._row; const vs = Array.from(row.cells.keys()); openCompare(row, vs[0], vs[1]); return; }
    const cell = t.closest("[data-case]");
    if (cell) openDetail(Number(cell.getAttribute("data-case")));
  });
  spacer.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.key === "Enter" && t instanceof Element && t.hasAttribute("data-case")) openDetail(Number(t.getAttribute("data-case")));
  });
  function markSelected(i) {
    selectedCase = i;
    for (const e of spacer.querySelectorAll(".cell.selected")) e.classList.remove("selected");
    if (i >= 0) { const e = spacer.querySelector('.cell[data-case="' + i + '"]'); if (e) e.classList.add("selected"); }
  }
  function scrollToCase(c) {
    const idx = items.findIndex((it) => it.k === "r" && it.r === c.row);
    if (idx < 0) return;
    const y = offsets[idx];
    if (y < matrix.scrollTop + HEAD_H || y + ROW_H > matrix.scrollTop + matrix.clientHeight) { matrix.scrollTop = Math.max(0, y - HEAD_H - 8); render(); }
  }

  // -- the detail and compare panel -----------------------------------------------------------
  const panel = el("aside", { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-label": "case details" });
  function closePanel() { panel.classList.remove("open", "wide"); panel.replaceChildren(); markSelected(-1); }
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && panel.classList.contains("open")) closePanel();
    else if (e.key === "/" && document.activeElement && document.activeElement.tagName !== "INPUT") { e.preventDefault(); document.getElementById("q").focus(); }
  });
  function panelHead(title, sub, extra) {
    return el("div", { class: "phead" },
      el("div", { style: { "min-width": "0" } }, el("div", { class: "ttl", text: title }), sub ? el("div", { class: "sub", text: sub }) : null, extra || null),
      el("button", { class: "x", title: "close (Esc)", "aria-label": "close", onclick: closePanel }, "×"));
  }
  function fact(k, v) { return el("div", { class: "fact" }, el("div", { class: "k", text: k }), el("div", { class: "v", text: v })); }
  function tokensText(t) { t = t || {}; return int(t.input || 0) + " in · " + int(t.output || 0) + " out" + (t.cached ? " · " + int(t.cached) + " cached" : ""); }
  function baselineCallout(c) {
    if (!c.bl) return null;
    if (c.bl === "newfail") { const ch = blChange.get(c.id); return el("div", { class: "callout newfail", text: "Newly failing: " + ch.baseline_outcome + " in the baseline, " + ch.outcome + " now." }); }
    if (c.bl === "fixed") { const ch = blChange.get(c.id); return el("div", { class: "callout fixed", text: "Fixed: " + ch.baseline_outcome + " in the baseline, " + ch.outcome + " now." }); }
    if (c.bl === "drop") { const d = blDrop.get(c.id); return el("div", { class: "callout drop", text: "Score dropped " + sc(d.baseline_score) + " → " + sc(d.score) + " (−" + d.drop.toFixed(2) + ", limit " + BL.score_drop_limit + ")." }); }
    return el("div", { class: "callout added", text: "New: this case is not in the baseline." });
  }
  function assertionsTable(c) {
    if (!c.assertions.length) return el("div", { class: "muted", text: "No assertions." });
    return el("table", { class: "t asr" },
      el("thead", null, el("tr", null, el("th", null, ""), el("th", { text: "assertion" }), el("th", { class: "r", text: "score" }), el("th", { text: "reason" }))),
      el("tbody", null, c.assertions.map((a) => el("tr", null,
        el("td", null, el("span", { class: a.unscored ? "un" : a.passed ? "ok" : "no", text: a.unscored ? "?" : a.passed ? "✓" : "✗" })),
        el("td", null, el("span", { class: "mono", text: String(a.type) }),
          el("div", { class: "muted", style: { "font-size": "12px" }, text: [a.metric ? "metric " + a.metric : null, a.weight != null && a.weight !== 1 ? "weight " + a.weight : null, a.line ? "line " + a.line : null].filter(Boolean).join(" · ") })),
        el("td", { class: "r", text: sc(a.score) }),
        el("td", { class: "reason" }, String(a.reason || ""), a.raw ? el("details", null, el("summary", null, "judge's reply"), el("pre", { class: "text", text: String(a.raw) })) : null)))));
  }
  function promptEl(c) {
    const msgs = messagesOf(c);
    if (!msgs.length) return el("div", { class: "muted", text: "No rendered prompt was recorded." });
    return msgs.map((m) => el("div", { class: "msg" }, el("div", { class: "role", text: m.role }), el("pre", { class: "text", text: m.content })));
  }
  function openDetail(i) {
    const c = CASES[i];
    if (!c) return;
    const V = VARIANTS[c.v];
    const others = Array.from(c.row.cells.keys()).filter((v) => v !== c.v);
    const cost = totalCost(c);
    const facts = [
      fact("Score", c.score == null ? "–" : c.score.toFixed(3) + (c.threshold != null ? " (threshold " + sc(c.threshold) + ")" : "")),
      fact("Tokens", tokensText(c.tokens)),
      fact("Cost", c.unpriced ? "unknown (unpriced model)" : usd(c.cost_usd)),
      fact("Latency", ms(c.latency_ms) + (c.ttft_ms != null ? " · TTFT " + ms(c.ttft_ms) : "")),
      fact("Model", String(c.model || "–") + (c.answered_by ? " (answered by " + c.answered_by + ")" : "")),
      fact("Source", (c.replayed ? "replayed from cassette" : "live call") + (c.retries ? " · " + c.retries + " retries" : "")),
    ];
    if (c.judge_tokens || c.judge_cost_usd || c.judge_failures) {
      facts.push(fact("Judge", tokensText(c.judge_tokens) + " · " + usd(c.judge_cost_usd) + (c.judge_failures ? " · " + c.judge_failures + " unreadable" : "")));
      facts.push(fact("Total cost", usd(cost)));
    }
    if (c.tags.length) facts.push(fact("Tags", c.tags.join(", ")));
    panel.classList.remove("wide");
    panel.replaceChildren(
      panelHead(c.case, c.location ? String(c.location) : c.suite,
        el("div", { class: "hl", style: { "margin-top": "6px" } }, badge(c.outcome), el("span", { class: "sw", style: { background: V.color } }), el("b", { text: vTitle(V) }), el("span", { class: "muted", text: "× " + V.provider }))),
      el("div", { class: "pbody", id: "detail", "data-case": c.i },
        baselineCallout(c),
        others.length ? el("div", { class: "hl" }, el("span", { class: "muted", text: "Compare with" }),
          others.map((v) => el("button", { class: "btn", "data-compare-with": v, onclick: () => openCompare(c.row, c.v, v) }, el("span", { class: "sw", style: { background: VARIANTS[v].color } }), " " + vTitle(VARIANTS[v]) + " × " + VARIANTS[v].provider))) : null,
        el("div", { class: "facts" }, facts),
        el("section", null, el("h3", { text: "Output" }), c.output == null ? el("div", { class: "muted", text: "(no output)" }) : el("pre", { class: "text", id: "output", text: String(c.output) })),
        c.error ? el("section", null, el("h3", { text: "Error" }), el("pre", { class: "text err", text: String(c.error) })) : null,
        el("section", null, el("h3", { text: "Assertions" }), assertionsTable(c)),
        c.runs && c.runs.length ? el("section", null, el("h3", { text: "Runs" }), el("table", { class: "t" }, el("tbody", null, c.runs.map((r, k) => el("tr", null,
          el("td", { text: "run " + (r.run || k + 1) }), el("td", null, badge(String(r.outcome))), el("td", { class: "r", text: sc(r.score) }), el("td", { class: "mono", text: r.error ? firstLine(r.error) : "" })))))) : null,
        el("section", null, el("h3", { text: "Rendered prompt" }), promptEl(c)),
        el("section", { class: "muted mono", style: { "font-size": "12px" } }, String(c.id))));
    panel.classList.add("open");
    markSelected(i);
    scrollToCase(c);
  }

  function openCompare(row, va, vb) {
    const A = row.cells.get(va), B = row.cells.get(vb);
    if (!A || !B) return;
    const vs = Array.from(row.cells.keys());
    const pick = (id, current, other) => el("select", { id: id, "aria-label": id, onchange: (e) => {
      const v = Number(e.target.value);
      if (id === "cmp-a") openCompare(row, v, v === other ? current : other); else openCompare(row, v === other ? current : other, v);
    } }, vs.map((v) => el("option", { value: String(v), selected: v === current, text: VARIANTS[v].name })));
    const side = (c, key) => {
      const V = VARIANTS[c.v];
      return el("div", { class: "side" }, key,
        el("div", { class: "hl" }, el("span", { class: "sw", style: { background: V.color } }), badge(c.outcome), el("span", { class: "score", text: sc(c.score) }), flagOf(c),
          el("button", { class: "btn", style: { "margin-left": "auto" }, onclick: () => openDetail(c.i) }, "details")),
        el("div", { class: "muted", style: { "font-size": "12.5px" }, text: tokensText(c.tokens) + " · " + usd(totalCost(c)) + " · " + ms(c.latency_ms) }));
    };
    const outA = String(A.output == null ? "" : A.output), outB = String(B.output == null ? "" : B.output);
    const ops = wordDiff(outA, outB);
    let added = 0, removed = 0;
    for (const [op, t] of ops) { if (op === "+") added += wordCount(t); else if (op === "-") removed += wordCount(t); }
    const promptText = (c) => messagesOf(c).map((m) => "[" + m.role + "]\n" + m.content).join("\n\n");
    const pops = wordDiff(promptText(A), promptText(B));
    // Assertions line up by type and occurrence: the 2nd `icontains` of A beside the 2nd of B.
    const keyed = (c) => { const n = {}; return c.assertions.map((a) => { n[a.type] = (n[a.type] || 0) + 1; return [a.type + "#" + n[a.type], a]; }); };
    const ka = new Map(keyed(A)), kb = new Map(keyed(B));
    const keys = Array.from(new Set([...ka.keys(), ...kb.keys()]));
    const asr = (a) => a ? el("td", { class: "reason" }, el("span", { class: a.unscored ? "un" : a.passed ? "ok" : "no", text: (a.unscored ? "?" : a.passed ? "✓" : "✗") + " " + sc(a.score) + "  " }), String(a.reason || "")) : el("td", { class: "muted", text: "—" });
    panel.classList.add("wide");
    panel.replaceChildren(
      panelHead("Compare: " + row.name, row.g.suite),
      el("div", { class: "pbody", id: "compare" },
        el("div", { class: "cmp" }, side(A, pick("cmp-a", va, vb)), side(B, pick("cmp-b", vb, va))),
        el("section", null, el("h3", null, "Output ", el("span", { class: "diffstat" }, outA === outB ? "identical" : el("span", null, el("span", { class: "d", text: "−" + removed }), " ", el("span", { class: "a", text: "+" + added }), " words"))),
          el("div", { class: "cmp", id: "diff" }, diffSide(ops, "a"), diffSide(ops, "b"))),
        el("section", null, el("h3", { text: "Assertions" }), el("table", { class: "t asr" },
          el("thead", null, el("tr", null, el("th", { text: "assertion" }), [va, vb].map((v) => el("th", null, el("span", { class: "vname" }, el("span", { class: "sw", style: { background: VARIANTS[v].color } }), el("span", { class: "nm", text: VARIANTS[v].name })))))),
          el("tbody", null, keys.map((k) => el("tr", null, el("td", { class: "mono", text: k.replace(/#1$/, "") }), asr(ka.get(k)), asr(kb.get(k))))))),
        el("section", null, el("h3", { text: "Rendered prompt" }), el("div", { class: "cmp" }, diffSide(pops, "a"), diffSide(pops, "b")))));
    panel.classList.add("open");
    markSelected(-1);
  }

  // -- assemble ------------------------------------------------------------------------------
  app.append(header(),
    el("div", { class: "summary", id: "summary" }, cards(), gatesBox(), baselineBox(),
      variantsBox(), versionsBox(), statsBox(), judgesBox()),
    toolbar(), matrix, panel);
  const tb = document.getElementById("toolbar");
  document.documentElement.style.setProperty("--tb-h", tb.offsetHeight + "px");
  // Rows and the sticky header share one width, so their columns line up when scrolled sideways.
  const width = "max(100%, calc(var(--case-w) + " + maxCols + " * var(--cell-w)))";
  spacer.style.setProperty("min-width", width);
  sticky.style.setProperty("min-width", width);
  applyFilters();

  performance.mark("llmops-matrix-rendered");
  performance.measure("llmops-render", "llmops-start", "llmops-matrix-rendered");
  window.__llmops = { ready: true, cases: CASES.length, rows: rowCount, renderedAt: performance.now(), wordDiff: wordDiff, openDetail: openDetail };
  requestAnimationFrame(() => setTimeout(() => {
    performance.mark("llmops-painted");
    window.__llmops.paintedAt = performance.now();
    document.documentElement.setAttribute("data-ready", "1");
  }, 0));
})();
