"""Laser scans to points: where the rays of a (safety) laser scanner hit, in the world frame.
No rclpy here."""

from __future__ import annotations

import numpy as np

from foresight_common.cell_layout import ScannerSpec


def scan_points(ranges: np.ndarray, spec: ScannerSpec) -> np.ndarray:
    """World points (n, 3) of the finite ranges of a scan taken by a scanner at `spec`."""
    angle_min = -spec.fov / 2.0
    increment = spec.fov / (spec.rays - 1)
    angles = spec.yaw + angle_min + increment * np.arange(len(ranges))
    hit = np.isfinite(ranges)
    r = ranges[hit]
    x = spec.position[0] + r * np.cos(angles[hit])
    y = spec.position[1] + r * np.sin(angles[hit])
    return np.stack([x, y, np.full_like(x, spec.position[2])], axis=1)
