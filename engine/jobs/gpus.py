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
    """The GPUs this process may use, by the names CUDA_VISIBLE_DEVICES takes: every GPU the driver has, or those of
    them CUDA_VISIBLE_DEVICES names when it is set. Without a driver there are none, whatever it names: a scheduler
    or a shell profile sets it on machines with no GPU (Slurm's 'NoDevFiles', say), and CUDA finds none there."""
    if not driver_present():
        return []
    with nvml() as pynvml:
        return _visible(pynvml) if pynvml else []


def _visible(pynvml: Any) -> list[str]:
    count = pynvml.nvmlDeviceGetCount()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(index) for index in range(count)]
    handles = [pynvml.nvmlDeviceGetHandleByIndex(index) for index in range(count)]
    migs = [mig for handle in handles for mig in _migs(pynvml, handle)]
    return existing(listed, count, [_uuid(pynvml, handle) for handle in handles + migs])


def _migs(pynvml: Any, handle: Any) -> list[Any]:
    """The MIG instances a GPU is split into (CUDA_VISIBLE_DEVICES names them by their UUIDs)."""
    try:
        most = pynvml.nvmlDeviceGetMaxMigDeviceCount(handle)
    except pynvml.NVMLError:  # a GPU without MIG
        return []
    found = []
    for number in range(most):
        with contextlib.suppress(pynvml.NVMLError):  # a place no instance fills
            found.append(pynvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, number))
    return found


def _uuid(pynvml: Any, handle: Any) -> str:
    uuid = pynvml.nvmlDeviceGetUUID(handle)
    return uuid.decode() if isinstance(uuid, bytes) else uuid  # bytes from older nvidia-ml-py


def existing(listed: str, count: int, uuids: list[str]) -> list[str]:
    """The entries of a CUDA_VISIBLE_DEVICES value that name a device there is, read as CUDA reads it: a GPU by its
    index (of `count`) or any device (GPU, then MIG instance) by a prefix of its UUID; in order, each device once,
    and none after the first entry that names no device (CUDA ignores the rest: '0,1,2,3' on a 2-GPU machine is
    '0,1'; 'NoDevFiles' and '-1' are none)."""
    names: list[str] = []
    seen: set[int] = set()
    for entry in (word.strip() for word in listed.split(",")):
        device = _device(entry, count, uuids)
        if device is None:
            break
        if device not in seen:
            seen.add(device)
            names.append(entry)
    return names


def _device(entry: str, count: int, uuids: list[str]) -> int | None:
    """The place in `uuids` of the device `entry` names, or None."""
    if entry.isdigit():
        return int(entry) if int(entry) < count else None
    matches = [place for place, uuid in enumerate(uuids) if entry and uuid.startswith(entry)]
    return matches[0] if len(matches) == 1 else None


def samples() -> list[GpuSample]:
    """Utilisation and memory of each visible GPU; none without a driver, or when NVML will not answer."""
    if not driver_present():
        return []
    with nvml() as pynvml:
        if pynvml is None:
            return []
        found = []
        for gpu in _visible(pynvml):
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
