"""Issue 23 class 11: `extends` chains of any depth resolve in time linear in their length, as every experiment of
the chain is built on its parent's; and a worker reads an experiments file once, again only once it changed."""

from __future__ import annotations

import os

import pytest

from engine.errors import UserError
from engine.experiments.load import load, load_unless_changed
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
    listed = child_cli("list", "--experiments", str(path), timeout=60)
    assert listed.returncode == 0, listed.stderr
    experiments = load(path)
    deepest = experiments[DEPTH]
    assert (deepest.spec.name, deepest.spec.training.epochs, deepest.origin["training.epochs"]) == ("deepest", 7, 5000)
    assert experiments[4999].spec.training.epochs == 1 and experiments[2].spec.name == "link 2"


def test_a_cycle_far_down_a_chain_is_still_named(tmp_path):
    path = tmp_path / "cycle.toml"
    path.write_text(chain(50).replace("id = 3\nextends = 2", "id = 3\nextends = 5"))
    with pytest.raises(UserError, match=r"experiment 3: key 'extends' forms a cycle \(3 -> 5 -> 4 -> 3\); break it"):
        load(path)


def test_a_worker_reads_the_experiments_file_once_until_it_changes(tmp_path):
    path = tmp_path / "chain.toml"
    path.write_text(chain(20))
    first = load_unless_changed(path)
    assert load_unless_changed(path) is first  # the same read, not the file again
    assert resolve(str(path), 20, None) is first[20]
    path.write_text(chain(20, last_name="edited"))
    os.utime(path, ns=(1, 1))  # another modification time, even on a file system that counts in seconds
    assert resolve(str(path), 20, None).spec.name == "edited"
