"""Images as text: two pixel rows per terminal row, the upper pixel as the foreground colour of "▀" and the lower
one as its background, so a 28 × 28 lesion fills 28 columns × 14 rows at full resolution, over SSH and inside
tmux, with no graphics protocol. Without colour, each cell becomes a character of a brightness ramp instead. On a
terminal of 256 colours (tmux over SSH without truecolor), whose 6 levels a channel would band skin into flat patches,
the pixels are dithered over those levels instead."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

UPPER_HALF = "▀"
RAMP = " .:-=+*#%@"  # dark to bright: on a terminal without colour, more ink reads as more light
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, the weights of torchvision's rgb_to_grayscale

CUBE = np.array([0, 95, 135, 175, 215, 255])  # each channel's levels in the 6 × 6 × 6 cube of 256-colour terminals
BAYER = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16 + 1 / 32  # ordered dither

Pixel = tuple[int, int, int]


def cell_rows(image: Any, scale: int = 1, colour: bool = True, dither: bool = False) -> list[list[Segment]]:
    """The terminal rows of an H × W × 3 uint8 image (H even), each pixel repeated `scale` times each way; `dither`
    for a terminal of 256 colours."""
    if colour and dither:
        image, scale = dithered(np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)), 1
    pixels = [[tuple(pixel) for pixel in row for _ in range(scale)] for row in image.tolist() for _ in range(scale)]
    pairs = zip(pixels[0::2], pixels[1::2])
    if colour:
        return [[Segment(UPPER_HALF, _style(top, bottom)) for top, bottom in zip(*pair)] for pair in pairs]
    return [[Segment("".join(_shade(top, bottom) for top, bottom in zip(*pair)))] for pair in pairs]


@lru_cache(maxsize=65536)  # lesions share many colours, and a Style costs more to build than to look up
def _style(top: Pixel, bottom: Pixel) -> Style:
    return Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))


def _shade(top: Pixel, bottom: Pixel) -> str:
    brightness = sum(weight * (a + b) for weight, a, b in zip(LUMA, top, bottom)) / (2 * 255)
    return RAMP[round(brightness * (len(RAMP) - 1))]


def dithered(image: np.ndarray) -> np.ndarray:
    """The image with every channel on the cube's levels, each pixel rounded up or down by a 4 × 4 Bayer threshold,
    so an area between two levels mixes them in proportion instead of snapping to the nearer one."""
    values = image.astype(float)
    upper = np.clip(np.searchsorted(CUBE, values, side="left"), 1, len(CUBE) - 1)
    low, high = CUBE[upper - 1], CUBE[upper]
    height, width = image.shape[:2]
    threshold = np.tile(BAYER, (height // 4 + 1, width // 4 + 1))[:height, :width, None]
    return np.where((values - low) / (high - low) > threshold, high, low).astype(np.uint8)
