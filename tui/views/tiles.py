"""A gallery's shape as data: captioned images in titled sections under a legend. Apart from the galleries that
fill it (tui.views.galleries reads the store and numpy), so that the image grid can show it without loading them
at the app's first paint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIDE = 28  # pixels of a DermaMNIST image, each way
CAPTION_LINES = 2  # lines under each image


@dataclass(frozen=True)
class Tile:
    image: Any  # SIDE × SIDE × 3 uint8
    caption: tuple[str, ...]  # CAPTION_LINES lines, each at most SIDE characters: what the image is, in words


@dataclass(frozen=True)
class Section:
    title: str
    tiles: list[Tile]


@dataclass(frozen=True)
class Gallery:
    legend: str
    sections: list[Section]
