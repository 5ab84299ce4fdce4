"""What most commands read: the experiments file that --experiments names, and the run store (whose notice, when
it set a damaged file aside or upgraded an older one, the user hears here)."""

from __future__ import annotations

import argparse
import sys

from engine.experiments.load import load
from engine.experiments.spec import Experiment
from engine.store.runs import Store


def experiments_of(args: argparse.Namespace) -> dict[int, Experiment]:
    return load(args.experiments)


def open_store() -> Store:
    store = Store()
    if notice := store.notice():
        print(f"dermalab: warning: {notice}", file=sys.stderr)
    return store
