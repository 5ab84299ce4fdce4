"""DermaMNIST as uint8 arrays: the real file (downloaded and checked, or given as a path) or a synthetic stand-in."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from platformdirs import user_cache_dir

from engine.classes import CLASSES
from engine.errors import UserError
from engine.paths import DERMAMNIST_MD5, dermamnist_path, require_data_file
from engine.training.fetch import Progress, fetch

SPLITS = ("train", "val", "test")
TRAINED_AND_SCORED = ("train", "val")  # the page never scores on test, so an empty test split is no obstacle
# The official per-class counts (akiec, bcc, bkl, df, mel, nv, vasc) of each split.
CLASS_COUNTS = {
    "train": (228, 359, 769, 80, 779, 4693, 99),
    "val": (33, 52, 110, 12, 111, 671, 14),
    "test": (66, 103, 220, 23, 223, 1341, 29),
}


@dataclass(frozen=True)
class Dataset:
    source: str  # what the store and the screens call it: "synthetic", MEDMNIST_SOURCE or a path
    synthetic: bool
    images: dict[str, np.ndarray]  # split -> uint8 N x 28 x 28 x 3
    labels: dict[str, np.ndarray]  # split -> int64 N
    fingerprint: str  # "synthetic", or the MD5 of the file: runs on the same data are comparable


MEDMNIST_SOURCE = "dermamnist (medmnist)"  # the source of --data auto


def load(data: str = "auto", on_progress: Progress | None = None) -> Dataset:
    """`data` is "auto" (download on first use), "synthetic", or the path of a medmnist-format npz."""
    if data == "synthetic":
        return synthetic()
    if data == "auto":
        path = dermamnist_path()
        if not path.exists():
            url, md5 = medmnist_source()
            download(os.environ.get("DERMALAB_DATA_URL", url), md5, path, on_progress)
        return read_npz(path, source=MEDMNIST_SOURCE)
    return read_npz(Path(data), source=str(data))


def medmnist_source() -> tuple[str, str]:
    """The URL medmnist itself downloads the 28x28 DermaMNIST from, and its MD5. Imported only when a download is
    due: medmnist imports torch. engine.paths keeps a copy for words shown before that, held to this by a test."""
    from medmnist import INFO

    record = INFO["dermamnist"]
    return record["url"], record["MD5"]


def at_hand(data: str) -> Dataset:
    """Like `load`, but never downloads: for showing images, where a download would be a surprise."""
    if data == "synthetic":
        return synthetic()
    path = data_path(data)
    if not path.exists():  # anything else there is for read_npz to name
        raise UserError(f"The images are not at hand: {path} is missing, so put the file back there "
                        "(or let a run with that --data download DermaMNIST) to see them.")
    return load(data)


def data_path(data: str) -> Path:
    """The file a --data value other than 'synthetic' names."""
    return dermamnist_path() if data == "auto" else Path(data)


def recorded(source: str) -> Dataset:
    """The data a run records as its source, read again without downloading anything."""
    return at_hand("auto" if source == MEDMNIST_SOURCE else source)


def source_path(source: str) -> Path | None:
    """The file a dataset's `source` names (None for synthetic data)."""
    if source == "synthetic":
        return None
    return dermamnist_path() if source == MEDMNIST_SOURCE else Path(source)


def fingerprint(path: Path) -> str:
    """The MD5 of the file's bytes (about 50 ms for DermaMNIST; once per file version in a process): the
    official file's is DERMAMNIST_MD5."""
    status = path.stat()
    return _md5(str(path.resolve()), status.st_size, status.st_mtime_ns)


@functools.cache
def _md5(path: str, size: int, modified: int) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def fingerprint_for(data: str) -> str | None:
    """The fingerprint the dataset `load(data)` gives will have, before loading it (None where it cannot load):
    DermaMNIST not downloaded yet will be the official file, which its download checks (engine.paths's copy of
    medmnist's MD5, held to it by a test)."""
    if data == "synthetic":
        return "synthetic"
    path = data_path(data)
    if path.is_file():
        return fingerprint(path)
    return DERMAMNIST_MD5 if data == "auto" else None


def download(url: str, md5: str, destination: Path, on_progress: Progress | None = None) -> None:
    fetch(url, destination, "md5", md5, on_progress, way_out=", or use --data synthetic")


def read_npz(path: Path, source: str) -> Dataset:
    require_data_file(path)  # it may have gone since the command was given
    # np.load would read a .npy as one bare array and try to unpickle a text file, so check for a zip first.
    if not zipfile.is_zipfile(path):
        raise UserError(f"--data {path}: not an .npz archive (another format, or cut short); "
                        "give a complete medmnist-format DermaMNIST npz.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
        raise UserError(f"--data {path}: not a readable .npz file ({error}); "
                        "give a medmnist-format DermaMNIST npz.") from None
    images, labels = {}, {}
    for split in SPLITS:
        images[split] = _checked(path, arrays, f"{split}_images", ndim=4, tail=(28, 28, 3))
        labels[split] = _checked(path, arrays, f"{split}_labels", ndim=None, tail=()).reshape(-1).astype(np.int64)
        if len(labels[split]) != len(images[split]) or labels[split].max(initial=0) >= len(CLASSES):
            raise UserError(f"--data {path}: '{split}_labels' must hold one class 0-6 per image of '{split}_images'.")
    for split in TRAINED_AND_SCORED:
        if not len(images[split]):
            raise UserError(f"--data {path}: '{split}_images' holds no images; training needs train and val images.")
    return Dataset(source=source, synthetic=False, images=images, labels=labels, fingerprint=fingerprint(path))


def _checked(path: Path, arrays: dict[str, np.ndarray], key: str, ndim: int | None,
             tail: tuple[int, ...]) -> np.ndarray:
    if key not in arrays:
        raise UserError(f"--data {path}: the key '{key}' is missing; "
                        "a medmnist npz has train/val/test _images and _labels.")
    array = arrays[key]
    if not isinstance(array, np.ndarray):  # a zip member not written by numpy comes back as raw bytes
        raise UserError(f"--data {path}: '{key}' is not a numpy array; save the file with numpy.savez.")
    if array.dtype != np.uint8:
        raise UserError(f"--data {path}: '{key}' has dtype {array.dtype}; it must be uint8.")
    if ndim is not None and (array.ndim != ndim or array.shape[1:] != tail):
        raise UserError(f"--data {path}: '{key}' has shape {array.shape}; it must be N x 28 x 28 x 3.")
    return array


# Synthetic lesions: a skin-coloured background with one blob whose colour, size and texture depend on the
# class, blurred by enough per-image noise that the classes overlap. Class shares follow the real splits.
_LESION_RGB = np.array([
    [0.72, 0.47, 0.45],  # akiec
    [0.68, 0.50, 0.56],  # bcc
    [0.58, 0.42, 0.36],  # bkl
    [0.66, 0.46, 0.40],  # df
    [0.44, 0.31, 0.30],  # mel
    [0.52, 0.38, 0.34],  # nv
    [0.72, 0.30, 0.36],  # vasc
])
_RADIUS = np.array([7.0, 6.0, 8.0, 4.5, 9.0, 6.5, 5.0])
_STRIPES = np.array([0.9, 0.0, 0.6, 0.3, 1.2, 0.0, 0.4])  # spatial frequency of the texture
SYNTHETIC_SEED = 20_240_601


def synthetic() -> Dataset:
    """The generated set, drawn once per machine and kept in its cache folder: drawing takes about 2 s of a 2-core
    CPU, reading it back a tenth of that, and every training process of a synthetic run needs it."""
    kept = synthetic_cache()
    try:
        with np.load(kept) as arrays:
            images = {split: arrays[f"{split}_images"] for split in SPLITS}
            labels = {split: arrays[f"{split}_labels"] for split in SPLITS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):  # not drawn yet here, or a copy cut short
        images, labels = draw_synthetic()
        _keep(kept, images, labels)
    return Dataset(source="synthetic", synthetic=True, images=images, labels=labels, fingerprint="synthetic")


def synthetic_cache() -> Path:
    """Named for what draws it (the seed, and numpy, whose distributions may change between versions)."""
    return Path(user_cache_dir("dermalab", appauthor=False)) / f"synthetic-{SYNTHETIC_SEED}-numpy{np.__version__}.npz"


def draw_synthetic() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(SYNTHETIC_SEED)
    images, labels = {}, {}
    for split in SPLITS:
        split_labels = np.repeat(np.arange(len(CLASSES)), CLASS_COUNTS[split])
        rng.shuffle(split_labels)
        images[split] = _draw_lesions(rng, split_labels)
        labels[split] = split_labels.astype(np.int64)
    return images, labels


def _keep(path: Path, images: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> None:
    """Best effort: a cache that cannot be written (a read-only home) only means drawing again next time. Written
    beside its place and moved there, so a process reading it never sees half a file."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as partial:
            # Any: numpy's stubs would match the dict's arrays against savez's own allow_pickle flag
            named: dict[str, Any] = {f"{split}_{kind}": arrays[split] for kind, arrays in
                                     (("images", images), ("labels", labels)) for split in SPLITS}
            np.savez(partial, **named)
        os.replace(partial.name, path)


def _draw_lesions(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    n = len(labels)
    coords = np.arange(28) - 13.5
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    centre = rng.normal(0, 2.0, size=(n, 2))
    radius = _RADIUS[labels] * rng.uniform(0.6, 1.4, size=n)
    distance = np.hypot(yy[None] - centre[:, 0, None, None], xx[None] - centre[:, 1, None, None])
    mask = 1 / (1 + np.exp(distance - radius[:, None, None]))  # soft edge
    skin = np.array([0.84, 0.62, 0.62]) + rng.normal(0, 0.04, size=(n, 3))
    lesion = _LESION_RGB[labels] + rng.normal(0, 0.13, size=(n, 3))
    angle = rng.uniform(0, np.pi, size=n)
    wave = np.sin(_STRIPES[labels, None, None] * (np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy)
                  + rng.uniform(0, 2 * np.pi, size=(n, 1, 1)))
    texture = 0.08 * wave * (_STRIPES[labels] > 0)[:, None, None]
    mask = mask[..., None]
    picture = skin[:, None, None] * (1 - mask) + (lesion[:, None, None] + texture[..., None]) * mask
    picture += rng.normal(0, 0.08, size=picture.shape)
    return (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)
