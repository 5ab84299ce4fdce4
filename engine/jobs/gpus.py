"""NVIDIA GPUs as their driver sees them, through NVML (nvidia-ml-py): which the worker may hand out, and each one's
utilisation and memory for the header. Neither torch nor CUDA is touched, so a worker can count its GPUs and still
fork children that use them; without an NVIDIA driver NVML is not even imported, and there are no GPUs."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER = Path("/proc/driver/nvidia/version")  # on Linux, present only where the NVIDIA kernel driver is loaded


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one moment: its id (as CUDA_VISIBLE_DEVICES names it), utilisation in %, memory in bytes."""

    gpu: str
    utilisation: int
    memory_used: int
    memory_total: int


def driver_present() -> bool:
    """Whether NVML is worth asking: on Linux only where /proc names the driver (so NVML is not even imported
    without one); on Windows, which has no /proc, NVML itself tells (a driver without its library is no GPU); macOS
    has no NVIDIA driver."""
    if sys.platform.startswith("linux"):
        return DRIVER.exists()
    return sys.platform == "win32"


def visible() -> list[str]:
    """The GPUs this process may use, by the names CUDA_VISIBLE_DEVICES takes: those it already lists when set,
    else every GPU the driver has (none without a driver)."""
    listed = _listed()
    if listed is not None:
        return listed
    if not driver_present():
        return []
    with nvml() as pynvml:
        return _every(pynvml) if pynvml else []


def _listed() -> list[str] | None:
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    return None if listed is None else [name.strip() for name in listed.split(",") if name.strip() not in ("", "-1")]


def _every(pynvml: Any) -> list[str]:
    return [str(index) for index in range(pynvml.nvmlDeviceGetCount())]


def samples() -> list[GpuSample]:
    """Utilisation and memory of each visible GPU; none without a driver, or when NVML will not answer."""
    if not driver_present():
        return []
    with nvml() as pynvml:
        if pynvml is None:
            return []
        found, listed = [], _listed()
        for gpu in _every(pynvml) if listed is None else listed:
            with contextlib.suppress(pynvml.NVMLError, ValueError):  # a UUID, or a GPU gone since the count
                handle = pynvml.nvmlDeviceGetHandleByIndex(int(gpu))
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                used = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
                found.append(GpuSample(gpu, used, memory.used, memory.total))
        return found


@contextlib.contextmanager
def nvml() -> Iterator[Any]:
    """The pynvml module, initialised for the block, or None when the library or the driver will not load."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no nvidia-ml-py, or a driver without its libnvidia-ml: the machine has no GPUs for us
        yield None
        return
    try:
        yield pynvml
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
