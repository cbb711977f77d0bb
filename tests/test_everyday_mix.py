"""corpora/everyday/build.py --mixed: every document of the built training set once, in a seeded order
(long ones cut at whole lines), the doubtful source left out on request; no training set, one error."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("everyday_build", ROOT / "corpora" / "everyday" / "build.py")
build = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = build                  # its dataclasses look their module up
spec.loader.exec_module(build)


def test_mixed_keeps_every_document_once_in_a_seeded_order(tmp_path):
    src = tmp_path / "train"
    src.mkdir()
    doubtful = next(s.out for s in build.TRAIN if s.doubtful)
    (src / "a.txt").write_text("\n\n".join(f"doc a{i}\nline two" for i in range(20)) + "\n")
    (src / "b.txt").write_text("\n".join(f"long line {i} " + "x" * 40 for i in range(60)) + "\n")
    (src / doubtful).write_text("doubtful mail\n")
    build.mix(src, tmp_path / "m1.txt", exclude_doubtful=True, most=500)
    build.mix(src, tmp_path / "m2.txt", exclude_doubtful=True, most=500)
    text = (tmp_path / "m1.txt").read_text()
    assert text == (tmp_path / "m2.txt").read_text() and "doubtful mail" not in text
    docs = text.strip("\n").split("\n\n")
    assert sorted(d for d in docs if d.startswith("doc a")) == sorted(f"doc a{i}\nline two" for i in range(20))
    long_parts = [d for d in docs if d.startswith("long line")]
    assert len(long_parts) > 1 and all(len(d) <= 500 for d in long_parts)
    assert sorted(l for d in long_parts for l in d.split("\n")) == sorted((src / "b.txt").read_text().split("\n")[:-1])
    assert [d[:8] for d in docs] != sorted(d[:8] for d in docs)                   # shuffled, not in file order


def test_no_training_set_is_one_error_and_writes_nothing(tmp_path):
    with pytest.raises(SystemExit, match="no training set"):
        build.mix(tmp_path / "missing", tmp_path / "out" / "m.txt", exclude_doubtful=False)
    assert not (tmp_path / "out").exists()
