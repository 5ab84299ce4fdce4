"""Shared fixtures: every test gets its own DERMALAB_HOME, and a way to run the real `dermalab` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def dermalab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DERMALAB_HOME", str(home))
    monkeypatch.delenv("DERMALAB_DATA_URL", raising=False)
    monkeypatch.delenv("DERMALAB_DATA_DIR", raising=False)
    return home


def dermalab(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a child process, as a user would, with this test's environment."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def cli():
    return dermalab
