"""Head-camera views of the simulated room at chosen base poses, for offline tools and tests
(perception checks and benchmarks): a free pose facing a point, the rendered RGB-D frame with
the family's camera noise and its camera pose, and whether a point is in the image. They
read the simulation (ground truth); no online node may use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import mujoco
import numpy as np

from foresight_common.conversions import homogeneous
from foresight_common.occupancy import room_map
from foresight_simulation.scene import apply_camera_noise


@dataclass(frozen=True)
class HeadView:
    rgb: np.ndarray                      # (H, W, 3) uint8
    depth: np.ndarray                    # (H, W) float32 m, NaN without a reading
    intrinsics: tuple[float, float, float, float]   # fx, fy, cx, cy
    world_from_optical: np.ndarray       # (4, 4)


def truth(room) -> dict[str, np.ndarray]:
    """True positions of the room's objects and the person's keypoints (person/<name>)."""
    return {o.name: np.array(o.position) for o in room.ground_truth()
            if o.kind == "object" or o.name.startswith("person/")}


def render_view(room, pose: Sequence[float], rng: np.random.Generator,
                size: tuple[int, int] = (320, 240)) -> HeadView:
    """The head camera's frame with the base at `pose` (x, y, yaw), the family's camera
    noise applied."""
    room.data.qpos[room.base_qpos] = pose
    mujoco.mj_forward(room.model, room.data)
    renderer = mujoco.Renderer(room.model, size[1], size[0])
    rgb, depth = room.render_rgbd(renderer)
    renderer.close()
    rgb, depth = apply_camera_noise(rgb, depth, room.params.camera_noise, rng)
    position, quat = room.camera_pose()
    return HeadView(rgb, depth.astype(np.float32), room.camera_intrinsics(*size),
                    homogeneous(position, quat))


def in_view(view: HeadView, point: Sequence[float], margin_px: int) -> bool:
    """Whether a world point projects into the frame, `margin_px` inside its edges."""
    optical = np.linalg.inv(view.world_from_optical) @ np.append(np.asarray(point), 1.0)
    if optical[2] <= 0.1:
        return False
    fx, fy, cx, cy = view.intrinsics
    height, width = view.depth.shape
    u, v = fx * optical[0] / optical[2] + cx, fy * optical[1] / optical[2] + cy
    return margin_px <= u < width - margin_px and margin_px <= v < height - margin_px


def facing_pose(room, target: Sequence[float], distance: float,
                directions: int = 24) -> tuple[float, float, float] | None:
    """A base pose `distance` m from `target` (xy) facing it, free of furniture with nothing
    on the floor between (the first of `directions` that works), or None."""
    grid = room_map(room.layout)
    for k in range(directions):
        a = 2.0 * math.pi * k / directions
        xy = np.asarray(target[:2]) + distance * np.array([math.cos(a), math.sin(a)])
        line = np.linspace(xy, target[:2], 30)[:-8]
        if grid.clearance(*xy) > 0.5 and np.all(grid.clearance_at(line) > 0.05):
            return (float(xy[0]), float(xy[1]), a + math.pi)
    return None


@dataclass
class ViewStats:
    """What a detector made of head-camera views of one or more rooms, judged by the truth:
    objects found within `MATCH_M` of their true place, missed (in view, none near), false
    (a detection farther than `MATCH_M` from every true object of its class); people found
    with the torso within `TORSO_M` across, the head's error where it is reported."""
    views: int = 0
    object_errors: list[np.ndarray] = field(default_factory=list)   # detected - true
    missed: list[tuple] = field(default_factory=list)
    false: list[tuple] = field(default_factory=list)
    person_views: int = 0
    person_found: int = 0
    head_errors: list[float] = field(default_factory=list)

    MATCH_M = 0.05
    TORSO_M = 0.10

    def summary(self) -> dict:
        across = np.array([np.linalg.norm(e[:2]) for e in self.object_errors])
        found, missed = len(across), len(self.missed)
        return {
            "views": self.views, "objects_found": found, "objects_missed": missed,
            "recall": found / (found + missed) if found + missed else None,
            "false": len(self.false),
            "error_across_m": None if not found else {
                "p50": float(np.median(across)), "p95": float(np.percentile(across, 95)),
                "max": float(across.max())},
            "height_error_max_m": None if not found else float(
                max(abs(e[2]) for e in self.object_errors)),
            "person_views": self.person_views, "person_found": self.person_found,
            "head_error_p50_m": float(np.median(self.head_errors)) if self.head_errors
            else None}


def _look_at(room, name: str, distance: float, rng: np.random.Generator, detect):
    """Face `name` from `distance`, render the view and detect in it: (pose, view, the
    truth at that moment, detect's result), or None when no free pose faces it."""
    pose = facing_pose(room, truth(room)[name], distance)
    if pose is None:
        return None
    view = render_view(room, pose, rng)
    return pose, view, truth(room), detect(view)


def measure_views(room, detect, rng: np.random.Generator, stats: ViewStats,
                  object_distances: Sequence[float] = (1.0, 1.4),
                  person_distances: Sequence[float] = (1.4, 2.0, 2.6)) -> ViewStats:
    """Look at each task object and at the person from the given distances; `detect(view)`
    returns (objects as (label, position), people as {keypoint: position})."""
    for name in sorted(o.name for o in room.ground_truth() if o.kind == "object"):
        for distance in object_distances:
            seen = _look_at(room, name, distance, rng, detect)
            if seen is None:
                continue
            pose, view, now, (objects, _) = seen
            stats.views += 1
            stats.false += [(label, tuple(p)) for label, p in objects
                            if np.linalg.norm(np.asarray(p) - now[label]) > stats.MATCH_M]
            if not in_view(view, now[name], margin_px=10):
                continue
            mine = [np.asarray(p) for label, p in objects if label == name
                    and np.linalg.norm(np.asarray(p) - now[name]) <= stats.MATCH_M]
            if mine:
                stats.object_errors.append(mine[0] - now[name])
            else:
                stats.missed.append((name, pose))
    for distance in person_distances:
        seen = _look_at(room, "person/torso", distance, rng, detect)
        if seen is None:
            continue
        _pose, _view, now, (_, people) = seen
        stats.person_views += 1
        if len(people) == 1 and "torso" in people[0] and np.linalg.norm(
                np.asarray(people[0]["torso"])[:2] - now["person/torso"][:2]) < stats.TORSO_M:
            stats.person_found += 1
            if "head" in people[0]:
                stats.head_errors.append(float(np.linalg.norm(
                    np.asarray(people[0]["head"]) - now["person/head"])))
    return stats
