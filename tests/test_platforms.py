"""macOS and Windows beside Linux: how a job's process starts (engine.jobs.start), the calls only Linux has, and
MPS. Only Linux can be had here, so the other platforms' branches are checked by taking Linux's calls away (no
os.fork, no fcntl, no /proc, no glibc, no SIGKILL) and setting sys.platform; the spawned child itself runs for real
in CI's second pass of the queue's tests (DERMALAB_START=spawn, see .ci/run)."""

from __future__ import annotations

import os
import pickle
import platform as platform_module
import signal
import subprocess
import sys
import time
import warnings

import pytest

from engine import threads
from engine.errors import UserError
from engine.experiments.load import load
from engine.jobs import gpus, start
from engine.jobs.lock import WorkerLock, lock_path, worker_pid
from engine.jobs.queue import plan
from engine.jobs.slots import Slot
from engine.jobs.worker import ending, train_child
from engine.store.runs import Store
from engine.training import data, device
from engine.training.options import RunOptions
from engine.training.train import glibc
from tests.conftest import CHILD_SECONDS, REPO
from tui.cli.progress import StoredRowPrinter, WorkerLog


@pytest.fixture
def platform(monkeypatch):
    """Set sys.platform (and no DERMALAB_START) for the test."""
    monkeypatch.delenv(start.METHOD, raising=False)
    return lambda name: monkeypatch.setattr(sys, "platform", name)


def test_fork_on_linux_and_a_fresh_interpreter_on_macos_windows_or_wherever_fork_is_missing(platform, monkeypatch):
    platform("linux")
    assert start.method() == "fork"
    for elsewhere in ("darwin", "win32"):
        platform(elsewhere)
        assert start.method() == "spawn"
    platform("linux")
    monkeypatch.delattr(os, "fork")
    assert start.method() == "spawn"


def test_the_environment_forces_either_way_and_refuses_what_cannot_be(platform, monkeypatch):
    platform("linux")
    monkeypatch.setenv(start.METHOD, "spawn")
    assert start.method() == "spawn"
    platform("darwin")
    monkeypatch.setenv(start.METHOD, "Fork")
    assert start.method() == "fork"  # the user's risk, where fork exists
    monkeypatch.delattr(os, "fork")
    with pytest.raises(UserError, match=r"^The environment's DERMALAB_START=fork cannot be had, as this system has"):
        start.method()
    monkeypatch.setenv(start.METHOD, "vfork")
    with pytest.raises(UserError, match=r"^The environment's DERMALAB_START=vfork is no way to start a job; set"):
        start.method()


def test_the_background_worker_detaches_by_each_platforms_own_means(platform):
    platform("linux")
    assert start.detached() == {"start_new_session": True}
    platform("win32")
    flags = start.detached()["creationflags"]
    assert flags & 0x200 and flags & 0x8  # CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS


def test_the_queue_imports_and_chooses_spawn_without_fcntl_or_fork():
    script = ("import os, sys; sys.modules['fcntl'] = None; del os.fork\n"
              "import engine.jobs.queue, engine.jobs.lock, engine.jobs.watch, engine.jobs.slots, tui.app.background\n"
              "from engine.jobs import start; print(start.method())")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, start.METHOD: ""}, timeout=60)
    assert (done.returncode, done.stdout) == (0, "spawn\n"), done.stderr


def test_a_worker_lowers_its_own_priority_only():
    script = "import os; from engine.jobs.start import lower_priority; lower_priority(3); print(os.nice(0))"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert int(done.stdout) == min(19, os.nice(0) + 3), done.stderr


def test_everything_a_spawned_child_is_given_survives_the_pipe(tiny_experiments, dermalab_home):
    experiments = load(str(tiny_experiments))
    [job] = plan([experiments[1]], [0], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    store = Store()
    log = WorkerLog("stderr", json_results=StoredRowPrinter(store, experiments))
    payload = (job, Slot("cpu", None, 1), experiments[1], data.synthetic(), store.path, log.sink)
    train, (job_again, _, experiment, dataset, path, sink_of) = pickle.loads(pickle.dumps((train_child, payload)))
    assert (train, job_again, experiment, dataset.fingerprint, path) == (
        train_child, job, experiments[1], "synthetic", store.path)
    printer = sink_of.__self__.json_results
    assert (sink_of.__self__.stream, printer.store.path) == ("stderr", store.path)
    assert printer.store is not store  # its own connection, opened in the child


def test_without_sigkill_a_child_that_ended_early_is_said_by_its_exit_code(monkeypatch):
    monkeypatch.delattr(signal, "SIGKILL")  # Windows: TerminateProcess leaves exit code 1
    assert ending(1, False)[1].startswith("the training process ended with exit code 1 before its run did")


def test_nvidia_is_asked_of_nvml_where_there_is_no_proc_and_never_on_a_mac(platform, monkeypatch, tmp_path):
    monkeypatch.setattr(gpus, "DRIVER", tmp_path / "no driver")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    platform("linux")
    assert not gpus.driver_present()
    platform("win32")
    assert gpus.driver_present()
    assert gpus.visible() == []  # NVML, asked, finds no driver here
    platform("darwin")
    assert not gpus.driver_present()


def test_the_allocator_is_set_only_where_glibc_is(monkeypatch):
    assert glibc() == (platform_module.libc_ver()[0] == "glibc")

    def unknown(name: str) -> str:
        raise ValueError(f"unrecognized configuration name: {name}")

    monkeypatch.setattr(os, "confstr", unknown)
    assert not glibc()  # macOS refuses the name
    monkeypatch.delattr(os, "confstr")
    assert not glibc()  # Windows has no confstr


def test_on_macos_an_op_mps_lacks_falls_back_to_the_cpu_unless_the_user_said_otherwise():
    script = ("import os, sys; sys.platform = 'darwin'; import engine\n"
              "print(os.environ['PYTORCH_ENABLE_MPS_FALLBACK'], 'torch' in sys.modules)")
    for given, expected in ((None, "1 False\n"), ("0", "0 False\n")):
        environment = {name: value for name, value in os.environ.items() if name != device.MPS_FALLBACK}
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                              env={**environment, **({device.MPS_FALLBACK: given} if given else {})})
        assert done.stdout == expected, done.stderr


def test_an_op_that_fell_back_from_mps_is_said_in_the_runs_notes_and_its_warning_still_shows():
    with pytest.warns(UserWarning) as shown:  # it shows warnings its own way, which the watch passes them on to
        device.watch_mps_fallbacks()
        warnings.warn("The operator 'aten::_foo' is not currently supported on the MPS backend and will fall back to "
                      "run on the CPU. This may have performance implications.", stacklevel=1)  # torch's words
        warnings.warn("something else", stacklevel=1)
    assert len(shown) == 2
    assert device.mps_notes() == ["aten::_foo ran on the CPU, as MPS lacks it (PYTORCH_ENABLE_MPS_FALLBACK=1): slower "
                                  "than on MPS"]
    assert device.mps_notes() == []  # each run says its own


def test_the_worker_lock_names_its_holder_after_the_byte_windows_locks(tmp_path):
    store = tmp_path / "runs.sqlite"
    lock = WorkerLock(store)
    assert lock.acquire(seconds=0)
    try:
        assert lock_path(store).read_bytes()[:1] == b"\0"  # never written: on Windows no handle may touch it
        assert worker_pid(store) == os.getpid()
    finally:
        lock.release()
    assert worker_pid(store) is None


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.starts_jobs
def test_a_jobs_process_killed_outright_fails_its_run_by_that_signal(tiny_experiments, stored):
    command = [sys.executable, "-m", "tui.cli.main", "run", "2", "--jobs", "1", "--data", "synthetic", "--experiments",
               str(tiny_experiments)]
    foreground = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + CHILD_SECONDS
        while not (started := stored.runs()):  # the run's row, with its process's pid, is written as it starts
            assert time.monotonic() < deadline and foreground.poll() is None, "no start of the run"
            time.sleep(0.1)
        os.kill(stored.get(started[0]["run_id"])["pid"], signal.SIGKILL)  # by hand, or by the system out of memory
        _, said = foreground.communicate(timeout=CHILD_SECONDS)
    finally:
        foreground.kill()
    [run] = stored.runs()
    assert (run["status"], run["reason"]) == ("failed", "the training process was killed by SIGKILL (by hand, or by "
                                              "the system when memory ran out)"), said
    assert foreground.returncode == 1


def test_without_cpu_affinity_cgroups_or_schedstat_a_run_takes_the_cores_and_keeps_its_threads(monkeypatch, tmp_path):
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS and Windows
    assert threads.cores_allowed({}, cgroup=tmp_path) == os.cpu_count()
    monkeypatch.setattr(threads, "SCHEDSTAT", tmp_path / "no schedstat")
    governor = threads.Governor(4)
    assert [governor.count() for _ in range(3)] == [4, 4, 4]


def test_a_spawned_child_sent_a_job_that_will_not_pickle_exits_and_never_waits():
    child = start.Spawned((lambda: None,), train_child)  # a lambda pickles by no name
    deadline = time.monotonic() + 60
    while (code := child.poll()) is None:
        assert time.monotonic() < deadline, "the child still waits for its job"
        time.sleep(0.05)
    assert code == 1  # the worker then fails the job with that exit code
