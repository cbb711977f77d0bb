"""--device: auto picks CUDA when present; training on a CUDA GPU (bf16 autocast, cuDNN LSTM) gives
checkpoints a CPU-only machine loads. The GPU tests skip cleanly where there is no GPU (CI)."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from chargen.checkpoint import load_checkpoint
from chargen.distributed import resolve_device
from chargen.evaluate import stream_loss
from chargen.model import ModelConfig
from chargen.train import TrainConfig, train
from conftest import tiny_train_config

ROOT = Path(__file__).resolve().parent.parent
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _tiny(**kw):
    return ModelConfig(**{**dict(num_layers=2, hidden_size=32, embed_size=16, dropout=0.0), **kw})


def test_auto_device_follows_cuda_availability():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, english_file, keep_torch_threads):
    with pytest.raises(ValueError, match="--device cuda: no CUDA GPU"):
        train(tiny_train_config(english_file, tmp_path / "run", device="cuda"), _tiny())


def test_cpu_device_is_recorded(tmp_path, english_file, keep_torch_threads):
    s = train(tiny_train_config(english_file, tmp_path / "run", device="cpu", max_steps=5), _tiny())
    assert s["device"] == "cpu"
    assert load_checkpoint(tmp_path / "run" / "last")[2]["device"] == "cpu"


@needs_cuda
def test_trains_on_cuda_in_bf16_and_the_checkpoint_loads_on_cpu(tmp_path, english_file, keep_torch_threads):
    s = train(tiny_train_config(english_file, tmp_path / "run", device="cuda", max_steps=60), _tiny(dropout=0.1))
    assert s["device"].startswith("cuda") and s["precision"] == "bf16"
    assert s["history"][0]["step"] == 0 and s["history"][-1]["val_nats"] < s["history"][0]["val_nats"]
    assert s["last"]["val_nats"] < s["history"][0]["val_nats"] - 0.5, s["history"]   # it learned
    model, tok, config = load_checkpoint(tmp_path / "run" / "last")   # a CPU-only load
    assert all(p.device.type == "cpu" for p in model.parameters())
    from chargen.data import prepare_corpus
    data = prepare_corpus([str(english_file)], "char", tmp_path / "run" / "data", tokenizer=tok)
    import numpy as np
    stream = np.concatenate([np.asarray(data.train_ids[-256:]), np.asarray(data.val_ids)])
    cpu_nats, n = stream_loss(model, stream, n_scored=len(data.val_ids))
    gpu_nats, _ = stream_loss(model.cuda(), stream, n_scored=len(data.val_ids))
    assert gpu_nats / n == pytest.approx(cpu_nats / n, abs=2e-3)         # TF32 on the GPU at most
    assert config["metrics"]["val_nats"] == pytest.approx(cpu_nats / data.meta["val_chars"], abs=2e-3)


@needs_cuda
def test_interrupted_cuda_run_resumes(tmp_path, english_file, keep_torch_threads):
    def interrupt(step, info):
        if step == 17:
            signal.raise_signal(signal.SIGINT)
    part = train(tiny_train_config(english_file, tmp_path / "run", device="cuda"), _tiny(), callback=interrupt)
    assert part["step"] == 17
    resumed = train(TrainConfig(out=str(tmp_path / "run"), resume=True, progress=False, threads=1, device="cuda"))
    assert resumed["step"] == 40 and resumed["last"]["val_nats"] < resumed["history"][0]["val_nats"] - 0.3


@needs_cuda
def test_torchrun_on_one_gpu_uses_nccl(tmp_path, english_file):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m", "chargen",
           "train", "--corpus", str(english_file), "--out", str(tmp_path / "run"), "--device", "cuda",
           "--max-steps", "20", "--max-minutes", "0", "--hidden-size", "32", "--num-layers", "1",
           "--batch-size", "4", "--bptt-len", "16"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "last" / "config.json").read_text())
    assert config["device"].startswith("cuda") and config["distributed"] == {"world_size": 1, "backend": "nccl"}
