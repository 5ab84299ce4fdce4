"""tui.text.fit: a line of parts keeps to its width by shorter words from the last part back, then by whole parts
dropped from the end, and never by cutting inside a part; paths in a notice break only after a '/'."""

from pathlib import Path

from tui.text.fit import fitted, same
from tui.text.paths import path_lines

PARTS = [("epoch 3: train loss 0.523", "3: loss 0.523"), ("val AUC 0.871", "AUC 0.871"), same("lr 0.001")]


def test_long_words_where_they_fit_then_shorter_from_the_last_part_back_then_fewer_parts():
    assert fitted(PARTS, 80) == "epoch 3: train loss 0.523 · val AUC 0.871 · lr 0.001"
    assert fitted(PARTS, 48) == "epoch 3: train loss 0.523 · AUC 0.871 · lr 0.001"
    assert fitted(PARTS, 36) == "3: loss 0.523 · AUC 0.871 · lr 0.001"
    assert fitted(PARTS, 30) == "3: loss 0.523 · AUC 0.871"  # lr goes whole, no figure is cut


def test_a_path_breaks_after_a_slash_and_reads_home_as_a_tilde():
    path = Path.home() / "reports" / "20261206-083012-with-a-long-name" / "report.md"
    lines = path_lines(path, 24).splitlines()
    assert lines == ["~/reports/", "20261206-083012-with-a-long-name/", "report.md"]  # a long name keeps its line
    assert path_lines(Path("/a/b"), 24) == "/a/b"
