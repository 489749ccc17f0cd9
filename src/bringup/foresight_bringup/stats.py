"""Small statistics used by `run` and `bench`: Wilson score interval for success rates,
percentiles from pooled samples. No rclpy here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion (sound for small n and 0 or n)."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def percentiles(samples: Sequence[float], qs: Sequence[float] = (50, 99)) -> dict[str, float]:
    """{'p50': ..., 'p99': ..., 'n': ...} from all samples (never an average of percentiles)."""
    values = np.asarray(samples, dtype=float)
    result: dict[str, float] = {"n": int(values.size)}
    for q in qs:
        result[f"p{q:g}"] = float(np.percentile(values, q)) if values.size else math.nan
    return result
