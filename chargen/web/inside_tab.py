"""The Inside tab: its components and their wiring (the events' work is in ``inside_view``). It
opens on the picked model with a passage already analysed: the first time the tab is shown, and
again when the model changes after that; picking a unit or a character reuses the analysis.

    inside_tab(ui); wire_inside(ui, InsideViews(catalog, roots))    # inside build_demo's Blocks
"""
from __future__ import annotations

import gradio as gr

from .inside_view import ENGLISH_TEXT, InsideViews

PRIVATE = {"api_visibility": "private"}
QUEUE = {"concurrency_limit": 2, "concurrency_id": "inside"}     # a model pass or a backward: on the queue
CLICK_JS = """element.addEventListener('click', (e) => {
  const c = e.target.closest('[data-i]');
  if (c) trigger('click', {i: Number(c.dataset.i)});
});"""
INTRO = ("What the network computes while it reads: every unit of every layer at every character, "
         "computed step by step from the layers' own weights (exact to 1e-5). The units are ranked by how "
         "well they follow simple text features (inside quotes or brackets, position in the line, start of "
         "a word, vowels; jamo position for Korean), best first with the correlation r.")


def inside_tab(ui, report_names: list) -> None:
    with gr.Tab("Inside", id="inside") as ui.in_tab:
        gr.Markdown(INTRO)
        ui.in_seen = gr.State(None)
        ui.in_text = gr.Textbox(ENGLISH_TEXT, label="Text to look inside", lines=4, max_lines=12, elem_id="inside_input")
        with gr.Row():
            ui.in_go = gr.Button("Look inside", variant="primary", scale=1, elem_id="inside_go")
            ui.in_cell = gr.Dropdown([], label="Units that track a feature (best first)", scale=4,
                                     elem_id="inside_cell")
        with gr.Row():
            ui.in_signal = gr.Radio(["h"], value="h", label="Signal", info="h: hidden state, c: LSTM cell state",
                                    elem_id="inside_signal")
            ui.in_layer = gr.Dropdown([1], value=1, label="Layer", elem_id="inside_layer")
            ui.in_unit = gr.Number(0, label="Unit", precision=0, minimum=0, elem_id="inside_unit")
        ui.in_message = gr.Markdown("", elem_id="inside_message")
        ui.in_view = gr.HTML("", elem_id="inside_view", js_on_load=CLICK_JS)
        with gr.Row():
            with gr.Column(scale=3):
                ui.in_pos = gr.Number(0, label="Connectivity: the prediction after character #", precision=0,
                                      minimum=0, elem_id="inside_pos")
                ui.in_conn = gr.HTML("", elem_id="inside_conn", js_on_load=CLICK_JS)
            with gr.Column(scale=2):
                gr.Markdown("**Units ranked by the feature they track**")
                ui.in_ranking = gr.HTML("", elem_id="inside_ranking")
                gr.Markdown("**Gate saturation** (share of steps × units)")
                ui.in_sat = gr.HTML("", elem_id="inside_saturation")
        with gr.Accordion("A finished comparison: python -m chargen compare", open=False):
            ui.in_report_pick = gr.Dropdown(report_names, value=report_names[0] if report_names else None,
                                            label="Comparison", elem_id="inside_report_pick",
                                            info=None if report_names else "none yet: see the README, Looking inside")
            ui.in_report = gr.HTML("", elem_id="inside_report")


def wire_inside(ui, views: InsideViews) -> None:
    outputs = [ui.in_seen, ui.in_text, ui.in_cell, ui.in_signal, ui.in_layer, ui.in_unit, ui.in_view, ui.in_ranking,
               ui.in_sat, ui.in_pos, ui.in_conn, ui.in_message]
    unit = [ui.model, ui.in_text, ui.in_signal, ui.in_layer, ui.in_unit]
    ui.in_tab.select(views.open, [ui.model, ui.in_text, ui.in_seen], outputs, **QUEUE, **PRIVATE) \
        .then(views.report, ui.in_report_pick, ui.in_report, **QUEUE, **PRIVATE)
    ui.in_go.click(lambda m, t: views.open(m, t, None), [ui.model, ui.in_text], outputs, **QUEUE, **PRIVATE)
    ui.in_text.submit(lambda m, t: views.open(m, t, None), [ui.model, ui.in_text], outputs, **QUEUE, **PRIVATE)
    # a new model re-analyses only once the tab has been opened (None: never shown)
    ui.model.change(lambda m, t, seen: views.open(m, t, None) if seen else (gr.skip(),) * len(outputs),
                    [ui.model, ui.in_text, ui.in_seen], outputs, **QUEUE, **PRIVATE)
    ui.in_cell.input(views.pick, [ui.model, ui.in_text, ui.in_cell], [ui.in_signal, ui.in_layer, ui.in_unit, ui.in_view],
                     **QUEUE, **PRIVATE)
    for control in (ui.in_signal, ui.in_layer, ui.in_unit):
        control.input(views.show, unit, ui.in_view, trigger_mode="always_last", **QUEUE, **PRIVATE)
    ui.in_pos.input(views.connect, [ui.model, ui.in_text, ui.in_pos], ui.in_conn, trigger_mode="always_last",
                    **QUEUE, **PRIVATE)

    def clicked(model, text, evt: gr.EventData):
        position = int((evt._data or {}).get("i", 0))
        return position, views.connect(model, text, position)
    for html in (ui.in_view, ui.in_conn):
        html.click(clicked, [ui.model, ui.in_text], [ui.in_pos, ui.in_conn], **QUEUE, **PRIVATE)
    ui.in_report_pick.focus(lambda: gr.Dropdown(choices=views.reports()), None, ui.in_report_pick, **PRIVATE)
    ui.in_report_pick.input(views.report, ui.in_report_pick, ui.in_report, **QUEUE, **PRIVATE)
