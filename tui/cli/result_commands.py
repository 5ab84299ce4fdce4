"""The commands that read what is stored: list, results, compare, operating-point, ensemble, report and prune.
They print; the figures come from the engine (engine.store.summary, engine.analysis.screening, engine.store.prune).
Screening and the report need numpy, imported where they are used so the other commands start without it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from engine.classes import DEFAULT, label, medset
from engine.errors import UserError
from engine.experiments import sweeps
from engine.experiments.architecture import parameter_count
from engine.experiments.spec import Experiment
from engine.jobs import cluster
from engine.store import prune, sealed, summary
from engine.store.runs import Store
from engine.store.sweep_results import sweep_results
from engine.words import unsealed
from tui import exit_codes
from tui.cli import columns as cli_tables
from tui.cli.inputs import experiments_of, open_store
from tui.report import png
from tui.text import screening as words
from tui.text.numbers import plural, runs_stored
from tui.text.tables import (
    NO_RUNS,
    Column,
    check_sort_column,
    dumps,
    machine,
    print_table,
    sort_rows,
    terminal_width,
    wrapped,
)
from tui.views import sweep_figures


def cmd_list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    experiments = experiments_of(args)
    for experiment in experiments.values():
        spec = experiment.spec
        published = spec.published.model_dump() if spec.published else None
        rows.append({"id": spec.id, "name": spec.name, "chapter": spec.chapter,
                     "params": parameter_count(spec.model),  # counted without torch: a listing builds no models
                     "epochs": spec.training.epochs, "published": published})
    if args.json:
        print(dumps(rows))
        return exit_codes.OK
    print_table([{**r, **{f"{key}_published": r["published"] and r["published"][key] for key in ("auc", "mel_recall")}}
                 for r in rows], "table", cli_tables.LIST, args.wide)
    if listed := [sweep_row(sweep) for sweep in sweeps.every(experiments, args.experiments)]:
        print()  # under the experiments, as in the app: the questions asked of them
        print_table(listed, "table", cli_tables.SWEEPS, args.wide)
    return exit_codes.OK


def sweep_row(sweep: sweeps.Sweep) -> dict[str, Any]:
    """A sweep as `list` shows it: what it varies (each axis by its last part, with its count of values or how it is
    drawn) and how many runs it asks for."""
    last = [axis.rsplit(".", 1)[-1] for axis in sweep.axes]
    varied = " × ".join(f"{short if last.count(short) == 1 else axis} "
                        f"({len(values) if isinstance(values, list) else values.kind.replace('_', '-')})"
                        for (axis, values), short in zip(sweep.axes.items(), last))
    points = len(sweep.points())
    return {"name": sweep.name, "extends": sweep.base.id, "axes": varied, "points": points, "seeds": sweep.seeds,
            "runs": points * sweep.seeds}


def cmd_results(args: argparse.Namespace) -> int:
    store = open_store(args)
    if args.run_id:
        return show_run(args, store)
    if args.confusion:
        raise UserError("--confusion shows one run's matrix; name the run, e.g. 'dermalab results 3f2a --confusion'.")
    experiments = experiments_of(args)
    if args.sweep:
        return show_sweep(args, store, experiments)
    if args.point is not None:
        raise UserError("--point names a point of a sweep; give the sweep too, e.g. --sweep adam-lr --point "
                        "'lr=0.001, epochs=10'.")
    if args.experiment is not None and args.experiment not in experiments:
        raise UserError(f"--experiment {args.experiment}: there is no such experiment; 'dermalab list' shows their "
                        "ids.")

    def chosen(rows: list[dict]) -> list[dict]:
        return [row for row in rows if args.experiment in (None, row["experiment_id"])]

    of = "" if args.experiment is None else f" of experiment {args.experiment}"
    if args.per_experiment:
        rows, columns = summary.experiment_rows(chosen(store.groups()), experiments), cli_tables.PER_EXPERIMENT
        empty = none_to_show(store, f"finished runs{of} to average")
    else:
        rows = summary.run_rows(chosen(store.runs()), experiments)
        # Runs stored before intervals were computed at finish need a resample each; only JSON and CSV show them.
        if args.format in ("json", "csv"):
            rows = summary.with_intervals(rows, store)
        columns, empty = cli_tables.RESULTS, none_to_show(store, f"runs{of}")
    check_sort_column(rows, args.sort)
    print_table(sort_rows(rows, args.sort, args.descending), args.format, cli_tables.for_set(columns, args.dataset),
                args.wide, measure_notes(args.dataset, args.size), empty)
    say_unsealings(store, args.format)
    return exit_codes.OK


def measure_notes(dataset: str, size: int) -> tuple[str, ...]:
    """What the clinical columns mean on the set shown: the page's words on DermaMNIST, else its critical classes
    (engine.classes.CRITICAL), or why there are none."""
    chosen = medset(dataset, size)
    if chosen.name == DEFAULT:
        return cli_tables.RESULT_NOTES
    critical = chosen.critical
    if critical is None:
        return (f"{chosen.label} declares no critical class, so no clinical recall is shown (dermalab invents none)",)
    focus, group = critical.titles
    return (f"on {chosen.label}, {focus} is the recall of '{critical.focus}' and {group} the mean recall of "
            f"{', '.join(critical.group)}: {critical.reason}",)


def say_unsealings(store: Store, fmt: str) -> None:
    """Under a table of results, how often the test split was looked at, once it has been: a reader of figures
    chosen on val should know whether test figures were seen too (engine.store.sealed)."""
    if fmt in ("table", "markdown") and (looks := sealed.unsealings(store)):
        print(unsealed(looks))


def none_to_show(store: Store, what: str) -> str:
    """What an empty table says: that nothing is stored, or what is (counted as every command counts runs)."""
    statuses = store.statuses()
    if statuses:
        return f"No {what} ({runs_stored(statuses)})."
    scope = store.scope
    others = [label(*row) for row in store.execute("SELECT DISTINCT dataset, size FROM runs")] if scope else []
    if scope and others:  # the store is not empty: its runs are of other sets than the one shown
        return (f"No runs on {label(*scope)}; the store holds runs on {', '.join(others)}, which --dataset "
                "and --size show.")
    return NO_RUNS


def show_sweep(args: argparse.Namespace, store: Store, experiments: dict[int, Experiment]) -> int:
    """`results --sweep NAME`: a row per point, then its best point against the experiment it extends."""
    if args.per_experiment or args.experiment is not None:
        raise UserError("--sweep shows the sweep's own points; leave out --per-experiment and --experiment.")
    sweep = sweeps.named(args.sweep, experiments, args.experiments)
    found = sweep_results(store, sweep, sweep.points(), args.point)
    check_sort_column(found.rows, args.sort)
    rows = sort_rows(found.rows, args.sort, args.descending)
    if args.format == "json":
        print(dumps({"sweep": sweep.name, "id": sweep.base.id, "question": sweep.question,
                     "points": [machine(row) for row in rows],
                     "best": found.best and found.best["point"], "base": found.base and machine(found.base),
                     "best_versus_base": found.versus_base, "stopped": found.stopped, "gone": found.gone}))
        return exit_codes.OK
    print_table(rows, args.format, cli_tables.for_set(cli_tables.SWEEP, args.dataset), args.wide,
                measure_notes(args.dataset, args.size))
    if args.format != "csv":
        if sweep.question:
            print(f"Sweep '{sweep.name}' asks: {' '.join(sweep.question.split())}")
        print(sweep_figures.best_versus_base(sweep, found, named=args.point is not None))
        say_unsealings(store, args.format)
        for line in sweep_figures.notes(sweep, found):
            print(wrapped(line, terminal_width()))
    return exit_codes.OK


def show_run(args: argparse.Namespace, store: Store) -> int:
    """`results RUN_ID`: the run's row with its bootstrap intervals, or with --confusion its confusion matrix."""
    if args.per_experiment or args.experiment is not None or args.sweep:
        raise UserError("--per-experiment, --experiment and --sweep summarise many runs; leave out the run id to use "
                        "them.")
    experiments = experiments_of(args)
    # A number can start a run id as well as name an experiment: say which one it was taken for.
    number = args.run_id.isdigit() and int(args.run_id) in experiments
    try:
        run = store.find(args.run_id)
    except UserError:
        if number:
            raise UserError(f"No run id starts with '{args.run_id}'; for experiment {args.run_id}'s runs, use "
                            f"'dermalab results --experiment {args.run_id}'.") from None
        raise
    if number:
        print(f"dermalab: '{args.run_id}' is the start of run {run['run_id']} (#{run['experiment_id']} {run['name']}); "
              f"for experiment {args.run_id}'s runs, use --experiment {args.run_id}.", file=sys.stderr)
    if not args.confusion:
        print_table(summary.with_intervals(summary.run_rows([run], experiments), store), args.format,
                    cli_tables.for_set(cli_tables.ONE_RUN, run["dataset"]), args.wide,
                    measure_notes(run["dataset"], run["size"]))
        return exit_codes.OK
    rows = summary.confusion_rows(run)
    classes = [row["true"] for row in rows]  # the run's set's, in the order of their labels
    if args.format in ("json", "csv"):
        print_table(rows, args.format)
        return exit_codes.OK
    if args.format == "table":
        print(wrapped(f"Run {run['run_id']} · #{run['experiment_id']} {run['name']} · seed {run['seed']}: rows are the "
                      "true class, columns the predicted one; each row's share in brackets.", terminal_width()))
    # Counts with their row share in one cell, for reading; CSV and JSON keep the two apart.
    print_table([{"true": r["true"], "n": r["n"], **{c: f"{r[c]} ({r[c + '_share'] or 0:.0%})" for c in classes}}
                 for r in rows], args.format, wide=True)
    return exit_codes.OK


def cmd_compare(args: argparse.Namespace) -> int:
    store = open_store(args)
    rows = summary.compare_rows(store.groups(), experiments_of(args))
    if args.format in ("table", "markdown"):  # the verdict in the few letters of the 'agrees' column
        rows = [{k: cli_tables.VERDICTS.get(v, v) if k.endswith("_verdict") else v for k, v in row.items()}
                for row in rows]
    print_table(rows, args.format, cli_tables.for_set(cli_tables.COMPARE, args.dataset), args.wide,
                (*measure_notes(args.dataset, args.size), cli_tables.AGREES_NOTE),
                none_to_show(store, "finished runs to set beside the page's figures"))
    return exit_codes.OK


def cmd_operating_point(args: argparse.Namespace) -> int:
    from engine.analysis import screening  # numpy

    predictions = summary.predictions(open_store(args), args.run_id)
    point = screening.operating_point(predictions, args.target, args.condition).to_dict()
    if args.json:
        print(dumps(point))
        return exit_codes.OK
    point["class"] = words.condition_short(predictions.dataset, point["class"])  # 'mel'; or the set's 'TUM', 'CNV+DME'
    print_table([point], "table", notes=point_notes(predictions.dataset))
    return exit_codes.OK


def point_notes(dataset: str) -> tuple[str, ...]:
    """What an operating point's class and flagged count are on the set (the page's words on DermaMNIST)."""
    if dataset == DEFAULT:
        return ("flagged_per_1000: benign lesions (not akiec, bcc or mel) flagged per 1,000 patients at the val set's "
                "mix.",)
    spared = (f"flagged_per_1000: {words.spared(dataset)} images flagged per 1,000 patients at the val set's "
              "mix.")
    if words.one_condition(dataset):
        return (f"--class mel and --class cancer both screen for {words.condition_name(dataset, 'mel')}, the one "
                f"critical class of {dataset} · {spared}",)
    return (f"--class mel: {words.condition_name(dataset, 'mel')}; --class cancer: "
            f"{words.condition_name(dataset, 'cancer')} (the critical classes of {dataset}) · {spared}",)


def cmd_ensemble(args: argparse.Namespace) -> int:
    from engine.analysis import screening  # numpy

    store = open_store(args)
    first, second = (summary.predictions(store, run_id) for run_id in args.run_ids)
    rule = args.rule or screening.rules(first.dataset)[0]  # or, where the set has critical classes for it to flag
    result = screening.ensemble(first, second, rule)
    if args.json:
        print(dumps(result.to_dict()))
        return exit_codes.OK
    rows = [{"model": m.name, "run_id": m.run_id, **asdict(m.figures)} for m in result.members]
    rows.append({"model": f"{rule} ensemble", **asdict(result.figures)})
    if first.dataset == DEFAULT:
        print_table(rows, "table", cli_tables.SCREENING, notes=cli_tables.SCREENING_NOTES)
        return exit_codes.OK
    named = words.measures(first.dataset)
    print_table(rows, "table", [*cli_tables.SCREENING[:2], *(Column(named[key].header, key)
                                                               for key in words.figure_keys(first.dataset))],
                notes=(words.legend(first.dataset),))
    return exit_codes.OK


def cmd_report(args: argparse.Namespace) -> int:
    from tui.report import document as report  # numpy, through the screening figures

    for path in report.write(args.out, open_store(args), experiments_of(args), args.force,
                             experiments_file=args.experiments):
        print(path)
    if not png.available():
        print(f"dermalab: the report has no figures, as matplotlib is not installed; '{png.INSTALL}' adds them.",
              file=sys.stderr)
    return exit_codes.OK


def cmd_prune(args: argparse.Namespace) -> int:
    experiments, store = experiments_of(args), open_store(args)
    found = prune.prunable(store, experiments, args.quick)
    doomed = found.runs
    stored = runs_stored(store.statuses())
    if not doomed:
        print(f"Nothing to prune ({stored}): prune deletes the runs that ended without finishing "
              f"({', '.join(prune.UNFINISHED)})" + (" and the quick looks." if args.quick else "."))
        prune_checkpoints(store)
        return exit_codes.OK
    if not (args.yes or sys.stdin.isatty()):
        raise UserError(f"prune would delete {plural(len(doomed), 'run')} and cannot ask here; add --yes to delete "
                        "them.")
    quick_looks = f" and {plural(len(found.quick_looks), 'quick look')} (fewer epochs than the experiment)"
    print(f"{plural(len(found.unfinished), 'run')} that did not finish" + (quick_looks if args.quick else "")
          + f" would be deleted ({stored}).")
    if not args.yes and input("Delete them? [y/N] ").strip().lower() not in ("y", "yes"):
        print("Nothing deleted.")
        return exit_codes.OK
    cluster.forget(store, [run["run_id"] for run in doomed])  # or the next sync would import a cluster's runs again
    before, after = prune.prune(store, doomed)
    print(f"Deleted {plural(len(doomed), 'run')}; the store went from {before / 1e6:.1f} MB to {after / 1e6:.1f} MB.")
    prune_checkpoints(store)
    return exit_codes.OK


def prune_checkpoints(store: Store) -> None:
    """The checkpoints no run will resume from (of runs deleted just now, or left by a process that died after its
    run ended), here and in the cluster's folder."""
    from engine.jobs import cluster

    orphans = prune.orphan_checkpoints(store, [store.path, cluster.results_folder()])
    if orphans:
        freed = prune.remove_checkpoints(orphans)
        print(f"Deleted {plural(len(orphans), 'checkpoint')} no run will resume from ({freed / 1e6:.1f} MB).")
