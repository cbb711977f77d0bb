"""The web app's HTML: the Keyboard panel (suggestion bar, next-character chips with their probabilities, an
on-screen keyboard shaded by probability), the training progress, and the page's CSS. Pure string
building from plain values: no model, no Gradio. Usage:

    render_panel("Mr. Knightl", ["Knightley"], [("e", 0.97)], korean=False, mass={"e": 0.97})
"""
from __future__ import annotations

import html
from urllib.parse import quote

import pandas as pd

from ..keys import KOREAN_ROWS, LATIN_ROWS, show_char
from ..words import current_word

SPECIAL_KEYS = [("bksp", "⌫"), ("space", "space"), ("enter", "⏎")]


def _button(cls: str, key: str, label: str, title: str = "", style: str = "") -> str:
    return (f'<button class="{cls}" data-key="{html.escape(key)}" title="{html.escape(title)}"'
            f'{f" style={chr(34)}{style}{chr(34)}" if style else ""}>{label}</button>')


def render_suggestions(text: str, words: list, message: str = "") -> str:
    kind = "next words" if not current_word(text) else "completions"
    typed = current_word(text)
    inner = html.escape(message) if message else "".join(       # a correction (not the typed word's completion) marked
        _button("sugg" if w.startswith(typed) else "sugg fix", "w:" + quote(w), html.escape(w),
                "" if w.startswith(typed) else f"correction of {typed}") for w in words) or '<span class="none">—</span>'
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


def render_panel(text: str, words=(), chars=(), korean: bool = False, mass=None, message: str = "",
                 status: str = "") -> str:
    """The whole Keyboard panel as one HTML block, as the page first shows it (the page's script,
    chargen/web/keyboard.js, draws the same markup for every keystroke from the JSON lane's answer).
    The next characters' probabilities are on the chips only. ``status``: the one line about what the
    keyboard has learned from its user."""
    return ('<div class="kb-panel">' + render_suggestions(text, list(words), message)
            + (f'<div class="adapt-status" id="kb_status">{html.escape(status)}</div>' if status else "")
            + render_chips(list(chars)) + render_keyboard(korean, mass or {}) + "</div>")


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


CSS = """
.kb-panel { display: flex; flex-direction: column; gap: 12px; contain: content; }
.sugg-bar { display: flex; gap: 8px; align-items: center; min-height: 44px; }
.sugg-bar .kind { font-size: 0.8em; opacity: 0.6; width: 6.5em; }
.sugg.fix { font-weight: 700; text-decoration: underline dotted; }
.sugg { flex: 1; padding: 8px; border-radius: 8px; font-size: 1.05em; cursor: pointer;
  background: var(--button-secondary-background-fill); border: 1px solid var(--border-color-primary); }
.adapt-status { font-size: 0.85em; opacity: 0.75; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { padding: 4px 10px; border-radius: 999px; cursor: pointer; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); font-family: var(--font-mono); }
.chip small { margin-left: 4px; opacity: 0.65; }
.keyboard { display: flex; flex-direction: column; gap: 5px; align-items: center; touch-action: none;
  user-select: none; -webkit-user-select: none; }
.krow { display: flex; gap: 5px; }
.key { min-width: 2.4em; height: 2.6em; border-radius: 6px; cursor: pointer; border: 1px solid var(--border-color-primary); }
.key.wide { min-width: 5em; } .key.space { min-width: 16em; }
.progress { height: 14px; border-radius: 7px; background: var(--background-fill-secondary); overflow: hidden; }
.progress > div { height: 100%; background: #f97316; transition: width 0.3s; }
#train_error { color: var(--error-text-color, #b91c1c); }
"""
