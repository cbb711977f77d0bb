"""What the Inside tab's events do: analyse a text under the picked model (cached: switching the unit
or the position never reruns the model), colour it by one unit, explain one prediction
(connectivity), and show a finished ``chargen compare`` report. Every computation is a call into
``chargen.inside``; this module turns the results into the tab's component values. Off the
keyboard's path: these events run on Gradio's queue, the keyboard's do not.

    views = InsideViews(catalog, report_roots=["runs", "docs"])
    views.open("default", text, None)      # every output of the tab, for a fresh analysis
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from ..catalog import Catalog
from ..checkpoint import CheckpointError
from ..inside import analyse, best_cell, cell_label, connectivity, gate_label, text_influence
from ..inside_html import activation_html, curve_svg, gradient_html, ranking_html, saturation_html
from ..report import data_uri, find_reports, load_report, report_body

ENGLISH_TEXT = ('"Indeed," replied Elinor, "I believe that you will find him,\n'
                "on farther acquaintance, all that you have heard him to be,\n"
                "and as you will be such very near neighbours (for I understand\n"
                "the parsonage is almost close to the mansion-house,)\n"
                'it is particularly important that he SHOULD be all this."\n\n'
                "Edward made no answer; but when she had turned\n"
                "away her head, gave her a look so serious, so earnest,\n"
                "so uncheerful, as seemed to say, that he might hereafter wish")   # Sense and Sensibility, ch. 40 (the default model's validation text)
KOREAN_TEXT = ('영화 정말 재밌어요. 배우들 연기가 최고였어요! (다시 보고 싶네요)\n'
               '음악도 좋았고 "결말"이 정말 감동적이었어요.\n다음 영화도 기대돼요.')
CACHED = 8                               # analyses kept (per server): the texts and models last looked at
DROPDOWN_UNITS = 20                      # ranked units offered in the picker


def default_text(korean: bool) -> str:
    return KOREAN_TEXT if korean else ENGLISH_TEXT


def _key(label) -> str:
    return ":".join(map(str, label))


def _label(key: str) -> tuple:
    signal, layer, unit = key.split(":")
    return signal, int(layer), int(unit)


class InsideViews:
    def __init__(self, catalog: Catalog, report_roots=()):
        self.catalog, self.report_roots = catalog, [Path(r) for r in report_roots]
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def analysis(self, model: str, text: str):
        """(predictor, Analysis) for ``text`` under ``model``, from the cache when it is there."""
        predictor = self.catalog.predictor(model)
        key = (id(predictor), text)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return predictor, self._cache[key]
        found = analyse(predictor.model, predictor.tokenizer, text, rank_top=DROPDOWN_UNITS)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return predictor, found

    def open(self, model, text, seen):
        """The whole tab for (model, text): a fresh analysis unless ``seen`` is that pair already.
        A default text follows the model's language. Outputs: seen, text, unit picker, signal, layer,
        unit, view, ranking, saturation, position, connectivity, message."""
        if not model:
            return (None, gr.skip(), *[gr.skip()] * 9, "No model yet — train one in the Train tab.")
        try:
            korean = self.catalog.predictor(model).korean
            if not text or text in (ENGLISH_TEXT, KOREAN_TEXT):
                text = default_text(korean)
            if seen == [model, text]:
                return (*[gr.skip()] * 11, gr.skip())
            predictor, a = self.analysis(model, text)
        except (CheckpointError, ValueError) as e:
            return (None, gr.skip(), *[gr.skip()] * 9, f"**Cannot look inside:** {e}")
        first = best_cell(a)
        choices = [(f"{cell_label(s.label)} — {s.describe()}", _key(s.label)) for s in a.ranking]
        position = len(a.shown) - 1
        return ([model, text], text,
                gr.Dropdown(choices=choices, value=_key(first) if choices else None),
                gr.Radio(choices=list(a.trace.signals), value=first[0]),
                gr.Dropdown(choices=list(range(1, a.layers + 1)), value=first[1] + 1),
                gr.Number(value=first[2], maximum=a.units - 1),
                self._view(a, first), ranking_html(a.ranking, cell_label),
                saturation_html(a.saturation, gate_label), position,
                self._connectivity(predictor, a, position), "")

    def _view(self, a, label) -> str:
        return (f'<div class="inside-cap">{cell_label(label)}: orange +, blue −; under each character the '
                f"model's five likeliest next {'characters' if len(a.shown) == len(a.trace.ids) else 'tokens'}, "
                f"green by probability. Click a character to explain the prediction after it.</div>"
                + activation_html(a.shown, a.values(label), a.top_text, a.top_probs, a.last_of_token(), a.owner))

    def show(self, model, text, signal, layer, unit) -> str:
        """The text coloured by the unit picked by hand (layer from 1)."""
        try:
            _, a = self.analysis(model, text)
            label = (signal, int(layer) - 1, int(unit))
            if signal not in a.trace.signals or not 0 <= label[1] < a.layers or not 0 <= label[2] < a.units:
                return f'<p class="inote">No such unit: layers 1–{a.layers}, units 0–{a.units - 1}.</p>'
            return self._view(a, label)
        except (CheckpointError, ValueError, TypeError) as e:
            return f'<p class="inote">{e}</p>'

    def pick(self, model, text, key):
        """A ranked unit picked: (signal, layer, unit, view)."""
        if not key:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        signal, layer, unit = _label(key)
        return signal, layer + 1, unit, self.show(model, text, signal, layer + 1, unit)

    def _connectivity(self, predictor, a, position: int) -> str:
        grads = connectivity(predictor.model, a, position)
        influence = text_influence(predictor.model, a) if len(a.trace.ids) >= 8 else None
        shown = a.shown[position].replace("\n", "⏎").replace(" ", "␣")
        curve = "" if influence is None else (
            '<div class="inside-cap">Influence against distance, averaged over places in this text '
            "(relative to distance 1, log scale)</div>"
            + curve_svg({"this text": (influence["distance"], influence["relative"])}))
        return (f'<div class="inside-cap">The prediction after character {position} (“{shown}”): darker = larger '
                f"gradient of its log-probability with respect to that input (log scale, three decades).</div>"
                + gradient_html(a.shown, grads, position) + curve)

    def connect(self, model, text, position) -> str:
        try:
            predictor, a = self.analysis(model, text)
            return self._connectivity(predictor, a, int(position))
        except (CheckpointError, ValueError, TypeError) as e:
            return f'<p class="inote">{e}</p>'

    def reports(self) -> list[str]:
        return [name for name, _ in find_reports(self.report_roots)]

    def report(self, name) -> str:
        """A finished comparison, its plots inlined."""
        folder = dict(find_reports(self.report_roots)).get(name)
        if folder is None:
            return '<p class="inote">No comparison picked (make one: <code>python -m chargen compare</code>).</p>'
        return report_body(load_report(folder), image_src=lambda png: data_uri(folder / png))
