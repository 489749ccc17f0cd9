"""Base navigation for the home robot, without rclpy: a global planner (A* over the map
grid, costs rising near obstacles, shortened where the straight line stays clear) and a
local controller for the holonomic base that samples velocity commands and scores their
short rollouts against the map and against where the people are *predicted* to be, keeping
the comfort distance from each predicted position at its own time; between goals, a side
step out of the way of a person predicted to walk into the standing base (`SideStep`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from foresight_common.mobile_manipulator import (
    BASE_FOOTPRINT,
    BASE_MAX_LINEAR_ACCEL,
    ROBOT_RADIUS,
)
from foresight_common.occupancy import OccupancyMap

#: Rollouts may pass this much (m) inside the robot's radius. 0: with localisation errors of
#: 2-4 cm, 2 cm of slack let a base turning by a wall touch it (measured); the radius holds
#: the margin. A base that stands closer (a localisation jump) may only move away.
CLEARANCE_SLACK = 0.0


class NoPathError(RuntimeError):
    """No collision-free route between two poses on the map (the reason says why)."""


@dataclass(frozen=True)
class PlannerConfig:
    robot_radius: float = ROBOT_RADIUS
    inflation_m: float = 0.35        # beyond the radius, costs fall off over this distance
    cost_weight: float = 3.0         # extra cost per metre at the obstacle's edge


def _cost_field(grid: OccupancyMap, config: PlannerConfig) -> np.ndarray:
    """Per cell: inf where the robot would touch an obstacle, else 1 + a penalty that decays
    with clearance (prefers the middle of passages)."""
    d = grid.distance
    extra = np.clip(1.0 - (d - config.robot_radius) / config.inflation_m, 0.0, 1.0)
    cost = 1.0 + config.cost_weight * extra ** 2
    cost[d < config.robot_radius] = np.inf
    return cost


def _line_clear(grid: OccupancyMap, a: Sequence[float], b: Sequence[float],
                radius: float) -> bool:
    length = math.dist(a, b)
    n = max(2, int(length / (grid.geometry.resolution / 2.0)) + 1)
    s = np.linspace(0.0, 1.0, n)[:, None]
    points = np.asarray(a)[None, :] * (1 - s) + np.asarray(b)[None, :] * s
    return bool(np.all(grid.clearance_at(points) >= radius))


def plan_path(grid: OccupancyMap, start: Sequence[float], goal: Sequence[float],
              config: PlannerConfig = PlannerConfig()) -> list[tuple[float, float]]:
    """Waypoints start -> goal (map frame). Raises NoPathError with the reason."""
    g = grid.geometry
    cost = _cost_field(grid, config)
    s_cell, g_cell = g.to_cell(*start), g.to_cell(*goal)
    for name, cell, point in (("goal", g_cell, goal), ("start", s_cell, start)):
        if not g.inside(*cell):
            raise NoPathError(f"{name} ({point[0]:.2f}, {point[1]:.2f}) is outside the map")
    if not np.isfinite(cost[g_cell]):
        raise NoPathError(f"goal ({goal[0]:.2f}, {goal[1]:.2f}) is within "
                          f"{config.robot_radius:.2f} m of an obstacle "
                          f"(clearance {grid.clearance(*goal):.2f} m)")
    if not np.isfinite(cost[s_cell]):
        # the robot may stand closer than its radius (sensing, a squeeze): leave the start
        # through the cells that increase clearance
        cost = cost.copy()
        cost[~np.isfinite(cost)] = np.where(grid.distance[~np.isfinite(cost)] > 0.0,
                                            50.0, np.inf)
    steps = [(-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0),
             (-1, -1, math.sqrt(2)), (-1, 1, math.sqrt(2)), (1, -1, math.sqrt(2)),
             (1, 1, math.sqrt(2))]
    res = g.resolution

    def heuristic(cell: tuple[int, int]) -> float:
        return math.hypot(cell[0] - g_cell[0], cell[1] - g_cell[1]) * res

    best = {s_cell: 0.0}
    came: dict[tuple[int, int], tuple[int, int]] = {}
    queue = [(heuristic(s_cell), 0.0, s_cell)]
    while queue:
        _, so_far, cell = heapq.heappop(queue)
        if cell == g_cell:
            break
        if so_far > best.get(cell, math.inf):
            continue
        r, c = cell
        for dr, dc, length in steps:
            nxt = (r + dr, c + dc)
            if not g.inside(*nxt) or not np.isfinite(cost[nxt]):
                continue
            total = so_far + length * res * 0.5 * (cost[cell] + cost[nxt])
            if total < best.get(nxt, math.inf):
                best[nxt] = total
                came[nxt] = cell
                heapq.heappush(queue, (total + heuristic(nxt), total, nxt))
    if g_cell not in best:
        raise NoPathError(f"no collision-free route from ({start[0]:.2f}, {start[1]:.2f}) "
                          f"to ({goal[0]:.2f}, {goal[1]:.2f}) for a robot of radius "
                          f"{config.robot_radius:.2f} m")
    cells = [g_cell]
    while cells[-1] != s_cell:
        cells.append(came[cells[-1]])
    points = [tuple(start)] + [g.to_point(*cell) for cell in reversed(cells[1:-1])] + [
        tuple(goal)]
    return _shorten(grid, points, config.robot_radius + 0.5 * config.inflation_m)


def _shorten(grid: OccupancyMap, points: list, clearance: float) -> list[tuple[float, float]]:
    """Greedy line-of-sight shortcuts that keep `clearance` (the passage's comfortable
    middle where there is room; the raw cells elsewhere)."""
    out = [points[0]]
    i = 0
    while i < len(points) - 1:
        j = len(points) - 1
        while j > i + 1 and not _line_clear(grid, points[i], points[j], clearance):
            j -= 1
        out.append(points[j])
        i = j
    return [(float(x), float(y)) for x, y in out]


# --- local control ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictedPerson:
    """Where a person is predicted at `t` s from now (centre, m, map frame) with the
    uncertainty's radius (m)."""
    t: float
    x: float
    y: float
    radius: float = 0.0


@dataclass(frozen=True)
class ControllerConfig:
    max_speed: float = 0.5           # m/s
    max_angular: float = 1.0         # rad/s
    accel: float = 0.25              # m/s^2 planned for the slow-down near the goal: half
                                     # what the base can, as rollouts start at the commanded
                                     # speed, not at the one the base still has
    latency_s: float = 0.3           # command -> motion, allowed for when braking
    base_accel: float = BASE_MAX_LINEAR_ACCEL   # m/s^2 the base changes velocity with
    lookahead: float = 0.6           # m along the path
    horizon: float = 1.5             # s of rollout per candidate
    comfort_m: float = 0.8           # kept from a person's predicted body centre
    robot_radius: float = ROBOT_RADIUS
    goal_tolerance: float = 0.05     # m
    yaw_tolerance: float = 0.05      # rad
    heading_gain: float = 1.5
    face_goal_within: float = 1.0    # m from the goal: turn to its heading from here on
    # speed near people (speed and separation as ISO/TS 15066 has it for the arm): the
    # base may move only as fast as it can stop before a person walking at human_speed
    # towards it closes the gap, counting its reaction time and the base's braking
    human_speed: float = 1.6         # m/s
    person_reaction_s: float = 0.2   # s: a command cycle and the tracks' lag since the image
    body_radius: float = 0.30        # m around a body keypoint a seated person's limbs reach
    person_margin: float = 0.05      # m
    person_creep: float = 0.10       # m/s allowed however near (the comfort distance and the
                                     # collision monitor keep the base off the person)


@dataclass(frozen=True)
class Command:
    vx: float                        # base frame
    vy: float
    wz: float
    reason: str                      # why this command (for logs and markers)


def _wrap(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def _lookahead_point(path: Sequence[tuple[float, float]], xy: np.ndarray,
                     distance: float) -> tuple[np.ndarray, float]:
    """The point `distance` m ahead of the path point nearest `xy`, and the path length
    left from the nearest point."""
    pts = np.asarray(path, dtype=float)
    seg = pts[1:] - pts[:-1]
    lengths = np.linalg.norm(seg, axis=1)
    best, best_d, best_s = 0, math.inf, 0.0
    for k, (a, v, length) in enumerate(zip(pts[:-1], seg, lengths, strict=True)):
        s = 0.0 if length == 0 else float(np.clip((xy - a) @ v / length ** 2, 0.0, 1.0))
        d = float(np.linalg.norm(a + s * v - xy))
        if d < best_d:
            best, best_d, best_s = k, d, s
    remaining = (1.0 - best_s) * lengths[best] + float(lengths[best + 1:].sum())
    left = distance
    k, s = best, best_s
    while k < len(seg):
        room = (1.0 - s) * lengths[k]
        if left <= room and lengths[k] > 0:
            return pts[k] + (s + left / lengths[k]) * seg[k], remaining
        left -= room
        k, s = k + 1, 0.0
    return pts[-1], remaining


def control(grid: OccupancyMap, pose: Sequence[float], path: Sequence[tuple[float, float]],
            goal_yaw: float, people: Sequence[PredictedPerson],
            config: ControllerConfig = ControllerConfig(),
            velocity: Sequence[float] = (0.0, 0.0),
            scanned: Sequence[PredictedPerson] = ()) -> Command:
    """One velocity command for the base at `pose` (x, y, yaw in map) following `path` to
    its end, turning to `goal_yaw` there. Candidates (direction x speed, world frame) are
    rolled out over the horizon; one is admissible when the robot keeps its radius from the
    map and the comfort distance from every predicted person position (at the prediction's
    time); the best makes the most progress towards the lookahead point. `scanned`: people
    the base scanner found by their legs where the camera does not look (no prediction):
    they limit the speed as tracked people do."""
    xy = np.array(pose[:2], dtype=float)
    yaw = float(pose[2])
    target, remaining = _lookahead_point(path, xy, config.lookahead)
    to_goal = math.dist(xy, path[-1])
    if to_goal <= config.goal_tolerance:
        error = _wrap(goal_yaw - yaw)
        if abs(error) <= config.yaw_tolerance:
            return Command(0.0, 0.0, 0.0, "arrived")
        wz = float(np.clip(config.heading_gain * error, -config.max_angular,
                           config.max_angular))
        return Command(0.0, 0.0, wz, "turning to the goal heading")
    direction = target - xy
    heading = math.atan2(direction[1], direction[0])
    # brake in time for the goal after the latency: v L + v^2 / 2a = d. With the base's own
    # limit and no latency the base overshot goals by 0.3-0.45 m (CI, a clean clone)
    lag = config.accel * config.latency_s
    top = min(config.max_speed, max(math.sqrt(2.0 * config.accel * max(remaining, 0.0)
                                              + lag * lag) - lag, 0.03))
    near_person = max(min(person_speed_limit(xy, people, config),
                          person_speed_limit(xy, scanned, config)), config.person_creep)
    if near_person < top:
        top = near_person
    times = np.linspace(0.25, config.horizon, 6)
    here = float(grid.clearance_at(xy[None, :])[0])
    now_velocity = np.asarray(velocity, dtype=float)
    best: tuple[float, np.ndarray, str] | None = None
    for offset in np.radians([0, -20, 20, -40, 40, -60, 60, -90, 90]):
        unit = np.array([math.cos(heading + offset), math.sin(heading + offset)])
        for speed in (top, 0.66 * top, 0.33 * top, 0.0):
            if speed == 0.0 and offset != 0.0:
                continue                     # one candidate that stops
            rollout = xy[None, :] + ramped_offsets(now_velocity, speed * unit, times,
                                                   config.base_accel, config.latency_s)
            clearance = grid.clearance_at(rollout)
            floor = config.robot_radius - CLEARANCE_SLACK
            if np.min(clearance) < floor and not (here < floor and clearance[-1] > here
                                                   and np.min(clearance) >= here - 0.005):
                continue          # too close (unless it leads out of a spot already too close)
            if _too_close(rollout, times, people, config.comfort_m, xy, path[-1]):
                continue
            progress = float((rollout[-1] - xy) @ (target - xy)) / max(
                float(np.linalg.norm(target - xy)), 1e-6)
            score = progress - 0.05 * abs(offset)
            if best is None or score > best[0]:
                reason = "slowed near a person" if offset == 0 and speed == top and \
                    top == near_person else \
                    "following the path" if offset == 0 and speed == top else \
                    "stopping" if speed == 0.0 else \
                    "around a predicted person" if people else "around an obstacle"
                best = (score, speed * unit, reason)
    if best is None:
        return Command(0.0, 0.0, 0.0, "blocked: every motion comes too close to an "
                       "obstacle or a person's predicted position")
    velocity = best[1]
    c, s = math.cos(yaw), math.sin(yaw)
    vx, vy = c * velocity[0] + s * velocity[1], -s * velocity[0] + c * velocity[1]
    # face the direction of travel while driving, the goal heading when near it: the base
    # is holonomic, so it turns while there is room, not in the tight spot beside the
    # furniture it stops at (where a corner's sweep met a table leg, measured)
    face = goal_yaw if to_goal < config.face_goal_within else heading
    wz = float(np.clip(config.heading_gain * _wrap(face - yaw), -config.max_angular,
                       config.max_angular))
    return Command(float(vx), float(vy), wz, best[2])


def ramped_offsets(v0: np.ndarray, target: np.ndarray, times: np.ndarray, accel: float,
                   latency: float) -> np.ndarray:
    """(n, 2) displacements at `times` of a base moving at `v0` (world, m/s) that is told
    to move at `target`: unchanged for the latency, then changing velocity at `accel`
    towards the target, then holding it (what the base driver does with a command)."""
    delta = np.asarray(target, dtype=float) - v0
    change = float(np.linalg.norm(delta))
    ramp = change / accel if change > 0.0 else 0.0
    direction = delta / change if change > 0.0 else np.zeros(2)
    t = np.asarray(times, dtype=float)[:, None]
    during = np.clip(t - latency, 0.0, ramp)        # time spent ramping by then
    after = np.maximum(t - latency - ramp, 0.0)     # time at the target velocity by then
    return v0[None, :] * (t - after) + 0.5 * accel * during ** 2 * direction[None, :] + \
        np.asarray(target, dtype=float)[None, :] * after


def from_now(people: Sequence[PredictedPerson], age: float) -> list[PredictedPerson]:
    """Predictions made `age` s ago (at their image's stamp) with their times counted from
    now; ones already past are left out, unless nothing else is left (then the latest
    stands for now)."""
    ahead = [replace(p, t=p.t - age) for p in people if p.t - age >= 0.0]
    if ahead or not people:
        return ahead
    latest = max(p.t for p in people)
    return [replace(p, t=0.0) for p in people if p.t == latest]


def person_speed_limit(xy: np.ndarray, people: Sequence[PredictedPerson],
                       config: ControllerConfig) -> float:
    """Fastest speed (m/s) at which the base still stops before the nearest person (their
    positions now, each grown by its uncertainty and `body_radius`) could reach it: the
    gap d between the two surfaces must hold v_h (T_r + v / a) + v T_r + v^2 / 2a + margin,
    solved for v; inf with nobody around."""
    now = [p for p in people if p.t <= min(q.t for q in people) + 1e-9] if people else []
    if not now:
        return math.inf
    gap = min(math.dist(xy, (p.x, p.y)) - p.radius for p in now) - config.robot_radius - \
        config.body_radius
    a, h, t_r = config.base_accel, config.human_speed, config.person_reaction_s
    # v^2 / 2a + v (h / a + T_r) + (h T_r + margin - gap) <= 0
    qa, qb, qc = 1.0 / (2.0 * a), h / a + t_r, h * t_r + config.person_margin - gap
    if qc >= 0.0:
        return 0.0
    return (-qb + math.sqrt(qb * qb - 4.0 * qa * qc)) / (2.0 * qa)


def _too_close(rollout: np.ndarray, times: np.ndarray, people: Sequence[PredictedPerson],
               comfort: float, start: np.ndarray, goal: Sequence[float]) -> bool:
    """Whether a rollout enters the comfort distance of a person's predicted position (the
    prediction nearest in time to each rollout point), grown by the prediction's
    uncertainty but not beyond where `goal` stands from that position, never below the bare
    comfort distance: a goal chosen near a person (a hand-over's stand, 1.35 m from a
    torso whose 95 % radius at 1.5 s is 0.6 m while they stand still) is reached at the
    distance chosen (the base stopped 10 cm short of it for 20-40 s, home_train cup
    seeds 0-2). Moving away from a person who is already too close is allowed (so the
    robot can back off)."""
    for person in people:
        centre = np.array([person.x, person.y])
        limit = max(comfort, min(comfort + person.radius,
                                 math.dist(goal[:2], (person.x, person.y))))
        nearest = np.argmin(np.abs(times - person.t))
        d_then = float(np.linalg.norm(rollout[nearest] - centre))
        if d_then < limit and d_then < float(np.linalg.norm(start - centre)) + 1e-6:
            return True
    return False


# --- one navigation goal ---------------------------------------------------------------------
@dataclass(frozen=True)
class NavigatorConfig:
    planner: PlannerConfig = PlannerConfig()
    controller: ControllerConfig = ControllerConfig()
    replan_after_s: float = 2.0      # blocked this long: plan around the people
    give_up_after_s: float = 30.0    # blocked this long in all: the goal fails
    # a goal too close to something (a table that stands elsewhere than the map says) is
    # moved back against its heading by up to this much (as nav2's planner tolerance)
    goal_backoff_m: float = 0.15


def admissible_goal(grid: OccupancyMap, goal: Sequence[float], radius: float,
                    backoff: float) -> tuple[tuple[float, float, float], float] | None:
    """`goal` itself when the robot's radius fits there, else the nearest point behind it
    (against its heading, in 1 cm steps, up to `backoff` m) that fits: (goal, moved m);
    None when none does."""
    x, y, yaw = (float(v) for v in goal)
    for k in range(int(round(backoff / 0.01)) + 1):
        d = 0.01 * k
        cx, cy = x - d * math.cos(yaw), y - d * math.sin(yaw)
        if grid.clearance(cx, cy) >= radius:
            return (cx, cy, yaw), d
    return None


class Navigator:
    """Drives one goal: plans on the map, follows the plan with `control`, and when the
    controller stays blocked (a person in a passage, clutter the camera found on the route)
    plans again on the current map and around the people's predicted positions; ends with
    success or with a reason. `grid` may be replaced between steps (a live obstacle layer)."""

    def __init__(self, grid: OccupancyMap, goal: Sequence[float],
                 config: NavigatorConfig = NavigatorConfig()) -> None:
        self.grid = grid
        self.goal = (float(goal[0]), float(goal[1]), float(goal[2]))
        self.config = config
        self.path: list[tuple[float, float]] = []
        self.blocked_since: float | None = None
        self.blocked_total = 0.0
        self.replans = 0
        self.done: str | None = None           # "" success, else the failure's reason
        self.moved_back_m = 0.0                # the goal moved back from an obstacle
        self._last_t: float | None = None
        self._best_left = math.inf             # closest the robot came to the goal (m)
        self._progress_at = 0.0                # when it last came 5 cm closer

    def start(self, pose: Sequence[float]) -> None:
        """Plan from `pose`; raises NoPathError when the goal cannot be reached. A goal
        within the robot's radius of something is first moved back along its heading
        (`goal_backoff_m`; `moved_back_m` says how far)."""
        self.moved_back_m = 0.0
        fitted = admissible_goal(self.grid, self.goal, self.config.planner.robot_radius,
                                 self.config.goal_backoff_m)
        if fitted is not None:
            self.goal, self.moved_back_m = fitted
        self.path = plan_path(self.grid, pose[:2], self.goal[:2], self.config.planner)
        self._best_left = math.inf

    def step(self, t: float, pose: Sequence[float], people: Sequence[PredictedPerson],
             velocity: Sequence[float] = (0.0, 0.0),
             scanned: Sequence[PredictedPerson] = ()) -> Command:
        """The command for now. A blocked controller, or one that has made no progress
        (5 cm towards the goal) for `replan_after_s`, counts as blocked: plan around the
        people; blocked `give_up_after_s` in all ends the goal with the reason. `scanned`
        as in `control`."""
        dt = 0.0 if self._last_t is None else max(t - self._last_t, 0.0)
        self._last_t = t
        command = control(self.grid, pose, self.path, self.goal[2], people,
                          self.config.controller, velocity, scanned)
        if command.reason == "arrived":
            self.done = ""
            return command
        nearest, left = _lookahead_point(self.path, np.asarray(pose[:2], dtype=float), 0.0)
        left += math.dist(pose[:2], nearest)       # off the path counts too
        if left < self._best_left - 0.05 or command.reason.startswith("turning"):
            self._best_left, self._progress_at = left, t
        stalled = t - self._progress_at >= self.config.replan_after_s
        if not (command.reason.startswith("blocked") or stalled):
            self.blocked_since = None
            return command
        self.blocked_total += dt
        if self.blocked_since is None:
            self.blocked_since = t
        if self.blocked_total >= self.config.give_up_after_s:
            why = command.reason.removeprefix("blocked: ") if command.reason.startswith(
                "blocked") else f"no progress towards the goal ({command.reason})"
            self.done = f"blocked for {self.blocked_total:.0f} s: {why}"
        elif t - self.blocked_since >= self.config.replan_after_s:
            self._replan_around(pose, people)
            self.blocked_since = t
        return command

    def _replan_around(self, pose: Sequence[float],
                       people: Sequence[PredictedPerson]) -> None:
        """A new route on the current map (with what the camera has seen since) and around
        the people's predicted positions; without one, wait (the person may move on)."""
        # blocked or stalled: the goal may need more room than the grid's cell-centre
        # distances say (a base that cannot turn to the goal's heading beside a table
        # that stands nearer than the map has it was held there for 120 s, measured)
        room = self.config.planner.robot_radius + 0.71 * self.grid.geometry.resolution
        fitted = admissible_goal(self.grid, self.goal, room,
                                 self.config.goal_backoff_m - self.moved_back_m)
        if fitted is not None and fitted[1] > 0:
            # what the camera has seen since makes the goal too close to something
            self.goal, self.moved_back_m = fitted[0], self.moved_back_m + fitted[1]
        around = self.grid
        if people:
            comfort = self.config.controller.comfort_m
            around = self.grid.with_obstacles(
                np.array([[p.x, p.y] for p in people]),
                comfort + max(p.radius for p in people) - self.config.planner.robot_radius)
        try:
            self.path = plan_path(around, pose[:2], self.goal[:2], self.config.planner)
            self.replans += 1
        except NoPathError:
            pass


#: The head camera (1.45 m up, 30 deg down, 58 deg vertical view) sees an obstacle 10 cm
#: tall only from ~0.7 m ahead of the base's centre: a scan says nothing about what is
#: nearer, so it does not clear what was seen there before.
BLIND_RANGE = 0.7


# --- what the camera sees that the map does not know ------------------------------------------
def in_frame_of(points: np.ndarray, pose: Sequence[float]) -> np.ndarray:
    """Points (n, 2) into the frame of `pose` (x, y, yaw given in the points' frame)."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return (points - np.array(pose[:2], dtype=float)) @ np.array([[c, -s], [s, c]])


class ScanMemory:
    """Scan points in one fixed frame (map or odom) with the time each was last seen. A new
    scan replaces what it covers (its bearings up to its ranges), so an obstacle that went
    away is cleared when the camera looks there again; points out of view (or below it:
    nearer than `blind_range`) are kept for `keep_s`."""

    def __init__(self, keep_s: float, max_points: int, blind_range: float = 0.0) -> None:
        self.keep_s = keep_s
        self.max_points = max_points
        self.blind_range = blind_range      # m: nearer than this the camera sees no obstacle
        self.points = np.zeros((0, 2))
        self.seen = np.zeros(0)

    def add(self, t: float, pose: Sequence[float], scan_base: np.ndarray,
            fov: float) -> np.ndarray:
        """Fold in a scan (points in base_link, horizontal field of view `fov` rad centred
        ahead) taken at base pose `pose` in this frame; returns the scan in this frame."""
        c, s = math.cos(pose[2]), math.sin(pose[2])
        origin = np.array(pose[:2], dtype=float)
        scan = scan_base @ np.array([[c, s], [-s, c]]) + origin
        if len(self.points):
            rel = self.points - origin
            bearing = np.arctan2(rel[:, 1], rel[:, 0]) - pose[2]
            bearing = (bearing + math.pi) % (2 * math.pi) - math.pi
            in_view = np.abs(bearing) < fov / 2.0
            reach = np.max(np.hypot(scan_base[:, 0], scan_base[:, 1])) if len(scan) else 0.0
            distance = np.hypot(rel[:, 0], rel[:, 1])
            covered = in_view & (distance < reach) & (distance > self.blind_range)
            keep = ~(covered | (t - self.seen > self.keep_s))
            self.points, self.seen = self.points[keep], self.seen[keep]
        return scan

    def keep(self, t: float, points: np.ndarray) -> None:
        self.points = np.vstack([self.points, points])[-self.max_points:]
        self.seen = np.concatenate([self.seen, np.full(len(points), t)])[-self.max_points:]

    def in_base(self, pose: Sequence[float]) -> np.ndarray:
        """The points in base_link of a base at `pose` (this frame)."""
        return in_frame_of(self.points, pose)


@dataclass(frozen=True)
class ObstacleLayerConfig:
    keep_s: float = 10.0             # an obstacle out of view is forgotten after this
    known_margin: float = 0.08       # points this close to the map's obstacles are the map
    mark_radius: float = 0.05        # m marked around each point
    max_points: int = 4000
    blind_range: float = BLIND_RANGE


class ObstacleLayer:
    """Obstacles the depth camera sees that the known map lacks (floor clutter, a moved
    chair, a person standing still), remembered in the map frame (ScanMemory)."""

    def __init__(self, known: OccupancyMap,
                 config: ObstacleLayerConfig = ObstacleLayerConfig()) -> None:
        self.known = known
        self.config = config
        self.memory = ScanMemory(config.keep_s, config.max_points, config.blind_range)
        self._grid: OccupancyMap | None = None    # the marked map, until the next scan

    @property
    def points(self) -> np.ndarray:
        return self.memory.points

    def add_scan(self, t: float, pose: Sequence[float], scan_base: np.ndarray,
                 fov: float) -> None:
        """A virtual scan (points in base_link) taken at base pose `pose` (map) with a
        horizontal field of view `fov` (rad) centred ahead."""
        scan = self.memory.add(t, pose, scan_base, fov)
        self.memory.keep(t, scan[self.known.clearance_at(scan) > self.config.known_margin])
        self._grid = None

    def grid(self) -> OccupancyMap:
        """The known map with the seen obstacles marked (built once per scan: the control
        loop asks for it at 10 Hz)."""
        if not len(self.points):
            return self.known
        if self._grid is None:
            self._grid = self.known.with_obstacles(self.points, self.config.mark_radius)
        return self._grid


# --- the last line of defence: what the camera sees around the footprint ----------------------
@dataclass(frozen=True)
class MonitorConfig:
    half_length: float = BASE_FOOTPRINT[0] / 2.0   # m, along base x
    half_width: float = BASE_FOOTPRINT[1] / 2.0    # m, along base y
    margin: float = 0.03             # m kept between the footprint and anything seen
    latency_s: float = 0.3           # command -> motion, and the scan's age
    decel: float = BASE_MAX_LINEAR_ACCEL   # m/s^2 the base changes velocity with
    step_s: float = 0.04             # s per step of the rollout
    escape_speed: float = 0.05       # m/s straight away from what is within the margin,
                                     # when every command towards the goal is blocked


def footprint_distance(points: np.ndarray, half_length: float, half_width: float
                       ) -> np.ndarray:
    """Distance (m) of base-frame points to the footprint rectangle (0 inside)."""
    dx = np.maximum(np.abs(points[:, 0]) - half_length, 0.0)
    dy = np.maximum(np.abs(points[:, 1]) - half_width, 0.0)
    return np.hypot(dx, dy)


def monitor(command: Command, points: np.ndarray, config: MonitorConfig = MonitorConfig(),
            current: Sequence[float] = (0.0, 0.0),
            goal: Sequence[float] | None = None) -> Command:
    """The command, slowed or stopped so the footprint cannot touch what the camera saw
    (points in base_link now): the base, moving at `current` (base frame, m/s), keeps that
    velocity for the latency, changes to the command at the base's acceleration and then
    brakes to a stop; points beyond the margin must stay beyond it all along, points
    already inside it must not get closer. Independent of localisation: it guards against
    a wrong map pose as much as against an obstacle the map lacks. A turn that would swing
    a corner into what was seen is held while the way on without it is clear, if the base
    can turn where it goes (`goal`: its position in base_link, with room for the corners
    round it; arriving turned where it cannot turn, it would stay there)."""
    moving = math.hypot(*current) > 1e-3
    if not len(points) or (command.vx == command.vy == command.wz == 0.0 and not moving):
        return command
    start = footprint_distance(points, config.half_length, config.half_width)
    floor = np.minimum(start, config.margin) - 1e-3
    v0 = np.asarray(current, dtype=float)
    for scale in (1.0, 0.5, 0.25):
        target = np.array([command.vx, command.vy]) * scale
        if _sweep_clear(points, v0, target, command.wz, floor, config):
            if scale == 1.0:
                return command
            return Command(float(target[0]), float(target[1]), command.wz,
                           f"slowed to {scale:.0%}: an obstacle in view "
                           f"{float(np.min(start)):.2f} m from the footprint")
    if command.wz != 0.0 and goal is not None and room_to_turn(points, goal, config):
        # the base stood 4 cm from the table, 18 cm from its goal, turning into it:
        # blocked 3 x 30 s (home_smoke seed 0); at the goal the corners clear the table
        for scale in (1.0, 0.5, 0.25):
            target = np.array([command.vx, command.vy]) * scale
            if np.any(target) and _sweep_clear(points, v0, target, 0.0, floor, config):
                return Command(float(target[0]), float(target[1]), 0.0,
                               f"turn held, {scale:.0%} of the way on: an obstacle in view "
                               f"{float(np.min(start)):.2f} m from the footprint")
    # no translation is safe: back straight away from what is within the margin (a base
    # that ended up there, e.g. by a table standing nearer than the map says, would
    # otherwise stay trapped), else stop (turning on the spot only where that is clear)
    escape = _escape_direction(points, start, config)
    if escape is not None and _sweep_clear(points, v0, escape * config.escape_speed, 0.0,
                                           floor, config):
        velocity = escape * config.escape_speed
        return Command(float(velocity[0]), float(velocity[1]), 0.0,
                       f"backing away: an obstacle in view {float(np.min(start)):.2f} m "
                       "from the footprint")
    turn = command.wz if _sweep_clear(points, v0, np.zeros(2), command.wz, floor,
                                      config) else 0.0
    return Command(0.0, 0.0, turn, f"blocked: an obstacle in view "
                   f"{float(np.min(start)):.2f} m from the footprint")


def room_to_turn(points: np.ndarray, at: Sequence[float], config: MonitorConfig) -> bool:
    """Whether the footprint can turn on the spot at `at` (base frame): nothing seen
    within its corners' circle plus the margin."""
    radius = math.hypot(config.half_length, config.half_width) + config.margin
    return not len(points) or bool(np.min(np.hypot(points[:, 0] - at[0],
                                                   points[:, 1] - at[1])) > radius)


def _escape_direction(points: np.ndarray, distance: np.ndarray, config: MonitorConfig
                      ) -> np.ndarray | None:
    """Unit vector (base frame) away from the points within the margin (the sum of their
    directions from the nearest footprint point, reversed); None when none is within it."""
    near = points[distance < config.margin]
    if not len(near):
        return None
    edge = np.stack([np.clip(near[:, 0], -config.half_length, config.half_length),
                     np.clip(near[:, 1], -config.half_width, config.half_width)], axis=1)
    out = near - edge
    size = np.linalg.norm(out, axis=1)
    outward = out[size > 1e-6] / size[size > 1e-6, None]
    total = -outward.sum(axis=0)
    norm = float(np.linalg.norm(total))
    return total / norm if norm > 1e-6 else None


def _sweep_clear(points: np.ndarray, v0: np.ndarray, target: np.ndarray, wz: float,
                 floor: np.ndarray, config: MonitorConfig) -> bool:
    """Whether the footprint keeps every point at least its floor away while the base
    (velocities in its frame at the start) holds `v0` for the latency, changes to `target`
    at the base's acceleration and brakes to a stop, turning at `wz` (the points move the
    other way in the base's frame)."""
    x = y = yaw = t = 0.0
    velocity = v0.astype(float).copy()
    braking = False
    dt = config.step_s
    while True:
        if t >= config.latency_s:
            goal = np.zeros(2) if braking else target
            delta = goal - velocity
            size = float(np.linalg.norm(delta))
            if size <= config.decel * dt:
                velocity = goal.copy()
                if braking:
                    return True
                braking = True
            else:
                velocity = velocity + delta * (config.decel * dt / size)
        x += (velocity[0] * math.cos(yaw) - velocity[1] * math.sin(yaw)) * dt
        y += (velocity[0] * math.sin(yaw) + velocity[1] * math.cos(yaw)) * dt
        yaw += wz * dt
        t += dt
        c, s = math.cos(yaw), math.sin(yaw)
        rel = (points - np.array([x, y])) @ np.array([[c, -s], [s, c]])
        if np.any(footprint_distance(rel, config.half_length, config.half_width) < floor):
            return False


# --- giving way: a person walking into the standing base --------------------------------------
@dataclass(frozen=True)
class GiveWayConfig:
    horizon_s: float = 2.0           # s of each person's predicted walk looked at
    contact_m: float = 0.45          # a person's centre this near the footprint touches it
    #                                  (swinging legs: contacts measured with the torso
    #                                  0.28-0.41 m from the footprint, home_train cup runs)
    approach_m: float = 0.15         # ... when their walk brings them this much nearer too
    step_m: float = 0.5              # the base steps aside by up to this much (m)
    walk_on_m: float = 3.0           # a side step is scored against each walk carried on
    #                                  this far past its last prediction (a step along the
    #                                  person's way, ahead of them, is no way out)
    directions: int = 16             # candidate steps: this many headings, two lengths
    speed: float = 0.5               # m/s
    decel: float = BASE_MAX_LINEAR_ACCEL / 2.0
    arrive_m: float = 0.03
    step_limit_s: float = 3.0        # a step not done in this long ends where it got to
    return_wait_s: float = 20.0      # back where it stood within this long, else it stays
    half_length: float = BASE_FOOTPRINT[0] / 2.0
    half_width: float = BASE_FOOTPRINT[1] / 2.0


def walking_path(xy: Sequence[float], velocity: Sequence[float], age: float,
                 horizons: Sequence[float]) -> list[PredictedPerson]:
    """A person seen `age` s ago at `xy` walking on at `velocity` (m/s): where they are at
    each horizon (s) from now (the base scanner's legs have no other prediction)."""
    return [PredictedPerson(float(h), float(xy[0] + velocity[0] * (h + age)),
                            float(xy[1] + velocity[1] * (h + age))) for h in horizons]


def _gaps(pose: Sequence[float], points: np.ndarray, config: GiveWayConfig) -> np.ndarray:
    """Distance (m) of map points (n, 2) to the footprint of a base at `pose`."""
    return footprint_distance(in_frame_of(points.reshape(-1, 2), pose), config.half_length,
                              config.half_width)


def walking_into(pose: Sequence[float], paths: Sequence[Sequence[PredictedPerson]],
                 config: GiveWayConfig = GiveWayConfig()) -> float | None:
    """The nearest a person comes to the standing base's footprint (m) when their predicted
    walk (one path of predictions per person, times from now) brings them within
    `contact_m` of it and `approach_m` nearer than they are now; None when nobody does (a
    person standing or sitting close by, a hand-over's receiver, is no reason to move)."""
    nearest = None
    for path in paths:
        ahead = [p for p in path if p.t <= config.horizon_s]
        if not ahead:
            continue
        first = min(ahead, key=lambda p: p.t)
        gaps = _gaps(pose, np.array([[p.x, p.y] for p in ahead]), config)
        now = float(_gaps(pose, np.array([first.x, first.y]), config)[0])
        low = float(np.min(gaps))
        if low < config.contact_m and low < now - config.approach_m:
            nearest = low if nearest is None else min(nearest, low)
    return nearest


def give_way(grid: OccupancyMap, pose: Sequence[float],
             paths: Sequence[Sequence[PredictedPerson]],
             config: GiveWayConfig = GiveWayConfig()) -> tuple[float, float] | None:
    """Where (map x, y) the standing base steps to so that a person walking into it passes
    by: of the steps (up to `step_m`, heading unchanged) the map leaves room for, the one
    that keeps every predicted position (each walk carried on past the horizon) farthest
    from the footprint, if it gains at least 10 cm over standing still; None when nobody
    walks into the base or no step helps."""
    nearest = walking_into(pose, paths, config)
    if nearest is None:
        return None
    points = np.vstack([_walked_on(path, config) for path in paths])
    here = np.asarray(pose[:2], dtype=float)
    # a base that stands nearer to something than its radius (beside a table) may step
    # where it is no nearer
    room = min(ROBOT_RADIUS, grid.clearance(*here)) - 1e-3
    best, best_gap = None, float(np.min(_gaps(pose, points, config))) + 0.10
    for length in (config.step_m / 2.0, config.step_m):
        for k in range(config.directions):
            angle = 2.0 * math.pi * k / config.directions
            target = here + length * np.array([math.cos(angle), math.sin(angle)])
            if not _line_clear(grid, here, target, room):
                continue
            gap = float(np.min(_gaps((target[0], target[1], pose[2]), points, config)))
            if gap > best_gap + 1e-6:
                best, best_gap = (float(target[0]), float(target[1])), gap
    return best


def _walked_on(path: Sequence[PredictedPerson], config: GiveWayConfig) -> np.ndarray:
    """The walk's predicted positions within the horizon (n, 2), carried on along its
    last direction for `walk_on_m` (every 10 cm) when it moves."""
    ahead = sorted((p for p in path if p.t <= config.horizon_s), key=lambda p: p.t)
    points = np.array([[p.x, p.y] for p in ahead]).reshape(-1, 2)
    if len(points) < 2:
        return points
    direction = points[-1] - points[0]
    length = float(np.linalg.norm(direction))
    if length < 0.1:
        return points
    steps = np.arange(1, int(config.walk_on_m / 0.1) + 1)[:, None] * 0.1
    return np.vstack([points, points[-1] + steps * direction / length])


def step_towards(pose: Sequence[float], target: Sequence[float],
                 config: GiveWayConfig = GiveWayConfig()) -> Command | None:
    """The holonomic base's command towards `target` (map x, y; heading kept), slowing so it
    stops there; None once there."""
    offset = np.asarray(target, dtype=float) - np.asarray(pose[:2], dtype=float)
    distance = float(np.linalg.norm(offset))
    if distance <= config.arrive_m:
        return None
    speed = min(config.speed, math.sqrt(2.0 * config.decel * distance))
    c, s = math.cos(pose[2]), math.sin(pose[2])
    vx, vy = np.array([[c, s], [-s, c]]) @ (offset / distance * speed)
    return Command(float(vx), float(vy), 0.0,
                   f"giving way: {distance:.2f} m to the side step")


class SideStep:
    """Giving way between goals: standing -> stepping aside (to `give_way`'s target) ->
    back where the base stood once nobody is predicted to walk into it there (the planner's
    next arm skill expects the base where it sent it: a box's pick missed by 17 cm after a
    step that stayed, home_train seed 0) -> standing. Only while the arm is tucked in and
    idle: a base moving under an arm that reaches over a table drags it along what it
    reaches over, and an arm goal plans from where the base stands (a hand-over planned
    during a step was out of reach by 19 cm, home_train cup seed 0); an arm goal starting
    ends the step where it is. `note` says what it does."""

    def __init__(self, config: GiveWayConfig = GiveWayConfig()) -> None:
        self.config = config
        self.origin: tuple[float, float] | None = None
        self.target: tuple[float, float] = (0.0, 0.0)
        self.returning = False
        self.since = 0.0
        self.note = ""

    @property
    def active(self) -> bool:
        return self.origin is not None

    def cancel(self, why: str) -> None:
        if self.origin is not None:
            self.note = why
        self.origin, self.returning = None, False

    def step(self, t: float, pose: Sequence[float],
             walks: Sequence[Sequence[PredictedPerson]], grid: Callable[[], OccupancyMap],
             arm_idle: bool) -> Command | None:
        """The command for now; None: stand (nothing to do, or waiting to go back).
        `arm_idle`: the arm is tucked in and no arm goal runs. `grid` is asked only when
        someone walks into the base."""
        c = self.config
        if not arm_idle:
            self.cancel("stopped the side step: the arm is at work")
            return None
        if self.origin is None:
            if walking_into(pose, walks, c) is None:
                return None
            target = give_way(grid(), pose, walks, c)
            if target is None:
                return None
            self.origin, self.target = (float(pose[0]), float(pose[1])), target
            self.returning, self.since = False, t
            self.note = (f"a person is predicted to walk into the base at ({pose[0]:.2f}, "
                         f"{pose[1]:.2f}): stepping aside to ({target[0]:.2f}, "
                         f"{target[1]:.2f})")
        if not self.returning:
            command = step_towards(pose, self.target, c)
            if command is not None and t - self.since <= c.step_limit_s:
                return command
            # still in their way there (a person walking straight at the base, its long
            # side to them): another step, else wait there until they have passed
            further = give_way(grid(), pose, walks, c) if walking_into(pose, walks, c) \
                is not None else None
            if further is not None:
                self.target, self.since = further, t
                self.note = f"stepping further aside to ({further[0]:.2f}, {further[1]:.2f})"
                return step_towards(pose, further, c)
            self.returning, self.since = True, t
            self.note = f"stepped aside to ({pose[0]:.2f}, {pose[1]:.2f})"
        if t - self.since > c.return_wait_s:
            self.cancel(f"staying at ({pose[0]:.2f}, {pose[1]:.2f}): not back where it stood "
                        f"after {c.return_wait_s:.0f} s")
            return None
        there = (*self.origin, pose[2])
        points = [[p.x, p.y] for walk in walks for p in walk if p.t <= c.horizon_s]
        if points and float(np.min(_gaps(there, np.array(points), c))) < c.contact_m:
            return None                       # they are still on their way through
        command = step_towards(pose, self.origin, c)
        if command is None:
            self.cancel(f"back at ({pose[0]:.2f}, {pose[1]:.2f})")
            return None
        return replace(command, reason=command.reason.replace("to the side step",
                                                              "back to where it stood"))
