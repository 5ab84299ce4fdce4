"""`dermalab report` from a store whose figures are fixed by hand: its sections, its numbers, its CSVs."""

import csv
import sys

import pytest

from engine.analysis import screening
from engine.classes import CLASSES, class_names
from engine.experiments.load import load
from engine.store.runs import Store
from tests.conftest import noisy_predictions, one_sentence, stored_on
from tui.report import document as report

PICTURES = ["clinical.png", "metrics.png", "auc_ranked.png", "chapters.png", "arc.png", "auc_time.png",
            "auc_params.png"]
# No epochs stored, so no AUC curves; and these runs' 112 labels are not the synthetic val set, so no sheet.
LESION_PICTURES = ["recall_heatmap.png", "roc_melanoma.png"]
SECTIONS = ["## Leaderboard", "## Recall per class", "## Against the course page",
            "## The best run by AUC beside the best by cancer sensitivity",
            "## Operating points at 90% melanoma sensitivity"]


@pytest.fixture
def fixed_store(store_run):
    """Experiment 8 over three seeds (page: AUC 0.8966, mel recall 0.41, cancer sensitivity 0.5667) and one run
    of experiment 21 with the lower AUC but the highest cancer sensitivity, all on real data as the page ran them;
    and a quick look at experiment 8 (one epoch), which is no fourth seed."""
    labels, probabilities = noisy_predictions(0)
    ids = [store_run(labels, noisy_predictions(seed)[1], seed=seed, run_id=f"bn{seed}", auc=auc, mel_recall=mel,
                     cancer_sensitivity=cancer, recall={**dict.fromkeys(CLASSES, 0.5), "mel": mel}, synthetic=False)
           for seed, (auc, mel, cancer) in enumerate([(0.89, 0.1, 0.5), (0.90, 0.2, 0.6), (0.91, 0.3, 0.7)])]
    ids.append(store_run(labels, probabilities, experiment_id=21, run_id="best21", auc=0.80, mel_recall=0.6,
                         cancer_sensitivity=0.9, synthetic=False))
    ids.append(store_run(labels, probabilities, run_id="quick8", seed=3, epochs=1, auc=0.70, mel_recall=0.05,
                         cancer_sensitivity=0.1, synthetic=False))
    return ids


@pytest.fixture
def without_matplotlib(monkeypatch):
    """matplotlib as missing, which is what `import matplotlib` then meets: the report leaves its PNGs out, for the
    tests of its text and files (drawing them takes about 2 s of a 2-core CPU a report; two tests check them)."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.slow
def test_sections_and_numbers(fixed_store, tmp_path, stored):
    written = report.write(tmp_path / "out", Store(), load())
    assert [p.name for p in written] == ["report.md", "leaderboard.csv", "recall_grid.csv", "compare.csv",
                                         "best_runs.csv", "operating_points.csv", *PICTURES, *LESION_PICTURES]
    text = written[0].read_text()
    assert [text.index(s) for s in SECTIONS] == sorted(text.index(s) for s in SECTIONS)
    assert "5 finished runs of 2 experiments on DermaMNIST" in text

    # Leaderboard: seed means ± std, best mean AUC first.
    # Proportions read as percents, as in the app and the command line's tables (the CSVs keep fractions).
    assert "| 8 | BatchNorm | 3 | 0.900±0.010 | 20%±10% | 60%±10% |" in text
    assert text.index("| 8 | BatchNorm | 3 | 0.900") < text.index("| 21 | Best Custom CNN | 1 | 0.800 |")
    assert "| 8 | BatchNorm | 3 | 50% | 50% | 50% | 50% | 20% | 50% | 50% |" in text  # recall grid
    # 0.8966 lies in 0.90 ± 0.02 and 0.5667 in 0.6 ± 0.2; 0.41 lies outside 0.2 ± 0.2.
    assert "| 0.900±0.010 | 0.897 | consistent | 20%±10% | 41% | different | 60%±10% | 57% | consistent |" in text
    assert "| Best Custom CNN | 1 | 0.800 | 0.891 | too few runs |" in text
    # The quick look is its own row, without the page's figures, saying why.
    assert "| 8 | BatchNorm | 1 | 0.700 |  |  | 5% |  |  | 10% |  |  | 1/5 epochs |" in text
    best = read_csv(tmp_path / "out" / "best_runs.csv")
    assert [(b["pick"], b["run_id"]) for b in best] == [("highest AUC", "bn2"),
                                                         ("highest cancer sensitivity", "best21")]
    assert float(best[0]["auc_ci_low"]) < float(best[0]["auc_ci_high"])

    points = read_csv(tmp_path / "out" / "operating_points.csv")
    assert [p["run_id"] for p in points] == ["bn2", "bn1", "bn0", "best21", "quick8"]  # by AUC
    for row in points:
        expected = screening.operating_point(stored.predictions(row["run_id"]), 0.9, "mel")
        assert float(row["threshold"]) == pytest.approx(expected.threshold)
        assert float(row["flagged_per_1000"]) == pytest.approx(expected.flagged_per_1000)
        assert f"| {expected.threshold:.3f} | {expected.sensitivity:.0%} | {expected.specificity:.0%} |" in text

    compared = read_csv(tmp_path / "out" / "compare.csv")
    assert [(c["experiment_id"], c["mel_recall_verdict"], c["differs"]) for c in compared] == [
        ("8", "different", ""), ("8", "", "1/5 epochs"), ("21", "too few runs", "")]


@pytest.mark.slow
def test_real_runs_leave_synthetic_ones_out(store_run, tmp_path):
    labels, probabilities = noisy_predictions(1)
    store_run(labels, probabilities, experiment_id=8)
    store_run(labels, probabilities, experiment_id=20, synthetic=False)
    text = report.write(tmp_path, Store(), load())[0].read_text()
    assert "1 finished run of 1 experiment on DermaMNIST" in text
    assert "Cosine LR" in text and "BatchNorm" not in text


def test_the_command_writes_the_files_or_says_why_not(cli, store_run, tmp_path, without_matplotlib):
    empty = cli("report", "--out", str(tmp_path / "nothing"))
    assert empty.returncode == 2 and "no finished runs" in empty.stderr

    labels, probabilities = noisy_predictions(2)
    store_run(labels, probabilities)
    done = cli("report", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(tmp_path / "out" / "report.md")
    assert all((tmp_path / "out" / name).is_file() for name in ("report.md", "operating_points.csv"))


@pytest.mark.slow
def test_figures_are_drawn_and_linked(fixed_store, tmp_path):
    written = report.write(tmp_path, Store(), load())
    pictures = [p for p in written if p.suffix == ".png"]
    assert [p.name for p in pictures] == PICTURES + LESION_PICTURES  # the charts, in the app's order, then the lesions'
    text = written[0].read_text()
    links = [text.index(f"]({picture.name})") for picture in pictures]
    assert links == sorted(links) and text.index("## Figures") < links[0]
    for picture in pictures:
        assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and picture.stat().st_size > 10_000
        sentence = text.split(f"]({picture.name})\n\n")[1].split("\n")[0]  # one sentence of ours under each
        assert sentence.startswith("Read ") and sentence.endswith(".") and sentence.count(". ") == 0
    assert "### Experiments ranked by AUC\n\n![Experiments ranked by AUC](auc_ranked.png)\n\nRead which" in text


def test_without_matplotlib_the_report_says_how_to_get_figures(fixed_store, tmp_path, without_matplotlib):
    written = report.write(tmp_path, Store(), load())
    assert [p.suffix for p in written] == [".md", *[".csv"] * 5]
    assert not list(tmp_path.glob("*.png"))
    assert "run `pip install -e '.[figures]'`" in written[0].read_text()


def test_the_report_speaks_of_its_sets_critical_classes_or_of_none(dermalab_home, tmp_path, without_matplotlib):
    """The store's scope is the report's set: PathMNIST's tumour class takes melanoma's place in every section;
    BloodMNIST, which declares no critical class, gets no clinical column or sentence (and no page to compare)."""

    for name in ("pathmnist", "bloodmnist"):
        stored_on(name)
    store = Store()
    store.scope = ("pathmnist", 28)
    written = report.write(tmp_path / "path", store, load())
    assert [p.name for p in written] == ["report.md", "leaderboard.csv", "recall_grid.csv", "best_runs.csv",
                                         "operating_points.csv"]
    text = written[0].read_text()
    assert "on synthetic images shaped like pathmnist's" in text and "melano" not in text and "mel " not in text
    assert "TUM rec is the recall of colorectal adenocarcinoma epithelium, and TUM the mean recall" in text
    assert "| # | experiment | n | AUC | TUM rec | TUM | accuracy | ΔAUC | unlike the page |" in text
    assert "## The best run by AUC beside the best by TUM" in text
    assert "## Operating points at 90% colorectal adenocarcinoma epithelium sensitivity" in text
    (grid,) = read_csv(tmp_path / "path" / "recall_grid.csv")
    assert [key for key in grid if key.startswith("recall_")] == [f"recall_{c}" for c in class_names("pathmnist")]
    store.scope = ("bloodmnist", 28)
    written = report.write(tmp_path / "blood", store, load())
    assert [p.name for p in written] == ["report.md", "leaderboard.csv", "recall_grid.csv", "best_runs.csv"]
    text = written[0].read_text()
    assert "bloodmnist declares no critical class, so no clinical recall is shown." in text
    assert not {"mel", "melanoma", "cancer", "sensitivity", "rec"} & set(text.replace("|", " ").split())
    assert "| # | experiment | n | AUC | accuracy | ΔAUC | unlike the page |" in text


def test_an_earlier_report_is_written_over_only_with_force(cli, store_run, tmp_path, without_matplotlib):
    labels, probabilities = noisy_predictions(3)
    store_run(labels, probabilities)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli("report", "--out", str(out)).returncode == 0  # other files in the folder do not stop it
    (out / "report.md").write_text("edited by hand")

    again = cli("report", "--out", str(out))
    assert (again.returncode, again.stdout) == (2, "")
    assert one_sentence(again.stderr) == (f"{out} already holds a report (report.md, leaderboard.csv, …); give a new "
                                          "folder, or add --force to write over it.")
    assert (out / "report.md").read_text() == "edited by hand"

    assert cli("report", "--out", str(out), "--force").returncode == 0
    assert (out / "report.md").read_text().startswith("# dermalab report") and (out / "notes.txt").read_text() == "mine"


def test_a_file_or_no_path_as_the_folder_is_refused(refused, store_run, tmp_path):
    labels, probabilities = noisy_predictions(3)
    store_run(labels, probabilities)
    (tmp_path / "a-file").write_text("")
    assert (refused("report", "--out", str(tmp_path / "a-file"))
            == f"--out {tmp_path / 'a-file'} is a file; give a folder for the report.")
    assert refused("report", "--out", "") == "--out needs a path; an empty one would mean the current folder."


@pytest.mark.slow
def test_a_run_without_melanomas_is_left_out_of_the_operating_points_and_said(store_run, tmp_path, without_matplotlib):
    labels, probabilities = noisy_predictions(4)
    store_run(labels, probabilities, run_id="withmel")
    keep = labels != CLASSES.index("mel")
    store_run(labels[keep], probabilities[keep], run_id="nomel0", auc=0.99)  # the highest AUC: first in line
    text = report.write(tmp_path / "out", Store(), load())[0].read_text()
    assert "Left out: the val set of run nomel0 holds no 'mel' lesions to be sensitive to." in text
    points = read_csv(tmp_path / "out" / "operating_points.csv")
    assert [p["run_id"] for p in points] == ["withmel"]
