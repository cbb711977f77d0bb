"""Run a benchmark as if on an older CPU: ``--emulate avx2`` re-executes the script with the
instruction-set caps of PyTorch (ATen kernels, oneDNN, MKL) and OpenBLAS set to AVX2, and chargen's
bf16 switch off. On an AVX-512 host this reproduces what an AVX2-only CPU does (bf16 emulated, no
AVX-512 kernels), though not its clock or caches: figures from it say ``emulated`` in their JSON
(``chargen.cpu.describe()['isa_caps']``). Standard library only.

    add_emulate_flag(parser); args = parser.parse_args(); reexec_emulated(args)
"""
from __future__ import annotations

import os
import sys

CAPS = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                 "OPENBLAS_CORETYPE": "Haswell", "CHARGEN_BF16": "0"}}


def add_emulate_flag(parser) -> None:
    parser.add_argument("--emulate", choices=sorted(CAPS), default=None,
                        help="cap the instruction sets to those of an older CPU (re-executes this script)")


def reexec_emulated(args) -> None:
    """Re-execute this process under the caps ``args.emulate`` names (they must be set before torch
    and numpy load); a no-op when they are already in force or none is asked for."""
    caps = CAPS.get(args.emulate or "")
    if not caps or all(os.environ.get(k) == v for k, v in caps.items()):
        return
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **caps})
