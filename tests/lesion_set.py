"""A tiny medmnist-format file whose images tell each other apart at a glance, put where --data auto looks,
and a val table written by hand: for each val lesion its true class, the class a run calls it, and the two
probabilities that decide that."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.classes import CLASSES
from engine.paths import FILE_NAME

C = {name: number for number, name in enumerate(CLASSES)}
# Per val lesion: (true class, called class, P(true), P(called)); the rest of the mass is spread evenly.
VAL_TABLE = [
    ("mel", "nv", 0.30, 0.50),   # 0
    ("mel", "mel", 0.60, 0.60),  # 1
    ("mel", "nv", 0.40, 0.45),   # 2
    ("mel", "bkl", 0.20, 0.50),  # 3
    ("nv", "nv", 0.80, 0.80),    # 4
    ("nv", "mel", 0.30, 0.50),   # 5
    ("nv", "nv", 0.70, 0.70),    # 6
    ("bcc", "bcc", 0.55, 0.55),  # 7
    ("bcc", "nv", 0.25, 0.60),   # 8
    ("akiec", "bcc", 0.20, 0.40),  # 9
    ("bkl", "bkl", 0.50, 0.50),  # 10
    ("df", "nv", 0.10, 0.60),    # 11
    ("vasc", "vasc", 0.90, 0.90),  # 12
    ("mel", "nv", 0.10, 0.70),   # 13
]
TRAIN_LABELS = ("mel", "nv", "bkl", "bcc", "akiec", "df", "vasc", "mel")
SKIN = (222, 172, 160)
LESION = {"akiec": (190, 110, 100), "bcc": (170, 120, 140), "bkl": (140, 100, 80), "df": (160, 110, 90),
          "mel": (60, 40, 40), "nv": (110, 80, 70), "vasc": (180, 60, 80)}


def val_labels() -> np.ndarray:
    return np.array([C[true] for true, *_ in VAL_TABLE])


def val_probabilities(table: list[tuple[str, str, float, float]] = VAL_TABLE) -> np.ndarray:
    rows = []
    for true, called, p_true, p_called in table:
        row = np.zeros(len(CLASSES))
        row[C[true]], row[C[called]] = p_true, p_called
        rest = row == 0
        row[rest] = (1 - row.sum()) / rest.sum()
        rows.append(row)
    return np.array(rows)


def image(label: str, number: int) -> np.ndarray:
    """Skin with a disc of the class's colour, and a bright bar as long as `number` along the top: each image
    of the file differs from every other, and a flip or a rotation shows."""
    picture = np.empty((28, 28, 3), np.uint8)
    picture[:] = SKIN
    yy, xx = np.mgrid[:28, :28]
    picture[(yy - 15) ** 2 + (xx - 13) ** 2 <= 64 + 4 * (number % 8)] = LESION[label]
    picture[2:4, 2:2 + number + 1] = (250, 250, 250)
    return picture


def write_file(path: Path) -> Path:
    labels = {"train": TRAIN_LABELS, "val": [true for true, *_ in VAL_TABLE], "test": ("mel", "nv")}
    arrays = {}
    for split, names in labels.items():
        arrays[f"{split}_images"] = np.stack([image(name, number) for number, name in enumerate(names)])
        arrays[f"{split}_labels"] = np.array([[C[name]] for name in names], np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def lesion_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny file as this test's DermaMNIST: runs stored as real data, and --data auto, read it."""
    monkeypatch.setenv("DERMALAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    return write_file(tmp_path / "data" / FILE_NAME)
