"""A depth image as a horizontal "virtual scan" of the base, as a laser would see the room:
the pixels' points in base_link between shin and head height, off the robot's own
footprint and arm (foresight_common.self_filter), and per half-degree of bearing only the
nearest (walls, the near sides and edges of furniture, clutter, people). Used by
localisation (matched to the room's outlines) and by navigation (its live obstacle layer).
No rclpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from foresight_common.conversions import image_to_numpy, time_to_sec
from foresight_common.mobile_manipulator import BASE_LINK
from foresight_common.self_filter import outside_capsules

#: Points between these heights (m above the floor) make the virtual scan: above the floor
#: and thresholds, below what a room's upper walls share with every other room.
SCAN_MIN_Z = 0.15
SCAN_MAX_Z = 2.0
#: Points over the base's footprint (half extents in base_link, m, with 3 cm margin) are
#: the robot itself: the base, its column and mast, the tucked arm. (A radius around
#: base_link would also cut the surfaces the robot parks in front of: a shelf 0.4 m ahead.)
SELF_HALF_EXTENTS = (0.38, 0.28)
MAX_RANGE = 5.0


@dataclass(frozen=True)
class ScanConfig:
    stride: int = 2                   # use every stride-th pixel in each direction
    bearing_step: float = math.radians(0.5)   # one scan point per this much bearing
    # A second point per bearing, the nearest above this height (m; None: none): above the
    # room's movable furniture only walls and tall fixed furniture reach, so localisation
    # sees the wall behind a table the nearest point (the table's edge) hides.
    upper_min_z: float | None = None


def virtual_scan(depth: np.ndarray, intrinsics: tuple[float, float, float, float],
                 camera_in_base: np.ndarray, config: ScanConfig = ScanConfig(),
                 arm: tuple[np.ndarray, np.ndarray, float] | None = None) -> np.ndarray:
    """(n, 2) points in base_link from a depth image (metres, NaN = no reading) whose
    optical frame sits at `camera_in_base` (4 x 4); `arm`: the arm's capsules (starts,
    ends, radius in base_link, foresight_common.self_filter) whose points are the robot's."""
    return _scan(depth, intrinsics, camera_in_base, config, arm)[0]


def _scan(depth: np.ndarray, intrinsics: tuple[float, float, float, float],
          camera_in_base: np.ndarray, config: ScanConfig,
          arm: tuple[np.ndarray, np.ndarray, float] | None) -> tuple[np.ndarray, float]:
    """virtual_scan's points and the share of the in-band points that were the arm's."""
    fx, fy, cx, cy = intrinsics
    s = config.stride
    z = depth[::s, ::s].astype(np.float64)
    rows, cols = np.mgrid[0:depth.shape[0]:s, 0:depth.shape[1]:s]
    valid = np.isfinite(z) & (z > 0.1) & (z < MAX_RANGE)
    z, u, v = z[valid], cols[valid], rows[valid]
    optical = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z, np.ones_like(z)])
    base = (camera_in_base @ optical)[:3].T
    on_robot = (np.abs(base[:, 0]) <= SELF_HALF_EXTENTS[0]) & (
        np.abs(base[:, 1]) <= SELF_HALF_EXTENTS[1])
    keep = (base[:, 2] > SCAN_MIN_Z) & (base[:, 2] < SCAN_MAX_Z) & ~on_robot
    in_band = int(np.count_nonzero(keep))
    if arm is not None:
        starts, ends, radius = arm
        low = np.minimum(starts, ends).min(axis=0) - radius
        high = np.maximum(starts, ends).max(axis=0) + radius
        near = keep & np.all((base >= low) & (base <= high), axis=1)  # only these can be
        keep[near] = outside_capsules(base[near], starts, ends, radius)
    arm_share = 1.0 - np.count_nonzero(keep) / in_band if in_band else 0.0
    nearest = _nearest_per_bearing(base, np.flatnonzero(keep), config.bearing_step)
    if config.upper_min_z is not None:
        upper = _nearest_per_bearing(
            base, np.flatnonzero(keep & (base[:, 2] > config.upper_min_z)),
            config.bearing_step)
        # only where something lower stands in front of it (else it is the same wall point)
        nearest = np.concatenate([nearest, upper[~np.isin(upper, nearest)]])
    return base[nearest, :2], arm_share


def _nearest_per_bearing(base: np.ndarray, candidates: np.ndarray,
                         bearing_step: float) -> np.ndarray:
    """Indices into the (n, 3) points `base` (base_link) of the nearest of `candidates`
    (indices) per `bearing_step` of bearing."""
    if candidates.size == 0:
        return candidates
    flat = base[candidates, :2]
    bins = np.floor(np.arctan2(flat[:, 1], flat[:, 0]) / bearing_step).astype(np.int64)
    ranges = np.hypot(flat[:, 0], flat[:, 1])
    order = np.lexsort((ranges, bins))           # by bin, nearest first
    return candidates[order[np.r_[True, bins[order][1:] != bins[order][:-1]]]]


class DepthScan(NamedTuple):
    points: np.ndarray        # (n, 2) in base_link
    fov: float                # the camera's horizontal field of view (rad)
    arm_share: float          # share of the in-band points that were the robot's arm


def scan_from_depth_message(msg, info, mounts, config: ScanConfig = ScanConfig(),
                            arm: tuple[np.ndarray, np.ndarray, float] | None = None
                            ) -> DepthScan:
    """The virtual scan (base_link) of a sensor_msgs/Image depth frame with its CameraInfo,
    the camera's mounting looked up in `mounts` (a TransformBuffer holding it); `arm` as in
    virtual_scan. Raises ValueError with the reason (size mismatch, wrong encoding, no
    mounting)."""
    if (info.width, info.height) != (msg.width, msg.height):
        raise ValueError("no camera_info of this image size yet")
    depth = image_to_numpy(msg, expected=("32FC1",))
    try:
        camera = mounts.lookup(BASE_LINK, msg.header.frame_id, time_to_sec(msg.header.stamp))
    except LookupError as exc:
        raise ValueError(f"no camera mounting: {exc}") from exc
    fx, fy, cx, cy = info.k[0], info.k[4], info.k[2], info.k[5]
    points, arm_share = _scan(depth, (fx, fy, cx, cy), camera, config, arm)
    return DepthScan(points, 2.0 * math.atan(info.width / (2.0 * fx)), arm_share)
