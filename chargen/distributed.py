"""Where training runs: the device (``--device auto|cpu|cuda``) and, under ``torchrun``, the
``torch.distributed`` process group (gloo on CPU, nccl on CUDA) with the few collectives the
training loop needs.

Usage:

    dist = setup("auto")          # reads RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR from torchrun
    if dist.is_main: write_files()
    loss = dist.mean(loss)        # all-reduced scalar (a no-op in a single process)
    dist.close()
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from . import cpu
from .data import open_prepared, prepare_corpus
from .model import map_state
from .tokenizer import load_tokenizer

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """auto: the GPU when CUDA is available, else the CPU; cuda: a GPU or a clear error."""
    if name not in DEVICES:
        raise ValueError(f"unknown --device {name!r}: choose one of {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device cuda: no CUDA GPU is visible to this torch ({torch.__version__}); "
                             f"use --device cpu (or auto)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is fast here (CUDA: Ampere or newer; CPU: AVX-512 BF16 / AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu.has_bf16()


@dataclass
class Dist:
    """This process's place in the job. With ``world_size`` 1 every collective is a no-op, so the
    training loop reads the same single- and multi-process."""
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str | None = None
    owns_group: bool = False          # we started the process group, so we end it

    @property
    def enabled(self) -> bool:
        """Under torchrun (a process group), even of one process: then the code paths are the same."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, metrics and the progress bar."""
        return self.rank == 0

    def describe(self) -> dict:
        return {"world_size": self.world_size, "backend": self.backend}

    def _reduce(self, values, op) -> list[float]:
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=op)
        return t.tolist()

    def sum(self, values) -> list[float]:
        return self._reduce(values, torch.distributed.ReduceOp.SUM) if self.enabled else [float(v) for v in values]

    def max(self, values) -> list[float]:
        return self._reduce(values, torch.distributed.ReduceOp.MAX) if self.enabled else [float(v) for v in values]

    def mean(self, value: float) -> float:
        return self.sum([value])[0] / self.world_size

    def broadcast(self, values) -> list[float]:
        """Rank 0's numbers on every rank (decisions taken on rank 0's clock, e.g. the step plan)."""
        if not self.enabled:
            return [float(v) for v in values]
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        torch.distributed.broadcast(t, src=0)
        return t.tolist()

    def broadcast_object(self, obj):
        """Rank 0's (picklable) object on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def gather_objects(self, obj) -> list:
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def gather_rows(self, t: torch.Tensor | None, dim: int = 1) -> torch.Tensor | None:
        """Every rank's rows of ``t`` concatenated in rank order along ``dim`` (the hidden state's
        batch axis): the state of the global batch, as one process would hold it."""
        if not self.enabled or t is None:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=dim)

    def my_rows(self, t: torch.Tensor | None, dim: int = 1) -> torch.Tensor | None:
        """This rank's contiguous share of a global-batch tensor (inverse of ``gather_rows``)."""
        if t is None:
            return None
        n = t.shape[dim] // self.world_size
        return t.narrow(dim, self.rank * n, n)

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier(device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def close(self, clean: bool = True) -> None:
        """End the process group we started. After a clean run the ranks first wait for each other
        (rank 0 may still be writing the last checkpoint): tearing gloo down while a peer is still
        connected can abort the process at exit."""
        if self.owns_group and torch.distributed.is_initialized():
            if clean:
                self.barrier()
            torch.distributed.destroy_process_group()
            self.owns_group = False


def wrap_ddp(model: torch.nn.Module, dist: Dist) -> torch.nn.Module:
    """``model`` under DistributedDataParallel: its weights broadcast from rank 0, its gradients
    averaged over the ranks during backward (in fp32: bf16 gradients halve the bytes, but measured
    here that saved nothing a step, against exactness)."""
    return DistributedDataParallel(model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)


def setup(device: str = "auto") -> Dist:
    """The process group from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
    MASTER_ADDR, MASTER_PORT), or a plain single process when RANK is unset."""
    if "RANK" not in os.environ:
        return Dist(resolve_device(device))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)       # one GPU per process: LOCAL_RANK picks it
    backend = "nccl" if dev.type == "cuda" else "gloo"
    owns = not torch.distributed.is_initialized()
    if owns:
        torch.distributed.init_process_group(backend, rank=rank, world_size=world)
    else:
        backend = torch.distributed.get_backend()
    return Dist(dev, rank, world, local_rank, local_world, backend, owns)


def default_threads(dist: Dist) -> int:
    """CPU threads per process: the cores shared among this node's processes."""
    return max(1, (os.cpu_count() or 1) // dist.local_world_size)


# ----------------------------------------------------------------------------- rank-0 helpers
def prepare_shared(dist: Dist, paths, tokenizer_kind: str, cache_dir, *, tokenizer=None, progress=False, **kw):
    """``data.prepare_corpus`` once per job: rank 0 reads and tokenizes the corpus into ``cache_dir``
    while the others wait, then they receive its tokenizer and open the same memory-mapped ids."""
    if not dist.enabled:
        return prepare_corpus(paths, tokenizer_kind, cache_dir, tokenizer=tokenizer, progress=progress, **kw)
    corpus, payload = None, None
    if dist.is_main:
        corpus = prepare_corpus(paths, tokenizer_kind, cache_dir, tokenizer=tokenizer, progress=progress, **kw)
        with tempfile.TemporaryDirectory() as d:   # the tokenizer travels as its own files
            spec = corpus.tokenizer.save(d)
            payload = (spec, {p.name: p.read_bytes() for p in Path(d).iterdir()}, corpus.meta)
    spec, files, meta = dist.broadcast_object(payload)   # the others wait here for rank 0
    if dist.is_main:
        return corpus
    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            Path(d, name).write_bytes(data)
        return open_prepared(load_tokenizer(d, spec), cache_dir, meta)


def gather_rng_and_state(state, dist: Dist) -> dict:
    """The resume state's per-rank parts, gathered (a collective: every rank calls it): the carried
    hidden state of the whole global batch on the CPU, rows in rank order, and each rank's RNG."""
    hidden = map_state(lambda t: dist.gather_rows(t).cpu(), state)
    cuda = dist.device.type == "cuda"
    rngs = dist.gather_objects((torch.get_rng_state(), torch.cuda.get_rng_state(dist.device) if cuda else None))
    return {"hidden": hidden, "rng": rngs[0][0], "cuda_rng": rngs[0][1], "rng_ranks": rngs,
            "world_size": dist.world_size}


def scatter_state(hidden, dist: Dist):
    """This rank's rows of a saved hidden state, on its device (any saved world size with the same
    global batch)."""
    if isinstance(hidden, list):                 # saved before states were kept as tuples
        hidden = tuple(hidden)
    return map_state(lambda t: dist.my_rows(t).to(dist.device), hidden)


def restore_rng(saved: dict, dist: Dist, seed: int) -> None:
    """Each rank's RNG as saved; a resume under another world size reseeds the ranks rank 0 lacks."""
    ranks = saved.get("rng_ranks")
    if ranks is not None and len(ranks) == dist.world_size:
        cpu, cuda = ranks[dist.rank]
    elif dist.rank == 0:
        cpu, cuda = saved["rng"], saved.get("cuda_rng")
    else:
        torch.manual_seed(seed + dist.rank + 1000 * saved["step"])
        return
    torch.set_rng_state(cpu)
    if dist.device.type == "cuda" and cuda is not None:
        torch.cuda.set_rng_state(cuda, dist.device)
