"""`python -m tui.cli`: the `dermalab` command, for child processes and tests that start it by module."""

from tui.cli.main import entry

entry()
