"""How numbers read on screen: AUC to three places, recalls as percents, counts with separators, mean ± std."""

from __future__ import annotations

from engine.jobs.gpus import GpuSample
from engine.words import plural as plural  # the engine's sentences count alike; the terminal's modules import it here
from engine.words import runs_stored as runs_stored

MISSING = "–"


def auc(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def percent(value: float | None) -> str:
    return MISSING if value is None else f"{value:.0%}"


def signed_auc(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.3f}"


def signed_points(value: float | None) -> str:
    """A difference of two proportions, in percentage points."""
    return MISSING if value is None else f"{round(value * 100):+d}"


def gpus(samples: list[GpuSample]) -> str:
    """The header's GPU figures: 'GPU 0 87% 3.1/80G · GPU 1 2% 0.4/80G'."""
    return " · ".join(f"GPU {sample.gpu} {sample.utilisation}% {sample.memory_used / 2**30:.1f}/"
                      f"{sample.memory_total / 2**30:.0f}G" for sample in samples)


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def compact_count(value: int | None) -> str:
    """Parameter counts in a narrow column: 6.9k, 94.6k, 11.2M."""
    if value is None:
        return MISSING
    if value >= 1_000_000:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e3:.1f}k" if value >= 1000 else str(value)


def seconds(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.1f}s" if value < 100 else f"{value:.0f}s"


def duration(value: float | None) -> str:
    """A time left: 42s, 12m05s, 3h04m."""
    if value is None:
        return MISSING
    minutes, secs = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def spread(mean: str, std: float | None, scale: float, places: int) -> str:
    """`mean` already formatted, then ±std (scaled, e.g. 100 for percent points) when there is a spread."""
    return mean if std is None or mean == MISSING else f"{mean}±{std * scale:.{places}f}"


def interval(bounds: list[float] | None, show) -> str:
    """A [low, high] interval, each end formatted by `show` (e.g. `auc` or `percent`)."""
    return MISSING if not bounds else f"{show(bounds[0])}–{show(bounds[1])}"
