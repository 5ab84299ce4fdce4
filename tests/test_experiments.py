"""experiments.toml: the 25 experiments resolve, `extends` merges as documented, and a user can add a 26th."""

from pathlib import Path

import pytest

from engine.errors import UserError
from engine.experiments import load

REFERENCE = {  # (epochs, batch size, optimizer, lr) the page states or implies for a few experiments
    1: (5, 32, "sgd", 0.1),
    5: (5, 32, "sgd", 0.01),
    11: (10, 32, "adam", 1e-3),
    18: (10, 128, "adam", 1e-3),
    20: (15, 32, "adam", 1e-3),
    21: (15, 64, "adam", 1e-3),
    25: (15, 64, "adam", 1e-4),
}


def test_all_25_experiments_resolve_with_published_figures():
    experiments = load()
    assert list(experiments) == list(range(1, 26))
    assert all(e.spec.published and e.spec.lesson for e in experiments.values())
    assert len({e.spec.chapter for e in experiments.values()}) == 10


@pytest.mark.parametrize("experiment_id", REFERENCE)
def test_training_knobs_match_the_page(experiment_id):
    spec = load()[experiment_id].spec
    epochs, batch, optimizer, lr = REFERENCE[experiment_id]
    assert (spec.training.epochs, spec.training.batch_size, spec.optimizer.name, spec.optimizer.lr) == (epochs, batch, optimizer, lr)


def test_experiment_14_normalizes_the_training_pipeline_only():
    experiments = load()
    assert [a.op for a in experiments[14].spec.augment][-1] == "normalize"
    assert all(a.op != "normalize" for i, e in experiments.items() if i != 14 for a in e.spec.augment)


def test_extends_merges_tables_and_records_where_values_came_from():
    experiment = load()[9]
    assert experiment.spec.model.batchnorm and experiment.spec.model.dropout == 0.3
    assert experiment.origin["model.batchnorm"] == 8
    assert experiment.origin["model.dropout"] == 9
    assert experiment.origin["optimizer.name"] == 2
    assert experiment.changes == {"chapter": "Build a Better Architecture", "model.dropout": 0.3}


def test_published_figures_and_lessons_are_not_inherited(tmp_path: Path):
    path = tmp_path / "experiments.toml"
    path.write_text(Path("experiments.toml").read_text() + '\n[[experiment]]\nid = 26\nextends = 21\nname = "Wider"\n'
                    'model.channels = [64, 128, 256]\n')
    experiments = load(path)
    added = experiments[26].spec
    assert added.published is None and added.lesson == ""
    assert added.chapter == "Stack the Wins" and added.model.hidden == 64
    assert experiments[26].spec.config_hash() != experiments[21].spec.config_hash()


def test_lists_replace_rather_than_append():
    assert [a.op for a in load()[15].spec.augment] == ["hflip"]


def test_an_unknown_key_names_the_file_the_experiment_and_the_key(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(Path("experiments.toml").read_text().replace("optimizer.momentum = 0.9", "optimizer.momentun = 0.9"))
    with pytest.raises(UserError, match=r"bad.toml: experiment 5: unknown key 'optimizer.momentun'"):
        load(path)
