"""The augmentation preview's child process: four train images, and four draws of an experiment's train transform
over them through the engine's own batched pipeline, written to an .npz for the app.

A child process rather than torch imported into the app in a thread: importing torch holds the interpreter for
seconds, which would freeze the app's keys in the meantime, and it would stay in the app's memory for good;
the app already leaves torch to its children (the accelerator probe, every run), and a crash in the child
costs a sentence, not the app."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError
from tui import exit_codes
from tui.app.background import child_environment

if TYPE_CHECKING:
    import numpy as np

    from engine.jobs.source import JobSource

DRAWS = 4  # passes of the transform shown per image
SEED = 0  # the same draws every time, so the preview can be compared between experiments (and snapshotted)
CHILD_SECONDS = 300  # importing torch and making the synthetic set on a busy machine, with room to spare


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.app.augment_preview")
    parser.add_argument("experiment", type=int)
    parser.add_argument("--data", default="auto")
    parser.add_argument("--experiments")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        draw(args.experiment, args.data, args.experiments, Path(args.out))
    except UserError as error:
        print(f"dermalab: {error}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    return 0


def draw(experiment_id: int, data_option: str, experiments_path: str | None, out: Path) -> None:
    import numpy as np
    import torch

    from engine.analysis import lesions
    from engine.experiments.load import load
    from engine.training import augment, data

    experiments = load(experiments_path)
    if experiment_id not in experiments:
        raise UserError(f"There is no experiment {experiment_id} to preview.")
    dataset = data.at_hand(data_option)
    chosen = lesions.preview_images(dataset.labels["train"])
    inputs = dataset.images["train"][chosen]
    drawn = augment.preview(experiments[experiment_id].spec.augment, torch.from_numpy(inputs), DRAWS,
                            torch.Generator().manual_seed(SEED))
    values = drawn.flatten(2)
    shown = (drawn.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2)  # back to N x H x W x C
    np.savez(out, indices=chosen, labels=dataset.labels["train"][chosen], inputs=inputs, shown=shown.numpy(),
             low=values.amin(-1).numpy(), high=values.amax(-1).numpy())


class PreviewChild:
    """The app's side: `run` blocks until the child has drawn (call it from a worker thread); `stop`, from any
    thread, kills a child still at work (the screen was left, or the app closed)."""

    def __init__(self, experiment_id: int, source: JobSource):
        self.command = [sys.executable, "-m", "tui.app.augment_preview", str(experiment_id), "--data", source.data]
        self.command += ["--experiments", source.experiments_file] if source.experiments_file else []
        self.process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def run(self) -> dict[str, np.ndarray]:
        import numpy as np

        with tempfile.TemporaryDirectory(prefix="dermalab-preview-") as folder:
            out = Path(folder) / "preview.npz"
            with self._lock:
                if self._stopped:
                    raise UserError("The preview was stopped before it began.")
                self.process = subprocess.Popen([*self.command, "--out", str(out)], stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                                env=child_environment())
            try:
                _, errors = self.process.communicate(timeout=CHILD_SECONDS)
            except subprocess.TimeoutExpired:
                self.stop()
                raise UserError(f"The preview took longer than {CHILD_SECONDS} s and was stopped; try again when the "
                                "machine is less busy.") from None
            if self.process.returncode != 0:
                said = [line.strip() for line in errors.splitlines() if line.strip()]
                raise UserError(said[-1].removeprefix("dermalab: ") if said else
                                f"The preview process ended with exit code {self.process.returncode}.")
            with np.load(out) as arrays:
                return {name: arrays[name] for name in arrays.files}

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
