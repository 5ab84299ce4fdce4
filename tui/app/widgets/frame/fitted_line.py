"""One line of text that fits its width by shorter words and fewer parts (tui.text.fit), never by an ellipsis over
a figure: the run view's numbers, a gallery's title."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import RenderResult
from textual.widgets import Static

from tui.text.fit import SEPARATOR, Part, fitted


class FittedLine(Static):
    def __init__(self, parts: Sequence[Part] = (), **kwargs: Any):
        super().__init__(markup=False, **kwargs)
        self.parts = tuple(parts)

    def show(self, parts: Sequence[Part]) -> None:
        """Redrawn only when the parts change (progress comes twice a second); its content is the long words."""
        if tuple(parts) != self.parts:
            self.parts = tuple(parts)
            self.update(SEPARATOR.join(long for long, _ in parts), layout=False)

    def render(self) -> RenderResult:
        return fitted(self.parts, self.content_region.width or self.app.size.width)
