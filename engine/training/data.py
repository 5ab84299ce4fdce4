"""A MedMNIST set as uint8 arrays (DermaMNIST at 28x28 unless another set or size is chosen): the real file
(downloaded and checked, or given as a path) or a synthetic stand-in of the set's shape."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from platformdirs import user_cache_dir

from engine.classes import CLASSES, DEFAULT, DEFAULT_SIZE, MedSet, medset
from engine.errors import UserError
from engine.paths import DERMAMNIST_MD5, data_dir, require_data_file
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
    images: dict[str, np.ndarray]  # split -> uint8 N x S x S x C (C: 3, or 1 for a grey set)
    labels: dict[str, np.ndarray]  # split -> int64 N
    fingerprint: str  # "synthetic", or the MD5 of the file: runs on the same data are comparable
    medset: MedSet = field(default_factory=medset)  # which set at which size


DataKey = tuple[str, str, int]  # what `load` takes: --data, the set and its size


def key(data: str, dataset: str = DEFAULT, size: int = DEFAULT_SIZE) -> DataKey:
    return data, dataset, size


MEDMNIST = " (medmnist)"  # a downloaded set's source ends so: 'dermamnist (medmnist)', 'pathmnist 64 (medmnist)'
MEDMNIST_SOURCE = DEFAULT + MEDMNIST  # the source of --data auto on the default set


def load(data: str = "auto", dataset: str = DEFAULT, size: int = DEFAULT_SIZE,
         on_progress: Progress | None = None) -> Dataset:
    """`data` is "auto" (download on first use), "synthetic", or the path of a medmnist-format npz; `dataset` and
    `size` say which MedMNIST set it is (or is to be)."""
    chosen = medset(dataset, size)
    if data == "synthetic":
        return synthetic(chosen)
    if data == "auto":
        path = medmnist_path(chosen)
        if not path.exists():
            url, md5 = chosen.source()
            download(os.environ.get("DERMALAB_DATA_URL", url), md5, path, on_progress)
        return read_npz(path, source=chosen.label + MEDMNIST, chosen=chosen)
    return read_npz(Path(data), source=str(data), chosen=chosen)


def medmnist_path(chosen: MedSet) -> Path:
    """Where --data auto keeps a set: the data folder, under medmnist's own file name."""
    return data_dir() / chosen.file_name


def medmnist_source() -> tuple[str, str]:
    """The URL medmnist itself downloads the 28x28 DermaMNIST from, and its MD5. engine.paths keeps a copy for
    words shown before the first frame, held to this by a test."""
    return medset().source()


def at_hand(data: str, dataset: str = DEFAULT, size: int = DEFAULT_SIZE) -> Dataset:
    """Like `load`, but never downloads: for showing images, where a download would be a surprise."""
    chosen = medset(dataset, size)
    if data == "synthetic":
        return synthetic(chosen)
    path = medmnist_path(chosen) if data == "auto" else Path(data)
    if not path.exists():  # anything else there is for read_npz to name
        raise UserError(f"The images are not at hand: {path} is missing, so put the file back there "
                        f"(or let a run with that --data download {chosen.label}) to see them.")
    return load(data, dataset, size)


def recorded(source: str, dataset: str = DEFAULT, size: int = DEFAULT_SIZE) -> Dataset:
    """The data a run records as its source, read again without downloading anything."""
    if source == synthetic_source(medset(dataset, size)):
        return synthetic(medset(dataset, size))
    return at_hand("auto" if source.endswith(MEDMNIST) else source, dataset, size)


def source_path(source: str, dataset: str = DEFAULT, size: int = DEFAULT_SIZE) -> Path | None:
    """The file a run's `source` names, on its set and size (None for synthetic data)."""
    if source.startswith("synthetic"):
        return None
    return medmnist_path(medset(dataset, size)) if source.endswith(MEDMNIST) else Path(source)


def fingerprint(path: Path) -> str:
    """The MD5 of the file's bytes (about 50 ms for DermaMNIST; once per file version in a process): the
    official file's is DERMAMNIST_MD5."""
    status = path.stat()
    return _md5(str(path.resolve()), status.st_size, status.st_mtime_ns)


@functools.cache
def _md5(path: str, size: int, modified: int) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def fingerprint_for(data: str, dataset: str = DEFAULT, size: int = DEFAULT_SIZE) -> str | None:
    """The fingerprint the dataset `load(data, ...)` gives will have, before loading it (None where it cannot
    load): a set not downloaded yet will be the official file, which its download checks (for DermaMNIST at 28,
    engine.paths's copy of medmnist's MD5, held to it by a test)."""
    chosen = medset(dataset, size)
    if data == "synthetic":
        return synthetic_source(chosen)
    path = medmnist_path(chosen) if data == "auto" else Path(data)
    if path.is_file():
        return fingerprint(path)
    if data != "auto":
        return None
    return DERMAMNIST_MD5 if chosen.default else chosen.source()[1]


def download(url: str, md5: str, destination: Path, on_progress: Progress | None = None) -> None:
    fetch(url, destination, "md5", md5, on_progress, way_out=", or use --data synthetic")


def read_npz(path: Path, source: str, chosen: MedSet | None = None) -> Dataset:
    chosen = chosen or medset()
    require_data_file(path)  # it may have gone since the command was given
    # np.load would read a .npy as one bare array and try to unpickle a text file, so check for a zip first.
    if not zipfile.is_zipfile(path):
        raise UserError(f"--data {path}: not an .npz archive (another format, or cut short); "
                        f"give a complete medmnist-format {chosen.label} npz.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
        raise UserError(f"--data {path}: not a readable .npz file ({error}); "
                        f"give a medmnist-format {chosen.label} npz.") from None
    images, labels = {}, {}
    classes = len(chosen.classes)
    for split in SPLITS:
        images[split] = _images(path, arrays, f"{split}_images", chosen)
        labels[split] = _checked(path, arrays, f"{split}_labels").reshape(-1).astype(np.int64)
        if len(labels[split]) != len(images[split]) or labels[split].max(initial=0) >= classes:
            raise UserError(f"--data {path}: '{split}_labels' must hold one class 0-{classes - 1} per image of "
                            f"'{split}_images' for {chosen.label}; give that set's file, or the --dataset it holds.")
    for split in TRAINED_AND_SCORED:
        if not len(images[split]):
            raise UserError(f"--data {path}: '{split}_images' holds no images; training needs train and val images.")
    return Dataset(source=source, synthetic=False, images=images, labels=labels, fingerprint=fingerprint(path),
                   medset=chosen)


def _images(path: Path, arrays: dict[str, np.ndarray], key: str, chosen: MedSet) -> np.ndarray:
    """N x S x S x C, whatever the file's form: medmnist keeps a grey set as N x S x S."""
    array = _checked(path, arrays, key)
    size, channels = chosen.size, chosen.channels
    if channels == 1 and array.ndim == 3 and array.shape[1:] == (size, size):
        return array[..., None]
    if array.ndim != 4 or array.shape[1:] != (size, size, channels):
        form = f"N x {size} x {size}" + (f" (or N x {size} x {size} x 1)" if channels == 1 else " x 3")
        raise UserError(f"--data {path}: '{key}' has shape {array.shape}, but {chosen.label} images are {form}; "
                        "give that set's file at that size, or the --dataset and --size this file holds.")
    return array


def _checked(path: Path, arrays: dict[str, np.ndarray], key: str) -> np.ndarray:
    if key not in arrays:
        raise UserError(f"--data {path}: the key '{key}' is missing; "
                        "a medmnist npz has train/val/test _images and _labels.")
    array = arrays[key]
    if not isinstance(array, np.ndarray):  # a zip member not written by numpy comes back as raw bytes
        raise UserError(f"--data {path}: '{key}' is not a numpy array; save the file with numpy.savez.")
    if array.dtype != np.uint8:
        raise UserError(f"--data {path}: '{key}' has dtype {array.dtype}; it must be uint8.")
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


def synthetic(chosen: MedSet | None = None) -> Dataset:
    """The generated stand-in of a set: DermaMNIST's at 28x28 is drawn once per machine and kept in its cache
    folder (drawing takes about 2 s of a 2-core CPU, reading it back a tenth of that, and every training process of
    a synthetic run needs it); another set's or size's is small, and drawn each time."""
    chosen = chosen or medset()
    if not chosen.default:
        images, labels = draw_shaped(chosen)
        return Dataset(source=synthetic_source(chosen), synthetic=True, images=images, labels=labels,
                       fingerprint=synthetic_source(chosen), medset=chosen)
    kept = synthetic_cache()
    try:
        with np.load(kept) as arrays:
            images = {split: arrays[f"{split}_images"] for split in SPLITS}
            labels = {split: arrays[f"{split}_labels"] for split in SPLITS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):  # not drawn yet here, or a copy cut short
        images, labels = draw_synthetic()
        _keep(kept, images, labels)
    return Dataset(source="synthetic", synthetic=True, images=images, labels=labels, fingerprint="synthetic",
                   medset=chosen)


def synthetic_source(chosen: MedSet) -> str:
    """The source and fingerprint of a synthetic set: 'synthetic' for DermaMNIST at 28 (as before sets could be
    chosen), else 'synthetic pathmnist 64', so that no two sets' synthetic runs are ever compared."""
    return "synthetic" if chosen.default else f"synthetic {chosen.label}"


SHAPED_IMAGES = 1200  # a shaped stand-in's images at 28x28, fewer at larger sizes (the same pixels in all)


def shaped_counts(chosen: MedSet) -> dict[str, int]:
    """Images per split: the real set's proportions, scaled down, with two of each class at least in every split
    (every class in val, or its AUC is undefined)."""
    total = SHAPED_IMAGES * (28 / chosen.size) ** 2
    real = sum(chosen.splits.values())
    return {split: max(round(total * chosen.splits[split] / real), 2 * len(chosen.classes)) for split in SPLITS}


def draw_shaped(chosen: MedSet) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Blobs whose brightness, size and (in colour) hue depend on the class, under noise, at the set's size and
    channels: a learnable task of the set's shape, nothing like its pictures."""
    rng = np.random.default_rng([SYNTHETIC_SEED, chosen.size, *chosen.name.encode()])
    classes = len(chosen.classes)
    tone = rng.uniform(0.25, 0.85, size=(classes, chosen.channels))
    radius = rng.uniform(0.15, 0.35, size=classes) * chosen.size
    coords = np.arange(chosen.size) - (chosen.size - 1) / 2
    images, labels = {}, {}
    for split, count in shaped_counts(chosen).items():
        split_labels = np.resize(np.arange(classes), count)
        rng.shuffle(split_labels)
        centre = rng.normal(0, chosen.size / 14, size=(count, 2))
        distance = np.hypot(coords[None, :, None] - centre[:, 0, None, None],
                            coords[None, None, :] - centre[:, 1, None, None])
        scale = radius[split_labels] * rng.uniform(0.7, 1.3, size=count)
        mask = (1 / (1 + np.exp((distance - scale[:, None, None]) * 28 / chosen.size)))[..., None]
        blob = tone[split_labels] + rng.normal(0, 0.1, size=(count, chosen.channels))
        picture = 0.5 * (1 - mask) + blob[:, None, None] * mask \
            + rng.normal(0, 0.08, size=(*mask.shape[:3], chosen.channels))
        images[split] = (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)
        labels[split] = split_labels.astype(np.int64)
    return images, labels


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
