"""Shared fixtures: tiny texts and tiny models, so every test takes seconds."""
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
torch.set_num_threads(min(2, os.cpu_count() or 1))

ENGLISH = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
           "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n")
KOREAN = "국민대학교에 갑니다. 영화 정말 재밌어요! ㅋㅋㅋ 배우들 연기가 최고였어요.\n"


def tiny_train_config(corpus, out, **kw):
    """A TrainConfig for a tiny run: 40 steps of 4 x 16, validating every 10, no budget, one thread."""
    from chargen.train import TrainConfig
    base = dict(corpus=[str(corpus)], out=str(out), batch_size=4, bptt_len=16, lr=1e-2, max_minutes=0,
                max_steps=40, eval_interval=10, patience=0, progress=False, threads=1, warmup_steps=5)
    return TrainConfig(**{**base, **kw})


@pytest.fixture
def english_file(tmp_path):
    p = tmp_path / "english.txt"
    p.write_text(ENGLISH * 20, encoding="utf-8")
    return p


@pytest.fixture
def korean_file(tmp_path):
    p = tmp_path / "korean.txt"
    p.write_text(KOREAN * 40, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def keep_torch_threads():
    """Training sets torch's process-wide thread count (to 1, as the app does): restore it after."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
