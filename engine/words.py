"""Counts in words, shared by the engine's sentences and the terminal's: '1 thread', '2 threads', and the stored
runs by status."""

from __future__ import annotations

from collections.abc import Mapping

from engine.status import Status


def plural(n: int, thing: str) -> str:
    """'1 run', '2 runs', '0 runs'."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def runs_stored(statuses: Mapping[Status, int]) -> str:
    """How many runs the store holds, said alike by every command and screen: '13 runs stored' when every one
    finished, else with each status's count in the enum's words, finished first: '11 runs stored: 8 finished,
    2 cancelled, 1 running'."""
    stored = sum(statuses.values())
    if statuses.keys() <= {Status.FINISHED}:
        return f"{plural(stored, 'run')} stored"
    order = [Status.FINISHED, *(status for status in Status if status != Status.FINISHED)]
    return f"{plural(stored, 'run')} stored: " + ", ".join(f"{statuses[s]} {s}" for s in order if statuses.get(s))


def unsealed(looks: int) -> str:
    """How often a store's sealed test figures were looked at (engine.store.sealed), said alike by `test`,
    `results`, the report and the app."""
    if not looks:
        return "The test split has never been unsealed in this store."
    return f"The test split has been unsealed {plural(looks, 'time')} in this store (dermalab test --unseal)."
