"""Every bad input named in issue 4 gets exit code 2 and one sentence saying what is wrong and how to fix it.

Most cases run `dermalab` in this process (the `refused` fixture checks the exit code and the sentence); the few
that need a real process boundary (the traceback contract, proxy settings read at start-up) run a child.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import UserError
from tests.conftest import (
    SIZE,
    app_with,
    medmnist_arrays,
    noisy_predictions,
    notices,
    one_sentence,
    synchronous,
    wait_for,
)
from tui.cli.main import main

MINE = '\n[[experiment]]\nid = 26\nextends = 1\nname = "Mine"\n'  # appended to the real file, then made bad


def experiments_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "experiments.toml"
    path.write_text(text)
    return str(path)


# (appended to the real experiments.toml, fragments the sentence must contain)
BAD_EXPERIMENTS = {
    "unknown key": (MINE + "training.epoch = 3\n", ["experiment 26", "unknown key 'training.epoch'"]),
    "wrong type": (MINE + 'training.epochs = "five"\n', ["experiment 26", "'training.epochs'", "integer", "'five'"]),
    "lr zero": (MINE + "optimizer.lr = 0.0\n", ["experiment 26", "'optimizer.lr'", "greater than 0"]),
    "lr negative": (MINE + "optimizer.lr = -0.1\n", ["'optimizer.lr'", "greater than 0", "-0.1"]),
    "no epochs": (MINE + "training.epochs = 0\n", ["'training.epochs'", "greater than or equal to 1"]),
    "absurd epochs": (MINE + "training.epochs = 10001\n", ["'training.epochs'", "less than or equal to 10000"]),
    "batch size zero": (MINE + "training.batch_size = 0\n", ["'training.batch_size'", "greater than or equal to 1"]),
    # A dotted path, in case anyone is tempted to import what the file names: models come from a fixed list.
    "unknown model": (MINE + 'model.arch = "torchvision.models.vgg16"\n', ["'model.arch'", "'cnn' or 'resnet18'"]),
    "unknown optimizer": (MINE + 'optimizer.name = "rmsprop"\n', ["'optimizer.name'", "'sgd' or 'adam'", "rmsprop"]),
    "unknown augmentation": (MINE + 'augment = [{ op = "cutout" }]\n', ["unknown augmentation 'cutout'", "hflip"]),
    "unknown scheduler": (MINE + 'training.scheduler = "step"\n', ["'training.scheduler'", "'none' or 'cosine'"]),
    "extends a missing id": (MINE.replace("extends = 1", "extends = 99"), ["experiment 26", "names experiment 99"]),
    "extends cycle": (MINE.replace("extends = 1", "extends = 27") + MINE.replace("id = 26", "id = 27")
                      .replace("extends = 1", "extends = 26"), ["cycle (26 -> 27 -> 26)"]),
    "duplicate id": (MINE.replace("id = 26", "id = 1"), ["experiment id 1 appears twice"]),
    # Numbers of the wrong kind or out of any range: never taken as the nearest thing that would do.
    "epochs as true": (MINE + "training.epochs = true\n", ["'training.epochs'", "valid integer", "True"]),
    "batch size as 5.0": (MINE + "training.batch_size = 5.0\n", ["'training.batch_size'", "valid integer", "5.0"]),
    "batchnorm as 1": (MINE + "model.batchnorm = 1\n", ["'model.batchnorm'", "valid boolean", "got 1"]),
    "lr as inf": (MINE + "optimizer.lr = inf\n", ["'optimizer.lr'", "finite number", "inf"]),
    "dropout as nan": (MINE + "model.dropout = nan\n", ["'model.dropout'", "finite number", "nan"]),
    "a dropout that drops all": (MINE + "model.hidden_dropout = 1.0\n", ["'model.hidden_dropout'", "less than 1"]),
    "an id past the store's integers": (MINE.replace("id = 26", "id = 9223372036854775808"),
                                        ["experiment number 26",
                                         "whole-number 'id' from 1 to 9,223,372,036,854,775,807"]),
    "one translate value": (MINE + 'augment = [{ op = "affine", translate = [0.1] }]\n',
                            ["key 'augment.0.translate' needs 2 values (got [0.1])"]),
    "three translate values": (MINE + 'augment = [{ op = "affine", translate = [0.1, 0.1, 0.1] }]\n',
                               ["key 'augment.0.translate' needs 2 values (got [0.1, 0.1, 0.1])"]),
    # Found from the spec alone, before torch builds (or fails to allocate) anything.
    "too deep for 28x28": (MINE + "model.channels = [4, 4, 4, 4, 4]\n",
                           ["experiment 26", "5 pooled blocks", "at most 4"]),
    "too large to hold": (MINE + "model.hidden = 1000000000000\n", ["experiment 26", "parameters, more than the",
                                                                     "make model.channels or model.hidden smaller"]),
}


@pytest.mark.parametrize("appended, expected", BAD_EXPERIMENTS.values(), ids=BAD_EXPERIMENTS.keys())
def test_a_bad_experiments_file_names_the_file_the_experiment_and_the_key(refused, edited_experiments, appended,
                                                                          expected):
    path = str(edited_experiments(appended))
    message = refused("list", "--experiments", path)
    assert message.startswith(f"{path}: ") and all(fragment in message for fragment in expected), message


def test_a_toml_syntax_error_names_the_line(refused, edited_experiments, experiments_toml):
    path = str(edited_experiments(MINE + 'lesson = "never closed\n'))
    line = len(experiments_toml.read_text().splitlines()) + len(MINE.splitlines()) + 1
    assert f"line {line}" in refused("list", "--experiments", path)


@pytest.mark.slow
def test_a_byte_order_mark_is_read_past(tiny_experiments, cli):
    tiny_experiments.write_bytes(b"\xef\xbb\xbf" + tiny_experiments.read_bytes())  # as some Windows editors save
    listed = cli("list", "--json", "--experiments", str(tiny_experiments))
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["name"] == "Tiny"


def test_a_fifo_or_a_folder_as_the_experiments_file_is_refused_at_once(refused, tmp_path):
    os.mkfifo(tmp_path / "fifo")  # reading it would wait for a writer forever
    for path in (tmp_path / "fifo", tmp_path):
        assert refused("list", "--experiments", str(path)) == (
            f"{path}: not a regular file; pass an experiments file with --experiments PATH.")


def test_an_empty_experiments_file_asks_for_an_experiment(refused, tmp_path):
    path = experiments_file(tmp_path, "")
    assert "no experiments found; add at least one [[experiment]]" in refused("list", "--experiments", path)


def test_experiments_that_are_not_tables_are_refused(refused, tmp_path):
    path = experiments_file(tmp_path, "experiment = [1, 2]\n")
    said = refused("list", "--experiments", path)
    assert "'experiment' must be an array of tables, written as [[experiment]]" in said


def test_a_missing_experiments_file_says_how_to_name_one(refused, tmp_path):
    path = tmp_path / "nowhere.toml"
    assert refused("run", "1", "--experiments", str(path)) == (
        f"{path}: experiments file not found; pass an existing file with --experiments PATH.")


@pytest.mark.parametrize("args, expected", [
    (["99"], "There is no experiment 99; the experiments file has ids 1-25."),
    (["5-2"], "The range 5-2 runs backwards; write it as 2-5."),
    (["a-b"], "'a-b' is not an experiment id or a range such as 11-14."),
    (["1", "--seeds", "0"], "--seeds 0: give a whole number of seeds from 1 to 1,000."),
    (["1", "--device", "tpu"], "--device tpu: unknown device; use auto, cpu"),
    (["3", "--all"], "Give experiment ids or --all, not both; 'dermalab run 3' runs just those."),
    (["²"], "'²' is not an experiment id or a range such as 11-14."),
    (["1", "--seed", "٣"], "--seed ٣: give a whole number from 0 to 2,147,483,647."),
    (["1", "--seed", "1_000"], "--seed 1_000: give a whole number from 0 to 2,147,483,647."),
    (["1", "--seed", "2147483647", "--seeds", "2"],
     "--seed 2147483647 --seeds 2: the last seed would pass 2,147,483,647"),
    (["1", "--seeds", str(10**12)], "--seeds 1000000000000: give a whole number of seeds from 1 to 1,000."),
    (["1", "--epochs", "10001"], "--epochs 10001: give a whole number of epochs from 1 to 10,000."),
    (["1", "--epochs", "true"], "--epochs true: give a whole number of epochs from 1 to 10,000."),
], ids=["unknown id", "backwards range", "not a range", "no seeds", "unknown device", "ids and --all",
        "a superscript digit", "an Arabic-Indic digit", "an underscore", "seeds past the largest", "too many seeds",
        "epochs past the file's cap", "epochs as a word"])
def test_bad_run_options(refused, args, expected):
    assert refused("run", *args, "--data", "synthetic").startswith(expected)


@pytest.mark.parametrize("idle", ["nan", "inf", "-1", "1e9", "soon"])
def test_a_worker_wait_that_could_never_end_or_was_never_a_time_is_refused(refused, idle):
    assert refused("worker", "--idle", idle) == f"--idle {idle}: give a number of seconds from 0 to 86,400."


def test_an_unknown_id_names_the_ids_there_are_with_their_gaps(refused, tiny_experiments):
    with_gap = tiny_experiments.parent / "gap.toml"
    with_gap.write_text(tiny_experiments.read_text().replace("id = 4\n", "id = 7\n"))
    assert refused("run", "5", "--experiments", str(with_gap)) == (
        "There is no experiment 5; the experiments file has ids 1-3, 7.")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so asking for it is not a mistake")
def test_cuda_without_cuda_says_which_devices_exist(refused):
    assert refused("run", "1", "--device", "cuda") == "--device cuda: not available on this machine; it has auto, cpu."


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so asking for it is not a mistake")
@synchronous
async def test_the_app_without_cuda_queues_nothing_for_cuda_and_says_why():
    app = app_with("--data", "synthetic", "--device", "cuda", accelerator=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "finding" not in app.accelerator)  # its probe imports torch: slow when busy
        await pilot.press("down", "space", "r")
        assert app.is_running and app.lab.selected and app.lab.jobs == []  # no job queued only to fail on it
        assert notices(app)[-1] == "--device cuda: not available on this machine; it has auto, cpu."


def npz(path: Path, **changes) -> Path:
    np.savez(path, **medmnist_arrays(**changes))
    return path


class WritesAMarker:
    """Unpickling this creates the file it names: proof that a loader ran code from a data file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def with_raw_member(path: Path, name: str) -> Path:
    """A zip member numpy did not write (no .npy header): np.load hands it back as bytes."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, b"0,1,2,3")
    return path


def truncated(path: Path) -> Path:
    whole = npz(path).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


# name -> (write the bad file at PATH, fragment of the sentence)
BAD_DATA = {
    "missing file": (lambda path: path, "no such file"),
    "not an npz": (lambda path: path.write_text("akiec,bcc\n") and path, "not an .npz archive"),
    "a lone npy": (lambda path: np.save(path, np.zeros(3)) or path.with_suffix(".npz.npy"), "not an .npz archive"),
    "truncated npz": (truncated, "not an .npz archive"),
    "missing key": (lambda path: npz(path, val_labels=None), "the key 'val_labels' is missing"),
    "wrong shape": (lambda path: npz(path, train_images=np.zeros((4, 28, 28), np.uint8)),
                    "'train_images' has shape (4, 28, 28), but dermamnist images are N x 28 x 28 x 3"),
    "wrong dtype": (lambda path: npz(path, test_images=np.zeros((4, 28, 28, 3), np.float32)),
                    "'test_images' has dtype float32; it must be uint8"),
    "labels out of range": (lambda path: npz(path, train_labels=np.full((4, 1), 9, np.uint8)),
                            "one class 0-6 per image"),
    "pickled objects": (lambda path: npz(path,
                                         train_labels=np.array([WritesAMarker(path.parent / "ran")], dtype=object)),
                        "Object arrays cannot be loaded"),
    "a member that is not an array": (lambda path: with_raw_member(npz(path, train_labels=None), "train_labels"),
                                      "'train_labels' is not a numpy array; save the file with numpy.savez"),
    "an empty train split": (lambda path: npz(path, train_images=np.zeros((0, 28, 28, 3), np.uint8),
                                              train_labels=np.zeros((0, 1), np.uint8)),
                             "'train_images' holds no images; training needs train and val images"),
    "an empty val split": (lambda path: npz(path, val_images=np.zeros((0, 28, 28, 3), np.uint8),
                                            val_labels=np.zeros((0, 1), np.uint8)),
                           "'val_images' holds no images; training needs train and val images"),
}


@pytest.mark.parametrize("write, expected", BAD_DATA.values(), ids=BAD_DATA.keys())
def test_bad_data_files_are_refused_and_left_as_they_were(refused, tmp_path, write, expected):
    folder = tmp_path / "mine"
    folder.mkdir()
    path = write(folder / "dermamnist.npz")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    message = refused("run", "1", "--data", str(path))
    assert message.startswith(f"--data {path}: ") and expected in message, message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # only read; no code in it ran


def test_a_pipe_or_a_folder_as_the_data_file_is_refused_at_once(refused, tmp_path):
    os.mkfifo(tmp_path / "fifo.npz")  # reading it would wait for a writer forever
    for path in (tmp_path / "fifo.npz", tmp_path):
        assert refused("run", "1", "--data", str(path)) == (
            f"--data {path}: not a regular file; give the path of a medmnist-format .npz, 'auto' or 'synthetic'.")


def test_a_home_that_cannot_be_a_folder_is_refused_without_a_row(refused, tmp_path, monkeypatch):
    # A path below a regular file can never be created, even by root (who ignores chmod).
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DERMALAB_HOME", str(blocker / "home"))
    for command in (["run", "1", "--data", "synthetic"], ["results"]):
        assert refused(*command) == (f"The run store {blocker / 'home' / 'runs.sqlite'} could not be opened "
                                     f"({blocker} is a file, not a folder); set DERMALAB_HOME to a writable folder, "
                                     "then run again.")
    assert blocker.read_text() == "not a folder"


@pytest.mark.slow
@pytest.mark.parametrize("named, folder", [("relative home", "relative home"), ("~/lab", "lab")],
                         ids=["relative", "with a tilde no shell expanded"])
def test_a_home_named_loosely_is_one_folder_for_the_worker_started_elsewhere(tmp_path, monkeypatch, named, folder):
    from tui.app.background import child_environment

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DERMALAB_HOME", named)
    elsewhere = tmp_path / "logs"  # the worker starts in its log folder
    elsewhere.mkdir()
    said = subprocess.run([sys.executable, "-c", "from engine.store.runs import default_path; print(default_path())"],
                          cwd=elsewhere, env=child_environment(), capture_output=True, text=True, check=True)
    assert said.stdout.strip() == str(tmp_path / folder / "runs.sqlite")


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Nothing may be written in `folder` meanwhile, by root either: root ignores permissions, not the immutable
    flag (which needs chattr and a file system that keeps it)."""
    if os.geteuid():
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    try:
        subprocess.run(["chattr", "+i", str(folder)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"as root, a folder is made unwritable with chattr +i, which failed here: {error}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.fixture
def unwritable_home(store_run, stored, dermalab_home, tmp_path, monkeypatch) -> Iterator[tuple[Path, str]]:
    """DERMALAB_HOME holding one stored run, closed as a finished process leaves it (no -wal or -shm file beside
    it), in a folder nothing may be written in; yields the folder and the run's id."""
    labels, probabilities = noisy_predictions(3)
    run_id = store_run(labels, probabilities)
    stored.jobs()  # the queue's tables, as any run makes them
    home = tmp_path / "read-only home"
    home.mkdir()
    with closing(sqlite3.connect(dermalab_home / "runs.sqlite")) as source, \
            closing(sqlite3.connect(home / "runs.sqlite")) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=WAL")
    assert [path.name for path in home.iterdir()] == ["runs.sqlite"]
    monkeypatch.setenv("DERMALAB_HOME", str(home))
    with unwritable(home):
        yield home, run_id


def test_a_home_nothing_may_be_written_in_shows_its_runs_and_says_why_no_run_can_be_stored(unwritable_home, refused,
                                                                                          capsys, stored):
    home, run_id = unwritable_home
    assert main(["results", "--format", "json"]) == 0
    assert [run["run_id"] for run in json.loads(capsys.readouterr().out)] == [run_id]
    assert main(["results", run_id[:4]]) == 0 and run_id in capsys.readouterr().out
    assert refused("run", "1", "--data", "synthetic") == (
        f"The run store {home / 'runs.sqlite'} could not be written (no permission to write in {home}); set "
        "DERMALAB_HOME to a writable folder, then run again.")
    assert [run["run_id"] for run in stored.runs()] == [run_id] and stored.jobs() == {}


@synchronous
async def test_the_app_opens_on_a_home_nothing_may_be_written_in_and_says_why_no_run_can_start(unwritable_home):
    home, run_id = unwritable_home
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        assert app.lab.overview.stored == 1 and [run["run_id"] for run in app.lab.store.runs()] == [run_id]
        await pilot.press("down", "space", "r")
        assert app.is_running and app.lab.selected and app.lab.jobs == []  # the selection stays for another try
        assert notices(app)[-1] == (f"The run store {home / 'runs.sqlite'} could not be written (no permission to "
                                    f"write in {home}); set DERMALAB_HOME to a writable folder, then run again.")


@pytest.mark.parametrize("command, folder, environment", [
    (["run", "1", "--epochs", "1"], "data", "DERMALAB_HOME"),  # where DermaMNIST is downloaded to
    (["run", "23", "--data", "synthetic"], "torch", "TORCH_HOME"),  # where torch.hub keeps the ResNet18 weights
], ids=["the data folder", "torch's hub folder"])
def test_a_file_where_a_download_folder_belongs_is_named(refused, dermalab_home, monkeypatch, command, folder,
                                                        environment):
    dermalab_home.mkdir()
    blocker = dermalab_home / folder
    blocker.write_text("not a folder")
    monkeypatch.setenv(environment, str(dermalab_home if environment == "DERMALAB_HOME" else blocker))
    message = refused(*command)
    assert f": {blocker} is a file, not a folder; move it aside, or put " in message
    assert blocker.read_text() == "not a folder"


@pytest.mark.slow
def test_a_download_folder_nothing_may_be_written_in_is_named_as_such(refused, tmp_path, monkeypatch):
    torch_home = tmp_path / "torch"
    torch_home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    with unwritable(torch_home):
        message = refused("run", "23", "--data", "synthetic")
    assert "checkpoints cannot hold resnet18-" in message, message
    assert f": no permission to write in {torch_home}; put resnet18-" in message  # nothing to move aside


def test_weights_that_hold_more_than_tensors_are_refused_unrun(refused, tmp_path, monkeypatch):
    from torchvision.models import ResNet18_Weights

    from engine.training.models import weights_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = weights_path(ResNet18_Weights.IMAGENET1K_V1)
    weights.parent.mkdir(parents=True)
    weights.write_bytes(pickle.dumps(WritesAMarker(tmp_path / "ran"), protocol=2))  # torch.load's own protocol
    message = refused("run", "23", "--data", "synthetic")
    assert message.startswith(f"{weights} is not a usable ResNet18 weights file") and "--no-pretrained" in message
    assert not (tmp_path / "ran").exists()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.processes
@pytest.mark.slow
def test_missing_weights_offline_name_the_file_the_folder_and_the_way_out(child_cli, tmp_path):
    # A child process, because urllib reads the proxy settings once per process; a refused proxy is offline.
    proxy = f"http://127.0.0.1:{closed_port()}"
    offline = {"TORCH_HOME": str(tmp_path / "torch"), "https_proxy": proxy, "HTTPS_PROXY": proxy,
               "no_proxy": "", "NO_PROXY": ""}
    done = child_cli("run", "23", "--data", "synthetic", "--json", env=offline)
    assert (done.returncode, done.stdout) == (2, "")  # stdout stays for JSON, even while torch.hub talks
    message = one_sentence(done.stderr[done.stderr.index("dermalab: "):])  # after torch.hub's "Downloading: ..."
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert "put resnet18-f37072fd.pth (sha256 f37072fd)" in message and f"into {folder} by hand" in message
    assert message.endswith("or run with --no-pretrained.")


@pytest.mark.slow
def test_a_real_process_exits_2_with_the_sentence_and_no_traceback(child_cli):
    done = child_cli("run", "1", "--seeds", "many")
    assert done.returncode == 2
    assert one_sentence(done.stderr) == "--seeds many: give a whole number of seeds from 1 to 1,000."


def test_debug_lets_the_traceback_through():
    with pytest.raises(UserError, match="runs backwards"):
        main(["run", "5-2", "--debug"])


@pytest.mark.parametrize("args, expected", [
    (["results", "--sort", "recall"], "--sort recall: not a column of numbers; use one of experiment_id, seed, "),
    (["results", "--sort", "name"], "--sort name: not a column of numbers; use one of "),
    (["results", "--sort", "bogus"], "--sort bogus: no such column; use one of "),
    (["results", "--per-experiment", "--sort", "recall"], "--sort recall: not a column of numbers; use one of "),
    (["ensemble", "aaa", "aaa111"], "Both ids name run aaa111111111; an ensemble combines two different runs."),
    (["operating-point", "aaa", "--target", "nan"], "Target sensitivity nan is outside (0, 1]"),
], ids=["a nested column", "a column of names", "no such column", "per experiment", "one run twice", "a NaN target"])
def test_stored_runs_asked_for_the_impossible(refused, store_run, args, expected):
    labels, probabilities = noisy_predictions(8)
    store_run(labels, probabilities, run_id="aaa111111111")
    store_run(labels, probabilities, run_id="bbb222222222", seed=1)
    message = refused(*args)
    assert message.startswith(expected), message
    if "--sort" in args and "name" not in args:
        offered = message.split("use one of ")[1].rstrip(".").split(", ")
        assert "auc" in offered and not {"recall", "name", "status", "synthetic", "run_id"} & set(offered)
