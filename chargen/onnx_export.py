"""A checkpoint exported for a device: the ONNX step model (fp32 and onnxruntime's int8 dynamic
quantisation of it), the tokenizer, a JSON manifest with everything a keyboard needs besides the
weights, and the browser keyboard's page beside them; plus scoring an exported model the way
training scores a checkpoint.

    chargen export --format onnx --checkpoint checkpoints/default --out exported/default

writes ``step.onnx``, ``step.int8.onnx``, ``tokenizer.json`` (or ``tokenizer.model``), ``manifest.json``
and the page (``index.html``, ``engine.js``, ``page.js``, ``vendor/`` with onnxruntime-web where
fetched), and ``words.json`` where the checkpoint has word n-grams (version 2: the page then mixes
them in as the Python engine does). The manifest's tables (token texts, which tokens are word characters, boundaries, keys per
token, the start ids) are the Python engine's own (``Predictor``), so the page's word rules are the
same by construction. Usage:

    manifest = export_onnx("checkpoints/default", "exported/default")
    lm = OnnxLM(OnnxStep("exported/default/step.int8.onnx"), manifest)
    total_nats, n = stream_loss(lm, ids)           # chargen.evaluate, as for a checkpoint
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, resolve_checkpoint
from .faststep import FastStepper, pack_state, unpack_state
from . import typos, vocab
from .hangul import is_hangul
from .keys import KOREAN_ROWS, LATIN_ROWS, char_keys, key_centres, show_char
from .ngram import NgramModel, load_words
from .onnx_graph import INPUTS, OPSET, OUTPUTS, step_graph
from .onnxstep import OnnxStep
from .predictor import Predictor
from .resources import browser_dir
from .sample import generate, start_ids

FORMAT, FORMAT_VERSION = "chargen-onnx-step", 1
FP32, INT8, MANIFEST = "step.onnx", "step.int8.onnx", "manifest.json"
PAGE_FILES = ("index.html", "words.js", "typos.js", "engine.js", "page.js")
WORDS = "words.json"          # the checkpoint's word n-grams (version 2), where it has them
PARITY_TOKENS = 300          # export checks onnxruntime against the module over this many sampled tokens


def quantize_int8(src, dst) -> None:
    """onnxruntime's dynamic quantisation: int8 weights (per tensor) for the MatMuls and the token
    table, activations quantised on the fly. (PyTorch's quantised LSTM does not export.)"""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR     # its advice to pre-process concerns conv nets
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def engine_tables(predictor: Predictor) -> dict:
    """What the page's engine needs besides the weights, taken from the Python engine itself."""
    tok = predictor.tokenizer
    return {"token_texts": predictor.token_texts, "shown": [show_char(t) if len(t) == 1 else t for t in predictor.token_texts],
            "word_mask": predictor.word_mask.astype(int).tolist(), "boundary_ids": predictor.boundary_ids.tolist(),
            "token_cost": predictor.token_cost, "unk_id": tok.unk_id, "start_ids": start_ids(tok),
            "jamo": predictor.jamo, "korean": predictor.korean,
            "beam_width": predictor.beam_width, "max_word_len": predictor.max_word_len,
            "pool": predictor.pool, "rescore": predictor.rescore, "cache": True,
            "typos": typo_tables(predictor.korean)}


def typo_tables(korean: bool) -> dict:
    """The typo decoder's numbers for the page (chargen/browser/typos.js), read from the Python
    decoder's own: the layout's key centres, the noise rates, the neighbour lists, the decoder's
    margins and limits, and (Korean) the keys that type each jamo."""
    noise = typos.NoiseModel.for_script(korean)
    jamo = {chr(c): "".join(char_keys(chr(c))) for c in [*range(0x1100, 0x1200), *range(0x3131, 0x318F)]
            if is_hangul(chr(c))} if korean else {}
    return {"centres": [[k, x, y] for k, (x, y) in key_centres(KOREAN_ROWS if korean else LATIN_ROWS).items()],
            "params": asdict(noise.params), "neighbours": noise.neighbours,
            "alphabet": [k for k in noise.keys if k.isalpha()], "jamo_keys": {c: k for c, k in jamo.items() if k != c},
            "margins": typos.MARGINS, "levels": list(typos.LEVELS), "unknown_penalty": typos.UNKNOWN_PENALTY,
            "min_typed": typos.MIN_TYPED, "max_word": typos.MAX_WORD, "scored": typos.SCORED,
            "compete": typos.COMPETE, "extending": typos.EXTENDING, "max_edits": vocab.MAX_EDITS,
            "max_keys": vocab.MAX_KEYS, "not_wordlike": typos._NOT_WORDLIKE.pattern}


def words_note(words) -> str:
    """What the page's completions are made of, for this checkpoint's word statistics."""
    if isinstance(words, NgramModel):
        return "mixture: the character model, word n-grams (words.json version 2) and the session's words"
    if words is not None:
        return ("the character model alone: version-1 word statistics are not ported to the page "
                "(chargen words --checkpoint DIR --corpus FILES refits them to version 2)")
    return "the character model alone: the checkpoint has no word statistics"


def parity(model, step: OnnxStep, ids: list[int]) -> float:
    """Largest |logit difference| between the module (one full pass) and the step model stepped
    token by token with its state carried."""
    with torch.no_grad():
        ref = model(torch.tensor([ids]))[0][0].numpy()                          # (T, V)
    rows, worst = np.zeros((1, step.state_size), np.float32), 0.0
    for t, i in enumerate(ids):
        logits, rows = step.step_rows([i], rows)
        worst = max(worst, float(np.abs(logits[0] - ref[t]).max()))
    return worst


def export_onnx(src, out, int8: bool = True, command: str | None = None, force: bool = False) -> dict:
    """Write the device export of the checkpoint ``src`` means into ``out``; returns the manifest."""
    out = Path(out)
    if out.exists() and not force:
        raise ValueError(f"{out} exists; give --force to replace it")
    src_dir = resolve_checkpoint(src)
    model, tok, config = load_checkpoint(src_dir)
    c = model.config
    stepper = FastStepper(model, kernels={"exact": "numpy", "search": "numpy"})      # no timing: weights only
    proto = step_graph(c.cell, *stepper.weights(), num_layers=c.num_layers, hidden=c.hidden_size)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / FP32).write_bytes(proto.SerializeToString())
    files = {"fp32": FP32}
    if int8:
        quantize_int8(tmp / FP32, tmp / INT8)
        files["int8"] = INT8
    spec = tok.save(tmp)
    files["tokenizer"] = spec["file"]
    words = load_words(src_dir)
    if isinstance(words, NgramModel):            # the page mixes them in as the Python engine does
        shutil.copy2(src_dir / WORDS, tmp / WORDS)
        files["words"] = WORDS
    sample = "".join(generate(model, tok, "", PARITY_TOKENS, seed=0, stepper=stepper))
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "files": files,
        "signature": {"opset": OPSET, "inputs": {INPUTS[0]: "int64 (rows,)", INPUTS[1]: "float32 (rows, state_size)"},
                      "outputs": {OUTPUTS[0]: "float32 (rows, vocab_size)", OUTPUTS[1]: "float32 (rows, state_size)"},
                      "state_layout": "per row: (parts, layers, hidden) flattened; parts = (h, c) for an LSTM, (h,) else"},
        "model": {"cell": c.cell, "num_layers": c.num_layers, "hidden_size": c.hidden_size, "vocab_size": c.vocab_size,
                  "state_size": stepper.state_size},
        "tokenizer": spec,
        "engine": {**engine_tables(Predictor(model, tok, words=None, cache=False, stepper=stepper)),
                   "words": words_note(words)},
        "sizes": {k: (tmp / f).stat().st_size for k, f in files.items()},
        "parity": {"tokens": len(tok.encode(sample)),
                   "max_abs_logit_diff_fp32": parity(model, OnnxStep(proto), tok.encode(sample)[:PARITY_TOKENS])},
        "source": {"checkpoint": str(src_dir), "metrics": config.get("metrics", {}), "command": command},
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    copy_page(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return manifest


def copy_page(dst: Path) -> None:
    """The browser keyboard beside the model, so the folder opens as a file (``index.html``); its
    onnxruntime-web files too where they have been fetched (``chargen/browser/fetch-ort.sh``)."""
    page = browser_dir()
    for name in PAGE_FILES:
        shutil.copy2(page / name, dst / name)
    if (page / "vendor").is_dir():
        shutil.copytree(page / "vendor", dst / "vendor", dirs_exist_ok=True)


def read_manifest(folder) -> dict:
    m = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    if m.get("format") != FORMAT:
        raise ValueError(f"{folder} is not a chargen ONNX export (no {MANIFEST} of format {FORMAT})")
    return m


class OnnxLM(torch.nn.Module):
    """A step model behind ``CharLM``'s interface (``forward(ids, state)`` over (B, T) ids with the
    state carried, ``init_state``), stepping the T positions one at a time: what
    ``evaluate.stream_loss`` needs to score an exported model (fp32 or int8) exactly as training
    scores a checkpoint. States are the module's ((L, B, H) tensors, a tuple for an LSTM)."""

    def __init__(self, step: OnnxStep, manifest: dict):
        super().__init__()
        m = manifest["model"]
        self.step, self.cell, self.num_layers, self.hidden = step, m["cell"], m["num_layers"], m["hidden_size"]
        self._cpu = torch.nn.Parameter(torch.zeros(0), requires_grad=False)   # parameters() says where: the CPU

    def init_state(self, batch: int, device=None):
        return unpack_state(np.zeros((batch, self.step.state_size), np.float32), self.cell, self.num_layers, self.hidden)

    def forward(self, ids: torch.Tensor, state=None):
        """ids (B, T) -> logits (B, T, V), the state after them."""
        rows = np.zeros((ids.shape[0], self.step.state_size), np.float32) if state is None else pack_state(state, self.cell)
        out = []
        for t in range(ids.shape[1]):
            logits, rows = self.step.step_rows(ids[:, t].numpy(), rows)
            out.append(logits)
        return torch.from_numpy(np.stack(out, 1)), unpack_state(rows, self.cell, self.num_layers, self.hidden)
