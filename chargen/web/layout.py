"""The page: its components, tab by tab, and the wiring from each event to its handler. Usage:

    demo = build_demo("checkpoints")            # a gr.Blocks; serve it with chargen.web.server.serve
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from ..catalog import Catalog
from ..checkpoint import CheckpointError
from ..jobs import JobError, JobManager
from ..resources import bundled, checkout
from ..sample import SampleConfig
from ..sizing import PRESETS, preset_label
from ..tokenizer import CHAR, DEFAULT_SUBWORD_VOCAB, KINDS
from ..typists import keystroke
from ..typos import LEVELS
from .handlers import NO_MODEL, KeyboardApi, forget_profile, keep_profile, model_card, model_sample, stream_generate
from .inside_tab import inside_tab, wire_inside
from .inside_view import InsideViews
from .render import curve_frame, progress_html, render_panel, samples_text

TITLE = ("## chargen: a keyboard that predicts your next characters\n"
         "Type in the Keyboard tab and a small character-level LSTM suggests the next characters and words "
         "(and learns from your typing); generate text, train a model on your own text, or look inside one.")
# the keystroke path, then gesture typing on its on-screen keys (both run as the panel's js_on_load)
KEYBOARD_JS = "\n".join(Path(__file__).with_name(f).read_text(encoding="utf-8") for f in ("keyboard.js", "gesture.js"))
PRIVATE = {"api_visibility": "private"}  # the UI's own events are not part of the API


def build_demo(checkpoints_dir=None, corpora_dir=None, max_upload_mb: float | None = None,
               max_steps: int = 0, reports_dirs=None) -> gr.Blocks:
    """The app for one checkpoints root (default: CHARGEN_CHECKPOINTS or ./checkpoints).
    ``max_steps`` caps every training run started from the UI (tests, demos; 0: the budget alone).
    ``reports_dirs``: folders whose subfolders hold ``chargen compare`` reports for the Inside tab
    (default: CHARGEN_REPORTS, os.pathsep-separated, or ./runs and ./docs)."""
    root = Path(checkpoints_dir or os.environ.get("CHARGEN_CHECKPOINTS") or bundled("checkpoints"))
    corpora = Path(corpora_dir or os.environ.get("CHARGEN_CORPORA") or bundled("corpora"))
    max_upload_mb = float(max_upload_mb or os.environ.get("CHARGEN_MAX_UPLOAD_MB") or 50)
    catalog = Catalog(root)
    jobs = JobManager(root, max_upload_bytes=int(max_upload_mb * 2**20), corpora_dir=corpora)
    api = KeyboardApi(catalog)
    roots = reports_dirs or (os.environ["CHARGEN_REPORTS"].split(os.pathsep) if os.environ.get("CHARGEN_REPORTS")
                             else [(checkout() or Path.cwd()) / "runs", (checkout() or Path.cwd()) / "docs"])
    inside = InsideViews(catalog, roots)
    names, default = catalog.names(), catalog.default_name()
    with gr.Blocks(title="chargen") as demo:
        ui = SimpleNamespace(browser=gr.BrowserState("", storage_key="chargen-browser"))
        gr.Markdown(TITLE, elem_id="app_title")
        with gr.Row(equal_height=True):
            ui.model = gr.Dropdown(names, value=default, label="Model", allow_custom_value=True, scale=4,
                                   elem_id="model_pick", info=None if names else NO_MODEL)
            ui.refresh = gr.Button("↻ Refresh list", scale=1, elem_id="refresh_models")
        with gr.Tabs():
            _keyboard_tab(ui, default)
            _generate_tab(ui)
            _train_tab(ui, list(jobs.bundled_corpora()), max_upload_mb)
            _model_tab(ui)
            inside_tab(ui, inside.reports())
        _wire_keyboard(ui, catalog, api)
        _wire_generate(ui, catalog)
        _wire_train(ui, catalog, jobs, max_steps)
        _wire_page_load(demo, ui, catalog, jobs)
        wire_inside(ui, inside)

        def models() -> list[str]:
            """The names of the valid checkpoints (for the `model` argument)."""
            return catalog.names()
        # Off the queue for /gradio_api/run/suggest: a keystroke is a few milliseconds of work, and the
        # queue's own round trips cost more than that (each caller's session has its own lock; see
        # chargen/typists.py). /gradio_api/call/suggest (gradio_client) always goes through the queue:
        # there, no concurrency limit, else the calls run one at a time with the queue's idle poll
        # between them (the keystrokes are serialised on the keystroke worker anyway)
        gr.api(api.gradio_endpoint(), api_name="suggest", queue=False, concurrency_limit=None)
        gr.api(models, api_name="models", concurrency_limit=None)
    demo.chargen = {"catalog": catalog, "jobs": jobs, "max_upload_mb": max_upload_mb, "api": api}
    return demo


def _keyboard_tab(ui, default) -> None:
    with gr.Tab("Keyboard", id="keyboard"):
        ui.text = gr.Textbox(label="Type here", lines=5, max_lines=5, elem_id="kb_text", placeholder="Start typing…")
        # the keystroke path is the page's own (keyboard.js): each edit -> the JSON lane -> the panel
        ui.panel = gr.HTML(render_panel("", message="" if default else NO_MODEL), elem_id="kb_panel",
                           js_on_load=KEYBOARD_JS)
        ui.sid = gr.Textbox("", visible=False, elem_id="kb_sid")      # this tab's keyboard session id
        gr.HTML('<a id="ondevice_link" href="/ondevice/" target="_blank">The same keyboard computed in your browser '
                '(ONNX, no server per keystroke) ↗</a>')
        with gr.Row(equal_height=True):
            ui.learn = gr.Checkbox(True, label="Learn from my typing", elem_id="kb_learn", scale=2,
                                   info="this tab only; nothing leaves it unless you keep it")
            ui.keep = gr.Button("Keep what I taught it", elem_id="kb_keep", scale=1)
            ui.forget = gr.Button("Forget", variant="stop", elem_id="kb_forget", scale=1)
            ui.autocorrect = gr.Radio(list(LEVELS), value="modest", label="Autocorrect", elem_id="kb_autocorrect",
                                      scale=2, info="on the on-screen keyboard's space and punctuation; "
                                      "⌫ right after undoes it")
        ui.kb_note = gr.Markdown("", elem_id="kb_note")


def _generate_tab(ui) -> None:
    d = SampleConfig()
    with gr.Tab("Generate", id="generate"):
        ui.prompt = gr.Textbox(label="Prompt", lines=3, elem_id="gen_prompt")
        with gr.Row():
            ui.temperature = gr.Slider(0.05, 2.0, value=d.temperature, step=0.05, label="Temperature")
            ui.top_k = gr.Slider(0, 100, value=d.top_k, step=1, label="Top-k", info="0: off")
            ui.top_p = gr.Slider(0.05, 1.0, value=d.top_p, step=0.01, label="Top-p", info="1: off")
            ui.length = gr.Slider(1, 10000, value=d.length, step=1, label="Length", info="tokens")
            ui.seed = gr.Number(d.seed, label="Seed", precision=0, info="empty: random")
        with gr.Row():
            ui.gen_btn = gr.Button("Generate", variant="primary", elem_id="gen_btn")
            ui.stop_btn = gr.Button("Stop", variant="stop", elem_id="gen_stop")
        ui.output = gr.Textbox(label="Output", lines=14, elem_id="gen_out", autoscroll=True)


def _train_tab(ui, bundled: list, max_upload_mb: float) -> None:
    with gr.Tab("Train", id="train"):
        with gr.Row():
            ui.files = gr.File(label=f"Corpus: .txt files (up to {max_upload_mb:g} MB)", file_count="multiple",
                               file_types=[".txt"], type="filepath", elem_id="train_files")
            with gr.Column():
                ui.corpus_pick = gr.Dropdown(bundled, value=None, label="…or a bundled corpus",
                                             visible=bool(bundled), elem_id="train_bundled")
                ui.run_name = gr.Textbox(label="Model name", placeholder="from the file name", elem_id="train_name")
                ui.start_from = gr.Dropdown([("scratch", "")], value="", label="Start from", elem_id="train_from",
                                            info="a listed model to fine-tune: its size and tokenizer, its vocabulary grown")
                ui.tokenizer = gr.Radio(list(KINDS), value=CHAR, label="Tokenizer",
                                        info="jamo: Korean syllables as the jamo a keyboard types")
        with gr.Row():
            ui.preset = gr.Dropdown([(preset_label(k), k) for k in PRESETS], value="auto", label="Size")
            ui.minutes = gr.Slider(0.5, 60, value=2, step=0.5, label="Time budget (minutes)")
            ui.vocab = gr.Number(DEFAULT_SUBWORD_VOCAB, label="Subword vocabulary (bpe / unigram)", precision=0)
        with gr.Row():
            ui.start_btn = gr.Button("Start training", variant="primary", elem_id="train_start")
            ui.cancel_btn = gr.Button("Cancel", variant="stop", elem_id="train_cancel")
        ui.train_error = gr.Markdown("", elem_id="train_error")
        ui.train_status = gr.Markdown("No training run yet.", elem_id="train_status")
        ui.progress = gr.HTML(progress_html(None), elem_id="train_progress")
        ui.curve = gr.LinePlot(curve_frame(None), x="step", y="bpc", color="series", label="bits per character",
                               elem_id="train_curve")
        ui.samples = gr.Textbox(label="Samples while training (newest first)", lines=8, elem_id="train_samples")
        ui.timer = gr.Timer(0.5, active=False)


def _model_tab(ui) -> None:
    with gr.Tab("Model", id="model"):
        ui.card = gr.Markdown(elem_id="model_card")
        ui.sample = gr.Textbox(label=f"A sample (temperature {SampleConfig.temperature})", lines=8,
                               elem_id="model_sample")
        ui.resample = gr.Button("Another sample", elem_id="model_resample")
        ui.config = gr.JSON(label="config.json", elem_id="model_config")


def _wire_keyboard(ui, catalog: Catalog, api: KeyboardApi) -> None:
    """Keystrokes and clicks on the panel never reach Gradio: the page's script (keyboard.js) sends
    them to the JSON lane with the tab's session id. The events here tell that script what changed
    (model, Learn, Autocorrect) and answer Keep and Forget on the same session."""
    ui.show_card = lambda m: model_card(catalog, m)  # noqa: E731
    ui.kb_start = [ui.model, ui.browser, ui.sid, ui.learn, ui.autocorrect]
    ui.kb_start_js = f"(m, b, s, l, a) => {{ window.chargenKb.start(m, b, s, l, a, {json.dumps(NO_MODEL)}); }}"
    ui.learn.change(None, ui.learn, None, js="(l) => { window.chargenKb.set({learn: l}); }", **PRIVATE)
    ui.autocorrect.change(None, ui.autocorrect, None, js="(a) => { window.chargenKb.set({autocorrect: a}); }",
                          **PRIVATE)
    refresh = "() => { window.chargenKb.refresh(); }"           # the status line after Keep / Forget

    def tab(sid):
        return api.pool.checkout(sid)[1] if sid else None
    ui.keep.click(lambda m, sid, b: keystroke(keep_profile, catalog, m, tab(sid), b), [ui.model, ui.sid, ui.browser],
                  ui.kb_note, queue=False, **PRIVATE).then(None, js=refresh, **PRIVATE)
    ui.forget.click(lambda m, sid, b: keystroke(forget_profile, catalog, m, tab(sid), b), [ui.model, ui.sid, ui.browser],
                    ui.kb_note, queue=False, **PRIVATE).then(None, js=refresh, **PRIVATE)
    ui.model.change(None, ui.model, None, js="(m) => { window.chargenKb.set({model: m || ''}); }", **PRIVATE)
    ui.model.change(ui.show_card, ui.model, [ui.card, ui.config], **PRIVATE) \
        .then(lambda m: model_sample(catalog, m), ui.model, ui.sample, **PRIVATE)
    ui.refresh.click(lambda m: gr.Dropdown(choices=catalog.names()), ui.model, ui.model, **PRIVATE)
    ui.resample.click(lambda m: model_sample(catalog, m, None), ui.model, ui.sample, **PRIVATE)


def _wire_generate(ui, catalog: Catalog) -> None:
    """Streamed and stoppable; also the API's /generate."""
    def run_generate(prompt, temperature, top_k, top_p, length, seed, model):
        yield from stream_generate(catalog, prompt, temperature, top_k, top_p, length, seed, model)
    gen = ui.gen_btn.click(run_generate, [ui.prompt, ui.temperature, ui.top_k, ui.top_p, ui.length, ui.seed, ui.model],
                           ui.output, api_name="generate", concurrency_limit=4, show_progress="minimal")
    ui.stop_btn.click(None, cancels=[gen])


def _wire_train(ui, catalog: Catalog, jobs: JobManager, max_steps: int) -> None:
    """Start / cancel; a timer polls the job while it runs."""
    def start_from_choices():
        return gr.Dropdown(choices=[("scratch", "")] + [(n, n) for n in catalog.names()])

    ui.start_from_choices = start_from_choices

    def start(up, picked, name, tok, size, mins, vocab_size, parent):
        try:                  # only a listed model's name is resolved: never a path from the browser
            jobs.start(up or [], name=name or None, tokenizer=tok, preset=size, minutes=mins,
                       vocab_size=int(vocab_size or DEFAULT_SUBWORD_VOCAB), bundled=picked or None, max_steps=max_steps,
                       init_from=str(catalog.resolve(parent)) if parent else None)
        except (JobError, CheckpointError) as e:
            return f"**Cannot start:** {e}", gr.skip(), gr.Timer(active=False)
        return "", "Starting…", gr.Timer(active=True)

    ui.start_btn.click(start, [ui.files, ui.corpus_pick, ui.run_name, ui.tokenizer, ui.preset, ui.minutes, ui.vocab,
                               ui.start_from],
                       [ui.train_error, ui.train_status, ui.timer], concurrency_limit=None, **PRIVATE)
    ui.cancel_btn.click(lambda: "Cancelling…" if jobs.cancel() else "No training run in progress.", None,
                        ui.train_status, queue=False, **PRIVATE)

    def poll():
        snap = jobs.snapshot()
        if snap is None:
            return (gr.skip(), gr.skip(), progress_html(None), gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip(),
                    gr.skip())
        done = snap["state"] in ("done", "cancelled", "failed")
        error = f"**Training failed:** {snap['error']}" if snap["state"] == "failed" else ""
        status = f"**{snap['name']}** ({', '.join(snap['files'])}): {snap['message']}"
        return (error, status, progress_html(snap), curve_frame(snap), samples_text(snap),
                gr.Timer(active=not done), gr.Dropdown(choices=catalog.names()) if done else gr.skip(),
                start_from_choices() if done else gr.skip())
    ui.poll = poll
    ui.poll_out = [ui.train_error, ui.train_status, ui.progress, ui.curve, ui.samples, ui.timer, ui.model, ui.start_from]
    ui.timer.tick(poll, None, ui.poll_out, concurrency_limit=None, show_progress="hidden", **PRIVATE)


def _wire_page_load(demo, ui, catalog: Catalog, jobs: JobManager) -> None:
    """A page load: fresh model list, the current model's views, and a running job's progress."""
    def load(m, browser):
        current = catalog.names()
        m = m if m in current else catalog.default_name()
        # this browser's id (kept in its local storage): its kept profiles are filed under it
        # and this tab's keyboard session id (the JSON lane's session; Keep and Forget find it by it)
        return (gr.Dropdown(choices=current, value=m), gr.Timer(active=jobs.busy()), browser or secrets.token_urlsafe(16),
                ui.start_from_choices(), secrets.token_urlsafe(16))
    demo.load(load, [ui.model, ui.browser], [ui.model, ui.timer, ui.browser, ui.start_from, ui.sid], **PRIVATE) \
        .then(None, ui.kb_start, None, js=ui.kb_start_js, **PRIVATE) \
        .then(ui.show_card, ui.model, [ui.card, ui.config], **PRIVATE) \
        .then(lambda m: model_sample(catalog, m), ui.model, ui.sample, **PRIVATE) \
        .then(ui.poll, None, ui.poll_out, **PRIVATE)
