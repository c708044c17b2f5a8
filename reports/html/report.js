// The v4eval HTML report viewer (embedded by reports/html_report.cpp). No network, no
// dependencies: data comes from the page's compressed chunks, inflated on demand.
"use strict";
(function () {
  // ---------------------------------------------------------------- data chunks
  const cache = new Map();

  function base64ToBytes(b64) {
    const bin = atob(b64.trim());
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function inflate(bytes) {
    if (typeof DecompressionStream === "function") {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
      return await new Response(stream).text();
    }
    return new TextDecoder().decode(inflateSync(bytes));
  }

  // A small zlib (RFC 1950/1951) inflater for browsers without DecompressionStream, after
  // Mark Adler's puff.c: canonical Huffman decoding, bit by bit. Slow but correct.
  function inflateSync(data) {
    let pos = 2, bit = 0, out = new Uint8Array(Math.max(1024, data.length * 4)), n = 0;
    const put = (b) => {
      if (n === out.length) { const o = new Uint8Array(out.length * 2); o.set(out); out = o; }
      out[n++] = b;
    };
    const bits = (need) => {
      let v = 0;
      for (let i = 0; i < need; i++) {
        if (pos >= data.length) throw new Error("inflate: input ends early");
        v |= ((data[pos] >> bit) & 1) << i;
        if (++bit === 8) { bit = 0; pos++; }
      }
      return v;
    };
    const huff = (lengths) => {
      const counts = new Uint16Array(16), offs = new Uint16Array(16), symbols = new Uint16Array(lengths.length);
      for (const l of lengths) counts[l]++;
      counts[0] = 0;
      for (let l = 1; l < 16; l++) offs[l] = offs[l - 1] + counts[l - 1];
      for (let s = 0; s < lengths.length; s++) if (lengths[s]) symbols[offs[lengths[s]]++] = s;
      return { counts, symbols };
    };
    const decode = (h) => {
      let code = 0, first = 0, index = 0;
      for (let len = 1; len < 16; len++) {
        code |= bits(1);
        const count = h.counts[len];
        if (code - first < count) return h.symbols[index + code - first];
        index += count; first += count; first <<= 1; code <<= 1;
      }
      throw new Error("inflate: bad code");
    };
    const LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
    const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    const DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
    const DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
    const codes = (lit, dist) => {
      for (;;) {
        let sym = decode(lit);
        if (sym < 256) { put(sym); continue; }
        if (sym === 256) return;
        sym -= 257;
        if (sym >= 29) throw new Error("inflate: bad length");
        const len = LBASE[sym] + bits(LEXT[sym]);
        const ds = decode(dist);
        if (ds >= 30) throw new Error("inflate: bad distance");
        const d = DBASE[ds] + bits(DEXT[ds]);
        if (d > n) throw new Error("inflate: distance too far");
        for (let i = 0; i < len; i++) put(out[n - d]);
      }
    };
    let fixed = null;
    for (let last = 0; !last;) {
      last = bits(1);
      const type = bits(2);
      if (type === 0) {
        if (bit) { bit = 0; pos++; }
        const len = data[pos] | (data[pos + 1] << 8);
        pos += 4;
        for (let i = 0; i < len; i++) put(data[pos++]);
      } else if (type === 1) {
        if (!fixed) {
          const l = new Uint8Array(288);
          l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
          fixed = [huff(l), huff(new Uint8Array(30).fill(5))];
        }
        codes(fixed[0], fixed[1]);
      } else if (type === 2) {
        const nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
        const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
        const cl = new Uint8Array(19);
        for (let i = 0; i < ncode; i++) cl[ORDER[i]] = bits(3);
        const ch = huff(cl);
        const lengths = new Uint8Array(nlen + ndist);
        for (let i = 0; i < nlen + ndist;) {
          const sym = decode(ch);
          if (sym < 16) { lengths[i++] = sym; continue; }
          let rep = 0, val = 0;
          if (sym === 16) { if (!i) throw new Error("inflate: repeat without length"); val = lengths[i - 1]; rep = 3 + bits(2); }
          else if (sym === 17) rep = 3 + bits(3);
          else rep = 11 + bits(7);
          while (rep--) lengths[i++] = val;
        }
        codes(huff(lengths.subarray(0, nlen)), huff(lengths.subarray(nlen)));
      } else {
        throw new Error("inflate: bad block type");
      }
    }
    return out.subarray(0, n);
  }

  function chunk(id) {
    if (!cache.has(id)) {
      cache.set(id, (async () => {
        const el = document.getElementById(id);
        if (!el) throw new Error("report data chunk " + id + " is missing");
        const text = await inflate(base64ToBytes(el.textContent));
        return JSON.parse(text);
      })());
    }
    return cache.get(id);
  }

  // ---------------------------------------------------------------- helpers
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid === undefined || kid === null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }
  const SVGNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
    for (const kid of kids.flat()) if (kid !== undefined && kid !== null) el.append(kid instanceof Node ? kid : String(kid));
    return el;
  }
  const f4 = (x) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(4));
  const f3 = (x) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(3));
  const signed = (x) => (x > 0 ? "+" : "") + Number(x).toFixed(4);
  const pct = (k, n) => (n ? (100 * k / n).toFixed(1) + "%" : "–");
  const fmtP = (p) => (p === undefined || p === null ? "–" : p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
  const intf = (x) => (x === null || x === undefined || x < 0 ? "–" : Math.round(x).toLocaleString("en-US"));
  const isNum = (x) => /^\d{1,15}$/.test(x);
  const natural = (a, b) => (isNum(a) && isNum(b) ? Number(a) - Number(b) : isNum(a) !== isNum(b) ? (isNum(a) ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0);
  const COLORS = ["#2457c5", "#d1495b", "#2a9d8f", "#e9a23b", "#7b4fb0", "#5c7080", "#8a5a44", "#3c8d2f"];
  function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }

  function smallMarker(n, small, lo, hi) {
    if (!small) return null;
    const mde = (1.959964 + 0.841621) * Math.SQRT2 * ((hi - lo) / (2 * 1.959964));
    return h("span", { class: "small-n", title: "n = " + n + " is too small to separate two runs by less than 10 points " +
      "(smallest detectable difference ≈ " + mde.toFixed(3) + " at α 0.05, power 0.8)" }, " ⚠");
  }
  function metricCell(m, label) {
    if (!m) return h("td", { class: "num" }, "–");
    const [v, lo, hi, n, small] = m;
    return h("td", { class: "num", "data-metric": label || null }, f4(v), " ", h("span", { class: "ci" }, "[" + f4(lo) + ", " + f4(hi) + "]"),
      " ", h("span", { class: "ci" }, "n=" + n), smallMarker(n, small, lo, hi));
  }

  // ---------------------------------------------------------------- state
  let M, A, N;
  let score;      // Float64Array, NaN for errors and skipped attempts
  const state = { run: -1, suite: -1, mode: -1, verdict: "", errorClass: -1, min: "", max: "", text: "", sort: "", desc: false };
  let filtered = [];
  let selected = -1;
  let hay = null;  // lower-cased searchable text per attempt, built on the first text search

  const runName = (r) => M.runs[r].label || M.runs[r].name;
  const modeName = (m) => M.modes[m];

  async function transcript(i) {
    const c = Math.floor(i / M.chunk_size);
    const rows = await chunk("v4-t" + c);
    return rows[i - c * M.chunk_size];
  }
  async function promptOf(id) {
    if (id < 0) return null;
    const offs = M.prompt_offsets;
    let lo = 0, hi = offs.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (offs[mid] <= id) lo = mid; else hi = mid - 1; }
    const rows = await chunk("v4-p" + lo);
    return rows[id - offs[lo]];
  }
  const textOf = (t) => (t === undefined || t === null ? "" : typeof t === "string" ? t : t.head + " " + t.tail);

  // ---------------------------------------------------------------- overview
  function overview() {
    const root = h("section", { class: "view", id: "view-overview" });
    root.append(h("h2", null, "Runs"));
    const runs = h("table", { class: "grid" }, h("tr", null, ["run", "model", "backend", "status", "modes", "repeats", "sampling", "started", "shards"].map((x) => h("th", null, x))));
    M.runs.forEach((r) => {
      const st = r.settings || {};
      const sampling = ["temperature", "top_p", "max_tokens", "seed"].filter((k) => st[k] !== null && st[k] !== undefined && st[k] !== 0).map((k) => k + "=" + st[k]).join(" ") || "defaults";
      const shards = r.shards && r.shards.length ? r.shards.length + " of " + r.shards[0].count + " merged" : "–";
      runs.append(h("tr", null, h("td", null, h("b", null, r.label || r.name)), h("td", null, r.model), h("td", { class: "note" }, r.backend),
        h("td", null, h("span", { class: "badge " + (r.status === "complete" ? "good" : "warn") }, r.status)),
        h("td", null, (st.modes || []).join(", ")), h("td", { class: "num" }, st.repeats ?? "–"), h("td", { class: "note" }, sampling),
        h("td", { class: "note" }, r.started_at), h("td", { class: "note" }, shards)));
    });
    root.append(runs);

    root.append(h("h2", null, "Results"), h("div", { class: "note" },
      "Headline metric per run, suite and mode with its 95% interval (Wilson for pass/fail, cluster bootstrap by sample when there are repeats, t otherwise). " +
      "Errors, skipped and truncated attempts (finish_reason length) are counted apart from scores. Click a row for every metric."));
    const res = h("table", { class: "grid", id: "results" }, h("tr", null,
      ["run", "suite", "mode", "samples", "attempts", "headline [95% CI]", "errors", "truncated", "skipped", "prompt tok", "completion tok", "reasoning tok", "latency p50 / p90 ms"].map((x, i) => h("th", { class: i >= 3 ? "num" : null }, x))));
    M.results.forEach((r) => {
      const tok = r.tokens || {};
      const tr = h("tr", { class: "clickable", "data-run": r.run, "data-suite": r.suite, "data-mode": r.mode },
        h("td", null, runName(r.run)), h("td", null, r.suite), h("td", null, r.mode),
        h("td", { class: "num" }, r.n_samples), h("td", { class: "num" }, r.n_attempts),
        (() => { const td = metricCell(r.metrics[r.headline], r.headline); td.prepend(h("span", { class: "note" }, r.headline + " ")); return td; })(),
        h("td", { class: "num" }, r.n_errors ? h("span", { class: "neg" }, r.n_errors + " (" + pct(r.n_errors, r.n_attempts) + ")") : "0"),
        h("td", { class: "num" }, r.n_truncated ? h("span", { class: "neg" }, r.n_truncated + " (" + pct(r.n_truncated, r.n_attempts) + ")") : "0"),
        h("td", { class: "num" }, r.n_skipped || 0),
        h("td", { class: "num" }, tok.prompt ? intf(tok.prompt.mean) : "–"),
        h("td", { class: "num" }, tok.completion ? intf(tok.completion.mean) : "–"),
        h("td", { class: "num" }, tok.reasoning ? intf(tok.reasoning.mean) : "–"),
        h("td", { class: "num" }, tok.latency_ms ? intf(tok.latency_ms.p50) + " / " + intf(tok.latency_ms.p90) : "–"));
      let open = null;
      tr.addEventListener("click", () => {
        if (open) { open.remove(); open = null; return; }
        const names = Object.keys(r.metrics).sort((a, b) => (a === r.headline ? -1 : b === r.headline ? 1 : a < b ? -1 : 1));
        const inner = h("table", { class: "grid" }, h("tr", null, h("th", null, "metric"), h("th", { class: "num" }, "value [95% CI]")));
        for (const n of names) inner.append(h("tr", null, h("td", null, n), metricCell(r.metrics[n])));
        const errs = Object.entries(r.error_classes || {});
        open = h("tr", null, h("td", { colspan: 13 }, inner,
          errs.length ? h("div", { class: "note" }, "error classes: " + errs.map(([k, v]) => k + " × " + v).join("; ")) : null,
          h("div", { class: "note" }, "suite version " + r.version + ", data " + String(r.data_hash).slice(0, 12))));
        tr.after(open);
      });
      res.append(tr);
    });
    root.append(res);

    if (M.comparisons.length) {
      root.append(h("h2", null, "Comparisons"), h("div", { class: "note" },
        "Paired per sample (B − A): McNemar's exact test for pass/fail, paired bootstrap for continuous scores; p-values Holm-adjusted within each comparison. Open one to see the flipped samples."));
      const t = h("table", { class: "grid", id: "comparisons" }, h("tr", null,
        ["A", "B", "suite", "metric", "n", "Δ B−A [95% CI]", "p", "p (Holm)", "won / lost", "test", ""].map((x, i) => h("th", { class: i === 4 || (i >= 5 && i <= 8) ? "num" : null }, x))));
      M.comparisons.forEach((c, ci) => {
        const warn = c.comparable ? null : h("span", { class: "badge bad", title: c.differences.join("\n") }, "not comparable");
        for (const r of c.rows) {
          t.append(h("tr", null, h("td", null, c.by_mode ? c.a : c.a + " / " + r.mode_a), h("td", null, c.by_mode ? c.b : c.b + " / " + r.mode_b),
            h("td", null, r.suite, " ", warn), h("td", null, r.metric),
            h("td", { class: "num" }, r.n_paired, r.small_n ? h("span", { class: "small-n", title: "too few samples to separate runs by < 10 points" }, " ⚠") : null),
            h("td", { class: "num " + (r.delta > 0 ? "pos" : r.delta < 0 ? "neg" : "") }, signed(r.delta), " ", h("span", { class: "ci" }, "[" + signed(r.ci_low) + ", " + signed(r.ci_high) + "]")),
            h("td", { class: "num" }, fmtP(r.p_value)), h("td", { class: "num" }, fmtP(r.p_holm)),
            h("td", { class: "num" }, r.won + " / " + r.lost), h("td", { class: "note" }, r.test),
            h("td", null, h("button", { class: "link", onclick: () => openDiff(ci, r) }, "diff →"))));
        }
      });
      root.append(t);
    }
    return root;
  }

  // ---------------------------------------------------------------- samples
  const COLS = [
    { key: "run", title: "run", w: "minmax(80px,1.2fr)", get: (i) => runName(A.run[i]) },
    { key: "suite", title: "suite", w: "90px", get: (i) => M.suites[A.suite[i]] },
    { key: "mode", title: "mode", w: "92px", get: (i) => modeName(A.mode[i]) },
    { key: "sample", title: "sample", w: "minmax(70px,1fr)", get: (i) => A.sample[i] },
    { key: "repeat", title: "rep", w: "40px", num: true, get: (i) => A.repeat[i] },
    { key: "score", title: "score", w: "70px", num: true, get: (i) => (Number.isNaN(score[i]) ? "–" : f3(score[i])) },
    { key: "verdict", title: "verdict", w: "minmax(80px,1fr)", get: (i) => (A.status[i] === 0 ? M.verdicts[A.verdict[i]] : A.status[i] === 2 ? "skipped" : "error") },
    { key: "ctok", title: "out tok", w: "70px", num: true, get: (i) => intf(A.ctok[i]) },
    { key: "rtok", title: "reas. tok", w: "76px", num: true, get: (i) => intf(A.rtok[i]) },
    { key: "lat", title: "ms", w: "70px", num: true, get: (i) => (A.lat[i] > 0 ? intf(A.lat[i]) : "–") },
    { key: "error", title: "error / finish", w: "minmax(100px,2fr)", get: (i) => (A.error[i] >= 0 ? M.errors[A.error[i]] : M.finishes[A.finish[i]] === "length" ? "truncated (length)" : "") },
  ];
  const GRID = COLS.map((c) => c.w).join(" ");
  const ROW_H = 26;

  // A virtualised list: only the rows in view exist in the DOM.
  function vlist(cols, grid, getCount, onPick, rowClass, onSort) {
    const head = h("div", { class: "vhead", style: "grid-template-columns:" + grid },
      cols.map((c) => h("div", { class: c.num ? "num" : null, onclick: () => onSort && onSort(c.key), title: "sort" }, c.title)));
    const spacer = h("div", { style: "height:0px" });
    const scroll = h("div", { class: "vscroll" }, spacer);
    const box = h("div", { class: "vlist" }, head, scroll);
    let pool = [];
    function render() {
      const count = getCount();
      spacer.style.height = count * ROW_H + "px";
      const first = Math.max(0, Math.floor(scroll.scrollTop / ROW_H) - 5);
      const last = Math.min(count, first + Math.ceil((scroll.clientHeight || 480) / ROW_H) + 10);
      for (const el of pool) el.remove();
      pool = [];
      for (let k = first; k < last; k++) {
        const row = h("div", { class: "vrow " + (rowClass ? rowClass(k) : ""), style: "top:" + k * ROW_H + "px;grid-template-columns:" + grid, "data-k": k },
          cols.map((c) => h("div", { class: c.num ? "num" : null }, c.get(k))));
        row.addEventListener("click", () => onPick(k));
        scroll.append(row);
        pool.push(row);
      }
    }
    let pending = false;
    scroll.addEventListener("scroll", () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); } });
    return { el: box, render, scrollTop: () => { scroll.scrollTop = 0; } };
  }

  function selectEl(id, options, value, onchange) {
    const el = h("select", { id, "data-testid": id }, options.map(([v, label]) => h("option", { value: v }, label)));
    el.value = String(value);
    el.addEventListener("change", () => onchange(el.value));
    return el;
  }

  let sampleList, countEl, detailEl;

  async function ensureHaystack() {
    if (hay) return;
    countEl.textContent = "loading transcripts for search…";
    const chunks = Math.ceil(N / M.chunk_size);
    const next = new Array(N);
    for (let c = 0; c < chunks; c++) {
      const rows = await chunk("v4-t" + c);
      for (let k = 0; k < rows.length; k++) {
        const i = c * M.chunk_size + k, t = rows[k];
        next[i] = (A.sample[i] + "\n" + textOf(t.t) + "\n" + (t.e || "") + "\n" + (A.status[i] === 0 ? M.verdicts[A.verdict[i]] : "")).toLowerCase();
      }
      if (c % 20 === 19) countEl.textContent = "loading transcripts for search… " + (c + 1) + "/" + chunks;
    }
    hay = next;
  }

  async function applyFilters() {
    const text = state.text.trim().toLowerCase();
    if (text) await ensureHaystack();
    const min = state.min === "" ? -Infinity : Number(state.min), max = state.max === "" ? Infinity : Number(state.max);
    const scoreFilter = state.min !== "" || state.max !== "";
    const v = state.verdict;
    const out = [];
    for (let i = 0; i < N; i++) {
      if (state.run >= 0 && A.run[i] !== state.run) continue;
      if (state.suite >= 0 && A.suite[i] !== state.suite) continue;
      if (state.mode >= 0 && A.mode[i] !== state.mode) continue;
      if (state.errorClass >= 0 && A.error[i] !== state.errorClass) continue;
      if (v) {
        if (v === "(error)") { if (A.status[i] !== 1) continue; }
        else if (v === "(skipped)") { if (A.status[i] !== 2) continue; }
        else if (v === "(truncated)") { if (M.finishes[A.finish[i]] !== "length") continue; }
        else if (A.status[i] !== 0 || M.verdicts[A.verdict[i]] !== v) continue;
      }
      if (scoreFilter && (Number.isNaN(score[i]) || score[i] < min || score[i] > max)) continue;
      if (text && hay[i].indexOf(text) < 0) continue;
      out.push(i);
    }
    if (state.sort) {
      const key = state.sort, dir = state.desc ? -1 : 1;
      const val = {
        score: (i) => (Number.isNaN(score[i]) ? -1 : score[i]), repeat: (i) => A.repeat[i], ctok: (i) => A.ctok[i], rtok: (i) => A.rtok[i], lat: (i) => A.lat[i],
      }[key];
      if (val) out.sort((a, b) => dir * (val(a) - val(b)) || a - b);
      else if (key === "sample") out.sort((a, b) => dir * natural(A.sample[a], A.sample[b]) || a - b);
    }
    filtered = out;
    countEl.textContent = out.length.toLocaleString("en-US") + " of " + N.toLocaleString("en-US") + " attempts";
    countEl.dataset.count = out.length;
    sampleList.scrollTop();
    sampleList.render();
  }

  function samples() {
    const root = h("section", { class: "view", id: "view-samples" });
    const refresh = debounce(() => applyFilters().catch(fail), 150);
    const set = (k) => (val) => { state[k] = val; refresh(); };
    const setInt = (k) => (val) => { state[k] = Number(val); refresh(); };
    const verdictOptions = [["", "all"]].concat(M.verdicts.map((v) => [v, v]), [["(error)", "(error)"], ["(skipped)", "(skipped)"], ["(truncated)", "(truncated)"]]);
    countEl = h("span", { class: "count", id: "sample-count", "data-testid": "sample-count" });
    const search = h("input", { type: "search", id: "f-text", "data-testid": "f-text", placeholder: "sample id, answer, error…" });
    search.addEventListener("input", () => { state.text = search.value; refresh(); });
    const num = (id, k) => { const el = h("input", { type: "number", id, "data-testid": id, step: "0.05", min: 0, max: 1 }); el.addEventListener("input", () => { state[k] = el.value; refresh(); }); return el; };
    root.append(h("div", { class: "filters" },
      h("label", null, "run", selectEl("f-run", [[-1, "all"]].concat(M.runs.map((r, i) => [i, r.label || r.name])), -1, setInt("run"))),
      h("label", null, "suite", selectEl("f-suite", [[-1, "all"]].concat(M.suites.map((x, i) => [i, x])), -1, setInt("suite"))),
      h("label", null, "mode", selectEl("f-mode", [[-1, "all"]].concat(M.modes.map((x, i) => [i, x])), -1, setInt("mode"))),
      h("label", null, "verdict", selectEl("f-verdict", verdictOptions, "", set("verdict"))),
      h("label", null, "score ≥", num("f-min", "min")), h("label", null, "score ≤", num("f-max", "max")),
      h("label", null, "error class", selectEl("f-error", [[-1, "all"]].concat(M.errors.map((x, i) => [i, x])), -1, setInt("errorClass"))),
      h("label", null, "text", search), countEl));
    sampleList = vlist(COLS.map((c) => ({ ...c, get: (k) => c.get(filtered[k]) })), GRID, () => filtered.length,
      (k) => { selected = filtered[k]; sampleList.render(); showAttempt(selected, detailEl).catch(fail); },
      (k) => (filtered[k] === selected ? "selected" : ""),
      (key) => { state.desc = state.sort === key ? !state.desc : key === "score"; state.sort = key; applyFilters().catch(fail); });
    detailEl = h("div", { class: "detail", id: "attempt-detail" }, h("div", { class: "note" }, "Click an attempt to see its transcript: prompt, reasoning, answer, grading details, tokens and timings."));
    root.append(sampleList.el, detailEl);
    return root;
  }

  function clippedText(t, cls) {
    if (t === undefined || t === null) return h("pre", { class: cls || "text" }, "");
    if (typeof t === "string") return h("pre", { class: cls || "text" }, t);
    return h("pre", { class: cls || "text" }, t.head, h("span", { class: "omitted" }, "\n[… " + t.omitted.toLocaleString("en-US") + " bytes omitted of " + t.bytes.toLocaleString("en-US") + "; v4eval show prints all …]\n"), t.tail);
  }

  function foldable(content, limit) {
    const text = typeof content === "string" ? content : null;
    if (text !== null && text.length > limit) {
      const pre = h("pre", { class: "text" }, text.slice(0, Math.floor(limit * 0.6)), h("span", { class: "omitted" }, "\n[… folded " + (text.length - limit).toLocaleString("en-US") + " characters …]\n"), text.slice(text.length - Math.floor(limit * 0.4)));
      const btn = h("button", { class: "link" }, "show all " + text.length.toLocaleString("en-US") + " characters");
      btn.addEventListener("click", () => { pre.replaceChildren(text); btn.remove(); });
      return [pre, btn];
    }
    return [clippedText(content)];
  }

  function promptView(p, details) {
    if (!p) return h("div", { class: "note" }, "prompt not stored");
    if (p.missing) return h("div", { class: "note" }, "prompt not in the database");
    const tokens = details && details.tokens ? " · ≈" + intf(details.tokens) + " tokens (grading details)" : "";
    const head = h("div", { class: "note" }, p.n + " messages · " + intf(p.bytes) + " bytes" + tokens +
      (p.summarised ? " · summarised (over " + intf(M.limits.prompt_full_bytes) + " bytes): first and last messages, a few in between; v4eval show --full prints it whole" : ""));
    const msgs = p.messages.map((m) => m.skipped !== undefined
      ? h("div", { class: "msg omitted" }, "… " + m.skipped + " messages (" + intf(m.bytes) + " bytes) not shown …")
      : h("div", { class: "msg" }, h("div", { class: "role" }, m.role + (m.i !== undefined ? " · message " + (m.i + 1) : "") + (m.bytes !== undefined ? " · " + intf(m.bytes) + " bytes" : "")), foldable(m.content, 2000)));
    const long = p.bytes > 4000 || p.summarised;
    return long ? h("details", null, h("summary", null, "prompt (" + p.n + " messages, folded)"), head, msgs) : h("div", null, head, msgs);
  }

  function detailsView(d) {
    if (!d || !Object.keys(d).length) return h("div", { class: "note" }, "no grading details");
    const kv = h("div", { class: "kv" });
    const extra = [];
    for (const [k, v] of Object.entries(d)) {
      if (k === "code" && typeof v === "string") { extra.push(h("h3", null, "extracted code"), h("pre", { class: "text" }, v)); continue; }
      if (k === "tests" && Array.isArray(v)) {
        const t = h("table", { class: "grid" }, h("tr", null, h("th", null, "#"), h("th", null, "verdict"), h("th", null, "details")));
        v.forEach((x, i) => t.append(h("tr", null, h("td", null, i + 1), h("td", null, typeof x === "object" && x ? x.verdict || JSON.stringify(x) : String(x)),
          h("td", { class: "note" }, typeof x === "object" && x ? Object.entries(x).filter(([kk]) => kk !== "verdict").map(([kk, vv]) => kk + "=" + (typeof vv === "object" ? JSON.stringify(vv) : vv)).join(" ") : ""))));
        extra.push(h("h3", null, "per-test verdicts"), t);
        continue;
      }
      if ((k === "judge" || k === "judge_output" || k === "judge_response") && typeof v === "string") { extra.push(h("h3", null, "judge output"), h("pre", { class: "text" }, v)); continue; }
      kv.append(h("div", null, k), h("div", null, typeof v === "object" ? JSON.stringify(v) : k === "ratio" ? h("b", null, String(v)) : String(v)));
    }
    return h("div", null, kv, extra);
  }

  async function showAttempt(i, target) {
    const t = await transcript(i);
    const p = await promptOf(A.prompt[i]);
    const d = t.d || {};
    const status = A.status[i] === 0 ? h("span", { class: "badge " + (score[i] >= 1 ? "good" : score[i] <= 0 ? "bad" : "") }, M.verdicts[A.verdict[i]] + " · " + f4(score[i]))
      : A.status[i] === 2 ? h("span", { class: "badge warn" }, "skipped") : h("span", { class: "badge bad" }, "error");
    const timing = h("div", { class: "kv" },
      h("div", null, "tokens"), h("div", null, "prompt " + intf(A.ptok[i]) + " · completion " + intf(A.ctok[i]) + " · reasoning " + intf(A.rtok[i])),
      h("div", null, "timing"), h("div", null, "latency " + (A.lat[i] > 0 ? intf(A.lat[i]) + " ms" : "–") + (t.ttft !== undefined ? " · first token " + intf(t.ttft) + " ms" : "")),
      h("div", null, "finish"), h("div", null, (M.finishes[A.finish[i]] || "–") + (t.em ? " · served as " + t.em : "") + " · tries " + A.tries[i] + (t.at ? " · " + t.at : "")));
    target.replaceChildren(...[
      h("h3", { "data-testid": "attempt-title" }, runName(A.run[i]) + " · " + M.suites[A.suite[i]] + " sample " + A.sample[i] + " · " + modeName(A.mode[i]) + " · repeat " + A.repeat[i] + " ", status),
      timing,
      t.e ? [h("h3", null, "error (" + (t.es || "") + ")"), h("pre", { class: "text" }, t.e)] : null,
      h("h3", null, "grading details"), detailsView(d),
      h("h3", null, "prompt"), promptView(p, d),
      t.r ? h("details", null, h("summary", null, "reasoning (" + intf(textOf(t.r).length) + " characters, folded)"), clippedText(t.r)) : null,
      h("h3", null, "answer"), clippedText(t.t)].flat().filter((x) => x));
  }

  // ---------------------------------------------------------------- diff
  const diff = { a: { run: 0, mode: 0 }, b: { run: 0, mode: 1 }, suite: 0, only: "all", rows: [], sel: -1 };
  let diffList, diffSummary, diffDetail, diffEls = {};

  // suite -> run -> mode -> sample -> {sum, n, first, verdicts}
  let bySample = null;
  function indexSamples() {
    bySample = new Map();
    for (let i = 0; i < N; i++) {
      const key = A.suite[i] + "/" + A.run[i] + "/" + A.mode[i];
      let m = bySample.get(key);
      if (!m) { m = new Map(); bySample.set(key, m); }
      let e = m.get(A.sample[i]);
      if (!e) { e = { sum: 0, n: 0, first: i, pass: true, binary: true }; m.set(A.sample[i], e); }
      if (A.status[i] === 0) { e.sum += score[i]; e.n++; if (score[i] !== 0 && score[i] !== 1) e.binary = false; }
      if (A.repeat[i] < A.repeat[e.first]) e.first = i;
    }
  }
  function outcome(e, i) {
    // One attempt: its verdict. Pass/fail repeats: the majority. Otherwise the first repeat's.
    if (!e || e.n === 0) return "error";
    if (e.n > 1 && e.binary) return e.sum / e.n >= 0.5 ? "pass" : "fail";
    return A.status[i] === 0 ? M.verdicts[A.verdict[i]] : "error";
  }

  function computeDiff() {
    if (!bySample) indexSamples();
    const ma = bySample.get(diff.suite + "/" + diff.a.run + "/" + diff.a.mode) || new Map();
    const mb = bySample.get(diff.suite + "/" + diff.b.run + "/" + diff.b.mode) || new Map();
    const rows = [];
    let won = 0, lost = 0, flipped = 0, sumA = 0, sumB = 0, paired = 0;
    for (const [sample, ea] of ma) {
      const eb = mb.get(sample);
      if (!eb || !ea.n || !eb.n) continue;
      const a = ea.sum / ea.n, b = eb.sum / eb.n, d = b - a;
      const oa = outcome(ea, ea.first), ob = outcome(eb, eb.first);
      const flip = oa !== ob;
      paired++; sumA += a; sumB += b;
      if (d > 0) won++; else if (d < 0) lost++;
      if (flip) flipped++;
      rows.push({ sample, a, b, d, oa, ob, flip, ia: ea.first, ib: eb.first });
    }
    rows.sort((x, y) => (x.flip !== y.flip ? (x.flip ? -1 : 1) : Math.abs(y.d) - Math.abs(x.d) || natural(x.sample, y.sample)));
    diff.all = rows;
    diff.rows = rows.filter((r) => diff.only === "all" || (diff.only === "flipped" ? r.flip : diff.only === "changed" ? r.d !== 0 : diff.only === "won" ? r.d > 0 : r.d < 0));
    diff.stats = { paired, won, lost, flipped, meanA: paired ? sumA / paired : NaN, meanB: paired ? sumB / paired : NaN };
    renderDiffSummary();
    diffList.scrollTop();
    diffList.render();
  }

  function precomputed() {
    const suite = M.suites[diff.suite], ma = M.modes[diff.a.mode], mb = M.modes[diff.b.mode];
    for (const c of M.comparisons) {
      for (const r of c.rows) {
        if (r.suite !== suite || r.mode_a !== ma || r.mode_b !== mb) continue;
        const ra = M.runs[diff.a.run], rb = M.runs[diff.b.run];
        const la = ra.label || ra.name, lb = rb.label || rb.name;
        if (c.by_mode && diff.a.run === diff.b.run && c.a === la + "/" + ma && c.b === lb + "/" + mb) return r;
        if (!c.by_mode && c.a === la && c.b === lb) return r;
      }
    }
    return null;
  }

  function renderDiffSummary() {
    const st = diff.stats, pre = precomputed();
    diffSummary.replaceChildren(
      h("span", { "data-testid": "diff-paired" }, st.paired + " paired samples"), " · mean A " + f4(st.meanA) + " · mean B " + f4(st.meanB) + " · Δ ",
      h("b", { class: st.meanB - st.meanA > 0 ? "pos" : st.meanB - st.meanA < 0 ? "neg" : "" }, Number.isNaN(st.meanA) ? "–" : signed(st.meanB - st.meanA)),
      " · ", h("span", { "data-testid": "diff-won" }, "won " + st.won), " · ", h("span", { "data-testid": "diff-lost" }, "lost " + st.lost),
      " · ", h("span", { "data-testid": "diff-flipped" }, "flipped " + st.flipped),
      pre ? h("span", { class: "note" }, " · 95% CI [" + signed(pre.ci_low) + ", " + signed(pre.ci_high) + "], p " + fmtP(pre.p_value) + " (" + pre.test + ")") : h("span", { class: "note" }, " · (no precomputed test for this pair; v4eval compare gives one)"));
  }

  const DCOLS = [
    { key: "flip", title: "", w: "64px", get: (r) => (r.flip ? h("span", { class: "badge " + (r.d < 0 ? "bad" : "good") }, "flipped") : "") },
    { key: "sample", title: "sample", w: "minmax(80px,1fr)", get: (r) => r.sample },
    { key: "a", title: "A", w: "80px", num: true, get: (r) => f3(r.a) },
    { key: "b", title: "B", w: "80px", num: true, get: (r) => f3(r.b) },
    { key: "d", title: "Δ B−A", w: "90px", num: true, get: (r) => h("span", { class: r.d > 0 ? "pos" : r.d < 0 ? "neg" : "" }, r.d === 0 ? "0" : signed(r.d)) },
    { key: "o", title: "outcome A → B", w: "minmax(140px,2fr)", get: (r) => r.oa + " → " + r.ob },
  ];

  function diffView() {
    const root = h("section", { class: "view", id: "view-diff" });
    const runOpts = M.runs.map((r, i) => [i, r.label || r.name]), modeOpts = M.modes.map((m, i) => [i, m]);
    const pick = () => { diff.sel = -1; diffDetail.replaceChildren(h("div", { class: "note" }, "Click a sample to see both transcripts side by side.")); computeDiff(); };
    diffEls = {
      ar: selectEl("d-a-run", runOpts, diff.a.run, (v) => { diff.a.run = +v; pick(); }),
      am: selectEl("d-a-mode", modeOpts, diff.a.mode, (v) => { diff.a.mode = +v; pick(); }),
      br: selectEl("d-b-run", runOpts, diff.b.run, (v) => { diff.b.run = +v; pick(); }),
      bm: selectEl("d-b-mode", modeOpts, diff.b.mode, (v) => { diff.b.mode = +v; pick(); }),
      su: selectEl("d-suite", M.suites.map((x, i) => [i, x]), diff.suite, (v) => { diff.suite = +v; pick(); }),
      on: selectEl("d-only", [["all", "all paired samples"], ["flipped", "flipped only"], ["changed", "changed only"], ["won", "B better"], ["lost", "B worse"]], diff.only, (v) => { diff.only = v; pick(); }),
    };
    diffSummary = h("div", { class: "note", id: "diff-summary", style: "margin-top:8px" });
    root.append(h("div", { class: "filters" },
      h("label", null, "A run", diffEls.ar), h("label", null, "A mode", diffEls.am),
      h("label", null, "B run", diffEls.br), h("label", null, "B mode", diffEls.bm),
      h("label", null, "suite", diffEls.su), h("label", null, "show", diffEls.on)), diffSummary);
    diffList = vlist(DCOLS.map((c) => ({ ...c, get: (k) => c.get(diff.rows[k]) })), DCOLS.map((c) => c.w).join(" "), () => diff.rows.length,
      (k) => { diff.sel = k; diffList.render(); showPair(diff.rows[k]).catch(fail); }, (k) => (k === diff.sel ? "selected" : ""), null);
    diffDetail = h("div", { class: "detail", id: "diff-detail" }, h("div", { class: "note" }, "Click a sample to see both transcripts side by side."));
    root.append(diffList.el, diffDetail);
    return root;
  }

  async function showPair(r) {
    const [ta, tb] = await Promise.all([transcript(r.ia), transcript(r.ib)]);
    const p = await promptOf(A.prompt[r.ia]);
    const side = (label, i, t) => h("div", null,
      h("h3", null, label + ": " + runName(A.run[i]) + " · " + modeName(A.mode[i]) + " ", h("span", { class: "badge" }, (A.status[i] === 0 ? M.verdicts[A.verdict[i]] + " " + f4(score[i]) : "error"))),
      detailsView(t.d), t.r ? h("details", null, h("summary", null, "reasoning (folded)"), clippedText(t.r)) : null,
      h("h3", null, "answer"), clippedText(t.t), t.e ? h("pre", { class: "text" }, t.e) : null);
    diffDetail.replaceChildren(h("h3", null, M.suites[A.suite[r.ia]] + " sample " + r.sample + " (first repeat of each side)"),
      h("div", { class: "side" }, side("A", r.ia, ta), side("B", r.ib, tb)), h("h3", null, "prompt (side A)"), promptView(p, ta.d));
  }

  function openDiff(ci, row) {
    const c = M.comparisons[ci];
    const find = (label) => M.runs.findIndex((r) => (r.label || r.name) === label);
    const base = (label, mode) => (c.by_mode ? label.slice(0, label.length - mode.length - 1) : label);
    diff.a.run = Math.max(0, find(base(c.a, row.mode_a)));
    diff.b.run = Math.max(0, find(base(c.b, row.mode_b)));
    diff.a.mode = M.modes.indexOf(row.mode_a);
    diff.b.mode = M.modes.indexOf(row.mode_b);
    diff.suite = Math.max(0, M.suites.indexOf(row.suite));
    diffEls.ar.value = diff.a.run; diffEls.br.value = diff.b.run; diffEls.am.value = diff.a.mode; diffEls.bm.value = diff.b.mode; diffEls.su.value = diff.suite;
    show("diff");
    computeDiff();
  }

  // ---------------------------------------------------------------- plots
  function noData(why) { return h("div", { class: "nodata" }, "no data — " + why); }

  // A categorical x axis, a linear y axis, series of points with interval whiskers.
  function chart({ cats, series, ymin = 0, ymax = 1, ylabel = "", lines = false, bars = false }) {
    const W = 520, H = 260, L = 52, R = 12, T = 12, B = 42;
    const pw = W - L - R, ph = H - T - B;
    const x = (ci, si, ns) => L + pw * (ci + 0.5) / cats.length + (ns > 1 ? ((si - (ns - 1) / 2) * Math.min(lines ? 6 : 18, pw / cats.length / (ns + 1))) : 0);
    const y = (v) => T + ph * (1 - (v - ymin) / (ymax - ymin || 1));
    const svg = s("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img" });
    for (let k = 0; k <= 4; k++) {
      const v = ymin + (ymax - ymin) * k / 4;
      svg.append(s("line", { class: "gridline", x1: L, x2: W - R, y1: y(v), y2: y(v) }), s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, ymax - ymin > 20 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2)));
    }
    svg.append(s("line", { x1: L, x2: L, y1: T, y2: T + ph, stroke: "#9aa4af" }), s("line", { x1: L, x2: W - R, y1: T + ph, y2: T + ph, stroke: "#9aa4af" }));
    cats.forEach((c, ci) => svg.append(s("text", { x: x(ci, 0, 1), y: H - B + 16, "text-anchor": "middle" }, c)));
    if (ylabel) svg.append(s("text", { x: 12, y: T + ph / 2, transform: "rotate(-90 12 " + (T + ph / 2) + ")", "text-anchor": "middle" }, ylabel));
    series.forEach((se, si) => {
      const color = COLORS[si % COLORS.length];
      const pts = se.points.filter((p) => p && p.y !== null && p.y !== undefined && !Number.isNaN(p.y));
      if (lines && pts.length > 1) svg.append(s("polyline", { fill: "none", stroke: color, "stroke-width": 2, points: pts.map((p) => x(p.x, si, series.length) + "," + y(p.y)).join(" ") }));
      for (const p of pts) {
        const cx = x(p.x, si, series.length);
        if (bars) svg.append(s("rect", { x: cx - 7, width: 14, y: y(Math.max(p.y, ymin)), height: Math.max(0, y(ymin) - y(p.y)), fill: color, opacity: 0.85 }, s("title", null, se.name + " " + cats[p.x] + ": " + (p.label || p.y))));
        if (p.lo !== undefined && p.hi !== undefined) svg.append(s("line", { x1: cx, x2: cx, y1: y(p.lo), y2: y(p.hi), stroke: bars ? "#333" : color, "stroke-width": 1.5 }));
        if (!bars) svg.append(s("circle", { cx, cy: y(p.y), r: 4, fill: color }, s("title", null, se.name + " · " + cats[p.x] + ": " + (p.label || f4(p.y)) + (p.lo !== undefined ? " [" + f4(p.lo) + ", " + f4(p.hi) + "]" : ""))));
      }
    });
    const legend = h("div", { class: "legend" }, series.map((se, si) => h("span", null, h("i", { style: "background:" + COLORS[si % COLORS.length] }), se.name)));
    return h("div", null, svg, legend);
  }

  function plots() {
    const root = h("section", { class: "view", id: "view-plots" });
    const grid = h("div", { class: "plots" });
    root.append(grid);
    const plot = (title, body, note) => grid.append(h("div", { class: "plot" }, h("h3", null, title), note ? h("div", { class: "note" }, note) : null, body));

    // 1. Headline score with CI per mode, one series per run, one plot per suite.
    const suites = [...new Set(M.results.map((r) => r.suite))];
    if (!suites.length) plot("Score per mode", noData("no results"));
    for (const suite of suites) {
      const rs = M.results.filter((r) => r.suite === suite);
      const modes = M.modes.filter((m) => rs.some((r) => r.mode === m));
      const series = M.runs.map((run, ri) => ({ name: run.label || run.name, points: modes.map((m, mi) => {
        const r = rs.find((x) => x.run === ri && x.mode === m);
        const mm = r && r.metrics[r.headline];
        return mm ? { x: mi, y: mm[0], lo: mm[1], hi: mm[2], label: f4(mm[0]) + " (n=" + mm[3] + ")" } : null;
      }) })).filter((se) => se.points.some((p) => p));
      plot(suite + ": " + (rs[0].headline || "score") + " per mode (95% CI)", chart({ cats: modes, series, ylabel: rs[0].headline || "score" }));
    }

    // 2. MRCR score against context bin, one line per needle count.
    const mrcr = M.results.filter((r) => r.suite === "mrcr");
    if (!mrcr.length) plot("MRCR: score by context length", noData("no MRCR run in this report"));
    else {
      const holder = h("div");
      const opts = mrcr.map((r, i) => [i, runName(r.run) + " / " + r.mode]);
      const draw = (k) => {
        const r = mrcr[k];
        const cells = Object.keys(r.metrics).map((n) => /^score@needles=(\d+),bin=(.+)$/.exec(n)).filter(Boolean);
        if (!cells.length) { holder.replaceChildren(noData("no per-needle, per-bin metrics")); return; }
        const binSize = (b) => { const m = /^(\d+)(k|m)$/.exec(b); return m ? Number(m[1]) * (m[2] === "m" ? 1024 : 1) : b === "<4k" ? 0 : 1e9; };
        const bins = [...new Set(cells.map((c) => c[2]))].sort((a, b) => binSize(a) - binSize(b));
        const needles = [...new Set(cells.map((c) => Number(c[1])))].sort((a, b) => a - b);
        const series = needles.map((nd) => ({ name: nd + " needles", points: bins.map((b, bi) => {
          const mm = r.metrics["score@needles=" + nd + ",bin=" + b];
          return mm ? { x: bi, y: mm[0], lo: mm[1], hi: mm[2], label: f4(mm[0]) + " (n=" + mm[3] + ")" } : null;
        }) }));
        holder.replaceChildren(chart({ cats: bins, series, lines: true, ylabel: "mean match ratio" }));
      };
      const sel = selectEl("plot-mrcr", opts, 0, (v) => draw(+v));
      plot("MRCR: score by context length, per needle count (95% CI)", h("div", null, h("label", { class: "note" }, "run / mode ", sel), holder), "bins by o200k tokens of message contents + answer");
      draw(0);
    }

    // 3. LiveCodeBench pass@1 by difficulty.
    const lcb = M.results.filter((r) => r.suite === "livecodebench");
    if (!lcb.length) plot("LiveCodeBench: pass@1 by difficulty", noData("no LiveCodeBench run in this report"));
    else {
      const diffs = ["easy", "medium", "hard"];
      const series = lcb.map((r) => ({ name: runName(r.run) + " / " + r.mode, points: diffs.map((d, di) => {
        const mm = r.metrics["pass@1@difficulty=" + d] || r.metrics["pass@1@" + d];
        return mm ? { x: di, y: mm[0], lo: mm[1], hi: mm[2] } : null;
      }) }));
      plot("LiveCodeBench: pass@1 by difficulty (95% CI)", series.some((se) => se.points.some((p) => p)) ? chart({ cats: diffs, series, ylabel: "pass@1" }) : noData("no per-difficulty metrics"));
    }

    // 4. Codeforces rating estimate.
    const cf = M.results.filter((r) => r.suite === "codeforces" && r.metrics.rating);
    if (!cf.length) plot("Codeforces: rating estimate", noData("no Codeforces run in this report"));
    else {
      const cats = cf.map((r) => runName(r.run) + " / " + r.mode);
      const vals = cf.map((r) => r.metrics.rating);
      const ymax = Math.max(...vals.map((v) => v[2] || v[0])) * 1.1;
      plot("Codeforces: rating estimate (95% CI)", chart({ cats, series: [{ name: "rating", points: vals.map((v, i) => ({ x: i, y: v[0], lo: v[1], hi: v[2], label: Math.round(v[0]) })) }], ymin: 0, ymax, ylabel: "rating", bars: true }));
    }

    // 5. Reasoning tokens per mode.
    const withTok = M.results.filter((r) => r.tokens && r.tokens.reasoning && r.tokens.reasoning.count);
    if (!withTok.length) plot("Reasoning tokens per mode", noData("the backends reported no reasoning token counts"));
    else {
      const modes = M.modes.filter((m) => withTok.some((r) => r.mode === m));
      const runs = [...new Set(withTok.map((r) => r.run))];
      const series = runs.map((ri) => ({ name: runName(ri), points: modes.map((m, mi) => {
        const r = withTok.find((x) => x.run === ri && x.mode === m);
        if (!r) return null;
        const t = r.tokens.reasoning;
        return { x: mi, y: t.mean, lo: t.p50, hi: t.p90, label: "mean " + intf(t.mean) + ", p50 " + intf(t.p50) + ", p90 " + intf(t.p90) };
      }) }));
      const ymax = Math.max(...withTok.map((r) => r.tokens.reasoning.p90 || r.tokens.reasoning.mean)) * 1.1 || 1;
      plot("Reasoning tokens per attempt, per mode (mean; whisker p50–p90)", chart({ cats: modes, series, ymin: 0, ymax, ylabel: "tokens", bars: true }));
    }
    return root;
  }

  // ---------------------------------------------------------------- shell
  const views = {};
  let tabs;
  function show(name) {
    for (const [k, v] of Object.entries(views)) v.classList.toggle("active", k === name);
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.view === name);
    if (name === "samples") sampleList.render();
    if (name === "diff") diffList.render();
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  }

  function fail(e) {
    console.error(e);
    const app = document.getElementById("app");
    app.prepend(h("div", { class: "error-box" }, "The report could not be shown: " + (e && e.message ? e.message : e)));
  }

  async function main() {
    M = await chunk("v4-meta");
    A = M.attempts;
    N = A.run.length;
    score = new Float64Array(N);
    for (let i = 0; i < N; i++) score[i] = A.score[i] === null ? NaN : A.score[i];
    const app = document.getElementById("app");
    tabs = h("nav", { class: "tabs" }, [["overview", "Overview"], ["samples", "Samples"], ["diff", "Diff"], ["plots", "Plots"]].map(([k, label]) =>
      h("button", { "data-view": k, "data-testid": "tab-" + k, onclick: () => show(k) }, label)));
    const counts = M.runs.length + " run(s) · " + N.toLocaleString("en-US") + " attempts · generated " + M.generated_at + " by " + M.generator;
    views.overview = overview();
    views.samples = samples();
    views.diff = diffView();
    views.plots = plots();
    const mainEl = h("main", null, Object.values(views));
    app.replaceChildren(h("header", { class: "top" }, h("h1", null, M.title), h("div", { class: "sub" }, counts), tabs), mainEl);
    // Diff defaults: two runs in the same mode, else two modes of the first run.
    const present = (run) => M.modes.map((_, m) => m).filter((m) => M.results.some((r) => r.run === run && r.mode === M.modes[m]));
    if (M.runs.length > 1) {
      const common = present(0).filter((m) => present(1).includes(m));
      diff.a = { run: 0, mode: common[0] ?? 0 };
      diff.b = { run: 1, mode: common[0] ?? 0 };
    } else {
      const ms = present(0);
      diff.a = { run: 0, mode: ms[0] ?? 0 };
      diff.b = { run: 0, mode: ms[1] ?? ms[0] ?? 0 };
    }
    diffEls.ar.value = diff.a.run; diffEls.am.value = diff.a.mode; diffEls.br.value = diff.b.run; diffEls.bm.value = diff.b.mode;
    const start = (location.hash || "#overview").slice(1);
    show(views[start] ? start : "overview");
    await applyFilters();
    computeDiff();
    document.body.dataset.ready = "1";
  }

  window.v4report = {
    meta: () => M,
    visibleCount: () => filtered.length,
    diffRows: () => diff.rows.map((r) => ({ sample: r.sample, a: r.a, b: r.b, flip: r.flip })),
    // Inflates the summary chunk with the JavaScript fallback and compares with the browser's.
    async inflateSelfTest() {
      const el = document.getElementById("v4-t0") || document.getElementById("v4-p0");
      if (!el || !el.textContent) return "skipped";
      const bytes = base64ToBytes(el.textContent);
      const a = new TextDecoder().decode(inflateSync(bytes));
      const b = await inflate(bytes);
      return a === b ? "ok" : "mismatch";
    },
  };
  main().catch(fail);
})();
