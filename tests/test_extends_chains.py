"""Issue 23 class 11: `extends` chains of any depth resolve in time linear in their length, as every experiment of
the chain is built on its parent's; and a worker resolves an experiments file once, again only once its text changed."""

from __future__ import annotations

import json

import pytest

from engine.errors import UserError
from engine.experiments.load import load
from engine.experiments.sweeps import resolve
from tests.conftest import TINY_EXPERIMENTS

DEPTH = 10_000  # before: 2,000 took 34 s and 10,000 did not end in two minutes; now about 2 s here


def chain(depth: int, last_name: str = "deepest") -> str:
    """The tiny experiments 1 and a chain on it: experiment i extends i - 1, up to `depth`."""
    first = TINY_EXPERIMENTS.split("[[experiment]]\nid = 2")[0]
    links = "".join(f'\n[[experiment]]\nid = {i}\nextends = {i - 1}\nname = "link {i}"\n' for i in range(2, depth))
    return f'{first}{links}\n[[experiment]]\nid = {depth}\nextends = {depth - 1}\nname = "{last_name}"\n'


@pytest.mark.slow
def test_a_ten_thousand_deep_chain_is_listed_within_a_minute(child_cli, tmp_path):
    path = tmp_path / "chain.toml"
    path.write_text(chain(DEPTH).replace('name = "link 5000"', 'name = "link 5000"\ntraining.epochs = 7'))
    listed = child_cli("list", "--json", "--experiments", str(path), timeout=60)
    assert listed.returncode == 0, listed.stderr
    experiments = {row["id"]: row for row in json.loads(listed.stdout)}
    assert (experiments[DEPTH]["name"], experiments[DEPTH]["epochs"]) == ("deepest", 7)
    assert experiments[4999]["epochs"] == 1 and experiments[2]["name"] == "link 2"


def test_a_value_set_far_up_a_chain_names_where_it_came_from(tmp_path):
    path = tmp_path / "chain.toml"
    path.write_text(chain(60).replace('name = "link 30"', 'name = "link 30"\ntraining.epochs = 7'))
    deepest = load(path)[60]
    assert (deepest.spec.training.epochs, deepest.origin["training.epochs"]) == (7, 30)


def test_a_cycle_far_down_a_chain_is_still_named(tmp_path):
    path = tmp_path / "cycle.toml"
    path.write_text(chain(50).replace("id = 3\nextends = 2", "id = 3\nextends = 5"))
    with pytest.raises(UserError, match=r"experiment 3: key 'extends' forms a cycle \(3 -> 5 -> 4 -> 3\); break it"):
        load(path)


def test_a_worker_resolves_the_experiments_file_once_until_its_text_changes(tmp_path):
    path = tmp_path / "chain.toml"
    path.write_text(chain(20))
    first = load(path)
    assert load(path)[20] is first[20]  # the same reading, not the file resolved again
    assert resolve(str(path), 20, None) is first[20]
    path.write_text(chain(20, last_name="edited"))  # the same inode, maybe within the clock's tick: the text tells
    assert resolve(str(path), 20, None).spec.name == "edited"
