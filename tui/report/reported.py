"""The set a report is on, and the words it gives that set's clinical figures."""

from __future__ import annotations

from dataclasses import dataclass

from engine.classes import CRITICAL, DEFAULT, DEFAULT_SIZE, Critical, class_names, label
from engine.store.runs import Store
from tui.text.tables import Column


@dataclass(frozen=True)
class Reported:
    """The set a report is on (the store's scope), and what the report calls its clinical figures: the page's
    words on DermaMNIST, its critical classes' on another set (engine.classes.CRITICAL), none where it has none."""

    dataset: str = DEFAULT
    size: int = DEFAULT_SIZE

    @classmethod
    def of(cls, store: Store) -> Reported:
        return cls(*store.scope) if store.scope else cls()

    @property
    def page(self) -> bool:
        return self.dataset == DEFAULT

    @property
    def label(self) -> str:
        return label(self.dataset, self.size)

    @property
    def classes(self) -> tuple[str, ...]:
        return class_names(self.dataset)

    @property
    def critical(self) -> Critical | None:
        return CRITICAL.get(self.dataset)

    @property
    def focus(self) -> str:
        """The critical class, as a sentence names it: 'melanoma' on the page's set."""
        assert self.critical is not None, "only a set with a critical class has one"
        return "melanoma" if self.page else self.critical.focus

    @property
    def titles(self) -> tuple[str, str]:
        """The headers of the focus class's recall and the critical group's mean recall."""
        assert self.critical is not None, "only a set with a critical class has them"
        return ("mel recall", "cancer sens") if self.page else self.critical.titles

    def clinical(self, spread: bool = False) -> list[Column]:
        """The two clinical columns, under the set's titles; none on a set without critical classes."""
        if self.critical is None:
            return []
        return [Column(self.titles[0], "mel_recall", spread), Column(self.titles[1], "cancer_sensitivity", spread)]

    def group_words(self) -> str:
        """What the critical group's column holds, in a sentence (the page's own on DermaMNIST)."""
        if self.page:
            return "Cancer sensitivity is the mean recall of akiec, bcc and mel, as the page defines it."
        if self.critical is None:
            return f"{self.label} declares no critical class, so no clinical recall is shown."
        focus, group = self.titles
        return (f"{focus} is the recall of {self.critical.focus}, and {group} the mean recall of "
                f"{', '.join(self.critical.group)}: {self.critical.reason}.")
