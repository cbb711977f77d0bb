"""The chargen web app (Gradio): a phone-style keyboard, streaming generation, training in the
background and a model card. UI only: every computation is a call into ``chargen``.

    python app.py [--checkpoints DIR] [--host 127.0.0.1] [--port 7860] [--max-upload-mb 50]

Environment: CHARGEN_CHECKPOINTS, CHARGEN_HOST, CHARGEN_PORT, CHARGEN_MAX_UPLOAD_MB, CHARGEN_CORPORA.
API (gradio_client): /suggest, /generate, /models (see README "Web app").
"""
from __future__ import annotations

import argparse
import html
import json
import logging
import os
import time
from pathlib import Path
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parent
# Offline and tidy (RECIPES.md): no analytics, no hub calls, temp files inside the project.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(ROOT / ".gradio" / "tmp"))
# One BLAS thread per call: the keystroke steps are numpy matrix-vector products, and sessions run
# side by side (set before numpy loads its BLAS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402
from fastapi.routing import APIRoute  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402

from chargen.catalog import Catalog  # noqa: E402
from chargen.checkpoint import CheckpointError  # noqa: E402
from chargen.faststep import use_keystroke_threads  # noqa: E402
from chargen.jobs import PRESETS, JobError, JobManager  # noqa: E402
from chargen.tokenizer import KINDS  # noqa: E402
from chargen.words import current_word  # noqa: E402
from chargen.sample import generate  # noqa: E402
from chargen.keys import delete_key, is_jamo, key_distribution, korean_layout, show_char, type_jamo, typed_jamo  # noqa: E402
from chargen.typists import KEYBOARD_CONTEXT, Typist, TypistPool, context_start, keystroke, keystroke_async  # noqa: E402,F401

NO_MODEL = "No model yet — train one in the Train tab."
N_CHIPS, STREAM_EVERY = 8, 0.03          # next-character chips; seconds between streamed updates
TAB_SESSION_SECONDS = 3600               # a browser tab's keyboard session is dropped after this long unused
QUEUE_IDLE_POLL_S = 0.01                 # how often Gradio's idle queue looks for work (see serve)
KEYBOARD_ROUTE = "/keyboard/suggest"     # /suggest as plain JSON, without Gradio's request machinery
PRESET_LABELS = {"auto": "auto (sized from the time budget)", "tiny": "tiny: 1 × 64", "small": "small: 2 × 192",
                 "medium": "medium: 2 × 384", "large": "large: 2 × 512"}
LATIN_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", ",.?!'\":;-"]
KOREAN_ROWS = ["ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", "ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", "ㅋㅌㅊㅍㅠㅜㅡ", "ㅃㅉㄸㄲㅆㅒㅖ", "ㅘㅙㅚㅝㅞㅟㅢ",
               ",.?!'\"~^"]
SPECIAL_KEYS = [("bksp", "⌫"), ("space", "space"), ("enter", "⏎")]
CLICK_JS = """element.addEventListener('click', (e) => {
  const b = e.target.closest('[data-key]');
  if (!b) return;
  trigger('click', {key: b.dataset.key});
  const box = document.querySelector('#kb_text textarea');
  if (box) box.focus();
});"""


# ------------------------------------------------------------------ the keyboard panel
def _button(cls: str, key: str, label: str, title: str = "", style: str = "") -> str:
    return (f'<button class="{cls}" data-key="{html.escape(key)}" title="{html.escape(title)}"'
            f'{f" style={chr(34)}{style}{chr(34)}" if style else ""}>{label}</button>')


def render_suggestions(text: str, words: list, message: str = "") -> str:
    kind = "next words" if not current_word(text) else "completions"
    inner = html.escape(message) if message else "".join(
        _button("sugg", "w:" + quote(w), html.escape(w)) for w in words) or '<span class="none">—</span>'
    return (f'<div class="sugg-bar" data-len="{len(text)}" data-kind="{kind}">'
            f'<span class="kind">{kind}</span>{inner}</div>')


def render_chips(chars: list) -> str:
    return '<div class="chips">' + "".join(
        _button("chip", "c:" + quote(c), f"{html.escape(show_char(c))}<small>{100 * p:.0f}%</small>",
                f"{100 * p:.1f}%") for c, p in chars) + "</div>"


def _shade(p: float) -> str:
    # sqrt: a 4% key is still visibly tinted; 0.05 steps: most keys keep their style between keystrokes
    return f"background:rgba(249,115,22,{round(20 * min(1.0, p ** 0.5)) / 20:.2f})"


def render_keyboard(korean: bool, mass: dict) -> str:
    rows = [[(k, html.escape(k)) for k in row] for row in (KOREAN_ROWS if korean else LATIN_ROWS)]
    rows.append(SPECIAL_KEYS)
    return '<div class="keyboard">' + "".join(
        '<div class="krow">' + "".join(_button("key" if len(k) == 1 else f"key wide {k}", "k:" + quote(k), label,
                                               "", _shade(mass.get(k, 0.0)))       # no per-key title: fewer DOM writes
                                       for k, label in row) + "</div>" for row in rows) + "</div>"


def render_chart(chars: list) -> str:
    """The next-character distribution as horizontal bars (clicking a bar types it too)."""
    top = max((p for _, p in chars), default=1.0) or 1.0
    return '<div class="pchart">' + "".join(
        _button("bar", "c:" + quote(c), f'<span class="lbl">{html.escape(show_char(c))}</span>'
                f'<span class="track"><span class="fill" style="width:{100 * p / top:.1f}%"></span></span>'
                f'<span class="val">{100 * p:.1f}%</span>', f"{100 * p:.2f}%") for c, p in chars) + "</div>"


def render_panel(text: str, words=(), chars=(), korean: bool = False, mass=None, message: str = "") -> str:
    """The whole Keyboard panel as one HTML block: one output per keystroke (each extra output
    component costs the browser a status tracker and a render pass, which 8 sessions feel)."""
    return ('<div class="kb-panel">' + render_suggestions(text, list(words), message)
            + render_chips(list(chars)) + '<div class="kb-lower">' + render_keyboard(korean, mass or {})
            + '<div class="pchart-box"><div class="cap">next character</div>' + render_chart(list(chars))
            + "</div></div></div>")


def keyboard_view(catalog: Catalog, text: str, model: str | None, typist):
    """Everything the Keyboard tab shows for ``text``: (panel HTML, the tab's Typist)."""
    typist = typist or Typist()
    text = text or ""
    if not model:
        return render_panel(text, message=NO_MODEL), typist
    try:
        predictor = catalog.predictor(model)
        with typist.lock:
            s = typist.session_for(predictor, model, text)
            words, chars = s.suggest(3), s.next_chars(N_CHIPS)
            mass, _ = key_distribution(s)
            korean = korean_layout(s.p)
    except CheckpointError as e:
        return render_panel(text, message=str(e)), typist
    return render_panel(text, words, chars, korean, mass), typist


def press(catalog: Catalog, key: str, text: str, model: str | None, typist) -> str:
    """The text after a click on a suggestion (w:), a chip (c:) or an on-screen key (k:)."""
    text = text or ""
    kind, _, value = key.partition(":")
    value = unquote(value)
    if not model or not value:
        return text
    if kind == "w":                          # like a phone: the word in place of the typed part, a space
        return text[:len(text) - len(current_word(text))] + value + " "
    typist = typist or Typist()
    predictor = catalog.predictor(model)
    with typist.lock:
        s = typist.session_for(predictor, model, text)
        jamo = s.p.tokenizer.kind == "jamo"
        if kind == "k":
            if value == "bksp":
                return delete_key(text, jamo)
            _, best = key_distribution(s)
            value = best.get(value) or {"space": " ", "enter": "\n"}.get(value) or (typed_jamo(value) if jamo else value)
    return type_jamo(text, value) if jamo and is_jamo(value) else text + value


# ------------------------------------------------------------------ model card, generation, training
def model_card(catalog: Catalog, model: str | None):
    if not model:
        return NO_MODEL, {}
    try:
        entry, predictor = catalog.entry(model), catalog.predictor(model)
    except CheckpointError as e:
        return str(e), {}
    c = entry.config
    m, tok, corpus, metrics = c["model"], c["tokenizer"], c.get("corpus", {}), c.get("metrics", {})
    files = ", ".join(Path(f).name for f in corpus.get("files", [])) or "unknown"
    lines = [f"### {model}",
             f"- **model**: {m['cell'].upper()} {m['num_layers']} × {m['hidden_size']}, "
             f"{predictor.model.num_params() / 1e6:.2f} M parameters, dropout {m.get('dropout', 0)}",
             f"- **tokenizer**: {tok.get('kind')} ({predictor.tokenizer.vocab_size:,} symbols)",
             f"- **corpus**: {files} ({corpus.get('chars', 0):,} characters)",
             f"- **val bpc**: {metrics['val_bpc']:.3f} ({metrics['val_nats']:.3f} nats/char) at step "
             f"{metrics.get('step', '?'):,}" if "val_bpc" in metrics else "- **val bpc**: not validated yet",
             f"- **budget**: {c.get('train', {}).get('max_minutes', '?')} min · checkpoint `{entry.path.name}`"]
    return "\n".join(lines), c


def model_sample(catalog: Catalog, model: str | None, seed: int | None = 0) -> str:
    if not model:
        return NO_MODEL
    try:
        p = catalog.predictor(model)
    except CheckpointError as e:
        return str(e)
    return "".join(generate(p.model, p.tokenizer, "", 300, temperature=0.8, seed=seed))


def stream_generate(catalog: Catalog, prompt, temperature, top_k, top_p, length, seed, model):
    """Yield the growing text (prompt + continuation) at most every STREAM_EVERY seconds."""
    model = model or catalog.default_name()
    if not model:
        raise gr.Error(NO_MODEL)
    try:
        p = catalog.predictor(model)
        pieces = generate(p.model, p.tokenizer, prompt or "", int(length), float(temperature), int(top_k),
                          float(top_p), seed=None if seed is None or seed == "" else int(seed))
        text, last = prompt or "", 0.0
        for piece in pieces:
            text += piece
            if time.monotonic() - last >= STREAM_EVERY:
                last = time.monotonic()
                yield text
        yield text
    except (ValueError, CheckpointError) as e:       # invalid settings, broken checkpoint
        raise gr.Error(str(e)) from None


def progress_html(snap: dict | None) -> str:
    if not snap:
        return '<div class="progress" data-state="idle"><div style="width:0%"></div></div>'
    pct = 100 * snap["progress"]
    return (f'<div class="progress" data-state="{snap["state"]}"><div style="width:{pct:.1f}%"></div></div>'
            f'<div class="progress-text">{html.escape(snap["name"])}: {snap["state"]} · {pct:.0f}% · '
            f'{snap["elapsed"]:.0f} s</div>')


def curve_frame(snap: dict | None) -> pd.DataFrame | None:
    rows = snap["curve"] if snap else []
    if not rows:        # None, not an empty frame: a plot that starts empty never draws its color series
        return None
    return pd.DataFrame({"step": pd.Series([r["step"] for r in rows], dtype=int),
                         "series": pd.Series([r["series"] for r in rows], dtype=str),
                         "bpc": pd.Series([r["bpc"] for r in rows], dtype=float)})


def samples_text(snap: dict | None) -> str:
    return "\n\n".join(f"── step {step} ──\n{text}" for step, text in reversed(snap["samples"])) if snap else ""


# ------------------------------------------------------------------ the page
CSS = """
.kb-panel { display: flex; flex-direction: column; gap: 12px; contain: content; }
.kb-lower { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.kb-lower .keyboard { flex: 3 1 420px; }
.pchart-box { flex: 2 1 260px; }
.pchart-box .cap { font-size: 0.8em; opacity: 0.6; margin-bottom: 4px; }
.sugg-bar { display: flex; gap: 8px; align-items: center; min-height: 44px; }
.sugg-bar .kind { font-size: 0.8em; opacity: 0.6; width: 6.5em; }
.sugg { flex: 1; padding: 8px; border-radius: 8px; font-size: 1.05em; cursor: pointer;
  background: var(--button-secondary-background-fill); border: 1px solid var(--border-color-primary); }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { padding: 4px 10px; border-radius: 999px; cursor: pointer; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); font-family: var(--font-mono); }
.chip small { margin-left: 4px; opacity: 0.65; }
.keyboard { display: flex; flex-direction: column; gap: 5px; align-items: center; }
.krow { display: flex; gap: 5px; }
.key { min-width: 2.4em; height: 2.6em; border-radius: 6px; cursor: pointer; border: 1px solid var(--border-color-primary); }
.key.wide { min-width: 5em; } .key.space { min-width: 16em; }
.pchart { display: flex; flex-direction: column; gap: 3px; }
.bar { display: flex; align-items: center; gap: 8px; cursor: pointer; background: none; border: none; padding: 0; }
.bar .lbl { width: 1.6em; font-family: var(--font-mono); text-align: center; }
.bar .track { flex: 1; height: 14px; background: var(--background-fill-secondary); border-radius: 3px; }
.bar .fill { display: block; height: 100%; background: #f97316; border-radius: 3px; }
.bar .val { width: 4em; text-align: right; font-size: 0.85em; opacity: 0.7; }
.progress { height: 14px; border-radius: 7px; background: var(--background-fill-secondary); overflow: hidden; }
.progress > div { height: 100%; background: #f97316; transition: width 0.3s; }
#train_error { color: var(--error-text-color, #b91c1c); }
"""


def build_demo(checkpoints_dir=None, corpora_dir=None, max_upload_mb: float | None = None,
               max_steps: int = 0) -> gr.Blocks:
    """The app for one checkpoints root (default: CHARGEN_CHECKPOINTS or ./checkpoints).
    ``max_steps`` caps every training run started from the UI (tests, demos; 0: the budget alone)."""
    root = Path(checkpoints_dir or os.environ.get("CHARGEN_CHECKPOINTS") or ROOT / "checkpoints")
    corpora = Path(corpora_dir or os.environ.get("CHARGEN_CORPORA") or ROOT / "corpora")
    max_upload_mb = float(max_upload_mb or os.environ.get("CHARGEN_MAX_UPLOAD_MB") or 50)
    catalog = Catalog(root)
    jobs = JobManager(root, max_upload_bytes=int(max_upload_mb * 2**20), corpora_dir=corpora)
    pool = TypistPool()                       # API callers' keyboard sessions, by session id

    async def api_suggest(text: str, model: str = "", n: int = 3, session: str = "") -> dict:
        """Keyboard suggestions for `text`: the suggestion bar (completions of the current word, or
        next words after a space), the next characters and their probabilities. `session`: the id
        an earlier answer returned (or one of your own, 1-64 letters, digits, - or _): your own
        keyboard session, where a call costs only the keys typed since the last one. Without it
        the answer is just as right, from a shared pool, and carries an id for the next call."""
        return await keystroke_async(suggest_now, text, model, n, session)

    def suggest_now(text: str, model: str, n, session: str) -> dict:
        model = model or catalog.default_name()
        if not model:
            raise gr.Error(NO_MODEL)
        try:
            predictor = catalog.predictor(model)           # a listed model, or CheckpointError
            n = max(1, min(10, int(n)))
            if session:
                sid, typist = pool.checkout(session)
                typist.lock.acquire()
            else:
                sid, typist = None, pool.anonymous(text)
            try:
                s = typist.session_for(predictor, model, text)
                answer = {"model": model, "kind": "next words" if not current_word(text) else "completions",
                          "suggestions": s.suggest(n), "next_chars": [[c, p] for c, p in s.next_chars(N_CHIPS)]}
                return {"session": sid or pool.offer(typist), **answer}
            finally:
                typist.lock.release()
        except (CheckpointError, ValueError) as e:
            raise gr.Error(str(e)) from None

    def api_models() -> list[str]:
        """The names of the valid checkpoints (for the `model` argument)."""
        return catalog.names()

    names, default = catalog.names(), catalog.default_name()
    bundled = list(jobs.bundled_corpora())
    with gr.Blocks(title="chargen") as demo:
        typist = gr.State(None, time_to_live=TAB_SESSION_SECONDS)
        with gr.Row(equal_height=True):
            model = gr.Dropdown(names, value=default, label="Model", allow_custom_value=True, scale=4,
                                elem_id="model_pick", info=None if names else NO_MODEL)
            refresh = gr.Button("↻ Refresh list", scale=1, elem_id="refresh_models")
        with gr.Tabs():
            with gr.Tab("Keyboard", id="keyboard"):
                text = gr.Textbox(label="Type here", lines=5, max_lines=5, elem_id="kb_text", placeholder="Start typing…")
                panel = gr.HTML(render_panel("", message="" if default else NO_MODEL), elem_id="kb_panel",
                                js_on_load=CLICK_JS)
            with gr.Tab("Generate", id="generate"):
                prompt = gr.Textbox(label="Prompt", lines=3, elem_id="gen_prompt")
                with gr.Row():
                    temperature = gr.Slider(0.05, 2.0, value=0.8, step=0.05, label="Temperature")
                    top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k", info="0: off")
                    top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.01, label="Top-p", info="1: off")
                    length = gr.Slider(1, 10000, value=500, step=1, label="Length", info="tokens")
                    seed = gr.Number(None, label="Seed", precision=0, info="empty: random")
                with gr.Row():
                    gen_btn = gr.Button("Generate", variant="primary", elem_id="gen_btn")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="gen_stop")
                output = gr.Textbox(label="Output", lines=14, elem_id="gen_out", autoscroll=True)
            with gr.Tab("Train", id="train"):
                with gr.Row():
                    files = gr.File(label=f"Corpus: .txt files (up to {max_upload_mb:g} MB)", file_count="multiple",
                                    file_types=[".txt"], type="filepath", elem_id="train_files")
                    with gr.Column():
                        corpus_pick = gr.Dropdown(bundled, value=None, label="…or a bundled corpus",
                                                  visible=bool(bundled), elem_id="train_bundled")
                        run_name = gr.Textbox(label="Model name", placeholder="from the file name", elem_id="train_name")
                        tokenizer = gr.Radio(list(KINDS), value="char", label="Tokenizer",
                                             info="jamo: Korean syllables as the jamo a keyboard types")
                with gr.Row():
                    preset = gr.Dropdown([(PRESET_LABELS[k], k) for k in PRESETS], value="auto", label="Size")
                    minutes = gr.Slider(0.5, 60, value=2, step=0.5, label="Time budget (minutes)")
                    vocab = gr.Number(2000, label="Subword vocabulary (bpe / unigram)", precision=0)
                with gr.Row():
                    start_btn = gr.Button("Start training", variant="primary", elem_id="train_start")
                    cancel_btn = gr.Button("Cancel", variant="stop", elem_id="train_cancel")
                train_error = gr.Markdown("", elem_id="train_error")
                train_status = gr.Markdown("No training run yet.", elem_id="train_status")
                progress = gr.HTML(progress_html(None), elem_id="train_progress")
                curve = gr.LinePlot(curve_frame(None), x="step", y="bpc", color="series", label="bits per character",
                                    elem_id="train_curve")
                samples = gr.Textbox(label="Samples while training (newest first)", lines=8, elem_id="train_samples")
                timer = gr.Timer(0.5, active=False)
            with gr.Tab("Model", id="model"):
                card = gr.Markdown(elem_id="model_card")
                sample = gr.Textbox(label="A sample (temperature 0.8)", lines=8, elem_id="model_sample")
                resample = gr.Button("Another sample", elem_id="model_resample")
                config = gr.JSON(label="config.json", elem_id="model_config")

        # Keyboard: every edit (typing, Backspace, paste, IME) -> suggestions; clicks edit the text.
        kb_out = [panel, typist]
        on_text = lambda t, m, st: keystroke(keyboard_view, catalog, t, m, st)  # noqa: E731
        text.change(on_text, [text, model, typist], kb_out, trigger_mode="always_last", show_progress="hidden",
                    queue=False, api_visibility="private")
        panel.click(_press_fn(catalog), [text, model, typist], text, show_progress="hidden", queue=False,
                    api_visibility="private")

        # The model picker drives the keyboard and the model card.
        show_card = lambda m: model_card(catalog, m)  # noqa: E731
        model.change(on_text, [text, model, typist], kb_out, show_progress="hidden", api_visibility="private") \
            .then(show_card, model, [card, config], api_visibility="private") \
            .then(lambda m: model_sample(catalog, m), model, sample, api_visibility="private")
        refresh.click(lambda m: gr.Dropdown(choices=catalog.names()), model, model, api_visibility="private")
        resample.click(lambda m: model_sample(catalog, m, None), model, sample, api_visibility="private")

        # Generate: streamed, stoppable.
        def run_generate(prompt, temperature, top_k, top_p, length, seed, model):
            yield from stream_generate(catalog, prompt, temperature, top_k, top_p, length, seed, model)

        gen = gen_btn.click(run_generate,
                            [prompt, temperature, top_k, top_p, length, seed, model], output,
                            api_name="generate", concurrency_limit=4, show_progress="minimal")
        stop_btn.click(None, cancels=[gen])

        # Train: start / cancel, a timer polls the job while it runs.
        def start(up, picked, name, tok, size, mins, vocab_size):
            try:
                jobs.start(up or [], name=name or None, tokenizer=tok, preset=size, minutes=mins,
                           vocab_size=int(vocab_size or 2000), bundled=picked or None, max_steps=max_steps)
            except JobError as e:
                return f"**Cannot start:** {e}", gr.skip(), gr.Timer(active=False)
            return "", "Starting…", gr.Timer(active=True)

        start_btn.click(start, [files, corpus_pick, run_name, tokenizer, preset, minutes, vocab],
                        [train_error, train_status, timer], api_visibility="private", concurrency_limit=None)
        cancel_btn.click(lambda: "Cancelling…" if jobs.cancel() else "No training run in progress.", None,
                         train_status, api_visibility="private", queue=False)

        def poll():
            snap = jobs.snapshot()
            if snap is None:
                return gr.skip(), gr.skip(), progress_html(None), gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip()
            done = snap["state"] in ("done", "cancelled", "failed")
            error = f"**Training failed:** {snap['error']}" if snap["state"] == "failed" else ""
            status = f"**{snap['name']}** ({', '.join(snap['files'])}): {snap['message']}"
            return (error, status, progress_html(snap), curve_frame(snap), samples_text(snap),
                    gr.Timer(active=not done), gr.Dropdown(choices=catalog.names()) if done else gr.skip())

        timer.tick(poll, None, [train_error, train_status, progress, curve, samples, timer, model],
                   api_visibility="private", concurrency_limit=None, show_progress="hidden")

        # A page load: fresh model list, the current model's views, and a running job's progress.
        def load(m):
            current = catalog.names()
            m = m if m in current else catalog.default_name()
            return gr.Dropdown(choices=current, value=m), gr.Timer(active=jobs.busy())

        demo.load(load, model, [model, timer], api_visibility="private") \
            .then(on_text, [text, model, typist], kb_out, show_progress="hidden", api_visibility="private") \
            .then(show_card, model, [card, config], api_visibility="private") \
            .then(lambda m: model_sample(catalog, m), model, sample, api_visibility="private") \
            .then(poll, None, [train_error, train_status, progress, curve, samples, timer, model],
                  api_visibility="private")

        # Off the queue: a keystroke is a few milliseconds of work, and the queue's own round trips
        # cost more than that (each caller's session has its own lock; see chargen/typists.py)
        gr.api(api_suggest, api_name="suggest", queue=False)
        gr.api(api_models, api_name="models", concurrency_limit=None)
    demo.chargen = {"catalog": catalog, "jobs": jobs, "max_upload_mb": max_upload_mb, "pool": pool,
                    "suggest": suggest_now}
    return demo


def _press_fn(catalog: Catalog):
    def on_press(text, model, typist, evt: gr.EventData):
        return press(catalog, (evt._data or {}).get("key", ""), text, model, typist)
    return on_press


def serve(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True, **kwargs):
    """Launch ``demo`` with the app's CSS, upload limit and queue settings; returns launch()'s value."""
    demo.queue(default_concurrency_limit=1)
    # Gradio's queue looks for work every millisecond when idle (gradio 6.31, Queue.sleep_when_free):
    # 8% of a core with nothing to do, and a thousand wake-ups a second taking the GIL from the
    # threads answering keystrokes. The queue carries only generation and training here (the
    # keyboard's events and /suggest skip it), for which 10 ms more latency is nothing.
    if hasattr(demo._queue, "sleep_when_free"):
        demo._queue.sleep_when_free = QUEUE_IDLE_POLL_S
    launched = demo.launch(
        server_name=host, server_port=port, css=CSS, max_file_size=f"{demo.chargen['max_upload_mb']:g}mb",
        prevent_thread_lock=True, show_error=True, **kwargs)
    # The keyboard's plain-JSON lane beside Gradio's /suggest: the same call without Gradio's request
    # machinery (about 4 ms of server CPU per keystroke here, as much as the keystroke itself)
    launched[0].router.routes.insert(0, APIRoute(KEYBOARD_ROUTE, _json_suggest(demo.chargen["suggest"]),
                                                 methods=["POST"]))
    if block:
        demo.block_thread()
    return launched


def _json_suggest(suggest_now):
    async def handler(request: Request) -> Response:
        """POST {"text": ..., "model": "", "n": 3, "session": ""} -> the /suggest answer as JSON;
        a bad request is {"error": message} with status 400."""
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("text", ""), str):
                raise ValueError('send a JSON object: {"text": "...", "model": "", "n": 3, "session": ""}')
            answer = await keystroke_async(suggest_now, body.get("text", ""), str(body.get("model") or ""),
                                           body.get("n", 3), str(body.get("session") or ""))
            return Response(json.dumps(answer, ensure_ascii=False), media_type="application/json")
        except (ValueError, TypeError, CheckpointError, gr.Error) as e:
            message = e.message if isinstance(e, gr.Error) else str(e)
            return Response(json.dumps({"error": message}, ensure_ascii=False), status_code=400,
                            media_type="application/json")
    return handler


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="The chargen web app.")
    p.add_argument("--checkpoints", default=os.environ.get("CHARGEN_CHECKPOINTS", str(ROOT / "checkpoints")),
                   help="folder of checkpoint / run directories (env CHARGEN_CHECKPOINTS)")
    p.add_argument("--host", default=os.environ.get("CHARGEN_HOST", "127.0.0.1"), help="env CHARGEN_HOST")
    p.add_argument("--port", type=int, default=int(os.environ.get("CHARGEN_PORT", 7860)), help="env CHARGEN_PORT")
    p.add_argument("--max-upload-mb", type=float, default=float(os.environ.get("CHARGEN_MAX_UPLOAD_MB", 50)),
                   help="upload size limit for training corpora (env CHARGEN_MAX_UPLOAD_MB)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)      # gradio's own local start-up probes
    use_keystroke_threads()        # batch-1 keystroke steps gain nothing from more; sessions run side by side
    app = build_demo(args.checkpoints, max_upload_mb=args.max_upload_mb)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
