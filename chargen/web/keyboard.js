// The Keyboard tab's keystroke path, in the page: every edit of the box (keys, Backspace, paste, an
// IME) and every click on a suggestion, chip or on-screen key goes to the JSON lane
// (POST /keyboard/suggest) with this tab's session id, and the panel (bar, chips, keyboard, status
// line) is drawn here from the answer. No Gradio event per keystroke: Gradio's events carry the rest
// (the page load, the model picker, Learn, Autocorrect, Keep, Forget), and call window.chargenKb.
// A gesture drawn across the on-screen keys (chargen/web/gesture.js sends it here: window.chargenKb.gesture)
// goes to the same lane; its best word is inserted with a space, the others offered in the bar (a click
// puts one in its place), and Backspace right after takes the whole word back out.
// Loaded as the panel's js_on_load (chargen/web/layout.py): `element` is the panel.
(function (panel) {
  "use strict";
  const ROUTE = "/keyboard/suggest", N = 3;
  const st = { model: "", browser: "", sid: "", learn: true, autocorrect: "modest", started: false };
  let shown = null;
  let swiped = null;       // the last gesture's word while it is the text's end: {before, head, after, word, others}
  const box = () => document.querySelector("#kb_text textarea");
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" })[c]);
  // Python's urllib.parse.quote, as the server-rendered panel writes data-key
  const quote = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%2F/g, "/");
  const button = (cls, key, label, title, style) =>
    `<button class="${cls}" data-key="${esc(key)}" title="${esc(title || "")}"${style ? ` style="${style}"` : ""}>${label}</button>`;
  const SPECIAL = [["bksp", "⌫"], ["space", "space"], ["enter", "⏎"]];
  // sqrt: a 4% key is still visibly tinted; 0.05 steps: most keys keep their style between keystrokes
  const shade = (p) => `background:rgba(249,115,22,${(Math.round(20 * Math.min(1, Math.sqrt(p))) / 20).toFixed(2)})`;

  // The panel: the bar, the status line, the chips, the on-screen keyboard. Drawn whole the first
  // time and when the layout changes; after that the keyboard's buttons stay and only their shading
  // changes where it did (most keys keep their style between keystrokes: fewer DOM writes).
  let layout = "";
  function render(text, a, message) {
    const gest = !message && swiped && swiped.after === text;     // the gesture's other words in the bar
    const kind = gest ? "gesture" : a && a.kind ? a.kind : "next words";
    const typed = a ? a.typed || "" : "";
    const words = a ? a.suggestions : [];
    const inner = message ? esc(message) : gest ? swiped.others.map((w) =>
      button("sugg gest", "g:" + quote(w), esc(w), `instead of ${swiped.word}`)).join("") || '<span class="none">—</span>'
      : words.map((w) => w.startsWith(typed)
      ? button("sugg", "w:" + quote(w), esc(w))
      : button("sugg fix", "w:" + quote(w), esc(w), `correction of ${typed}`)).join("") || '<span class="none">—</span>';
    const bar = `<div class="sugg-bar" data-len="${Array.from(text).length}" data-kind="${esc(kind)}">` +
      `<span class="kind">${esc(kind)}</span>${inner}</div>`;
    const status = a && a.status ? `<div class="adapt-status" id="kb_status">${esc(a.status)}</div>` : "";
    const chips = '<div class="chips">' + (a ? a.next_chars.map(([c, p], i) => button("chip", "c:" + quote(c),
      `${esc(a.shown[i])}<small>${(100 * p).toFixed(0)}%</small>`, `${(100 * p).toFixed(1)}%`)).join("") : "") + "</div>";
    const rows = a ? a.rows.join("\n") : "";
    const keys = panel.querySelector(".keyboard");
    if (a && keys && rows === layout) {           // the same keyboard: its shading only
      for (const b of keys.querySelectorAll("button.key")) {
        const style = shade(a.mass[decodeURIComponent(b.dataset.key.slice(2))] || 0);
        if (b.getAttribute("style") !== style) b.setAttribute("style", style);
      }
      const box = keys.parentNode;                 // the bar, status line and chips before it, new
      while (box.firstChild !== keys) box.removeChild(box.firstChild);
      box.insertBefore(document.createRange().createContextualFragment(bar + status + chips), keys);
      return;
    }
    let html = `<div class="kb-panel">${bar}${status}${chips}`;
    if (a) {
      const grid = a.rows.map((r) => Array.from(r).map((k) => [k, esc(k)])).concat([SPECIAL]);
      html += '<div class="keyboard">' + grid.map((row) => '<div class="krow">' + row.map(([k, label]) =>
        button(k.length === 1 ? "key" : `key wide ${k}`, "k:" + quote(k), label, "", shade(a.mass[k] || 0))).join("") +
        "</div>").join("") + "</div>";
    }
    layout = rows;
    panel.innerHTML = html + "</div>";
  }

  function setBox(text) {                         // the box as Gradio's Textbox sees it (its own input handler)
    const b = box();
    if (!b || b.value === text) return;
    shown = text;
    b.value = text;
    b.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async function ask(text, key, more) {
    const body = { text, model: st.model, n: N, session: st.sid, learn: st.learn, autocorrect: st.autocorrect,
                   browser: st.browser, key: key || "", panel: true, ...(more || {}) };
    const res = await fetch(ROUTE, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const a = await res.json();
    if (a.error) throw new Error(a.error);
    return a;
  }

  // One request in flight per tab: edits made meanwhile collapse into the latest text; clicks queue
  let busy = false, dirty = false;
  const keys = [];
  async function update(key) {
    if (key) keys.push(key); else dirty = true;
    if (!st.started || busy) return;
    busy = true;
    try {
      while (keys.length || dirty) {
        const k = keys.shift() || "";
        if (!k) dirty = false;
        let text = box() ? box().value : "";
        if (!st.model) { render(text, null, st.message); continue; }
        try {
          if (typeof k === "object") {            // a gesture: its best word in, then the panel as after a key
            if (!(text = await swipe(text, k))) continue;
          }
          const a = await ask(text, typeof k === "object" ? "" : k);
          if ((box() ? box().value : "") !== text) { dirty = true; continue; }   // typed meanwhile: ask again
          setBox(a.text);
          render(a.text, a);
        } catch (err) {
          render(text, null, String(err.message || err));
        }
      }
    } finally {
      busy = false;
    }
  }

  // The gesture's words after ``text`` (sent as the text the word will follow: a space after a word
  // typed up to the end), the best one inserted with a space; the text after, or "" if none came back
  async function swipe(text, g) {
    const head = text && !/\s$/.test(text) ? text + " " : text;
    const a = await ask(head, "", { gesture: g.points, layout: g.layout, n: N + 1 });
    if ((box() ? box().value : "") !== text) { dirty = true; return ""; }     // typed meanwhile: not inserted
    const words = (a.words || []).map(([w]) => w);
    if (!words.length) return "";
    swiped = { before: text, head, after: head + words[0] + " ", word: words[0], others: words.slice(1) };
    setBox(swiped.after);
    return swiped.after;
  }

  function unswipe() {                  // Backspace right after a gesture: the text as it was before it
    const b = box();
    if (!swiped || !b || b.value !== swiped.after || b.selectionStart !== b.selectionEnd ||
        b.selectionEnd !== b.value.length) return false;
    const before = swiped.before;
    swiped = null;
    setBox(before);
    update();
    return true;
  }

  function reswipe(word) {              // another of the gesture's words in place of the inserted one
    const b = box();
    if (!swiped || !b || b.value !== swiped.after) return;
    swiped.others = swiped.others.map((w) => (w === word ? swiped.word : w));
    Object.assign(swiped, { word, after: swiped.head + word + " " });
    setBox(swiped.after);
    update();
  }

  document.addEventListener("input", (e) => {
    if (!e.target.closest || !e.target.closest("#kb_text")) return;
    if (e.target.value === shown) { shown = null; return; }  // our own write after a click: already drawn
    swiped = null;
    update();
  }, true);

  document.addEventListener("keydown", (e) => {
    if (e.key === "Backspace" && swiped && e.target.closest && e.target.closest("#kb_text") && unswipe()) e.preventDefault();
  }, true);

  panel.addEventListener("click", (e) => {
    const b = e.target.closest("[data-key]");
    if (!b) return;
    const key = b.dataset.key;
    if (key.startsWith("g:")) reswipe(decodeURIComponent(key.slice(2)));
    else if (!(key === "k:bksp" && unswipe())) { swiped = null; update(key); }
    if (box()) box().focus();
  });

  window.chargenKb = {
    // the page load: the picked model, this browser's id (its kept profile), the tab's session id
    start(model, browser, sid, learn, autocorrect, message) {
      Object.assign(st, { model: model || "", browser: browser || "", sid: sid || "", learn: learn !== false,
                          autocorrect: autocorrect || "off", message: message || "", started: true });
      return update();
    },
    set(changes) { Object.assign(st, changes); return update(); },
    refresh() { return update(); },
    // a gesture across the on-screen keys: points [[x, y], ...], layout {char: [left, top, right, bottom]}
    gesture(points, layout) { swiped = null; return update({ points, layout }); },
    get sid() { return st.sid; },
  };
})(element);
