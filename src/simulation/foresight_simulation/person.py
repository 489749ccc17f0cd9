"""The home-care person: the co-worker's capsule figure with legs, living a scheduled day.

The schedule (places and dwell times from the family) becomes a timeline of phases: dwell
at a place (standing or seated), stand up, walk a collision-free route at the sampled speed
(accelerating and slowing over `WALK_RAMP_S`, legs swinging with the distance walked), turn
to face the place, sit down. `schedule_pose(t)` is a pure function of schedule time. A
hand-over is an overlay the room drives step by step (`HandoverArm`): the person stretches a
hand towards an offered object, takes it, and brings it back; while that lasts the schedule
clock is paused, so the person does not walk off mid hand-over. No rclpy, no MuJoCo.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foresight_common.room_layout import Furniture, PersonPlace
from foresight_simulation.scene import (
    ARM_REACH,
    FOREARM,
    HIP_HALF_WIDTH,
    HIP_HEIGHT,
    NECK_TO_HEAD,
    SHOULDER_DROP,
    SHOULDER_HALF_WIDTH,
    TORSO_LENGTH,
    UPPER_ARM,
    WRIST_TO_HAND,
    matrix_quat,
    quat_z_to,
    two_link_elbow,
)

THIGH = 0.45
SHIN = 0.45                      # knee to the floor (foot height folded in)
STAND_UP_S = 1.6
SIT_DOWN_S = 1.6
TURN_RATE = 2.0                  # rad/s when turning on the spot
WALK_RAMP_S = 0.6                # s to reach walking speed and to stop
CORNER_BLEND = 0.3               # m before and after a corner over which the heading turns
STRIDE = 1.3                     # m walked per full gait cycle (two steps)
THIGH_SWING = math.radians(22.0)
#: Clearance (m) a walking route keeps from furniture footprints (the figure's half width
#: plus a little).
ROUTE_CLEARANCE = 0.30
#: Resting hand in the torso frame (forward, left, up from the hip), standing and seated.
REST_HAND_STAND = (0.05, 0.22, 0.05)
REST_HAND_SIT = (0.28, 0.16, 0.12)
PERSON_SEGMENTS = ("torso", "head", "left_upper_arm", "left_forearm", "left_hand",
                   "right_upper_arm", "right_forearm", "right_hand", "left_thigh",
                   "left_shin", "right_thigh", "right_shin")


def _segment_blocked(a: Sequence[float], b: Sequence[float],
                     obstacles: Sequence[Furniture], clearance: float) -> bool:
    """Whether the straight walk a -> b passes within `clearance` of a footprint (sampled
    every 5 cm: footprints are tens of cm wide)."""
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    steps = max(2, int(length / 0.05) + 1)
    for k in range(steps + 1):
        s = k / steps
        x, y = a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1])
        if any(f.contains_xy(x, y, clearance) for f in obstacles):
            return True
    return False


def plan_route(start: Sequence[float], goal: Sequence[float],
               waypoints: Sequence[Sequence[float]], obstacles: Sequence[Furniture],
               clearance: float = ROUTE_CLEARANCE) -> list[tuple[float, float]]:
    """Shortest polyline start -> goal over the visibility graph of the waypoints. Places sit
    next to their furniture (a chair's seat is inside the chair): furniture within the
    clearance of an end point is not an obstacle of the route (one steps out of a chair)."""
    nodes = [tuple(start), tuple(goal)] + [tuple(w) for w in waypoints]
    free = [f for f in obstacles if not (f.contains_xy(*start, clearance)
                                         or f.contains_xy(*goal, clearance))]

    def visible(i: int, j: int) -> bool:
        return not _segment_blocked(nodes[i], nodes[j], free, clearance)

    dist = {0: 0.0}
    previous: dict[int, int] = {}
    queue = [(0.0, 0)]
    while queue:
        d, i = heapq.heappop(queue)
        if i == 1:
            break
        if d > dist.get(i, math.inf):
            continue
        for j in range(len(nodes)):
            if j == i or not visible(i, j):
                continue
            nd = d + math.dist(nodes[i], nodes[j])
            if nd < dist.get(j, math.inf):
                dist[j], previous[j] = nd, i
                heapq.heappush(queue, (nd, j))
    if 1 not in dist:
        raise ValueError(f"no walking route from {tuple(round(v, 2) for v in start)} to "
                         f"{tuple(round(v, 2) for v in goal)} through the room's waypoints")
    route = [1]
    while route[-1] != 0:
        route.append(previous[route[-1]])
    return [(float(nodes[i][0]), float(nodes[i][1])) for i in reversed(route)]


@dataclass(frozen=True)
class Phase:
    kind: str               # dwell | stand_up | walk | turn | sit_down
    t0: float
    t1: float
    place: PersonPlace      # the place of a dwell/stand/sit, the destination of a walk/turn
    route: tuple[tuple[float, float], ...] = ()
    yaw0: float = 0.0       # heading at t0 and t1 (turns)
    yaw1: float = 0.0


@dataclass(frozen=True)
class SchedulePose:
    xy: np.ndarray
    yaw: float
    sit: float              # 0 standing .. 1 seated
    gait_phase: float       # rad; legs swing with sin(gait_phase)
    gait: float             # 0 .. 1: swing amplitude (the share of walking speed)
    place: str              # the place the person is at or heading to


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def _walk_distance(t: float, length: float, speed: float) -> float:
    """Distance walked after t s of a walk of `length` m: a smooth speed ramp up and down
    over WALK_RAMP_S (smoothstep of the speed), cruise in between."""
    ramp = min(WALK_RAMP_S, length / speed)   # short walks never reach full speed for long
    cruise_t = max(length - speed * ramp, 0.0) / speed
    total = 2 * ramp + cruise_t               # each ramp covers speed * ramp / 2

    def ramp_distance(tau: float) -> float:  # integral of smoothstep speed over [0, tau]
        u = min(max(tau / ramp, 0.0), 1.0)
        return speed * ramp * (u ** 3 - u ** 4 / 2.0)

    if t <= ramp:
        return ramp_distance(t)
    if t <= ramp + cruise_t:
        return speed * ramp / 2.0 + speed * (t - ramp)
    left = total - t
    return length - ramp_distance(max(left, 0.0))


def walk_duration(length: float, speed: float) -> float:
    ramp = min(WALK_RAMP_S, length / speed)
    return 2 * ramp + max(length - speed * ramp, 0.0) / speed


class PersonSchedule:
    """The timeline of one person's day (schedule time, seconds)."""

    def __init__(self, places: Sequence[PersonPlace], start: str,
                 visits: Sequence[tuple[str, float]], walk_speed: float,
                 waypoints: Sequence[Sequence[float]], obstacles: Sequence[Furniture]) -> None:
        by_name = {p.name: p for p in places}
        self.walk_speed = walk_speed
        self.phases: list[Phase] = []
        here = by_name[start]
        t = 0.0
        yaw = here.yaw
        for k, (name, dwell) in enumerate(visits):
            place = by_name[name]
            if k > 0:
                if here.posture == "sit":
                    self.phases.append(Phase("stand_up", t, t + STAND_UP_S, here))
                    t += STAND_UP_S
                route = tuple(plan_route(here.xy, place.xy, waypoints, obstacles))
                heading = math.atan2(route[1][1] - route[0][1], route[1][0] - route[0][0])
                t = self._turn(t, here, yaw, heading)
                length = sum(math.dist(a, b) for a, b in zip(route, route[1:], strict=False))
                duration = walk_duration(length, walk_speed)
                self.phases.append(Phase("walk", t, t + duration, place, route))
                t += duration
                yaw = math.atan2(route[-1][1] - route[-2][1], route[-1][0] - route[-2][0])
                t = self._turn(t, place, yaw, place.yaw)
                yaw = place.yaw
                if place.posture == "sit":
                    self.phases.append(Phase("sit_down", t, t + SIT_DOWN_S, place))
                    t += SIT_DOWN_S
            self.phases.append(Phase("dwell", t, t + dwell, place))
            t += dwell
            here = place
        self._starts = [p.t0 for p in self.phases]
        self.end = t

    def _turn(self, t: float, place: PersonPlace, yaw0: float, yaw1: float) -> float:
        """Append a turn on the spot from yaw0 to yaw1; returns its end time."""
        duration = abs(_wrap(yaw1 - yaw0)) / TURN_RATE
        if duration > 1e-6:
            self.phases.append(Phase("turn", t, t + duration, place, yaw0=yaw0, yaw1=yaw1))
        return t + duration

    def phase_at(self, t: float) -> Phase:
        i = max(bisect.bisect_right(self._starts, t) - 1, 0)
        return self.phases[i]

    def pose(self, t: float) -> SchedulePose:
        phase = self.phase_at(min(t, self.end - 1e-9))
        place = phase.place
        seated = 1.0 if place.posture == "sit" else 0.0
        if phase.kind == "dwell":
            return SchedulePose(np.array(place.xy), place.yaw, seated, 0.0, 0.0, place.name)
        u = min(max((t - phase.t0) / max(phase.t1 - phase.t0, 1e-9), 0.0), 1.0)
        smooth = u * u * (3.0 - 2.0 * u)
        if phase.kind == "stand_up":
            return SchedulePose(np.array(place.xy), place.yaw, 1.0 - smooth, 0.0, 0.0,
                                place.name)
        if phase.kind == "sit_down":
            return SchedulePose(np.array(place.xy), place.yaw, smooth, 0.0, 0.0, place.name)
        if phase.kind == "turn":
            yaw = phase.yaw0 + smooth * _wrap(phase.yaw1 - phase.yaw0)
            return SchedulePose(np.array(place.xy), yaw, 0.0, 0.0, 0.0, place.name)
        # walk
        length = self._route_length(phase)
        walked = _walk_distance(t - phase.t0, length, self.walk_speed)
        eps = 0.01
        speed = (_walk_distance(t - phase.t0 + eps, length, self.walk_speed)
                 - _walk_distance(t - phase.t0 - eps, length, self.walk_speed)) / (2 * eps)
        xy, heading = self._along(phase.route, walked)
        return SchedulePose(xy, heading, 0.0, 2.0 * math.pi * walked / STRIDE,
                            min(speed / self.walk_speed, 1.0), place.name)

    @staticmethod
    def _route_length(phase: Phase) -> float:
        return sum(math.dist(a, b) for a, b in zip(phase.route, phase.route[1:], strict=False))

    @staticmethod
    def _along(route: Sequence[tuple[float, float]], distance: float
               ) -> tuple[np.ndarray, float]:
        """Point and heading `distance` m along the polyline; the heading turns smoothly over
        the CORNER_BLEND m before and after a corner (people round corners)."""
        left = distance
        for k, (a, b) in enumerate(zip(route, route[1:], strict=False)):
            seg = math.dist(a, b)
            if left <= seg or k == len(route) - 2:
                s = min(left / max(seg, 1e-9), 1.0)
                xy = np.array([a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1])])
                heading = math.atan2(b[1] - a[1], b[0] - a[0])
                blend = min(CORNER_BLEND, seg / 2.0)
                if k + 2 < len(route) and seg - left < blend:
                    c = route[k + 2]
                    turn = _wrap(math.atan2(c[1] - b[1], c[0] - b[0]) - heading)
                    heading += 0.5 * (1.0 - (seg - left) / blend) * turn
                if k > 0 and left < blend:
                    p = route[k - 1]
                    turn = _wrap(math.atan2(a[1] - p[1], a[0] - p[0]) - heading)
                    heading += 0.5 * (1.0 - left / blend) * turn
                return xy, heading
            left -= seg
        return np.array(route[-1]), 0.0


class HandoverArm:
    """The reaching hand of a hand-over, advanced step by step: a critically damped
    second-order follower towards the target (the offered object), with its speed capped at
    the person's reach speed. Positions are world frame."""

    def __init__(self, hand: str, start: np.ndarray, max_speed: float) -> None:
        self.hand = hand
        self.position = np.array(start, dtype=float)
        self.velocity = np.zeros(3)
        self.max_speed = max_speed
        self.omega = 4.0               # rad/s: ~1 s to settle on a still target

    def step(self, target: np.ndarray, dt: float) -> None:
        accel = self.omega ** 2 * (target - self.position) - 2.0 * self.omega * self.velocity
        self.velocity += accel * dt
        speed = float(np.linalg.norm(self.velocity))
        if speed > self.max_speed:
            self.velocity *= self.max_speed / speed
        self.position += self.velocity * dt


def body_poses(pose: SchedulePose, reaching: HandoverArm | None = None
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """World pose (position, quat wxyz) of every segment; capsule bodies sit at their
    segment's centre with z along it; hands at the hand centre (the hand site)."""
    yaw = pose.yaw
    facing = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    left = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    base = np.array([pose.xy[0], pose.xy[1], 0.0])
    sit = pose.sit
    # hip height: standing HIP_HEIGHT; seated on the seat (thigh horizontal at knee height)
    hip_z = (1.0 - sit) * HIP_HEIGHT + sit * SHIN
    # walking bobs the hips a little
    hip_z -= 0.02 * pose.gait * abs(math.sin(pose.gait_phase))
    hip = base + up * hip_z - facing * sit * 0.15
    torso_rot = np.stack([facing, left, up], axis=1)
    torso_quat = matrix_quat(torso_rot)
    poses: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "torso": (hip + up * (TORSO_LENGTH / 2.0), torso_quat),
        "head": (hip + up * (TORSO_LENGTH + NECK_TO_HEAD), torso_quat),
    }
    for name, side in (("left", 1.0), ("right", -1.0)):
        hip_joint = hip + left * side * HIP_HALF_WIDTH
        swing = pose.gait * THIGH_SWING * math.sin(pose.gait_phase
                                                   + (0.0 if side > 0 else math.pi))
        thigh_angle = sit * (math.pi / 2.0) + (1.0 - sit) * swing  # from straight down
        knee = hip_joint + THIGH * (math.cos(thigh_angle) * -up + math.sin(thigh_angle) * facing)
        # standing: the shin continues the thigh, bending a little in the swing phase;
        # seated: straight down to the floor
        bend = max(0.0, -swing) * 1.2
        shin_angle = (1.0 - sit) * (thigh_angle - bend)
        foot = knee + SHIN * (math.cos(shin_angle) * -up + math.sin(shin_angle) * facing)
        poses[f"{name}_thigh"] = ((hip_joint + knee) / 2.0, quat_z_to(knee - hip_joint))
        poses[f"{name}_shin"] = ((knee + foot) / 2.0, quat_z_to(foot - knee))
        shoulder = hip + up * (TORSO_LENGTH - SHOULDER_DROP) + left * side * SHOULDER_HALF_WIDTH
        rest = [(1.0 - sit) * a + sit * b for a, b in zip(REST_HAND_STAND, REST_HAND_SIT,
                                                           strict=True)]
        arm_swing = -0.15 * swing / THIGH_SWING
        hand_pos = hip + facing * (rest[0] + arm_swing) + left * side * rest[1] + up * rest[2]
        if reaching is not None and reaching.hand == name:
            hand_pos = reaching.position.copy()
        pole = -up + 0.6 * side * left - 0.2 * facing
        elbow = two_link_elbow(shoulder, hand_pos, UPPER_ARM, FOREARM + WRIST_TO_HAND, pole)
        fore_dir = hand_pos - elbow
        fore_dir = fore_dir / max(float(np.linalg.norm(fore_dir)), 1e-9)
        wrist = elbow + fore_dir * FOREARM
        poses[f"{name}_upper_arm"] = ((shoulder + elbow) / 2.0, quat_z_to(elbow - shoulder))
        poses[f"{name}_forearm"] = ((elbow + wrist) / 2.0, quat_z_to(fore_dir))
        poses[f"{name}_hand"] = (np.array(hand_pos, dtype=float), quat_z_to(fore_dir))
    return poses


def shoulder_position(pose: SchedulePose, hand: str) -> np.ndarray:
    yaw = pose.yaw
    facing = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    left = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    side = 1.0 if hand == "left" else -1.0
    hip_z = (1.0 - pose.sit) * HIP_HEIGHT + pose.sit * SHIN
    hip = np.array([pose.xy[0], pose.xy[1], hip_z]) - facing * pose.sit * 0.15
    return hip + np.array([0, 0, TORSO_LENGTH - SHOULDER_DROP]) + left * side * \
        SHOULDER_HALF_WIDTH


def clip_to_reach(shoulder: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The point nearest `target` the hand can reach from `shoulder` (97 % of the arm)."""
    delta = target - shoulder
    dist = float(np.linalg.norm(delta))
    limit = 0.97 * ARM_REACH
    return target.copy() if dist <= limit else shoulder + delta * (limit / dist)
