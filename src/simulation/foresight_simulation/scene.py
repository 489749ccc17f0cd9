"""The industrial assembly cell as one MuJoCo model (DESIGN sections 3, 5, 6), built from a
cell layout (`foresight_common.cell_layout`) and one sampled scene of a variation family
(`foresight_simulation.families`). No rclpy: the simulation node wraps this.

What it holds: bench, fixture block with chamfered holes (each hole wall is a ring of convex
meshes, since MuJoCo convex-hulls every mesh), tray, conveyor (a static belt geom with a
MuJoCo surface velocity, so friction carries parts and a gripper can lift them off), reject
bin, parts as free bodies, distractor boxes, the Franka Panda from `build_robot_spec()` with
one torque motor per arm joint and one position servo per finger, a wrist force/torque sensor
pair, the overhead RGB-D camera, the family's lights and a kinematic co-worker figure made of
capsules (mocap bodies; it renders but never pushes anything).

What it offers the node: `step_world()` before every `mj_step` (co-worker motion, conveyor
part spawning), `ground_truth()`, `separation()`, `robot_contacts()`, `part_status()`, camera
intrinsics and pose, and RGB-D rendering with `apply_camera_noise`.

Frames: world = REP 103 (x forward from the robot, z up, metres); quaternions (w, x, y, z).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from foresight_common.cell_layout import (
    BenchSpec,
    BinSpec,
    CellLayout,
    ConveyorSpec,
    HoleSpec,
    PartType,
    TraySpec,
    conveyor_boxes,
    hole_cell_half_extents,
    load_cell_layout,
    open_box_parts,
    rotate_xy,
    yaw_to_quat,
)
from foresight_common.robot_model import (
    ARM_JOINTS,
    BASE_BODY,
    FINGER_JOINTS,
    HOME_POSITIONS,
    MAX_GRIPPER_WIDTH,
    WRIST_FT_SITE,
    build_robot_spec,
)
from foresight_simulation.families import (
    CameraNoise,
    Family,
    PartParams,
    ReachParams,
    SceneParams,
    cell_layout_path,
    load_family,
    sample_scene,
)

# --- physics --------------------------------------------------------------------------------
TIMESTEP = 0.002
#: Panda joint torque limits (N m), datasheet.
ARM_TORQUE_LIMITS = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
#: Reflected rotor inertia (kg m^2) added to every arm joint, as in MuJoCo Menagerie's Panda.
#: The robosuite model has none; without it the light wrist links make an explicit torque PD
#: law at 2 ms stiff and prone to ringing.
ARM_ARMATURE = 0.1
#: Finger position servos. The robosuite finger joints carry 100 N s/m damping, so kp = 2000
#: closes a finger with a 0.05 s time constant; the grip force is kp * (q - q_cmd) clipped
#: to FINGER_FORCE_LIMIT (a command of 0 on a 38 mm part squeezes with 38 N).
FINGER_KP = 2000.0
FINGER_FORCE_LIMIT = 60.0
#: Contact parameters (see the report in the module tests): finger pads win every contact
#: with a part (priority 2): high friction, torsional friction (condim 4) against the part
#: turning in the grasp, a stiff but damped solref. The fixture (priority 1) is slippery so
#: parts slide down the 45 degree chamfers. Parts grip the bench, tray and belt normally.
PAD_FRICTION = (1.5, 0.02, 0.0001)
PAD_SOLREF = (0.004, 1.0)
PAD_SOLIMP = (0.95, 0.99, 0.001, 0.5, 2.0)
PART_FRICTION = (0.7, 0.005, 0.0001)
FIXTURE_FRICTION = (0.25, 0.005, 0.0001)
BELT_FRICTION = (1.0, 0.005, 0.0001)
#: Round holes are polygons with this many sides, circumscribing the hole's circle (so the
#: nominal clearance holds along every wall's normal).
ROUND_HOLE_SIDES = 24
#: Where conveyor parts wait before their spawn time: on the floor, behind the robot, out of
#: the camera's view and the robot's reach.
PARK_ORIGIN = (-2.0, 2.0)
PARK_SPACING = 0.25
#: A conveyor part is not spawned while another body is closer than this to its spawn point.
SPAWN_CLEAR_RADIUS = 0.07

# --- fixed reference values of the part status (DESIGN section 7: not from the stack's
# configuration; the judge relies on these) ---------------------------------------------------
SEAT_BOTTOM_TOL = 0.005      # m: part bottom within this of the hole bottom
SEAT_XY_EXTRA = 0.001        # m: part axis within clearance + this of the hole axis
SEAT_TILT = math.radians(10.0)
WRONG_HOLE_HEIGHT = 0.02     # m: part bottom within this above the fixture top over a hole
HELD_ABOVE_BENCH = 0.002     # m
CONTAINER_HEIGHT = 0.01      # m: resting in the tray / on the belt = bottom within this
FELL_BELOW_BENCH = 0.02      # m

# --- co-worker figure (m); a 1.75 m person ---------------------------------------------------
HIP_HEIGHT = 0.95
HIP_HALF_WIDTH = 0.10
LEG_RADIUS = 0.07
TORSO_LENGTH = 0.50          # hip -> neck
TORSO_RADIUS = 0.13
SHOULDER_HALF_WIDTH = 0.19
SHOULDER_DROP = 0.05         # below the neck, along the torso
SHOULDER_RADIUS = 0.06
HEAD_RADIUS = 0.10
NECK_TO_HEAD = 0.16
UPPER_ARM = 0.30
FOREARM = 0.26
WRIST_TO_HAND = 0.05         # hand centre (the hand site) beyond the wrist
UPPER_ARM_RADIUS = 0.045
FOREARM_RADIUS = 0.038
HAND_RADIUS = 0.045
ARM_REACH = UPPER_ARM + FOREARM + WRIST_TO_HAND
MAX_LEAN = math.radians(50.0)
#: Rest hand position in the torso frame (forward, left, up from the hip) for the left hand;
#: the right one mirrors it.
REST_HAND = (0.10, 0.22, 0.02)  # hands hanging relaxed beside the hips, not over the bench
MIN_REACH_DURATION = 0.3     # s
COWORKER_COLOURS = {"skin": (0.87, 0.70, 0.58, 1.0), "shirt": (0.15, 0.55, 0.60, 1.0),
                    "trousers": (0.20, 0.22, 0.30, 1.0)}
PERSON_PARTS = ("torso", "head", "left_upper_arm", "left_forearm", "left_hand",
                "right_upper_arm", "right_forearm", "right_hand")
#: Person parts reported in the ground truth.
PERSON_GROUND_TRUTH = ("torso", "head", "left_hand", "right_hand")

OBJECT_KINDS = ("part", "hole", "tray", "conveyor", "fixture", "person", "distractor")


@dataclass(frozen=True)
class ObjectState:
    """Ground truth of one object, world frame. `size` is the bounding box extents (m);
    `matches` is the hole type a part belongs in (else ""). Velocities are of the body
    origin (m/s, rad/s); for the conveyor `linear_velocity` is the belt's surface velocity."""
    name: str
    kind: str
    type: str
    matches: str
    position: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    linear_velocity: tuple[float, float, float]
    angular_velocity: tuple[float, float, float]
    size: tuple[float, float, float]


# --- small geometry helpers ------------------------------------------------------------------
def _tuple3(v: Sequence[float]) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def _norm(v: np.ndarray) -> float:
    """Length of a 3-vector (np.linalg.norm costs ~2 us per call; this runs every step)."""
    return math.sqrt(float(v @ v))


def quat_z_to(direction: np.ndarray) -> np.ndarray:
    """Unit quaternion rotating +z onto `direction` (shortest arc)."""
    length = _norm(direction)
    dx, dy, dz = (float(c) / length for c in direction)
    w = 1.0 + dz
    if w < 1e-9:
        return np.array([0.0, 1.0, 0.0, 0.0])
    n = math.sqrt(w * w + dx * dx + dy * dy)
    return np.array([w / n, -dy / n, dx / n, 0.0])


def matrix_quat(rot: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, rot.reshape(-1))
    return quat


def _clip_polygon(poly: list[np.ndarray], normal: np.ndarray, offset: float) -> list[
        np.ndarray]:
    """Keep the part of a convex polygon where normal . p >= offset (Sutherland-Hodgman)."""
    out: list[np.ndarray] = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        da, db = float(normal @ a) - offset, float(normal @ b) - offset
        if da >= 0:
            out.append(a)
        if (da >= 0) != (db >= 0):
            t = da / (da - db)
            out.append(a + t * (b - a))
    return out


def hole_polygon(hole: HoleSpec, local_yaw: float) -> np.ndarray:
    """Opening of a hole as a CCW convex polygon (N x 2) around its centre, in the fixture
    frame: round holes are a polygon circumscribing the hole's circle."""
    if hole.shape == "cylinder":
        n = ROUND_HOLE_SIDES
        r = hole.opening[0] / 2.0 / math.cos(math.pi / n)
        angles = local_yaw + math.pi / n + 2.0 * math.pi * np.arange(n) / n
        return np.stack([r * np.cos(angles), r * np.sin(angles)], axis=1)
    hx, hy = hole.opening[0] / 2.0, hole.opening[1] / 2.0
    corners = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    c, s = math.cos(local_yaw), math.sin(local_yaw)
    return corners @ np.array([[c, s], [-s, c]])


def hole_wall_pieces(polygon: np.ndarray, cell_half: tuple[float, float], depth: float,
                     chamfer: float) -> list[np.ndarray]:
    """Convex pieces (vertex arrays, hole frame, z = 0 at the top surface) that fill a
    rectangular cell around a hole down to its bottom, leaving the hole and a 45 degree
    chamfer of `chamfer` on its rim. Piece i lies between the rays through polygon vertices
    i and i+1, outside edge i: an intersection of half-spaces, hence convex."""
    hx, hy = cell_half
    cell = [np.array(p) for p in ((hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy))]
    pieces = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        edge = b - a
        outward = np.array([edge[1], -edge[0]]) / np.linalg.norm(edge)
        wedge = _clip_polygon(cell, np.array([-a[1], a[0]]), 0.0)        # left of ray a
        wedge = _clip_polygon(wedge, np.array([b[1], -b[0]]), 0.0)       # right of ray b
        lower = _clip_polygon(wedge, outward, float(outward @ a))
        upper = _clip_polygon(wedge, outward, float(outward @ a) + chamfer)
        verts = [(p[0], p[1], -depth) for p in lower]
        if chamfer > 0:
            verts += [(p[0], p[1], -chamfer) for p in lower]
        verts += [(p[0], p[1], 0.0) for p in upper]
        pieces.append(np.array(verts))
    return pieces


def grid_fill(extent: tuple[float, float],
              holes: Sequence[tuple[float, float, float, float]]) -> list[
                  tuple[float, float, float, float]]:
    """Rectangles (x0, x1, y0, y1) covering [-ex, ex] x [-ey, ey] minus the hole cells
    (cx, cy, hx, hy), merged row-wise and then column-wise to keep the geom count small."""
    ex, ey = extent
    xs = sorted({-ex, ex, *[c[0] - c[2] for c in holes], *[c[0] + c[2] for c in holes]})
    ys = sorted({-ey, ey, *[c[1] - c[3] for c in holes], *[c[1] + c[3] for c in holes]})

    def covered(x: float, y: float) -> bool:
        return any(abs(x - c[0]) < c[2] and abs(y - c[1]) < c[3] for c in holes)

    rows: list[tuple[float, float, float, float]] = []
    for j in range(len(ys) - 1):
        start = None
        for i in range(len(xs) - 1):
            free = not covered((xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2)
            if free and start is None:
                start = xs[i]
            if not free and start is not None:
                rows.append((start, xs[i], ys[j], ys[j + 1]))
                start = None
        if start is not None:
            rows.append((start, xs[-1], ys[j], ys[j + 1]))
    merged: list[tuple[float, float, float, float]] = []
    for r in rows:
        for k, m in enumerate(merged):
            if abs(m[0] - r[0]) < 1e-12 and abs(m[1] - r[1]) < 1e-12 and abs(m[3] - r[2]) < 1e-12:
                merged[k] = (m[0], m[1], m[2], r[3])
                break
        else:
            merged.append(r)
    return merged


def min_jerk(tau: float) -> tuple[float, float]:
    """Minimum-jerk progress s(tau) and ds/dtau for tau in [0, 1]."""
    tau = min(max(tau, 0.0), 1.0)
    return (tau ** 3 * (10.0 - 15.0 * tau + 6.0 * tau * tau),
            30.0 * tau * tau * (1.0 - tau) ** 2)


def two_link_elbow(shoulder: np.ndarray, hand: np.ndarray, l1: float, l2: float,
                   pole: np.ndarray) -> np.ndarray:
    """Elbow of a two-link arm (upper arm l1, forearm + hand l2) from shoulder to hand, bent
    towards `pole` (a direction); a hand out of reach stretches the arm towards it."""
    delta = hand - shoulder
    d = min(max(_norm(delta), abs(l1 - l2) + 1e-6), l1 + l2 - 1e-6)
    u = delta / max(_norm(delta), 1e-9)
    a = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    h = math.sqrt(max(l1 * l1 - a * a, 0.0))
    pole = pole - (pole @ u) * u
    pole = pole / max(_norm(pole), 1e-9)
    return shoulder + a * u + h * pole


# --- co-worker motion: a pure function of time ---------------------------------------------
@dataclass(frozen=True)
class ReachPhase:
    """One scheduled reach with absolute times (s): go [t_go, t_hold), hold [t_hold, t_back),
    return [t_back, t_end)."""
    hand: str
    target_name: str
    start: np.ndarray
    target: np.ndarray
    t_go: float
    t_hold: float
    t_back: float
    t_end: float
    peak_speed: float


class CoworkerMotion:
    """Kinematics of the co-worker figure. The schedule (`ReachParams` from the family) is
    turned into absolute phases; `body_poses(t)` gives every segment's pose at time t, so
    velocities are exact finite differences and a rollout can ask about any time. The
    reaching hand follows a straight minimum-jerk path from its rest position to the target
    (goal-directed, bell-shaped speed with the given peak); the torso leans forward just as
    much as the arm needs; elbows follow from two-link inverse kinematics."""

    def __init__(self, base: tuple[float, float], yaw: float,
                 reaches: Sequence[ReachParams]) -> None:
        self.base = np.array([base[0], base[1], 0.0])
        self.facing = np.array([math.cos(yaw), math.sin(yaw), 0.0])
        self.left = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
        self.up = np.array([0.0, 0.0, 1.0])
        self.hip = self.base + self.up * HIP_HEIGHT
        self._lean_grid = np.linspace(0.0, MAX_LEAN, 51)
        self._lean_cos = np.cos(self._lean_grid)
        self._lean_sin = np.sin(self._lean_grid)
        self.phases: list[ReachPhase] = []
        t = 0.0
        for reach in reaches:
            start = self._rest_hand(reach.hand, 0.0)
            target = np.array(reach.target, dtype=float)
            if not self.reachable(target):
                raise ValueError(f"co-worker reach target {reach.target_name} "
                                 f"{tuple(round(v, 3) for v in reach.target)} is out of the "
                                 f"figure's reach from {tuple(base)}")
            distance = _norm(target - start)
            duration = max(1.875 * distance / reach.peak_speed, MIN_REACH_DURATION)
            t_go = t + reach.idle_before_s
            t_hold = t_go + duration
            t_back = t_hold + reach.dwell_s
            t_end = t_back + duration
            self.phases.append(ReachPhase(reach.hand, reach.target_name, start, target, t_go,
                                          t_hold, t_back, t_end, reach.peak_speed))
            t = t_end
        self._starts = [p.t_go for p in self.phases]

    # geometry of the torso for a lean angle
    def _torso_axes(self, lean: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z = math.cos(lean) * self.up + math.sin(lean) * self.facing
        x = math.cos(lean) * self.facing - math.sin(lean) * self.up
        return x, self.left, z

    def _shoulder(self, hand: str, lean: float,
                  axes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        x, y, z = axes if axes is not None else self._torso_axes(lean)
        side = 1.0 if hand == "left" else -1.0
        return self.hip + z * (TORSO_LENGTH - SHOULDER_DROP) + y * side * SHOULDER_HALF_WIDTH

    def _rest_hand(self, hand: str, lean: float,
                   axes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        x, y, z = axes if axes is not None else self._torso_axes(lean)
        side = 1.0 if hand == "left" else -1.0
        return self.hip + x * REST_HAND[0] + y * side * REST_HAND[1] + z * REST_HAND[2]

    def _lean_for(self, hand: str, position: np.ndarray) -> float:
        """Smallest lean (rad) at which `position` is within 97 % of the arm's reach,
        interpolated between 1 degree steps so it changes continuously with the hand."""
        side = 1.0 if hand == "left" else -1.0
        reach = TORSO_LENGTH - SHOULDER_DROP
        shoulders = (self.hip + self.left * side * SHOULDER_HALF_WIDTH
                     + reach * (self._lean_cos[:, None] * self.up
                                + self._lean_sin[:, None] * self.facing))
        excess = np.linalg.norm(position - shoulders, axis=1) - 0.97 * ARM_REACH
        inside = np.flatnonzero(excess <= 0.0)
        if inside.size == 0:
            return MAX_LEAN
        k = int(inside[0])
        if k == 0:
            return 0.0
        frac = excess[k - 1] / (excess[k - 1] - excess[k])
        return float(self._lean_grid[k - 1] + frac * (self._lean_grid[k] - self._lean_grid[k - 1]))

    def reachable(self, position: np.ndarray) -> bool:
        return any(_norm(position - self._shoulder(h, MAX_LEAN)) <= 0.97
                   * ARM_REACH for h in ("left", "right"))

    def phase_at(self, t: float) -> tuple[str, ReachPhase | None]:
        """("idle" | "reaching" | "holding" | "returning", the current reach or None)."""
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return "idle", None
        p = self.phases[i]
        if t < p.t_hold:
            return "reaching", p
        if t < p.t_back:
            return "holding", p
        if t < p.t_end:
            return "returning", p
        return "idle", None

    def static_key(self, t: float) -> tuple[str, int] | None:
        """A key that stays the same while the figure stands still (at rest or holding at a
        target), None while a hand moves: callers skip recomputing an unchanged pose."""
        state, p = self.phase_at(t)
        if state in ("reaching", "returning"):
            return None
        i = bisect.bisect_right(self._starts, t) - 1
        return state, i

    def hand_path(self, t: float) -> tuple[str | None, np.ndarray | None]:
        """The moving hand and its position at time t (None when both hands rest)."""
        state, p = self.phase_at(t)
        if p is None:
            return None, None
        if state == "reaching":
            s, _ = min_jerk((t - p.t_go) / (p.t_hold - p.t_go))
            return p.hand, p.start + s * (p.target - p.start)
        if state == "holding":
            return p.hand, p.target.copy()
        s, _ = min_jerk((t - p.t_back) / (p.t_end - p.t_back))
        return p.hand, p.target + s * (p.start - p.target)

    def _elbow(self, shoulder: np.ndarray, hand: np.ndarray, side: float) -> np.ndarray:
        pole = -self.up + 0.6 * side * self.left - 0.2 * self.facing
        return two_link_elbow(shoulder, hand, UPPER_ARM, FOREARM + WRIST_TO_HAND, pole)

    def body_poses(self, t: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """World pose (position, quat wxyz) of every figure segment at time t. Segment
        bodies sit at the segment's centre with their z axis along it; hands at the hand
        centre (the hand site)."""
        moving, moving_pos = self.hand_path(t)
        lean = self._lean_for(moving, moving_pos) if moving is not None else 0.0
        axes = self._torso_axes(lean)
        x, y, z = axes
        torso_rot = np.stack(axes, axis=1)
        torso_quat = matrix_quat(torso_rot)
        poses: dict[str, tuple[np.ndarray, np.ndarray]] = {
            "torso": (self.hip + z * (TORSO_LENGTH / 2.0), torso_quat),
            "head": (self.hip + z * (TORSO_LENGTH + NECK_TO_HEAD), torso_quat),
        }
        for hand in ("left", "right"):
            side = 1.0 if hand == "left" else -1.0
            shoulder = self._shoulder(hand, lean, axes)
            hand_pos = moving_pos if hand == moving else self._rest_hand(hand, lean, axes)
            elbow = self._elbow(shoulder, hand_pos, side)
            fore_dir = hand_pos - elbow
            fore_dir /= max(_norm(fore_dir), 1e-9)
            wrist = elbow + fore_dir * FOREARM
            poses[f"{hand}_upper_arm"] = ((shoulder + elbow) / 2.0, quat_z_to(elbow - shoulder))
            poses[f"{hand}_forearm"] = ((elbow + wrist) / 2.0, quat_z_to(fore_dir))
            poses[f"{hand}_hand"] = (np.array(hand_pos, dtype=float), quat_z_to(fore_dir))
        return poses


def add_arm_drives(spec: mujoco.MjSpec) -> None:
    """The arm's "hardware" on a spec holding `build_robot_spec()`: reflected rotor inertia,
    one torque motor per arm joint, one position servo per finger, grippy finger pads and
    the wrist force/torque sensor pair (the simulation's controllers drive these)."""
    for name in ARM_JOINTS:
        spec.joint(name).armature = ARM_ARMATURE
    for geom in spec.geoms:
        if geom.name.endswith("pad_collision"):
            geom.priority = 2
            geom.condim = 4
            geom.friction = list(PAD_FRICTION)
            geom.solref = list(PAD_SOLREF)
            geom.solimp = list(PAD_SOLIMP)
    for name, limit in zip(ARM_JOINTS, ARM_TORQUE_LIMITS, strict=True):
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_motor()
        act.ctrllimited = True
        act.ctrlrange = [-limit, limit]
    for name in FINGER_JOINTS:
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=FINGER_KP)
        act.ctrllimited = True
        act.ctrlrange = list(spec.joint(name).range)
        act.forcelimited = True
        act.forcerange = [-FINGER_FORCE_LIMIT, FINGER_FORCE_LIMIT]
    spec.add_sensor(name="wrist_force", type=mujoco.mjtSensor.mjSENS_FORCE,
                    objtype=mujoco.mjtObj.mjOBJ_SITE, objname=WRIST_FT_SITE)
    spec.add_sensor(name="wrist_torque", type=mujoco.mjtSensor.mjSENS_TORQUE,
                    objtype=mujoco.mjtObj.mjOBJ_SITE, objname=WRIST_FT_SITE)


def configure_simulation(spec: mujoco.MjSpec, name: str, ambient: float) -> None:
    """Physics options and the offscreen renderer's settings every scene shares."""
    spec.modelname = name
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.stat.extent = 4.0
    spec.visual.map.znear = 0.0125      # x extent: 5 cm near plane
    spec.visual.map.zfar = 5.0          # x extent: 20 m far plane
    spec.visual.global_.offwidth = 1920
    spec.visual.global_.offheight = 1440
    spec.visual.quality.shadowsize = 0
    # no multisampling: 4x MSAA nearly doubles a CPU render (32 vs 59 ms for RGB-D at
    # 320x240) and every ms of it is camera latency the safety supervisor pays for;
    # depth is unchanged, colour differs only along edges
    spec.visual.quality.offsamples = 0
    spec.visual.headlight.ambient = [ambient] * 3
    spec.visual.headlight.diffuse = [0.15] * 3
    spec.visual.headlight.specular = [0.0] * 3


class SceneQueries:
    """What the simulation node and the offline tools ask of any scene (the industrial cell,
    the home-care room): separation from the person, robot speed and contacts, which object
    the fingers touch, the camera's model, pose and images. A scene sets the indices these
    read (`model`, `data`, `params.seed`, `_robot_bodies`, `_robot_collision_geoms`,
    `_person_geoms`, `_person_geom_part`, `_category`, `_geom_part`, `_left_finger_geoms`,
    `_right_finger_geoms`, `_camera_id`)."""

    #: Category of the task's objects: touching them is work, not a collision.
    TASK_CATEGORY = "part"
    #: The frame ground truth is given in.
    FRAME = "world"

    def _is_descendant(self, body: int, ancestor: int) -> bool:
        while body != 0:
            if body == ancestor:
                return True
            body = int(self.model.body_parentid[body])
        return ancestor == 0

    def _body_velocity(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        res = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_BODY, body, res, 0)
        return res[3:], res[:3]

    def visible_from_camera(self, position: Sequence[float], body_name: str,
                            data: mujoco.MjData | None = None) -> bool:
        """Whether the camera sees `position` (a point on body `body_name`): the first
        rendered geom along the ray from the camera belongs to that body (or nothing lies in
        between). `data` is the state to look at (default: the live one). For the
        perception metrics of offline tools."""
        m, d = self.model, (self.data if data is None else data)
        origin = d.cam_xpos[self._camera_id].copy()
        target = np.asarray(position, dtype=float)
        direction = target - origin
        distance = float(np.linalg.norm(direction))
        geomid = np.zeros(1, dtype=np.int32)
        groups = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)  # the groups the camera draws
        hit = mujoco.mj_ray(m, d, origin, direction / distance, groups, 1, -1, geomid)
        if hit < 0 or hit >= distance - 0.005:
            return True
        return m.body(int(m.geom_bodyid[geomid[0]])).name == body_name

    def separation(self, cutoff: float = 2.0, person_geoms: np.ndarray | None = None
                   ) -> tuple[float, str]:
        """Minimum surface distance (m) between the robot's collision geometry and the
        co-worker (or those of their geoms given), and the closest person body (e.g.
        "coworker/right_hand"). Returns (cutoff, "") when everything is farther than
        `cutoff`; negative when overlapping."""
        m, d = self.model, self.data
        rg = self._robot_collision_geoms
        pg = self._person_geoms if person_geoms is None else person_geoms
        if len(pg) == 0:
            return cutoff, ""
        centres = np.linalg.norm(d.geom_xpos[rg][:, None, :] - d.geom_xpos[pg][None, :, :],
                                 axis=2)
        lower = centres - m.geom_rbound[rg][:, None] - m.geom_rbound[pg][None, :]
        best, best_part = cutoff, ""
        order = np.argsort(lower, axis=None)
        for flat in order:
            i, j = divmod(int(flat), len(pg))
            if lower[i, j] >= best:
                break
            dist = mujoco.mj_geomDistance(m, d, int(rg[i]), int(pg[j]), best, None)
            if dist < best:
                best, best_part = float(dist), self._person_geom_part[int(pg[j])]
        return best, best_part

    def robot_speed(self) -> float:
        """Largest linear speed (m/s) of any robot body origin, world frame (the robot's
        speed term of speed and separation monitoring)."""
        res = np.zeros(6)
        fastest = 0.0
        for body in self._robot_bodies:
            mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_BODY, body,
                                     res, 0)
            fastest = max(fastest, _norm(res[3:]))
        return fastest

    def robot_contacts(self) -> list[str]:
        """Categories of non-task things the robot touches now ("bench", "fixture",
        "conveyor", "tray", "bin", "distractor", "floor", "person"); parts are task objects
        and not listed. Person contact is geometric (the figure has no physical contacts)."""
        d = self.data
        n = d.ncon
        found: set[str] = set()
        if n:
            g1 = d.contact.geom1[:n]
            g2 = d.contact.geom2[:n]
            touching = d.contact.dist[:n] <= 0.0
            c1, c2 = self._category[g1], self._category[g2]
            for a, b, ok in zip(c1, c2, touching, strict=True):
                if not ok:
                    continue
                if a == "robot" and b not in ("robot", self.TASK_CATEGORY, ""):
                    found.add(b)
                elif b == "robot" and a not in ("robot", self.TASK_CATEGORY, ""):
                    found.add(a)
        if self.separation(cutoff=0.05)[0] <= 0.0:
            found.add("person")
        return sorted(found)

    def _finger_contacts(self) -> dict[str, tuple[bool, bool]]:
        d = self.data
        n = d.ncon
        touching: dict[str, list[bool]] = {}
        for k in range(n):
            g1, g2 = int(d.contact.geom1[k]), int(d.contact.geom2[k])
            for part_geom, other in ((g1, g2), (g2, g1)):
                part = self._geom_part.get(part_geom)
                if part is None:
                    continue
                flags = touching.setdefault(part, [False, False])
                if other in self._left_finger_geoms:
                    flags[0] = True
                elif other in self._right_finger_geoms:
                    flags[1] = True
        return {k: (v[0], v[1]) for k, v in touching.items()}

    # --- camera --------------------------------------------------------------------------------
    def camera_intrinsics(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Pinhole (fx, fy, cx, cy) in pixels of the overhead camera rendered at width x
        height, ROS/OpenCV convention (pixel centres at integer coordinates, so the principal
        point of MuJoCo's centred projection is ((w - 1) / 2, (h - 1) / 2)); MuJoCo's fovy
        spans the image height and pixels are square."""
        fovy = math.radians(float(self.model.cam_fovy[self._camera_id]))
        fy = (height / 2.0) / math.tan(fovy / 2.0)
        return fy, fy, (width - 1) / 2.0, (height - 1) / 2.0

    def in_camera_view(self, position: Sequence[float], width: int, height: int,
                       data: mujoco.MjData | None = None) -> bool:
        """Whether `position` (world) projects inside a width x height image of the camera
        and lies in front of it (occlusion is `visible_from_camera`'s matter)."""
        d = self.data if data is None else data
        cid = self._camera_id
        optical = d.cam_xmat[cid].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        local = optical.T @ (np.asarray(position, dtype=float) - d.cam_xpos[cid])
        if local[2] <= 0.0:
            return False
        fx, fy, cx, cy = self.camera_intrinsics(width, height)
        u, v = fx * local[0] / local[2] + cx, fy * local[1] / local[2] + cy
        return -0.5 <= u <= width - 0.5 and -0.5 <= v <= height - 0.5

    def camera_pose(self, optical: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """World position (m) and quaternion (w, x, y, z) of the camera: the REP 103 optical
        frame (z forward, x right, y down) by default, else MuJoCo's camera frame (looking
        along -z, y up). Valid after mj_forward/mj_step."""
        cid = self._camera_id
        rot = self.data.cam_xmat[cid].reshape(3, 3)
        if optical:
            rot = rot @ np.diag([1.0, -1.0, -1.0])
        return self.data.cam_xpos[cid].copy(), matrix_quat(rot)

    @property
    def far_clip(self) -> float:
        """Far clipping distance (m) of the renderer: depth at or beyond it means no hit."""
        return float(self.model.vis.map.zfar * self.model.stat.extent)

    def render_rgbd(self, renderer: mujoco.Renderer, data: mujoco.MjData | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Render the overhead camera: (rgb uint8 H x W x 3, depth float32 H x W z-depth in
        metres, NaN where nothing was hit). Shadows and reflections are switched off (CPU
        rendering is ~6x faster, DESIGN section 3). Noise-free: see `apply_camera_noise`.
        `data` renders a snapshot of this cell's state instead of the live one."""
        renderer.update_scene(self.data if data is None else data, camera=self._camera_id)
        flags = renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        renderer.disable_depth_rendering()
        rgb = renderer.render().copy()
        renderer.enable_depth_rendering()
        depth = renderer.render().astype(np.float32)
        renderer.disable_depth_rendering()
        depth[~(depth < self.far_clip * 0.999)] = np.nan
        return rgb, depth

    def noise_rng(self, stream: int = 0) -> np.random.Generator:
        """A generator for camera noise derived from the scene seed (reproducible runs)."""
        return np.random.default_rng([self.params.seed, 7919, stream])


# --- the cell --------------------------------------------------------------------------------
class IndustrialCell(SceneQueries):
    """One MuJoCo world of the industrial assembly cell. `model`/`data` are public: the
    simulation node steps them (`step_world()` then `mujoco.mj_step`), its controllers write
    `data.ctrl` through the actuators named after the joints."""

    def __init__(self, layout: CellLayout, params: SceneParams) -> None:
        self.nominal_layout = layout
        self.params = params
        #: The layout of this scene: the nominal one with the fixture/tray offsets applied.
        self.layout = params.effective_layout(layout)
        self.parts: dict[str, PartParams] = {p.name: p for p in params.parts}
        self.coworker = CoworkerMotion(self.layout.coworker.base, self.layout.coworker.yaw,
                                       params.coworker_reaches)
        self.camera_name = self.layout.camera.name
        self._geom_category: dict[str, str] = {}
        spec = self._build_spec()
        self.spec = spec
        self.model: mujoco.MjModel = spec.compile()
        self.data = mujoco.MjData(self.model)
        self._index()
        self.reset()

    @classmethod
    def from_family(cls, family: str | Path | Family, seed: int,
                    config_dir: str | Path | None = None) -> IndustrialCell:
        """Convenience: load the family (name or path) and its cell layout, sample the scene
        for `seed` and build it."""
        fam = family if isinstance(family, Family) else load_family(family, config_dir)
        layout = load_cell_layout(cell_layout_path(fam, config_dir))
        return cls(layout, sample_scene(layout, fam, seed))

    # --- building ----------------------------------------------------------------------------
    def _geom(self, body: mujoco.MjsBody, category: str, **kwargs: object) -> mujoco.MjsGeom:
        geom = body.add_geom(**kwargs)
        self._geom_category[geom.name] = category
        return geom

    def _build_spec(self) -> mujoco.MjSpec:
        spec = build_robot_spec()
        p = self.params
        configure_simulation(spec, "industrial_cell", p.ambient)
        self._setup_robot(spec)
        world = spec.worldbody
        self._geom(world, "floor", name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE,
                   size=[4.0, 4.0, 0.05], rgba=[0.42, 0.43, 0.45, 1.0])
        for light in p.lights:
            world.add_light(name=light.name, type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                            pos=[0.45, -0.1, 3.0], dir=list(light.direction),
                            diffuse=list(light.diffuse), specular=[0.1, 0.1, 0.1],
                            castshadow=False)
        cam = self.layout.camera
        world.add_camera(name=cam.name, pos=list(cam.position), quat=list(cam.quat),
                         fovy=cam.fovy_deg)
        self._add_bench(spec)
        self._add_fixture(spec)
        self._add_tray_bin_conveyor(spec)
        for d in p.distractors:
            self._geom(world, "distractor", name=d.name, type=mujoco.mjtGeom.mjGEOM_BOX,
                       pos=list(d.center), quat=list(yaw_to_quat(d.yaw)),
                       size=list(d.half_size), rgba=list(d.colour))
        self._add_parts(spec)
        self._add_coworker(spec)
        return spec

    def _setup_robot(self, spec: mujoco.MjSpec) -> None:
        root = spec.body(BASE_BODY).parent
        if root is None or root.name == "world":
            root = spec.body(BASE_BODY)
        root.pos = list(self.layout.robot_base)
        root.quat = list(yaw_to_quat(self.layout.robot_yaw))
        # Render only the visual meshes: collision geoms (group 0 in robosuite) go to the
        # hidden group 3, robosuite's marker sites (a long green "grip cylinder", axes) to
        # the hidden group 5, so neither shows up in the camera's colour or depth.
        for site in spec.sites:
            site.group = 5
        for geom in spec.geoms:
            if geom.contype or geom.conaffinity:
                geom.group = 3
        add_arm_drives(spec)

    def _add_bench(self, spec: mujoco.MjSpec) -> None:
        b = self.layout.bench
        self._geom(spec.worldbody, "bench", name="bench", type=mujoco.mjtGeom.mjGEOM_BOX,
                   pos=[b.center[0], b.center[1], b.top_z / 2.0],
                   size=[b.size[0] / 2.0, b.size[1] / 2.0, b.top_z / 2.0], rgba=list(b.colour))

    def _add_fixture(self, spec: mujoco.MjSpec) -> None:
        """Block = a base slab under the hole bottoms + filler boxes around the hole cells +
        per hole a ring of convex wall pieces (coloured rim) with the chamfer."""
        fx = self.layout.fixture
        body = spec.worldbody.add_body(name="fixture", pos=list(fx.center),
                                       quat=list(yaw_to_quat(fx.yaw)))
        common = {"friction": list(FIXTURE_FRICTION), "priority": 1}
        half = (fx.size[0] / 2.0, fx.size[1] / 2.0, fx.size[2] / 2.0)
        slab = fx.size[2] - fx.hole_depth
        self._geom(body, "fixture", name="fixture/base", type=mujoco.mjtGeom.mjGEOM_BOX,
                   pos=[0.0, 0.0, -half[2] + slab / 2.0], size=[half[0], half[1], slab / 2.0],
                   rgba=list(fx.colour), **common)
        cells = []
        for d in fx.hole_defs:
            hx, hy = hole_cell_half_extents(fx, d, self.layout.part_types)
            cells.append((d.offset[0], d.offset[1], hx, hy))
        upper_z = half[2] - fx.hole_depth / 2.0
        for k, (x0, x1, y0, y1) in enumerate(grid_fill((half[0], half[1]), cells)):
            self._geom(body, "fixture", name=f"fixture/fill_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                       pos=[(x0 + x1) / 2.0, (y0 + y1) / 2.0, upper_z],
                       size=[(x1 - x0) / 2.0, (y1 - y0) / 2.0, fx.hole_depth / 2.0],
                       rgba=list(fx.colour), **common)
        meshes: dict[tuple[str, float], list[str]] = {}
        for d, hole, (cx, cy, hx, hy) in zip(fx.hole_defs, self.layout.holes, cells,
                                             strict=True):
            key = (d.type, round(d.yaw, 6))
            if key not in meshes:
                names = []
                pieces = hole_wall_pieces(hole_polygon(hole, d.yaw), (hx, hy), fx.hole_depth,
                                          fx.chamfer)
                for j, verts in enumerate(pieces):
                    name = f"fixture/{d.type}_{len(meshes)}_wall_{j}"
                    spec.add_mesh(name=name, uservert=verts.reshape(-1).tolist())
                    names.append(name)
                meshes[key] = names
            for j, mesh in enumerate(meshes[key]):
                self._geom(body, "fixture", name=f"{d.name}/wall_{j}",
                           type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mesh,
                           pos=[cx, cy, half[2]], rgba=list(fx.hole_colours[d.type]), **common)

    def _add_tray_bin_conveyor(self, spec: mujoco.MjSpec) -> None:
        world = spec.worldbody
        tr = self.layout.tray
        for box in open_box_parts("tray", tr.center, tr.yaw, tr.size, tr.wall_height,
                                  tr.wall_thickness, tr.floor_thickness):
            self._geom(world, "tray", name=box.name, type=mujoco.mjtGeom.mjGEOM_BOX,
                       pos=list(box.center), size=list(box.half_size),
                       quat=list(yaw_to_quat(box.yaw)), rgba=list(tr.colour))
        rb = self.layout.reject_bin
        for box in open_box_parts("reject_bin", rb.center, 0.0, rb.size[:2], rb.size[2],
                                  rb.wall_thickness, rb.wall_thickness):
            self._geom(world, "bin", name=box.name, type=mujoco.mjtGeom.mjGEOM_BOX,
                       pos=list(box.center), size=list(box.half_size),
                       quat=list(yaw_to_quat(box.yaw)), rgba=list(rb.colour))
        cv = self.layout.conveyor
        belt, frame = conveyor_boxes(cv)
        self._geom(world, "conveyor", name=frame.name, type=mujoco.mjtGeom.mjGEOM_BOX,
                   pos=list(frame.center), size=list(frame.half_size),
                   quat=list(yaw_to_quat(frame.yaw)), rgba=list(cv.frame_colour))
        # The belt is static; its surface velocity (belt frame, +y = travel direction) moves
        # whatever rests on it through ordinary, friction-limited contact forces.
        self._geom(world, "conveyor", name=belt.name, type=mujoco.mjtGeom.mjGEOM_BOX,
                   pos=list(belt.center), size=list(belt.half_size),
                   quat=list(yaw_to_quat(belt.yaw)), rgba=list(cv.belt_colour),
                   friction=list(BELT_FRICTION),
                   surfacevel=[0.0, self.params.conveyor_speed, 0.0, 0.0, 0.0, 0.0])

    def _add_parts(self, spec: mujoco.MjSpec) -> None:
        for k, part in enumerate(self.params.parts):
            pt = part.part_type
            body = spec.worldbody.add_body(name=part.name, pos=list(self._start_pose(k)[0]))
            body.add_freejoint(name=f"{part.name}/joint")
            if pt.shape == "cylinder":
                kwargs = {"type": mujoco.mjtGeom.mjGEOM_CYLINDER,
                          "size": [pt.size[0] / 2.0, pt.height / 2.0, 0.0]}
            else:
                kwargs = {"type": mujoco.mjtGeom.mjGEOM_BOX,
                          "size": [pt.size[0] / 2.0, pt.size[1] / 2.0, pt.height / 2.0]}
            self._geom(body, "part", name=part.name, rgba=list(pt.colour), mass=pt.mass,
                       friction=list(PART_FRICTION), condim=4, **kwargs)

    def _add_coworker(self, spec: mujoco.MjSpec) -> None:
        """Capsule figure of mocap bodies; contype = conaffinity = 0: it renders and can be
        measured (mj_geomDistance) but never collides."""
        world = spec.worldbody
        skin, shirt, trousers = (COWORKER_COLOURS[k] for k in ("skin", "shirt", "trousers"))
        nocollide = {"contype": 0, "conaffinity": 0, "group": 2}
        base = self.coworker
        legs = world.add_body(name="coworker/legs", pos=list(base.base), mocap=True,
                              quat=list(yaw_to_quat(self.layout.coworker.yaw)))
        for side in (1.0, -1.0):
            self._geom(legs, "person", name=f"coworker/leg_{'l' if side > 0 else 'r'}",
                       type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[LEG_RADIUS, 0, 0],
                       fromto=[0.0, side * HIP_HALF_WIDTH, LEG_RADIUS, 0.0,
                               side * HIP_HALF_WIDTH, HIP_HEIGHT], rgba=list(trousers),
                       **nocollide)
        torso = world.add_body(name="coworker/torso", mocap=True)
        half = TORSO_LENGTH / 2.0
        self._geom(torso, "person", name="coworker/torso", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                   size=[TORSO_RADIUS, 0, 0],
                   fromto=[0.0, 0.0, -half + TORSO_RADIUS * 0.5, 0.0, 0.0, half - 0.08],
                   rgba=list(shirt), **nocollide)
        shoulder_z = half - SHOULDER_DROP
        self._geom(torso, "person", name="coworker/shoulders",
                   type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[SHOULDER_RADIUS, 0, 0],
                   fromto=[0.0, -SHOULDER_HALF_WIDTH, shoulder_z, 0.0, SHOULDER_HALF_WIDTH,
                           shoulder_z], rgba=list(shirt), **nocollide)
        head = world.add_body(name="coworker/head", mocap=True)
        self._geom(head, "person", name="coworker/head", type=mujoco.mjtGeom.mjGEOM_SPHERE,
                   size=[HEAD_RADIUS, 0, 0], rgba=list(skin), **nocollide)
        for hand in ("left", "right"):
            upper = world.add_body(name=f"coworker/{hand}_upper_arm", mocap=True)
            self._geom(upper, "person", name=f"coworker/{hand}_upper_arm",
                       type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[UPPER_ARM_RADIUS, 0, 0],
                       fromto=[0, 0, -UPPER_ARM / 2.0, 0, 0, UPPER_ARM / 2.0],
                       rgba=list(shirt), **nocollide)
            fore = world.add_body(name=f"coworker/{hand}_forearm", mocap=True)
            self._geom(fore, "person", name=f"coworker/{hand}_forearm",
                       type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[FOREARM_RADIUS, 0, 0],
                       fromto=[0, 0, -FOREARM / 2.0, 0, 0, FOREARM / 2.0], rgba=list(skin),
                       **nocollide)
            palm = world.add_body(name=f"coworker/{hand}_hand", mocap=True)
            self._geom(palm, "person", name=f"coworker/{hand}_hand",
                       type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[HAND_RADIUS, 0, 0],
                       rgba=list(skin), **nocollide)
            palm.add_site(name=f"coworker/{hand}_hand", size=[0.01, 0, 0], group=4)

    def _start_pose(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Initial (position of the part's centre, quat): tray parts in their slots, conveyor
        parts parked on the floor out of sight until they spawn."""
        part = self.params.parts[index]
        h = part.part_type.height
        if part.location == "tray":
            z = self.layout.tray.floor_top_z + h / 2.0
            return (np.array([part.position[0], part.position[1], z]),
                    np.array(yaw_to_quat(part.yaw)))
        return (np.array([PARK_ORIGIN[0], PARK_ORIGIN[1] + PARK_SPACING * index, h / 2.0]),
                np.array(yaw_to_quat(part.yaw)))

    def _index(self) -> None:
        m = self.model
        self.part_names: tuple[str, ...] = tuple(p.name for p in self.params.parts)
        self._part_body = {n: m.body(n).id for n in self.part_names}
        self._part_geom = {n: m.geom(n).id for n in self.part_names}
        self._part_qpos = {n: m.jnt_qposadr[m.body(n).jntadr[0]] for n in self.part_names}
        self._part_dof = {n: m.jnt_dofadr[m.body(n).jntadr[0]] for n in self.part_names}
        self._geom_part = {gid: n for n, gid in self._part_geom.items()}
        self.arm_qpos = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.arm_dof = np.array([m.joint(j).dofadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([m.joint(j).qposadr[0] for j in FINGER_JOINTS])
        # robot = every body under the arm's base
        base = m.body(BASE_BODY).id
        robot_bodies = {b for b in range(m.nbody) if self._is_descendant(b, base)}
        self._robot_bodies = tuple(sorted(robot_bodies))
        self._robot_geoms = np.array([g for g in range(m.ngeom)
                                      if m.geom_bodyid[g] in robot_bodies])
        self._robot_collision_geoms = np.array([
            g for g in self._robot_geoms if m.geom_contype[g] or m.geom_conaffinity[g]])
        category = np.full(m.ngeom, "", dtype=object)
        for g in range(m.ngeom):
            name = m.geom(g).name
            category[g] = self._geom_category.get(name, "")
        category[self._robot_geoms] = "robot"
        self._category = category
        # finger = the body its slide joint moves, plus everything under it (pads)
        left_root = int(m.jnt_bodyid[m.joint(FINGER_JOINTS[0]).id])
        right_root = int(m.jnt_bodyid[m.joint(FINGER_JOINTS[1]).id])
        left = {b for b in range(m.nbody) if self._is_descendant(b, left_root)}
        right = {b for b in range(m.nbody) if self._is_descendant(b, right_root)}
        self._left_finger_geoms = {g for g in range(m.ngeom) if m.geom_bodyid[g] in left}
        self._right_finger_geoms = {g for g in range(m.ngeom) if m.geom_bodyid[g] in right}
        self._person_geoms = np.array([g for g in range(m.ngeom) if category[g] == "person"])
        self._person_geom_part = {}
        for g in self._person_geoms:
            body = m.body(m.geom_bodyid[g]).name
            self._person_geom_part[int(g)] = body
        self._mocap = {part: m.body(f"coworker/{part}").mocapid[0] for part in PERSON_PARTS}
        self._belt_geom = m.geom("conveyor/belt").id
        self._camera_id = m.camera(self.camera_name).id

    # --- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0: robot at HOME_POSITIONS with open fingers, tray parts in their
        slots, conveyor parts parked, co-worker at rest."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self.arm_qpos] = HOME_POSITIONS
        half = MAX_GRIPPER_WIDTH / 2.0
        d.qpos[self.finger_qpos] = (half, -half)
        d.ctrl[m.actuator(FINGER_JOINTS[0]).id] = half
        d.ctrl[m.actuator(FINGER_JOINTS[1]).id] = -half
        for k, name in enumerate(self.part_names):
            pos, quat = self._start_pose(k)
            adr = self._part_qpos[name]
            d.qpos[adr:adr + 3] = pos
            d.qpos[adr + 3:adr + 7] = quat
        self._spawned = {p.name for p in self.params.parts if p.location == "tray"}
        self._pending = sorted((p.spawn_time, p.name) for p in self.params.parts
                               if p.location == "conveyor")
        self._coworker_key: tuple[str, int] | None = None
        self._set_coworker(0.0)
        mujoco.mj_forward(m, d)

    def step_world(self) -> None:
        """Everything time-dependent that is not physics; call before every mj_step: the
        co-worker's pose for the coming step and conveyor parts due to appear."""
        t = float(self.data.time)
        self._set_coworker(t)
        while self._pending and self._pending[0][0] <= t:
            name = self._pending[0][1]
            if not self._spawn(name):
                break           # spawn point occupied: try again next step, keep the order
            self._pending.pop(0)

    def _set_coworker(self, t: float) -> None:
        key = self.coworker.static_key(t)
        if key is not None and key == self._coworker_key:
            return
        self._coworker_key = key
        d = self.data
        for part, (pos, quat) in self.coworker.body_poses(t).items():
            mid = self._mocap[part]
            d.mocap_pos[mid] = pos
            d.mocap_quat[mid] = quat

    def _spawn(self, name: str) -> bool:
        part = self.parts[name]
        cv = self.layout.conveyor
        h = part.part_type.height
        pos = np.array([part.position[0], part.position[1], cv.belt_top_z + h / 2.0 + 0.0005])
        d = self.data
        for other in self._spawned:
            if np.linalg.norm(d.xpos[self._part_body[other]] - pos) < SPAWN_CLEAR_RADIUS:
                return False
        adr = self._part_qpos[name]
        d.qpos[adr:adr + 3] = pos
        d.qpos[adr + 3:adr + 7] = yaw_to_quat(part.yaw)
        dof = self._part_dof[name]
        dx, dy = cv.direction
        d.qvel[dof:dof + 6] = (dx * self.params.conveyor_speed, dy * self.params.conveyor_speed,
                               0.0, 0.0, 0.0, 0.0)
        self._spawned.add(name)
        return True

    def spawned(self, name: str) -> bool:
        """Whether a part is in the cell (tray parts always; conveyor parts after spawning)."""
        return name in self._spawned

    @property
    def conveyor_velocity(self) -> np.ndarray:
        """World velocity (m/s) of the belt surface."""
        dx, dy = self.layout.conveyor.direction
        return np.array([dx, dy, 0.0]) * self.params.conveyor_speed

    # --- ground truth --------------------------------------------------------------------------
    def ground_truth(self) -> list[ObjectState]:
        """Every spawned part, every hole, the tray, fixture and conveyor, distractors and the
        co-worker's torso, head and hands, world frame, at the current time."""
        d = self.data
        zero = (0.0, 0.0, 0.0)
        out: list[ObjectState] = []
        for name in self.part_names:
            if name not in self._spawned:
                continue
            pt = self.parts[name].part_type
            body = self._part_body[name]
            lin, ang = self._body_velocity(body)
            size = (pt.footprint[0], pt.footprint[1], pt.height)
            out.append(ObjectState(name, "part", pt.name, pt.hole_type, _tuple3(d.xpos[body]),
                                   tuple(float(v) for v in d.xquat[body]), _tuple3(lin),
                                   _tuple3(ang), size))
        for hole in self.layout.holes:
            ext = hole.opening if len(hole.opening) == 2 else hole.opening * 2
            out.append(ObjectState(hole.name, "hole", hole.type, "", hole.position,
                                   yaw_to_quat(hole.yaw), zero, zero,
                                   (ext[0], ext[1], hole.depth)))
        tr = self.layout.tray
        out.append(ObjectState("tray", "tray", "tray", "", tr.center, yaw_to_quat(tr.yaw), zero,
                               zero, (tr.size[0], tr.size[1], tr.wall_height)))
        fx = self.layout.fixture
        out.append(ObjectState("fixture", "fixture", "fixture", "", fx.center,
                               yaw_to_quat(fx.yaw), zero, zero, fx.size))
        belt = conveyor_boxes(self.layout.conveyor)[0]
        out.append(ObjectState("conveyor", "conveyor", "conveyor", "", belt.center,
                               yaw_to_quat(belt.yaw), _tuple3(self.conveyor_velocity), zero,
                               tuple(2.0 * h for h in belt.half_size)))
        for dis in self.params.distractors:
            out.append(ObjectState(dis.name, "distractor", "box", "", dis.center,
                                   yaw_to_quat(dis.yaw), zero, zero,
                                   tuple(2.0 * h for h in dis.half_size)))
        t = float(d.time)
        eps = 0.005
        now = self.coworker.body_poses(t)
        before = self.coworker.body_poses(max(t - eps, 0.0))
        after = self.coworker.body_poses(t + eps)
        span = (t + eps) - max(t - eps, 0.0)
        sizes = {"torso": (2 * TORSO_RADIUS, 2 * SHOULDER_HALF_WIDTH + 2 * SHOULDER_RADIUS,
                           TORSO_LENGTH),
                 "head": (2 * HEAD_RADIUS,) * 3, "left_hand": (2 * HAND_RADIUS,) * 3,
                 "right_hand": (2 * HAND_RADIUS,) * 3}
        for part in PERSON_GROUND_TRUTH:
            pos, quat = now[part]
            vel = (after[part][0] - before[part][0]) / span
            out.append(ObjectState(f"coworker/{part}", "person", part, "", _tuple3(pos),
                                   tuple(float(v) for v in quat), _tuple3(vel), zero,
                                   sizes[part]))
        return out

    def person_velocity(self, body: str) -> np.ndarray:
        """World velocity (m/s) of a co-worker body ("coworker/right_hand", as returned by
        `separation()`), exact central difference of the scheduled motion."""
        part = body.removeprefix("coworker/")
        if part not in PERSON_PARTS:
            raise KeyError(f"unknown co-worker body '{body}': allowed "
                           + ", ".join(f"coworker/{p}" for p in PERSON_PARTS))
        t, eps = float(self.data.time), 0.005
        before = self.coworker.body_poses(max(t - eps, 0.0))[part][0]
        after = self.coworker.body_poses(t + eps)[part][0]
        return (after - before) / ((t + eps) - max(t - eps, 0.0))

    def part_status(self) -> dict[str, str]:
        """Per part: "pending" (conveyor part not spawned yet), "held" (touching both
        fingers and above the bench), "seated" (in a hole of its type: bottom within 5 mm of
        the hole bottom, axis within clearance + 1 mm, upright within 10 deg), "wrong_hole"
        (resting on or in a hole of another type), "in_bin", "in_tray", "on_conveyor",
        "fell" (off the bench) or "other". Tolerances are this module's fixed constants."""
        d = self.data
        fingers = self._finger_contacts()
        bench = self.layout.bench
        fx = self.layout.fixture
        tray = self.layout.tray
        rb = self.layout.reject_bin
        cv = self.layout.conveyor
        status: dict[str, str] = {}
        for name in self.part_names:
            if name not in self._spawned:
                status[name] = "pending"
                continue
            pt = self.parts[name].part_type
            body = self._part_body[name]
            pos = d.xpos[body]
            axis = d.xmat[body].reshape(3, 3)[:, 2]
            tilt = math.acos(float(np.clip(abs(axis[2]), -1.0, 1.0)))
            up = axis if axis[2] >= 0 else -axis
            bottom = pos - up * pt.height / 2.0
            low_z = pos[2] - self._half_height_z(pt, d.xmat[body].reshape(3, 3))
            left, right = fingers.get(name, (False, False))
            if left and right and low_z > bench.top_z + HELD_ABOVE_BENCH:
                status[name] = "held"
                continue
            status[name] = self._placement(pt, pos, bottom, tilt, low_z, fx.top_z, bench,
                                           tray, rb, cv)
        return status

    @staticmethod
    def _half_height_z(pt: PartType, rot: np.ndarray) -> float:
        """Vertical half extent of a part in its current orientation."""
        if pt.shape == "cylinder":
            r, hh = pt.size[0] / 2.0, pt.height / 2.0
            az = abs(rot[2, 2])
            return hh * az + r * math.sqrt(max(1.0 - az * az, 0.0))
        half = np.array([pt.size[0], pt.size[1], pt.height]) / 2.0
        return float(np.abs(rot[2, :]) @ half)

    def _placement(self, pt: PartType, pos: np.ndarray, bottom: np.ndarray, tilt: float,
                   low_z: float, fixture_top: float, bench: BenchSpec, tray: TraySpec,
                   rb: BinSpec, cv: ConveyorSpec) -> str:
        """Where a part that is not held rests, judged in a fixed order."""
        for hole in self.layout.holes:
            dxy = math.hypot(bottom[0] - hole.position[0], bottom[1] - hole.position[1])
            if hole.type == pt.hole_type:
                if (abs(bottom[2] - hole.bottom_z) <= SEAT_BOTTOM_TOL and tilt <= SEAT_TILT
                        and dxy <= hole.clearance + SEAT_XY_EXTRA):
                    return "seated"
            else:
                reach = max(hole.opening) / 2.0 + hole.chamfer
                if dxy <= reach and low_z <= fixture_top + WRONG_HOLE_HEIGHT:
                    return "wrong_hole"
        if self._inside(pos, rb.center, 0.0, (rb.size[0], rb.size[1])) and low_z < (
                rb.center[2] + rb.size[2]):
            return "in_bin"
        if (self._inside(pos, tray.center, tray.yaw, tray.size)
                and low_z <= tray.floor_top_z + CONTAINER_HEIGHT):
            return "in_tray"
        belt = conveyor_boxes(cv)[0]
        if (self._inside(pos, belt.center, belt.yaw, (2 * belt.half_size[0],
                                                        2 * belt.half_size[1]))
                and low_z <= cv.belt_top_z + CONTAINER_HEIGHT):
            return "on_conveyor"
        on_bench = self._inside(pos, (bench.center[0], bench.center[1], 0.0), 0.0, bench.size)
        if low_z < bench.top_z - FELL_BELOW_BENCH or not on_bench:
            return "fell"
        return "other"

    @staticmethod
    def _inside(pos: np.ndarray, center: Sequence[float], yaw: float,
                size: Sequence[float]) -> bool:
        lx, ly = rotate_xy(pos[0] - center[0], pos[1] - center[1], -yaw)
        return abs(lx) <= size[0] / 2.0 and abs(ly) <= size[1] / 2.0

def apply_camera_noise(rgb: np.ndarray, depth: np.ndarray, noise: CameraNoise,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sensor noise of a structured-light RGB-D camera, applied to copies: depth gets
    gaussian noise with sigma = depth_sigma * z^2 (sigma given at 1 m) and a share
    `depth_hole_fraction` of pixels lose their reading (NaN, in 2 x 2 blobs like real
    dropouts); colour gets gaussian noise of `rgb_sigma` (0..255) and is clipped."""
    rgb_out = rgb.copy()
    depth_out = depth.astype(np.float32, copy=True)
    # float32 draws: half the cost of float64 at 640x480 and 15 Hz (the simulation's budget)
    if noise.rgb_sigma > 0:
        noisy = rng.standard_normal(rgb_out.shape, dtype=np.float32)
        noisy *= noise.rgb_sigma
        noisy += rgb_out
        np.rint(noisy, out=noisy)
        rgb_out = np.clip(noisy, 0, 255).astype(np.uint8)
    if noise.depth_sigma > 0:
        jitter = rng.standard_normal(depth_out.shape, dtype=np.float32)
        jitter *= np.float32(noise.depth_sigma)
        jitter *= np.square(depth_out)
        depth_out += jitter
    if noise.depth_hole_fraction > 0:
        h, w = depth_out.shape
        blobs = int(round(noise.depth_hole_fraction * h * w / 4.0))
        if blobs:
            rows = rng.integers(0, max(h - 1, 1), blobs)
            cols = rng.integers(0, max(w - 1, 1), blobs)
            for dr in (0, 1):
                for dc in (0, 1):
                    depth_out[np.minimum(rows + dr, h - 1), np.minimum(cols + dc, w - 1)] = np.nan
    return rgb_out, depth_out
