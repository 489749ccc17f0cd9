"""Speed and separation monitoring in the spirit of ISO/TS 15066: the executor's safety
supervisor keeps the robot at least the protective separation distance S_p away from every
perceived or predicted person point, slowing the robot near people and stopping it inside S_p.

    S_p(v_r) = v_h (T_r + T_s) + v_r T_r + B + C + Z_d + Z_r,  T_s = v_r / a,  B = v_r^2 / 2a

v_h is the person's speed (a hand near the robot moves faster), v_r the robot's speed, T_r
the supervisor's reaction time (this loop and the stop command; how old each person point
is, from its image or scan stamp, widens that point's region by a hand's way in that time
instead), a the arm's deceleration, C the intrusion distance, Z_d the perception
uncertainty, Z_r the robot's position uncertainty. Because S_p grows with v_r, a robot may
work close to a person if it moves slowly: `allowed_speed` is the largest v_r whose S_p
still fits the separation.
Distances are between spheres standing in for robot links and person points. No rclpy here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class SafetyLevel(enum.IntEnum):
    OK = 0
    SLOW = 1
    STOP = 2


@dataclass(frozen=True)
class SsmConfig:
    human_speed_mps: float = 1.6
    hand_speed_mps: float = 2.0
    hand_near_m: float = 0.5
    reaction_time_s: float = 0.1  # this loop + the stop command (point ages: see _reach)
    deceleration_mps2: float = 2.5
    intrusion_m: float = 0.05
    sensor_uncertainty_m: float = 0.03
    robot_uncertainty_m: float = 0.01
    nominal_speed_mps: float = 1.0  # robot point speed at speed scale 1 (for scaling)
    min_speed_scale: float = 0.02  # below this the robot stops instead of crawling (at
    #                                0.05 the arm stopped and restarted every second while
    #                                inserting into the far holes next to a co-worker at rest)
    resume_after_s: float = 0.5  # clear for this long before moving again
    robot_radius_m: float = 0.08  # sphere around each robot point (the hand is wide)
    body_extent_m: float = 0.45  # how far behind a seen forearm the unseen body reaches
    hand_radius_m: float = 0.05
    body_radius_m: float = 0.12
    scan_radius_m: float = 0.05  # the scanner's plane cuts the forearm; the hand below it
    #                              may stand out by about its own radius
    legs_radius_m: float = 0.35  # around a person found by their legs alone: the torso
    #                              and the arms hanging beside it (shoulders 0.2-0.25 m off
    #                              the body's axis, hands swinging ahead of it)
    body_scan_radius_m: float = 0.02  # a torso's outline is its surface at the plane's
    #                                   height (a standing torso is about as deep above it)
    scan_cluster_gap_m: float = 0.15  # scan points farther apart belong to different things
    body_min_width_m: float = 0.12  # a scan cluster this wide is a body (a torso's front;
    #                                 an arm's cut is narrower)
    protrusion_m: float = 0.08  # what stands out of a body's outline this far may be a hand
    reach_start_speed_mps: float = 0.2  # an arm cut advancing this fast starts a reach
    reach_memory_s: float = 0.4  # how long a reach start counts at least ...
    reach_memory_max_s: float = 1.0  # ... and at most, while the camera has not measured a
    #                                  hand since it (a violation: the camera's track of
    #                                  the hand was 0.21 s old 0.55 s into a reach)


@dataclass(frozen=True)
class SafetyVerdict:
    level: SafetyLevel
    separation_m: float
    protective_distance_m: float
    speed_scale: float
    closest: str
    reason: str
    allowed_speed_mps: float = math.inf  # fastest robot point speed allowed now
    robot_point: tuple[float, ...] | None = None   # the closest pair (world, m): for markers
    person_point: tuple[float, ...] | None = None


def protective_distance(robot_speed: float, human_speed: float, config: SsmConfig) -> float:
    c = config
    stopping_time = robot_speed / c.deceleration_mps2
    return (human_speed * (c.reaction_time_s + stopping_time) + robot_speed * c.reaction_time_s
            + robot_speed ** 2 / (2.0 * c.deceleration_mps2) + c.intrusion_m
            + c.sensor_uncertainty_m + c.robot_uncertainty_m)


def allowed_speed(separation: float, human_speed: float, config: SsmConfig) -> float:
    """Largest robot speed v with S_p(v) <= separation (0 when even standing still is too
    close): the positive root of v^2/2a + v (v_h/a + T_r) + (S_p(0) - separation) = 0."""
    c = config
    constant = protective_distance(0.0, human_speed, c) - separation
    if constant >= 0.0:
        return 0.0
    a = 1.0 / (2.0 * c.deceleration_mps2)
    b = human_speed / c.deceleration_mps2 + c.reaction_time_s
    return (-b + math.sqrt(b * b - 4.0 * a * constant)) / (2.0 * a)


def collaborative_cap(separation: float | np.ndarray, cap: float, zone_m: float
                      ) -> float | np.ndarray:
    """The speed cap of a hand-over (power and force limiting, ISO/TS 15066) where the
    robot is within `zone_m` of the person (separation, m; unknown counts as within), where
    their hand may touch it; none farther off, where speed and separation monitoring alone
    keeps the robot from reaching them (the whole offer at the cap took 8-29 s from the
    stowed arm while the person stood 15-40 s in one place, home_train cup seeds 0-2)."""
    near = ~(np.asarray(separation, dtype=float) >= zone_m)
    capped = np.where(near, cap, math.inf)
    return float(capped) if np.ndim(capped) == 0 else capped


def finger_hold_width(target: float | None, width: float, finger_speed: float,
                      moving_mps: float) -> float | None:
    """Where a protective stop holds the fingers (m), or None to leave their command: only
    fingers opening (`target` wider than `width`, sliding faster than `moving_mps`) stop
    where they are. A stop never loosens a grip: fingers commanded closed squeeze what they
    hold, and a squeezing finger jiggles past any speed threshold while the arm brakes
    (holding it at its measured width took the squeeze away and the medicine box turned
    50 degrees in the hand, home_smoke seed 0: it came down on its side)."""
    if target is None or finger_speed <= moving_mps or target <= width:
        return None
    return width


SCAN_PREFIX = "scan/"  # person points measured by a laser scanner: on the body's surface
BODY_SCAN_PREFIX = "scan_body/"  # ... on the outline of a body (no hand there)
LEGS_PREFIX = "legs/"  # points over the legs of a person a base scanner found (the camera
#                        does not see them): their whole body may be legs_radius_m around


def is_scanned(name: str) -> bool:
    return name.startswith((SCAN_PREFIX, BODY_SCAN_PREFIX))


def person_radius(name: str, config: SsmConfig) -> float:
    if name.startswith(LEGS_PREFIX):
        return config.legs_radius_m
    if name.startswith(BODY_SCAN_PREFIX):
        return config.body_scan_radius_m
    if is_scanned(name):
        return config.scan_radius_m
    return config.hand_radius_m if "hand" in name else config.body_radius_m


def may_be_hand(name: str) -> bool:
    """Scan points count as hands near the robot unless they lie on a body's outline."""
    return "hand" in name or name.startswith(SCAN_PREFIX)


def on_body_outline(points: np.ndarray, origin: np.ndarray, yaw: float, config: SsmConfig
                    ) -> np.ndarray:
    """Which scan points (in ray order) lie on the outline of a body rather than on
    something that may be a hand: a cluster as wide as a torso is a body, except for points
    that stand out of it towards the scanner (an arm held out); narrow clusters (an arm, a
    hand) are not. Hands move faster than bodies, so this decides the speed that counts.
    `origin` and `yaw`: the scanner's position and the direction it faces."""
    body = np.zeros(len(points), dtype=bool)
    if len(points) == 0:
        return body
    flat = np.asarray(points, dtype=float)[:, :2]
    depth, clusters = scan_clusters(points, origin, yaw, config)
    for cluster in clusters:
        if np.linalg.norm(flat[cluster[-1]] - flat[cluster[0]]) < config.body_min_width_m:
            continue
        front = float(np.median(depth[cluster]))
        body[cluster] = depth[cluster] > front - config.protrusion_m
    return body


def scan_clusters(points: np.ndarray, origin: np.ndarray, yaw: float, config: SsmConfig
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each scan point's depth along the direction the scanner faces, and the clusters
    (index arrays, in ray order) that gaps wider than `scan_cluster_gap_m` separate."""
    flat = np.asarray(points, dtype=float)[:, :2]
    depth = (flat - np.asarray(origin, dtype=float)[:2]) @ np.array([math.cos(yaw),
                                                                     math.sin(yaw)])
    splits = np.flatnonzero(np.linalg.norm(np.diff(flat, axis=0), axis=1) >
                            config.scan_cluster_gap_m) + 1
    return depth, np.split(np.arange(len(points)), splits)


class ReachWatch:
    """Reach starts seen by the safety scanner. Its plane cuts the co-worker's forearm: it
    follows the hand for the first ~0.25 s of a reach, then the hand dips below the plane
    and leaves the scanned half-plane towards the bench while the cut stays behind
    (measured in the simulated cell: the scan then puts the hand up to 0.4 m farther from
    the robot than it is), and the camera sees it only some 0.15 s later. So an arm cut
    that advances towards the robot marks where a hand set off and when: the supervisor
    counts a hand that may have moved from there at hand speed ever since, for
    `reach_memory_s`, and longer (up to `reach_memory_max_s`) until the camera has measured
    a hand after the reach set off."""

    def __init__(self, config: SsmConfig) -> None:
        self.config = config
        self._fronts: np.ndarray = np.zeros((0, 3))
        self._stamp = -math.inf
        self.starts: list[tuple[np.ndarray, float]] = []  # (where, when)

    def update(self, points: np.ndarray, stamp: float, origin: np.ndarray, yaw: float,
               hand_measured_at: float = -math.inf) -> list[tuple[np.ndarray, float]]:
        """Feed one scan (world points in ray order; all of them: an arm close to the
        body merges with its outline); returns the reach starts still counting at
        `stamp`. `hand_measured_at`: the image stamp of the camera's latest measurement of a
        hand."""
        c = self.config
        if stamp <= self._stamp:
            return self.starts
        facing = np.array([math.cos(yaw), math.sin(yaw)])
        fronts = scan_cluster_fronts(points, origin, yaw, c)
        dt = stamp - self._stamp
        if len(fronts) and len(self._fronts) and 0.0 < dt <= 0.2:
            for front in fronts:
                gaps = np.linalg.norm(self._fronts[:, :2] - front[:2], axis=1)
                k = int(np.argmin(gaps))
                advance = float((self._fronts[k, :2] - front[:2]) @ facing) / dt
                if gaps[k] < c.scan_cluster_gap_m and advance > c.reach_start_speed_mps:
                    self.starts.append((front.copy(), stamp))
        self._fronts, self._stamp = fronts, stamp
        self.starts = [(p, t) for p, t in self.starts if stamp - t <= c.reach_memory_s or
                       (stamp - t <= c.reach_memory_max_s and hand_measured_at <= t)]
        return self.starts


def scan_cluster_fronts(points: np.ndarray, origin: np.ndarray, yaw: float,
                        config: SsmConfig) -> np.ndarray:
    """For each cluster of scan points (in ray order), its point nearest the scanner along
    the direction it faces (it stands at the bench's edge looking away from the robot at
    the co-worker's station: that is the part nearest the robot)."""
    if len(points) == 0:
        return np.zeros((0, 3))
    depth, clusters = scan_clusters(points, origin, yaw, config)
    return np.array([points[cluster[int(np.argmin(depth[cluster]))]] for cluster in clusters])


def point_age(name: str, people_age_s: float, scan_age_s: float,
              point_ages: Mapping[str, float] | None) -> float:
    """How old a person point's position is: its own age when known (a body point added
    behind a forearm is as old as the forearm), else that of its source."""
    if point_ages:
        if name in point_ages:
            return point_ages[name]
        person, _, part = name.rpartition("/")
        side, found, _index = part.partition("_body_")
        if found and f"{person}/{side}_arm" in point_ages:
            return point_ages[f"{person}/{side}_arm"]
    return scan_age_s if is_scanned(name) else people_age_s


def with_unseen_body(people: dict[str, np.ndarray], config: SsmConfig
                     ) -> dict[str, np.ndarray]:
    """Add points for the parts of a person the camera does not see: the upper arm and the
    shoulder lie behind a seen forearm, along the line from the hand through it (an
    overhead camera sees hands and forearms over the bench, rarely the torso)."""
    points = dict(people)
    for name, arm in people.items():
        person, _, part = name.rpartition("/")
        side = part.removesuffix("_arm")
        if not part.endswith("_arm"):
            continue
        hand = people.get(f"{person}/{side}_hand")
        if hand is None:
            continue
        direction = np.asarray(arm, dtype=float) - np.asarray(hand, dtype=float)
        length = float(np.linalg.norm(direction))
        if length < 1e-6:
            continue
        for k, step in enumerate(np.linspace(0.15, config.body_extent_m, 3)):
            points[f"{person}/{side}_body_{k}"] = arm + direction / length * step
    return points


class SpeedSeparationMonitor:
    """Stateful only for hysteresis: after a stop, the robot's surroundings must stay clear
    for `resume_after_s` before motion may resume."""

    def __init__(self, config: SsmConfig) -> None:
        self.config = config
        self._clear_since: float | None = 0.0
        self._stopped = False

    def evaluate(self, now: float, robot_points: np.ndarray, robot_speed: float,
                 people: dict[str, np.ndarray],
                 predicted: dict[str, np.ndarray] | None = None,
                 people_age_s: float = 0.0, scan_age_s: float = 0.0,
                 point_ages: Mapping[str, float] | None = None) -> SafetyVerdict:
        """`robot_points` (n, 3) along the arm; `people` name -> current position;
        `predicted` name -> (m, 3) predicted positions within the reaction/stopping window
        (the world model's), so an approaching hand slows the robot before it arrives.
        `people_age_s` / `scan_age_s`: how old the tracked / scanned positions are (image or
        scan stamp to now): a hand may have come that much closer at hand speed since;
        `point_ages` overrides them per point (a hand the arm hides was measured earlier)."""
        c = self.config
        separation, closest = np.inf, ""
        people = with_unseen_body(people, c)
        for name, position in people.items():
            candidates = [np.asarray(position, dtype=float)]
            if predicted and name in predicted:
                candidates.extend(np.asarray(predicted[name], dtype=float))
            age = point_age(name, people_age_s, scan_age_s, point_ages)
            reach = self._reach(name, age)
            for k, point in enumerate(candidates):
                gaps = np.linalg.norm(robot_points - point, axis=1) - c.robot_radius_m - reach
                gap = float(np.min(gaps))
                if gap < separation:
                    separation, closest = gap, name
                    # what grew the person's region: the point's age, or a prediction
                    where = (f"{'predicted at' if k else 'at'} {np.round(point, 2).tolist()}"
                             f" (measured {age:.2f} s ago)")
                    robot_at = np.round(robot_points[int(np.argmin(gaps))], 2).tolist()
                    pair = (tuple(robot_points[int(np.argmin(gaps))].tolist()),
                            tuple(point.tolist()))
        if not np.isfinite(separation):
            return self._verdict(now, SafetyLevel.OK, separation, 0.0, 1.0, "", "no person",
                                 math.inf)
        human = c.hand_speed_mps if (may_be_hand(closest) and separation < c.hand_near_m) \
            else c.human_speed_mps
        s_p = protective_distance(robot_speed, human, c)
        limit = allowed_speed(separation, human, c)
        scale = min(1.0, limit / c.nominal_speed_mps)
        if separation < s_p or scale < c.min_speed_scale:
            return self._verdict(now, SafetyLevel.STOP, separation, s_p, 0.0, closest,
                                 f"{closest} {where} {separation:.2f} m from the robot at "
                                 f"{robot_at}, S_p {s_p:.2f} m at {robot_speed:.2f} m/s",
                                 limit, pair)
        if scale < 1.0:
            return self._verdict(now, SafetyLevel.SLOW, separation, s_p, scale, closest,
                                 f"{closest} {separation:.2f} m away: at most "
                                 f"{limit:.2f} m/s", limit, pair)
        return self._verdict(now, SafetyLevel.OK, separation, s_p, 1.0, closest, "clear",
                             limit, pair)

    def allowed_each(self, robot_points: list[np.ndarray], people: dict[str, np.ndarray],
                     people_age_s: float = 0.0, scan_age_s: float = 0.0,
                     margin_m: float = 0.0, point_ages: Mapping[str, float] | None = None
                     ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Fastest robot speed (m/s) that keeps S_p at each sample of a path (robot points
        per sample), with people where they are now (inf where nobody is around), the
        closest person point at each sample and the separation there (m). Ages as in
        `evaluate`; `margin_m` plans that much farther off than needed, so that the monitor
        does not stop the motion at once."""
        c = self.config
        people = with_unseen_body(people, c)
        if not people:
            return (np.full(len(robot_points), math.inf), [""] * len(robot_points),
                    np.full(len(robot_points), math.inf))
        names = list(people)
        spots = np.array([people[n] for n in names])
        radii = np.array([self._reach(n, point_age(n, people_age_s, scan_age_s, point_ages))
                          for n in names]) + margin_m
        limits = np.empty(len(robot_points))
        separations = np.empty(len(robot_points))
        closest_names: list[str] = []
        for i, points in enumerate(robot_points):
            gaps = np.linalg.norm(points[:, None, :] - spots[None, :, :], axis=2) - \
                c.robot_radius_m - radii[None, :]
            flat = int(np.argmin(gaps))
            separation = separations[i] = float(gaps.flat[flat])
            closest = names[flat % len(names)]
            human = c.hand_speed_mps if (may_be_hand(closest) and separation < c.hand_near_m) \
                else c.human_speed_mps
            limits[i] = allowed_speed(separation, human, c)
            closest_names.append(f"{closest} at {np.round(spots[flat % len(names)], 2).tolist()}"
                                 f" {separation:.2f} m")
        return limits, closest_names, separations

    def _reach(self, name: str, age: float) -> float:
        """How far around a person point the person may be now: its radius plus the way a
        hand covers in `age` s, since the point was measured."""
        return person_radius(name, self.config) + self.config.hand_speed_mps * max(age, 0.0)

    def stale(self, now: float, what: str) -> SafetyVerdict:
        """Inputs went stale: stop (a watchdog, not a measurement)."""
        return self._verdict(now, SafetyLevel.STOP, float("nan"), float("nan"), 0.0, "",
                             f"{what} stale", 0.0)

    def _verdict(self, now: float, level: SafetyLevel, separation: float, s_p: float,
                 scale: float, closest: str, reason: str, limit: float,
                 pair: tuple[tuple[float, ...], tuple[float, ...]] | None = None
                 ) -> SafetyVerdict:
        if level == SafetyLevel.STOP:
            self._stopped = True
            self._clear_since = None
        elif self._stopped:
            if self._clear_since is None:
                self._clear_since = now
            if now - self._clear_since < self.config.resume_after_s:
                level, scale = SafetyLevel.STOP, 0.0
                reason = f"clear for {now - self._clear_since:.1f} s, resuming soon ({reason})"
            else:
                self._stopped = False
        return SafetyVerdict(level, separation, s_p, scale, closest, reason,
                             0.0 if level == SafetyLevel.STOP else limit,
                             *(pair if pair is not None else (None, None)))
