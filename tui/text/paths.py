"""Paths as they read in a narrow place (a notice): the home folder as ~, broken into lines only after a '/', never
inside a name."""

from __future__ import annotations

from pathlib import Path


def path_lines(path: Path, width: int) -> str:
    """The path on lines of at most `width` (a single name longer than that keeps a line of its own)."""
    try:
        shown = "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        shown = str(path)
    first, *parts = shown.split("/")
    lines = [first]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) + 2 > width:  # the '/' ends the line it breaks
            lines[-1] += "/"
            lines.append(part)
        else:
            lines[-1] += "/" + part
    return "\n".join(lines)
