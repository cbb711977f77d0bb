"""The command line's looking-inside commands: ``inside`` (the units of a checkpoint that track text
features, gate saturation, a unit's activation over the text in terminal colours, connectivity for a
position; ``--html`` writes the Karpathy-style page) and ``compare`` (cells trained side by side, a
report folder). Called by ``chargen.cli``.

    python -m chargen inside --text 'He said "yes (twice)".' --unit c 2 76 --position 10 --html inside.html
    python -m chargen compare --corpus tiny.txt --cells rnn gru lstm --minutes 5 --out runs/compare
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint
from .cli_args import add_dataclass_args, dataclass_from_args
from .compare import CompareConfig, compare
from .data import find_files, iter_text
from .inside import analyse, best_cell, cell_label, connectivity, gate_label, text_influence
from .inside_html import (activation_html, activation_rgb, curve_svg, gradient_html, page, ranking_html,
                          saturation_html)
from .keys import show_char
from .report import summary_rows

DISTANCES = (1, 2, 4, 8, 16, 32, 64)
HTML_UNITS = 6                       # units shown in the --html page: the best-ranked ones


def add_inside_commands(sub, default_checkpoint: str) -> None:
    i = sub.add_parser("inside", help="look inside a model: cells that track text features, gates, connectivity")
    i.add_argument("--checkpoint", default=default_checkpoint, help="checkpoint or run directory")
    given = i.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", help="the text to read")
    given.add_argument("--file", help="read the text from this file")
    i.add_argument("--unit", nargs=3, metavar=("SIGNAL", "LAYER", "INDEX"),
                   help="the unit to colour the text by: h or c (LSTM cell state), layer from 1, index from 0 "
                        "(default: the best-ranked unit)")
    i.add_argument("--top", type=int, default=10, help="how many ranked units to list")
    i.add_argument("--position", type=int, default=None,
                   help="connectivity: explain the prediction after this character (0-based)")
    i.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text in the terminal")
    i.add_argument("--html", default=None, help="also write the coloured text, top-5 guesses and tables to this file")
    c = sub.add_parser("compare", help="train rnn / gru / lstm side by side and write a report folder")
    add_dataclass_args(c, CompareConfig)


def _unit(args, a) -> tuple:
    if not args.unit:
        return best_cell(a)
    signal, layer, index = args.unit[0], int(args.unit[1]) - 1, int(args.unit[2])
    if signal not in a.trace.signals or not 0 <= layer < a.layers or not 0 <= index < a.units:
        raise ValueError(f"--unit {' '.join(args.unit)}: signal one of {', '.join(a.trace.signals)}, "
                         f"layer 1..{a.layers}, index 0..{a.units - 1}")
    return signal, layer, index


def ansi_text(shown: str, values) -> str:
    """The text with 24-bit terminal background colours (the HTML view's scale)."""
    out = []
    for c, v in zip(shown, values):
        rgb, alpha = activation_rgb(float(v))
        r, g, b = (round(255 - alpha * (255 - x)) for x in rgb)
        out.append(f"\x1b[30;48;2;{r};{g};{b}m" + (show_char(c) + "\x1b[0m\n" if c == "\n" else c))
    return "".join(out) + "\x1b[0m"


def cmd_inside(args) -> int:
    model, tok, _ = load_checkpoint(args.checkpoint)
    text = args.text if args.text is not None else "".join(iter_text(find_files([args.file])))
    a = analyse(model, tok, text, rank_top=max(args.top, HTML_UNITS))
    c = model.config
    print(f"{c.num_layers} x {c.hidden_size} {c.cell.upper()}, {tok.kind} tokenizer; {len(a.shown):,} characters, "
          f"{len(a.trace.ids):,} tokens")
    print("\nunits that track text features (Pearson r over this text), best first:")
    for n, s in enumerate(a.ranking[:args.top], 1):
        print(f"  {n:2d}. {cell_label(s.label):26s} {s.describe()}")
    if a.saturation:
        print("\ngate saturation (share of steps x units): shut < 0.1, open > 0.9")
        for layer, gates in a.saturation.items():
            print(f"  layer {layer + 1}: " + ", ".join(f"{gate_label(g)} {100 * lo:.0f}% shut / {100 * hi:.0f}% open"
                                                      for g, (lo, hi) in gates.items()))
    unit = _unit(args, a)
    if args.color == "always" or (args.color == "auto" and sys.stdout.isatty()):
        print(f"\n{cell_label(unit)} (orange +, blue -):\n{ansi_text(a.shown, a.values(unit))}")
    position = len(a.shown) - 1 if args.position is None else args.position
    grads = connectivity(model, a, position)
    curve = text_influence(model, a) if len(a.trace.ids) >= 8 else None
    print(f"\nconnectivity: the prediction after character {position} ({show_char(a.shown[position])!s}); "
          f"largest gradients at " + ", ".join(f"{i} ({show_char(a.shown[i])})" for i in np.argsort(-np.nan_to_num(grads))[:5]))
    if curve is not None:
        print("influence against distance in this text (relative to distance 1): " + ", ".join(
            f"{d}: {curve['relative'][d - 1]:.2g}" for d in DISTANCES if d <= len(curve["relative"])))
    if args.html:
        Path(args.html).write_text(_page(a, unit, position, grads, curve), encoding="utf-8")
        print(f"\nwrote {args.html}")
    return 0


def _page(a, unit, position, grads, curve) -> str:
    units = [unit] + [s.label for s in a.ranking[:HTML_UNITS] if s.label != unit]
    parts = ["<h2>Units that track text features</h2>", ranking_html(a.ranking, cell_label)]
    for u in units:
        parts += [f"<h3>{cell_label(u)}</h3>", activation_html(a.shown, a.values(u), a.top_text, a.top_probs,
                                                                  a.last_of_token(), a.owner)]
    parts += ["<h2>Gate saturation</h2>", saturation_html(a.saturation, gate_label),
              f"<h2>Connectivity: the prediction after character {position}</h2>", gradient_html(a.shown, grads, position)]
    if curve is not None:
        parts.append(curve_svg({"this text": (curve["distance"], curve["relative"])}))
    return page("chargen inside", "".join(parts))


def cmd_compare(args) -> int:
    cfg = dataclass_from_args(CompareConfig, args)
    report = compare(cfg, log=lambda m: print(m, file=sys.stderr))
    print("run            cell  hidden  params      steps  best val bpc  influence < 1% at")
    for row in summary_rows(report):
        name, cell, hidden, params, _, _, steps, _, best, _, below = row
        print(f"{name:14s} {cell:5s} {hidden:6d}  {params:>10s}  {steps:5d}  {best:>12s}  {below}")
    print(f"report: {Path(cfg.out) / 'report.html'}")
    return 0
