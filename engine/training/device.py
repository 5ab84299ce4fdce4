"""The device questions: which accelerator a `--device` value names on this machine, how to say it, and the
precision a run trains in there. Torch, but none of the training stack (loop, models, augmentation, data), so that
naming a device (the app's probe, the CLI's checks) costs torch's import only."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import TextIO

import torch

from engine.errors import UserError
from engine.training.options import RunOptions
from engine.words import plural


def resolve_device(requested: str = "auto") -> torch.device:
    """CUDA, then Apple's MPS, then the CPU; an explicit request must exist on this machine."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = available_devices()
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UserError(f"--device {requested}: unknown device; use one of {', '.join(available)}.") from None
    name = requested if device.type != "cuda" or device.index is None else f"cuda:{device.index}"
    if name not in available and not (device.type == "cuda" and "cuda" in available and device.index is None):
        raise UserError(f"--device {requested}: not available on this machine; it has {', '.join(available)}.")
    return device


def available_devices() -> list[str]:
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA · {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS"
    return f"CPU · {plural(torch.get_num_threads(), 'thread')}"


def run_precision(options: RunOptions) -> str:
    """The precision a run trains in: the one asked for, else its device's default: bf16 where the device computes
    it natively (a CUDA card from Ampere on, a CPU with AVX512-BF16), fp32 elsewhere. On this CPU bf16 kept
    AUC within seed noise (see the README); where bf16 is only emulated it would be slower than fp32."""
    if options.precision != "auto":
        return options.precision
    device = resolve_device("auto") if options.device == "auto" else torch.device(options.device)
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    else:
        native = device.type == "cpu" and cpu_computes_bf16()
    return "bf16" if native else "fp32"


# An op MPS lacks runs on the CPU where this is 1, as engine/__init__.py sets it on macOS before torch loads (else
# the run would fail at that op, mid-epoch); torch warns once per op and process, and the run's notes say so.
MPS_FALLBACK = "PYTORCH_ENABLE_MPS_FALLBACK"
FELL_BACK = re.compile(r"The operator '([^']+)' is not currently supported on the MPS backend")
_fell_back: list[str] = []


def watch_mps_fallbacks() -> None:
    """From now on (a run starts), note each op torch's warning says fell back from MPS to the CPU (the warning
    still shows)."""
    _fell_back.clear()
    if not isinstance(warnings.showwarning, FallbackWatch):
        warnings.showwarning = FallbackWatch(warnings.showwarning)


class FallbackWatch:
    """Shows warnings as `shown` did, noting the ops that fell back from MPS on the way."""

    def __init__(self, shown: Callable[..., None]):
        self.shown = shown

    def __call__(self, message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
        if found := FELL_BACK.search(str(message)):
            _fell_back.append(found[1])
        self.shown(message, category, filename, lineno, file, line)


def mps_notes() -> list[str]:
    """The notes for the ops that fell back to the CPU since the last ask: slower, but the run went on."""
    ops = list(dict.fromkeys(_fell_back))
    _fell_back.clear()
    return [f"{op} ran on the CPU, as MPS lacks it ({MPS_FALLBACK}=1): slower than on MPS" for op in ops]


def cpu_computes_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16, which every AMX processor has too), as torch
    itself detects them."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())
