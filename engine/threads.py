"""How many CPU threads a run trains with, decided here only, from what this process may use: its CPU affinity, a
cgroup CPU quota (a container's), Slurm's grant (SLURM_CPUS_PER_TASK), shared among the runs training at once
(--jobs), unless the user fixed it (--threads). Also how OpenMP's threads wait, which must be set before torch is
imported (see openmp_environment). Free of torch."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
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
