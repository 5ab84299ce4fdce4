"""The leaderboard's rows and their order; the recall grid shows its rows in the same order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import summary
from engine.experiments import Experiment
from tui.tables import sort_rows

# These sort A-Z (or by id) when first chosen; every number sorts best-first, i.e. descending.
ASCENDING_FIRST = ("experiment_id", "name", "chapter", "seed")


@dataclass
class Ranking:
    per_experiment: bool = False  # mean ± std over seeds per experiment, instead of one row per run
    key: str = "auc"
    descending: bool = True

    def rows(self, runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
        rows = (summary.experiment_rows if self.per_experiment else summary.run_rows)(runs, experiments)
        if rows and self.key not in rows[0]:  # e.g. seed, after switching to per-experiment rows
            self.key, self.descending = "auc", True
        return sort_rows(rows, self.key, self.descending)

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
