"""Multi-object and person tracking for the world model (pure numpy/scipy, no rclpy).

What it does, per camera frame (`MultiObjectTracker.update`):

1. Every track is predicted to the frame's stamp with a constant-velocity Kalman filter
   (position + velocity, 3D); yaw has its own scalar filter with wrap-around. A track held by
   the gripper is moved with the TCP instead (control input), so it follows the arm even
   while the gripper hides it from the camera.
2. Detections are associated to tracks of the *same label* only (Hungarian assignment on the
   squared Mahalanobis distance, with a chi-square gate, a small Euclidean "always accept"
   radius against over-confident filters and a hard Euclidean cap).
3. Matched tracks are updated; unmatched detections start tentative tracks, confirmed after
   `birth_hits` hits (people after `person_birth_hits`: at first sight by default); tracks
   without detections age and die after `death_misses` misses --
   except while *occluded*: a track whose line of sight from the camera passes through the
   arm (capsules around the links, from forward kinematics of the joint states, handed in
   as plain arrays, plus `occlusion_margin_m`) keeps its id and is not aged, so ids survive
   the arm passing over a part; a part held by the gripper is occluded by definition.
   Whatever association leaves over is tried once more by distance alone (a part that
   landed in the bin or was dropped keeps its id; its motion state starts over).
4. Each object track gets a motion class: interacting (within `interact_radius_m` of the
   TCP), conveyor (on the belt and moving along it), static (slower than
   `static_speed_mps` for `static_hold_s`), else unknown (moving, e.g. falling). Classes
   are decided on a least-squares velocity over the last second of measurements, not on
   the filter's velocity (which is as noisy as the class's process noise allows).

People are tracked separately: one track per person (associated by the centroid of their
keypoints, the torso when seen) with one filter per named keypoint ("left_hand",
"right_hand", "torso", ...): a two-model IMM (resting / moving), since a hand rests most of
the time and then accelerates at several m/s^2. A keypoint the arm hides is kept where it
was last measured (up to `keypoint_max_hidden_s`), and so is a person the arm hides
entirely. The camera may move (a robot's head camera): each frame can name where it was.

Everything that leaves the tracker is a frozen `TrackEstimate` / `PersonEstimate` snapshot:
the node converts them to messages, the predictors (prediction.py) read them, and the
benchmark can use them without ROS.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

#: Chi-square quantiles, 3 degrees of freedom.
CHI2_3DOF_95 = 7.815
CHI2_3DOF_999 = 16.266
#: Label of person tracks and of person keypoint predictions.
PERSON_LABEL = "person"
_INFEASIBLE = 1e9
#: Measurements kept per track for the windowed velocity (2 s at 30 Hz).
HISTORY_LENGTH = 60


class MotionClass(IntEnum):
    """Motion classes; the values equal foresight_interfaces/ObjectTrack.MOTION_*."""
    UNKNOWN = 0
    STATIC = 1
    CONVEYOR = 2
    INTERACTING = 3
    PERSON = 4

    @property
    def key(self) -> str:
        """Lower-case name used in score keys ("static", "conveyor", ...)."""
        return self.name.lower()


class InvalidInput(ValueError):
    """A detection (or frame) cannot be used; the message says why. The node turns it into
    a rejection with a /diagnostics counter."""


# --- configuration and scene ------------------------------------------------------------------
@dataclass(frozen=True)
class TrackerConfig:
    """Tuning of the tracker. Process noise values are white-acceleration spectral densities
    (m^2/s^3): roughly the squared acceleration a track of that class may show per second."""
    gate_chi2: float = CHI2_3DOF_999
    gate_min_m: float = 0.03
    gate_max_m: float = 0.25
    gate_max_static_m: float = 0.05
    merge_distance_m: float = 0.015
    birth_hits: int = 3
    person_birth_hits: int = 1  # a person is published at first sight: the safety
    #                             supervisor must not wait for a confirmation
    tentative_max_misses: int = 2
    death_misses: int = 15
    person_death_misses: int = 15
    max_occluded_s: float = 300.0
    birth_clearance_m: float = 0.02
    occlusion_radius_m: float = 0.07
    occlusion_margin_m: float = 0.02
    interact_radius_m: float = 0.04
    interact_exit_factor: float = 1.5
    gripper_open_m: float = 0.075
    gripper_closed_m: float = 0.004
    static_speed_mps: float = 0.01
    static_hold_s: float = 0.5
    velocity_window_s: float = 1.0
    conveyor_min_speed_mps: float = 0.02
    conveyor_height_m: float = 0.12
    belt_prior_speed_mps: float = 0.08
    belt_prior_std_mps: float = 0.05
    belt_exit_std_m: float = 0.03
    q_static: float = 1e-4
    q_conveyor: float = 1e-4
    q_interacting: float = 1.0
    q_unknown: float = 0.1
    q_person_rest: float = 0.01
    q_person_moving: float = 3.0
    person_mode_stay_s: float = 0.5
    q_yaw: float = 0.01
    init_velocity_std_mps: float = 0.2
    person_init_velocity_std_mps: float = 0.5
    default_position_std_m: float = 0.005
    default_keypoint_std_m: float = 0.02
    maneuver_chi2: float = 30.0
    person_gate_m: float = 0.6
    keypoint_max_misses: int = 3  # frames a keypoint the camera should see may go unseen
    keypoint_max_hidden_s: float = 5.0  # a keypoint hidden by the arm longer is dropped
    #                                     (a person all of whose kept keypoints the arm
    #                                     hides is kept with them, however many frames)
    arm_interaction: bool = True  # objects at the TCP interact with the gripper and ride
    #                               with it while it holds them; False: the arm only hides

    def process_noise(self, motion: MotionClass) -> float:
        return {MotionClass.STATIC: self.q_static, MotionClass.CONVEYOR: self.q_conveyor,
                MotionClass.INTERACTING: self.q_interacting,
                MotionClass.PERSON: self.q_person_moving}.get(motion, self.q_unknown)


@dataclass(frozen=True)
class BeltRegion:
    """The conveyor belt as the tracker and the conveyor predictor need it: a straight belt
    from `start` to `end` (xy, travel direction start -> end), `width`, belt top height, and
    where parts leaving its end land (`landing`, xyz of a part's centre in the bin)."""
    start: tuple[float, float]
    end: tuple[float, float]
    width: float
    top_z: float
    landing: tuple[float, float, float] | None = None

    @property
    def direction(self) -> np.ndarray:
        d = np.array([self.end[0] - self.start[0], self.end[1] - self.start[1], 0.0])
        return d / np.linalg.norm(d)

    @property
    def length(self) -> float:
        return float(math.dist(self.start, self.end))

    def along(self, position: np.ndarray) -> float:
        """Distance (m) of `position` along the belt from its start."""
        return float((np.asarray(position) - self.start3) @ self.direction)

    @property
    def start3(self) -> np.ndarray:
        return np.array([self.start[0], self.start[1], self.top_z])

    @property
    def end3(self) -> np.ndarray:
        return np.array([self.end[0], self.end[1], self.top_z])

    def contains(self, position: np.ndarray, height: float, margin: float = 0.01) -> bool:
        """Whether a point lies over the belt (with `margin`) and at most `height` above it."""
        p = np.asarray(position, dtype=float)
        rel = p - self.start3
        along = float(rel @ self.direction)
        lateral = abs(float(rel[0] * self.direction[1] - rel[1] * self.direction[0]))
        return (-margin <= along <= self.length + margin
                and lateral <= self.width / 2.0 + margin
                and -margin <= rel[2] <= height)


@dataclass(frozen=True)
class SceneGeometry:
    """What the tracker knows about the fixed cell: the camera position (for lines of sight
    in the occlusion test; None = test 3D proximity to the arm only) and the belt."""
    camera_position: tuple[float, float, float] | None = None
    belt: BeltRegion | None = None
    yaw_periods: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_layout(cls, layout: Any) -> SceneGeometry:
        """From a `foresight_common.cell_layout.CellLayout` (duck-typed: no import needed).

        Yaw periods follow the part shapes: a square box looks the same every 90 degrees,
        other boxes every 180; a cylinder's yaw is meaningless (period 0 = not filtered)."""
        cv = layout.conveyor
        rb = layout.reject_bin
        landing_z = rb.center[2] + rb.wall_thickness + 0.025
        direction = np.array(cv.direction)
        # Measured in the cell: a part leaving the belt lands about 5 cm past its end.
        landing_xy = np.array(cv.end) + 0.05 * direction
        belt = BeltRegion(start=tuple(cv.start), end=tuple(cv.end), width=cv.width,
                          top_z=cv.belt_top_z,
                          landing=(float(landing_xy[0]), float(landing_xy[1]), landing_z))
        periods: dict[str, float] = {}
        for name, pt in layout.part_types.items():
            if pt.shape == "cylinder":
                periods[name] = 0.0
                periods[pt.hole_type] = 0.0
            elif abs(pt.size[0] - pt.size[1]) < 1e-6:
                periods[name] = periods[pt.hole_type] = math.pi / 2.0
            else:
                periods[name] = periods[pt.hole_type] = math.pi
        return cls(camera_position=tuple(layout.camera.position), belt=belt,
                   yaw_periods=periods)


# --- inputs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectDetection:
    """One detected object in the world frame."""
    label: str
    position: np.ndarray
    covariance: np.ndarray | None = None   # 3x3 m^2; None = default
    yaw: float = 0.0
    yaw_variance: float = math.inf          # rad^2; inf = yaw not observed
    size: np.ndarray | None = None
    confidence: float = 1.0


@dataclass(frozen=True)
class PersonObservation:
    """One detected person: keypoint name -> world position, and isotropic variances."""
    keypoints: Mapping[str, np.ndarray]
    variances: Mapping[str, float] = field(default_factory=dict)
    confidence: float = 1.0


@dataclass(frozen=True)
class DetectionFrame:
    """Everything perception found in one camera frame; `stamp` = the image stamp (s);
    `camera_position` = where a moving camera (a robot's head camera) was then, for the
    lines of sight of the occlusion test (None: the scene's fixed camera)."""
    stamp: float
    objects: Sequence[ObjectDetection] = ()
    people: Sequence[PersonObservation] = ()
    camera_position: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class ArmState:
    """The robot at the frame's stamp, from forward kinematics of the joint states, world
    frame: link capsules as (K, 2, 3) segment end points with radii (K,) (None: every link
    gets the tracker's `occlusion_radius_m`), the TCP position and velocity and the gripper
    opening (m between the fingers; None = unknown)."""
    segments: np.ndarray
    tcp: np.ndarray
    tcp_velocity: np.ndarray
    gripper_width: float | None = None
    radii: np.ndarray | None = None

    def holds(self, config: TrackerConfig) -> bool:
        """Whether the fingers are closed on something (neither open nor fully closed)."""
        if self.gripper_width is None:
            return True
        return config.gripper_closed_m < self.gripper_width < config.gripper_open_m


class ArmGeometry:
    """Capsules around the robot's collision geometry for the occlusion test.

    Built once from a `foresight_common.robot_model.RobotKinematics` (passed in, duck-typed:
    this module imports no physics engine): each collision geom's bounding box becomes a
    capsule along its longest axis, radius = the larger of the other two half extents
    (the Panda's links are 5-7 cm thick; a bare link skeleton misses their bulk, measured:
    the forearm hides tray parts 10 cm from the line between the link origins). `state()`
    runs forward kinematics for joint positions and returns the world-frame `ArmState`.
    """

    def __init__(self, kinematics: Any, base_position: Sequence[float],
                 base_yaw: float = 0.0) -> None:
        self.kin = kinematics
        model = kinematics.model
        c, s = math.cos(base_yaw), math.sin(base_yaw)
        self._rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        self._base = np.asarray(base_position, dtype=float)
        geoms, local_ends, radii = [], [], []
        for g in range(model.ngeom):
            if not (model.geom_contype[g] or model.geom_conaffinity[g]):
                continue
            centre, half = model.geom_aabb[g][:3], model.geom_aabb[g][3:]
            axis = int(np.argmax(half))
            radius = float(max(half[k] for k in range(3) if k != axis))
            offset = np.zeros(3)
            offset[axis] = max(float(half[axis]) - radius, 0.0)
            geoms.append(g)
            local_ends.append((centre - offset, centre + offset))
            radii.append(radius)
        self._geoms = np.array(geoms, dtype=int)
        self._local = np.array(local_ends).reshape(-1, 2, 3)
        self.radii = np.array(radii)

    def state(self, arm_positions: np.ndarray, finger: float = 0.0,
              tcp_velocity: np.ndarray | None = None,
              gripper_width: float | None = None,
              base: np.ndarray | None = None) -> ArmState:
        """`base`: the arm base's pose in the world now (4x4; a mobile robot's, from TF),
        instead of the fixed mounting given at construction."""
        rot, offset = (self._rot, self._base) if base is None else \
            (np.asarray(base, dtype=float)[:3, :3], np.asarray(base, dtype=float)[:3, 3])
        self.kin.set_arm(np.asarray(arm_positions, dtype=float), finger)
        data = self.kin.data
        pos = data.geom_xpos[self._geoms]                       # (K, 3), robot base frame
        mat = data.geom_xmat[self._geoms].reshape(-1, 3, 3)     # (K, 3, 3)
        ends = pos[:, None, :] + np.einsum("kij,kej->kei", mat, self._local)
        world = ends @ rot.T + offset
        tcp = rot @ data.site_xpos[self.kin.tcp_site] + offset
        velocity = np.zeros(3) if tcp_velocity is None else np.asarray(tcp_velocity, float)
        return ArmState(world, tcp, velocity, gripper_width, self.radii.copy())


#: Panda link chain (body names of the robot model): a coarse skeleton for callers without
#: the robot model's geometry (tests, other arms); `ArmGeometry` is the precise one.
ARM_CHAIN: tuple[tuple[str, str], ...] = (
    ("panda_link0", "panda_link1"), ("panda_link1", "panda_link3"),
    ("panda_link3", "panda_link4"), ("panda_link4", "panda_link5"),
    ("panda_link5", "panda_link7"), ("panda_link7", "panda_hand"),
    ("panda_hand", "panda_hand_tcp"), ("panda_hand", "panda_leftfinger_tip"),
    ("panda_hand", "panda_rightfinger_tip"))
TCP_BODY = "panda_hand_tcp"


def arm_segments(body_positions: Mapping[str, np.ndarray], base_position: np.ndarray,
                 base_yaw: float = 0.0,
                 chain: Sequence[tuple[str, str]] = ARM_CHAIN) -> tuple[np.ndarray, np.ndarray]:
    """World link segments (K, 2, 3) and the TCP position of the arm from body positions in
    the robot base frame (as `RobotKinematics.body_poses` gives them). Zero-length segments
    (coincident link origins) are dropped."""
    c, s = math.cos(base_yaw), math.sin(base_yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    base = np.asarray(base_position, dtype=float)

    def world(name: str) -> np.ndarray:
        return rot @ np.asarray(body_positions[name], dtype=float) + base

    segments = []
    for a, b in chain:
        pa, pb = world(a), world(b)
        if np.linalg.norm(pb - pa) > 1e-6:
            segments.append((pa, pb))
    return np.array(segments).reshape(-1, 2, 3), world(TCP_BODY)


def segment_distances(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray,
                      q1: np.ndarray) -> np.ndarray:
    """Minimum distances (M, K) between segments p0[i]-p1[i] (M, 3) and q0[k]-q1[k] (K, 3).

    Vectorised form of the clamped closest-points computation (Ericson, Real-Time Collision
    Detection, 5.1.9); segments of zero length degrade to points."""
    p0, p1 = np.asarray(p0, float)[:, None, :], np.asarray(p1, float)[:, None, :]
    q0, q1 = np.asarray(q0, float)[None, :, :], np.asarray(q1, float)[None, :, :]
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.sum(d1 * d1, axis=-1)
    e = np.sum(d2 * d2, axis=-1)
    f = np.sum(d2 * r, axis=-1)
    c = np.sum(d1 * r, axis=-1)
    b = np.sum(d1 * d2, axis=-1)
    eps = 1e-12
    a_safe, e_safe = np.maximum(a, eps), np.maximum(e, eps)
    denom = a * e - b * b
    s = np.where(denom > eps, np.clip((b * f - c * e) / np.maximum(denom, eps), 0.0, 1.0), 0.0)
    t = (b * s + f) / e_safe
    s = np.where(t < 0.0, np.clip(-c / a_safe, 0.0, 1.0), s)
    s = np.where(t > 1.0, np.clip((b - c) / a_safe, 0.0, 1.0), s)
    t = np.clip(t, 0.0, 1.0)
    s = np.where(a <= eps, 0.0, s)
    t = np.where(e <= eps, 0.0, np.where(a <= eps, np.clip(f / e_safe, 0.0, 1.0), t))
    closest_p = p0 + d1 * s[..., None]
    closest_q = q0 + d2 * t[..., None]
    return np.linalg.norm(closest_p - closest_q, axis=-1)


def occluded_mask(positions: np.ndarray, arm: ArmState | None, radius: float,
                  camera: Sequence[float] | None, margin: float = 0.0) -> np.ndarray:
    """Which of `positions` (N, 3) the arm hides: the line of sight from the camera to the
    point (or, without a camera, the point itself) passes within a link's radius (the
    arm's own radii, else `radius`) plus `margin` of that link's segment."""
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    if arm is None or len(positions) == 0 or len(arm.segments) == 0:
        return np.zeros(len(positions), dtype=bool)
    start = positions if camera is None else np.broadcast_to(
        np.asarray(camera, dtype=float), positions.shape)
    dist = segment_distances(start, positions, arm.segments[:, 0], arm.segments[:, 1])
    radii = np.full(len(arm.segments), radius) if arm.radii is None else arm.radii
    return np.any(dist < radii[None, :] + margin, axis=1)


# --- validation -------------------------------------------------------------------------------
def check_detection(det: ObjectDetection, allowed_labels: Iterable[str]) -> None:
    """Raise InvalidInput unless the detection is usable: known label, finite position,
    symmetric positive semi-definite covariance, sane confidence."""
    allowed = set(allowed_labels)
    if det.label not in allowed:
        raise InvalidInput(f"unknown label '{det.label}' (allowed: "
                           f"{', '.join(sorted(allowed))})")
    pos = np.asarray(det.position, dtype=float)
    if pos.shape != (3,) or not np.all(np.isfinite(pos)):
        raise InvalidInput(f"'{det.label}': position is not 3 finite numbers ({pos.tolist()})")
    if det.covariance is not None:
        check_covariance(det.covariance, f"'{det.label}': position_covariance")
    if not math.isfinite(det.yaw) or math.isnan(det.yaw_variance) or det.yaw_variance < 0:
        raise InvalidInput(f"'{det.label}': yaw {det.yaw} / variance {det.yaw_variance} "
                           "not usable")
    if not (0.0 <= det.confidence <= 1.0):
        raise InvalidInput(f"'{det.label}': confidence {det.confidence} outside [0, 1]")


def check_covariance(cov: np.ndarray, what: str) -> None:
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (3, 3) or not np.all(np.isfinite(cov)):
        raise InvalidInput(f"{what} is not a finite 3x3 matrix")
    if not np.allclose(cov, cov.T, atol=1e-9):
        raise InvalidInput(f"{what} is not symmetric")
    if np.min(np.linalg.eigvalsh(cov)) < -1e-12:
        raise InvalidInput(f"{what} is not positive semi-definite")


def check_person(person: PersonObservation) -> None:
    """Raise InvalidInput unless every keypoint is finite with a finite, non-negative
    variance."""
    if not person.keypoints:
        raise InvalidInput("person without keypoints")
    for name, pos in person.keypoints.items():
        p = np.asarray(pos, dtype=float)
        if not name or p.shape != (3,) or not np.all(np.isfinite(p)):
            raise InvalidInput(f"person keypoint '{name}' is not 3 finite numbers")
        var = person.variances.get(name)
        if var is not None and (not math.isfinite(var) or var < 0):
            raise InvalidInput(f"person keypoint '{name}': variance {var} not usable")


class StampGate:
    """Rejects frames whose stamp is not newer than the last accepted one, or lies in the
    future (beyond `future_tolerance_s`) or the past (beyond `max_age_s`) of `now`."""

    def __init__(self, future_tolerance_s: float, max_age_s: float) -> None:
        self.future_tolerance_s = future_tolerance_s
        self.max_age_s = max_age_s
        self.last: float | None = None

    def check(self, stamp: float, now: float | None) -> None:
        """Raise InvalidInput for an unusable stamp, else remember it. `now` None or 0
        (simulated time not started) skips the clock checks."""
        if not math.isfinite(stamp) or stamp <= 0.0:
            raise InvalidInput(f"stamp {stamp} is not a valid time")
        if self.last is not None and stamp <= self.last:
            raise InvalidInput(f"stamp {stamp:.3f} s is not newer than the last processed "
                               f"{self.last:.3f} s (out of order or duplicate)")
        if now:
            if stamp > now + self.future_tolerance_s:
                raise InvalidInput(f"stamp {stamp:.3f} s is {stamp - now:.3f} s in the "
                                   f"future (tolerance {self.future_tolerance_s} s)")
            if stamp < now - self.max_age_s:
                raise InvalidInput(f"stamp {stamp:.3f} s is {now - stamp:.3f} s old "
                                   f"(limit {self.max_age_s} s)")
        self.last = stamp


# --- Kalman filter ----------------------------------------------------------------------------
def _mirror(name: str) -> str:
    """"left_hand" <-> "right_hand" (any left_/right_ keypoint); other names unchanged."""
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def align_sides(obs: PersonObservation, tracked: Mapping[str, np.ndarray],
                margin: float = 0.5, gate_m: float = 0.25) -> PersonObservation:
    """The observation with left and right swapped when that fits the tracked keypoints
    clearly better (mean squared distance below `margin` x the unswapped one) and closely
    (RMS within `gate_m`). A detector that sees one arm and no body cannot tell which arm
    it is; identity is the tracker's job."""
    sided = [n for n in obs.keypoints if _mirror(n) != n]
    same = [n for n in sided if n in tracked]
    swapped = [n for n in sided if _mirror(n) in tracked]
    if not swapped:
        return obs

    def cost(names: list[str], rename) -> float:
        return sum(float(np.sum((np.asarray(obs.keypoints[n], float) - tracked[rename(n)]) ** 2))
                   for n in names) / max(len(names), 1)

    # a side that exists only in the swapped reading counts as far away in the other
    cost_same = cost(same, lambda n: n) if same else float("inf")
    cost_swapped = cost(swapped, _mirror)
    if cost_swapped >= margin * cost_same or cost_swapped > gate_m ** 2:
        return obs
    return PersonObservation(
        keypoints={_mirror(n): v for n, v in obs.keypoints.items()},
        variances={_mirror(n): v for n, v in obs.variances.items()},
        confidence=obs.confidence)


def cv_transition(dt: float) -> np.ndarray:
    f = np.eye(6)
    f[:3, 3:] = np.eye(3) * dt
    return f


def cv_process_noise(dt: float, q: float) -> np.ndarray:
    """Discrete white-noise-acceleration process noise of the constant-velocity model."""
    qm = np.zeros((6, 6))
    eye = np.eye(3)
    qm[:3, :3] = eye * (dt ** 3 / 3.0)
    qm[:3, 3:] = qm[3:, :3] = eye * (dt ** 2 / 2.0)
    qm[3:, 3:] = eye * dt
    return qm * q


@dataclass
class KalmanState:
    """State x = (position, velocity) and covariance P of one 3D constant-velocity filter."""
    x: np.ndarray
    p: np.ndarray

    @classmethod
    def start(cls, position: np.ndarray, r: np.ndarray, velocity_std: float) -> KalmanState:
        p = np.zeros((6, 6))
        p[:3, :3] = r
        p[3:, 3:] = np.eye(3) * velocity_std ** 2
        return cls(np.concatenate([position, np.zeros(3)]), p)

    def predict(self, dt: float, q: float, displacement: np.ndarray | None = None,
                velocity: np.ndarray | None = None) -> None:
        """Advance by dt. With `displacement`/`velocity` (a held object following the TCP),
        the position moves with the TCP and the velocity is the TCP's."""
        if dt <= 0.0:
            return
        if displacement is not None:
            self.x[:3] += displacement
            if velocity is not None:
                self.x[3:] = velocity
            self.p += cv_process_noise(dt, q)
            return
        f = cv_transition(dt)
        self.x = f @ self.x
        self.p = f @ self.p @ f.T + cv_process_noise(dt, q)

    def innovation(self, z: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return z - self.x[:3], self.p[:3, :3] + r

    def update(self, z: np.ndarray, r: np.ndarray) -> float:
        """Measurement update with position z (covariance r); returns the normalised
        innovation squared (NIS)."""
        nu, s = self.innovation(z, r)
        s_inv = np.linalg.inv(s)
        k = self.p[:, :3] @ s_inv
        self.x = self.x + k @ nu
        i_kh = np.eye(6)
        i_kh[:, :3] -= k
        # Joseph form: stays symmetric positive definite with tiny measurement noise.
        self.p = i_kh @ self.p @ i_kh.T + k @ r @ k.T
        return float(nu @ s_inv @ nu)


class ImmState:
    """Interacting-multiple-model filter of two constant-velocity models that differ only in
    process noise: "resting" (`q_low`) and "moving" (`q_high`).

    Why: a co-worker's hand rests most of the time and then moves with several m/s^2 -- one
    process noise either jitters at rest or lags during a reach. The IMM mixes the models by
    how well each explains the measurements (Blom and Bar-Shalom's algorithm); `x`/`p` are the
    combined estimate, `moving` the probability of the moving model.
    """

    def __init__(self, position: np.ndarray, r: np.ndarray, velocity_std: float,
                 q_low: float, q_high: float, mean_stay_s: float = 1.0) -> None:
        self.models = [KalmanState.start(position, r, velocity_std) for _ in range(2)]
        self.q = (q_low, q_high)
        self.mu = np.array([0.5, 0.5])
        self.mean_stay_s = mean_stay_s

    @property
    def x(self) -> np.ndarray:
        return self.mu[0] * self.models[0].x + self.mu[1] * self.models[1].x

    @property
    def p(self) -> np.ndarray:
        x = self.x
        total = np.zeros((6, 6))
        for w, m in zip(self.mu, self.models, strict=True):
            d = m.x - x
            total += w * (m.p + np.outer(d, d))
        return total

    @property
    def moving(self) -> float:
        return float(self.mu[1])

    def predict(self, dt: float) -> None:
        if dt <= 0.0:
            return
        switch = 1.0 - math.exp(-dt / self.mean_stay_s)
        trans = np.array([[1.0 - switch, switch], [switch, 1.0 - switch]])
        c = trans.T @ self.mu                                  # predicted mode probabilities
        mix = trans * self.mu[:, None] / np.maximum(c[None, :], 1e-12)   # mu_{i|j}
        xs = [m.x for m in self.models]
        ps = [m.p for m in self.models]
        for j, model in enumerate(self.models):
            x0 = mix[0, j] * xs[0] + mix[1, j] * xs[1]
            p0 = np.zeros((6, 6))
            for i in range(2):
                d = xs[i] - x0
                p0 += mix[i, j] * (ps[i] + np.outer(d, d))
            model.x, model.p = x0, p0
            model.predict(dt, self.q[j])
        self.mu = c

    def innovation(self, z: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return z - self.x[:3], self.p[:3, :3] + r

    def update(self, z: np.ndarray, r: np.ndarray) -> float:
        log_likelihood = np.zeros(2)
        for j, model in enumerate(self.models):
            nu, s = model.innovation(z, r)
            _sign, logdet = np.linalg.slogdet(s)
            log_likelihood[j] = -0.5 * (float(nu @ np.linalg.solve(s, nu)) + logdet)
        nu, s = self.innovation(z, r)
        nis = float(nu @ np.linalg.solve(s, nu))
        for model in self.models:
            model.update(z, r)
        log_w = log_likelihood + np.log(np.maximum(self.mu, 1e-12))
        w = np.exp(log_w - log_w.max())
        self.mu = np.clip(w / w.sum(), 1e-4, 1.0)
        self.mu /= self.mu.sum()
        return nis


def window_velocity(history: Sequence[tuple[float, np.ndarray]] | deque, now: float,
                    window_s: float) -> np.ndarray | None:
    """Least-squares slope of (stamp, position) samples within `window_s` of `now`."""
    recent = [(t, p) for t, p in history if now - t <= window_s]
    if len(recent) < 4 or recent[-1][0] - recent[0][0] < 0.5 * window_s:
        return None
    t = np.array([r[0] for r in recent])
    p = np.array([r[1] for r in recent])
    t = t - t.mean()
    return (t @ (p - p.mean(axis=0))) / float(t @ t)


def line_fit(history: Sequence[tuple[float, np.ndarray]] | deque, now: float,
             min_samples: int = 8, min_span_s: float = 1.0, outlier_floor_m: float = 0.006
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """Position at `now` and velocity of a least-squares straight line through all
    (stamp, position) samples (None with fewer than `min_samples` spanning `min_span_s`).
    For a part riding the belt at constant speed this beats a constant-velocity filter,
    whose velocity stays as noisy as its process noise allows: 1.7 vs 2.9 mm/s (s.d.) after
    1.5 s of 3 mm detections, 0.7 vs 2.4 after 2.5 s (synthetic, 20 runs) - over the 2-4 s an
    intercept is planned ahead, centimetres at the gripper. Samples farther off a robust
    line than 3 robust standard deviations (at least `outlier_floor_m`) are left out: a
    part entering the camera's view is seen cut by the image edge, its first positions
    15 mm ahead of the rest (seed 1 of the default family, offline), which tilted the line
    by about 1 cm/s and put an intercept 4 cm behind the part."""
    if len(history) < min_samples or history[-1][0] - history[0][0] < min_span_s:
        return None
    t = np.array([sample[0] for sample in history])
    p = np.array([sample[1] for sample in history])
    # a robust line first (Theil-Sen: median slope over all pairs, which a few outliers
    # do not tilt), then least squares through the samples that lie near it
    i, j = np.triu_indices(len(t), k=1)
    gap = t[j] - t[i]
    usable = gap > 1e-6
    slope = np.median((p[j][usable] - p[i][usable]) / gap[usable, None], axis=0)
    offset = np.median(p - np.outer(t - now, slope), axis=0)
    residual = np.linalg.norm(p - (offset + np.outer(t - now, slope)), axis=1)
    keep = residual <= max(3.0 * 1.4826 * float(np.median(residual)), outlier_floor_m)
    if keep.sum() < min_samples or float(np.ptp(t[keep])) < min_span_s / 2.0:
        keep = np.ones(len(t), dtype=bool)
    return _least_squares_line(t[keep], p[keep], now)


def _least_squares_line(t: np.ndarray, p: np.ndarray, now: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    t_mean, p_mean = t.mean(), p.mean(axis=0)
    dt = t - t_mean
    velocity = (dt @ (p - p_mean)) / float(dt @ dt)
    return p_mean + velocity * (now - t_mean), velocity


def wrap(angle: float, period: float = 2.0 * math.pi) -> float:
    """Angle wrapped to [-period/2, period/2)."""
    return (angle + period / 2.0) % period - period / 2.0


# --- snapshots --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackEstimate:
    """One track (object, or one keypoint of a person) at `stamp`: what the node publishes
    and the predictors read. `covariance` is the joint 6x6 of (position, velocity);
    `measurement` is the detection that updated it at this stamp (None if missed), with its
    covariance."""
    id: int
    label: str
    motion_class: MotionClass
    stamp: float
    position: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    first_seen: float
    missed: int
    occluded: bool = False
    keypoint: str = ""
    yaw: float = 0.0
    yaw_variance: float = math.inf
    size: np.ndarray = field(default_factory=lambda: np.zeros(3))
    confidence: float = 1.0
    measurement: np.ndarray | None = None
    measurement_covariance: np.ndarray | None = None
    measured_at: float = math.nan  # stamp of the last detection that updated it

    @property
    def key(self) -> tuple[int, str]:
        """Identity across updates: (track id, keypoint name or "")."""
        return (self.id, self.keypoint)

    @property
    def position_covariance(self) -> np.ndarray:
        return self.covariance[:3, :3]

    @property
    def velocity_covariance(self) -> np.ndarray:
        return self.covariance[3:, 3:]


@dataclass(frozen=True)
class PersonEstimate:
    """One tracked person: keypoint name -> TrackEstimate (all share the person's id)."""
    id: int
    stamp: float
    keypoints: Mapping[str, TrackEstimate]
    first_seen: float
    missed: int
    confidence: float = 1.0


@dataclass(frozen=True)
class UpdateResult:
    """What one update did: confirmed tracks and people after it, ids born and lost."""
    stamp: float
    tracks: tuple[TrackEstimate, ...]
    people: tuple[PersonEstimate, ...]
    born: tuple[int, ...]
    lost: tuple[int, ...]


# --- tracks (mutable, internal) ---------------------------------------------------------------
@dataclass
class _ObjectTrack:
    id: int
    label: str
    kf: KalmanState
    stamp: float
    first_seen: float
    size: np.ndarray
    yaw: float = 0.0
    yaw_var: float = math.inf
    yaw_period: float = 2.0 * math.pi
    confidence: float = 1.0
    hits: int = 1
    missed: int = 0
    aged: int = 0
    confirmed: bool = False
    occluded: bool = False
    occluded_since: float | None = None
    held: bool = False
    motion: MotionClass = MotionClass.UNKNOWN
    slow_since: float | None = None
    measurement: np.ndarray | None = None
    measurement_cov: np.ndarray | None = None
    history: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(
        maxlen=HISTORY_LENGTH))

    def window_velocity(self, now: float, window_s: float) -> np.ndarray | None:
        """Least-squares velocity of the measurements of the last `window_s` seconds (None
        with fewer than 4 spanning half the window): the motion classes are decided on it,
        since a filter's velocity is as noisy as the class's process noise allows."""
        return window_velocity(self.history, now, window_s)

    def estimate(self) -> TrackEstimate:
        position, velocity = self.kf.x[:3].copy(), self.kf.x[3:].copy()
        fit = line_fit(self.history, self.stamp) if self.motion == MotionClass.CONVEYOR \
            else None
        if fit is not None:  # riding the belt at its constant speed: a line through it all
            position, velocity = fit
        return TrackEstimate(
            id=self.id, label=self.label, motion_class=self.motion, stamp=self.stamp,
            position=position, velocity=velocity,
            covariance=self.kf.p.copy(), first_seen=self.first_seen, missed=self.missed,
            occluded=self.occluded, yaw=self.yaw, yaw_variance=self.yaw_var,
            size=self.size.copy(), confidence=self.confidence,
            measurement=None if self.measurement is None else self.measurement.copy(),
            measurement_covariance=None if self.measurement is None else self.measurement_cov)


@dataclass
class _Keypoint:
    kf: ImmState
    measured_at: float
    missed: int = 0
    measurement: np.ndarray | None = None
    measurement_cov: np.ndarray | None = None


@dataclass
class _PersonTrack:
    id: int
    stamp: float
    first_seen: float
    keypoints: dict[str, _Keypoint]
    hits: int = 1
    missed: int = 0
    confirmed: bool = False
    confidence: float = 1.0

    def positions(self) -> dict[str, np.ndarray]:
        """Filtered position of every keypoint, by name."""
        return {n: k.kf.x[:3] for n, k in self.keypoints.items()}

    def centroid(self, names: Iterable[str] | None = None) -> np.ndarray:
        chosen = [k for n, k in self.keypoints.items() if names is None or n in names]
        return np.mean([k.kf.x[:3] for k in chosen], axis=0)

    def estimate(self) -> PersonEstimate:
        keypoints = {
            name: TrackEstimate(
                id=self.id, label=PERSON_LABEL, motion_class=MotionClass.PERSON,
                stamp=self.stamp, position=k.kf.x[:3].copy(), velocity=k.kf.x[3:].copy(),
                covariance=k.kf.p.copy(), first_seen=self.first_seen, missed=k.missed,
                keypoint=name, confidence=self.confidence,
                measurement=None if k.measurement is None else k.measurement.copy(),
                measurement_covariance=None if k.measurement is None else k.measurement_cov,
                measured_at=k.measured_at)
            for name, k in self.keypoints.items()}
        return PersonEstimate(self.id, self.stamp, keypoints, self.first_seen, self.missed,
                              self.confidence)


# --- the tracker ------------------------------------------------------------------------------
class MultiObjectTracker:
    """Object and person tracks from detection frames (see the module docstring).

    Frames must come in increasing stamp order (the node's StampGate ensures it); `update`
    returns the confirmed tracks after the frame. Not thread-safe: one caller.
    """

    def __init__(self, config: TrackerConfig | None = None,
                 scene: SceneGeometry | None = None) -> None:
        self.config = config or TrackerConfig()
        self.scene = scene or SceneGeometry()
        self._objects: list[_ObjectTrack] = []
        self._people: list[_PersonTrack] = []
        self._next_id = 1
        self._stamp: float | None = None
        self._last_tcp: np.ndarray | None = None
        self._camera = self.scene.camera_position   # of the frame being processed

    # --- public -----------------------------------------------------------------------------
    @property
    def stamp(self) -> float | None:
        """Stamp of the last processed frame."""
        return self._stamp

    def tracks(self) -> tuple[TrackEstimate, ...]:
        return tuple(t.estimate() for t in self._objects if t.confirmed)

    def people(self) -> tuple[PersonEstimate, ...]:
        return tuple(p.estimate() for p in self._people if p.confirmed)

    def update(self, frame: DetectionFrame, arm: ArmState | None = None) -> UpdateResult:
        """Predict every track to `frame.stamp`, associate, update, manage births and
        deaths, classify motion. Frames older than the last one are ignored (a no-op)."""
        if self._stamp is not None and frame.stamp <= self._stamp:
            return UpdateResult(frame.stamp, self.tracks(), self.people(), (), ())
        dt = 0.0 if self._stamp is None else frame.stamp - self._stamp
        self._stamp = frame.stamp
        self._camera = frame.camera_position if frame.camera_position is not None \
            else self.scene.camera_position
        confirmed_before = {t.id for t in self._objects if t.confirmed} | {
            p.id for p in self._people if p.confirmed}
        self._predict_objects(frame.stamp, dt, arm)
        self._associate_objects(frame, arm)
        self._update_people(frame, dt, arm)
        self._last_tcp = None if arm is None else np.asarray(arm.tcp, dtype=float).copy()
        confirmed_after = {t.id for t in self._objects if t.confirmed} | {
            p.id for p in self._people if p.confirmed}
        born = tuple(sorted(confirmed_after - confirmed_before))
        lost = tuple(sorted(confirmed_before - confirmed_after))
        return UpdateResult(frame.stamp, self.tracks(), self.people(), born, lost)

    # --- objects ------------------------------------------------------------------------------
    def _held(self, track: _ObjectTrack, arm: ArmState | None) -> bool:
        return (arm is not None and self.config.arm_interaction
                and track.motion == MotionClass.INTERACTING
                and arm.holds(self.config) and self._last_tcp is not None)

    def _predict_objects(self, stamp: float, dt: float, arm: ArmState | None) -> None:
        cfg = self.config
        for track in self._objects:
            q = cfg.process_noise(track.motion)
            held = self._held(track, arm)
            if held:
                track.kf.predict(dt, q, displacement=arm.tcp - self._last_tcp,
                                 velocity=np.asarray(arm.tcp_velocity, dtype=float))
            elif track.held:
                # Just released: it stays where the gripper let go (the TCP's velocity it
                # carried is no longer its own).
                track.kf.predict(dt, q, displacement=np.zeros(3), velocity=np.zeros(3))
                track.kf.p[3:, 3:] = np.eye(3) * cfg.init_velocity_std_mps ** 2 * 0.01
            elif track.occluded and track.motion != MotionClass.CONVEYOR:
                # Hidden and not held: nothing moves it, so it stays (a filter left to
                # extrapolate an uncertain velocity would wander onto a neighbour).
                track.kf.predict(dt, q, displacement=np.zeros(3), velocity=np.zeros(3))
            else:
                track.kf.predict(dt, q)
            track.held = held
            self._leave_belt(track)
            if track.yaw_period > 0.0 and math.isfinite(track.yaw_var):
                track.yaw_var += cfg.q_yaw * dt
            track.stamp = stamp
            track.measurement = None

    def _leave_belt(self, track: _ObjectTrack) -> None:
        """A conveyor part predicted past the belt's end tips into the bin, which no
        constant-velocity filter expects: open its covariance so the landing part is
        re-associated (same id) instead of born anew."""
        belt = self.scene.belt
        if track.motion != MotionClass.CONVEYOR or belt is None:
            return
        if belt.along(track.kf.x[:3]) > belt.length:
            cfg = self.config
            track.kf.p[:3, :3] += np.eye(3) * cfg.belt_exit_std_m ** 2
            track.kf.p[3:, 3:] += np.eye(3) * cfg.init_velocity_std_mps ** 2
            track.motion = MotionClass.UNKNOWN
            track.slow_since = None

    def _cost_matrix(self, tracks: list[_ObjectTrack],
                     dets: list[tuple[ObjectDetection, np.ndarray]]) -> np.ndarray:
        cfg = self.config
        cost = np.full((len(tracks), len(dets)), _INFEASIBLE)
        for i, track in enumerate(tracks):
            for j, (det, r) in enumerate(dets):
                nu, s = track.kf.innovation(np.asarray(det.position, dtype=float), r)
                dist = float(np.linalg.norm(nu))
                if dist > (cfg.gate_max_static_m if track.motion == MotionClass.STATIC
                           else cfg.gate_max_m):
                    continue
                d2 = float(nu @ np.linalg.solve(s, nu))
                if d2 <= cfg.gate_chi2 or dist <= cfg.gate_min_m:
                    cost[i, j] = d2
        return cost

    def _distance_matrix(self, tracks: list[_ObjectTrack],
                         dets: list[tuple[ObjectDetection, np.ndarray]]) -> np.ndarray:
        cfg = self.config
        cost = np.full((len(tracks), len(dets)), _INFEASIBLE)
        for i, track in enumerate(tracks):
            cap = cfg.gate_max_static_m if track.motion == MotionClass.STATIC \
                else cfg.gate_max_m
            for j, (det, _r) in enumerate(dets):
                dist = float(np.linalg.norm(np.asarray(det.position, float) - track.kf.x[:3]))
                if dist <= cap:
                    cost[i, j] = dist
        return cost

    def _measurement_cov(self, det: ObjectDetection) -> np.ndarray:
        if det.covariance is not None:
            r = np.asarray(det.covariance, dtype=float)
            if np.trace(r) > 0.0:
                return r + np.eye(3) * 1e-8
        return np.eye(3) * self.config.default_position_std_m ** 2

    def _associate_objects(self, frame: DetectionFrame, arm: ArmState | None) -> None:
        by_label: dict[str, list[int]] = {}
        for j, det in enumerate(frame.objects):
            by_label.setdefault(det.label, []).append(j)
        prepared = [(det, self._measurement_cov(det)) for det in frame.objects]
        matched_tracks: set[int] = set()
        unmatched: list[int] = []
        for label, det_idx in by_label.items():
            tracks = [t for t in self._objects if t.label == label]
            dets = [prepared[j] for j in det_idx]
            used: set[int] = set()
            # Stage 1: the filters' own gates. Stage 2: what is left, by distance within a
            # class-dependent cap, as a manoeuvre (a part that landed in the bin, was
            # dropped or pushed): its velocity starts over instead of its id.
            for stage in (1, 2):
                free = [i for i, t in enumerate(tracks) if id(t) not in matched_tracks]
                open_dets = [k for k in range(len(dets)) if k not in used]
                if not free or not open_dets:
                    break
                subset = [tracks[i] for i in free]
                chosen = [dets[k] for k in open_dets]
                cost = (self._cost_matrix(subset, chosen) if stage == 1
                        else self._distance_matrix(subset, chosen))
                rows, cols = linear_sum_assignment(cost)
                for i, k in zip(rows, cols, strict=True):
                    if cost[i, k] >= _INFEASIBLE:
                        continue
                    det, r = chosen[k]
                    self._correct(subset[i], det, r, manoeuvre=stage == 2)
                    matched_tracks.add(id(subset[i]))
                    used.add(open_dets[k])
            unmatched.extend(j for k, j in enumerate(det_idx) if k not in used)
        self._age_unmatched(matched_tracks, frame.stamp, arm)
        for j in unmatched:
            self._birth(*prepared[j], frame.stamp)
        self._merge_duplicates()
        self._classify(frame.stamp, arm)

    def _merge_duplicates(self) -> None:
        """Two confirmed tracks of one label closer than `merge_distance_m` are one object
        (no two parts fit in that distance): the younger track goes, the older id stays."""
        cfg = self.config
        gone: set[int] = set()
        confirmed = [t for t in self._objects if t.confirmed]
        for i, a in enumerate(confirmed):
            for b in confirmed[i + 1:]:
                if a.label != b.label or id(a) in gone or id(b) in gone:
                    continue
                if np.linalg.norm(a.kf.x[:3] - b.kf.x[:3]) < cfg.merge_distance_m:
                    younger = b if (b.first_seen, b.id) > (a.first_seen, a.id) else a
                    gone.add(id(younger))
        if gone:
            self._objects = [t for t in self._objects if id(t) not in gone]

    def _correct(self, track: _ObjectTrack, det: ObjectDetection, r: np.ndarray,
                 manoeuvre: bool = False) -> None:
        cfg = self.config
        z = np.asarray(det.position, dtype=float)
        if manoeuvre:
            # Far outside the filter's gate: restart the motion state at the detection.
            track.kf = KalmanState.start(z, r, cfg.init_velocity_std_mps)
            track.history.clear()
            track.motion = MotionClass.UNKNOWN
            track.slow_since = None
        nu, s = track.kf.innovation(z, r)
        if float(nu @ np.linalg.solve(s, nu)) > cfg.maneuver_chi2:
            # The object does something its class does not predict (a static part pushed,
            # a conveyor part tipping into the bin): open up the velocity and re-classify.
            track.kf.p[3:, 3:] += np.eye(3) * cfg.init_velocity_std_mps ** 2
            track.kf.p[:3, :3] += r
            track.motion = MotionClass.UNKNOWN
            track.slow_since = None
        track.kf.update(z, r)
        track.measurement = z
        track.measurement_cov = r
        track.history.append((track.stamp, z))
        track.hits += 1
        track.missed = 0
        track.aged = 0
        track.occluded = False
        track.occluded_since = None
        track.confidence = 0.7 * track.confidence + 0.3 * float(det.confidence)
        if det.size is not None and np.all(np.isfinite(det.size)):
            track.size = 0.8 * track.size + 0.2 * np.asarray(det.size, dtype=float)
        self._correct_yaw(track, det)
        if not track.confirmed and track.hits >= cfg.birth_hits:
            track.confirmed = True

    @staticmethod
    def _correct_yaw(track: _ObjectTrack, det: ObjectDetection) -> None:
        if track.yaw_period <= 0.0 or not math.isfinite(det.yaw_variance):
            return
        r = max(det.yaw_variance, 1e-6)
        if not math.isfinite(track.yaw_var):
            track.yaw, track.yaw_var = wrap(det.yaw, track.yaw_period), r
            return
        gain = track.yaw_var / (track.yaw_var + r)
        track.yaw = wrap(track.yaw + gain * wrap(det.yaw - track.yaw, track.yaw_period),
                         track.yaw_period)
        track.yaw_var = (1.0 - gain) * track.yaw_var

    def _age_unmatched(self, matched: set[int], stamp: float, arm: ArmState | None) -> None:
        cfg = self.config
        pending = [t for t in self._objects if id(t) not in matched]
        if not pending:
            return
        hidden = occluded_mask(np.array([t.kf.x[:3] for t in pending]), arm,
                               cfg.occlusion_radius_m, self._camera,
                               cfg.occlusion_margin_m)
        survivors_gone: set[int] = set()
        for track, is_hidden in zip(pending, hidden, strict=True):
            track.missed += 1
            track.occluded = bool(is_hidden) or track.held
            if track.occluded:
                if track.occluded_since is None:
                    track.occluded_since = stamp
                if stamp - track.occluded_since > cfg.max_occluded_s:
                    track.aged += 1
            else:
                track.occluded_since = None
                track.aged += 1
            limit = cfg.death_misses if track.confirmed else cfg.tentative_max_misses
            if track.aged >= limit:
                survivors_gone.add(id(track))
        self._objects = [t for t in self._objects if id(t) not in survivors_gone]

    def _birth(self, det: ObjectDetection, r: np.ndarray, stamp: float) -> None:
        cfg = self.config
        z = np.asarray(det.position, dtype=float)
        for other in self._objects:
            if other.label == det.label and other.confirmed and \
                    np.linalg.norm(other.kf.x[:3] - z) < cfg.birth_clearance_m:
                return  # a duplicate detection of a track that is already there
        size = np.zeros(3) if det.size is None else np.asarray(det.size, dtype=float)
        track = _ObjectTrack(
            id=self._take_id(), label=det.label,
            kf=KalmanState.start(z, r, cfg.init_velocity_std_mps), stamp=stamp,
            first_seen=stamp, size=size.copy(),
            yaw_period=self.scene.yaw_periods.get(det.label, 2.0 * math.pi),
            confidence=float(det.confidence), measurement=z)
        belt = self.scene.belt
        if belt is not None and belt.contains(z, cfg.conveyor_height_m):
            # Things appearing on the belt ride it: start from the belt's typical speed
            # (the window velocity corrects the class within a second if it stands still).
            d = belt.direction
            track.kf.x[3:] = d * cfg.belt_prior_speed_mps
            track.kf.p[3:, 3:] = (np.eye(3) * cfg.init_velocity_std_mps ** 2 * 0.01
                                  + np.outer(d, d) * cfg.belt_prior_std_mps ** 2)
            track.motion = MotionClass.CONVEYOR
        track.history.append((stamp, z))
        self._correct_yaw(track, det)
        track.confirmed = cfg.birth_hits <= 1
        self._objects.append(track)

    def _classify(self, stamp: float, arm: ArmState | None) -> None:
        cfg = self.config
        belt = self.scene.belt
        for track in self._objects:
            pos = track.kf.x[:3]
            if arm is not None and cfg.arm_interaction:
                dist = float(np.linalg.norm(pos - np.asarray(arm.tcp)))
                radius = cfg.interact_radius_m * (
                    cfg.interact_exit_factor if track.motion == MotionClass.INTERACTING
                    else 1.0)
                if dist < radius:
                    track.motion = MotionClass.INTERACTING
                    track.slow_since = None
                    continue
            if track.motion == MotionClass.INTERACTING:
                track.motion = MotionClass.UNKNOWN   # the gripper has left it
            if track.measurement is None:
                continue  # nothing new was seen: keep the class
            vel = track.window_velocity(stamp, cfg.velocity_window_s)
            if vel is None:
                continue
            speed = float(np.linalg.norm(vel))
            # hysteresis: a static track stays static through small velocity noise
            slow_limit = cfg.static_speed_mps * (
                2.0 if track.motion == MotionClass.STATIC else 1.0)
            if speed < slow_limit:
                track.slow_since = stamp if track.slow_since is None else track.slow_since
            else:
                track.slow_since = None
            if belt is not None and belt.contains(pos, cfg.conveyor_height_m):
                along = float(vel @ belt.direction)
                lateral = float(np.linalg.norm(vel - along * belt.direction))
                threshold = cfg.conveyor_min_speed_mps * (
                    0.5 if track.motion == MotionClass.CONVEYOR else 1.0)
                if along > threshold and lateral < max(0.5 * along, cfg.static_speed_mps):
                    track.motion = MotionClass.CONVEYOR
                    continue
            if track.slow_since is not None and (stamp - track.slow_since >= cfg.static_hold_s
                                                 or track.motion == MotionClass.STATIC):
                track.motion = MotionClass.STATIC
            else:
                track.motion = MotionClass.UNKNOWN

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    # --- people -------------------------------------------------------------------------------
    def _update_people(self, frame: DetectionFrame, dt: float, arm: ArmState | None) -> None:
        cfg = self.config
        for person in self._people:
            for kp in person.keypoints.values():
                kp.kf.predict(dt)
                kp.measurement = None
            person.stamp = frame.stamp
        observations = list(frame.people)
        cost = np.full((len(self._people), len(observations)), _INFEASIBLE)
        aligned: dict[tuple[int, int], PersonObservation] = {}
        for i, person in enumerate(self._people):
            for j, raw in enumerate(observations):
                obs = aligned[i, j] = align_sides(raw, person.positions())
                common = [n for n in obs.keypoints if n in person.keypoints]
                if not common:
                    continue
                names = ["torso"] if "torso" in common else common
                seen = np.mean([np.asarray(obs.keypoints[n], float) for n in names], axis=0)
                dist = float(np.linalg.norm(seen - person.centroid(names)))
                if dist <= cfg.person_gate_m:
                    cost[i, j] = dist
        rows, cols = linear_sum_assignment(cost) if cost.size else ((), ())
        matched_people, matched_obs = set(), set()
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] >= _INFEASIBLE:
                continue
            self._correct_person(self._people[i], aligned[i, j], arm, frame.stamp)
            matched_people.add(i)
            matched_obs.add(j)
        keep = []
        for i, person in enumerate(self._people):
            if i not in matched_people:
                hidden = self._miss_keypoints(person, list(person.keypoints), arm,
                                              frame.stamp)
                # a person the arm hides entirely is not missed: they are where they were
                # (a head camera behind the arm holding something out to them sees only
                # the arm: measured, 12 s of a hand-over); keypoint_max_hidden_s bounds it
                if hidden == 0 or hidden < len(person.keypoints):
                    person.missed += 1
            limit = cfg.person_death_misses if person.confirmed else cfg.tentative_max_misses
            if person.missed < limit:
                keep.append(person)
        self._people = keep
        for j, obs in enumerate(observations):
            if j not in matched_obs:
                self._birth_person(obs, frame.stamp)

    def _keypoint_cov(self, obs: PersonObservation, name: str) -> np.ndarray:
        var = obs.variances.get(name)
        if var is None or var <= 0.0:
            var = self.config.default_keypoint_std_m ** 2
        return np.eye(3) * var

    def _correct_person(self, person: _PersonTrack, obs: PersonObservation,
                        arm: ArmState | None, stamp: float) -> None:
        cfg = self.config
        for name, pos in obs.keypoints.items():
            z = np.asarray(pos, dtype=float)
            r = self._keypoint_cov(obs, name)
            kp = person.keypoints.get(name)
            if kp is None:
                person.keypoints[name] = _Keypoint(self._keypoint_filter(z, r), stamp,
                                                   measurement=z, measurement_cov=r)
                continue
            kp.kf.update(z, r)
            kp.measurement = z
            kp.measurement_cov = r
            kp.measured_at = stamp
            kp.missed = 0
        self._miss_keypoints(person, [n for n in person.keypoints if n not in obs.keypoints],
                             arm, stamp)
        person.hits += 1
        person.missed = 0
        person.confidence = 0.7 * person.confidence + 0.3 * float(obs.confidence)
        if not person.confirmed and person.hits >= cfg.person_birth_hits:
            person.confirmed = True

    def _miss_keypoints(self, person: _PersonTrack, unseen: list[str], arm: ArmState | None,
                        stamp: float) -> int:
        """Keypoints not seen in this frame. One the camera should have seen (e.g. a hand
        that left the view towards the co-worker's station, which the safety scanner covers)
        is dropped after `keypoint_max_misses` frames, not extrapolated: the detector finds a
        visible hand in every frame (measured), and users that age a point by its last
        measurement would otherwise stop the robot for a hand that is gone. One the arm hides
        is kept (and not aged), like an occluded object, for at most
        `keypoint_max_hidden_s` (it carries when it was last measured: users that must be
        safe grow its region with time). Returns how many of those kept the arm hides."""
        if not unseen:
            return 0
        cfg = self.config
        hidden = occluded_mask(np.array([person.keypoints[n].kf.x[:3] for n in unseen]),
                               arm, cfg.occlusion_radius_m, self._camera,
                               cfg.occlusion_margin_m)
        for name, is_hidden in zip(unseen, hidden, strict=True):
            if not is_hidden:
                person.keypoints[name].missed += 1
        person.keypoints = {n: k for n, k in person.keypoints.items()
                            if k.missed < cfg.keypoint_max_misses and
                            stamp - k.measured_at <= cfg.keypoint_max_hidden_s}
        return sum(1 for name, is_hidden in zip(unseen, hidden, strict=True)
                   if is_hidden and name in person.keypoints)

    def _keypoint_filter(self, z: np.ndarray, r: np.ndarray) -> ImmState:
        cfg = self.config
        return ImmState(z, r, cfg.person_init_velocity_std_mps, cfg.q_person_rest,
                        cfg.q_person_moving, cfg.person_mode_stay_s)

    def _birth_person(self, obs: PersonObservation, stamp: float) -> None:
        keypoints = {}
        for name, pos in obs.keypoints.items():
            z = np.asarray(pos, dtype=float)
            r = self._keypoint_cov(obs, name)
            keypoints[name] = _Keypoint(self._keypoint_filter(z, r), stamp, measurement=z,
                                        measurement_cov=r)
        person = _PersonTrack(self._take_id(), stamp, stamp, keypoints,
                              confidence=float(obs.confidence))
        person.confirmed = self.config.person_birth_hits <= 1
        self._people.append(person)
