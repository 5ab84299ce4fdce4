"""What most commands read: the experiments file that --experiments names, and the run store (whose notice, when
it set a damaged file aside or upgraded an older one, the user hears here, and whose jobs of processes gone are
settled first, so that no command shows them going)."""

from __future__ import annotations

import argparse
import sys

from engine.experiments.load import load
from engine.experiments.spec import Experiment
from engine.status import ACTIVE, sql_in
from engine.store.runs import Store
from tui.arguments import scope_of


def experiments_of(args: argparse.Namespace) -> dict[int, Experiment]:
    return load(args.experiments)


def open_store(args: argparse.Namespace | None = None) -> Store:
    """With the args of a command that takes --dataset and --size, the store shows that set's runs alone."""
    store = Store()
    store.scope = scope_of(args)
    if notice := store.notice():
        print(f"dermalab: warning: {notice}", file=sys.stderr)
    claimed = f"SELECT 1 FROM jobs WHERE status IN {sql_in(ACTIVE)} AND host IS NOT NULL LIMIT 1"
    if store.read_only_because is None and store.execute(claimed):  # the queue's module only where it has work
        from engine.jobs.queue import JobQueue

        JobQueue(store).recover()
    return store
