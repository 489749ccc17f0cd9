"""Laser scans to points: where the rays of a (safety) laser scanner hit, in the world frame.
No rclpy here."""

from __future__ import annotations

import math

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


def scan_ranges(msg, spec: ScannerSpec) -> np.ndarray | None:
    """The ranges of a LaserScan message from the scanner `spec` (inf where nothing was hit
    or below range_min); None when the ray count is not the scanner's."""
    ranges = np.asarray(msg.ranges, dtype=float)
    if len(ranges) != spec.rays:
        return None
    ranges[~np.isfinite(ranges) | (ranges < msg.range_min)] = np.inf
    return ranges


def scan_xy(ranges: np.ndarray, spec: ScannerSpec,
            pose: tuple[float, float, float] | None = None) -> np.ndarray:
    """The hit points (n, 2) of a scan in the frame `spec` is given in, or, with `pose`
    (x, y, yaw of that frame in another, e.g. base_link in map), in that other frame."""
    points = scan_points(ranges, spec)[:, :2]
    if pose is None:
        return points
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return points @ np.array([[c, s], [-s, c]]) + np.array(pose[:2], dtype=float)
