"""`dermalab test NAMES… --unseal`: the sealed test figures of the runs, experiments or sweep's chosen point named,
beside their val figures, each look logged in the store (engine.store.sealed)."""

from __future__ import annotations

import argparse

from engine.errors import UserError
from engine.store import sealed
from engine.words import unsealed
from tui import exit_codes
from tui.cli.inputs import experiments_of, open_store
from tui.text.numbers import plural
from tui.text.tables import Column, dumps, machine, print_table

COLUMNS = [Column("unsealed", "what"), Column("n", "n"), Column("val AUC", "val_auc"),
           Column("test AUC", "test_auc"), Column("AUC 95% CI", "test_auc_ci"),
           Column("test mel rec", "test_mel_recall"), Column("mel rec 95% CI", "test_mel_recall_ci", priority=1),
           Column("test cancer", "test_cancer_sensitivity", priority=1)]
NOTE = ("Intervals: Student's t over the runs' seeds, or for one run the bootstrap over the test images. Choose on "
        "val, never on these: each look is logged, and results, the report and the app say how many there were.")


def cmd_test(args: argparse.Namespace) -> int:
    if not args.unseal:
        raise UserError("The test figures are sealed so that nothing is chosen on them; add --unseal to look at them "
                        "(each look is logged and counted wherever results are shown).")
    experiments, store = experiments_of(args), open_store()
    try:
        groups = sealed.groups_named(store, experiments, args.names, args.experiments)
        rows = sealed.unseal(store, " ".join(args.names), groups)
        looks = sealed.unsealings(store)
    finally:
        store.close()
    if args.json:
        print(dumps({"groups": [machine(row) for row in rows], "unsealings": looks}))
        return exit_codes.OK
    print_table(rows, "table", COLUMNS, args.wide, (NOTE, *untested(rows), unsealed(looks)))
    return exit_codes.OK


def untested(rows: list[dict]) -> list[str]:
    """A sentence for runs that finished before runs scored the test split, which have no test figures to show."""
    count = sum(row["runs_without_test"] for row in rows)
    if not count:
        return []
    return [f"{plural(count, 'run')} finished before runs scored the test split, so n leaves them out."]

