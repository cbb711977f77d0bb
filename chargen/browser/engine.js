// The keyboard engine in the page: the Python engine's rules (chargen/words.py, session.py,
// completion.py, blend.py) over the exported ONNX step model, run by onnxruntime-web. Everything is
// computed here: no server round trip per keystroke. Completions are blend._mixed where the export
// has word n-grams (words.json version 2, words.js: the character model, the n-grams and the
// session's own words mixed with weights adapted per session), else the character model alone
// (version-1 bigram statistics are not ported: ``chargen words`` refits a checkpoint to version 2).
//
//   const engine = await ChargenEngine.load(ort, files)   // files: {manifest, onnx, words?}
//   const s = engine.session(); await s.setText("Mr. Knightl")
//   await s.nextChars(8)       // [["e", 0.97], ...]
//   await s.completeWord(3)    // [["Knightley", 0.91], ...]: the character model's beam search
//   await s.suggest(3)         // the suggestion bar: completions that add at least two keys
//
// Tables (token texts, which tokens are word characters, boundaries, keys per token, the start
// ids) come from the manifest, written from the Python engine's own tables. Arithmetic mirrors
// numpy's float32 where the Python engine computes in float32 (Math.fround), so rankings agree.
(function (root) {
  "use strict";
  const f32 = Math.fround;
  const TRIE_NODES = 2048;
  const S_BASE = 0xac00, S_COUNT = 11172, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11a7;
  const V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT;

  const W = root.ChargenWords;                   // words.js, loaded first
  const { currentWord, isWordChar } = W;
  const T = () => root.ChargenTypos;            // typos.js, loaded before this file
  const KEEP_RECENT = 256, KEEP_EVERY = 32, KEEP_SPARSE = 256;      // session.py: which states Python keeps

  // ------------------------------------------------------------------ Hangul (hangul.py)
  const isSyllable = (cp) => cp >= S_BASE && cp < S_BASE + S_COUNT;
  function decomposeHangul(text) {               // syllables -> conjoining jamo (NFD for them alone)
    let out = "";
    for (const c of text) {
      const cp = c.codePointAt(0);
      if (!isSyllable(cp)) { out += c; continue; }
      const s = cp - S_BASE, t = s % T_COUNT;
      out += String.fromCodePoint(L_BASE + Math.floor(s / N_COUNT), V_BASE + Math.floor((s % N_COUNT) / T_COUNT));
      if (t) out += String.fromCodePoint(T_BASE + t);
    }
    return out;
  }
  function composeHangul(text) {                 // lead + vowel (+ trail) runs -> syllables
    const cps = Array.from(text, (c) => c.codePointAt(0)), out = [];
    for (let i = 0; i < cps.length; i++) {
      const l = cps[i] - L_BASE, v = i + 1 < cps.length ? cps[i + 1] - V_BASE : -1;
      if (l >= 0 && l < 19 && v >= 0 && v < V_COUNT) {
        const t = i + 2 < cps.length ? cps[i + 2] - T_BASE : 0;
        const trail = t > 0 && t < T_COUNT ? t : 0;
        out.push(S_BASE + (l * V_COUNT + v) * T_COUNT + trail);
        i += trail ? 2 : 1;
      } else out.push(cps[i]);
    }
    return String.fromCodePoint(...out);
  }
  const jamoKeys = (text) => {                   // keys.text_jamo_keys: a syllable is 2 or 3 keys
    let n = 0;
    for (const c of text) {
      const cp = c.codePointAt(0);
      n += isSyllable(cp) ? 2 + ((cp - S_BASE) % T_COUNT > 0 ? 1 : 0) : 1;
    }
    return n;
  };

  // ------------------------------------------------------------------ numerics (float32, as numpy)
  function logSoftmax(logits, V, row) {          // one row of (K, V) logits -> Float32Array log-probs
    const out = new Float32Array(V), off = row * V;
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[off + j]);
    let sum = 0;
    for (let j = 0; j < V; j++) { out[j] = f32(logits[off + j] - m); sum = f32(sum + f32(Math.exp(out[j]))); }
    const lse = f32(Math.log(sum));
    for (let j = 0; j < V; j++) out[j] = f32(out[j] - lse);
    return out;
  }
  const logaddexp = (a, b) => { const m = Math.max(a, b); return m + Math.log1p(Math.exp(-Math.abs(a - b))); };
  function nthBest(values, n) {                  // completion.nth_best
    const s = Array.from(values).sort((a, b) => b - a);
    return s.length >= n ? s[n - 1] : -Infinity;
  }
  function boundaryLogp(row, boundary) {         // log P(a word boundary): float32, as numpy
    let sum = 0;
    for (const j of boundary) sum = f32(sum + f32(Math.exp(row[j])));
    return f32(Math.log(sum));
  }
  const byScore = (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  function shownSum(pairs) {                       // blend._shown_sum: spellings that show alike are one
    const out = new Map();
    for (const [w, q] of pairs) out.set(w, (out.get(w) ?? 0) + q);
    return out;
  }

  class Engine {
    constructor(ort, session, manifest) {
      const e = manifest.engine, m = manifest.model;
      this.ort = ort; this.onnx = session; this.manifest = manifest;
      this.V = m.vocab_size; this.S = m.state_size;
      this.texts = e.token_texts; this.shownTokens = e.shown;
      this.wordMask = Uint8Array.from(e.word_mask); this.boundary = Int32Array.from(e.boundary_ids);
      this.cost = e.token_cost; this.unk = e.unk_id; this.jamo = e.jamo;
      this.beamWidth = e.beam_width; this.maxWordLen = e.max_word_len;
      this.pool = e.pool ?? 8; this.rescore = e.rescore ?? 3; this.useCache = e.cache ?? true;
      this.words = null;                           // NgramModel where the export has words.json version 2
      this.typos = null; this.korean = e.korean;   // the typo decoder (typos.js) where the manifest has its tables
      this.nWordTokens = this.wordMask.reduce((a, b) => a + b, 0);
      this.stoi = new Map();
      this.texts.forEach((t, i) => { if (i !== this.unk && Array.from(t).length === 1 && !this.stoi.has(t)) this.stoi.set(t, i); });
      this.steps = 0;
    }

    static async load(ort, files, options = {}) {
      const manifest = typeof files.manifest === "string" ? JSON.parse(files.manifest) : files.manifest;
      if (!["char", "jamo"].includes(manifest.tokenizer.kind))
        throw new Error(`the browser keyboard takes char and jamo models; this one is ${manifest.tokenizer.kind} ` +
                        "(subword token healing and SentencePiece are not ported to the page)");
      const session = await ort.InferenceSession.create(files.onnx, { executionProviders: ["wasm"], ...options });
      const engine = new Engine(ort, session, manifest);
      if (manifest.files.words) {
        const words = typeof files.words === "string" ? JSON.parse(files.words) : files.words;
        if (!words || words.version !== W.VERSION) throw new Error(`${manifest.files.words}: word n-grams version ${W.VERSION} expected`);
        engine.words = new W.NgramModel(words);
      }
      if (manifest.engine.typos) engine.typos = new root.ChargenTypos.Typos(manifest.engine.typos, engine);   // typos.js
      engine.start = await engine.startState();
      return engine;
    }

    encode(text) {                                 // char / jamo tokenizer: one id per (jamo) character
      if (this.jamo) text = decomposeHangul(text);
      return Array.from(text, (c) => this.stoi.get(c) ?? this.unk);
    }
    shown(text) { return this.jamo ? composeHangul(text) : text; }
    wordKey(word) { return this.jamo ? decomposeHangul(word) : word; }   // as the word statistics store it

    async step(ids, rows) {                        // ids (K,), rows Float32Array (K*S) -> {logits, rows}
      const K = ids.length, T = this.ort.Tensor;
      const out = await this.onnx.run({ ids: new T("int64", BigInt64Array.from(ids, BigInt), [K]),
                                        state: new T("float32", rows, [K, this.S]) });
      this.steps += 1;
      return { logits: out.logits.data, rows: out.new_state.data };
    }

    async startState() {                           // as if just after a line break (sample.start_ids)
      let st = { row: new Float32Array(this.S), logits: null };
      for (const i of this.manifest.engine.start_ids) {
        const r = await this.step([i], st.row);
        st = { row: r.rows, logits: r.logits };
      }
      return st;
    }

    session() { return new Session(this); }
  }

  class Session {
    constructor(engine) {
      this.e = engine; this.text = ""; this.ids = []; this.states = [engine.start];
      this.trie = new Map(); this.anchor = null; this.keptWords = new Set(); this.lastFix = null;
      this.words = engine.words ? new W.SessionWords(engine.words, (w) => engine.wordKey(w), (a, b) => this.spanProb(a, b)) : null;
    }

    async setText(text) {                          // keep the longest cached prefix, step the rest
      const ids = this.e.encode(text);
      let same = 0;
      while (same < ids.length && same < this.ids.length && ids[same] === this.ids[same]) same++;
      this.ids = this.ids.slice(0, same); this.states.length = same + 1;
      for (let p = same; p < ids.length; p++) {
        const r = await this.e.step([ids[p]], this.states[p].row);
        this.ids.push(ids[p]); this.states.push({ row: r.rows, logits: r.logits });
      }
      this.text = text;
      return this;
    }

    nextChars(k = 5) {                             // session.next_chars: the k most probable, ranked
      const { logits } = this.states[this.ids.length], V = this.e.V;
      const lp = logSoftmax(logits, V, 0), probs = Array.from(lp, Math.exp);
      probs[this.e.unk] = 0;
      const order = probs.map((p, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
      return order.slice(0, k).filter((i) => probs[i] > 0).map((i) => [this.e.texts[i], probs[i]]);
    }

    async completeWord(n = 3) {                  // session.complete_word: a slip in the keys typed forgiven
      const word = currentWord(this.text);
      if (!word || !this.e.typos) return (await this.candidates(word, n, 1)).slice(0, n);
      return (await T().completions(this, n)).slice(0, n);
    }
    correctWord(n = 3) { return T().corrections(this, n); }                     // typos.corrections
    autocorrection(level = "modest") { return T().autocorrection(this, level); }   // typos.autocorrection
    edit(text, level = "off") { return T().edit(this, text, level); }             // typos.keyboard_edit

    async suggest(n = 3) {                         // session.suggest: completions adding >= 2 keys, a correction first
      const word = currentWord(this.text), typed = jamoKeys(word);
      if (!word || !this.e.typos) {
        const found = await this.candidates(word, n, 2);
        return found.filter(([w]) => jamoKeys(w) - typed >= 2).slice(0, n).map(([w]) => w);
      }
      let bar = (await T().completions(this, n + 2, 2)).map(([w]) => w).filter((w) => !w.startsWith(word) || jamoKeys(w) - typed >= 2);
      if (bar.length && !bar[0].startsWith(word)) bar = [bar[0], word, ...bar.slice(1).filter((w) => w !== word)];
      return bar.slice(0, n);
    }

    async candidates(word, n, minKeys, absolute = false) {   // blend.candidates (no Hangul being composed)
      if (this.words) return this.mixed(word, n, minKeys, absolute);
      const { probs, wordIds, end } = await this.charSearch(word, n, minKeys, []);   // blend._blend, no word statistics
      const scale = absolute ? this.prefixProb(wordIds, end) : 1;
      return Array.from(probs).sort(byScore).map(([w, q]) => [w, absolute ? q * scale : q]);
    }

    rootAt(start, wordIds) {                       // completion.Trie.root: the node of wordIds from text position start
      const anchor = this.states[start], end = start + wordIds.length, key = wordIds.join(",");
      if (anchor !== this.anchor || this.trie.size > TRIE_NODES) { this.trie = new Map(); this.anchor = anchor; }
      if (!this.trie.has(key)) this.trie.set(key, { row: this.states[end].row, logp: logSoftmax(this.states[end].logits, this.e.V, 0) });
    }
    boundaryLogp(row) { return boundaryLogp(row, this.e.boundary); }

    async charSearch(word, n, minKeys, forced) {          // the beam search from the word's start
      const nWord = word ? this.e.encode(word).length : 0;
      const end = this.ids.length, wordIds = this.ids.slice(end - nWord);
      this.rootAt(end - nWord, wordIds);
      const base = wordIds.map((i) => this.e.texts[i]).join("");
      const added0 = jamoKeys(this.e.shown(base)) - jamoKeys(word);
      return { probs: await this.beamSearch(wordIds, base, n, minKeys, added0, forced), wordIds, end };
    }

    async mixed(word, n, minKeys, absolute = false) {                // blend._mixed: l_char P_char + l_ngram P_ngram + l_cache P_cache
      const e = this.e, cache = this.words.update(this.text);           // the words typed so far, learned first
      const weights = this.words.mixture.weights.slice();
      weights[2] *= e.useCache ? 1 : 0;
      const key = e.wordKey(word), [pu, pv] = W.previousWords(this.text, 2);
      const [u, v] = [pu, pv].map((w) => (w === null ? null : W.fold(e.wordKey(w))));
      const starts = W.sentenceStart(this.text), shown = (w) => W.cased(e.shown(w), word, starts);
      const ngramP = shownSum(e.words.candidates(u, v, W.fold(key), e.pool).map(([k, q]) => [shown(e.words.spelled(k)), q]));
      const before = W.previousWord(this.text);
      const cacheP = shownSum(e.useCache ? cache.joint(before === null ? null : e.wordKey(before), key, e.pool).map(([w, q]) => [shown(w), q]) : []);
      const wordSide = new Map();
      for (const w of new Set([...ngramP.keys(), ...cacheP.keys()])) wordSide.set(w, weights[1] * (ngramP.get(w) ?? 0) + weights[2] * (cacheP.get(w) ?? 0));
      const forced = Array.from(wordSide).sort(byScore).slice(0, e.rescore).map(([w]) => w);
      const { probs, wordIds, end } = await this.charSearch(word, n, minKeys, forced);
      const typedP = this.prefixProb(wordIds, end), scores = new Map();
      for (const w of new Set([...probs.keys(), ...wordSide.keys()])) scores.set(w, weights[0] * typedP * (probs.get(w) ?? 0) + (wordSide.get(w) ?? 0));
      const total = absolute ? 1 : Array.from(scores.values()).reduce((a, b) => a + b, 0) || 1;
      return Array.from(scores, ([w, q]) => [w, q / total]).sort(byScore);
    }

    kept(pos) {                                    // whether Python's session still holds this position's state
      const n = this.ids.length;
      return pos === 0 || pos >= n - KEEP_RECENT || (pos % KEEP_EVERY === 0 && pos >= n - KEEP_RECENT - KEEP_SPARSE * KEEP_EVERY);
    }
    tokenLogp(pos) { return this.kept(pos) ? logSoftmax(this.states[pos].logits, this.e.V, 0) : null; }

    prefixProb(wordIds, end) {                     // session._prefix_prob: P_char of the word typed so far
      let lp = 0;
      for (let j = end - wordIds.length, k = 0; j < end; j++, k++) {
        const row = this.tokenLogp(j);
        if (row === null) return 0;
        lp += row[wordIds[k]];
      }
      return Math.exp(lp);
    }

    spanProb(a, b) {                               // session._span_prob: P_char of the finished word text[a:b]
      const cs = Array.from(this.text), wid = this.e.encode(cs.slice(a, b).join(""));
      const ia = this.e.jamo ? this.e.encode(cs.slice(0, a).join("")).length : a, ib = ia + wid.length;
      if (ib >= this.ids.length || wid.some((t, k) => this.ids[ia + k] !== t)) return null;
      const wordP = this.prefixProb(wid, ib), after = this.tokenLogp(ib);
      if (!wordP || after === null) return null;
      return wordP * Math.exp(boundaryLogp(after, this.e.boundary));
    }

    async expand(paths) {                          // completion.Trie.expand: one batched step for new paths
      const todo = [...new Set(paths.map((p) => p.join(",")))].filter((k) => !this.trie.has(k));
      if (todo.length) {
        const S = this.e.S, rows = new Float32Array(todo.length * S), ids = [];
        todo.forEach((k, j) => {
          const path = k.split(",").map(Number), parent = path.slice(0, -1).join(",");
          rows.set(this.trie.get(parent).row, j * S); ids.push(path[path.length - 1]);
        });
        const r = await this.e.step(ids, rows);
        todo.forEach((k, j) => this.trie.set(k, { row: r.rows.slice(j * S, (j + 1) * S), logp: logSoftmax(r.logits, this.e.V, j) }));
      }
      return paths.map((p) => this.trie.get(p.join(",")).logp);
    }

    async beamSearch(wordIds, base, n, minKeys, added0, forced = []) {   // completion.beam_search
      const e = this.e, V = e.V, finished = new Map(), counted = new Map();
      const rests = new Map(), forcedLp = new Map();       // forced words: their exact P_char, walked alongside
      for (const w of forced) {
        const ids = e.encode(w);
        if (ids.length > wordIds.length && wordIds.every((t, k) => ids[k] === t)) { rests.set(w, ids.slice(wordIds.length)); forcedLp.set(w, 0); }
      }
      let logp = [this.trie.get(wordIds.join(",")).logp], rowOf = new Map([["", 0]]);
      let beams = [{ score: 0, path: [], added: added0, text: "" }];
      for (let depth = 0; ; depth++) {
        for (const [w, r] of rests) {                      // completion._walk_forced
          if (depth > r.length) continue;
          const row = logp[rowOf.get(r.slice(0, depth).join(","))];
          forcedLp.set(w, forcedLp.get(w) + (depth < r.length ? row[r[depth]] : boundaryLogp(row, e.boundary)));
        }
        if (beams.length) {
          if (depth > 0) {
            beams.forEach((b, k) => {
              const row = logp[k];
              let top = -Infinity, sum = 0;
              for (const j of e.boundary) top = Math.max(top, row[j]);
              for (const j of e.boundary) sum = f32(sum + f32(Math.exp(f32(row[j] - top))));
              const closed = f32(f32(b.score + top) + f32(Math.log(sum)));
              const w = e.shown(base + b.text);
              finished.set(w, finished.has(w) ? logaddexp(finished.get(w), closed) : closed);
              if (minKeys <= 1 || b.added >= minKeys) counted.set(w, finished.get(w));
            });
          }
          if (depth >= e.maxWordLen) beams = [];
          else beams = this.widen(beams, logp, n, counted);
        }
        const paths = beams.map((b) => wordIds.concat(b.path));
        const todo = Array.from(rests.values()).filter((r) => depth + 1 <= r.length).map((r) => r.slice(0, depth + 1));
        if (!paths.length && !todo.length) break;
        rowOf = new Map(todo.map((q, i) => [q.join(","), paths.length + i]));
        logp = await this.expand(paths.concat(todo.map((q) => wordIds.concat(q))));
      }
      const out = new Map(Array.from(finished, ([w, s]) => [w, Math.exp(s)]));
      for (const [w, s] of forcedLp) out.set(w, Math.exp(s));
      return out;
    }

    widen(beams, logp, n, counted) {               // the best continuations that can still win
      const e = this.e, V = e.V, cand = [];
      beams.forEach((b, k) => {
        for (let t = 0; t < V; t++) if (e.wordMask[t]) cand.push([f32(b.score + logp[k][t]), k * V + t]);
      });
      cand.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      const width = Math.min(e.beamWidth, e.nWordTokens * beams.length, beams.length * V);
      const nth = nthBest(counted.values(), n), out = [];
      for (const [s, j] of cand.slice(0, width)) {
        if (s > nth) {
          const b = beams[Math.floor(j / V)], t = j % V;
          out.push({ score: s, path: b.path.concat([t]), added: b.added + e.cost[t], text: b.text + e.texts[t] });
        }
      }
      return out;
    }
  }

  root.ChargenEngine = { Engine, Session, load: Engine.load, currentWord, isWordChar, decomposeHangul, composeHangul, jamoKeys };
})(typeof window !== "undefined" ? window : globalThis);
