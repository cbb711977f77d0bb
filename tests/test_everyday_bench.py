"""bench/everyday.py's parts on tiny text (no corpora cache needed): the bigram baseline as a kebbie
engine, kebbie's clean (noise-free) run, the per-domain files and KSR text, pooling, and a small
seeded run of the bundled default that gives the same figures twice."""
import sys
from pathlib import Path

import pytest

from chargen import typing_bench as tb  # noqa: E402

tb.stub_modules()
pytest.importorskip("kebbie")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import everyday  # noqa: E402

from chargen.baselines import BigramCompleter  # noqa: E402

TEXT = ("I will see you tomorrow at the station.\nWe can talk about the report then.\n"
        "Please send me the report before lunch.\nSee you tomorrow, and thanks for the help!\n") * 3


def test_bigram_engine_predicts_and_completes_from_its_text():
    e = everyday.CompleterEngine(BigramCompleter.fit(TEXT))
    assert e.predict_next_word("I will see you ")[0] == "tomorrow"
    assert "report" in e.predict_next_word("send me the ")
    assert e.auto_complete("I will see you ", [], "tom") == ["tomorrow"]
    assert e.auto_correct("", [], "teh") == ["teh"]                       # clean typing: nothing corrected


def test_clean_run_counts_every_word_without_typos():
    sents = {"a": ["I will see you tomorrow at the station", "Please send me the report before lunch"]}
    bigram = everyday.CompleterEngine(BigramCompleter.fit(TEXT))
    r = everyday.kebbie_clean(bigram, sents, seed=0)["a"]
    assert r["n_next_word"] == 7 + 6                        # every word but each sentence's first
    assert r["n_completion"] == 14 and r["next_word_top3"] == 1.0  # words of 2+ letters; all seen after their word
    assert r["completion_top3"] > 0.9
    unseen = everyday.kebbie_clean(bigram, {"b": ["Quantum flux capacitors overheat rapidly"]}, seed=0)["b"]
    assert unseen["next_word_top3"] == 0.0 and unseen["completion_top3"] == 0.0


def test_domains_files_ksr_text_and_pooling(tmp_path):
    for name in everyday.DOMAINS.values():
        (tmp_path / name).write_text(TEXT, encoding="utf-8")
    d = everyday.load_domains(tmp_path, ["chatterbot", "django"], 3, 50, seed=1)
    assert len(d["django"]["sentences"]) == 3 and d["django"]["sentences"] == d["chatterbot"]["sentences"]
    assert d["django"]["ksr_text"] == "I will see you tomorrow at the station.\n"   # cut back to a line end
    assert everyday.ksr_text("short", 50) == "short"
    rows = {"x": {"next_word_top3": 0.5, "n_next_word": 10, "completion_top3": 1.0, "n_completion": 2,
                  "ksr": 0.5, "keystrokes": 50, "keys_without_help": 100},
            "y": {"next_word_top3": 0.0, "n_next_word": 30, "completion_top3": 0.5, "n_completion": 2,
                  "ksr": 0.0, "keystrokes": 300, "keys_without_help": 300}}
    p = everyday.pooled(rows)
    assert p["next_word_top3"] == pytest.approx(5 / 40) and p["completion_top3"] == pytest.approx(0.75)
    assert p["ksr"] == pytest.approx(1 - 350 / 400)


def test_default_model_run_is_seeded_and_in_range(tmp_path):
    for name in everyday.DOMAINS.values():
        (tmp_path / name).write_text(TEXT, encoding="utf-8")
    runs, rows = [], {}
    for _ in range(2):
        domains = everyday.load_domains(tmp_path, ["jargon"], 3, 120, seed=0)
        engines = everyday.build_engines({"old": str(ROOT / "checkpoints" / "default")}, {"tiny": TEXT})
        rows = everyday.measure(engines, domains, seed=0)
        runs.append({(n, d, k): v for n, r in rows.items() for d, m in r.items() for k, v in m.items()
                     if k != "suggest_ms_p50"})                          # timings differ run to run
    assert runs[0] == runs[1] and runs[0]
    assert set(rows) == {"old", "bigram-tiny"}
    for r in rows.values():
        for key in ("next_word_top3", "completion_top3", "ksr"):
            assert 0.0 <= r["jargon"][key] <= 1.0 and r["all"][key] == pytest.approx(r["jargon"][key])
    assert rows["bigram-tiny"]["jargon"]["next_word_top3"] == 1.0    # its own training text
    assert rows["old"]["jargon"]["n_next_word"] == rows["bigram-tiny"]["jargon"]["n_next_word"] > 0
    table = everyday.markdown(rows, ["jargon"])
    assert "| old |" in table and "x |" in table                       # the KSR ratio to the bigram
