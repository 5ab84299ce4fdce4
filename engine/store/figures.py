"""Figures as the store keeps them and dermalab gives them out (JSON, CSV): an undefined one is null. Free of the
store's own imports, so that a table printed anywhere can say figures the same way."""

from __future__ import annotations

import math
from typing import Any


def defined(value: Any) -> Any:
    """`value` with null for each undefined figure (NaN, as an undefined AUC is, or an infinity) and lists for
    tuples: what SQLite's json functions and strict JSON parsers accept."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: defined(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [defined(item) for item in value]
    return value
