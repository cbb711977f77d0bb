import json

import pytest

from chargen.cli import main


def test_train_sample_eval_info(tmp_path, english_file, capsys):
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(english_file), "--out", str(run), "--max-steps", "30", "--max-minutes", "0",
                 "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--bptt-len", "16",
                 "--threads", "1", "--no-tie-weights"]) == 0
    assert "nats/char" in capsys.readouterr().out
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["command"].startswith("python -m chargen train --corpus")
    assert config["model"]["hidden_size"] == 16 and config["train"]["max_steps"] == 30

    assert main(["sample", "--checkpoint", str(run), "--prompt", "All:", "--length", "40", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert main(["sample", "--checkpoint", str(run), "--prompt", "All:", "--length", "40", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first and first.startswith("All:")

    assert main(["eval", "--checkpoint", str(run), "--text", str(english_file), "--json", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "nats/char" in out and "bits/char" in out
    assert json.loads((tmp_path / "m.json").read_text())["val_bpc"] > 0

    assert main(["info", "--checkpoint", str(run)]) == 0
    assert "1 x 16 LSTM" in capsys.readouterr().out

    for bad in (["--top-k", "-1"], ["--top-p", "0"], ["--temperature", "0"], ["--length", "-3"]):
        assert main(["sample", "--checkpoint", str(run), *bad]) == 2
        assert "invalid sampling settings" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["sample", "--checkpoint", "/nonexistent/ckpt"], "does not exist"),
    (["train", "--out", "x"], "--corpus"),
    (["train", "--corpus", "/nonexistent.txt", "--out", "x"], "does not exist"),
    (["info", "--checkpoint", "."], "not a chargen checkpoint"),
    (["train", "--corpus", "x.txt", "--out", "r", "--bptt-len", "0"], "--bptt-len 0 is out of range"),
    (["train", "--corpus", "x.txt", "--out", "r", "--hidden-size", "0", "--max-steps", "1"], "hidden_size must be"),
])
def test_errors_are_one_clear_line(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.txt").write_text("Speak, speak. We are resolved. " * 40)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and "Traceback" not in err


def test_non_utf8_corpus_message(tmp_path, capsys):
    p = tmp_path / "cp949.txt"
    p.write_bytes(("한국어 리뷰입니다 " * 30).encode("cp949"))
    assert main(["train", "--corpus", str(p), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "byte offset" in err and "--encoding cp949" in err


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--corpus", "--tokenizer", "--cell", "--max-minutes", "--resume", "--hidden-size", "--dropout",
                 "--bptt-len", "--precision", "--tie-weights"):
        assert flag in out


def test_suggest_one_shot_and_piped(tmp_path, english_file, capsys, monkeypatch):
    import io
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(english_file), "--out", str(run), "--max-steps", "20", "--max-minutes", "0",
                 "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--bptt-len", "16", "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["suggest", "--checkpoint", str(run), "--text", "All: spe", "-n", "2"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("next: ") and "words: spe" in line
    monkeypatch.setattr("sys.stdin", io.StringIO("First\nAll: \n"))
    assert main(["suggest", "--checkpoint", str(run)]) == 0
    assert capsys.readouterr().out.count("next: ") == 2


def test_eval_ksr(tmp_path, english_file, capsys):
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(english_file), "--out", str(run), "--max-steps", "20", "--max-minutes", "0",
                 "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--bptt-len", "16", "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run), "--text", str(english_file), "--ksr", "--max-chars", "300",
                 "--json", str(tmp_path / "k.json")]) == 0
    out = capsys.readouterr().out
    assert "keystroke savings" in out and "oracle" in out
    k = json.loads((tmp_path / "k.json").read_text())
    assert 0 <= k["ksr"] <= k["oracle_ksr"] < 1


def test_eval_ksr_scores_the_suggestion_bars_engine(tmp_path, english_file, capsys):
    # the app's engine: the checkpoint's word statistics and the session cache; --no-words leaves
    # the statistics out (an ablation)
    from chargen.keystrokes import ModelEngine, keystroke_savings
    from chargen.predictor import Predictor
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(english_file), "--out", str(run), "--max-steps", "30", "--max-minutes", "0",
                 "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--bptt-len", "16", "--threads", "1"]) == 0
    assert (run / "best" / "words.json").exists()
    text = english_file.read_text()[:400]
    for flags, engine in (([], Predictor.from_checkpoint(run)), (["--no-words"], Predictor.from_checkpoint(run, words=None))):
        assert main(["eval", "--checkpoint", str(run), "--text", str(english_file), "--ksr", "--max-chars", "400",
                     "--json", str(tmp_path / "k.json"), *flags]) == 0
        k = json.loads((tmp_path / "k.json").read_text())
        assert k["ksr"] == keystroke_savings(ModelEngine(engine), text)["ksr"], flags
    assert "ksr=" in capsys.readouterr().err                 # the progress bar shows the running KSR


def test_export_ships_small_weights_that_load_back(tmp_path, english_file, capsys):
    import torch
    from chargen.checkpoint import load_checkpoint
    from chargen.evaluate import text_metrics
    run, out = tmp_path / "run", tmp_path / "ship"
    assert main(["train", "--corpus", str(english_file), "--out", str(run), "--max-steps", "20", "--max-minutes", "0",
                 "--hidden-size", "32", "--num-layers", "1", "--batch-size", "4", "--bptt-len", "16", "--threads", "1"]) == 0
    assert main(["export", "--checkpoint", str(run), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json", "words.json"]
    config = json.loads((out / "config.json").read_text())
    assert config["weights_dtype"] == "float16" and config["exported"]["command"].startswith("python -m chargen export")
    assert config["train"] == json.loads((run / "best" / "config.json").read_text())["train"]
    a, tok, _ = load_checkpoint(run)
    b, _, _ = load_checkpoint(out)
    assert all(p.dtype == torch.float32 for p in b.parameters())
    text = english_file.read_text()[:2000]
    assert abs(text_metrics(a, tok, text)["val_nats"] - text_metrics(b, tok, text)["val_nats"]) < 2e-3
    capsys.readouterr()
    assert main(["export", "--checkpoint", str(run), "--out", str(out)]) == 2          # never overwrites silently
    assert "--force" in capsys.readouterr().err


def test_korean_syllable_model_jamo_typing_and_composing(tmp_path, capsys):
    from conftest import KOREAN
    corpus = tmp_path / "ko.txt"
    corpus.write_text(KOREAN * 40, encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(corpus), "--out", str(run), "--max-steps", "20", "--max-minutes", "0",
                 "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--bptt-len", "16", "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run), "--text", str(corpus), "--ksr", "--jamo-typing", "--max-chars", "120",
                 "--json", str(tmp_path / "k.json")]) == 0
    assert "typed a jamo per key" in capsys.readouterr().out
    k = json.loads((tmp_path / "k.json").read_text())
    assert 0 <= k["jamo_typing_ksr"] <= k["jamo_typing_oracle_ksr"] < 1
    assert main(["suggest", "--checkpoint", str(run), "--text", "배우들 연기가 초", "--composing", "-n", "8"]) == 0
    words = capsys.readouterr().out.split("words: ")[1]
    assert "최고였어요" in words                       # 초 is on its way to 최 (ㅊ ㅗ ㅣ): the word statistics know it


def test_eval_typos(tmp_path, capsys):
    from chargen import typing_bench
    if not typing_bench.kebbie_available():              # .ci/run installs it
        pytest.skip("kebbie is not installed (pip install --no-deps kebbie==0.5.1)")
    text = tmp_path / "t.txt"
    text.write_text("Emma was very happy with the news. She went to see her father at once. "
                    "Mr. Knightley came in the evening and they talked for an hour.\n" * 3)
    assert main(["eval", "--text", str(text), "--typos", "--typo-sentences", "3", "--json", str(tmp_path / "t.json")]) == 0
    assert "F0.9" in capsys.readouterr().out
    t = json.loads((tmp_path / "t.json").read_text())
    assert 0 <= t["typos_precision"] <= 1 and t["typos_n_clean"] + t["typos_n_typo"] > 20


def test_eval_typos_refuses_what_it_cannot_type(tmp_path, capsys):
    text = tmp_path / "k.txt"
    text.write_text("영화 정말 재밌어요. 배우들 연기가 최고였어요.\n" * 5, encoding="utf-8")
    assert main(["eval", "--text", str(text), "--typos", "--json", str(tmp_path / "k.json")]) == 2
    assert "error: eval --typos types English" in capsys.readouterr().err
    assert not (tmp_path / "k.json").exists()
