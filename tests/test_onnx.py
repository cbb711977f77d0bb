"""The device export: the ONNX step model gives the PyTorch model's logits to 1e-4 over hundreds of
steps of real text, for LSTM, GRU and RNN cells and char, jamo and subword tokenizers; the int8
model is a quarter of the size and still predicts; an exported model is scored like a checkpoint;
onnxruntime as a keystroke kernel matches the module; the CLI writes the export."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from conftest import KOREAN  # noqa: E402
from chargen import onnxstep  # noqa: E402
from chargen.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from chargen.cli import main  # noqa: E402
from chargen.evaluate import stream_loss  # noqa: E402
from chargen.faststep import FastStepper  # noqa: E402
from chargen.model import CharLM, ModelConfig  # noqa: E402
from chargen.ngram import NgramModel  # noqa: E402
from chargen.onnx_export import OnnxLM, export_onnx, parity, read_manifest  # noqa: E402
from chargen.onnxstep import OnnxStep  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402
from chargen.resources import bundled  # noqa: E402
from chargen.tokenizer import fit_tokenizer  # noqa: E402
from chargen.wordstats import WordModel  # noqa: E402

CHECKPOINTS = bundled("checkpoints")
AUSTEN = (bundled("corpora") / "austen" / "austen-emma.txt").read_text(encoding="utf-8")[20_000:60_000]
STEPS = 300


def random_checkpoint(path: Path, cell: str, kind: str, text: str, hidden: int = 32, layers: int = 2) -> Path:
    """An untrained model with weights scaled up (so gates saturate and differences would show)."""
    torch.manual_seed(0)
    tok = fit_tokenizer(kind, [text], vocab_size=500)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, cell=cell, num_layers=layers, hidden_size=hidden,
                               embed_size=24)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return save_checkpoint(path, model, tok)


@pytest.mark.parametrize("cell,kind", [("lstm", "char"), ("gru", "jamo"), ("rnn", "bpe"), ("gru", "char"),
                                       ("rnn", "jamo"), ("lstm", "unigram")])
def test_exported_step_model_matches_the_module_over_real_text(tmp_path, cell, kind):
    text = (KOREAN * 30 + AUSTEN[:3000]) if kind == "jamo" else AUSTEN
    src = random_checkpoint(tmp_path / "ck", cell, kind, text)
    m = export_onnx(src, tmp_path / "out", int8=False)
    model, tok, _ = load_checkpoint(src)
    ids = tok.encode(text[len(text) // 8:])[:STEPS]
    assert len(ids) == STEPS
    assert parity(model, OnnxStep(tmp_path / "out" / m["files"]["fp32"]), ids) < 1e-4
    assert m["parity"]["max_abs_logit_diff_fp32"] < 1e-4 and m["model"]["cell"] == cell
    assert m["tokenizer"]["kind"] == kind and (tmp_path / "out" / m["files"]["tokenizer"]).is_file()


@pytest.mark.parametrize("name,text", [("default", AUSTEN), ("korean", KOREAN * 20)])
def test_the_bundled_models_export_exactly(tmp_path, name, text):
    # the trained LSTMs: the default (2 x 256, char) and the Korean one (2 x 512, jamo)
    m = export_onnx(CHECKPOINTS / name, tmp_path / name, int8=False)
    model, tok, _ = load_checkpoint(CHECKPOINTS / name)
    assert parity(model, OnnxStep(tmp_path / name / "step.onnx"), tok.encode(text)[:STEPS]) < 1e-4
    assert m["engine"]["jamo"] == (name == "korean")


@pytest.fixture(scope="module")
def default_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "default"
    export_onnx(CHECKPOINTS / "default", out)
    return out


def test_int8_is_a_quarter_of_the_size_and_still_predicts(default_export):
    m = read_manifest(default_export)
    assert m["sizes"]["int8"] < 0.3 * m["sizes"]["fp32"]
    model, tok, _ = load_checkpoint(CHECKPOINTS / "default")
    ids = tok.encode(AUSTEN[:2000])
    fp32, int8 = (OnnxLM(OnnxStep(default_export / m["files"][k]), m) for k in ("fp32", "int8"))
    nats = {k: stream_loss(lm, ids, rows=4, chunk=128)[0] / (len(ids) - 1) for k, lm in (("fp32", fp32), ("int8", int8))}
    module = stream_loss(model, ids, rows=4, chunk=128)[0] / (len(ids) - 1)
    assert nats["fp32"] == pytest.approx(module, rel=1e-5)          # scored exactly as the checkpoint is
    assert abs(nats["int8"] - nats["fp32"]) < 0.03 * nats["fp32"]   # quantisation moves the loss a little, not a lot


def test_the_manifest_carries_the_python_engines_tables(default_export):
    m = read_manifest(default_export)
    model, tok, _ = load_checkpoint(CHECKPOINTS / "default")
    p = Predictor(model, tok, words=None, stepper=FastStepper(model, kernels={"exact": "numpy", "search": "numpy"}))
    e = m["engine"]
    assert e["token_texts"] == p.token_texts and e["boundary_ids"] == p.boundary_ids.tolist()
    assert e["word_mask"] == p.word_mask.astype(int).tolist() and e["token_cost"] == p.token_cost
    assert e["start_ids"] == tok.encode("\n")
    for name in ("index.html", "words.js", "engine.js", "page.js"):
        assert (default_export / name).is_file()


@pytest.mark.parametrize("version", [None, 1, 2])
def test_the_export_carries_version_2_word_ngrams_for_the_page(tmp_path, version):
    src = random_checkpoint(tmp_path / "ck", "lstm", "char", AUSTEN[:5000], hidden=16, layers=1)
    if version == 1:
        WordModel.fit([AUSTEN]).save(src)
    elif version == 2:
        NgramModel.fit([AUSTEN]).save(src)
    m = export_onnx(src, tmp_path / "out", int8=False)
    assert ("words" in m["files"]) == (version == 2)
    assert m["engine"]["words"].startswith("mixture" if version == 2 else "the character model alone")
    if version == 2:
        assert json.loads((tmp_path / "out" / "words.json").read_text())["version"] == 2


@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 2), ("rnn", 2), ("gru", 1), ("rnn", 1), ("lstm", 1)])
def test_onnx_kernel_matches_the_module(tmp_path, cell, layers):
    # one layer of a GRU or RNN: the state is one piece (its Split has a single output)
    model, _, _ = load_checkpoint(random_checkpoint(tmp_path / "ck", cell, "char", AUSTEN[:5000], layers=layers))
    stepper = FastStepper(model, kernels={"exact": "onnx", "search": "onnx"})
    ids = torch.randint(0, model.config.vocab_size, (5, 12))
    full, _ = model(ids)
    state = None
    for t in range(12):
        logits, state = stepper.step(ids[:, t], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def test_an_adapted_view_of_an_onnx_stepper_steps_with_its_own_weights(tmp_path):
    # onnxruntime's session holds the trained weights: a session's adapted view must not step on it
    model, _, _ = load_checkpoint(random_checkpoint(tmp_path / "ck", "lstm", "char", AUSTEN[:5000], hidden=16))
    stepper = FastStepper(model, kernels={"exact": "onnx", "search": "onnx"})
    head = {"head.bias": model.head.bias.detach() + torch.linspace(-1, 1, model.config.vocab_size)}
    view = stepper.with_params(head)
    assert "onnx" not in set(view.kernels["exact"].values()) | set(view.kernels["search"].values())
    ids = torch.randint(0, model.config.vocab_size, (3,))
    base, _ = stepper.step(ids, None)
    adapted, _ = view.step(ids, None)
    torch.testing.assert_close(adapted, base + head["head.bias"] - model.head.bias.detach(), atol=1e-5, rtol=1e-5)
    assert stepper.kernels["exact"][1] == "onnx"                 # the trained stepper is left as it was


def test_onnx_kernel_can_be_turned_off(tmp_path, monkeypatch):
    model, _, _ = load_checkpoint(random_checkpoint(tmp_path / "ck", "lstm", "char", AUSTEN[:5000], hidden=16))
    monkeypatch.setenv("CHARGEN_BF16", "0")
    monkeypatch.setenv("CHARGEN_ONNX", "0")
    assert not onnxstep.available()
    stepper = FastStepper(model)
    assert "onnx" not in set(stepper.kernels["exact"].values()) | set(stepper.kernels["search"].values())
    monkeypatch.setenv("CHARGEN_ONNX", "1")
    assert onnxstep.available()


def test_cli_export_onnx(tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["export", "--format", "onnx", "--no-int8", "--checkpoint", str(CHECKPOINTS / "default"),
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "step.onnx" in said and "matches the model" in said
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["files"]) - {"words"} == {"fp32", "tokenizer"} and "command" in m["source"]
    assert main(["export", "--format", "onnx", "--checkpoint", str(CHECKPOINTS / "default"), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    rows = np.zeros((2, m["model"]["state_size"]), np.float32)
    logits, new = OnnxStep(out / "step.onnx").step_rows([3, 4], rows)
    assert logits.shape == (2, m["model"]["vocab_size"]) and new.shape == rows.shape
