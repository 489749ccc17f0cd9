"""Where the furniture really stands: a chair pushed aside or a table moved a few centimetres
is not where the room file has it. The base scanner's plane cuts a table's or chair's legs,
a bedside table's sides; fitting that outline to the scan (a small ICP: point to nearest
outline point, rigid 2D update, outliers trimmed) gives the piece's pose, so the arm plans
around the table that is there. A fit that does not explain the scan well, or that moves a
piece implausibly far, is not used (the room file's pose stands). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from foresight_common.room_layout import Furniture, furniture_parts


@dataclass(frozen=True)
class FitConfig:
    search_m: float = 0.30        # scan points this near the mapped outline may be the piece
    min_points: int = 6           # fewer hits than this: nothing to fit
    iterations: int = 20
    trim_m: float = 0.05          # matches farther than this (after the first passes) are
    #                               something else (a person's legs beside the table)
    max_rms_m: float = 0.02       # a fit that leaves more than this is not believed
    max_shift_m: float = 0.30     # nor one that moves a piece farther ...
    max_turn_rad: float = math.radians(20.0)  # ... or turns it more than this
    outline_step_m: float = 0.01  # spacing of the outline's points


@dataclass(frozen=True)
class FitResult:
    furniture: Furniture          # the piece where the scan has it
    shift_m: float                # how far its centre moved from the room file's
    turn_rad: float               # how far it turned
    rms_m: float                  # residual of the matched scan points
    points: int                   # scan points matched


def outline_at(piece: Furniture, z: float, step: float = 0.01) -> np.ndarray:
    """Points (n, 2) along the outline of the piece's cross-section at height `z`, in its own
    frame: the perimeter of every part (leg, panel, block) that reaches through `z`."""
    out = []
    for _name, centre, half in furniture_parts(piece):
        if abs(z - centre[2]) > half[2]:
            continue
        cx, cy = centre[0], centre[1]
        hx, hy = half[0], half[1]
        nx = max(2, int(math.ceil(2 * hx / step)) + 1)
        ny = max(2, int(math.ceil(2 * hy / step)) + 1)
        xs = np.linspace(cx - hx, cx + hx, nx)
        ys = np.linspace(cy - hy, cy + hy, ny)
        out.append(np.stack([xs, np.full(nx, cy - hy)], axis=1))
        out.append(np.stack([xs, np.full(nx, cy + hy)], axis=1))
        out.append(np.stack([np.full(ny, cx - hx), ys], axis=1))
        out.append(np.stack([np.full(ny, cx + hx), ys], axis=1))
    return np.vstack(out) if out else np.zeros((0, 2))


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def fit_piece(piece: Furniture, points: np.ndarray, z: float,
              config: FitConfig = FitConfig()) -> FitResult | None:
    """The pose of `piece` that best explains the scan `points` (n, 2, map frame) taken at
    height `z`; None when too few points fall near it or the fit is not believable."""
    return _fit_outline(piece, outline_at(piece, z, config.outline_step_m), points, config)


def _fit_outline(piece: Furniture, outline: np.ndarray, points: np.ndarray,
                 config: FitConfig) -> FitResult | None:
    """`fit_piece` for an outline (n, 2) given in the piece's own frame."""
    if not len(outline) or not len(points):
        return None
    centre = np.asarray(piece.center, dtype=float)
    # everything in the piece's mapped frame: the fit is a correction (R, t) to it
    local = (np.asarray(points, dtype=float) - centre) @ _rotation(piece.yaw)
    tree = cKDTree(outline)
    distance, _ = tree.query(local, distance_upper_bound=config.search_m)
    candidates = local[np.isfinite(distance)]
    if len(candidates) < config.min_points:
        return None
    rotation, translation = np.eye(2), np.zeros(2)
    matched = candidates
    for k in range(config.iterations):
        # scan points in the outline's (moved) frame: p_outline = R^T (p - t)
        moved = (candidates - translation) @ rotation
        distance, index = tree.query(moved)
        limit = config.search_m if k < 3 else config.trim_m
        keep = distance <= limit
        if keep.sum() < config.min_points:
            return None
        scan_pts, model_pts = candidates[keep], outline[index[keep]]
        # rigid fit model -> scan (Kabsch in 2D)
        mean_s, mean_m = scan_pts.mean(axis=0), model_pts.mean(axis=0)
        cov = (model_pts - mean_m).T @ (scan_pts - mean_s)
        u, _, vt = np.linalg.svd(cov)
        step = vt.T @ u.T
        if np.linalg.det(step) < 0:
            vt[-1] *= -1
            step = vt.T @ u.T
        rotation = step
        translation = mean_s - mean_m @ step.T
        matched = scan_pts
    moved = (matched - translation) @ rotation
    residual, _ = tree.query(moved)
    rms = float(np.sqrt(np.mean(residual ** 2)))
    turn = math.atan2(rotation[1, 0], rotation[0, 0])
    shift = float(np.linalg.norm(translation))
    if rms > config.max_rms_m or shift > config.max_shift_m or abs(turn) > config.max_turn_rad:
        return None
    world_shift = _rotation(piece.yaw) @ translation
    fitted = replace(piece, center=(float(centre[0] + world_shift[0]),
                                    float(centre[1] + world_shift[1])),
                     yaw=piece.yaw + turn)
    return FitResult(fitted, shift, turn, rms, len(matched))


def fit_furniture(furniture: list[Furniture] | tuple[Furniture, ...], points: np.ndarray,
                  z: float, config: FitConfig = FitConfig()
                  ) -> tuple[list[Furniture], dict[str, FitResult]]:
    """Every piece where the scan has it (as mapped where the scan cannot tell), and the fit
    of each piece that moved."""
    out, fits = [], {}
    for piece in furniture:
        fit = fit_piece(piece, points, z, config)
        if fit is None:
            out.append(piece)
        else:
            out.append(fit.furniture)
            fits[piece.name] = fit
    return out, fits


def room_shell(size: tuple[float, float], step: float = 0.01) -> tuple[Furniture, np.ndarray]:
    """The room's walls as a piece to fit (centre of the floor, yaw 0) and their inner
    outline in its frame: where the walls are found tells how far the base's pose is off."""
    sx, sy = size
    shell = Furniture(name="walls", kind="block", center=(sx / 2.0, sy / 2.0), yaw=0.0,
                      size=(sx, sy, 1.0), colour=(0.0, 0.0, 0.0, 1.0))
    return shell, outline_at(shell, 0.5, step)


class FurnitureEstimate:
    """The furniture as last seen: each piece at its latest believable fit, as the room file
    has it until one comes (a piece hidden from one scan keeps the pose an earlier one
    gave). Fits start from the room file's pose each time, so an error does not creep.
    With the room's `size`, a scan is used only when the walls come out where they are
    (within `pose_tolerance_m`): a base pose that is off would move every piece with it."""

    def __init__(self, furniture: list[Furniture] | tuple[Furniture, ...],
                 size: tuple[float, float] | None = None, config: FitConfig = FitConfig(),
                 pose_tolerance_m: float = 0.03) -> None:
        self.nominal = tuple(furniture)
        self.config = config
        self.shell = room_shell(size, config.outline_step_m) if size is not None else None
        self.pose_tolerance_m = pose_tolerance_m
        self.fits: dict[str, FitResult] = {}
        self.refused = ""          # why the last scan was not used ("" if it was)

    def update(self, points: np.ndarray, z: float) -> dict[str, FitResult]:
        """Fold in a scan (n, 2, map frame, taken at height `z`); returns the new fits."""
        if self.shell is not None:
            walls = _fit_outline(*self.shell, points, self.config)
            if walls is None or walls.shift_m > self.pose_tolerance_m or \
                    abs(walls.turn_rad) > self.pose_tolerance_m:
                self.refused = ("the walls do not come out where they are (the base's pose "
                                "is off: " + ("no fit" if walls is None else
                                             f"{walls.shift_m * 100:.0f} cm, "
                                             f"{math.degrees(walls.turn_rad):.1f} deg") + ")")
                return {}
        self.refused = ""
        _, fits = fit_furniture(self.nominal, points, z, self.config)
        self.fits.update(fits)
        return fits

    def current(self) -> list[Furniture]:
        return [self.fits[f.name].furniture if f.name in self.fits else f
                for f in self.nominal]
