"""``chargen compare``: train the vanilla RNN, GRU and LSTM side by side on one corpus with the same
time budget and (about) the same number of parameters, then look at what each learned: validation
curves, final bpc, influence against distance (the vanishing-gradient curve), gradient norms with
and without clipping, teacher forcing against free running (exposure bias), the units that track
text features, gate saturation and a sample. Several ``--bptt-len`` values train every cell at each
truncation length. One folder holds it all: ``report.json``, PNG plots and ``report.html``
(``chargen.report`` writes them).

Parameter matching: the LSTM is sized as ``train`` would size it for the budget (or by
``--hidden-size`` / ``--num-layers``); every other cell gets the hidden size whose non-embedding
parameter count (recurrent layers + output head) is closest to the LSTM's, with the same number of
layers and the same embedding width, so each reads the same inputs with the same capacity.

    report = compare(CompareConfig(corpus=["tiny.txt"], out="runs/cmp", minutes=5))
"""
from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .connectivity import falls_below, influence_curve
from .data import prepare_corpus
from .exposure import EXPOSURE_KS, exposure_bias
from .inside import analyse, top_cells_by_feature
from .model import CELLS, CharLM, ModelConfig
from .report import write_report
from .sample import generate
from .sizing import auto_size
from .stopping import Interrupted
from .tokenizer import CHAR
from .train import TrainConfig, train

SAMPLE_TEMPERATURE = 0.8
RANK_CHARS = 3000                  # validation characters the cell ranking and saturation read


@dataclass
class CompareConfig:
    corpus: list[str] = field(default_factory=list, metadata={"help": "text file(s) or folder(s) of .txt files", "nargs": "+"})
    out: str = field(default="", metadata={"help": "report folder to create (runs/, data/, report.json, *.png, report.html)"})
    cells: list[str] = field(default_factory=lambda: ["rnn", "gru", "lstm"], metadata={"help": "cells to train side by side: rnn, gru, lstm"})
    minutes: float = field(default=5.0, metadata={"help": "training budget of each run, in minutes"})
    bptt_len: list[int] = field(default_factory=lambda: [64], metadata={"help": "truncated-BPTT length(s); each trains every cell"})
    max_steps: int = field(default=0, metadata={"help": "cap every run at N steps (quick looks, tests; 0: the budget alone)"})
    grad_clip: float = field(default=1.0, metadata={"help": "gradient clipping of the main runs (global norm)"})
    no_clip_minutes: float | None = field(default=None, metadata={"help": "budget of each cell's extra run without clipping (default: a fifth of --minutes; 0: none)"})
    hidden_size: int | None = field(default=None, metadata={"help": "the LSTM's hidden size; the other cells are matched in parameters (default: sized from the budget)"})
    num_layers: int | None = field(default=None, metadata={"help": "recurrent layers of every cell (default: sized from the budget)"})
    influence_distance: int = field(default=300, metadata={"help": "longest distance of the influence curves (tokens)"})
    influence_positions: int = field(default=64, metadata={"help": "predictions the influence curves average over"})
    exposure_k: list[int] = field(default_factory=lambda: list(EXPOSURE_KS), metadata={"help": "free-running lengths k of the exposure-bias table (0: teacher forcing)"})
    exposure_positions: int = field(default=512, metadata={"help": "validation places the exposure-bias table averages over"})
    sample_length: int = field(default=300, metadata={"help": "characters in each model's sample"})
    seed: int = field(default=1337, metadata={"help": "random seed (initialisation, analyses, samples)"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0: all cores)"})
    progress: bool = field(default=True, metadata={"help": "show progress bars", "cli": False})

    def validate(self) -> None:
        if not self.corpus or not self.out:
            raise ValueError("give the text and a folder: --corpus PATH --out DIR")
        bad = [c for c in self.cells if c not in CELLS]
        if bad or not self.cells or len(set(self.cells)) != len(self.cells):
            raise ValueError(f"--cells takes distinct names among {', '.join(CELLS)}, got {' '.join(self.cells)}")
        if not self.bptt_len or min(self.bptt_len) < 1 or (self.minutes <= 0 and not self.max_steps):
            raise ValueError("--bptt-len values must be >= 1, and a run needs --minutes > 0 or --max-steps")
        if min(self.exposure_k) < 0 or self.influence_distance < 1 or self.influence_positions < 1:
            raise ValueError("--exposure-k values must be >= 0 and the influence settings >= 1")

    def no_clip_budget(self) -> float:
        return self.minutes / 5 if self.no_clip_minutes is None else self.no_clip_minutes


@lru_cache(maxsize=1024)
def count_params(cell: str, hidden: int, num_layers: int, embed: int, vocab: int) -> int:
    """Non-embedding parameters of such a model (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        return CharLM(ModelConfig(vocab, cell, num_layers, hidden, embed, dropout=0.0)).num_params()


def matched_hidden(cell: str, target: int, num_layers: int, embed: int, vocab: int) -> int:
    """The hidden size whose parameter count is closest to ``target`` (the count grows with it)."""
    lo, hi = 1, 8
    while count_params(cell, hi, num_layers, embed, vocab) < target:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count_params(cell, mid, num_layers, embed, vocab) < target else (lo, mid)
    return min((lo, hi), key=lambda h: abs(count_params(cell, h, num_layers, embed, vocab) - target))


def plan(cfg: CompareConfig, n_train_tokens: int, vocab: int) -> tuple[dict, TrainConfig]:
    """{cell: ModelConfig} matched to the LSTM, and the shared training settings (batch, lr)."""
    base = TrainConfig(corpus=list(cfg.corpus), max_minutes=cfg.minutes, max_steps=cfg.max_steps,
                       bptt_len=max(cfg.bptt_len), grad_clip=cfg.grad_clip, seed=cfg.seed, threads=cfg.threads,
                       progress=cfg.progress, held_out_chars=0)   # no keyboard mixture to fit: train on it all
    ref, base = auto_size(ModelConfig(cell="lstm", hidden_size=cfg.hidden_size, num_layers=cfg.num_layers), base,
                          n_train_tokens)
    target = count_params("lstm", ref.hidden_size, ref.num_layers, ref.embed_size, vocab)
    models = {cell: replace(ref, cell=cell, hidden_size=ref.hidden_size if cell == "lstm" else
                            matched_hidden(cell, target, ref.num_layers, ref.embed_size, vocab))
              for cell in cfg.cells}
    return models, base


def _train(cfg: CompareConfig, run: dict, model_cfg: ModelConfig, train_cfg: TrainConfig, log) -> dict:
    """One run of the comparison; its per-step gradient norms land in run["grad_norms"]."""
    norms = []
    log(f"training {run['name']}: {model_cfg.cell.upper()} {model_cfg.num_layers} x {model_cfg.hidden_size}, "
        f"bptt {train_cfg.bptt_len}, clip {train_cfg.grad_clip or 'off'}, "
        f"{train_cfg.max_minutes:g} min{f', at most {train_cfg.max_steps} steps' if train_cfg.max_steps else ''}")
    summary = train(train_cfg, model_cfg, callback=lambda step, info: norms.append((step, info["grad_norm"])),
                    log=log)
    if summary["stop_reason"] == "interrupted":
        raise Interrupted(f"training {run['name']}")
    history = [{k: e[k] for k in ("step", "elapsed", "val_nats", "val_bpc")} for e in summary["history"]]
    run.update(steps=summary["step"], elapsed=summary["elapsed"], params=summary["params"],
               hidden_size=model_cfg.hidden_size, history=history, stop_reason=summary["stop_reason"],
               best_val_bpc=summary["best_val_nats"] / math.log(2),
               final_val_bpc=history[-1]["val_bpc"] if history else None,
               grad_norms=[[s, float(f"{g:.4g}")] for s, g in norms])
    return run


def _analyse(cfg: CompareConfig, run: dict, log) -> None:
    """What the trained model (its best checkpoint) learned, measured on the validation split."""
    model, tok, _ = load_checkpoint(Path(cfg.out) / "runs" / run["name"])
    val = prepare_corpus(cfg.corpus, CHAR, Path(cfg.out) / "runs" / run["name"] / "data", tokenizer=tok).val_ids
    log(f"analysing {run['name']}: influence, exposure bias, cells, sample")
    curve = influence_curve(model, val, cfg.influence_distance, cfg.influence_positions, seed=cfg.seed)
    run["influence"] = {"distance": curve["distance"].tolist(), "relative": [float(f"{v:.4g}") for v in curve["relative"]],
                        "positions": curve["positions"]}
    run["below_1pct"] = falls_below(curve["influence"], 0.01)
    run["exposure"] = exposure_bias(model, val, cfg.exposure_k, cfg.exposure_positions, seed=cfg.seed)
    a = analyse(model, tok, tok.decode(val[:RANK_CHARS]))
    run["cells"] = [{"feature": s.feature, "label": list(s.label), "r": s.r}
                    for s in top_cells_by_feature(a.ranking).values()]
    run["saturation"] = {str(layer): {g: list(v) for g, v in gates.items()} for layer, gates in a.saturation.items()}
    run["sample"] = "".join(generate(model, tok, "", cfg.sample_length, SAMPLE_TEMPERATURE, seed=cfg.seed))


def compare(cfg: CompareConfig, log=print) -> dict:
    """Train, analyse, write the report folder; returns the report (also in ``out/report.json``)."""
    cfg.validate()
    out = Path(cfg.out)
    if (out / "runs").exists() or (out / "report.json").exists():
        raise ValueError(f"{out} already holds a comparison: choose another --out (or delete it)")
    corpus = prepare_corpus(cfg.corpus, CHAR, out / "data", progress=cfg.progress)
    models, base = plan(cfg, len(corpus.train_ids), corpus.tokenizer.vocab_size)
    several = len(cfg.bptt_len) > 1
    jobs = [({"name": f"{cell}-bptt{t}" if several else cell, "cell": cell, "bptt_len": t, "role": "main",
              "grad_clip": cfg.grad_clip, "minutes": cfg.minutes}, replace(base, bptt_len=t))
            for t in cfg.bptt_len for cell in cfg.cells]
    if cfg.no_clip_budget() > 0 or (cfg.no_clip_minutes is None and cfg.max_steps):
        minutes = cfg.no_clip_budget() if cfg.minutes > 0 else 0
        jobs += [({"name": f"{cell}-noclip", "cell": cell, "bptt_len": cfg.bptt_len[0], "role": "no clip",
                   "grad_clip": 0.0, "minutes": minutes},
                  replace(base, bptt_len=cfg.bptt_len[0], grad_clip=0.0, max_minutes=minutes)) for cell in cfg.cells]
    runs = []
    for n, (run, train_cfg) in enumerate(jobs, 1):
        log(f"[{n}/{len(jobs)}]")
        runs.append(_train(cfg, run, models[run["cell"]], replace(train_cfg, out=str(out / "runs" / run["name"])), log))
    for run in runs:
        if run["role"] == "main":
            _analyse(cfg, run, log)
    report = {"config": asdict(cfg), "corpus": {k: corpus.meta[k] for k in ("files", "chars", "train_chars", "val_chars")},
              "vocab_size": corpus.tokenizer.vocab_size,
              "training": {"batch_size": base.batch_size, "lr": base.lr, "dropout": models[cfg.cells[0]].dropout,
                           "embed_size": models[cfg.cells[0]].embed_size, "num_layers": models[cfg.cells[0]].num_layers},
              "matching": "non-embedding parameters (recurrent layers + output head) matched to the LSTM's by "
                          "choosing each cell's hidden size; same layers, embedding width, batch, lr and budget",
              "runs": runs}
    write_report(out, report, log)
    return report
