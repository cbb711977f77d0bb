"""The comparison report folder that ``chargen compare`` writes: ``report.json`` (every figure),
PNG plots (``plots``; skipped with a note when matplotlib is missing) and ``report.html``, which
opens in a browser. ``report_body`` is the page's content as an HTML fragment: the web app's
Inside tab shows a finished comparison with it (images inlined). Usage:

    write_report("runs/cmp", report)                 # report: what compare.compare builds
    report_body(load_report("runs/cmp"), image_src=lambda name: name)
    find_reports(["runs", "docs"])                    # [("cmp", Path("runs/cmp")), ...]
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from .inside_html import page, table_html
from .plots import save_lines

REPORT_FILE, HTML_FILE = "report.json", "report.html"
FIGURES = {"val_curves.png": "Validation bits per character during training (same budget for every cell)",
           "influence.png": "Influence of an input on a prediction against its distance (gradient norm, "
                            "relative to distance 1, log scale): the vanishing-gradient picture",
           "grad_norms.png": "Gradient norm before clipping, per step: the main run (clipped) and a run without clipping",
           "exposure.png": "Teacher forcing (k = 0) against reading its own last k samples"}


def _main(report: dict) -> list:
    return [r for r in report["runs"] if r["role"] == "main"]


def _style(report: dict, run: dict, **extra) -> dict:
    """A cell has one colour (plots.COLOURS); its bptt lengths differ in line style, a run without
    clipping is dotted."""
    if run["role"] != "main":
        return {"linestyle": ":", "alpha": 0.85, **extra}
    dashes = ["-", "--", "-.", (0, (5, 1, 1, 1))]
    return {"linestyle": dashes[report["config"]["bptt_len"].index(run["bptt_len"]) % 4], **extra}


def _plot(out: Path, report: dict) -> list[str]:
    """The PNGs (names in ``out``)."""
    main, runs, cfg = _main(report), report["runs"], report["config"]

    def curve(r, x):
        return [h[x] for h in r["history"]], [h["val_bpc"] for h in r["history"]], _style(report, r, marker=".")
    save_lines(out / "val_curves.png", [
        {"title": "validation bpc against time", "xlabel": "seconds", "ylabel": "bits/char",
         "series": {r["name"]: curve(r, "elapsed") for r in runs if r["history"]}},
        {"title": "validation bpc against steps", "xlabel": "step", "ylabel": "bits/char",
         "series": {r["name"]: curve(r, "step") for r in runs if r["history"]}}])
    save_lines(out / "influence.png", [
        {"title": "influence against distance", "log_y": True, "hline": (0.01, "1% of distance 1"),
         "xlabel": "distance (tokens back)", "ylabel": "relative gradient norm",
         "series": {r["name"]: (r["influence"]["distance"], r["influence"]["relative"], _style(report, r))
                    for r in main}}])
    panels = []
    for cell in cfg["cells"]:
        series = {r["name"]: ([s for s, _ in r["grad_norms"]], [g for _, g in r["grad_norms"]],
                              _style(report, r, linewidth=0.8))
                  for r in runs if r["cell"] == cell and r["bptt_len"] == cfg["bptt_len"][0]}
        panels.append({"title": f"{cell.upper()} gradient norm", "series": series, "log_y": True, "xlabel": "step",
                       "ylabel": "global norm (before clipping)",
                       "hline": (cfg["grad_clip"], "clip") if cfg["grad_clip"] else None})
    save_lines(out / "grad_norms.png", panels, width=4.2)
    save_lines(out / "exposure.png", [
        {"title": "exposure bias", "xlabel": "k (own samples read)", "ylabel": "nats/token of the true token",
         "series": {r["name"]: ([e["k"] for e in r["exposure"]], [e["nats"] for e in r["exposure"]],
                                _style(report, r, marker="o")) for r in main}}])
    return list(FIGURES)


def write_report(out, report: dict, log=print) -> Path:
    """report.json, the PNGs and report.html into ``out``; returns the HTML's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        report["figures"] = _plot(out, report)
    except ImportError:
        report["figures"] = []
        log("matplotlib is not installed: the report has no plots (pip install matplotlib)")
    (out / REPORT_FILE).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (out / HTML_FILE).write_text(page("chargen compare", report_body(report)), encoding="utf-8")
    log(f"report: {out / HTML_FILE}")
    return out / HTML_FILE


def _fmt(v, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def summary_rows(report: dict) -> list[list]:
    return [[r["name"], r["cell"], r["hidden_size"], f"{r['params']:,}", r["bptt_len"], r["grad_clip"] or "off",
             r["steps"], f"{r['elapsed']:.0f} s", _fmt(r["best_val_bpc"]), _fmt(r["final_val_bpc"]),
             ("> " + str(r["influence"]["distance"][-1]) if r.get("below_1pct") is None else r["below_1pct"])
             if "influence" in r else "—"] for r in report["runs"]]


def report_body(report: dict, image_src=lambda name: name) -> str:
    """The report as an HTML fragment; ``image_src(png name)`` -> what an <img> loads."""
    cfg, t, main = report["config"], report["training"], _main(report)
    files = ", ".join(Path(f).name for f in report["corpus"]["files"])
    cap = f", at most {cfg['max_steps']} steps" if cfg["max_steps"] else ""
    saturation = [[r["name"], int(layer) + 1, g, f"{100 * lo:.1f}%", f"{100 * hi:.1f}%"]
                  for r in main for layer, gates in r["saturation"].items() for g, (lo, hi) in gates.items()]
    parts = [f"<h2>{' vs '.join(c.upper() for c in cfg['cells'])} on {html.escape(files)}</h2>",
             f"<p>{report['corpus']['chars']:,} characters (last {report['corpus']['val_chars']:,} validate). "
             f"Each run: {cfg['minutes']:g} min{cap}, "
             f"{t['num_layers']} layer(s), embedding {t['embed_size']}, batch {t['batch_size']}, lr {t['lr']:g}, "
             f"dropout {t['dropout']:g}. Parameter matching: {html.escape(report['matching'])}.</p>",
             table_html(["run", "cell", "hidden", "parameters", "bptt", "clip", "steps", "time", "best val bpc",
                         "final val bpc", "influence < 1% at distance"], summary_rows(report))]
    for name in report.get("figures", []):
        parts.append(f'<figure><img src="{html.escape(image_src(name))}" alt="{name}" style="max-width:100%">'
                     f"<figcaption>{html.escape(FIGURES.get(name, name))}</figcaption></figure>")
    ks = [e["k"] for e in main[0]["exposure"]] if main else []
    parts += ["<h3>Teacher forcing against free running</h3>",
              "<p>Loss (nats per token) of the true next token after reading the true history (k = 0: "
              "teacher forcing) or the model's own samples for the last k tokens; in brackets the gap.</p>",
              table_html(["k"] + [r["name"] for r in main],
                         [[k] + [f"{r['exposure'][i]['nats']:.3f} ({r['exposure'][i]['gap']:+.3f})"
                                 if r["exposure"][i]["gap"] is not None else f"{r['exposure'][i]['nats']:.3f}"
                                 for r in main] for i, k in enumerate(ks)])]
    parts += ["<h3>Units that track text features (validation text)</h3>",
              table_html(["run", "feature", "unit (signal, layer, index)", "r"],
                         [[r["name"], c["feature"], f"{c['label'][0]} · layer {c['label'][1] + 1} · {c['label'][2]}",
                           f"{c['r']:+.2f}"] for r in main for c in r["cells"]]),
              "<h3>Gate saturation (validation text)</h3>",
              table_html(["run", "layer", "gate", "shut (< 0.1)", "open (> 0.9)"], saturation)
              if saturation else "<p>A vanilla RNN has no gates.</p>",
              "<h3>Samples</h3>"]
    parts += [f"<h4>{html.escape(r['name'])}</h4><pre>{html.escape(r['sample'])}</pre>" for r in main]
    return '<div class="compare-report">' + "".join(parts) + "</div>"


def load_report(folder) -> dict:
    return json.loads((Path(folder) / REPORT_FILE).read_text(encoding="utf-8"))


def find_reports(roots) -> list[tuple[str, Path]]:
    """Comparison folders (holding report.json) directly under each root: [(name, folder)]."""
    found = []
    for root in map(Path, roots):
        if root.is_dir():
            found += [(f"{root.name}/{d.name}", d) for d in sorted(root.iterdir()) if (d / REPORT_FILE).is_file()]
    return found


def data_uri(path) -> str:
    """A PNG as a data: URI (a page that must not serve files from disk can still show it)."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
