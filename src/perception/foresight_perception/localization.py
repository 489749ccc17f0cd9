"""Localisation of the mobile base against the known room map, from the head camera's depth
(no rclpy). Each depth frame becomes a horizontal "virtual scan"
(foresight_common.depth_scan: per half-degree of bearing the nearest point, i.e. walls and
the near sides and edges of furniture, what a footprint map's outlines show). The base
pose in the map is the one that puts those points onto the map's outlines: Gauss-Newton on
(x, y, yaw) over the distance field of the outlines, with a Huber weight so that what the
map does not know (a person, a moved chair) pulls little. The outlines are the room's line
segments (walls, furniture footprints) taken exactly from the layout, not a grid: a 5 cm
grid's cell centres sit 2.5 cm inside every surface, which biases the fit. Odometry
predicts; the match corrects; `map -> odom` carries the correction.

The estimate is accepted only with enough points, a small mean residual and a correction
that odometry's drift can explain; otherwise odometry alone carries on (and says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from foresight_common.room_layout import RoomLayout


@dataclass(frozen=True)
class LocalizerConfig:
    huber: float = 0.05               # m: residuals beyond count linearly
    iterations: int = 10
    min_points: int = 40
    min_inlier_share: float = 0.5     # of the scan's points within 3 Huber widths of the map
    # ... of them this many on walls or fixed furniture: a view of a table alone (0-6 of
    # ~190 points elsewhere) fits the room file's table, and a table moved 9 cm put the
    # base 10 cm off (home_train seeds 0 and 4: the box's pick aimed 8-10 cm short)
    min_fixed_points: int = 15
    # ... and in a direction those points do not pin down (facing a wall, the position along
    # it), movable furniture does not move the pose: that part of each step is dropped and
    # odometry holds it (degeneracy-aware Gauss-Newton, as Zhang, Kaess and Singh, ICRA
    # 2016). A direction counts as pinned with this many fixed points' worth of information
    # along it. Facing a table moved 8 cm sideways with the wall behind it in view, the
    # match put the base 9.6 cm off along the wall (home_train seed 4; the pick then aims
    # that far off, as home_train cup seed 1 did)
    min_fixed_information_points: float = 8.0
    # ... while odometry is still good there: within this far driven since the last accepted
    # match (its drift, 1-3 % of the way, stays below the 5-25 cm people move furniture by).
    # Before the first match, or after a longer stretch without one, the furniture may move
    # the pose in those directions too.
    odometry_holds_within_m: float = 2.0
    max_mean_residual: float = 0.06   # m, of the points' distance to the nearest obstacle
    max_correction: float = 0.5       # m from the odometry prediction (the first match)
    max_yaw_correction: float = 0.35  # rad
    # After a match, what odometry can have drifted since: a base allowance plus a share of
    # the motion (wheel odometry is off by 1-3 %; a wrong minimum of the match is often
    # 0.2-0.5 m away and must not be taken for drift)
    correction_base: float = 0.10     # m
    correction_per_m: float = 0.08    # m per m driven since the last accepted match
    yaw_correction_base: float = 0.08     # rad
    yaw_correction_per_rad: float = 0.08  # rad per rad turned since
    # The odometry prediction as a prior: what the view does not constrain (facing a flat
    # shelf, the position along it) stays where odometry puts it instead of drifting.
    point_sigma: float = 0.03         # m, a scan point's distance to its outline
    prior_sigma_xy: float = 0.10      # m
    prior_sigma_yaw: float = 0.05     # rad


@dataclass(frozen=True)
class Match:
    pose: tuple[float, float, float]  # map -> base_link (x, y, yaw)
    points: int
    mean_residual: float              # m
    accepted: bool
    reason: str                       # why not accepted ("" when accepted)
    covariance: tuple[float, float, float]   # variances of x, y, yaw


def _transform(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return points @ np.array([[c, s], [-s, c]]) + pose[:2]


#: Furniture that stays where the layout says (it stands against a wall); tables, chairs
#: and the like get moved about in a home, so their outlines count for less in a match.
FIXED_FURNITURE = ("shelf", "bed")
MOVABLE_WEIGHT = 0.3


def map_outline(layout: RoomLayout) -> tuple[np.ndarray, np.ndarray]:
    """(m, 2, 2) line segments of the known room (the walls' inner faces and every piece of
    furniture's footprint) and each segment's trust: 1 for walls and wall furniture,
    MOVABLE_WEIGHT for furniture that people move."""
    sx, sy = layout.size
    polygons = [([(0.0, 0.0), (sx, 0.0), (sx, sy), (0.0, sy)], 1.0)] + [
        (f.footprint(), 1.0 if f.kind in FIXED_FURNITURE else MOVABLE_WEIGHT)
        for f in layout.furniture]
    segments = [(poly[i], poly[(i + 1) % len(poly)]) for poly, _ in polygons
                for i in range(len(poly))]
    trust = [w for poly, w in polygons for _ in range(len(poly))]
    return np.array(segments, dtype=float), np.array(trust, dtype=float)


def pinned_part(step_xy: np.ndarray, jac_xy: np.ndarray, weight: np.ndarray,
                min_points: float) -> np.ndarray:
    """`step_xy` without its component along the directions the fixed points (their
    distance gradients `jac_xy`, Huber weights `weight`) do not pin down: less than
    `min_points` unit-gradient points' worth of information (the eigenvectors of their
    2 x 2 normal matrix with a smaller eigenvalue)."""
    information = (jac_xy * weight[:, None]).T @ jac_xy
    values, vectors = np.linalg.eigh(information)
    out = np.asarray(step_xy, dtype=float).copy()
    for value, vector in zip(values, vectors.T, strict=True):
        if value < min_points:
            out -= float(out @ vector) * vector
    return out


class ScanMatcher:
    """Matches virtual scans to the outline segments of one room."""

    def __init__(self, outline: tuple[np.ndarray, np.ndarray],
                 config: LocalizerConfig = LocalizerConfig()) -> None:
        segments, self.trust = outline
        self.a = segments[:, 0, :]
        self.ab = segments[:, 1, :] - segments[:, 0, :]
        self.length2 = np.maximum(np.sum(self.ab ** 2, axis=1), 1e-12)
        self.config = config

    def distances(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distance (m) of each point to the nearest outline segment, the unit vector from
        that segment's nearest point to the point (the distance's gradient) and the
        segment's trust."""
        rel = xy[:, None, :] - self.a[None, :, :]
        t = np.clip(np.einsum("nmk,mk->nm", rel, self.ab) / self.length2, 0.0, 1.0)
        offset = rel - t[:, :, None] * self.ab[None, :, :]
        dist = np.linalg.norm(offset, axis=2)
        nearest = np.argmin(dist, axis=1)
        rows = np.arange(len(xy))
        d = dist[rows, nearest]
        gradient = offset[rows, nearest] / np.maximum(d, 1e-9)[:, None]
        return d, gradient, self.trust[nearest]

    def match(self, scan: np.ndarray, prior: tuple[float, float, float],
              since_last: tuple[float, float] | None = None) -> Match:
        """Refine `prior` (map -> base_link from odometry and the last correction) so the
        scan's points land on the map's obstacles. `since_last` (m driven, rad turned since
        the last accepted match; None before the first) bounds the correction odometry can
        explain, and says whether odometry holds the directions the fixed points leave open
        (`odometry_holds_within_m`)."""
        cfg = self.config
        max_shift, max_turn = cfg.max_correction, cfg.max_yaw_correction
        if since_last is not None:
            max_shift = min(max_shift, cfg.correction_base + cfg.correction_per_m *
                            since_last[0])
            max_turn = min(max_turn, cfg.yaw_correction_base + cfg.yaw_correction_per_rad *
                           since_last[1])
        pose = np.array(prior, dtype=float)
        if len(scan) < cfg.min_points:
            return Match(tuple(pose), len(scan), math.inf, False,
                         f"{len(scan)} scan points (need {cfg.min_points})", (1.0, 1.0, 1.0))
        hessian = np.eye(3)
        odometry_holds = since_last is not None and \
            since_last[0] <= cfg.odometry_holds_within_m
        prior_info = np.diag([cfg.prior_sigma_xy ** -2, cfg.prior_sigma_xy ** -2,
                              cfg.prior_sigma_yaw ** -2])
        for _ in range(cfg.iterations):
            world = _transform(scan, pose)
            r, gradient, trust = self.distances(world)
            gx, gy = gradient[:, 0], gradient[:, 1]
            c, s = math.cos(pose[2]), math.sin(pose[2])
            # d(world)/d(yaw) for each point
            dwx = -s * scan[:, 0] - c * scan[:, 1]
            dwy = c * scan[:, 0] - s * scan[:, 1]
            jac = np.stack([gx, gy, gx * dwx + gy * dwy], axis=1)
            weight = trust * np.where(np.abs(r) <= cfg.huber, 1.0,
                                      cfg.huber / np.maximum(np.abs(r), 1e-9))
            off_prior = pose - np.asarray(prior, dtype=float)
            off_prior[2] = math.remainder(off_prior[2], 2 * math.pi)
            hessian = (jac * weight[:, None]).T @ jac / cfg.point_sigma ** 2 + prior_info
            gradient = (jac * weight[:, None]).T @ r / cfg.point_sigma ** 2 + \
                prior_info @ off_prior
            step = -np.linalg.solve(hessian, gradient)
            if odometry_holds:
                on_fixed = (trust >= 1.0) & (np.abs(r) <= 3 * cfg.huber)
                step[:2] = pinned_part(step[:2], jac[on_fixed, :2], weight[on_fixed],
                                       cfg.min_fixed_information_points)
            step[:2] = np.clip(step[:2], -0.1, 0.1)
            step[2] = float(np.clip(step[2], -0.1, 0.1))
            pose += step
            if np.linalg.norm(step[:2]) < 1e-4 and abs(step[2]) < 1e-4:
                break
        residual, _, trust = self.distances(_transform(scan, pose))
        inliers = np.abs(residual) <= 3 * cfg.huber
        fixed = int(np.sum(inliers & (trust >= 1.0)))
        mean = float(np.mean(np.abs(residual[inliers]))) if inliers.any() else math.inf
        shift = math.dist(pose[:2], prior[:2])
        turn = abs(math.remainder(pose[2] - prior[2], 2 * math.pi))
        reason = ""
        if inliers.sum() < max(cfg.min_points, cfg.min_inlier_share * len(scan)):
            reason = f"{int(inliers.sum())} of {len(scan)} points on the map's obstacles"
        elif fixed < cfg.min_fixed_points:
            reason = f"{fixed} points on walls or fixed furniture (need " \
                     f"{cfg.min_fixed_points}): the view is of furniture that gets moved"
        elif mean > cfg.max_mean_residual:
            reason = f"mean residual {mean:.3f} m"
        elif shift > max_shift or turn > max_turn:
            reason = f"correction {shift:.2f} m / {math.degrees(turn):.0f} deg is more than " \
                     "odometry drifts"
        try:
            cov = np.linalg.inv(hessian)
            variances = (float(cov[0, 0]), float(cov[1, 1]), float(cov[2, 2]))
        except np.linalg.LinAlgError:
            variances = (1.0, 1.0, 1.0)
        pose[2] = math.remainder(pose[2], 2 * math.pi)
        return Match((float(pose[0]), float(pose[1]), float(pose[2])), int(inliers.sum()),
                     mean, reason == "", reason, variances)
