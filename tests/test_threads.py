"""How many threads a run trains with (engine.threads, issue 24): the cores a process may use by its affinity, a
cgroup's CPU quota (read from files written here) and Slurm's grant, shared among --jobs, overridden by --threads;
and OpenMP's waiting set before torch loads, never after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import threads
from engine.jobs.slots import SlotRequest, hand_out
from tests.conftest import REPO


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_a_cgroup_quota_is_read_in_whole_cpus_from_either_version(tmp_path):
    def cpus(files: dict[str, str]) -> int | None:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        return threads.cgroup_cpus(write(folder, files))

    assert cpus({"cpu.max": "400000 100000\n"}) == 4
    assert cpus({"cpu.max": "150000 100000\n"}) == 1  # one and a half CPUs: a second thread would be throttled
    assert cpus({"cpu.max": "50000 100000\n"}) == 1  # never 0
    assert cpus({"cpu.max": "max 100000\n"}) is None
    assert cpus({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}) == 2
    assert cpus({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}) is None
    assert cpus({}) is None  # no cpu controller
    assert cpus({"cpu.max": "garbled"}) is None


def test_the_cores_allowed_are_the_fewest_of_affinity_quota_and_slurms_grant(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    none = tmp_path / "no cgroup"
    assert threads.cores_allowed({}, none) == affinity
    assert threads.cores_allowed({"SLURM_CPUS_PER_TASK": "1"}, none) == 1
    assert threads.cores_allowed({"SLURM_CPUS_PER_TASK": str(affinity + 8)}, none) == affinity  # the grant is a cap
    assert threads.cores_allowed({"SLURM_CPUS_PER_TASK": "none"}, none) == affinity
    assert threads.cores_allowed({}, write(tmp_path, {"cpu.max": "100000 100000"})) == 1


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to narrow the affinity to one")
def test_a_process_pinned_to_one_core_trains_with_one_thread():
    pinned = subprocess.run([sys.executable, "-c", "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
                             "from engine.jobs.slots import SlotRequest, machine_slots;"
                             "print(machine_slots(SlotRequest(), 'cpu')[0].threads)"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert pinned.stdout.strip() == "1", pinned.stderr


def test_jobs_share_the_cores_and_threads_fixes_each_runs_count():
    assert threads.threads_per_run(cores=8) == 8
    assert threads.threads_per_run(2, cores=8) == 4
    assert threads.threads_per_run(3, cores=2) == 1  # never 0
    assert threads.threads_per_run(2, asked=3, cores=8) == 3
    assert [slot.threads for slot in hand_out(SlotRequest(jobs=2), [], cores=6)] == [3, 3]
    assert [slot.threads for slot in hand_out(SlotRequest(jobs=2, threads=1), [], cores=6)] == [1, 1]
    assert [slot.threads for slot in hand_out(SlotRequest(threads=5), ["0", "1"], cores=4)] == [5, 5]
    assert SlotRequest(threads=2).arguments() == ["--threads", "2"]  # the worker started for it is asked the same
    assert SlotRequest(threads=2).asked() and not SlotRequest(threads=2).shares_out()


def test_bad_threads_are_one_sentence(refused):
    assert refused("run", "1", "--threads", "0") == "--threads 0: give a whole number from 1 to 1,024."
    assert refused("--threads", "2", "list").startswith("--threads does nothing for 'dermalab list'")


def openmp_seen(code: str, env: dict[str, str]) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in threads.OPENMP}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**environment, **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_openmp_waits_briefly_unless_the_user_says_otherwise_and_only_if_set_before_torch():
    show = "import json, os; print(json.dumps({name: os.environ.get(name) for name in threads.OPENMP}))"
    assert openmp_seen(f"import engine; from engine import threads; {show}", {}) == threads.OPENMP
    mine = dict.fromkeys(threads.OPENMP, "123")
    assert openmp_seen(f"import engine; from engine import threads; {show}", mine) == mine
    # Loaded before the engine: a module under torch's name stands in for it (what the engine asks is whether torch
    # is loaded, and loading the real one costs a child three seconds of CPU).
    loaded = "import sys, types; sys.modules['torch'] = types.ModuleType('torch')"
    late = openmp_seen(f"{loaded}; import engine; from engine import threads; {show}", {})
    assert late == dict.fromkeys(threads.OPENMP, None)  # torch read its environment already: nothing pretends


@pytest.mark.slow
def test_a_run_trains_with_the_threads_asked_for_and_says_so(tiny_experiments, cli, stored):
    done = cli("run", "1", "--threads", "1", "--epochs", "1", "--data", "synthetic", "--device", "cpu", "--json",
               "--experiments", str(tiny_experiments))
    assert done.returncode == 0, done.stderr
    (row,) = map(json.loads, done.stdout.splitlines())
    assert stored.get(row["run_id"])["device"] == "CPU · 1 thread"


class Scripted(threads.Governor):
    """A governor that sees the waits given instead of this thread's schedstat: the policy alone."""

    def __init__(self, most: int, waits: list[float | None], fixed: bool = False):
        self.waits = iter([None, *waits])  # the first look (made as it is built) measures nothing yet
        super().__init__(most, fixed)

    def waited(self) -> float | None:
        return next(self.waits)


def test_a_run_gives_up_threads_while_the_cores_are_taken_and_takes_them_back_when_free():
    busy, calm = [0.5] * 5, [0.0] * 40
    counts = [governor.count() for governor in [Scripted(4, busy + calm)] for _ in busy + calm]
    assert counts[:5] == [3, 2, 1, 1, 1]  # one fewer a look, never none
    assert counts[-1] == 4 and counts[5:] == sorted(counts[5:])  # back up, one at a time
    assert counts.index(2, 5) > 6  # after a few calm looks, not the first: a busy spell makes it wary
    assert Scripted(2, [0.05]).count() == 2  # between the marks: as it is
    assert [governor.count() for governor in [Scripted(2, busy, fixed=True)] for _ in busy] == [2] * 5  # --threads
    assert [governor.count() for governor in [Scripted(2, [None] * 3)] for _ in range(3)] == [2] * 3  # no schedstat


@pytest.mark.slow
@pytest.mark.skipif(not threads.SCHEDSTAT.exists(), reason="the kernel keeps no schedstat")
def test_the_wait_for_a_core_is_seen_when_another_process_spins_on_it():
    shared = min(os.sched_getaffinity(0))
    spin = f"import os; os.sched_setaffinity(0, {{{shared}}})\nwhile True: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        seen = subprocess.run([sys.executable, "-c", f"import os, time; os.sched_setaffinity(0, {{{shared}}});"
                               "from engine.threads import Governor; g = Governor(1); end = time.monotonic() + 1.0\n"
                               "while time.monotonic() < end: pass\nprint(g.waited())"],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    finally:
        spinner.kill()
        spinner.wait()
    assert float(seen.stdout) >= threads.BUSY, seen.stderr  # about half the time, as the two take turns
