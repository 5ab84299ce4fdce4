"""The columns of the command line's tables: which ones, in what order, and which give way first when a terminal
is narrow (priority 0 always stays). Headers and notes take each measure's name and meaning from tui.text.measures."""

from __future__ import annotations

from dataclasses import replace

from tui.text.measures import MEASURES, explained, held, of_set, retitled
from tui.text.tables import Column


def measure(key: str, priority: int = 0, spread: bool = False) -> Column:
    return Column(MEASURES[key].header, key, spread, priority)


RUN = [Column("run", "run_id"), Column("#", "experiment_id"), Column("name", "name"), Column("seed", "seed"),
       Column("status", "status", priority=2), Column("data", "synthetic")]
# A run that did not finish has no AUC: its status takes the AUC's place, as on the app's leaderboard.
RESULTS = [*RUN, Column("AUC", "auc", otherwise="status"), measure("mel_recall"),
           measure("cancer_sensitivity"), measure("accuracy", 1), measure("balanced_accuracy", 2),
           Column("ΔAUC", "delta_auc", priority=2), Column("params", "params", priority=3),
           Column("time", "train_seconds", priority=1), Column("unlike the page", "differs", priority=1)]
# One run: what `results RUN_ID` is asked for, the two figures with their bootstrap intervals, come first; the
# rest as the terminal allows.
ONE_RUN = [*RUN[:4], Column("AUC", "auc", otherwise="status"), Column("AUC 95% CI", "auc_ci"), measure("mel_recall"),
           Column("mel rec 95% CI", "mel_recall_ci"), measure("cancer_sensitivity", 1), measure("accuracy", 1),
           Column("data", "synthetic", priority=1), Column("unlike the page", "differs", priority=1),
           Column("notes", "notes", priority=1), Column("status", "status", priority=2),
           measure("balanced_accuracy", 2), Column("ΔAUC", "delta_auc", priority=2),
           Column("params", "params", priority=3), Column("time", "train_seconds", priority=3)]
# The experiments file beside the page's figures (list).
LIST = [Column("#", "id"), Column("name", "name"), Column("chapter", "chapter", priority=2),
        Column("params", "params"), Column("epochs", "epochs"), Column("page AUC", "auc_published"),
        Column("page mel rec", "mel_recall_published")]
# The file's sweeps, under its experiments (list): `dermalab sweep NAME` runs one.
SWEEPS = [Column("sweep", "name"), Column("#", "extends"), Column("varies", "axes"), Column("points", "points"),
          Column("seeds", "seeds"), Column("runs", "runs", priority=1)]
EXPERIMENT = [Column("#", "experiment_id"), Column("name", "name"), Column("data", "synthetic"), Column("n", "n")]
PER_EXPERIMENT = [*EXPERIMENT, measure("auc", spread=True), measure("mel_recall", spread=True),
                  measure("cancer_sensitivity", spread=True), measure("accuracy", 1, spread=True),
                  Column("ΔAUC", "delta_auc", priority=2), Column("params", "params", priority=3),
                  Column("unlike the page", "differs", priority=1)]
# A sweep's points: the values that make each one, then its figures over seeds.
SWEEP = [Column("point", "point"), Column("data", "synthetic", priority=1), Column("n", "n"),
         measure("auc", spread=True), measure("mel_recall", spread=True), measure("cancer_sensitivity", spread=True),
         Column("time", "train_seconds", priority=1), Column("stopped", "halved", priority=1),
         Column("edited", "edited", priority=1)]
# Each measure beside the page's figure and whether the two agree; cancer gives way first.
COMPARE = [*EXPERIMENT, *(column for key, priority in (("auc", 0), ("mel_recall", 0), ("cancer_sensitivity", 1))
                          for column in (measure(key, priority, spread=True),
                                         Column("page", f"{key}_published", priority=priority),
                                         Column("agrees", f"{key}_verdict", priority=priority))),
           Column("unlike the page", "differs", priority=1)]
SCREENING = [Column("model", "model"), Column("run", "run_id"), measure("malignant_sensitivity"),
             measure("specificity"), measure("mel_recall"), measure("auc")]
# The queue's jobs; where they run gives way first on a narrow terminal.
QUEUE = [Column("job", "job_id"), Column("#", "id"), Column("name", "name"), Column("seed", "seed"),
         Column("status", "status"), Column("epoch", "epoch_text"), Column("batch", "batch_text", priority=1),
         Column("ETA", "eta"), Column("img/s", "images_per_second", priority=2), Column("device", "device", priority=3),
         Column("slot", "slot", priority=3), Column("worker", "worker", priority=3)]

RESULT_NOTES = (explained("cancer_sensitivity"),)
AGREES_NOTE = ("agrees: the page's figure lies within our mean ± 2 std over at least 3 seeds; – fewer seeds than "
               "that, so the spread is unknown")
SCREENING_NOTES = (explained("malignant_sensitivity", "specificity"),
                   f"cancer, on the leaderboard: {MEASURES['cancer_sensitivity'].meaning}")
VERDICTS = {"consistent": "yes", "different": "no", "too few runs": "–"}  # agrees, in a table's few columns


def for_set(columns: list[Column], dataset: str | None) -> list[Column]:
    """The columns as a set's runs fill them: its critical classes' titles in place of mel rec and cancer, and
    neither on a set that declares no critical class."""
    measures = of_set(dataset)
    return [replace(column, header=retitled(column.header, column.key, measures)) for column in columns
            if held(column.key, measures)]
