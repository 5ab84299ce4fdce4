"""Two configurations compared seed by seed: the mean of their per-seed differences and its 95 % interval.

A seed fixes the data order, the augmentation's draws and the initial weights, so runs of one seed share much of
their luck; the difference within a seed leaves that shared part out and varies less than either side. With so
few pairs (3 seeds is usual) the interval is Student's t over the differences, not a normal one: at n = 3 its
half-width is 4.3 standard errors, not 1.96."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

LEVEL = 0.95


@dataclass(frozen=True)
class PairedDifference:
    seeds: list[int]  # the seeds both sides finished
    mean: float | None  # mean of (ours - theirs) over those seeds; None without any
    low: float | None  # the interval's ends; None below two seeds, where the spread is unknown
    high: float | None


def paired_difference(ours: dict[int, float], theirs: dict[int, float]) -> PairedDifference:
    """`ours` minus `theirs`, each seed -> a figure; seeds only one side has are left out."""
    seeds = sorted(seed for seed in set(ours) & set(theirs)
                   if all(side[seed] is not None and math.isfinite(side[seed]) for side in (ours, theirs)))
    differences = [ours[seed] - theirs[seed] for seed in seeds]
    if not differences:
        return PairedDifference([], None, None, None)
    return PairedDifference(seeds, *mean_interval(differences))


def mean_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """The mean of `values` (one or more) and its 95 % interval by Student's t; no interval below two values."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    from scipy.stats import t  # scipy comes with scikit-learn; imported only where an interval is asked for

    half = t.ppf((1 + LEVEL) / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half
