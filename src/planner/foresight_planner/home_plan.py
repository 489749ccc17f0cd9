"""The home-care planner's geometry, without rclpy: where the mobile base stands so the arm
reaches a spot on a surface, where a carried object is set down, where the gripper holds an
object, and which track is the task's object. The room's known layout (the map) is an
input; simulation ground truth never is.

Conventions (foresight_common.mobile_manipulator): base_link is the footprint's centre,
x forward; the arm's base sits `arm_ahead_m` ahead of it. A stand pose faces the surface's
edge square on, `standoff_m` from it, so the 0.70 m footprint keeps a hand's width from the
furniture and the arm reaches over the edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from foresight_common.cell_layout import load_yaml_mapping
from foresight_common.mobile_manipulator import ARM_MOUNT_XYZ, BASE_FOOTPRINT, ROBOT_RADIUS
from foresight_common.occupancy import OccupancyMap
from foresight_common.planar import Pose2D
from foresight_common.room_layout import RoomLayout, Surface, rotate_xy
from foresight_planner.assembly_plan import tool_down_quat
from foresight_planner.decisions import TrackedObject


class HomePlanError(ValueError):
    """A task step that cannot be planned, with the reason a person can act on."""


@dataclass(frozen=True)
class HomePlanConfig:
    standoff_m: float = 0.50          # base centre to the surface's edge, at least
    max_standoff_m: float = 0.65      # ... at most, stepping out to keep the nav clearance
    goal_clearance_m: float = ROBOT_RADIUS + 0.03   # navigation's radius + grid slack
    reach_m: float = 0.60             # arm base to a target, horizontally, at most
    edge_inset_m: float = 0.12        # a set-down spot's centre inside the surface's edge
    side_margin_m: float = 0.05       # a stand pose's foot point inside the edge's ends
    footprint_clearance_m: float = 0.04   # the footprint kept from the known map
    grasp_below_top_m: float = 0.03   # TCP below an object's top when grasped
    place_drop_m: float = 0.005       # an object's bottom above the surface when released
    spot_clearance_m: float = 0.10    # a set-down spot kept from other tracked objects
    surface_margin_m: float = 0.05    # a track counts as on a surface this far beyond it
    surface_height_tolerance_m: float = 0.08   # ... and its bottom this near the top
    # base centre to the target along the stand's heading (0: `standoff_m` from the edge)
    object_distance_m: float = 0.0
    # on a shelf's board the board above leaves no room for a top grasp: the hand leans
    # into the shelf by this much, straight ahead, and the base stands this far from the
    # object (the arm's way in and out: measured in simulation on the training family,
    # 10 of 10 remotes picked, folded and set down from 0.76 m, 28 of 30 with the base 1-2
    # cm off; 4 of 10 from 0.58 m off the board's edge with the arm's first solution)
    shelf_tilt_rad: float = math.radians(45.0)
    shelf_object_distance_m: float = 0.76


@dataclass(frozen=True)
class StandPose:
    pose: Pose2D                      # base_link in map
    target_xy: tuple[float, float]    # what the arm reaches from there
    reach_m: float                    # arm base to target, horizontally


def arm_base_xy(pose: Pose2D) -> tuple[float, float]:
    x, y, yaw = pose
    return (x + math.cos(yaw) * ARM_MOUNT_XYZ[0], y + math.sin(yaw) * ARM_MOUNT_XYZ[0])


def footprint_free(grid: OccupancyMap, pose: Pose2D, clearance: float) -> bool:
    """The base's footprint at `pose`, grown by `clearance`, touches nothing in `grid`
    (sampled every 5 cm over the rectangle)."""
    half_x = BASE_FOOTPRINT[0] / 2.0 + clearance
    half_y = BASE_FOOTPRINT[1] / 2.0 + clearance
    xs = np.linspace(-half_x, half_x, max(2, int(math.ceil(2 * half_x / 0.05)) + 1))
    ys = np.linspace(-half_y, half_y, max(2, int(math.ceil(2 * half_y / 0.05)) + 1))
    c, s = math.cos(pose[2]), math.sin(pose[2])
    for lx in xs:
        for ly in ys:
            if grid.occupied(pose[0] + c * lx - s * ly, pose[1] + s * lx + c * ly):
                return False
    return True


def _open_sides(layout: RoomLayout, surface: Surface) -> tuple[int, ...]:
    """Sides of a surface the arm may reach over (0: +x, 1: +y, 2: -x, 3: -y, in the
    surface's frame): a shelf's boards only from the front (+x), a table-like top from all
    four."""
    kind = layout.furniture_named(surface.furniture).kind
    return (0,) if kind == "shelf" and surface.name != f"{surface.furniture}/top" \
        else (0, 1, 2, 3)


def stand_poses(layout: RoomLayout, grid: OccupancyMap, surface: Surface,
                target_xy: Sequence[float], config: HomePlanConfig) -> list[StandPose]:
    """Base poses from which the arm reaches `target_xy` on `surface`, nearest reach
    first: one per open side whose footprint is free in `grid` and within reach."""
    lx, ly = rotate_xy(target_xy[0] - surface.center[0], target_xy[1] - surface.center[1],
                       -surface.yaw)
    half = (surface.size[0] / 2.0, surface.size[1] / 2.0)
    out = []
    for side in _open_sides(layout, surface):
        normal_axis = side % 2                # 0: x, 1: y
        sign = 1.0 if side < 2 else -1.0
        along = ly if normal_axis == 0 else lx
        along_half = half[1 - normal_axis]
        limit = max(0.0, along_half - config.side_margin_m)
        wanted = min(max(along, -limit), limit)
        side_yaw = surface.yaw + (0.0 if normal_axis == 0 else math.pi / 2.0) + \
            (0.0 if sign > 0 else math.pi)
        # the foot point nearest the target first, then along the edge (a bed beside a
        # bedside table leaves only part of its edge free), each as near the edge as the
        # navigation's clearance allows
        for along in sorted({wanted, *np.linspace(-limit, limit, 11)},
                            key=lambda a: abs(a - wanted)):
            stand = _stand_on_side(grid, surface, target_xy, normal_axis, sign, along,
                                   side_yaw, config)
            if stand is not None:
                out.append(stand)
                break
    return sorted(out, key=lambda s: s.reach_m)


def _stand_on_side(grid: OccupancyMap, surface: Surface, target_xy: Sequence[float],
                   normal_axis: int, sign: float, along: float, side_yaw: float,
                   config: HomePlanConfig) -> StandPose | None:
    """The nearest stand pose out from one side at `along`, stepping out 1 cm at a time
    from `standoff_m` (or from `object_distance_m` to the target) until navigation's
    clearance holds, while the arm still reaches."""
    half = (surface.size[0] / 2.0, surface.size[1] / 2.0)
    standoff = config.standoff_m
    if config.object_distance_m > 0.0:
        lx, ly = rotate_xy(target_xy[0] - surface.center[0],
                           target_xy[1] - surface.center[1], -surface.yaw)
        inside = half[normal_axis] - sign * (lx if normal_axis == 0 else ly)
        standoff = config.object_distance_m - inside
    while standoff <= config.max_standoff_m + 1e-9:
        out_dist = half[normal_axis] + standoff
        local = (sign * out_dist, along) if normal_axis == 0 else (along, sign * out_dist)
        dx, dy = rotate_xy(local[0], local[1], surface.yaw)
        pose = (float(surface.center[0] + dx), float(surface.center[1] + dy),
                math.remainder(side_yaw + math.pi, 2.0 * math.pi))     # facing the surface
        reach = math.dist(arm_base_xy(pose), target_xy)
        if reach > config.reach_m:
            return None
        if grid.clearance(pose[0], pose[1]) >= config.goal_clearance_m and \
                footprint_free(grid, pose, config.footprint_clearance_m):
            return StandPose(pose, (float(target_xy[0]), float(target_xy[1])), reach)
        standoff += 0.01
    return None


def set_down_spots(layout: RoomLayout, grid: OccupancyMap, surface: Surface,
                   robot_xy: Sequence[float], others: Sequence[np.ndarray],
                   config: HomePlanConfig) -> list[StandPose]:
    """Where to set an object down on `surface` and where the base stands for it: on each
    open side the spot `edge_inset_m` inside the edge, as close along it to the robot as
    the edge allows, away from the other objects on it; nearest to the robot first."""
    rx, ry = rotate_xy(robot_xy[0] - surface.center[0], robot_xy[1] - surface.center[1],
                       -surface.yaw)
    half = (surface.size[0] / 2.0, surface.size[1] / 2.0)
    out = []
    for side in _open_sides(layout, surface):
        normal_axis = side % 2
        sign = 1.0 if side < 2 else -1.0
        inward = max(0.0, half[normal_axis] - config.edge_inset_m)
        limit = max(0.0, half[1 - normal_axis] - config.edge_inset_m)
        along = min(max(ry if normal_axis == 0 else rx, -limit), limit)
        candidates = [along] + [a for a in np.linspace(-limit, limit, 7) if a != along]
        for a in sorted(candidates, key=lambda v: abs(v - along)):
            local = (sign * inward, a) if normal_axis == 0 else (a, sign * inward)
            dx, dy = rotate_xy(local[0], local[1], surface.yaw)
            spot = (surface.center[0] + dx, surface.center[1] + dy)
            if any(math.dist(spot, o[:2]) < config.spot_clearance_m for o in others):
                continue
            stands = [s for s in stand_poses(layout, grid, surface, spot, config)
                      if _facing_side(s.pose, surface) == side]
            if stands:
                out.append(stands[0])
                break
    return sorted(out, key=lambda s: math.dist(s.pose[:2], robot_xy))


def _facing_side(pose: Pose2D, surface: Surface) -> int:
    """Which side of `surface` a base at `pose` stands at (by where it is)."""
    lx, ly = rotate_xy(pose[0] - surface.center[0], pose[1] - surface.center[1],
                       -surface.yaw)
    fx, fy = lx / max(surface.size[0], 1e-6), ly / max(surface.size[1], 1e-6)
    if abs(fx) >= abs(fy):
        return 0 if fx > 0 else 2
    return 1 if fy > 0 else 3


def on_surface(obj: TrackedObject, surface: Surface, height: float,
               config: HomePlanConfig) -> bool:
    """A track lies on `surface`: inside its outline (with a margin) and its bottom near
    the top."""
    bottom = float(obj.position[2]) - height / 2.0
    return surface.contains_xy(float(obj.position[0]), float(obj.position[1]),
                               -config.surface_margin_m) and \
        abs(bottom - surface.height) <= config.surface_height_tolerance_m


def find_object(objects: Sequence[TrackedObject], label: str,
                near: Sequence[float] | None = None) -> TrackedObject | None:
    """The track of class `label` (the nearest to `near` when several, else the longest
    tracked)."""
    matches = [o for o in objects if o.label == label and np.all(np.isfinite(o.position))]
    if not matches:
        return None
    if near is not None:
        return min(matches, key=lambda o: math.dist(o.position[:2], near[:2]))
    return max(matches, key=lambda o: o.age_s)


def grasp_yaw(object_yaw: float, base_yaw: float, round_object: bool) -> float:
    """The gripper's yaw for a top grasp: fingers close across a box's narrow side (the
    box's yaw, or the same turned half a turn), whichever is nearer the arm's heading
    less a quarter turn (the hand's comfortable pose); any yaw suits a round object."""
    preferred = base_yaw - math.pi / 2.0
    if round_object:
        return math.remainder(preferred, 2.0 * math.pi)
    return min((math.remainder(object_yaw + k * math.pi, 2.0 * math.pi) for k in (0, 1)),
               key=lambda y: abs(math.remainder(y - preferred, 2.0 * math.pi)))


def is_shelf_board(surface: Surface) -> bool:
    """A board inside a shelf (another board or the top above it), not the shelf's top."""
    return surface.name.startswith("shelf/") and surface.name != "shelf/top"


def tool_quat(yaw: float, tilt: float = 0.0, facing: float = 0.0
              ) -> tuple[float, float, float, float]:
    """tool_down_quat(yaw) with the tool's axis leaned `tilt` (rad) from straight down,
    towards whichever of the two headings square to the fingers is nearer `facing` (the
    base's heading: into the shelf), so that both fingers stay level."""
    if tilt == 0.0:
        return tool_down_quat(yaw)
    lean = min((yaw, yaw + math.pi),
               key=lambda a: abs(math.remainder(a - facing, 2.0 * math.pi)))
    left = np.array([-math.sin(lean), math.cos(lean), 0.0])
    w, x, y, z = tool_down_quat(yaw)
    rotation = Rotation.from_rotvec(-tilt * left) * Rotation.from_quat([x, y, z, w])
    qx, qy, qz, qw = rotation.as_quat()
    return (float(qw), float(qx), float(qy), float(qz))


def grasp_below_top(height: float, config: HomePlanConfig) -> float:
    """How far below an object's top the TCP holds it: `grasp_below_top_m`, at most half
    its height (a flat object is held at its middle)."""
    return min(config.grasp_below_top_m, height / 2.0)


def grasp_point(obj: TrackedObject, height: float, config: HomePlanConfig) -> np.ndarray:
    """TCP position of a top grasp (the track's position is the object's centre)."""
    return np.asarray(obj.position, dtype=float) + np.array(
        [0.0, 0.0, height / 2.0 - grasp_below_top(height, config)])


def release_point(spot_xy: Sequence[float], surface: Surface, height: float,
                  config: HomePlanConfig) -> np.ndarray:
    """TCP position that holds an object (grasped as by grasp_point) with its bottom
    `place_drop_m` above `surface` at `spot_xy`."""
    return np.array([spot_xy[0], spot_xy[1], surface.height + config.place_drop_m + height
                     - grasp_below_top(height, config)])


def class_sizes(path: str) -> dict[str, tuple[float, float, float]]:
    """Nominal extents (m; length, width, height) of every class with a size in
    perception's class YAML (`classes.<name>.size: [x, y, z]`): what the planner assumes
    when a track's measured height is implausible, and the carried object's box.
    HomePlanError with the reason for a malformed file."""
    data = load_yaml_mapping(path, HomePlanError)
    classes = data.get("classes")
    if not isinstance(classes, dict):
        raise HomePlanError(f"{path}: top-level key 'classes' (a mapping) is required")
    out = {}
    for name, entry in classes.items():
        size = entry.get("size") if isinstance(entry, dict) else None
        if size is None:
            continue
        if not (isinstance(size, list) and len(size) == 3 and
                all(isinstance(v, int | float) and 0 < v < 2 for v in size)):
            raise HomePlanError(f"{path}: classes.{name}.size must be three lengths in "
                                f"(0, 2) m, got {size!r}")
        out[str(name)] = (float(size[0]), float(size[1]), float(size[2]))
    return out


def held_extents(size: Sequence[float]) -> tuple[float, float, float]:
    """The extents (m) along the tool's x, y and z axes of an object of `size` (length,
    width, height) grasped from above across its narrow side (between the fingers: the
    tool's y): the box the executor checks the carried object as."""
    return (max(size[0], size[1]), min(size[0], size[1]), float(size[2]))


@dataclass(frozen=True)
class HandoverConfig:
    # base centre to the person's torso when handing over: far enough that the stowed
    # object (0.07 m ahead of the base's centre) is beyond an arm's length and a half from
    # a shoulder (0.6 m arm, 0.19 m beside the torso), so nobody reaches out for it while
    # the base stands; near enough that the offered one (held out from the arm's base,
    # 0.2 m ahead of the centre) comes within their reach: 0.5 m in front of the torso,
    # 0.2 m below the shoulder, is 0.57 m from it, inside a 0.59 m reach (at 0.69 m the
    # hand stopped 10 cm short, measured in simulation)
    distance_m: float = 1.35
    offer_gap_m: float = 0.50         # the offered object this far in front of the torso...
    offer_reach_max_m: float = 0.68   # ...unless the arm's base is farther than this from
    #                                   that point: tool down at 1.2 m the arm reaches 0.68 m
    #                                   (not 0.72). Where the base stopped farther from them
    #                                   than planned (navigation moved the goal 10 cm back,
    #                                   the person stepped 7 cm away) a fixed 0.62 m held the
    #                                   cup 0.70 m from the torso, the hand 11 mm too far to
    #                                   take it (home_train cup seed 0, stop 26)
    offer_above_torso_m: float = 0.25  # the offer point this far above the torso's centre:
    #                                    near shoulder height, above a seated person's hands
    #                                    in their lap (the supervisor held an offer at lap
    #                                    height short of them, measured)
    offer_min_height_m: float = 0.85  # the offer point's height range (m above the floor)
    offer_max_height_m: float = 1.20
    still_m: float = 0.30             # a person predicted to move less than this is still


def torso_positions(people: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Person track id -> torso position, from the world model's keypoints ("id/torso")."""
    return {key.split("/")[0]: np.asarray(p, dtype=float) for key, p in people.items()
            if key.endswith("/torso") and np.all(np.isfinite(p))}


def approach_poses(grid: OccupancyMap, person_xy: Sequence[float],
                   robot_xy: Sequence[float], config: HomePlanConfig,
                   handover: HandoverConfig) -> list[Pose2D]:
    """Base poses facing the person at `handover.distance_m` (every 15 degrees round
    them) where navigation can stand, nearest to the robot first."""
    out = []
    for k in range(24):
        angle = 2.0 * math.pi * k / 24
        x = person_xy[0] + handover.distance_m * math.cos(angle)
        y = person_xy[1] + handover.distance_m * math.sin(angle)
        pose = (x, y, math.remainder(angle + math.pi, 2.0 * math.pi))
        if grid.clearance(x, y) >= config.goal_clearance_m and \
                footprint_free(grid, pose, config.footprint_clearance_m):
            out.append(pose)
    return sorted(out, key=lambda p: math.dist(p[:2], robot_xy[:2]))


def backed_off(pose: Pose2D, distance_m: float) -> Pose2D:
    """`pose` moved `distance_m` back along its heading, facing the same way."""
    x, y, yaw = pose
    return x - distance_m * math.cos(yaw), y - distance_m * math.sin(yaw), yaw


def nearby_stands(stand: StandPose, config: HomePlanConfig,
                  steps_m: Sequence[float] = (0.15, 0.30)) -> list[Pose2D]:
    """Poses near `stand` from which the arm still reaches its target: moved back along
    the heading and sideways along the edge by `steps_m`, nearest first (where navigation's
    live map finds the stand itself too near something the room file lacks: a table turned
    8 degrees, home_train seed 4)."""
    x, y, yaw = stand.pose
    back, side = (math.cos(yaw), math.sin(yaw)), (-math.sin(yaw), math.cos(yaw))
    out = []
    for step in steps_m:
        for dx, dy in ((-back[0], -back[1]), side, (-side[0], -side[1])):
            pose = (x + step * dx, y + step * dy, yaw)
            if math.dist(arm_base_xy(pose), stand.target_xy) <= config.reach_m:
                out.append(pose)
    return out


def turning_spot(grid: OccupancyMap, xy: Sequence[float], config: HomePlanConfig,
                 margin_m: float = 0.0, reach_m: float = 0.8) -> tuple[float, float] | None:
    """The nearest point to `xy` (within `reach_m`) with navigation's goal clearance plus
    `margin_m` in `grid`, where the base may turn on the spot; None if there is none.
    Navigation's live map can have something nearer than `grid` does (measured: a look
    round for the person from a pick's stand refused five times, 0.32 m where the map had
    0.6 m): a caller refused grows the margin."""
    need = config.goal_clearance_m + margin_m
    if grid.clearance(xy[0], xy[1]) >= need:
        return float(xy[0]), float(xy[1])
    for radius in np.arange(0.05, reach_m + 1e-9, 0.05):
        ring = [(xy[0] + radius * math.cos(a), xy[1] + radius * math.sin(a))
                for a in np.linspace(0.0, 2.0 * math.pi, 24, endpoint=False)]
        free = [p for p in ring if grid.clearance(p[0], p[1]) >= need]
        if free:
            return max(free, key=lambda p: grid.clearance(p[0], p[1]))
    return None


def offer_point(stand: Pose2D, torso: Sequence[float], handover: HandoverConfig
                ) -> np.ndarray:
    """Where the TCP holds the object out to the person: from the arm's base towards the
    torso, `offer_gap_m` in front of it as far as the arm reaches (`offer_reach_max_m`),
    a little below their shoulders within the arm's comfortable range."""
    base = np.array(arm_base_xy(stand))
    towards = np.asarray(torso[:2], dtype=float) - base
    distance = float(np.linalg.norm(towards))
    reach = min(handover.offer_reach_max_m, max(0.0, distance - handover.offer_gap_m))
    xy = base + (towards / distance * reach if distance > 1e-6 else 0.0)
    z = min(max(float(torso[2]) + handover.offer_above_torso_m, handover.offer_min_height_m),
            handover.offer_max_height_m)
    return np.array([xy[0], xy[1], z])
