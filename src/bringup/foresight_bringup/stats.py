"""Small statistics used by `run` and `bench`: Wilson score interval for success rates,
percentiles from pooled samples, the error reduction of one decision mode against another on
paired seeds with a bootstrap interval (DESIGN section 7). No rclpy here."""

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


def paired_error_reduction(errors: Sequence[float], baseline: Sequence[float],
                           resamples: int = 10000, seed: int = 0
                           ) -> tuple[float, float, float]:
    """1 - sum(errors) / sum(baseline) over paired seeds (errors[i] and baseline[i] come from
    the same seed), with a 95 % percentile-bootstrap interval that resamples seeds, keeping
    the pairs. NaN when the baseline has no errors (nothing to reduce)."""
    a = np.asarray(errors, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"need two equally long, non-empty lists of per-seed errors, got "
                         f"{a.shape} and {b.shape}")
    if b.sum() <= 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, a.size, size=(resamples, a.size))
    totals = b[picks].sum(axis=1)
    valid = totals > 0
    ratios = 1.0 - a[picks].sum(axis=1)[valid] / totals[valid]
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(1.0 - a.sum() / b.sum()), float(low), float(high)
