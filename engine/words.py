"""Counts in words, shared by the engine's sentences and the terminal's: '1 thread', '2 threads'."""

from __future__ import annotations


def plural(n: int, thing: str) -> str:
    """'1 run', '2 runs', '0 runs'."""
    return f"{n} {thing}{'' if n == 1 else 's'}"
