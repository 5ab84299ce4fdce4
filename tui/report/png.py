"""Pictures beside report.md: each a PNG file drawn by matplotlib and linked from the report with one sentence of
ours. matplotlib is an optional extra (`pip install -e '.[figures]'`): without it the report says how to get them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTALL = "pip install -e '.[figures]'"
SIZE_INCHES = (8, 4.5)
DOTS_PER_INCH = 110  # 880 x 495 pixels: sharp in a Markdown viewer, a few tens of kB each


@dataclass(frozen=True)
class Png:
    file: str  # the file name beside report.md
    title: str
    reading: str  # one sentence in our words: what to read in the picture
    draw: Callable[[Any], None]  # draws onto a matplotlib Figure; matplotlib is imported only by `write`


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write(out: Path, pngs: list[Png], progress: Callable[[str], None] = lambda step: None) -> list[Path]:
    """Draws each picture into `out`, saying which to `progress` as it starts; call only when `available()`."""
    # A bare Figure, not pyplot: no global state and no GUI backend, so it works over SSH and in threads.
    from matplotlib.figure import Figure

    paths = []
    for number, png in enumerate(pngs, start=1):
        progress(f"figure {number} of {len(pngs)}: {png.file}")
        figure = Figure(figsize=SIZE_INCHES, layout="constrained")
        png.draw(figure)
        _as_written(figure)
        figure.savefig(out / png.file, dpi=DOTS_PER_INCH)
        paths.append(out / png.file)
    return paths


def _as_written(figure: Any) -> None:
    """Every text given to the figure is drawn as written: matplotlib reads what stands between two '$' as maths, and
    raises on what is not, while names come from files and the store. Tick labels matplotlib makes itself (a log
    axis's powers of ten) keep their maths: only labels given with set_xticks are ours."""
    from matplotlib.text import Text
    from matplotlib.ticker import FixedFormatter, FuncFormatter

    for text in figure.findobj(Text):
        text.set_text(_dollars_as_written(text.get_text()))
    for axis in (axis for axes in figure.axes for axis in (axes.xaxis, axes.yaxis)):
        for get, set_ in ((axis.get_major_formatter, axis.set_major_formatter),
                          (axis.get_minor_formatter, axis.set_minor_formatter)):
            if isinstance(given := get(), (FixedFormatter, FuncFormatter)):  # labels given, drawn later
                set_(FuncFormatter(lambda x, pos, given=given: _dollars_as_written(given(x, pos))))


def _dollars_as_written(text: str) -> str:
    return text.replace("$", r"\$")


def markdown(pngs: list[Png], drawn: bool) -> str:
    """The report's section of pictures: each linked under its title with its sentence, or how to get them."""
    if not pngs:
        return ""
    if not drawn:
        return (f"## Figures\n\n{len(pngs)} figures go here once matplotlib is installed: run `{INSTALL}` "
                "(or `pip install matplotlib`), then `dermalab report` again.\n")
    parts = [f"### {png.title}\n\n![{png.title}]({png.file})\n\n{png.reading}\n" for png in pngs]
    return "## Figures\n\n" + "\n".join(parts)
