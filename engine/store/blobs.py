"""A run's val labels and probabilities as compact blobs with their shape, and back, exactly.

Training keeps probabilities to 6 decimals, so they are stored as whole millionths (any other values as the
float64 they are). The bytes of each value are regrouped by significance before zlib: the high bytes of small
probabilities are zeros that compress to almost nothing, where version-0 stores spent 10 characters of JSON per
value.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numpy.typing import ArrayLike

MAGIC = b"DLB1"
HEADER = struct.Struct("<4sBBB")  # magic, kind, bytes per value, number of dimensions; then one uint32 per dimension
WHOLE, MILLIONTHS, FLOAT = 0, 1, 2  # kinds: integers as they are; fractions in millionths; float64 bits
SCALE = 1_000_000
NOT_FINITE = np.iinfo(np.uint32).max  # a NaN probability (a model that produced one) stays NaN


def pack_labels(labels: ArrayLike) -> bytes:
    values = np.asarray(labels)
    if values.size and (values.min() < 0 or values.max() > 255):
        raise ValueError("labels must be class numbers 0-255")
    return _pack(values.astype(np.uint8), WHOLE)


def pack_probabilities(probabilities: ArrayLike) -> bytes:
    values = np.asarray(probabilities, dtype=np.float64)
    finite = np.isfinite(values)
    whole = np.where(finite, np.rint(np.where(finite, values, 0) * SCALE), NOT_FINITE)
    exact = np.array_equal(np.where(finite, whole / SCALE, np.nan), values, equal_nan=True)
    if not exact or whole[finite].max(initial=0) >= NOT_FINITE:
        return _pack(values.view(np.uint64), FLOAT)
    return _pack(whole.astype(np.uint32), MILLIONTHS)


def unpack(blob: bytes) -> np.ndarray:
    """Labels as int64, probabilities as float64, equal to the values that were packed."""
    magic, kind, width, ndim = HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError("not an array blob of the run store")
    shape = struct.unpack_from(f"<{ndim}I", blob, HEADER.size)
    planes = np.frombuffer(zlib.decompress(blob[HEADER.size + 4 * ndim:]), dtype=np.uint8)
    whole = planes.reshape(width, -1).T.copy().view(f"<u{width}").reshape(shape)
    if kind == WHOLE:
        return whole.astype(np.int64)
    if kind == FLOAT:
        return whole.view(np.float64)
    values = whole / SCALE
    values[whole == NOT_FINITE] = np.nan
    return values


def _pack(values: np.ndarray, kind: int) -> bytes:
    little = values.astype(values.dtype.newbyteorder("<"))
    planes = little.reshape(-1).view(np.uint8).reshape(-1, little.itemsize).T.tobytes()
    header = HEADER.pack(MAGIC, kind, little.itemsize, little.ndim) + struct.pack(f"<{little.ndim}I", *little.shape)
    return header + zlib.compress(planes)
