"""Where dermalab keeps its files: DERMALAB_HOME (default: the platform's user data dir), the data dir inside it,
and where DermaMNIST comes from. Free of numpy and torch, so the app can say all this before its first frame."""

import errno
import os
import time
from pathlib import Path

from platformdirs import user_data_dir

from engine.errors import UserError

# experiments.toml's folder, and the one a child process imports from
REPOSITORY = Path(__file__).resolve().parent.parent


def home() -> Path:
    return folder_named(os.environ.get("DERMALAB_HOME") or user_data_dir("dermalab", appauthor=False))


def stamp() -> str:
    """Now, as the names of dermalab's files say it (a backup, a report, a log): local time to the second, so that
    names sort by time."""
    return time.strftime("%Y%m%d-%H%M%S")


def data_dir() -> Path:
    return folder_named(os.environ.get("DERMALAB_DATA_DIR") or home() / "data")


def folder_named(name: str | Path) -> Path:
    """Absolute, with '~' read as the home folder even where no shell expanded it: a relative folder would mean
    another one to the worker, which starts in a folder of its own."""
    return Path(name).expanduser().absolute()


# medmnist.INFO["dermamnist"] for the 28x28 file, which the download reads (engine.training.data.medmnist_source).
# Copied here so the app can name the source before its first frame: medmnist imports torch. A test holds the two
# equal.
DERMAMNIST_URL = "https://zenodo.org/records/10519652/files/dermamnist.npz?download=1"
DERMAMNIST_MD5 = "0744692d530f8e62ec473284d019b0c7"
FILE_NAME = "dermamnist.npz"


def make_folder(folder: Path, holds: str, way_out: str) -> None:
    """mkdir -p, or one sentence with the real reason the folder cannot be made (a file in its place is the
    common one, and moving it aside the first way out); `holds` says what goes into it, `way_out` what else the
    user can do."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        aside = "move it aside, or " if in_the_way(folder) else ""
        raise UserError(f"{folder} cannot hold {holds}: {why_not(folder, error)}; {aside}{way_out}.") from None


def why_not(folder: Path, error: Exception) -> str:
    """What an error on writing in `folder` means, said for a person: what blocks the place, a full disk, or else
    the system's own words."""
    if place := blocked(folder):
        return place
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return getattr(error, "strerror", None) or str(error)


def blocked(folder: Path) -> str | None:
    """What keeps anyone from writing in `folder`: a file in its way, a read-only file system, no permission.
    Asked of the place itself, as SQLite's errors carry no errno (a store it cannot open is 'unable to open
    database file', whatever the cause)."""
    if blocker := in_the_way(folder):
        return f"{blocker} is a file, not a folder"
    existing = nearest(folder)
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"{existing} is on a read-only file system"
    if not os.access(existing, os.W_OK):
        return f"no permission to write in {existing}"
    return None


def in_the_way(folder: Path) -> Path | None:
    """The file standing where `folder` or one of the folders above it should be."""
    existing = nearest(folder)
    return None if existing.is_dir() else existing


def nearest(path: Path) -> Path:
    """`path` or the closest folder above it that exists."""
    return next(p for p in (path, *path.parents) if p.exists())


def disk_full(error: Exception) -> bool:
    """The system's or SQLite's word that there is no room (SQLite's own sentence says 'database or disk')."""
    return getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or \
        getattr(error, "sqlite_errorname", None) == "SQLITE_FULL"


def require_data_file(path: Path) -> None:
    """--data PATH names a regular file: not a folder, nor a pipe that reading would wait on forever."""
    if not path.is_file():
        what = "not a regular file" if path.exists() else "no such file"
        raise UserError(f"--data {path}: {what}; give the path of a medmnist-format .npz, 'auto' or 'synthetic'.")


def dermamnist_path() -> Path:
    return data_dir() / FILE_NAME


def missing_data_hint() -> str:
    return (f"DermaMNIST is not in {data_dir()} and could not be downloaded; put {FILE_NAME} "
            f"(from {DERMAMNIST_URL}, md5 {DERMAMNIST_MD5}) there, or start with --data synthetic.")
