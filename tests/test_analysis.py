"""Bootstrap intervals, seed aggregation, the operating point and the ensembles: the arithmetic on tables small
enough to work out by hand, then the commands end to end on runs written into a real store."""

import json
import statistics

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.analysis import bootstrap, screening
from engine.analysis.metrics import evaluate, macro_auc
from engine.errors import UserError
from engine.store import summary
from engine.store.runs import Store
from tests.conftest import VAL_COUNTS, noisy_predictions

AKIEC, BCC, BKL, DF, MEL, NV, VASC = range(7)


def calls(predicted: list[int], confidence: list[float], classes: int = 7) -> np.ndarray:
    """Probabilities whose argmax is `predicted`: that class gets `confidence`, the rest share what is left."""
    probabilities = np.repeat(((1 - np.array(confidence)) / (classes - 1))[:, None], classes, axis=1)
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


def with_p(labels: list[int], columns: dict[int, list[float]]) -> screening.Predictions:
    """Predictions with the given probability columns; the rest of each row's mass goes to nv."""
    probabilities = np.zeros((len(labels), 7))
    for column, values in columns.items():
        probabilities[:, column] = values
    probabilities[:, NV] += 1 - probabilities.sum(axis=1)
    return screening.Predictions("hand", "hand-built", np.array(labels), probabilities)


# --- bootstrap intervals ---

def test_one_copy_of_each_lesion_gives_the_plain_figures():
    labels, probabilities = noisy_predictions(0)
    once = np.ones((1, len(labels)), dtype=int)
    assert (bootstrap.resampled_macro_auc(labels, probabilities, once)[0]
            == pytest.approx(macro_auc(labels, probabilities)))
    assert (bootstrap.mel_recall(labels, probabilities, once)[0]
            == pytest.approx(evaluate(labels, probabilities)["mel_recall"]))


def test_weighted_auc_is_the_auc_of_the_resampled_set():
    labels, probabilities = noisy_predictions(1)
    counts = bootstrap.resample_counts(len(labels), resamples=3, seed=7)
    assert (counts.sum(axis=1) == len(labels)).all()
    weighted = bootstrap.weighted_auc(labels == MEL, probabilities[:, MEL], counts)
    for row, auc in zip(counts, weighted):
        drawn = np.repeat(np.arange(len(labels)), row)
        assert auc == pytest.approx(roc_auc_score(labels[drawn] == MEL, probabilities[drawn, MEL]))


def test_intervals_bracket_the_figure_and_are_reproducible():
    labels, probabilities = noisy_predictions(2)
    ci = bootstrap.intervals(labels, probabilities)
    mel_recall = evaluate(labels, probabilities)["mel_recall"]
    assert ci["auc_ci"][0] < macro_auc(labels, probabilities) < ci["auc_ci"][1] < 1
    assert 0 < ci["mel_recall_ci"][0] < mel_recall < ci["mel_recall_ci"][1] < 1
    assert bootstrap.intervals(labels, probabilities) == ci


def test_a_perfect_model_has_no_spread_and_a_broken_one_no_auc_interval():
    labels = np.repeat(np.arange(7), VAL_COUNTS)
    perfect = np.eye(7)[labels]
    assert bootstrap.intervals(labels, perfect) == {"auc_ci": [1.0, 1.0], "mel_recall_ci": [1.0, 1.0]}
    assert bootstrap.intervals(labels, np.full((len(labels), 7), np.nan))["auc_ci"] is None


@pytest.mark.slow
def test_a_finished_training_run_carries_its_intervals():
    from engine.events import RunFinished
    from engine.experiments.load import load
    from engine.training.data import Dataset
    from engine.training.train import RunOptions, train

    rng = np.random.default_rng(0)
    labels = {split: np.repeat(np.arange(7), 4) for split in ("train", "val", "test")}
    images = {split: rng.integers(0, 256, size=(28, 28, 28, 3), dtype=np.uint8) for split in labels}
    dataset = Dataset("tiny", True, images, labels, "synthetic")
    events = list(train(load()[1].spec, dataset, RunOptions(device="cpu", epochs=1), "tiny"))
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    intervals = bootstrap.intervals(labels["val"], finished.probabilities)
    assert finished.metrics["mel_recall_ci"] == intervals["mel_recall_ci"]
    assert "auc_ci" in finished.metrics


# --- operating point ---

# Four melanomas at P(mel) 0.9, 0.7, 0.5, 0.2; a bcc at 0.6 (a cancer, so never a benign referral);
# benign lesions at 0.65 (bkl), 0.4, 0.3, 0.1 (nv) and 0.05 (df).
MEL_TABLE = with_p([MEL, MEL, MEL, MEL, BCC, BKL, NV, NV, NV, DF],
                   {MEL: [0.9, 0.7, 0.5, 0.2, 0.6, 0.65, 0.4, 0.3, 0.1, 0.05]})


def test_the_highest_threshold_that_reaches_the_target():
    point = screening.operating_point(MEL_TABLE, 0.75, "mel")
    # 3 of 4 melanomas needed: threshold 0.5 flags them, the bcc and the bkl.
    assert (point.threshold, point.sensitivity) == (0.5, 0.75)
    assert point.specificity == pytest.approx(4 / 6)  # 6 non-melanomas, 2 flagged
    assert point.flagged_per_1000 == pytest.approx(100)  # one benign (bkl) among 10 lesions


def test_a_higher_target_costs_specificity():
    point = screening.operating_point(MEL_TABLE, 0.9, "mel")
    # ceil(0.9 x 4) = 4 melanomas: threshold 0.2 also flags the bcc, the bkl and the nevi at 0.4 and 0.3.
    assert (point.threshold, point.sensitivity) == (0.2, 1.0)
    assert point.specificity == pytest.approx(2 / 6)
    assert point.flagged_per_1000 == pytest.approx(300)


def test_ties_at_the_threshold_flag_together_and_targets_do_not_round_up():
    tied = with_p([MEL] * 4 + [NV], {MEL: [0.9, 0.5, 0.5, 0.2, 0.1]})
    assert screening.operating_point(tied, 0.5).sensitivity == 0.75  # two needed, the tie brings a third
    many = with_p([MEL] * 25 + [NV], {MEL: [i / 50 for i in range(25, 0, -1)] + [0.0]})
    assert screening.operating_point(many, 0.56).sensitivity == pytest.approx(0.56)  # 0.56 x 25 is 14, not 15


def test_cancer_scores_the_three_malignant_classes_together():
    # Scores P(akiec)+P(bcc)+P(mel): akiec 0.5, bcc 0.75, mel 0.25 | nv 0.5, bkl 0.125, nv 0.
    table = with_p([AKIEC, BCC, MEL, NV, BKL, NV], {AKIEC: [0.25, 0, 0, 0, 0.125, 0], BCC: [0.125, 0.75, 0, 0.25, 0, 0],
                                                   MEL: [0.125, 0, 0.25, 0.25, 0, 0]})
    point = screening.operating_point(table, 0.6, "cancer")
    # ceil(0.6 x 3) = 2 cancers: threshold 0.5 flags the akiec, the bcc and one nevus.
    assert (point.threshold, point.sensitivity, point.specificity) == (0.5, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert point.flagged_per_1000 == pytest.approx(1000 / 6)
    assert point.to_dict()["class"] == "cancer"


@pytest.mark.parametrize("target, condition", [(0, "mel"), (1.5, "mel"), (float("nan"), "mel"), (0.9, "bkl")])
def test_bad_targets_and_classes_are_one_sentence(target, condition):
    with pytest.raises(UserError, match=r"^[A-Z].*\.$"):
        screening.operating_point(MEL_TABLE, target, condition)


# --- ensembles ---

#                  akiec  bcc  mel  mel  nv   nv   bkl  df  vasc
ENSEMBLE_LABELS = [AKIEC, BCC, MEL, MEL, NV, NV, BKL, DF, VASC]
# A calls akiec, the first mel and a nevus mel; B finds the bcc (confidently) and the second mel (weakly),
# and calls a nevus bcc (weakly).
A = calls([AKIEC, NV, MEL, NV, NV, MEL, BKL, DF, VASC], [0.6] * 9)
B = calls([NV, BCC, NV, MEL, BCC, NV, NV, DF, VASC], [0.3, 0.9, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])


def pair(second_labels=ENSEMBLE_LABELS):
    return (screening.Predictions("aaa", "A", np.array(ENSEMBLE_LABELS), A),
            screening.Predictions("bbb", "B", np.array(second_labels), B))


def figures(screened):
    return (screened.malignant_sensitivity, screened.specificity, screened.mel_recall)


def test_the_or_rule_flags_what_either_model_flags():
    result = screening.ensemble(*pair(), "or")
    # Alone, each flags 2 of the 4 cancers, 1 of the 5 benign lesions, and calls 1 of the 2 melanomas mel.
    assert [figures(m.figures) for m in result.members] == [(0.5, 0.8, 0.5), (0.5, 0.8, 0.5)]
    # Together: all four cancers and both melanomas, at the price of both flagged nevi (3/5 clear).
    assert figures(result.figures) == (1.0, 0.6, 1.0)
    assert "auc" not in result.to_dict()


def test_the_mean_rule_lets_the_surer_model_decide():
    result = screening.ensemble(*pair(), "mean")
    # Where they disagree, A's 0.6 beats B's 0.3, except on the bcc, where B is 0.9 sure: the calls are
    # akiec, bcc, mel, nv, nv, mel, bkl, df, vasc — B's weak melanoma is outvoted.
    assert figures(result.figures) == (0.75, 0.8, 0.5)
    assert result.to_dict()["auc"] == pytest.approx(macro_auc(np.array(ENSEMBLE_LABELS), (A + B) / 2))
    # Each run alone has the accuracies the leaderboard shows of it.
    for member, probabilities in zip(result.members, (A, B)):
        stored = evaluate(np.array(ENSEMBLE_LABELS), probabilities)
        assert (member.figures.accuracy, member.figures.balanced_accuracy) == pytest.approx(
            (stored["accuracy"], stored["balanced_accuracy"]))


def test_runs_on_different_val_sets_or_unknown_rules_cannot_combine():
    with pytest.raises(UserError, match="different val sets"):
        screening.ensemble(*pair(ENSEMBLE_LABELS[::-1]), "or")
    with pytest.raises(UserError, match="Unknown ensemble rule"):
        screening.ensemble(*pair(), "and")


# --- other sets: their critical classes in melanoma's and the cancers' places ---

NORMAL, PNEUMONIA = range(2)
CNV, DME, DRUSEN, OCT_NORMAL = range(4)


def on(dataset: str, labels: list[int], probabilities: np.ndarray, run_id: str = "set", size: int = 28):
    return screening.Predictions(run_id, run_id.upper(), np.array(labels), probabilities, dataset, size)


def test_a_binary_set_screens_for_its_critical_class_and_counts_the_other_as_spared():
    # MEL_TABLE's scores on PneumoniaMNIST: four pneumonias, then six normal images (the bcc's place is a normal's).
    scores = np.array([0.9, 0.7, 0.5, 0.2, 0.6, 0.65, 0.4, 0.3, 0.1, 0.05])
    run = on("pneumoniamnist", [PNEUMONIA] * 4 + [NORMAL] * 6, np.column_stack([1 - scores, scores]))
    point = screening.operating_point(run, 0.75, "mel")
    assert (point.threshold, point.sensitivity, point.specificity) == (0.5, 0.75, pytest.approx(4 / 6))
    assert point.flagged_per_1000 == pytest.approx(200)  # both flagged normal images are unneeded referrals
    # Its critical group is the one class: 'cancer' screens for the same images.
    same = screening.operating_point(run, 0.75, "cancer")
    assert (same.threshold, same.specificity, same.flagged_per_1000) == (0.5, point.specificity, 200)


def test_the_or_rule_flags_the_sets_critical_group():
    labels = [CNV, DME, DRUSEN, OCT_NORMAL]
    # A finds the CNV; B the DME, and calls the drusen DME: together both critical images, at a drusen's cost.
    a = on("octmnist", labels, calls([CNV, OCT_NORMAL, DRUSEN, OCT_NORMAL], [0.7] * 4, 4), "aaa")
    b = on("octmnist", labels, calls([OCT_NORMAL, DME, DME, OCT_NORMAL], [0.4] * 4, 4), "bbb")
    result = screening.ensemble(a, b, "or")
    assert [figures(m.figures) for m in result.members] == [(0.5, 1.0, 1.0), (0.5, 0.5, 0.0)]
    assert figures(result.figures) == (1.0, 0.5, 1.0)
    # The mean: A's 0.7 outvotes B's 0.4 wherever they differ.
    assert figures(screening.ensemble(a, b, "mean").figures) == (0.5, 1.0, 1.0)
    assert screening.operating_point(a, 1.0, "cancer").sensitivity == 1.0  # P(CNV)+P(DME)


def test_a_set_without_critical_classes_has_no_operating_point_and_combines_by_the_mean():
    labels = list(range(8)) * 2
    first = on("bloodmnist", labels, calls(labels, [0.9] * 16, 8), "aaa")
    second = on("bloodmnist", labels, calls([0] * 16, [0.5] * 16, 8), "bbb")
    with pytest.raises(UserError, match=r"^Run aaa is on bloodmnist, which declares no critical class .*\.$"):
        screening.operating_point(first, 0.9, "mel")
    assert screening.rules("bloodmnist") == ("mean",)
    with pytest.raises(UserError, match="declares none"):
        screening.ensemble(first, second, "or")
    result = screening.ensemble(first, second, "mean")
    assert figures(result.figures) == (None, None, None)
    assert (result.figures.auc, result.figures.accuracy, result.figures.balanced_accuracy) == (1.0, 1.0, 1.0)
    alone = result.members[1].figures
    assert (alone.accuracy, alone.balanced_accuracy) == (1 / 8, 1 / 8)  # calls every cell a basophil
    assert "auc" in result.to_dict() and result.to_dict()["mel_recall"] is None


def test_runs_of_two_sets_or_sizes_are_not_combined():
    labels = [CNV, DME, DRUSEN, OCT_NORMAL]
    oct28 = on("octmnist", labels, calls(labels, [0.7] * 4, 4), "aaa")
    for other, named in ((on("octmnist", labels, calls(labels, [0.7] * 4, 4), "bbb", 64), "octmnist 64"),
                         (on("retinamnist", labels, calls(labels, [0.7] * 4, 5), "bbb"), "retinamnist")):
        with pytest.raises(UserError) as refused:
            screening.ensemble(oct28, other, "mean")
        assert str(refused.value) == (f"Run aaa is on octmnist and run bbb on {named}; two runs combine only on the "
                                      "same set at the same size.")


# --- the store and the command line ---

def test_run_ids_resolve_by_prefix(store_run):
    labels, probabilities = noisy_predictions(3)
    for run_id in ("abc111", "abc222", "def333"):
        store_run(labels, probabilities, run_id=run_id)
    store = Store()
    assert store.find("abc1")["run_id"] == "abc111" and store.find("def333")["run_id"] == "def333"
    with pytest.raises(UserError, match="starts 2 run ids"):
        store.find("abc")
    with pytest.raises(UserError, match="There is no run 'x'"):
        store.find("x")


def test_only_finished_runs_have_predictions(store_run):
    from engine.events import RunFailed, RunStarted
    from engine.experiments.load import load

    spec, store = load()[8].spec, Store()
    store.start(RunStarted("broke", 8, spec.name, 0, "cpu", "synthetic", 5, 1), spec.chapter,
                spec.run_config(5, False, "fp32"), True, "synthetic")
    store.fail(RunFailed("broke", "diverged", "the training loss became nan in epoch 2", 2))
    with pytest.raises(UserError, match="Run broke is diverged; only finished runs"):
        summary.predictions(store, "bro")


def test_seed_spread_and_verdicts_per_experiment(cli, store_run):
    labels, probabilities = noisy_predictions(4)
    # Experiment 8's page figures: AUC 0.8966, mel recall 0.41, cancer sensitivity 0.5667.
    for seed, (auc, mel, cancer) in enumerate([(0.89, 0.1, 0.5), (0.90, 0.2, 0.6), (0.91, 0.3, 0.7)]):
        store_run(labels, probabilities, seed=seed, auc=auc, mel_recall=mel, cancer_sensitivity=cancer, synthetic=False)
    store_run(labels, probabilities, experiment_id=20, synthetic=False)

    grouped = json.loads(cli("results", "--per-experiment", "--format", "json").stdout)
    assert [(g["id"], g["n"]) for g in grouped] == [(8, 3), (20, 1)]
    assert grouped[0]["auc"] == pytest.approx(0.90) and grouped[0]["auc_std"] == pytest.approx(0.01)
    assert grouped[0]["mel_recall_std"] == pytest.approx(statistics.stdev([0.1, 0.2, 0.3]))

    compared = {c["id"]: c for c in json.loads(cli("compare", "--format", "json").stdout)}
    # 0.8966 lies in 0.90 ± 0.02 and 0.5667 in 0.6 ± 0.2; 0.41 lies outside 0.2 ± 0.2.
    assert [compared[8][f"{m}_verdict"] for m in ("auc", "mel_recall", "cancer_sensitivity")] == \
        ["consistent", "different", "consistent"]
    assert compared[20]["auc_verdict"] == "too few runs"
    table = cli("compare", "--wide").stdout.splitlines()
    assert table[0].split() == ["#", "name", "data", "n", *["AUC", "page", "agrees", "mel", "rec", "page", "agrees"],
                                "cancer", "page", "agrees", "unlike", "the", "page"]
    assert table[1].split()[4:] == ["0.900±0.010", "0.897", "yes", "20%±10%", "41%", "no", "60%±10%", "57%", "yes"]


def test_results_show_intervals_for_new_and_old_runs(cli, store_run, stored):
    labels, probabilities = noisy_predictions(5)
    new = store_run(labels, probabilities, run_id="new000")
    old = store_run(labels, probabilities, run_id="old000", intervals=False)
    expected = bootstrap.intervals(labels, probabilities)
    rows = {r["run_id"]: r for r in json.loads(cli("results", "--format", "json").stdout)}
    assert {k: rows[run][k] for run in (new, old) for k in bootstrap.KEYS} == expected
    assert "auc_ci" not in stored.get(old)["metrics"]  # computed on read, the store is left as it was

    header = cli("results", "--format", "csv").stdout.splitlines()[0].split(",")
    assert {"auc_ci_low", "auc_ci_high", "mel_recall_ci_low", "mel_recall_ci_high"} <= set(header)
    one = cli("results", "old").stdout
    assert f"{expected['auc_ci'][0]:.3f}–{expected['auc_ci'][1]:.3f}" in one


def test_confusion_matrix_counts_and_row_shares(cli, store_run):
    labels = [AKIEC, AKIEC, MEL, MEL, MEL, MEL, NV, BCC, BKL, DF, VASC]
    predicted = [AKIEC, NV, MEL, NV, NV, NV, NV, BCC, BKL, DF, VASC]
    run_id = store_run(labels, calls(predicted, [0.6] * len(predicted)))
    rows = json.loads(cli("results", run_id[:6], "--confusion", "--format", "json").stdout)
    mel = rows[MEL]
    shares = (mel["true"], mel["n"], mel["mel"], mel["nv"], mel["mel_share"], mel["nv_share"])
    assert shares == ("mel", 4, 1, 3, 0.25, 0.75)
    table = cli("results", run_id, "--confusion")
    assert table.returncode == 0 and "3 (75%)" in table.stdout and "1 (25%)" in table.stdout


def test_operating_point_and_ensemble_commands(cli, store_run, stored):
    labels, probabilities = noisy_predictions(6)
    first = store_run(labels, probabilities, run_id="aaa111")
    second = store_run(labels, noisy_predictions(7)[1], run_id="bbb222", experiment_id=21)

    point = json.loads(cli("operating-point", "aaa", "--target", "0.8", "--class", "cancer", "--json").stdout)
    expected = screening.operating_point(stored.predictions(first), 0.8, "cancer").to_dict()
    assert list(point) == ["run_id", "class", "target", "threshold", "sensitivity", "specificity", "flagged_per_1000"]
    assert point == pytest.approx(expected)

    for rule, keys in (("or", set()), ("mean", {"auc", "accuracy", "balanced_accuracy"})):
        result = json.loads(cli("ensemble", "aaa", "bbb", "--rule", rule, "--json").stdout)
        assert set(result) == {"members", "rule", "malignant_sensitivity", "specificity", "mel_recall"} | keys
        assert [m["run_id"] for m in result["members"]] == [first, second]
    table = cli("ensemble", first, second)
    assert table.returncode == 0 and "or ensemble" in table.stdout and "Best Custom CNN" in table.stdout


@pytest.mark.parametrize("args, message", [
    (["operating-point", "nope"], "There is no run 'nope'"),
    (["operating-point", "aaa", "--target", "1.5"], "outside (0, 1]"),
    (["operating-point", "aaa", "--class", "bkl"], "Unknown class 'bkl'"),
    (["ensemble", "aaa", "real"], "different val sets"),
    (["results", "--confusion"], "name the run"),
])
def test_bad_input_is_one_sentence_and_exit_2(cli, store_run, args, message):
    labels, probabilities = noisy_predictions(8)
    store_run(labels, probabilities, run_id="aaa111")
    store_run(labels[::-1], probabilities, run_id="real00", synthetic=False)
    done = cli(*args)
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and not done.stdout
