"""The command line as a script reads it: `run --json` answers on stdout whatever stderr is, for every seed asked
for; commands work on a store where nothing has finished yet; and every count says what it counts, alike
everywhere."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading

from tests.conftest import REPO


def run_with_stderr_on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess, bytes]:
    """`dermalab ARGS > file` in an interactive shell: stdout a pipe, stderr a pseudo-terminal (drained as it is
    written, as a terminal would be, so the bars never block the command). Returns the run and what the terminal
    showed."""
    master, terminal = pty.openpty()
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer of the terminal has closed it
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=terminal, text=True, timeout=300)
    finally:
        os.close(terminal)
    reader.join(timeout=30)
    os.close(master)
    return done, bytes(shown)


def test_run_json_goes_to_stdout_when_stderr_is_a_terminal_and_a_finished_seed_answers_reused(tiny_experiments,
                                                                                              dermalab_home):
    args = ("run", "1", "--data", "synthetic", "--experiments", str(tiny_experiments), "--json")
    done, shown = run_with_stderr_on_a_terminal(*args)
    assert done.returncode == 0, shown
    [trained] = [json.loads(line) for line in done.stdout.splitlines()]
    assert trained["status"] == "finished" and trained["reused"] is False
    assert trained["run_id"].encode() not in shown  # the bars' terminal got no JSON

    again, shown = run_with_stderr_on_a_terminal(*args)
    assert again.returncode == 0, shown
    [reused] = [json.loads(line) for line in again.stdout.splitlines()]
    assert reused == {**trained, "reused": True}
    assert b"skipped #1 Tiny seed 0" in shown
