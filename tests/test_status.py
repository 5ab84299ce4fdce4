"""A status has one owner, engine.status: the engine spells none of its words by hand (in code or in SQL), so a
new status joins the enum and every `status IN (...)` follows."""

from __future__ import annotations

import re

from engine.status import ACTIVE, ENDED, Status, sql_in
from tests.conftest import REPO

SPELLED = re.compile(rf"""['"]({'|'.join(Status)})['"]""")


def test_the_engine_spells_no_status_by_hand():
    spelled = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
               for path in sorted((REPO / "engine").rglob("*.py")) if path.name != "status.py"
               for number, line in enumerate(path.read_text().splitlines(), 1) if SPELLED.search(line)]
    assert spelled == []


def test_an_sql_list_of_statuses_is_their_stored_words():
    assert sql_in(ACTIVE) == "('queued', 'running')"
    assert set(ACTIVE) | set(ENDED) == set(Status) and not set(ACTIVE) & set(ENDED)
