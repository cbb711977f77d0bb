// The browser keyboard's page: loads the exported model (from the app, a plain web server or, opened
// as a file, a folder the user picks), then answers every edit of the box from the engine in the
// page. window.chargen exposes the engine to tests and to bench/ondevice.py.
//
//   served by the app:     /ondevice/?model=default   (the app exports the checkpoint on first use)
//   an exported folder:    index.html beside manifest.json and step.onnx (over http, or as a file)
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const status = (msg, error) => { $("status").textContent = msg; $("status").className = error ? "error" : ""; };
  const params = new URLSearchParams(location.search);
  const precision = params.get("precision") === "int8" ? "int8" : "fp32";
  let resolveReady;
  const chargen = window.chargen = { ready: new Promise((r) => { resolveReady = r; }), engine: null, session: null };

  function showChar(t, shown) { return shown || t; }
  const engineHasTypos = () => chargen.engine.typos !== null;

  async function fromUrls() {                      // served: the app's export, or a folder over http
    if (typeof ort === "undefined") {             // the server says why (offline: the command that fetches it)
      let why = "";
      try { const r = await fetch("vendor/ort.wasm.min.js"); if (!r.ok) why = await r.text(); } catch (e) { why = String(e); }
      throw new Error(why || "onnxruntime-web is missing (vendor/): run bash chargen/browser/fetch-ort.sh");
    }
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = new URL("vendor/", location.href).href;
    const base = params.get("model") ? `models/${encodeURIComponent(params.get("model"))}/` : "./";
    const res = await fetch(base + "manifest.json");
    if (!res.ok) throw new Error(`${base}manifest.json: ${res.status} ${await res.text()}`);
    const manifest = await res.json();
    const onnx = new Uint8Array(await (await fetch(base + manifest.files[precision])).arrayBuffer());
    const words = manifest.files.words ? await (await fetch(base + manifest.files.words)).json() : null;
    return { manifest, onnx, words };
  }

  async function fromFolder(fileList) {           // opened as a file: the files of the picked folder
    const byName = new Map(Array.from(fileList, (f) => [f.webkitRelativePath.split("/").slice(1).join("/") || f.name, f]));
    const get = (name) => { const f = byName.get(name); if (!f) throw new Error(`the folder has no ${name}`); return f; };
    if (typeof ort === "undefined") throw new Error("onnxruntime-web is missing: the folder has no vendor/ort.wasm.min.js");
    ort.env.wasm.numThreads = 1;
    // a page from disk may not fetch or import files: the runtime's loader and binary come from the picked folder
    const mjs = get("vendor/ort-wasm-simd-threaded.mjs");
    ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([await mjs.arrayBuffer()], { type: "text/javascript" })) };
    ort.env.wasm.wasmBinary = new Uint8Array(await get("vendor/ort-wasm-simd-threaded.wasm").arrayBuffer());
    const manifest = JSON.parse(await get("manifest.json").text());
    const onnx = new Uint8Array(await get(manifest.files[precision]).arrayBuffer());
    const words = manifest.files.words ? JSON.parse(await get(manifest.files.words).text()) : null;
    return { manifest, onnx, words };
  }

  async function start(files) {
    const t0 = performance.now();
    const engine = await ChargenEngine.load(ort, files);
    chargen.engine = engine;
    chargen.session = engine.session();
    const m = files.manifest.model;
    chargen.info = `${m.num_layers} × ${m.hidden_size} ${m.cell.toUpperCase()}, ${files.manifest.tokenizer.kind}, ` +
      `${precision}, ${(files.onnx.byteLength / 1e6).toFixed(2)} MB; ` +
      (engine.words ? "word n-grams mixed in" : "the character model alone (no version-2 word n-grams)");
    status(`${chargen.info}; loaded in ${(performance.now() - t0).toFixed(0)} ms`);
    $("text").disabled = false;
    $("text").addEventListener("input", () => update());
    await update();
    resolveReady(engine);
  }

  let busy = false, queued = false;
  async function update() {                        // the latest text only: keystrokes in a burst collapse
    if (busy) { queued = true; return; }
    busy = true;
    try {
      do {
        queued = false;
        const typed = $("text").value, t0 = performance.now();
        const s = chargen.session;
        // a space or punctuation right after a word may autocorrect it; Backspace right after undoes that
        const text = engineHasTypos() ? await s.edit(typed, $("autocorrect").value) : (await s.setText(typed)).text;
        if (text !== typed && $("text").value === typed) $("text").value = text;
        const chips = s.nextChars(8), words = await s.suggest(3);
        render(text, words, chips, performance.now() - t0);
      } while (queued);
    } catch (err) {
      status(String(err), true);
    } finally {
      busy = false;
    }
  }

  function render(text, words, chips, ms) {
    const bar = $("bar"), chipBox = $("chips"), e = chargen.engine;
    const typed = ChargenEngine.currentWord(text);    // a correction (not the typed word's extension) is marked
    bar.replaceChildren(...words.map((w) => button(w, typed && !w.startsWith(typed) ? "sugg fix" : "sugg", () => accept(w))));
    bar.dataset.text = text;
    chipBox.replaceChildren(...chips.map(([c, p]) => {
      const b = button(showChar(c, e.shownTokens[e.texts.indexOf(c)]), "chip", () => typeChar(c));
      const small = document.createElement("small");
      small.textContent = p >= 0.005 ? `${(100 * p).toFixed(0)}%` : "<1%";
      b.append(small);
      return b;
    }));
    chipBox.dataset.text = text;
    status(`${chargen.info}; this keystroke: ${ms.toFixed(1)} ms in the page`);
  }

  function button(label, cls, onclick) {
    const b = document.createElement("button");
    b.textContent = label; b.className = cls; b.onclick = onclick;
    return b;
  }

  function accept(word) {                          // like the app: the word in place of the typed part, a space
    const box = $("text"), typed = ChargenEngine.currentWord(box.value);
    box.value = box.value.slice(0, box.value.length - typed.length) + word + " ";
    update(); box.focus();
  }

  function typeChar(c) {
    const box = $("text");
    box.value += c;
    update(); box.focus();
  }

  if (location.protocol === "file:") {
    $("pick").style.display = "block";
    status("choose the exported folder");
    $("folder").addEventListener("change", async (ev) => {
      try { await start(await fromFolder(ev.target.files)); } catch (err) { status(String(err), true); }
    });
  } else {
    fromUrls().then(start).catch((err) => status(String(err), true));
  }
})();
