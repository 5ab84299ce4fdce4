"""The colour scales of shares (recall, a confusion matrix's row shares). Viridis runs dark purple → teal →
yellow: its lightness rises all the way, so it reads the same to the colour-blind and in grey, unlike red → green.
Every cell prints its number too, so it reads without colour."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.color import Color

VIRIDIS = [Color.parse(stop) for stop in ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")]
GREYS = [Color.parse("#1b1f24"), Color.parse("#8a8f98")]  # for what is not the point of a table: its errors


def scale_words(colour: bool) -> str:
    """The viridis scale in a legend; without colour (NO_COLOR) its cells are greys of rising lightness."""
    return "purple 0 → teal 50 → yellow 100" if colour else "darker 0 → lighter 100"


def shade(share: float, stops: list[Color] = VIRIDIS) -> Color:
    """The colour of a share in [0, 1] on a scale of evenly spaced stops."""
    position = min(max(share, 0.0), 1.0) * (len(stops) - 1)
    low = min(int(position), len(stops) - 2)
    return stops[low].blend(stops[low + 1], position - low)


def on_shade(text: str, share: float, stops: list[Color] = VIRIDIS, bold: bool = False) -> Text:
    """`text` on the share's colour, in black or white, whichever reads on it."""
    background = shade(share, stops)
    return Text(text, style=Style(bgcolor=background.rich_color, color=background.get_contrast_text().rich_color,
                                  bold=bold))
