"""Questions about the processes of this machine that dermalab starts: whether one is still alive."""

from __future__ import annotations

import os


def process_alive(pid: int | None) -> bool:
    """Whether a process of this machine with this id still exists (None: no process was recorded)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
