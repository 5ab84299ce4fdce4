"""Where dermalab keeps its files: DERMALAB_HOME (default: the platform's user data dir) and the data dir inside it."""

import os
from pathlib import Path

from platformdirs import user_data_dir


def home() -> Path:
    return Path(os.environ.get("DERMALAB_HOME") or user_data_dir("dermalab", appauthor=False))


def data_dir() -> Path:
    return Path(os.environ.get("DERMALAB_DATA_DIR") or home() / "data")
