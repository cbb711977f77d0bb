// The typo-tolerant decoder in the page, ported from the Python engine (chargen/noise.py, vocab.py,
// edit_beam.py, typos.py): one ranked list of the words the user may mean, each scored
// log P(word | context) + log P(keys typed | word). Every number (key centres, noise rates, neighbour
// lists, margins, limits) comes from the manifest's engine.typos, written from the Python values.
// Same float32 dynamic programme as numpy's (Math.fround), same candidates, same tie-breaks.
//
//   const t = new ChargenTypos.Typos(manifest.engine.typos, engine)   // engine.typos, built at load
//   await ChargenTypos.corrections(session, 3)      // [["tomorrow", 0.97], ["tomorow", 0.02], ...]
//   await ChargenTypos.autocorrection(session)      // "tomorrow", or null to keep the word as typed
(function (root) {
  "use strict";
  const f32 = Math.fround, NEG = -1e9;
  const W = root.ChargenWords;
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const byProb = (a, b) => b[1] - a[1] || cmp(a[0], b[0]);
  const len = (s) => Array.from(s).length;

  // ------------------------------------------------------------------ the noise model (noise.py)
  class NoiseModel {
    constructor(t) {
      const q = t.params, n = t.centres.length, N = n + 1;
      this.q = q; this.n = n; this.N = N;
      this.keys = t.centres.map((c) => c[0]); this.index = new Map(this.keys.map((k, i) => [k, i]));
      const spread = t.centres.map(([, x, y], i) => t.centres.map(([, u, v], j) =>
        (i === j ? 0 : Math.exp(-((x - u) ** 2 + (y - v) ** 2) / (2 * q.sigma ** 2)))));
      spread.forEach((row) => { const s = row.reduce((a, b) => a + b, 0); row.forEach((v, j) => { row[j] = v / s; }); });
      this.sub = new Float32Array(N * N).fill(f32(Math.log(q.other_key)));
      this.ins = new Float32Array(N * N).fill(f32(Math.log(q.insertion * 1e-3)));
      const diag = f32(Math.log(1 - q.substitution - q.deletion - q.insertion - q.transposition));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        this.sub[i * N + j] = f32(Math.log(Math.max(q.substitution * spread[i][j], 1e-12)));
        this.ins[i * N + j] = f32(Math.log(Math.max(q.insertion * ((i === j ? 0.5 : 0) + 0.5 * spread[i][j]), 1e-12)));
      }
      for (let i = 0; i < N; i++) this.sub[i * N + i] = diag;
      this.match = diag;
      this.dele = f32(Math.log(q.deletion)); this.dele0 = f32(Math.log(q.deletion * q.first_deletion));
      this.trans = f32(Math.log(q.transposition)); this.symSkip = f32(Math.log(q.symbol_deletion));
      this.symbols = new Set(["'", "-"].filter((c) => this.index.has(c)).map((c) => this.index.get(c)));
    }
    codes(keys, extra) {                         // key indices; a key off the layout matches only itself
      return Array.from(keys, (k) => (this.index.has(k) ? this.index.get(k)
        : extra.get(k) ?? (extra.set(k, this.n + 1 + extra.size), extra.get(k))));
    }
    logpMany(typed, words, prefix = false) {     // log P(typed | word) for each word: float32, as numpy
      const extra = new Map(), t = this.codes(typed, extra);
      return words.map((w) => this.logp(t, this.codes(w, extra), prefix));
    }
    logp(t, word, prefix) {
      const n = this.n, N = this.N, L = word.length, m = t.length, w = [n, ...word, n];
      const skip = w.map((c) => (this.symbols.has(c) ? this.symSkip : this.dele));
      if (!this.symbols.has(w[1])) skip[1] = this.dele0;
      let prev = new Float64Array(L + 1), before = null;
      for (let j = 1; j <= L; j++) prev[j] = f32(prev[j - 1] + skip[j]);
      for (let i = 1; i <= m; i++) {
        const ti = t[i - 1], lt = Math.min(ti, n), cur = new Float64Array(L + 1).fill(NEG);
        cur[0] = f32(prev[0] + this.ins[Math.min(w[1], n) * N + lt]);
        for (let j = 1; j <= L; j++) {
          const wj = w[j], lw = Math.min(wj, n);
          let best = f32(prev[j - 1] + (wj === ti ? this.match : this.sub[lw * N + lt]));
          best = Math.max(best, f32(prev[j] + this.ins[lw * N + lt]), f32(cur[j - 1] + skip[j]));
          if (before !== null && j >= 2 && w[j - 1] === ti && wj === t[i - 2] && wj !== w[j - 1])
            best = Math.max(best, f32(before[j - 2] + this.trans));
          cur[j] = best;
        }
        before = prev; prev = cur;
      }
      return prefix ? Math.max(...prev) : prev[L];
    }
    cleanLogp(k) { return k * this.match; }
  }

  function caseLogp(typed, word) {               // noise.case_logp: a capital typed in lower case
    const a = Array.from(typed), b = Array.from(word);
    let lost = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (W.isUpper(b[i]) && W.isLower(a[i])) lost++;
    return lost ? lost * Math.log(this.q.lost_capital) : 0;
  }

  // ------------------------------------------------------------------ the vocabulary (vocab.py)
  function deletions(keys, edits) {
    const out = new Set([keys]);
    let frontier = [keys];
    for (let e = 0; e < edits; e++) {
      const next = new Set();
      for (const k of frontier) for (let i = 0; i < k.length; i++) next.add(k.slice(0, i) + k.slice(i + 1));
      next.forEach((k) => out.add(k)); frontier = [...next];
    }
    return out;
  }

  class Typos {                                  // the decoder's tables for one engine
    constructor(t, engine) {
      this.t = t; this.e = engine; this.noise = new NoiseModel(t);
      this.notWordlike = new RegExp(t.not_wordlike.replace("(?i)", ""), "i");
      const ngram = engine.words;
      const items = ngram ? Object.entries(ngram.unigrams).filter(([k]) => !k.endsWith("'"))
        .sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])) : [];
      this.shown = items.map(([k]) => engine.shown(ngram.spelled(k)));
      this.statKeys = items.map(([k]) => k);
      this.keys = this.shown.map((w) => this.spell(w));
      this.known = new Set(this.shown.map((w) => w.toLowerCase()));
      this.order = this.keys.map((k, i) => i).sort((a, b) => cmp(this.keys[a], this.keys[b]) || a - b);
      this.sortedKeys = this.order.map((i) => this.keys[i]);
      this.pools = new Map(); this.index = new Map();
      this.keys.forEach((k, i) => {
        for (const d of deletions(k.slice(0, t.max_keys), t.max_edits)) {
          const ids = this.index.get(d);
          if (ids === undefined) this.index.set(d, [i]); else if (ids[ids.length - 1] !== i) ids.push(i);
        }
      });
    }
    statKey(word) {                              // Vocabulary.stat_key: the statistics key of a word as shown
      if (!this.where) { this.where = new Map(); this.shown.forEach((w, i) => { if (!this.where.has(w)) this.where.set(w, i); }); }
      const i = this.where.get(word);
      return i === undefined ? null : this.statKeys[i];
    }
    spell(word) {                                // noise.spell_keys: the keys that type a word
      if (!this.e.korean) return word.toLowerCase();
      return Array.from(root.ChargenEngine.decomposeHangul(word), (c) => this.t.jamo_keys[c] ?? c).join("");
    }
    near(keys) {                                 // Vocabulary.near: words within two edits (a superset)
      if (!this.keys.length || !keys) return [];
      const found = new Set();
      for (const d of deletions(keys.slice(0, this.t.max_keys), this.t.max_edits)) for (const i of this.index.get(d) ?? []) found.add(i);
      return [...found].sort((a, b) => a - b).filter((i) => Math.abs(len(this.keys[i]) - len(keys)) <= this.t.max_edits);
    }
    extending(prefixes, limit) {                 // Vocabulary.extending: the most frequent words per prefix
      const out = new Set();
      for (const pre of prefixes) {
        const id = `${limit}\u0000${pre}`;
        if (!this.pools.has(id)) {
          const [lo, hi] = W.prefixRange(this.sortedKeys, pre);
          this.pools.set(id, this.order.slice(lo, hi).sort((a, b) => a - b).slice(0, limit));
        }
        this.pools.get(id).forEach((i) => out.add(i));
      }
      return [...out].sort((a, b) => a - b);
    }
    oneEdit(keys) {                              // typos._one_edit: prefixes one slip from the keys
      const out = new Set([keys]), ks = Array.from(keys), nb = this.t.neighbours;
      const at = (i, mid, skip) => ks.slice(0, i).join("") + mid + ks.slice(i + skip).join("");
      for (let i = 0; i < ks.length; i++) {
        out.add(at(i, "", 1));
        for (const k of nb[ks[i]] ?? []) out.add(at(i, k, 1));
        if (i + 1 < ks.length) out.add(at(i, ks[i + 1] + ks[i], 2));
      }
      for (let i = 1; i <= ks.length; i++) for (const a of this.t.alphabet) out.add(at(i, a, 0));
      return [...out].filter((k) => len(k) >= Math.max(1, ks.length - 1));
    }
  }

  // ------------------------------------------------------------------ the edit-tolerant beam (edit_beam.py)
  const EDIT_BEAM = true;                        // typos.EDIT_BEAM
  const EDIT = { width: 4, extra: 2, found: 3, slack: 12.0, sure: Math.log(1e-4), end: Math.log(0.5) };   // edit_beam.EDIT_*
  function beamTables(T, e) {                    // edit_beam._Tables: the word tokens the layout types
    if (T.beamTab) return T.beamTab;
    const nz = T.noise, q = nz.q, tab = { ids: [], codes: [], lower: [], upper: [], quote: [], skip: [], skip0: [] };
    e.texts.forEach((t, i) => {
      const k = t.toLowerCase();
      if (!e.wordMask[i] || len(t) !== 1 || !(/^\p{L}$/u.test(t) || t === "'") || !nz.index.has(k)) return;
      const sym = t === "'";
      tab.ids.push(i); tab.codes.push(nz.index.get(k)); tab.lower.push(k); tab.upper.push(t !== k); tab.quote.push(sym);
      tab.skip.push(Math.log(sym ? q.symbol_deletion : q.deletion));
      tab.skip0.push(Math.log(sym ? q.symbol_deletion : q.deletion * q.first_deletion));
    });
    return (T.beamTab = tab);
  }
  function align(D, Dgp, pc, t, tab, nz, S, I, first) {   // edit_beam._align: (K, T, m+1) child columns
    const m = t.length, nT = tab.ids.length, trans = Math.log(nz.q.transposition), K = first ? 1 : D.length, out = [];
    for (let k = 0; k < K; k++) {
      const rows = [];
      for (let c = 0; c < nT; c++) {
        let d = D && !first ? D[k] : null;
        if (first) { d = [0]; for (let i = 0; i < m; i++) d.push(d[i] + I[c][i]); }   // keys typed before the first character
        const skip = first ? tab.skip0[c] : tab.skip[c], col = d.map((v) => v + skip);
        for (let i = 1; i <= m; i++) col[i] = Math.max(col[i], d[i - 1] + S[c][i - 1]);
        if (Dgp !== null && m >= 2)
          for (let i = 2; i <= m; i++)
            if (pc[k] === t[i - 1] && tab.codes[c] === t[i - 2] && tab.codes[c] !== pc[k]) col[i] = Math.max(col[i], Dgp[k][i - 2] + trans);
        for (let i = 1; i <= m; i++) col[i] = Math.max(col[i], col[i - 1] + I[c][i - 1]);
        rows.push(col);
      }
      out.push(rows);
    }
    return out;
  }
  async function editCandidates(s, typed, prefix = false, floor = -Infinity, known = null) {   // edit_beam.edit_candidates
    const e = s.e, T = e.typos, nz = T.noise, keys = Array.from(T.spell(typed)), out = new Map();
    const pos = s.ids.length - e.encode(W.currentWord(s.text)).length;
    if (e.korean || !s.kept(pos) || !keys.length || keys.some((k) => !nz.index.has(k))) return out;
    const tab = beamTables(T, e), m = keys.length, nT = tab.ids.length, N = nz.N, t = keys.map((k) => nz.index.get(k));
    const S = tab.codes.map((c) => t.map((x) => nz.sub[c * N + x])), I = tab.codes.map((c) => t.map((x) => nz.ins[c * N + x]));
    const rest = Array.from({ length: m + 1 }, (_, i) => (m - i) * nz.match), bar = nz.cleanLogp(m) - EDIT.slack;
    s.rootAt(pos, []);
    const low = typed.toLowerCase(), cs0 = Array.from(typed), tail = cs0.slice(1).join("");
    const caps = tail !== tail.toLowerCase(), quote = typed.includes("'"), firstUp = W.isUpper(cs0[0] ?? "");
    let lp = [0], D = null, Dgp = null, pc = [-1], done = [-Infinity], paths = [[]], texts = [""];
    let logp = [s.trie.get("").logp];
    const finished = new Map(), fit = new Map(), cap = prefix ? e.maxWordLen : m + EDIT.extra;
    for (let depth = 0; depth <= cap; depth++) {
      if (depth > 0) {                             // close each with a boundary
        texts.forEach((w, k) => {
          let sum = 0;
          for (const j of e.boundary) sum += Math.exp(logp[k][j]);
          const end = Math.log(sum), closed = lp[k] + end, al = prefix ? done[k] : D[k][m];
          if (al <= bar || closed + al < floor || end < EDIT.end || w.endsWith("'") || (prefix && w.toLowerCase().startsWith(low))) return;
          w = e.shown(w);
          if (closed >= EDIT.sure || (known !== null && known(w))) {
            finished.set(w, finished.has(w) ? Math.log(Math.exp(finished.get(w)) + Math.exp(closed)) : closed);
            fit.set(w, Math.max(fit.get(w) ?? -Infinity, closed + al));
          }
        });
      }
      if (depth === cap) break;
      const child = align(D, Dgp, pc, t, tab, nz, S, I, depth === 0), h = [];
      child.forEach((rows, k) => rows.forEach((col, c) => {
        let cont = lp[k] + logp[k][tab.ids[c]];
        if ((depth && !caps && tab.upper[c]) || (!depth && firstUp && !tab.upper[c]) || (!quote && tab.quote[c])) cont = -Infinity;
        let best = -Infinity;
        col.forEach((v, i) => { best = Math.max(best, v + rest[i]); });
        if (prefix) {
          best = Math.max(best, done[k]);
          if (len(texts[k]) === m - 1 && texts[k].toLowerCase() === keys.slice(0, -1).join("") && tab.lower[c] === keys[m - 1]) best = -Infinity;
        }
        h.push(best > bar && cont >= EDIT.sure ? cont + best : -Infinity);   // no word below EDIT.sure
      }));
      const fits = [...fit.values()].sort((a, b) => b - a), nth = Math.max(fits.length >= EDIT.found ? fits[EDIT.found - 1] : -Infinity, floor);
      const order = h.map((v, j) => j).sort((a, b) => (h[b] > h[a] ? 1 : h[b] < h[a] ? -1 : a - b)).slice(0, EDIT.width).filter((j) => h[j] > nth);
      if (!order.length) break;
      const ks = order.map((j) => Math.floor(j / nT)), cs = order.map((j) => j % nT);
      Dgp = depth ? ks.map((k) => D[k]) : cs.map((c) => { const d = [0]; for (let i = 0; i < m; i++) d.push(d[i] + I[c][i]); return d; });
      D = order.map((j, r) => child[ks[r]][cs[r]]);
      done = ks.map((k, r) => Math.max(done[k], D[r][m]));
      lp = ks.map((k, r) => lp[k] + logp[k][tab.ids[cs[r]]]); pc = cs.map((c) => tab.codes[c]);
      paths = ks.map((k, r) => paths[k].concat([tab.ids[cs[r]]])); texts = ks.map((k, r) => texts[k] + e.texts[tab.ids[cs[r]]]);
      logp = await s.expand(paths);
    }
    [...fit].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])).slice(0, EDIT.found).forEach(([w]) => out.set(w, finished.get(w)));
    return out;
  }

  // ------------------------------------------------------------------ the decoder (typos.py)
  function ownCache(s) {                         // the session's own words (a cache of them without n-grams)
    if (s.words) return s.words.update(s.text);
    const cs = Array.from(s.text), head = cs.slice(0, cs.length - len(W.currentWord(s.text))).join("");
    if (s.ownHead !== head) {
      s.ownHead = head; s.ownWords = new W.WordCache();
      for (const [a, b] of W.wordSpans(Array.from(head)).slice(-s.ownWords.size)) s.ownWords.push(s.e.wordKey(Array.from(head).slice(a, b).join("")));
    }
    return s.ownWords;
  }
  function weights(s) {                          // (char, n-gram, own words) shares
    if (!s.words) return [1, 0, 0];
    const w = s.words.mixture.weights;
    return [w[0], w[1], w[2] * (s.e.useCache ? 1 : 0)];
  }
  function wordSide(s, shown, stat) {
    const e = s.e, [, wStats, wOwn] = weights(s), cache = ownCache(s), before = W.previousWord(s.text);
    const prev = before ? e.wordKey(before) : null;
    const [u, v] = W.previousWords(s.text, 2).map((w) => (w ? W.fold(e.wordKey(w)) : null));
    return shown.map((w, i) => wStats * (e.words && stat[i] !== null ? e.words.prob(u, v, W.fold(stat[i])) : 0) +
                               wOwn * cache.prob(prev, e.wordKey(w)));
  }
  async function charProbs(s, shown) {           // typos.char_probs: P_char of whole words from the word's start
    const pos = s.ids.length - s.e.encode(W.currentWord(s.text)).length;
    if (!shown.length || !s.kept(pos)) return shown.map(() => 0);
    s.rootAt(pos, []);
    const words = shown.map((w) => s.e.encode(w)), lp = shown.map(() => 0);
    let logp = [s.trie.get("").logp], rows = new Map([["", 0]]);
    for (let depth = 0; ; depth++) {             // completion.word_logprobs: the forced walk, batched
      words.forEach((r, k) => {
        if (depth > r.length) return;
        const row = logp[rows.get(r.slice(0, depth).join(","))];
        lp[k] += depth < r.length ? row[r[depth]] : s.boundaryLogp(row);
      });
      const todo = [...new Set(words.filter((r) => depth + 1 <= r.length).map((r) => r.slice(0, depth + 1).join(",")))];
      if (!todo.length) return lp.map(Math.exp);
      rows = new Map(todo.map((q, i) => [q, i]));
      logp = await s.expand(todo.map((q) => q.split(",").map(Number)));
    }
  }
  function isProtected(s, word) {
    const t = s.e.typos.t, token = s.text.trim() ? s.text.trim().split(/\s+/).pop() : "";
    return !word || len(word) > t.max_word || s.e.typos.notWordlike.test(token) || (len(word) > 1 && W.isUpper(word)) ||
      s.keptWords.has(word);
  }
  const display = (w, typed) => (W.isUpper(Array.from(typed)[0] ?? "") && W.isLower(Array.from(w)[0] ?? "")
    ? w[0].toUpperCase() + w.slice(1) : w);
  function knower(s) {
    const known = s.e.typos.known, cache = ownCache(s);
    return (w) => known.has(w.toLowerCase()) || !!cache.unigrams.get(s.e.wordKey(w));
  }
  function gather(s, typed, prefix) {            // typos._gather: candidates and their statistics keys
    const T = s.e.typos, keys = T.spell(typed);
    const idx = prefix ? T.extending(T.oneEdit(keys), T.t.extending) : T.near(keys);
    const shown = idx.map((i) => T.shown[i]), stat = idx.map((i) => T.statKeys[i]), seen = new Set(shown);
    for (const k of ownCache(s).unigrams.keys()) {
      const w = s.e.shown(k), d = len(w) - len(typed);
      if ((prefix ? d >= -1 : Math.abs(d) <= 2) && !seen.has(w)) { shown.push(w); stat.push(null); seen.add(w); }
    }
    return [shown, stat];
  }

  async function scored(s, typed, prefix = false, floor = -Infinity) {   // typos.scored
    const T = s.e.typos, t = T.t, [shown, stat] = gather(s, typed, prefix), isKnown = knower(s);
    if (!prefix && !shown.includes(typed)) { shown.push(typed); stat.push(null); }
    const wChar = weights(s)[0];                 // the beam's unknown words score log(wChar P_char) + fit + the penalty
    const beam = EDIT_BEAM && wChar ? await editCandidates(s, typed, prefix, floor - Math.log(wChar || 1) - t.unknown_penalty, isKnown) : new Map();
    for (const w of beam.keys()) if (!shown.includes(w)) { shown.push(w); stat.push(T.statKey(w)); }
    const out = new Map();
    if (!shown.length) return out;
    const fit = T.noise.logpMany(T.spell(typed), shown.map((w) => T.spell(w)), prefix)
      .map((f, i) => f + caseLogp.call(T.noise, typed, shown[i]));
    const side = wordSide(s, shown, stat);
    const rough = shown.map((w, i) => Math.log(side[i] + 1e-12) + fit[i]);
    if (prefix) { const low = typed.toLowerCase(); shown.forEach((w, i) => { if (w.toLowerCase().startsWith(low)) rough[i] = -Infinity; }); }
    let top = rough.map((r, i) => i).sort((a, b) => (rough[b] > rough[a] ? 1 : rough[b] < rough[a] ? -1 : a - b))
      .slice(0, t.scored).filter((i) => rough[i] >= floor);
    for (const [w, lp] of beam) {                // the beam's words, ranked by their character-model estimate too
      const i = shown.indexOf(w);
      if (rough[i] > -Infinity && Math.log(side[i] + wChar * Math.exp(lp) + 1e-12) + fit[i] >= floor) top.push(i);
    }
    if (!prefix) top.push(shown.indexOf(typed));
    if (beam.size || !prefix) top = [...new Set(top)].sort((a, b) => a - b);
    const chars = wChar ? await charProbs(s, top.map((i) => shown[i])) : top.map(() => 0);
    top.forEach((i, j) => {
      const w = shown[i], prior = side[i] + wChar * chars[j];
      if (prior <= 0) return;
      const unknown = stat[i] === null && !isKnown(w);
      out.set(w, Math.log(prior) + fit[i] + (unknown ? t.unknown_penalty : 0));
    });
    return out;
  }

  async function judge(s) {
    const typed = W.currentWord(s.text);
    if (!typed || isProtected(s, typed)) return [typed, null];
    const got = await scored(s, typed);
    return [typed, got.size ? got : null];
  }
  function ranked(typed, got, n) {
    if (!typed) return [];
    if (got === null) return [[typed, 1]];
    const top = Math.max(...got.values()), z = [...got.values()].reduce((a, v) => a + Math.exp(v - top), 0);
    return [...got].sort(byProb).slice(0, n).map(([w, v]) => [display(w, typed), Math.exp(v - top) / z]);
  }
  function fix(s, typed, got, level) {
    if (level === "off" || len(typed) < 2 || !got || !got.has(typed)) return null;
    let best = null;
    for (const [w, v] of got) if (best === null || v > got.get(best) || (v === got.get(best) && w > best)) best = w;
    return best === typed || got.get(best) - got.get(typed) < s.e.typos.t.margins[level] ? null : display(best, typed);
  }
  function checkLevel(s, level) {
    if (!s.e.typos.t.levels.includes(level)) throw new Error(`autocorrect level must be one of ${s.e.typos.t.levels.join(", ")}, not ${level}`);
  }
  async function corrections(s, n = 3) { const [typed, got] = await judge(s); return ranked(typed, got, n); }
  async function autocorrection(s, level = "modest") {
    checkLevel(s, level);
    if (level === "off" || len(W.currentWord(s.text)) < 2) return null;
    const [typed, got] = await judge(s);
    return fix(s, typed, got, level);
  }

  async function completions(s, n, minKeys = 1) {   // typos.completions: literal and one-slip completions, one ranking
    const T = s.e.typos, t = T.t, word = W.currentWord(s.text);
    if (len(word) < t.min_typed || isProtected(s, word))
      return (await s.candidates(word, n, minKeys)).filter(([w]) => !w.endsWith("'"));
    const literal = await s.candidates(word, n + 2, minKeys, true);
    const clean = T.noise.cleanLogp(len(T.spell(word))), isKnown = knower(s), out = new Map();
    for (const [w, q] of literal) if (q > 0 && !w.endsWith("'")) out.set(w, Math.log(q) + clean + (isKnown(w) ? 0 : t.unknown_penalty));
    const starts = W.sentenceStart(s.text), floor = (out.size ? Math.max(...out.values()) : -Infinity) - t.compete;
    for (let [w, v] of await scored(s, word, true, floor)) {
      w = W.cased(w, word, starts);
      if (!w.endsWith("'") && (len(w) > len(word) || !w.toLowerCase().startsWith(word.toLowerCase())))
        out.set(w, Math.max(out.get(w) ?? -Infinity, v));
    }
    if (!out.size) return [];
    const top = Math.max(...out.values()), z = [...out.values()].reduce((a, v) => a + Math.exp(v - top), 0);
    return [...out].map(([w, v]) => [w, Math.exp(v - top) / z]).sort(byProb);
  }

  async function edit(s, text, level = "off") {    // typos.keyboard_edit: autocorrect on a separator, Backspace undoes it
    const last = s.lastFix;
    s.lastFix = null;
    if (last !== null && text === Array.from(last[0]).slice(0, -1).join("")) {
      s.keptWords.add(W.currentWord(last[1]));
      await s.setText(last[1]);
      return last[1];
    }
    const cs = Array.from(text);
    if (level !== "off" && cs.length === len(s.text) + 1 && text.startsWith(s.text) && !W.isWordChar(cs[cs.length - 1]) &&
        W.currentWord(s.text)) {
      const better = await autocorrection(s, level);
      if (better !== null) {
        const word = W.currentWord(s.text), shown = s.text.slice(0, s.text.length - word.length) + better + cs[cs.length - 1];
        s.lastFix = [shown, s.text];
        await s.setText(shown);
        return shown;
      }
    }
    await s.setText(text);
    return text;
  }

  root.ChargenTypos = { Typos, NoiseModel, EDIT, editCandidates, scored, corrections, autocorrection, completions, edit, deletions };
})(typeof window !== "undefined" ? window : globalThis);
