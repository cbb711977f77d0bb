"""The command line's adaptation: ``eval --adapt [--ksr]`` and ``suggest --profile FILE [--keep]``."""
import json
import re

import pytest

from chargen.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory, keep_torch_threads):
    from conftest import ENGLISH
    d = tmp_path_factory.mktemp("cli_adapt")
    corpus = d / "english.txt"
    corpus.write_text(ENGLISH * 20, encoding="utf-8")
    out = d / "run"
    assert main(["train", "--corpus", str(corpus), "--out", str(out), "--max-steps", "150", "--max-minutes", "0",
                 "--hidden-size", "24", "--num-layers", "2", "--batch-size", "4", "--bptt-len", "16",
                 "--threads", "1"]) == 0
    return out


@pytest.fixture(autouse=True)
def gate_open(monkeypatch):
    """The surprise gate has its own tests (test_adapt): here it is held open, so that the tiny model,
    which every text surprises about as much as its own validation text, learns what it reads."""
    monkeypatch.setattr("chargen.adapt.surprise_gate", lambda loss, val_loss: 1.0)


def _bpc(line: str) -> float:
    return float(re.search(r"([\d.]+) bits/char", line).group(1))


def test_eval_adapt_prints_the_same_line_for_the_adapted_run(run, tmp_path, capsys):
    text = tmp_path / "other.txt"
    text.write_text("the zebra quietly jumped over the lazy dog again. " * 12, encoding="utf-8")
    assert main(["eval", "--checkpoint", str(run), "--text", str(text), "--adapt", "--adapt-lr", "0.01",
                 "--adapt-segment", "10", "--json", str(tmp_path / "m.json")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    static, adapted = lines[0], lines[1]
    assert adapted.startswith(f"{text} adapted: ") and "nats/char" in adapted and "updates (auto)" in adapted
    assert _bpc(adapted) < _bpc(static) - 0.1
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["adapted_bpc"] < m["val_bpc"] and m["adapt_steps"] > 10


def test_eval_adapt_ksr_learns_the_simulated_typing(run, tmp_path, capsys):
    text = tmp_path / "other.txt"
    text.write_text("the zebra quietly jumped over the lazy dog again. " * 8, encoding="utf-8")
    assert main(["eval", "--checkpoint", str(run), "--text", str(text), "--ksr", "--json", str(tmp_path / "s.json")]) == 0
    assert main(["eval", "--checkpoint", str(run), "--text", str(text), "--ksr", "--adapt", "--adapt-lr", "0.01",
                 "--adapt-segment", "10", "--json", str(tmp_path / "a.json")]) == 0
    assert "keystroke savings (adapted)" in capsys.readouterr().out
    static, adapted = (json.loads((tmp_path / f).read_text())["ksr"] for f in ("s.json", "a.json"))
    assert adapted >= static


def test_suggest_keeps_a_profile_only_when_asked_and_reloads_it(run, tmp_path, capsys):
    prof = tmp_path / "me.profile"
    typed = "The zebra zooms. The zebra zooms. The zebra zooms. The zebra zooms. and"
    assert main(["suggest", "--checkpoint", str(run), "--text", typed, "--profile", str(prof)]) == 2
    assert "does not exist" in capsys.readouterr().err                          # no profile yet, none made
    assert main(["suggest", "--checkpoint", str(run), "--text", typed, "--learn"]) == 0
    assert not prof.exists()
    assert main(["suggest", "--checkpoint", str(run), "--text", typed, "--profile", str(prof), "--keep"]) == 0
    assert prof.exists() and "kept:" in capsys.readouterr().err
    assert main(["suggest", "--checkpoint", str(run), "--text", "The ze", "--profile", str(prof), "-n", "3"]) == 0
    assert "zebra" in capsys.readouterr().out                                    # the user's word, remembered
    assert main(["suggest", "--checkpoint", str(run), "--text", "x", "--keep"]) == 2
    assert "--profile" in capsys.readouterr().err


def test_a_profile_of_another_model_is_one_clear_line(run, tmp_path, capsys, english_file):
    prof = tmp_path / "me.profile"
    assert main(["suggest", "--checkpoint", str(run), "--text", "All: speak, speak. ", "--profile", str(prof),
                 "--keep"]) == 0
    other = tmp_path / "other"
    assert main(["train", "--corpus", str(english_file), "--out", str(other), "--max-steps", "5", "--max-minutes", "0",
                 "--hidden-size", "24", "--num-layers", "2", "--batch-size", "4", "--bptt-len", "16",
                 "--threads", "1", "--seed", "7"]) == 0
    capsys.readouterr()
    assert main(["suggest", "--checkpoint", str(other), "--text", "All", "--profile", str(prof)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "another model" in err and "Traceback" not in err and len(err.splitlines()) == 1
    (tmp_path / "bad.profile").write_text("not a profile")
    assert main(["suggest", "--checkpoint", str(run), "--text", "All", "--profile", str(tmp_path / "bad.profile")]) == 2
    assert "not a chargen profile" in capsys.readouterr().err
