"""A scrolling grid of captioned images in half-blocks, in titled sections, as many across as the width allows.
Only the lines on screen are drawn, so a gallery of hundreds of lesions scrolls as quickly as one of three."""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.app import App
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.text.halfblocks import cell_rows
from tui.views.tiles import CAPTION_LINES, SIDE, Section, Tile

GAP = 2  # columns between two images
TRUE_COLOUR = ("To see the images in full colour, set COLORTERM=truecolor (in tmux also: set -as terminal-features "
               "',*:RGB'), if the terminal has it.")


PALETTES = {"256": 256, "standard": 16}  # Rich's colour systems short of true colour, by their number of colours


def palette(app: App[Any]) -> int | None:
    """How many colours the terminal shows, None for true colour (Rich reads COLORTERM and TERM for this)."""
    return PALETTES.get(app.console.color_system or "")
TITLE = Style(bold=True)


class ImageGrid(ScrollView, can_focus=True):
    # a stable gutter: a scrollbar coming and going would reflow the grid
    DEFAULT_CSS = "ImageGrid { scrollbar-gutter: stable; padding: 0 1; }"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.sections: list[Section] = []
        self.scale = 1
        self._lines: list[tuple[str, Any, int]] = []  # (kind, what, line within it) for each line of the grid
        self._drawn: dict[int, list[list[Segment]]] = {}  # id(tile) -> its image rows at this scale

    def show(self, sections: list[Section]) -> None:
        self.sections = sections
        self._lay_out()
        self.scroll_home(animate=False)

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        """Twice the size when two such images fit across and one fits in height; then as many across as fit."""
        width, height = self.scrollable_content_region.size
        self.scale = 2 if width >= 2 * (2 * SIDE + GAP) and height >= SIDE + CAPTION_LINES + 1 else 1
        tile_width = SIDE * self.scale
        across = max(1, (width + GAP) // (tile_width + GAP))
        tile_height = SIDE * self.scale // 2 + CAPTION_LINES + 1  # the image, its caption, a blank line
        self._lines, self._drawn = [], {}
        for section in self.sections:
            self._lines.append(("title", section.title, 0))
            for start in range(0, len(section.tiles), across):
                row = section.tiles[start:start + across]
                self._lines += [("tiles", row, line) for line in range(tile_height)]
            if not section.tiles:
                self._lines.append(("blank", None, 0))
        self.virtual_size = Size(min(width, across * (tile_width + GAP)), len(self._lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(self.size.width, self.rich_style)
        kind, what, line = self._lines[index]
        if kind == "title":
            segments = [Segment(what, TITLE)]
        elif kind == "tiles":
            segments = [part for tile in what for part in (*self._tile_line(tile, line), Segment(" " * GAP))]
        else:
            segments = []
        return Strip(segments).crop(scroll_x, scroll_x + self.size.width).apply_style(self.rich_style)

    def _tile_line(self, tile: Tile, line: int) -> list[Segment]:
        image_rows = self._image_rows(tile)
        width = SIDE * self.scale
        if line < len(image_rows):
            return image_rows[line]
        caption = line - len(image_rows)
        text = tile.caption[caption] if caption < len(tile.caption) else ""
        return [Segment(text[:width].ljust(width))]

    def _image_rows(self, tile: Tile) -> list[list[Segment]]:
        key = id(tile)
        if key not in self._drawn:
            self._drawn[key] = cell_rows(tile.image, self.scale, colour=not self.app.no_color,
                                         dither=palette(self.app) == 256)
        return self._drawn[key]
