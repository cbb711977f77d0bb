"""Background training jobs: a tiny run completes and lands in the catalog; bad corpora fail with a
clear message; one job at a time; Cancel; limits and names."""
import json
import time

import pytest

from conftest import ENGLISH

from chargen.catalog import Catalog
from chargen.jobs import JobError, JobManager, safe_name

TEXT = ENGLISH * 20


@pytest.fixture(autouse=True, scope="module")
def _keep_torch_threads(keep_torch_threads):
    yield


def wait_for(jobs: JobManager, states, timeout=60.0):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        snap = jobs.snapshot()
        if snap and snap["state"] in states:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"job still {jobs.snapshot()['state']} after {timeout} s")


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "my novel.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def test_a_tiny_run_completes_and_appears_in_the_catalog(tmp_path, corpus):
    root = tmp_path / "checkpoints"
    jobs = JobManager(root)
    job = jobs.start([corpus], tokenizer="char", preset="tiny", minutes=0, max_steps=120)
    assert job.name == "my-novel"
    snap = wait_for(jobs, ("done", "failed"))
    assert snap["state"] == "done", snap["error"]
    assert snap["result"] == "my-novel" and snap["progress"] == 1.0
    assert "finished" in snap["message"] and "val bpc" in snap["message"]
    series = {r["series"] for r in snap["curve"]}
    assert series == {"train bpc", "val bpc"}
    assert snap["samples"] and all(isinstance(t, str) and t for _, t in snap["samples"])
    assert Catalog(root).names() == ["my-novel"]
    kept = sorted(p.name for p in (root / "my-novel").iterdir())
    assert kept == ["best", "last", "metrics.jsonl"]              # no tokenized data, no corpus copy
    assert not any((root / ".training").iterdir())
    # the same name again gets a suffix instead of overwriting
    assert jobs.start([corpus], preset="tiny", minutes=0, max_steps=10).name == "my-novel-2"
    assert wait_for(jobs, ("done", "failed"))["state"] == "done"
    assert Catalog(root).names() == ["my-novel", "my-novel-2"]


@pytest.mark.parametrize("content, expected", [
    (b"caf\xe9 au lait, " * 20, ["bad.txt is not valid utf-8", "byte offset 3"]),
    (b"", ["empty", "bad.txt"]),
    (b"\x00\x01\x02binary" * 50, ["bad.txt", "binary"]),
    (b"too short", ["too small"]),
])
def test_bad_corpora_fail_with_a_clear_message(tmp_path, content, expected):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    jobs = JobManager(tmp_path / "checkpoints")
    jobs.start([bad], preset="tiny", minutes=1)
    snap = wait_for(jobs, ("done", "failed", "cancelled"))
    assert snap["state"] == "failed"
    for text in expected:
        assert text in snap["error"], snap["error"]
    assert "Traceback" not in snap["error"] and ".training" not in snap["error"]   # no private paths
    assert Catalog(tmp_path / "checkpoints").names() == []


def test_one_job_at_a_time_and_cancel(tmp_path, corpus):
    root = tmp_path / "checkpoints"
    jobs = JobManager(root)
    jobs.start([corpus], preset="tiny", minutes=1)
    with pytest.raises(JobError, match="already in progress"):
        jobs.start([corpus], preset="tiny", minutes=1)
    wait_for(jobs, ("training",))
    t = time.monotonic()
    assert jobs.cancel()
    snap = wait_for(jobs, ("cancelled", "done", "failed"), timeout=20)
    assert snap["state"] == "cancelled" and time.monotonic() - t < 10
    assert not jobs.busy() and not jobs.cancel()
    assert not any((root / ".training").iterdir())
    # a run cancelled after a validation keeps what it learned; before one, nothing is kept
    assert Catalog(root).names() in ([], ["my-novel"])


def test_requests_are_checked_before_starting(tmp_path, corpus):
    jobs = JobManager(tmp_path / "checkpoints", max_upload_bytes=1000, corpora_dir=tmp_path / "corpora")
    with pytest.raises(JobError, match="upload one or more"):
        jobs.start([])
    with pytest.raises(JobError, match="limit"):
        jobs.start([corpus])
    with pytest.raises(JobError, match="tokenizer"):
        jobs.start([corpus], tokenizer="words")
    with pytest.raises(JobError, match="preset"):
        jobs.start([corpus], preset="huge")
    with pytest.raises(JobError, match="bundled"):
        jobs.start(bundled="../my novel.txt")
    assert jobs.snapshot() is None and jobs.bundled_corpora() == {}


def test_bundled_corpora_files_and_folders(tmp_path, corpus):
    corpora = tmp_path / "corpora"
    (corpora / "plays").mkdir(parents=True)
    (corpora / "shakespeare.txt").write_text(TEXT, encoding="utf-8")
    (corpora / "plays" / "b.txt").write_text(TEXT[:2000], encoding="utf-8")
    (corpora / "plays" / "a.txt").write_text(TEXT[2000:], encoding="utf-8")
    (corpora / "README.md").write_text("not a corpus")
    (corpora / "empty").mkdir()
    jobs = JobManager(tmp_path / "checkpoints", corpora_dir=corpora, max_upload_bytes=len(TEXT))
    assert list(jobs.bundled_corpora()) == ["plays", "shakespeare.txt"]
    jobs.start(bundled="plays", preset="tiny", minutes=0, max_steps=20)    # over the upload limit: fine
    snap = wait_for(jobs, ("done", "failed"))
    assert snap["state"] == "done" and snap["files"] == ["plays/a.txt", "plays/b.txt"], snap["error"]
    assert snap["name"] == "plays"
    jobs.start([corpus], bundled="shakespeare.txt", preset="tiny", minutes=0, max_steps=20)
    snap = wait_for(jobs, ("done", "failed"))
    assert snap["files"] == ["my novel.txt", "shakespeare.txt"] and snap["name"] == "my-novel", snap["error"]


def test_safe_name():
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name(".hidden") == "hidden"
    assert safe_name("") == "model" and safe_name("///") == "model"
    assert safe_name("소설 모음") == "소설-모음"
    assert len(safe_name("x" * 200)) == 64


def test_a_run_can_start_from_a_listed_model(tmp_path, corpus):
    root = tmp_path / "checkpoints"
    jobs = JobManager(root)
    jobs.start([corpus], preset="tiny", minutes=0, max_steps=30)
    assert wait_for(jobs, ("done", "failed"))["state"] == "done"
    parent = Catalog(root).resolve("my-novel")
    job = jobs.start([corpus], name="tuned", preset="small", tokenizer="bpe", minutes=0, max_steps=20,
                     init_from=str(parent))           # its parent's size and tokenizer, whatever the form says
    snap = wait_for(jobs, ("done", "failed"))
    assert snap["state"] == "done", snap["error"]
    assert job.name == "tuned" and snap["curve"][0]["step"] == 0          # the curve starts at the parent's loss
    config = json.loads((root / "tuned" / "best" / "config.json").read_text())
    assert config["parent"]["path"] == str(parent) and config["model"] == json.loads(
        (parent / "config.json").read_text())["model"]
