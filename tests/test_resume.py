"""Checkpoints and resume (issue 21): a run killed between epochs goes on from its last finished epoch with
`dermalab run --resume ID`, as the same run, and ends with the figures an uninterrupted run of its seed has; a
finished run leaves no checkpoint, and `prune` deletes the ones no run will resume from.

The interrupted run is a real `dermalab run` process killed with -9 once its first checkpoint is written; the rest
runs in this process on one fixed thread (the `one_thread` fixture), as does the child (--threads 1), so that the
figures can be compared digit for digit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.training import checkpoint
from tests.conftest import REPO, TINY_EXPERIMENTS, noisy_predictions, one_sentence

# Dropout, augmentation and a cosine schedule: every state a checkpoint keeps changes what the next epoch does.
RESUMABLE = TINY_EXPERIMENTS + """
[[experiment]]
id = 5
extends = 1
name = "Tiny, with every state a checkpoint keeps"
model = { arch = "cnn", channels = [4], batchnorm = false, pool = "global_avg", dropout = 0.3, hidden = 8, \
hidden_dropout = 0.3, pretrained = false, freeze_backbone = false, small_stem = false }
training = { epochs = 3, batch_size = 256, scheduler = "cosine" }
augment = [{ op = "hflip", p = 0.5 }, { op = "rotation", degrees = 15 }]
"""
SEED = 7
# A set other than DermaMNIST, whose synthetic stand-in is small (1,200 images): three epochs in about a second.
SMALL = ("--data", "synthetic", "--dataset", "bloodmnist")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A DERMALAB_HOME holding a run killed after its first epoch, made once per module (a child's start is most
    of a test's time): its folder, the experiments file and the run's id. Each test copies it into its own home."""
    home = tmp_path_factory.mktemp("interrupted")
    experiments = home / "resumable.toml"
    experiments.write_text(RESUMABLE)
    return home, str(experiments), killed_after_first_epoch(str(experiments), home)


@pytest.fixture
def interrupted(template: tuple[Path, str, str], dermalab_home: Path) -> tuple[str, str]:
    """This test's home as the killed run left it: the experiments file and the run's id."""
    folder, experiments, run_id = template
    shutil.copytree(folder, dermalab_home, dirs_exist_ok=True)
    return experiments, run_id


def killed_after_first_epoch(experiments: str, home: Path) -> str:
    """A real `dermalab run` of experiment 5 killed with -9 (no handler runs) once its first checkpoint is saved:
    returns its run's id."""
    child = subprocess.Popen([sys.executable, "-m", "tui.cli.main", "run", "5", "--seed", str(SEED), "--threads", "1",
                              *SMALL, "--experiments", experiments], cwd=REPO,
                             env={**os.environ, "OMP_NUM_THREADS": "1", "DERMALAB_HOME": str(home)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    folder, deadline = checkpoint.folder(home / "runs.sqlite"), time.monotonic() + 120
    while not (saved := list(folder.glob(f"*{checkpoint.SUFFIX}"))):
        assert child.poll() is None, f"the run ended before its first checkpoint: {child.communicate()}"
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.01)
    child.send_signal(signal.SIGSTOP)  # held still while the checkpoint is read: it must be epoch 1's of 3
    progress, _ = checkpoint.load(saved[0])
    child.kill()
    child.communicate(timeout=60)
    assert progress.epoch == 1, f"the kill came after epoch {progress.epoch}; the test needs it before the last"
    return saved[0].name.removesuffix(checkpoint.SUFFIX)


def figures(run: dict) -> tuple:
    """What must agree between a resumed run and an uninterrupted one: the curves and the val predictions."""
    curves = [(row["epoch"], row["train_loss"], row["val_loss"], row["val_auc"], row["lr"]) for row in run["history"]]
    return curves, run["auc"], run["accuracy"], run["probabilities"].tolist()


@pytest.mark.processes
@pytest.mark.slow  # the killed run's child (once per module) imports torch: about 5 s on a busy 2-core box
def test_a_killed_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_run(interrupted, dermalab_home, stored,
                                                                                   cli, one_thread):
    resumable, run_id = interrupted
    assert stored.status(run_id) == "interrupted"
    assert [row["epoch"] for row in stored.get(run_id)["history"]] == [1]

    resumed = cli("run", "--resume", run_id[:6], "--threads", "1")
    assert resumed.returncode == 0, resumed.stderr
    run = stored.get(run_id)
    assert (run["status"], len(stored.runs())) == ("finished", 1), "one run, gone on with, not a second one"
    assert [row["epoch"] for row in run["history"]] == [1, 2, 3]
    assert "resumed from its checkpoint 1 time (after epoch 1)" in run["notes"][-1]
    assert not checkpoint.saved(dermalab_home / "runs.sqlite"), "a finished run keeps no checkpoint"
    assert stored.jobs()[run_id]["status"] == "finished"

    afresh = cli("run", "5", "--seed", str(SEED), "--again", "--threads", "1", *SMALL, "--experiments", resumable)
    assert afresh.returncode == 0, afresh.stderr
    uninterrupted = next(row for row in stored.runs() if row["run_id"] != run_id)
    assert figures(run) == figures(stored.get(uninterrupted["run_id"])), "bit-identical on one thread"


@pytest.mark.processes
@pytest.mark.slow  # the worker imports torch and forks its child: about 5 s on a busy 2-core box
@pytest.mark.starts_jobs
def test_the_worker_resumes_an_interrupted_run(interrupted, dermalab_home, stored, cli):
    _, run_id = interrupted
    queued = cli("run", "--resume", run_id, "--detach")
    assert queued.returncode == 0, queued.stderr
    assert queued.stdout.split() == [run_id]
    deadline = time.monotonic() + 120
    while stored.status(run_id) != "finished":
        assert stored.status(run_id) in ("interrupted", "running"), stored.get(run_id)
        assert time.monotonic() < deadline, "the worker had not finished the resumed run after 120 s"
        time.sleep(0.1)
    run = stored.get(run_id)
    assert [row["epoch"] for row in run["history"]] == [1, 2, 3] and len(stored.runs()) == 1
    assert "resumed from its checkpoint 1 time (after epoch 1)" in run["notes"][-1]
    assert not checkpoint.saved(dermalab_home / "runs.sqlite")


def test_only_an_interrupted_run_with_a_checkpoint_resumes(store_run, cli):
    finished = store_run(*noisy_predictions(3), experiment_id=1, seed=3)
    said = cli("run", "--resume", finished)
    assert said.returncode != 0 and "Traceback" not in said.stderr
    assert one_sentence(said.stderr).endswith("is finished; only an interrupted run can be resumed ('dermalab run 1 "
                                               "--seed 3' trains it afresh).")
    with_ids = cli("run", "5", "--resume", finished)
    assert "leave out the experiment ids, --all and --executor" in one_sentence(with_ids.stderr)


def test_prune_deletes_the_checkpoints_no_run_resumes_from(store_run, cli, stored, dermalab_home):
    from engine.store import prune

    kept, ended = (store_run(*noisy_predictions(seed), experiment_id=1, seed=seed) for seed in (1, 2))
    with stored.opened() as store:
        store.execute("UPDATE runs SET status='interrupted' WHERE run_id=?", (kept,))
    paths = {run_id: checkpoint.path_for(dermalab_home / "runs.sqlite", run_id) for run_id in (kept, ended, "gone")}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"0" * 1000)
    with stored.opened() as store:
        assert sorted(prune.orphan_checkpoints(store, [store.path])) == sorted([paths[ended], paths["gone"]])

    said = cli("prune", "--yes")  # deletes the interrupted run, and so its checkpoint too
    assert said.returncode == 0, said.stderr
    assert said.stdout.endswith("Deleted 3 checkpoints no run will resume from (0.0 MB).\n")
    assert not checkpoint.saved(dermalab_home / "runs.sqlite")
