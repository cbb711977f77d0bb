"""The checkpoint catalog: listing, skipping invalid directories, safe name resolution, caching."""
import logging
import os
import shutil

import pytest

from chargen.catalog import Catalog
from chargen.checkpoint import CheckpointError
from chargen.model import ModelConfig
from chargen.train import TrainConfig, train

TEXT = ("the cat sat on the mat. the dog sat on the log. a cat and a dog sat together.\n" * 40)


@pytest.fixture(autouse=True, scope="module")
def _keep_torch_threads(keep_torch_threads):
    yield


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny trained run (best/ and last/), trained once for the module."""
    d = tmp_path_factory.mktemp("catalog")
    (d / "c.txt").write_text(TEXT, encoding="utf-8")
    train(TrainConfig(corpus=[str(d / "c.txt")], out=str(d / "run"), max_steps=30, max_minutes=0,
                      threads=1, progress=False), ModelConfig(num_layers=1, hidden_size=16), log=lambda *_: None)
    return d / "run"


@pytest.fixture
def root(tmp_path, run_dir):
    r = tmp_path / "checkpoints"
    r.mkdir()
    shutil.copytree(run_dir, r / "zeta")               # a run dir: resolves to its best/
    shutil.copytree(run_dir / "best", r / "alpha")     # a bare checkpoint dir
    (r / "empty").mkdir()                              # not a checkpoint
    broken = r / "broken"
    shutil.copytree(run_dir / "best", broken)
    (broken / "config.json").write_text("{ not json")
    shutil.copytree(run_dir / "best", r / ".training")   # hidden: a run in progress
    (r / "notes.txt").write_text("a file, not a directory")
    return r


def test_lists_valid_checkpoints_and_logs_the_rest(root, caplog):
    with caplog.at_level(logging.WARNING, logger="chargen.catalog"):
        cat = Catalog(root)
        assert cat.names() == ["alpha", "zeta"]
        assert cat.names() == ["alpha", "zeta"]            # a second scan logs nothing new
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 2
    assert any("'broken'" in m and "corrupt" in m for m in skipped)
    assert any("'empty'" in m and "config.json" in m for m in skipped)
    assert cat.resolve("zeta").name == "best"


def test_default_is_preferred_then_the_first(root):
    cat = Catalog(root)
    assert cat.default_name() == "alpha"
    shutil.copytree(root / "zeta", root / "default")
    assert cat.names()[0] == "default" and cat.default_name() == "default"


def test_no_checkpoints(tmp_path):
    assert Catalog(tmp_path / "missing").names() == []
    assert Catalog(tmp_path / "missing").default_name() is None
    assert Catalog(tmp_path).default_name() is None


@pytest.mark.parametrize("name", ["../zeta", "/etc", "alpha/..", "a/b", "..", ".", "", ".training", "empty",
                                  "broken", "nope", "zeta\\..", "alpha.tmp", None, 3])
def test_names_outside_the_list_are_refused(root, name):
    with pytest.raises(CheckpointError):
        Catalog(root).predictor(name)


def test_traversal_to_a_real_checkpoint_is_refused(root, tmp_path, run_dir):
    # a valid checkpoint right next to the root: reachable by "../" but never loadable
    shutil.copytree(run_dir, tmp_path / "outside")
    with pytest.raises(CheckpointError):
        Catalog(root).resolve("../outside")
    with pytest.raises(CheckpointError):
        Catalog(root).resolve(str(tmp_path / "outside"))


def test_symlink_placed_by_the_operator_is_followed(root, run_dir):
    (root / "linked").symlink_to(run_dir)
    assert "linked" in Catalog(root).names()
    assert Catalog(root).resolve("linked").resolve() == (run_dir / "best").resolve()


def test_predictors_are_cached_and_reloaded_when_replaced(root):
    cat = Catalog(root, max_loaded=1)
    p = cat.predictor("alpha")
    assert cat.predictor("alpha") is p
    s = p.session("the c")
    assert s.suggest(3) and all(w.startswith("c") for w in s.suggest(3))
    cat.predictor("zeta")                 # evicts alpha (max_loaded=1)
    assert cat.predictor("alpha") is not p
    q = cat.predictor("alpha")
    os.utime(root / "alpha" / "config.json", ns=(1, 1))     # replaced on disk (a new mtime): reloaded
    assert cat.predictor("alpha") is not q


def test_loading_a_model_builds_its_typo_index_in_the_background(root):
    import time
    from chargen.vocab import Vocabulary
    p = Catalog(root).predictor("alpha")
    deadline = time.monotonic() + 20
    while getattr(p, "_vocabulary", None) is None or p._vocabulary._hashes is None:
        assert time.monotonic() < deadline, "the index was never built"
        time.sleep(0.05)
    v = Vocabulary.of(p)
    assert len(v.shown) > 0 and len(v._hashes) >= len(v.shown)       # the corpus' words, each indexed
    assert "cat" in [v.shown[i] for i in v.near("czt").tolist()]
