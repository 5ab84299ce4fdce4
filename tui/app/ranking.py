"""The leaderboard's rows and their order; the recall grid shows its rows in the same order.

One row per run reads only the rows shown from the store, in the store's order (an index per sorted figure):
the first PAGE, and PAGE more each time the cursor reaches the last, so 10,000 runs open as fast as 100."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.experiments.spec import Experiment
from engine.store import summary
from engine.store.runs import Store
from tui.app.lab import matches
from tui.text.tables import sort_rows, sortable

# These sort A-Z (or by id) when first chosen; every number sorts best-first, i.e. descending.
ASCENDING_FIRST = ("experiment_id", "name", "chapter", "seed")
PAGE = 100  # rows of runs read at a time: a screenful several times over, and quick to lay out again on each sort
VERSUS_PAGE_KEYS = {f"delta_{metric}": metric for metric in summary.VERSUS_PAGE}


def of_data(query: str, row: dict[str, Any]) -> bool:
    """The `/` filter on the data set: 'synth' or 'real', or a part of the data's name ('medmnist', 'mine.npz')."""
    query = query.strip().lower()
    kind = "synthetic" if row["synthetic"] else "real"
    return kind.startswith(query) or query in (row.get("data") or "").lower()


@dataclass
class Ranking:
    per_experiment: bool = False  # mean ± std over seeds per experiment, instead of one row per run
    key: str = "auc"
    descending: bool = True
    limit: int = PAGE  # runs shown, in per-run rows
    query: str = ""  # the `/` filter: only rows of experiments that match it (lab.matches)

    def rows(self, store: Store, experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
        """The rows of the experiments the filter names; a filter that names none is taken for a data set."""
        only = [i for i, experiment in experiments.items() if matches(self.query, experiment)] \
            if self.query.strip() else None
        if only == []:
            return [row for row in self._rows(store, experiments, None) if of_data(self.query, row)]
        return self._rows(store, experiments, only)

    def _rows(self, store: Store, experiments: dict[int, Experiment], only: list[int] | None) -> list[dict[str, Any]]:
        if self.per_experiment:
            groups = [group for group in store.groups() if only is None or group["experiment_id"] in only]
            rows = summary.experiment_rows(groups, experiments)
            if rows and self.key not in sortable(rows[0]):  # e.g. seed, after switching to per-experiment rows
                self._choose("auc")
            return sort_rows(rows, self.key, self.descending)
        if store.column_of(self.key) is None and self.key not in VERSUS_PAGE_KEYS:  # e.g. n
            self._choose("auc")
        if self.key in VERSUS_PAGE_KEYS:
            metric = VERSUS_PAGE_KEYS[self.key]
            runs = store.ranked(metric, self.descending, self.limit, summary.Page(experiments).baseline(metric), only)
        else:
            runs = store.ranked(self.key, self.descending, self.limit, only=only)
        return summary.run_rows(runs, experiments)

    def more(self) -> None:
        self.limit += PAGE

    def sort_by(self, key: str) -> None:
        """A new column sorts in its natural direction; choosing the current one again reverses it."""
        if key == self.key:
            self.descending = not self.descending
        else:
            self._choose(key)

    def cycle(self, keys: list[str]) -> None:
        """Sort by the column after the current one (of those shown), wrapping around."""
        position = keys.index(self.key) if self.key in keys else -1
        self._choose(keys[(position + 1) % len(keys)])

    def _choose(self, key: str) -> None:
        self.key, self.descending = key, key not in ASCENDING_FIRST
