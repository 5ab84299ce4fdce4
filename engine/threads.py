"""How many CPU threads a run trains with, decided here only: at most what this process may use (its CPU affinity, a
cgroup CPU quota, Slurm's grant SLURM_CPUS_PER_TASK), shared among the runs training at once (--jobs), and fewer
while other work holds the cores (Governor), unless the user fixed the count (--threads N). Also how OpenMP's
threads wait, which must be set before torch is imported (openmp_environment). Torch is imported only by `use` and
`governor`, in a process that trains."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")  # where a container sees its own cgroup (v2: cpu.max; v1: cpu/cpu.cfs_quota_us)

# Measured on this 2-core CPU (tests/bench/contended.py, issue 24; see the README): GNU OpenMP's default lets a
# thread that reaches the end of a parallel region spin 300,000 times (milliseconds here) waiting for the other
# threads before it sleeps. A batch of the page's CNNs is a few hundred short parallel regions; when other work
# holds the cores, the thread waited for is not running, so each region costs a spin and a time slice, and
# experiment 8 fell from about 1,600 img/s to under 50 beside a test suite. Sleeping at once (PASSIVE) halved the
# quiet speed instead (a wake-up per region). A short spin keeps a quiet machine's hand-offs, which follow within
# microseconds, and gives the cores back soon when they are taken.
OPENMP = {"GOMP_SPINCOUNT": "10000"}


def openmp_environment() -> None:
    """Set OPENMP where the user has not: OpenMP reads its environment once, when torch loads it, so this must run
    before torch is imported (engine/__init__.py calls it, and a worker's forked children inherit the result). Too
    late, it does nothing rather than mislead: torch keeps the waiting it started with."""
    if "torch" in sys.modules:
        return
    for name, value in OPENMP.items():
        os.environ.setdefault(name, value)


def threads_per_run(runs: int = 1, asked: int | None = None, cores: int | None = None) -> int:
    """The threads each of `runs` runs training at once takes: `asked` (--threads) if given, else an even share
    of the cores this process may use (never 0)."""
    if asked is not None:
        return asked
    return max(1, (cores_allowed() if cores is None else cores) // runs)


def cores_allowed(environ: Mapping[str, str] = os.environ, cgroup: Path = CGROUP) -> int:
    """The cores this process may keep busy: the fewest of its affinity, its cgroup's quota and Slurm's grant. More
    threads than that would only take turns on the same cores, each waiting for the others at every step."""
    limits = [len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1]
    if (quota := cgroup_cpus(cgroup)) is not None:
        limits.append(quota)
    if (granted := environ.get("SLURM_CPUS_PER_TASK", "")).isdigit() and int(granted) > 0:
        limits.append(int(granted))
    return max(1, min(limits))


def cgroup_cpus(cgroup: Path = CGROUP) -> int | None:
    """The whole CPUs a cgroup's quota allows (at least 1), or None without a quota. v2: `cpu.max` holds 'QUOTA
    PERIOD' or 'max PERIOD'; v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us, in microseconds."""
    try:
        if (v2 := cgroup / "cpu.max").exists():
            quota, period = v2.read_text().split()
        else:
            v1 = cgroup / "cpu"
            quota, period = ((v1 / name).read_text().strip() for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
        if quota in ("max", "-1"):
            return None
        return max(1, math.floor(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):  # no such files (not Linux, no cpu controller), or unreadable
        return None


# The threads of one parallel region wait for each other at its end, so they only go fast when all of them run at
# once. On this 2-core CPU beside two CPU-bound processes (tests/bench/contended.py), experiment 8 trained at about
# 400 img/s on two threads and 825 on one, which kept the two thirds of a core its fair share allowed. So a run's
# threads follow the cores left free: the measure is how long the training thread stood runnable but waiting for a
# core (the kernel's schedstat), a share of the time since the last look.
BUSY = 0.10  # waiting for a core this share of the time or more: one thread fewer
FREE = 0.02  # this share or less: one thread more (up to the cap), after `hold` calm looks
LONGEST_HOLD = 32  # looks (chunks of images) between tries at more threads, at most
SCHEDSTAT = Path("/proc/thread-self/schedstat")  # ns on a core, ns runnable but waiting for one, time slices


@dataclass
class Governor:
    """How many of `most` threads to train with now: all of them while the cores are free, fewer while other work
    holds them. `fixed` (--threads N): always `most`. Ask `count` between chunks of work, from the training thread."""

    most: int
    fixed: bool = False
    now: int = 0
    hold: int = 1  # calm looks before trying one thread more; doubles each time more threads met a busy machine
    calm: int = 0
    last: tuple[float, int] | None = None  # (monotonic seconds, ns waited) at the last look

    def __post_init__(self) -> None:
        self.now = self.most
        self.waited()  # the first look measures from here

    def count(self) -> int:
        waited = self.waited()
        if self.fixed or waited is None:
            return self.now
        if waited >= BUSY and self.now > 1:
            self.now -= 1
            self.hold, self.calm = min(LONGEST_HOLD, self.hold * 2), 0
        elif waited <= FREE and self.now < self.most:
            self.calm += 1
            if self.calm >= self.hold:
                self.now, self.calm = self.now + 1, 0
        elif waited <= FREE:
            self.hold = max(1, self.hold // 2)  # calm at the cap: the machine is free again, try sooner next time
        return self.now

    def waited(self) -> float | None:
        """The share of the time since the last look that this thread waited for a core (None: first look, or no
        schedstat on this system)."""
        try:
            ns = int(SCHEDSTAT.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        now, last = time.monotonic(), self.last
        self.last = (now, ns)
        if last is None or now <= last[0]:
            return None
        return (ns - last[1]) / 1e9 / (now - last[0])


_fixed = False  # whether this process's thread count was fixed by the user (--threads N); see use()


def use(count: int, fixed: bool) -> None:
    """Train with up to `count` threads in this process, exactly `count` if `fixed` (--threads N)."""
    import torch

    global _fixed
    _fixed = fixed
    torch.set_num_threads(count)


def governor() -> Governor:
    """A run's governor, up to torch's thread count as the run starts (each epoch gives back what it gave up: see
    engine.training.train.augmented_batches)."""
    import torch

    return Governor(torch.get_num_threads(), _fixed)
