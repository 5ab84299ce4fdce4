"""Where dermalab keeps its files: DERMALAB_HOME (default: the platform's user data dir), the data dir inside it,
and where DermaMNIST comes from. Free of numpy and torch, so the app can say all this before its first frame."""

import os
from pathlib import Path

from platformdirs import user_data_dir


def home() -> Path:
    return Path(os.environ.get("DERMALAB_HOME") or user_data_dir("dermalab", appauthor=False))


def data_dir() -> Path:
    return Path(os.environ.get("DERMALAB_DATA_DIR") or home() / "data")


# medmnist.INFO["dermamnist"] for the 28x28 file, copied so naming it needs no medmnist import.
DERMAMNIST_URL = "https://zenodo.org/records/10519652/files/dermamnist.npz?download=1"
DERMAMNIST_MD5 = "0744692d530f8e62ec473284d019b0c7"
FILE_NAME = "dermamnist.npz"


def dermamnist_path() -> Path:
    return data_dir() / FILE_NAME


def missing_data_hint() -> str:
    return (f"DermaMNIST is not in {data_dir()} and could not be downloaded; put {FILE_NAME} "
            f"(from {DERMAMNIST_URL}, md5 {DERMAMNIST_MD5}) there, or start with --data synthetic.")
