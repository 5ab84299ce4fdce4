"""A line of parts that keeps to a width without cutting a figure: each part has its long and its short words; the
parts' words shorten from the last part back, then whole parts go from the end, and nothing is cut mid-word."""

from __future__ import annotations

from collections.abc import Sequence

Part = tuple[str, str]  # (long words, short words): "train loss 0.523", "loss 0.523"
SEPARATOR = " · "


def same(words: str) -> Part:
    """A part with no shorter words."""
    return words, words


def fitted(parts: Sequence[Part], width: int) -> str:
    words = [long for long, _ in parts]
    for index in reversed(range(len(parts))):
        if len(SEPARATOR.join(words)) <= width:
            return SEPARATOR.join(words)
        words[index] = parts[index][1]
    while len(words) > 1 and len(SEPARATOR.join(words)) > width:
        words.pop()
    return SEPARATOR.join(words)
