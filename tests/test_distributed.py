"""torchrun / DistributedDataParallel on the CPU (gloo): two processes with one thread each train
like one process with the same global batch, resume exactly, and only rank 0 writes files."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from chargen.checkpoint import load_checkpoint
from chargen.distributed import Dist
from chargen.evaluate import stream_loss
from chargen.model import CharLM, ModelConfig
from chargen.stopping import StopFlag
from chargen.train import TrainConfig, train
from chargen.training import SYNC_EVERY, Run
from conftest import ENGLISH

ROOT = Path(__file__).resolve().parent.parent
TRAIN = dict(batch_size=4, bptt_len=16, lr=1e-2, max_minutes=0, max_steps=40, eval_interval=10, patience=0,
             threads=1, warmup_steps=5, precision="fp32")
MODEL = dict(num_layers=1, hidden_size=32, embed_size=16, dropout=0.0)


def _flags(conf: dict) -> list[str]:
    return [a for k, v in conf.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def _torchrun(*args, timeout=180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[:3000] + "\n...\n" + r.stderr[-3000:]
    return r


def _cli_train(corpus, out, train_conf, model_conf, *extra):
    return _torchrun("-m", "chargen", "train", "--corpus", str(corpus), "--out", str(out),
                     *_flags(train_conf), *_flags(model_conf), *extra)


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _assert_same_weights(a, b, atol):
    wa, wb = load_checkpoint(a)[0].state_dict(), load_checkpoint(b)[0].state_dict()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=atol, rtol=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    p = tmp_path_factory.mktemp("corpus") / "english.txt"
    p.write_text(ENGLISH * 20, encoding="utf-8")
    return p


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch_and_only_rank_0_writes(
        tmp_path, corpus, keep_torch_threads):
    one = train(TrainConfig(corpus=[str(corpus)], out=str(tmp_path / "one"), progress=False, **TRAIN),
                ModelConfig(**MODEL))
    r = _cli_train(corpus, tmp_path / "two", TRAIN, MODEL)
    two = _records(tmp_path / "two")
    evals_one = [m["val_nats"] for m in _records(tmp_path / "one") if m["event"] == "eval"]
    evals_two = [m["val_nats"] for m in two if m["event"] == "eval"]
    assert len(evals_two) == len(evals_one) == 5
    np.testing.assert_allclose(evals_two, evals_one, atol=1e-4)      # fp32; only the sum order differs
    assert evals_two[-1] < evals_two[0] - 0.5                          # and it did learn
    _assert_same_weights(tmp_path / "one" / "last", tmp_path / "two" / "last", atol=1e-4)
    config = json.loads((tmp_path / "two" / "last" / "config.json").read_text())
    assert config["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert config["train"]["batch_size"] == 4 and one["batch_size"] == 4       # the global batch
    # rank 0 alone writes: one record of each kind, one report line, nothing stray in the run dir
    assert [m["event"] for m in two].count("end") == 1
    assert [m["step"] for m in two if m["event"] == "eval"] == [0, 10, 20, 30, 40]
    assert r.stdout.count("planned steps done after 40 steps") == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["best", "data", "last", "metrics.jsonl"]
    assert sorted(p.name for p in (tmp_path / "two" / "data").iterdir()) == ["meta.json", "train.bin", "val.bin"]


@pytest.mark.slow
def test_interrupted_two_process_run_resumes_exactly(tmp_path, corpus):
    conf, model = {**TRAIN, "precision": "auto"}, {**MODEL, "dropout": 0.2}   # per-rank dropout RNG
    _cli_train(corpus, tmp_path / "full", conf, model)
    _torchrun(str(ROOT / "tests" / "_ddp_interrupt.py"), str(corpus), str(tmp_path / "part"), "--at", "17",
              "--config", json.dumps({"train": {**conf, "progress": False}, "model": model}), "--report", str(tmp_path))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert sorted(x["rank"] for x in ranks) == [0, 1]
    at = -(-17 // SYNC_EVERY) * SYNC_EVERY          # rank 1's signal stops both at their next agreement
    assert all(x["step"] == at and x["stop_reason"] == "interrupted" for x in ranks), ranks
    state = torch.load(tmp_path / "part" / "last" / "trainer_state.pt", weights_only=True)
    assert state["hidden"][0].shape == (1, 4, 32) and len(state["rng_ranks"]) == 2   # the global batch's rows
    _torchrun("-m", "chargen", "train", "--out", str(tmp_path / "part"), "--resume")
    full, part = _records(tmp_path / "full"), _records(tmp_path / "part")
    assert part[-1]["step"] == 40
    assert part[-1]["last"]["val_nats"] == pytest.approx(full[-1]["last"]["val_nats"], abs=1e-6)
    _assert_same_weights(tmp_path / "full" / "last", tmp_path / "part" / "last", atol=1e-6)


def test_a_global_batch_that_does_not_split_is_refused(tmp_path, corpus):
    cfg = TrainConfig(corpus=[str(corpus)], out=str(tmp_path / "run"), batch_size=5, progress=False)
    with pytest.raises(ValueError, match="--batch-size 5 is the global batch, shared by 2 processes"):
        Run(Dist(torch.device("cpu"), rank=0, world_size=2), cfg, ModelConfig(**MODEL), StopFlag())


def test_validation_shards_sum_to_the_whole():
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=20, **MODEL))
    ids = np.random.default_rng(0).integers(0, 20, 5000)
    whole = stream_loss(model, ids, n_scored=4000)
    for world in (2, 3):
        parts = [stream_loss(model, ids, n_scored=4000, shard=(r, world)) for r in range(world)]
        assert sum(n for _, n in parts) == whole[1] == 4000
        assert sum(t for t, _ in parts) == pytest.approx(whole[0], rel=1e-5)
    tiny = [stream_loss(model, ids[:300], shard=(r, 2)) for r in range(2)]   # one row: rank 1 idles
    assert tiny[1] == (0.0, 0) and tiny[0][1] == 299
