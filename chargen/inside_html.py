"""HTML for looking inside a model, from plain values (no model, no Gradio): Karpathy-style text
coloured by one unit's activation with the top-k next-token guesses under each character, text
coloured by gradient size (connectivity), small tables (the ranked cells, gate saturation), an
inline SVG line chart with a log axis, and a standalone page. The web app's Inside tab, the CLI's
``inside --html`` and the ``compare`` report all draw with these. Usage:

    activation_html(shown, values, top_text, top_probs, last_of_token)
    page("Inside", activation_html(...) + saturation_html(sat))   # a whole .html file
"""
from __future__ import annotations

import html
import math

import numpy as np

from .keys import show_char

POSITIVE, NEGATIVE, GUESS, GRADIENT = (234, 88, 12), (37, 99, 235), (22, 163, 74), (147, 51, 234)
LOG_DECADES = 3                      # gradient shading spans this many powers of ten below the largest
SERIES_COLOURS = ["#ea580c", "#2563eb", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563"]


def _rgba(rgb, alpha: float) -> str:
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{min(1.0, max(0.0, alpha)):.2f})"


def activation_rgb(value: float) -> tuple:
    """(colour, strength): orange for positive, blue for negative, stronger as |tanh(value)| nears 1
    (a cell state is unbounded: tanh keeps its scale the same as a hidden state's)."""
    v = math.tanh(value)
    return (POSITIVE if v >= 0 else NEGATIVE), abs(v)


def activation_colour(value: float) -> str:
    return _rgba(*activation_rgb(value))


def _char(c: str, space: str = "␣") -> str:
    """A character as shown: visible line breaks (and spaces, in the guesses), compatibility jamo."""
    return html.escape(space if c == " " else show_char(c) if c in "\n\t" or not c.isprintable() or
                       0x1100 <= ord(c) <= 0x11FF else c)


def _line_break(c: str) -> str:
    return '<span class="ibr"></span>' if c == "\n" else ""


def activation_html(shown: str, values, top_text=None, top_probs=None, last_of_token=None, owner=None) -> str:
    """Each character coloured by ``values`` (N,); under the last character of each token (all of
    them for a char model) that token's next-token guesses, coloured by probability. ``owner`` (N,)
    maps characters to tokens (the rows of ``top_text`` / ``top_probs``)."""
    owner = np.arange(len(shown)) if owner is None else owner
    parts = ['<div class="inside-text">']
    for i, c in enumerate(shown):
        guesses = ""
        if top_text is not None and (last_of_token is None or last_of_token[i]):
            t = owner[i]
            guesses = "".join(f'<span class="g" style="background:{_rgba(GUESS, p ** 0.5)}" '
                              f'title="{100 * p:.1f}%">{_char(g[:1]) + (html.escape(g[1:3]) if len(g) > 1 else "")}'
                              f'</span>' for g, p in zip(top_text[t], top_probs[t]))
        parts.append(f'<span class="col" data-i="{i}"><span class="c" style="background:{activation_colour(values[i])}" '
                     f'title="{html.escape(repr(c))}: {values[i]:+.3f}">{_char(c, " ")}</span>{guesses}</span>'
                     + _line_break(c))
    return "".join(parts) + "</div>"


def gradient_html(shown: str, grads, position: int) -> str:
    """The text shaded by gradient size (log scale over LOG_DECADES decades below the largest), the
    character whose next prediction is explained outlined, everything after it faded."""
    g = np.asarray(grads, dtype=float)
    top = np.nanmax(g) if np.isfinite(g).any() and np.nanmax(g) > 0 else 1.0
    parts = ['<div class="inside-text grads">']
    for i, c in enumerate(shown):
        if np.isnan(g[i]):
            style, title = "opacity:0.35", "after the prediction"
        else:
            level = 1 + math.log10(max(g[i] / top, 10.0 ** -LOG_DECADES)) / LOG_DECADES
            style, title = f"background:{_rgba(GRADIENT, level)}", f"{g[i]:.2e}"
        mark = " here" if i == position else ""
        parts.append(f'<span class="col" data-i="{i}"><span class="c{mark}" style="{style}" title="{title}">'
                     f'{_char(c, " ")}</span></span>' + _line_break(c))
    return "".join(parts) + "</div>"


def table_html(header: list, rows: list, cls: str = "itable") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def saturation_html(sat: dict, gate_label=str) -> str:
    """{layer: {gate: (low, high)}} as a table: per layer and gate, % of steps below 0.1 / above 0.9."""
    if not sat:
        return '<p class="inote">A vanilla RNN has no gates: nothing to saturate.</p>'
    rows = [[f"layer {layer + 1}", gate_label(g), f"{100 * lo:.1f}%", f"{100 * hi:.1f}%", f"{100 * (1 - lo - hi):.1f}%"]
            for layer, gates in sat.items() for g, (lo, hi) in gates.items()]
    return table_html(["layer", "gate", "shut (< 0.1)", "open (> 0.9)", "in between"], rows)


def ranking_html(scores, label=str) -> str:
    rows = [[i + 1, label(s.label), s.describe(), s.n] for i, s in enumerate(scores)]
    return table_html(["#", "unit", "tracks", "characters"], rows) if rows else \
        '<p class="inote">The text is too short or too uniform to rank units by feature.</p>'


def curve_svg(series: dict, x_label: str = "distance", y_label: str = "influence (relative)", log_y: bool = True,
              width: int = 520, height: int = 220) -> str:
    """Line chart of {name: (xs, ys)} as inline SVG; ``log_y``: a log10 axis (values <= 0 dropped)."""
    pad_l, pad_b, pad_t, pad_r = 52, 34, 10, 110
    pts = {n: [(float(x), float(y)) for x, y in zip(xs, ys) if np.isfinite(y) and (y > 0 or not log_y)]
           for n, (xs, ys) in series.items()}
    all_pts = [p for v in pts.values() for p in v]
    if not all_pts:
        return '<p class="inote">Nothing to draw.</p>'
    fy = (lambda y: math.log10(y)) if log_y else (lambda y: y)   # noqa: E731
    x0, x1 = min(p[0] for p in all_pts), max(p[0] for p in all_pts)
    y0, y1 = min(fy(p[1]) for p in all_pts), max(fy(p[1]) for p in all_pts)
    y0, y1 = (math.floor(y0), math.ceil(y1)) if log_y else (y0, y1)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    sx = lambda x: pad_l + (x - x0) / (x1 - x0) * (width - pad_l - pad_r)       # noqa: E731
    sy = lambda y: height - pad_b - (fy(y) - y0) / (y1 - y0) * (height - pad_b - pad_t)  # noqa: E731
    out = [f'<svg class="icurve" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    ticks = range(int(y0), int(y1) + 1) if log_y else np.linspace(y0, y1, 5)
    for t in ticks:
        y = sy(10.0 ** t if log_y else t)
        out.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
                   f'{f"1e{t}" if log_y else f"{t:.3g}"}</text>')
    for n, (name, p) in enumerate(pts.items()):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{line}"/>'
                   f'<text x="{width - pad_r + 6}" y="{pad_t + 14 * n + 10}" font-size="11" fill="{colour}">'
                   f'{html.escape(name)}</text>')
    out.append(f'<text x="{pad_l}" y="{height - 6}" font-size="11">{html.escape(x_label)}: {x0:g} … {x1:g}</text>'
               f'<text x="4" y="{pad_t + 2}" font-size="11" transform="rotate(90 4,{pad_t + 2})">'
               f'{html.escape(y_label)}</text></svg>')
    return "".join(out)


CSS = """
.inside-text { display: flex; flex-wrap: wrap; align-items: flex-start; row-gap: 6px; font-family: var(--font-mono, monospace); }
.inside-text .col { display: inline-flex; flex-direction: column; align-items: stretch; min-width: 1.1em; cursor: pointer; }
.inside-text .c { text-align: center; padding: 1px 0; white-space: pre; }
.inside-text .c.here { outline: 2px solid #111; }
.inside-text .g { font-size: 0.72em; text-align: center; white-space: pre; line-height: 1.25; }
.inside-text .ibr { flex-basis: 100%; height: 0; }
.itable { border-collapse: collapse; font-size: 0.9em; margin: 6px 0; }
.itable th, .itable td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
.inote { opacity: 0.7; font-size: 0.9em; }
.inside-cap { font-size: 0.85em; opacity: 0.75; margin: 4px 0; }
"""


def page(title: str, body: str) -> str:
    """A standalone HTML page (for files opened in a browser)."""
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>body {{ font-family: sans-serif; max-width: 1100px; margin: 1em auto; }}{CSS}</style>'
            f'</head><body>{body}</body></html>')
