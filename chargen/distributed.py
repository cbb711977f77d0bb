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
from dataclasses import dataclass

import torch

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
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
