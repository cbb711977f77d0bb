"""A worker for test_distributed: one rank of a torchrun job that trains like the CLI would, and
rank ``--signal-rank`` alone gets SIGINT after step ``--at`` (the other must stop with it).

    python -m torch.distributed.run --nproc_per_node=2 tests/_ddp_interrupt.py CORPUS OUT --at 17 \
        --config '{"train": {...}, "model": {...}}' --report DIR
"""
import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from chargen.model import ModelConfig  # noqa: E402
from chargen.train import TrainConfig, train  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("corpus")
p.add_argument("out")
p.add_argument("--at", type=int, required=True)
p.add_argument("--signal-rank", type=int, default=1)
p.add_argument("--config", required=True, help="JSON: {'train': {...}, 'model': {...}}")
p.add_argument("--report", required=True, help="folder for each rank's rank<N>.json (stdout interleaves)")
a = p.parse_args()
conf = json.loads(a.config)
rank = int(os.environ["RANK"])


def interrupt(step, info):
    if step == a.at and rank == a.signal_rank:
        signal.raise_signal(signal.SIGINT)        # what Ctrl-C on one worker does


s = train(TrainConfig(corpus=[a.corpus], out=a.out, **conf["train"]), ModelConfig(**conf["model"]),
          callback=interrupt, log=lambda m: print(m, file=sys.stderr))
Path(a.report, f"rank{rank}.json").write_text(json.dumps({"rank": rank, "step": s["step"],
                                                           "stop_reason": s["stop_reason"]}))
