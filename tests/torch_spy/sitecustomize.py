"""On the PYTHONPATH of every process the tests start (tests/conftest.py puts it there): a process that imports torch
while a test runs leaves a file naming that test, so a test that starts such a process without the `processes` mark
is told to take it (README, "Run the tests")."""

from __future__ import annotations

import contextlib
import os
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path


class TorchSpy:
    """A finder that finds nothing: it only notes the first `import torch` and leaves the finding to the others."""

    def __init__(self) -> None:
        self.seen = False

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        test, folder = os.environ.get("PYTEST_CURRENT_TEST"), os.environ.get("DERMALAB_TEST_TORCH_SPY")
        if name == "torch" and not self.seen and test and folder:
            self.seen = True
            note = Path(folder) / f"{os.getpid()}.part"  # named whole once written: a reader never sees half
            command = " ".join(" ".join(sys.orig_argv[1:]).split())[:200]  # a -c script's lines on one
            with contextlib.suppress(OSError):  # a process outliving the tests: its import must still work
                note.write_text(f"{test.rsplit(' ', 1)[0]}\n{command}")
                note.rename(note.with_suffix(""))
        return None


sys.meta_path.insert(0, TorchSpy())
