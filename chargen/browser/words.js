// The word side of the keyboard in the page, ported from the Python engine: the word rules
// (chargen/words.py, blend.cased), the checkpoint's word n-grams (ngram.NgramModel: interpolated
// Kneser-Ney trigrams over case-folded words, words.json version 2), the session's own words
// (wordstats.WordCache) and the three-part mixture's weights, moved by online EM after every word
// (mixture.Mixture, session_words.SessionWords). Same float64 arithmetic in the same order as
// Python, same tie-breaks, so the page ranks words as the Python engine does.
//
//   const ngram = new ChargenWords.NgramModel(wordsJson)     // words.json version 2
//   ngram.candidates("mr", "knightley", "w", 8)              // [["was", 0.41], ...], likeliest first
(function (root) {
  "use strict";
  const CACHE_WORDS = 1000, RECENT_CHARS = 200;                     // session_words.py
  const START = [0.6, 0.3, 0.1], RATE = 0.02, FLOOR = 0.01;        // mixture.py
  const own = (o, k) => (o && Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const byProb = (a, b) => b[1] - a[1] || cmp(a[0], b[0]);         // heapq.nsmallest(key=(-p, w))
  const sum = (xs) => xs.reduce((s, x) => s + x, 0);

  // ------------------------------------------------------------------ word rules (words.py)
  const WORD_CHAR = /^[\p{L}\p{N}]$/u;          // str.isalnum(): letters and numbers (Hangul included)
  const isWordChar = (c) => c === "'" || WORD_CHAR.test(c);
  function wordBefore(cs, end) {                 // the run of word characters ending at cs[end]
    let i = end;
    while (i > 0 && isWordChar(cs[i - 1])) i--;
    return cs.slice(i, end).join("");
  }
  const currentWord = (text) => { const cs = Array.from(text); return wordBefore(cs, cs.length); };
  function previousWords(text, k = 2) {          // the k whole words before the current one, oldest first
    const cs = Array.from(text), out = [];
    let i = cs.length - Array.from(currentWord(text)).length;
    for (let r = 0; r < k; r++) {
      while (i > 0 && !isWordChar(cs[i - 1])) i--;
      const w = wordBefore(cs, i);
      out.push(w || null);
      i -= Array.from(w).length;
      if (!w) break;
    }
    while (out.length < k) out.push(null);
    return out.reverse();
  }
  const previousWord = (text) => previousWords(text, 1)[0];
  function sentenceStart(text) {                 // nothing but spaces since . ! ? or a line break
    const cs = Array.from(text);
    let i = cs.length - Array.from(currentWord(text)).length;
    while (i > 0 && " \t\"'(".includes(cs[i - 1])) i--;
    return i === 0 || ".!?\n".includes(cs[i - 1]);
  }
  function wordSpans(cs) {                       // [start, end) of every run of word characters
    const out = [];
    let start = null;
    cs.forEach((c, i) => {
      if (isWordChar(c)) { if (start === null) start = i; } else if (start !== null) { out.push([start, i]); start = null; }
    });
    if (start !== null) out.push([start, cs.length]);
    return out;
  }
  const isUpper = (s) => s !== s.toLowerCase() && s === s.toUpperCase();   // str.isupper()
  const isLower = (s) => s !== s.toUpperCase() && s === s.toLowerCase();   // str.islower()
  function cased(word, typed, startsSentence) {  // blend.cased: The for "Th", THE for "TH", typed letters kept
    const t = Array.from(typed);
    if ((t.length && isUpper(t[0])) || (!t.length && startsSentence)) {
      const w = Array.from(word);
      word = w.length ? w[0].toUpperCase() + w.slice(1).join("") : word;
    }
    if (t.length > 1 && isUpper(typed)) word = word.toUpperCase();
    else if (t.length && isLower(t[0])) {          // the letters typed stay as typed: al -> alphabet
      const w = Array.from(word);
      if (w.slice(0, t.length).join("").toLowerCase() === typed.toLowerCase()) {
        const rest = w.slice(t.length).join("");
        word = typed + (isUpper(word) ? rest.toLowerCase() : rest);
      }
    }
    return word;
  }
  const fold = (w) => w.toLowerCase();

  function prefixRange(sorted, prefix) {         // prefix.prefix_range: the slice starting with prefix
    let lo = 0, hi = sorted.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (sorted[m] < prefix) lo = m + 1; else hi = m; }
    let a = lo, b = sorted.length;
    while (a < b) { const m = (a + b) >> 1; if (sorted[m].startsWith(prefix)) a = m + 1; else b = m; }
    return [lo, a];
  }
  function largest(words, n, key) {              // heapq.nlargest: ties keep the list's order
    return words.map((w, i) => [w, key(w), i])
      .sort((a, b) => b[1][0] - a[1][0] || b[1][1] - a[1][1] || a[2] - b[2]).slice(0, n).map((x) => x[0]);
  }

  // ------------------------------------------------------------------ n-grams (ngram.py)
  class NgramModel {
    constructor(t) {
      this.unigrams = t.unigrams; this.cont1 = t.cont1; this.bigrams = t.bigrams; this.cont2 = t.cont2;
      this.trigrams = t.trigrams; this.surface = t.surface || {}; this.discounts = t.discounts;
      this.mixture = t.mixture ? t.mixture.slice() : null;
      this.sortedWords = Object.keys(this.unigrams).sort(cmp);
      this.uniTotal = sum(Object.values(this.unigrams)); this.cont1Total = sum(Object.values(this.cont1));
      this.totals = new Map(); this.followers = new Map(); this.pools = new Map();
    }
    p1(w) {
      if (this.cont1Total) return (own(this.cont1, w) || 0) / this.cont1Total;
      return (own(this.unigrams, w) || 0) / Math.max(1, this.uniTotal);
    }
    level(table, key, tid, d, w, lower) {
      const follow = own(table, key);
      if (!follow) return lower;
      const id = tid + "\u0000" + key;
      if (!this.totals.has(id)) { const v = Object.values(follow); this.totals.set(id, [sum(v), v.length]); }
      const [t, n] = this.totals.get(id);
      if (!n) return lower;
      return Math.max((own(follow, w) || 0) - d, 0) / t + d * n / t * lower;
    }
    prob(u, v, w) {                              // P(w | u v), case-folded words, null for none
      const d = this.discounts;
      if (v === null) return (own(this.unigrams, w) || 0) / Math.max(1, this.uniTotal);
      if (u === null) return this.level(this.bigrams, v, "2", d["2"], w, this.p1(w));
      const lower = this.level(this.cont2, v, "2c", d["2c"], w, this.p1(w));
      return this.level(this.trigrams, `${u}\t${v}`, "3", d["3"], w, lower);
    }
    candidates(u, v, prefix, limit = 8) {        // [[word, P(word | u v)], ...] over words extending prefix
      const cands = new Set(this.pool(prefix, limit));
      if (v !== null) {
        this.inRange(u === null ? this.bigrams : this.cont2, v, u === null ? "f2" : "f2c", prefix).forEach((w) => cands.add(w));
        if (u !== null) this.inRange(this.trigrams, `${u}\t${v}`, "f3", prefix).forEach((w) => cands.add(w));
      }
      cands.delete(prefix);
      return Array.from(cands, (w) => [w, this.prob(u, v, w)]).sort(byProb).slice(0, limit);
    }
    inRange(table, key, tid, prefix) {
      const follow = own(table, key);
      if (!follow) return [];
      const id = tid + "\u0000" + key;
      if (!this.followers.has(id)) this.followers.set(id, Object.keys(follow).sort(cmp));
      const words = this.followers.get(id), [lo, hi] = prefixRange(words, prefix);
      return words.slice(lo, hi);
    }
    pool(prefix, n) {                            // the 4n words extending prefix with the largest cont1
      const id = `${n}\u0000${prefix}`;
      if (!this.pools.has(id)) {
        const [lo, hi] = prefixRange(this.sortedWords, prefix);
        this.pools.set(id, largest(this.sortedWords.slice(lo, hi), 4 * n, (w) => [own(this.cont1, w) || 0, this.unigrams[w]]));
      }
      return this.pools.get(id);
    }
    spelled(key) { return own(this.surface, key) ?? key; }
  }

  // ------------------------------------------------------------------ the session's words (wordstats.py)
  function wordProb(unigrams, uniTotal, follow, biTotal, word) {
    if (uniTotal <= 0) return 0;
    const d = 0.75, u = unigrams.get(word) || 0;
    if (!biTotal) return u / uniTotal;
    return Math.max((follow.get(word) || 0) - d, 0) / biTotal + d * follow.size / biTotal * u / uniTotal;
  }
  const bump = (m, k, by) => { const c = (m.get(k) || 0) + by; if (c <= 0) m.delete(k); else m.set(k, c); };

  class WordCache {
    constructor(size = CACHE_WORDS) { this.size = size; this.words = []; this.unigrams = new Map(); this.bigrams = new Map(); this.sorted = []; }
    followsOf(w) { if (!this.bigrams.has(w)) this.bigrams.set(w, new Map()); return this.bigrams.get(w); }
    push(word) {
      if (this.words.length) bump(this.followsOf(this.words[this.words.length - 1]), word, 1);
      this.words.push(word);
      if (!this.unigrams.get(word)) this.sorted.splice(prefixRange(this.sorted, word)[0], 0, word);
      bump(this.unigrams, word, 1);
      if (this.words.length > this.size) {       // forget the oldest word and its bigram
        const old = this.words.shift();
        bump(this.unigrams, old, -1);
        bump(this.followsOf(old), this.words[0], -1);
        if (!this.unigrams.has(old)) this.sorted.splice(prefixRange(this.sorted, old)[0], 1);
      }
    }
    follow(prev) { return (prev && this.bigrams.get(prev)) || new Map(); }
    prob(prev, word) {
      const f = this.follow(prev);
      return wordProb(this.unigrams, this.words.length, f, sum([...f.values()]), word);
    }
    joint(prev, prefix, limit = 20) {            // [[word, P(word | prev)], ...] over cached words extending prefix
      const [lo, hi] = prefixRange(this.sorted, prefix);
      const pool = largest(this.sorted.slice(lo, hi).filter((w) => w !== prefix), 4 * limit, (w) => [this.unigrams.get(w), 0]);
      const cands = new Set(pool);
      for (const w of this.follow(prev).keys()) if (w.startsWith(prefix) && w !== prefix) cands.add(w);
      return Array.from(cands, (w) => [w, this.prob(prev, w)]).sort(byProb).slice(0, limit);
    }
  }

  // ------------------------------------------------------------------ the mixture's weights (mixture.py)
  class Mixture {
    constructor(weights) { this.weights = weights ? weights.slice() : START.slice(); }
    update(probs) {                              // one online EM step; null: a part that cannot say
      const have = probs.map((q, k) => (q === null ? -1 : k)).filter((k) => k >= 0);
      const mass = sum(have.map((k) => this.weights[k])), joint = have.map((k) => this.weights[k] * probs[k]);
      const total = sum(joint);
      if (total <= 0 || mass <= 0 || !Number.isFinite(total)) return;
      have.forEach((k, i) => { this.weights[k] += RATE * (mass * joint[i] / total - this.weights[k]); });
      const w = this.weights.map((x) => Math.max(FLOOR, x)), s = sum(w);
      this.weights = w.map((x) => x / s);
    }
  }

  class SessionWords {                           // session_words.SessionWords, version-2 statistics
    constructor(ngram, wordKey, charProb) {
      this.ngram = ngram; this.wordKey = wordKey; this.charProb = charProb;
      this.text = null; this.cache = null; this.history = [null, null];
      this.mixture = new Mixture(ngram.mixture);
    }
    update(text) {                               // the cache after the words before the current one
      const cs = Array.from(text), head = cs.slice(0, cs.length - Array.from(currentWord(text)).length);
      const headText = head.join(""), done = this.text;
      let spans, fresh;
      if (done === null || !headText.startsWith(done)) {
        this.cache = new WordCache(CACHE_WORDS); this.history = [null, null]; this.mixture = new Mixture(this.ngram.mixture);
        spans = wordSpans(head).slice(-CACHE_WORDS); fresh = false;
      } else if (headText.length === done.length) {
        return this.cache;
      } else {
        const off = Array.from(done).length;
        spans = wordSpans(head.slice(off)).map(([a, b]) => [a + off, b + off]); fresh = true;
      }
      for (const [a, b] of spans)
        this.push(this.wordKey(head.slice(a, b).join("")), fresh || b > head.length - RECENT_CHARS ? [a, b] : null);
      this.text = headText;
      return this.cache;
    }
    push(w, span) {
      const cache = this.cache, prev = cache.words.length ? cache.words[cache.words.length - 1] : null, [u, v] = this.history;
      const pChar = span !== null && this.charProb ? this.charProb(span[0], span[1]) : null;
      this.mixture.update([pChar, this.ngram.prob(u, v, fold(w)), cache.prob(prev, w)]);
      this.history = [v, fold(w)];
      cache.push(w);
    }
  }

  root.ChargenWords = { NgramModel, WordCache, Mixture, SessionWords, currentWord, previousWord, previousWords,
                        sentenceStart, wordSpans, cased, fold, isWordChar, isUpper, isLower, prefixRange, VERSION: 2 };
})(typeof window !== "undefined" ? window : globalThis);
