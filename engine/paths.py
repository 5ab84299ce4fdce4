"""Where dermalab keeps its files: DERMALAB_HOME (default: the platform's user data dir), the data dir inside it,
and where DermaMNIST comes from. Free of numpy and torch, so the app can say all this before its first frame."""

import errno
import os
from pathlib import Path

from platformdirs import user_data_dir

from engine.errors import UserError


def home() -> Path:
    return Path(os.environ.get("DERMALAB_HOME") or user_data_dir("dermalab", appauthor=False))


def data_dir() -> Path:
    return Path(os.environ.get("DERMALAB_DATA_DIR") or home() / "data")


# medmnist.INFO["dermamnist"] for the 28x28 file, which the download reads (engine.data.medmnist_source). Copied
# here so the app can name the source before its first frame: medmnist imports torch. A test holds the two equal.
DERMAMNIST_URL = "https://zenodo.org/records/10519652/files/dermamnist.npz?download=1"
DERMAMNIST_MD5 = "0744692d530f8e62ec473284d019b0c7"
FILE_NAME = "dermamnist.npz"


def make_folder(folder: Path, holds: str, way_out: str) -> None:
    """mkdir -p, or one sentence with the real reason the folder cannot be made (a file in its place is the
    common one); `holds` says what goes into it, `way_out` what else the user can do."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{folder} cannot hold {holds}: {why_not(folder, error)}; {way_out}.") from None


def why_not(path: Path, error: OSError) -> str:
    """What an OSError on `path` means, said for a person: which file is in the way, or what the system refused."""
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        return f"{blocker} is a file, not a folder"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {next(p for p in path.parents if p.exists())}"
    if error.errno == errno.EROFS:
        return "the file system is read-only"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return error.strerror or str(error)


def dermamnist_path() -> Path:
    return data_dir() / FILE_NAME


def missing_data_hint() -> str:
    return (f"DermaMNIST is not in {data_dir()} and could not be downloaded; put {FILE_NAME} "
            f"(from {DERMAMNIST_URL}, md5 {DERMAMNIST_MD5}) there, or start with --data synthetic.")
