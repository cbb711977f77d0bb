"""What this CPU can do, read from the CPU itself: the one place that decides whether bfloat16 is
fast here, and how a speed figure names the machine it came from.

bfloat16 matmuls are fast only on CPUs with bf16 instructions (AVX-512 BF16, AMX); elsewhere
oneDNN emulates them, several times slower than float32. Training (autocast) and the keyboard's
search steps ask :func:`has_bf16` before using it. ``CHARGEN_BF16=0`` / ``=1`` overrides the
answer (tests force each path on any machine). Usage:

    if has_bf16(): ...                   # AVX-512 BF16 or AMX on this CPU
    describe()                           # {"kind": "avx512_bf16", "model": "...", "flags": [...]}
"""
from __future__ import annotations

import os
import platform
from functools import lru_cache

# the instruction-set flags a speed figure depends on, as /proc/cpuinfo names them
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16",
                     "amx_tile", "avx512_fp16", "avx_vnni")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset]:
    """(model name, flags) of the first processor in /proc/cpuinfo; ("", {}) where there is none."""
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = frozenset(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model or platform.processor(), flags


def flags() -> frozenset:
    return _cpuinfo()[1]


def has_bf16() -> bool:
    """Whether bfloat16 arithmetic is native here (AVX-512 BF16 or AMX). ``CHARGEN_BF16`` (0 / 1)
    overrides it."""
    forced = os.environ.get("CHARGEN_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if _isa_cap() in ("avx2", "avx512"):      # oneDNN told to use less than the CPU has
        return False
    return any(f in flags() for f in BF16_FLAGS)


def _isa_cap() -> str | None:
    """The instruction-set class ONEDNN_MAX_CPU_ISA caps oneDNN to (an older CPU emulated here)."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if not cap or cap == "ALL":
        return None
    if cap.startswith("AVX2") or cap in ("SSE41", "AVX"):
        return "avx2"
    return None if "BF16" in cap or "AMX" in cap else "avx512"


def kind() -> str:
    """A short name for the class of CPU a speed figure came from."""
    f = flags()
    if _isa_cap():
        return _isa_cap()
    if any(x in f for x in BF16_FLAGS):
        return "avx512_bf16" if "avx512_bf16" in f else "amx_bf16"
    if "avx512f" in f:
        return "avx512"
    if "avx2" in f:
        return "avx2"
    return platform.machine() or "unknown"


def describe() -> dict:
    """For benchmark JSON: the CPU kind, its model name, the relevant flags, the core count, and
    any instruction-set cap in force (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY, CHARGEN_BF16)."""
    model, f = _cpuinfo()
    caps = {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS",
                                       "OPENBLAS_CORETYPE", "CHARGEN_BF16") if k in os.environ}
    return {"kind": kind(), "model": model, "flags": sorted(x for x in FLAGS_OF_INTEREST if x in f),
            "bf16_native": has_bf16(), "cores": os.cpu_count(), "isa_caps": caps}
