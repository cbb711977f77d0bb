// The Keyboard tab's keystroke path, in the page: every edit of the box (keys, Backspace, paste, an
// IME) and every click on a suggestion, chip or on-screen key goes to the JSON lane
// (POST /keyboard/suggest) with this tab's session id, and the panel (bar, chips, keyboard, status
// line) is drawn here from the answer. No Gradio event per keystroke: Gradio's events carry the rest
// (the page load, the model picker, Learn, Autocorrect, Keep, Forget), and call window.chargenKb.
// Loaded as the panel's js_on_load (chargen/web/layout.py): `element` is the panel.
(function (panel) {
  "use strict";
  const ROUTE = "/keyboard/suggest", N = 3;
  const st = { model: "", browser: "", sid: "", learn: true, autocorrect: "modest", started: false };
  let shown = null;
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
    const kind = a && a.kind ? a.kind : "next words";
    const typed = a ? a.typed || "" : "";
    const words = a ? a.suggestions : [];
    const inner = message ? esc(message) : words.map((w) => w.startsWith(typed)
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

  async function ask(text, key) {
    const body = { text, model: st.model, n: N, session: st.sid, learn: st.learn, autocorrect: st.autocorrect,
                   browser: st.browser, key: key || "", panel: true };
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
        const text = box() ? box().value : "";
        if (!st.model) { render(text, null, st.message); continue; }
        try {
          const a = await ask(text, k);
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

  document.addEventListener("input", (e) => {
    if (!e.target.closest || !e.target.closest("#kb_text")) return;
    if (e.target.value === shown) { shown = null; return; }  // our own write after a click: already drawn
    update();
  }, true);

  panel.addEventListener("click", (e) => {
    const b = e.target.closest("[data-key]");
    if (!b) return;
    update(b.dataset.key);
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
    get sid() { return st.sid; },
  };
})(element);
