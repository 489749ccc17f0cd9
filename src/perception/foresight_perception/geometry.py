"""Pinhole camera geometry for perception: pixels <-> rays <-> world points, per-pixel world
height, and the area a pixel covers on a horizontal surface. Pure numpy, no OpenCV, no rclpy.

Conventions: pixel (u, v) = (column, row) with pixel centres at integer coordinates (the ROS /
OpenCV convention the camera_info follows); the optical frame is REP 103 (z forward, x right,
y down); depth is z-depth in metres with NaN where the sensor has no reading (REP 118). Every
transform is a 4x4 homogeneous matrix `target_from_source` that maps points in `source` to
`target`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics (pixels) of a rectified image of `width` x `height`."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def valid(self) -> bool:
        """True when the numbers can describe a camera (finite, positive focal lengths, a
        principal point near the image); used to reject a garbled camera_info."""
        values = (self.fx, self.fy, self.cx, self.cy)
        return (all(math.isfinite(v) for v in values) and self.fx > 0 and self.fy > 0
                and self.width > 0 and self.height > 0
                and -self.width <= self.cx <= 2 * self.width
                and -self.height <= self.cy <= 2 * self.height)


def is_rigid_transform(matrix: np.ndarray, tolerance: float = 1e-3) -> bool:
    """A finite 4x4 matrix whose upper-left 3x3 is a rotation (orthonormal, det +1)."""
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        return False
    rotation = m[:3, :3]
    return (np.allclose(rotation @ rotation.T, np.eye(3), atol=tolerance)
            and abs(float(np.linalg.det(rotation)) - 1.0) < tolerance
            and np.allclose(m[3], (0.0, 0.0, 0.0, 1.0), atol=tolerance))


def normalized_rays(intrinsics: Intrinsics) -> np.ndarray:
    """(H, W, 3) float32 array of (x/z, y/z, 1) per pixel in the optical frame: multiplying
    by a z-depth gives the optical-frame point."""
    u = (np.arange(intrinsics.width, dtype=np.float32) - np.float32(intrinsics.cx)) \
        / np.float32(intrinsics.fx)
    v = (np.arange(intrinsics.height, dtype=np.float32) - np.float32(intrinsics.cy)) \
        / np.float32(intrinsics.fy)
    rays = np.empty((intrinsics.height, intrinsics.width, 3), dtype=np.float32)
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    rays[..., 2] = 1.0
    return rays


class PixelGrid:
    """Precomputed rays of one camera model, so that turning a depth image into world points
    costs one multiply-add per pixel (the grid is rebuilt only when the intrinsics change)."""

    def __init__(self, intrinsics: Intrinsics) -> None:
        self.intrinsics = intrinsics
        self.rays = normalized_rays(intrinsics)

    def world_points(self, depth: np.ndarray, world_from_optical: np.ndarray) -> np.ndarray:
        """(H, W, 3) float32 world points of every pixel; NaN where the depth is NaN."""
        rotation = np.asarray(world_from_optical[:3, :3], dtype=np.float32)
        translation = np.asarray(world_from_optical[:3, 3], dtype=np.float32)
        world_rays = self.rays @ rotation.T             # (H, W, 3): R (x/z, y/z, 1)
        points = world_rays * depth[..., None]
        points += translation
        return points


def deproject(u: np.ndarray, v: np.ndarray, depth: np.ndarray,
              intrinsics: Intrinsics) -> np.ndarray:
    """Optical-frame points (N, 3) of pixels (u, v) at z-depths `depth`."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    z = np.asarray(depth, dtype=float)
    return np.stack([(u - intrinsics.cx) / intrinsics.fx * z,
                     (v - intrinsics.cy) / intrinsics.fy * z, z], axis=-1)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points (..., 3)."""
    points = np.asarray(points, dtype=float)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def project(points_world: np.ndarray, intrinsics: Intrinsics,
            world_from_optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) (u, v) and z-depths (N,) of world points; points behind the
    camera get NaN pixels."""
    optical = transform_points(np.linalg.inv(world_from_optical), points_world)
    z = optical[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(z > 0, optical[..., 0] / z * intrinsics.fx + intrinsics.cx, np.nan)
        v = np.where(z > 0, optical[..., 1] / z * intrinsics.fy + intrinsics.cy, np.nan)
    return np.stack([u, v], axis=-1), z


def camera_position(world_from_optical: np.ndarray) -> np.ndarray:
    """World position of the camera's optical centre."""
    return np.asarray(world_from_optical[:3, 3], dtype=float).copy()


def pixel_area_on_horizontal(depth: np.ndarray | float, intrinsics: Intrinsics,
                             camera_height: float) -> np.ndarray | float:
    """World area (m^2) that one pixel covers on a horizontal surface seen at z-depth
    `depth`, for a camera whose optical centre is `camera_height` above that surface.

    The footprint of a pixel on a plane at perpendicular distance d from the centre is
    z^3 / (fx fy d) (solid angle of the pixel times range^2 over the incidence cosine); for a
    camera looking straight down d = z and this is the familiar (z / f)^2. Areas in m^2 make
    blob-size thresholds independent of resolution and distance.
    """
    d = np.maximum(np.asarray(camera_height, dtype=float), 1e-6)
    return np.asarray(depth, dtype=float) ** 3 / (intrinsics.fx * intrinsics.fy * d)


def pixel_pitch(depth: float, intrinsics: Intrinsics) -> float:
    """Lateral size (m) of one pixel at z-depth `depth` (geometric mean of both axes)."""
    return float(depth) / math.sqrt(intrinsics.fx * intrinsics.fy)


def depth_noise_sigma(depth: np.ndarray | float, sigma_at_1m: float) -> np.ndarray | float:
    """Standard deviation (m) of a structured-light depth reading, growing with z^2."""
    return sigma_at_1m * np.square(depth)


def wrap_angle(angle: float, period: float = 2.0 * math.pi) -> float:
    """`angle` folded into [-period / 2, period / 2): a yaw modulo the object's symmetry
    (pi / 2 for a square peg, pi for a slot, 2 pi for no symmetry)."""
    return float((angle + period / 2.0) % period - period / 2.0)


def yaw_of_axis(direction_xy: np.ndarray, period: float) -> float:
    """Yaw (rad) of a world xy direction, folded into the symmetry period."""
    return wrap_angle(math.atan2(float(direction_xy[1]), float(direction_xy[0])), period)


def rotated_rect_of_points(points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Minimum-area rectangle around 2-D points: (centre (2,), extents (2,) along the
    rectangle's own x and y axes, angle (rad) of its x axis). Rotating calipers over the
    convex hull: the optimal rectangle has a side on a hull edge. Pure numpy so that yaw
    conventions are ours (OpenCV's minAreaRect angle convention changed between versions).
    """
    pts = np.asarray(points_xy, dtype=float)
    if len(pts) == 0:
        raise ValueError("no points")
    return rectangle_of_hull(convex_hull(pts))


def rectangle_of_hull(hull: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """`rotated_rect_of_points` for points that are already a convex hull (any order)."""
    hull = np.asarray(hull, dtype=float)
    if len(hull) < 3:
        centre = (hull.min(axis=0) + hull.max(axis=0)) / 2.0
        if len(hull) == 2:
            delta = hull[1] - hull[0]
            return centre, np.array([float(np.hypot(*delta)), 0.0]), math.atan2(delta[1],
                                                                                   delta[0])
        return centre, np.zeros(2), 0.0
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), math.pi / 2.0))
    cos, sin = np.cos(angles), np.sin(angles)
    # hull points in every candidate frame: (n_angles, n_points)
    x = hull[:, 0][None, :] * cos[:, None] + hull[:, 1][None, :] * sin[:, None]
    y = -hull[:, 0][None, :] * sin[:, None] + hull[:, 1][None, :] * cos[:, None]
    widths = x.max(axis=1) - x.min(axis=1)
    heights = y.max(axis=1) - y.min(axis=1)
    best = int(np.argmin(widths * heights))
    a = float(angles[best])
    cx = (x[best].max() + x[best].min()) / 2.0
    cy = (y[best].max() + y[best].min()) / 2.0
    centre = np.array([cx * math.cos(a) - cy * math.sin(a), cx * math.sin(a) + cy * math.cos(a)])
    return centre, np.array([widths[best], heights[best]]), a


def convex_hull(points_xy: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise, no repeated end point) of 2-D points, monotone chain."""
    pts = np.unique(np.asarray(points_xy, dtype=float), axis=0)
    if len(pts) <= 2:
        return pts

    def half(sequence: np.ndarray) -> list[np.ndarray]:
        chain: list[np.ndarray] = []
        for p in sequence:
            while len(chain) >= 2:
                o, a = chain[-2], chain[-1]
                if (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0]) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower = half(pts)
    upper = half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def complete_rectangle(outline_xy: np.ndarray, hidden: np.ndarray,
                       expected: tuple[float, float], centre: np.ndarray,
                       extents: np.ndarray, angle: float, edge_band: float,
                       min_shortfall: float | None = None
                       ) -> tuple[np.ndarray, float, np.ndarray]:
    """Complete a partly hidden rectangle of known size.

    `centre`, `extents`, `angle` describe the rectangle around what is visible;
    `outline_xy` are the points of the visible outline and `hidden` marks those that border
    an occluder (or the image edge). Along each rectangle axis where the visible extent falls
    short of the expected one by more than `min_shortfall` (default `edge_band`), the side
    whose edge points (within `edge_band` of it) mostly border the occluder is the hidden
    one: the centre moves half the shortfall towards it. If both sides (or neither) look
    hidden, the centre stays and the shortfall is reported as unresolved. Returns (centre,
    angle of the object's x axis, unresolved half-shortfall per object axis); the object's x
    axis is whichever rectangle axis fits `expected[0]` best without exceeding it.
    """
    ext = np.asarray(extents, dtype=float)
    exp = np.asarray(expected, dtype=float)
    # assign rectangle axes to object axes: the assignment needing the least overshoot, then
    # the least shortfall
    straight = (np.clip(ext - exp, 0, None).sum(), np.clip(exp - ext, 0, None).sum())
    swapped = (np.clip(ext[::-1] - exp, 0, None).sum(),
               np.clip(exp - ext[::-1], 0, None).sum())
    if swapped < straight:
        ext = ext[::-1]
        angle = angle + math.pi / 2.0
    axes = np.array([[math.cos(angle), math.sin(angle)],
                     [-math.sin(angle), math.cos(angle)]])     # rows: object x, y in world
    outline = np.asarray(outline_xy, dtype=float).reshape(-1, 2)
    hidden = np.asarray(hidden, dtype=bool).reshape(-1)
    local = (outline - centre) @ axes.T if len(outline) else np.zeros((0, 2))
    new_centre = np.asarray(centre, dtype=float).copy()
    unresolved = np.zeros(2)
    threshold = edge_band if min_shortfall is None else min_shortfall
    for i in range(2):
        short = exp[i] - ext[i]
        if short <= threshold:
            continue
        shares = []
        for sign in (1.0, -1.0):
            edge = sign * local[:, i] >= ext[i] / 2.0 - edge_band
            shares.append(float(hidden[edge].mean()) if edge.any() else 0.0)
        high, low = shares
        if max(high, low) >= 0.3 and min(high, low) <= 0.5 * max(high, low):
            new_centre += axes[i] * (short / 2.0 if high > low else -short / 2.0)
        else:
            unresolved[i] = short / 2.0
    return new_centre, angle, unresolved
