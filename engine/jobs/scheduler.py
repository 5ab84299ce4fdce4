"""What Slurm says of submitted tasks, asked once for all of them (a sync follows tens of tasks every second or so;
one query per task would load the scheduler as much as the tasks do).

Where accounting answers (slurmdbd), `sacct` gives every task's state for as long as the cluster keeps its history.
Where it does not (many small clusters and workstations run Slurm without slurmdbd; slurm.conf says which), `squeue`
answers from slurmctld's memory instead: pending, running, and for MinJobAge (5 minutes by default) after its end, how
a task ended. A task squeue no longer knows has GONE: it ended long enough ago to be forgotten (or its record was
lost), and the caller, which has no result for it, says so."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

GONE = "GONE"  # not Slurm's word: a task that slurmctld no longer knows, and no accounting remembers
UNKNOWN = "UNKNOWN"  # no answer about it this time (not recorded by slurmdbd yet, or the scheduler did not answer)
ENDED_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                          "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED", GONE})
QUERY_SECONDS = 60  # a scheduler too busy to answer within a minute is asked again at the next sync
ACCOUNTING_OFF = ("dermalab: sacct has no answer here (Slurm keeps no accounting, or slurmdbd is down), so tasks are "
                  "followed through squeue, which forgets a task minutes after it ends: one that ended unseen and "
                  "left no result is stored as failed.")


class Said:
    """Whether this process has said that accounting is off: once is enough."""

    accounting_off = False


def states(task_ids: Iterable[str]) -> dict[str, str]:
    """Slurm's word for each task (one of its job states, GONE or UNKNOWN), from one query to the scheduler for all of
    them (two where slurm.conf cannot be read and sacct turns out to have no answer)."""
    wanted = sorted(set(task_ids))
    if not wanted:
        return {}
    answer = None if accounting() is False else sacct(wanted)
    if answer is None:
        if not Said.accounting_off:
            Said.accounting_off = True
            print(ACCOUNTING_OFF, file=sys.stderr)
        answer = squeue(wanted)
    return {task: answer.get(task, UNKNOWN) for task in wanted}


def accounting() -> bool | None:
    """Whether this cluster keeps accounting, as its slurm.conf says (read as a file: asking slurmctld would be a
    query of its own); None where there is no slurm.conf to read (a 'configless' cluster's login node)."""
    path = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        key, _, value = line.split("#")[0].partition("=")
        if key.strip().lower() == "accountingstoragetype":
            return value.strip() != "accounting_storage/none"
    return False  # Slurm's default


def arrays(task_ids: list[str]) -> str:
    """The job ids to ask about: each array once (its tasks come with it)."""
    return ",".join(sorted({task.split("_")[0] for task in task_ids}))


def sacct(task_ids: list[str]) -> dict[str, str] | None:
    """sacct's states, or None where it has no answer (accounting off, or slurmdbd down). A task it does not list
    yet (slurmdbd records a submission a moment after slurmctld) is left out: UNKNOWN, not gone."""
    done = ask(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", arrays(task_ids)])
    return None if done is None or done.returncode != 0 else parse(done.stdout)


def squeue(task_ids: list[str]) -> dict[str, str]:
    """squeue's states, every array task on a line of its own (-r), ended ones included (-t all); a task it does not
    list is GONE. No answer at all (slurmctld down) leaves every task UNKNOWN."""
    done = ask(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", arrays(task_ids)])
    if done is None:
        return {}
    if done.returncode != 0:  # it refuses the whole list when it knows none of its ids
        return dict.fromkeys(task_ids, GONE) if "Invalid job id" in done.stderr else {}
    listed = parse(done.stdout)
    return {task: listed.get(task, GONE) for task in task_ids}


def start_now(task_id: str) -> None:
    """A requeued task let start as soon as the node is free: Slurm holds one back (its BeginTime) for about two
    minutes after a requeue, which a run that requeues itself at its time limit spends idle."""
    ask(["scontrol", "update", f"JobId={task_id}", "StartTime=now"])


def ask(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=QUERY_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None


def parse(listing: str) -> dict[str, str]:
    """'ID|STATE' lines into states by task id. The state's first word only: sacct says 'CANCELLED by 0' for a task
    cancelled by user 0. A pending array's tasks may share one line, '95_[1-3,7%2]'."""
    found: dict[str, str] = {}
    for line in listing.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id and state:
            for task in expanded(job_id):
                found[task] = state.split()[0].upper()
    return found


def expanded(job_id: str) -> list[str]:
    """'95_[1-3,7%2]' as 95_1, 95_2, 95_3 and 95_7; any other id as itself."""
    match = re.fullmatch(r"(\d+)_\[([\d,\-]+)(?:%\d+)?\]", job_id)
    if match is None:
        return [job_id]
    base, ranges = match.groups()
    tasks = []
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        tasks += [f"{base}_{index}" for index in range(int(first), int(last or first) + 1)]
    return tasks
