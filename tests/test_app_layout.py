"""At 80×24, as a newcomer over SSH meets it: every screen's key line shows the screen's own keys and `?` and `q`,
each key whole, and the header names the data file and the stored runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ACCELERATOR, SIZES, app_with, noisy_predictions, synchronous
from tui.app.widgets.frame.key_line import KeyLine

# The keys that take each screen there, from the experiments screen; the ranked screens' mark and ensemble keys
# are a pair that makes way for the views' keys (see KeyLine).
SCREENS = {"experiments": [], "run": ["v"], "leaderboard": ["l"], "recall grid": ["g"], "run detail": ["l", "enter"],
           "operating point": ["l", "o"], "charts": ["f"], "ensemble": ["l", "m", "down", "m", "c"]}


def key_line(app) -> str:
    return str(app.screen.query_one(KeyLine).render()).rstrip()


@pytest.mark.slow
@synchronous
async def test_every_screen_shows_its_own_keys_and_help_and_quit_whole(store_run):
    labels, probabilities = noisy_predictions(0)
    for seed in (0, 1):
        store_run(labels, probabilities, seed=seed)
    # One app visits every screen (an app each costs a start-up each): back to the experiments screen before each,
    # the ensemble last, since its marks stay on the ranked screens.
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZES["small"]) as pilot:
        for screen, keys in SCREENS.items():
            while len(app.screen_stack) > 1:
                await pilot.press("escape")
            await pilot.press("e", *keys)
            line = key_line(app)
            # system keys (the run view's tab between jobs) are on ?'s list only
            # and a key the screen holds back for this run (r resumes only an interrupted run) is not its own here
            own = [f"{app.get_key_display(b)} {b.description}" for b in app.screen.BINDINGS
                   if b.show and not b.system and app.screen.check_action(b.action, ()) is not False]
            shown = [entry for entry in own if f" {entry}" in f" {line}"]
            # The screen's keys in the order it declares them, most important first: 80 columns cannot hold all
            # seven of the ranked screens', so the last (the filter, on ? and the palette) gives way there.
            assert shown == own[:len(shown)] and len(shown) >= len(own) - 1, (screen, line)
            assert " ? Keys" in line and " q Quit" in line, (screen, line)
            assert len(line) <= SIZES["small"][0] and "…" not in line, (screen, line)


@synchronous
async def test_the_header_names_the_data_file_and_keeps_the_run_count(tmp_path, store_run):
    store_run(*noisy_predictions(0))
    data = tmp_path / "a" / "folder" / "deep" / "enough" / "to" / "fill" / "the" / "line" / "dermamnist_rebuilt.npz"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"")
    app = app_with("--data", str(data), accelerator=ACCELERATOR)
    async with app.run_test(size=SIZES["small"]) as pilot:
        await pilot.press("l")
        header = str(app.screen.query_one("#header-line").render())
        assert "data: dermamnist_rebuilt.npz │ 1 run stored" in header and "folder" not in header


def one_run_app(store_run):
    store_run(*noisy_predictions(0))
    return app_with("--data", "synthetic")


def palette_titles(app) -> list[str]:
    from tui.app.commands import LabCommands

    return ([command.title for command in app.get_system_commands(app.screen)] +
            [title for title, _, _ in LabCommands(app.screen)._entries()])


@pytest.mark.slow
@synchronous
async def test_the_palette_names_each_action_once_with_report_refresh_and_run(store_run):
    app = one_run_app(store_run)
    async with app.run_test(size=SIZES["small"]) as pilot:
        await pilot.press("l")
        titles = palette_titles(app)
        names = [title.split(" (")[0] for title in titles]
        assert len(names) == len(set(names)), titles
        assert {"Keys (?)", "Quit (q)", "Refresh (^r)", "Run the selection", "Report"} <= set(titles)
        await pilot.press("e")  # here r runs the selection, so the palette names that key instead
        assert "Run (r)" in palette_titles(app) and "Run the selection" not in palette_titles(app)
        report = next(c for c in app.get_system_commands(app.screen) if c.title == "Report")
        said: list[str] = []
        notify = app.notify
        app.notify = lambda message, **options: (said.append(message), notify(message, **options))[1]
        report.callback()
        await app.workers.wait_for_complete([w for w in app.workers if w.group == "report"])  # the feed never ends
        await pilot.pause()
        # each step shows as it starts, the tables first and then every figure, so the seconds of work show
        assert said[0] == "the tables…" and "figure 1 of " in said[1] and said[-2].startswith("figure ")
        written = [str(n.message) for n in app._notifications]
        assert len(written) == 1 and written[0].startswith("Written into\n") and "reports" in written[0]
        # the folder on lines that fit the notice, each broken after a '/' and never inside a name
        _, *folder, name = written[0].split("\n")
        assert all(len(line) <= 37 and line.endswith("/") for line in folder[:-1]), folder
        report_file = Path("".join(folder)).expanduser() / name.removeprefix("as ").split(",")[0]
        assert report_file.read_text().startswith("# dermalab report")


@pytest.mark.slow
@synchronous
async def test_refresh_shows_runs_stored_from_another_terminal(store_run):
    from tui.app.widgets.results.leaderboard_table import LeaderboardTable

    app = one_run_app(store_run)
    async with app.run_test(size=SIZES["small"]) as pilot:
        await pilot.press("l")
        table = app.screen.query_one(LeaderboardTable)
        assert table.row_count == 1
        store_run(*noisy_predictions(1), experiment_id=21)  # as `dermalab run 21` in another terminal would
        await pilot.press("ctrl+r")
        assert table.row_count == 2 and "2 runs stored" in str(app.screen.query_one("#header-line").render())
