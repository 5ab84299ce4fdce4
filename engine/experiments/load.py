"""Reads experiments.toml: resolves `extends`, validates every value, and returns fully resolved specs."""

from __future__ import annotations

import copy
import functools
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import UserError
from engine.experiments import architecture
from engine.experiments.spec import MAX_ID, OWN_KEYS, Experiment, ExperimentSpec
from engine.paths import REPOSITORY

DEFAULT_EXPERIMENTS = REPOSITORY / "experiments.toml"
SWEEPS = "sweeps"  # the file's other tables, read by engine.experiments.sweeps only when a sweep is asked for


def load(path: Path | str | None = None) -> dict[int, Experiment]:
    """Every experiment of the file, resolved and checked. A text read before is answered from that reading: a
    worker resolves each job it takes from its file, the app and some commands ask more than once, and resolving a
    large file costs seconds. The experiments are shared between the answers: read them, never change them."""
    path = Path(path or DEFAULT_EXPERIMENTS)
    return dict(_resolved(path, _text(path)))


@functools.lru_cache(maxsize=4)
def _resolved(path: Path, text: str) -> dict[int, Experiment]:
    """Keyed by the text itself, not the file's size and time, so an edit is never missed (a file that fails to
    load is not kept)."""
    raw = _parsed(path, text)
    entries = raw.get("experiment")
    unknown = set(raw) - {"experiment", SWEEPS}
    if unknown:
        raise UserError(f"{path}: unknown top-level key '{sorted(unknown)[0]}'; only [[experiment]] and [[{SWEEPS}]] "
                        "tables are allowed.")
    if not entries:
        raise UserError(f"{path}: no experiments found; add at least one [[experiment]] table with an id.")
    by_id = _index_by_id(path, entries)
    inherited: dict[int, Merged] = {}
    return {eid: _resolve(path, by_id, eid, inherited) for eid in sorted(by_id)}


def read_toml(path: Path) -> dict[str, Any]:
    return _parsed(path, _text(path))


def _text(path: Path) -> str:
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would wait for a writer forever
        raise UserError(f"{path}: not a regular file; pass an experiments file with --experiments PATH.")
    try:
        return path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is no syntax error
    except FileNotFoundError:
        raise UserError(f"{path}: experiments file not found; pass an existing file with --experiments PATH.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the experiments file ({error}).") from None


def _parsed(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: TOML syntax error: {error}; fix that line and try again.") from None


def _index_by_id(path: Path, entries: Any) -> dict[int, dict[str, Any]]:
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise UserError(f"{path}: 'experiment' must be an array of tables, written as [[experiment]].")
    by_id: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(entries, start=1):
        eid = entry.get("id")
        if not isinstance(eid, int) or isinstance(eid, bool) or not 1 <= eid <= MAX_ID:
            raise UserError(f"{path}: experiment number {position} in the file needs a whole-number 'id' from 1 to "
                            f"{MAX_ID:,}.")
        if eid in by_id:
            raise UserError(f"{path}: experiment id {eid} appears twice; give each experiment its own id.")
        by_id[eid] = entry
    return by_id


# A resolved table and, for each of its dotted keys, the experiment its value came from.
Merged = tuple[dict[str, Any], dict[str, int]]


def _resolve(path: Path, by_id: dict[int, dict[str, Any]], eid: int, inherited: dict[int, Merged]) -> Experiment:
    merged, origin = copy.deepcopy(_inheritance(path, by_id, eid, inherited))
    _merge(merged, {k: v for k, v in by_id[eid].items() if k in OWN_KEYS}, origin, eid)
    spec = validated(merged, f"{path}: experiment {eid}")
    return Experiment(spec=spec, origin=_config_only(origin), changes=_config_only(_flatten(by_id[eid])))


def _inheritance(path: Path, by_id: dict[int, dict[str, Any]], eid: int, inherited: dict[int, Merged]) -> Merged:
    """What `eid` and its ancestors set but their own keys (id, name...), merged from the oldest ancestor down.
    Each experiment's is kept in `inherited` and built on its parent's, so a chain of any depth resolves in time
    linear in its length (walking each experiment's whole chain again was quadratic: 34 s at 2,000 deep)."""
    chain = _unresolved_ancestry(path, by_id, eid, inherited)
    for member in reversed(chain):
        parent = by_id[member].get("extends")
        merged, origin = copy.deepcopy(inherited[parent]) if parent is not None else ({}, {})
        _merge(merged, {k: v for k, v in by_id[member].items() if k not in OWN_KEYS}, origin, member)
        inherited[member] = merged, origin
    return inherited[eid]


def _unresolved_ancestry(path: Path, by_id: dict[int, dict[str, Any]], eid: int,
                         inherited: dict[int, Merged]) -> list[int]:
    """`eid` and its ancestors up to (not including) the first one resolved already, each `extends` checked."""
    chain: list[int] = []
    on_chain: set[int] = set()
    current: int | None = eid
    while current is not None and current not in inherited:
        chain.append(current)
        on_chain.add(current)
        parent = by_id[current].get("extends")
        if parent is None:
            break
        if not isinstance(parent, int) or isinstance(parent, bool):
            raise UserError(f"{path}: experiment {current}: key 'extends' must be an experiment id (an integer).")
        if parent not in by_id:
            raise UserError(f"{path}: experiment {current}: key 'extends' names experiment {parent}, which does not "
                            "exist.")
        if parent in on_chain:
            cycle = " -> ".join(str(i) for i in [*chain, parent])
            raise UserError(f"{path}: experiment {eid}: key 'extends' forms a cycle ({cycle}); break it.")
        current = parent
    return chain


def validated(merged: dict[str, Any], where: str) -> ExperimentSpec:
    """The spec of a resolved experiment (or a sweep's point), checked as every experiment is: each value, then
    the network's shape. `where` starts the sentence that says what is wrong ('experiments.toml: experiment 26')."""
    try:
        spec = ExperimentSpec.model_validate(merged)
    except ValidationError as error:
        raise UserError(_describe(where, error)) from None
    # A network that pools its images to nothing, or that no machine could hold, is a mistake in the file.
    if problem := architecture.problem(spec.model):
        raise UserError(f"{where}: {problem}.")
    return spec


def _config_only(flat: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in flat.items() if key.split(".")[0] not in OWN_KEYS}


def _merge(into: dict[str, Any], update: dict[str, Any], origin: dict[str, int], source: int, prefix: str = "") -> None:
    """Tables merge deeply; scalars and lists replace."""
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "published":
            _merge(into[key], value, origin, source, f"{dotted}.")
        else:
            into[key] = copy.deepcopy(value)
            for leaf in _flatten({key: value}, prefix):
                origin[leaf] = source


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _describe(where: str, error: ValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    unknown_op = len(location) > 2 and location[0] == "augment" and first["type"] == "literal_error"
    if first["type"] == "union_tag_invalid" or unknown_op:
        tag = first.get("input", {}).get("op") if isinstance(first.get("input"), dict) else first.get("input")
        return (f"{where}: key 'augment' has unknown augmentation '{tag}'; "
                "use one of hflip, vflip, rotation, affine, color_jitter, normalize.")
    # Drop the union tag pydantic adds inside a discriminated list ("augment.1.rotation.degrees").
    if len(location) > 2 and location[0] == "augment":
        location = location[:2] + location[3:]
    if first["type"] == "missing" and location[-1].isdigit():  # a fixed-length list short of values: one error each
        needed = len(first["input"]) + sum(e["loc"][:-1] == first["loc"][:-1] for e in error.errors())
        return f"{where}: key '{'.'.join(location[:-1])}' needs {needed} values (got {first['input']!r})."
    if first["type"] == "too_long":
        return (f"{where}: key '{'.'.join(location)}' needs {first['ctx']['max_length']} values "
                f"(got {first['input']!r}).")
    key = ".".join(location)
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}'; check its spelling against experiment 1."
    if first["type"] == "missing":
        return f"{where}: key '{key}' is missing; set it here or in the experiment it extends."
    return bad_value(where, key, first)


def bad_value(where: str, key: str, error: Any) -> str:
    """One of pydantic's errors (ErrorDetails) as the sentence for a value the key cannot take."""
    message = error["msg"].rstrip(".")
    message = message[0].lower() + message[1:]
    return f"{where}: key '{key}' {message.removeprefix('input ').removeprefix('value ')} (got {error.get('input')!r})."
