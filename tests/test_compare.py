"""``chargen compare`` end to end on a tiny budget (seconds): every cell at two truncation lengths plus
the runs without clipping, parameters matched, the report folder complete; and the matching itself."""
import json

import pytest

from chargen.cli import main
from chargen.compare import CompareConfig, count_params, matched_hidden
from chargen.report import find_reports, load_report, report_body


def test_matched_hidden_sizes():
    target = count_params("lstm", 64, 2, 64, 50)
    for cell in ("gru", "rnn"):
        h = matched_hidden(cell, target, 2, 64, 50)
        here = abs(count_params(cell, h, 2, 64, 50) - target)
        assert here <= min(abs(count_params(cell, h + d, 2, 64, 50) - target) for d in (-1, 1))
        assert here / target < 0.02
    assert matched_hidden("lstm", target, 2, 64, 50) == 64
    assert matched_hidden("rnn", target, 2, 64, 50) > matched_hidden("gru", target, 2, 64, 50) > 64


def test_compare_end_to_end(tmp_path, english_file, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--corpus", str(english_file), "--out", str(out), "--cells", "rnn", "gru", "lstm",
            "--bptt-len", "8", "16", "--minutes", "0", "--max-steps", "15", "--hidden-size", "16", "--num-layers", "1",
            "--influence-distance", "30", "--influence-positions", "8", "--exposure-k", "0", "1", "4",
            "--exposure-positions", "32", "--sample-length", "40", "--threads", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "best val bpc" in printed and "report.html" in printed
    report = json.loads((out / "report.json").read_text())
    runs = {r["name"]: r for r in report["runs"]}
    assert set(runs) == {f"{c}-bptt{t}" for c in ("rnn", "gru", "lstm") for t in (8, 16)} | \
        {"rnn-noclip", "gru-noclip", "lstm-noclip"}
    lstm_params = runs["lstm-bptt8"]["params"]
    for r in runs.values():
        assert abs(r["params"] - lstm_params) / lstm_params < 0.05, r["name"]
        assert r["steps"] == 15 and len(r["grad_norms"]) == 15 and r["history"]
        assert r["grad_clip"] == (0.0 if r["role"] == "no clip" else 1.0)
    for name in ("rnn-bptt8", "lstm-bptt16"):
        r = runs[name]
        assert len(r["influence"]["distance"]) == 30 and r["influence"]["relative"][0] == 1.0
        assert [e["k"] for e in r["exposure"]] == [0, 1, 4] and r["sample"]
        assert r["final_val_bpc"] > 0 and r["cells"]
    assert runs["rnn-bptt8"]["saturation"] == {} and set(runs["gru-bptt8"]["saturation"]["0"]) == {"r", "z"}
    assert "noclip" not in str([r["name"] for r in report["runs"] if "influence" in r])
    for png in report["figures"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count("<img") == 4 and "Teacher forcing against free running" in page and "lstm-bptt16" in page
    assert (out / "runs" / "gru-noclip" / "best" / "model.safetensors").exists()
    saved = json.loads((out / "runs" / "gru-noclip" / "best" / "config.json").read_text())["train"]
    assert saved["held_out_chars"] == 0                 # no keyboard mixture to fit: every cell trains on it all
    assert find_reports([tmp_path]) == [(f"{tmp_path.name}/cmp", out)]
    assert 'src="data:x"' in report_body(load_report(out), image_src=lambda name: "data:x")
    from chargen.catalog import Catalog
    from chargen.web.inside_view import InsideViews
    views = InsideViews(Catalog(tmp_path / "none"), [tmp_path])          # the app's Inside tab shows it
    assert views.reports() == [f"{tmp_path.name}/cmp"]
    shown = views.report(f"{tmp_path.name}/cmp")
    assert shown.count('src="data:image/png;base64,iVBOR') == 4 and "lstm-bptt16" in shown
    assert main(argv) == 2                                              # never over an earlier comparison
    assert "already holds a comparison" in capsys.readouterr().err


@pytest.mark.parametrize("bad, match", [(dict(cells=["lstm", "transformer"]), "--cells"),
                                        (dict(bptt_len=[0]), "--bptt-len"), (dict(corpus=[]), "--corpus"),
                                        (dict(minutes=0), "--max-steps")])
def test_compare_refuses_bad_settings(bad, match):
    cfg = CompareConfig(**{**dict(corpus=["x.txt"], out="o"), **bad})
    with pytest.raises(ValueError, match=match):
        cfg.validate()
