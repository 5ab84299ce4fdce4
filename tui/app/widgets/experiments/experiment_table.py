"""The experiments list: one row per experiment under a row per chapter, with selection, status and best AUC."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.app.lab import Lab, matches
from tui.text import numbers

CHAPTER_PREFIX = "chapter:"
# Selected, not selected, and (for a chapter) partly selected. Cells are Text, as a str cell is read as markup:
# "[x]" here, and "[/bold]" in a name from the experiments file would break the table.
SELECTION_BOXES = {True: Text("[x]"), False: Text("[ ]"), None: Text("[-]")}
COLUMNS = (("", "mark"), ("#", "id"), ("experiment", "name"), ("params", "params"), ("status", "status"),
           ("best AUC", "best"))


class ExperimentTable(DataTable):
    """Rows are fixed once built; `redraw` updates the cells that change as runs come and go."""

    def __init__(self, lab: Lab):
        super().__init__(cursor_type="row", zebra_stripes=False, id="experiment-table")
        self.lab = lab
        self.shown = lab.chapters()  # chapter -> ids of the experiments the filter lets through

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)
        self.show("")

    def show(self, query: str) -> None:
        """Only the experiments that match `query` (see lab.matches), under their chapters' rows."""
        chapters = self.lab.chapters()
        self.shown = {chapter: kept for chapter, ids in chapters.items()
                      if (kept := [i for i in ids if matches(query, self.lab.experiments[i])])}
        self.clear()
        for number, chapter in enumerate(chapters, start=1):
            if chapter not in self.shown:
                continue
            self.add_row("", "", Text(f"{number}. {chapter}", style="bold"), "", "", "", key=CHAPTER_PREFIX + chapter)
            for experiment_id in self.shown[chapter]:
                self.add_row("", str(experiment_id), Text(self.lab.experiments[experiment_id].spec.name), "", "", "",
                             key=str(experiment_id))
        self.redraw()

    def redraw(self) -> None:
        chapters = self.lab.chapters()
        for chapter, ids in self.shown.items():
            self._set(CHAPTER_PREFIX + chapter, "mark", self._chapter_mark(chapters[chapter]))
            for experiment_id in ids:
                key = str(experiment_id)
                best = self.lab.best_auc(experiment_id)
                self._set(key, "mark", SELECTION_BOXES[experiment_id in self.lab.selected])
                self._set(key, "params", numbers.compact_count(self.lab.params(experiment_id)))
                self._set(key, "status", self.lab.status(experiment_id))
                best_words = numbers.MISSING if best is None else numbers.auc(best[0]) + (" syn" if best[1] else "")
                self._set(key, "best", best_words)

    def _set(self, row: str, column: str, value: str | Text) -> None:
        self.update_cell(row, column, value, update_width=True)

    def _chapter_mark(self, ids: list[int]) -> Text:
        chosen = len(set(ids) & self.lab.selected)
        every = True if chosen == len(ids) else None if chosen else False  # None: some of them
        return SELECTION_BOXES[every]

    def highlighted(self) -> tuple[str | None, list[int]]:
        """The highlighted row's chapter name (None for an experiment row) and the experiment ids it stands for."""
        if not self.row_count:
            return None, []
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value or ""
        if key.startswith(CHAPTER_PREFIX):
            chapter = key.removeprefix(CHAPTER_PREFIX)
            return chapter, self.lab.chapters()[chapter]
        return None, [int(key)]
