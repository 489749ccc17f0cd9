"""Straight-line TCP motions: approach, retreat and insertion along the tool z axis, and linear
moves between poses.

The line is sampled finely (default every 5 mm and 2 degrees) and each sample is solved by IK
seeded with the previous solution and no restarts, so consecutive configurations stay on one
branch. A joint change larger than `max_joint_step_rad` between neighbouring samples means the
arm would flip configuration (or pass close to a singularity) to follow the line, unless no
link moves more than `max_link_step_m` meanwhile: with joint 2 near zero, joints 1 and 3 turn
about one axis and the solver may trade one for the other (measured: 0.3-1.1 rad per 5 mm
leaning into a shelf) while only the upper arm spins about itself. A flip is rejected with
the place where it happens, rather than letting a controller swing the arm through an
unplanned motion.
Time the result with `trajectory.time_parameterize` (pass the sampled TCP positions and
`max_tcp_speed` to cap the tool speed).

Frames and units as in ik.py: base frame, metres, quaternions (w, x, y, z), radians.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foresight_common.robot_model import ARM_JOINTS
from foresight_executor.ik import IkSolver, matrix_to_quat, quat_to_matrix


class CartesianPathError(Exception):
    """The straight line cannot be followed; `fraction` of it (0..1) was feasible."""

    def __init__(self, reason: str, index: int, fraction: float) -> None:
        super().__init__(f"{reason} (at sample {index}, {fraction:.0%} of the line)")
        self.reason = reason
        self.index = index
        self.fraction = fraction


@dataclass(frozen=True)
class CartesianPath:
    """Joint configurations along a TCP line; `qs[0]` is the start configuration."""

    qs: np.ndarray  # (N, 7) rad
    positions: np.ndarray  # (N, 3) m, target TCP positions
    quats: np.ndarray  # (N, 4) wxyz, target TCP orientations
    max_position_error_m: float
    max_orientation_error_rad: float

    @property
    def length_m(self) -> float:
        return float(np.linalg.norm(self.positions[-1] - self.positions[0]))


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions (shortest way)."""
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        out = q0 + t * (q1 - q0)
        return out / np.linalg.norm(out)
    theta = math.acos(dot)
    return (math.sin((1 - t) * theta) * q0 + math.sin(t * theta) * q1) / math.sin(theta)


def _align_z(start_rot: np.ndarray, goal_rot: np.ndarray) -> np.ndarray:
    """`start_rot` turned by the shortest rotation that brings its z axis onto goal's z:
    the goal orientation for yaw-free moves that keeps the current yaw."""
    z0, z1 = start_rot[:, 2], goal_rot[:, 2]
    axis = np.cross(z0, z1)
    s, c = float(np.linalg.norm(axis)), float(np.dot(z0, z1))
    if s < 1e-9:
        if c > 0:
            return start_rot.copy()
        axis, s = start_rot[:, 0], 0.0  # opposite: turn half way about x
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + s * kx + (1 - c) * (kx @ kx)
    return rot @ start_rot


def linear_path(ik: IkSolver, q_start: Sequence[float], goal_position: Sequence[float],
                goal_quat_wxyz: Sequence[float] | None = None, *, yaw_free: bool = False,
                step_m: float = 0.005, step_rad: float = math.radians(2.0),
                max_joint_step_rad: float = 0.2, max_link_step_m: float = 0.02
                ) -> CartesianPath:
    """Joint path moving the TCP in a straight line from its pose at `q_start` to the goal.

    `goal_quat_wxyz=None` keeps the start orientation. With `yaw_free`, only the tool z axis
    is turned toward the goal's (the yaw at the start is kept and the IK may spin the tool
    about z). Raises `CartesianPathError` if IK fails or a configuration flip would be
    needed.
    """
    q0 = np.asarray(q_start, dtype=float)
    if q0.shape != (len(ARM_JOINTS),) or not np.all(np.isfinite(q0)):
        raise ValueError(f"q_start must be {len(ARM_JOINTS)} finite values, got {q_start}")
    if step_m <= 0 or step_rad <= 0:
        raise ValueError("step_m and step_rad must be > 0")
    p0, quat0 = ik.forward(q0)
    rot0 = quat_to_matrix(quat0)
    p1 = np.asarray(goal_position, dtype=float)
    rot1 = rot0 if goal_quat_wxyz is None else quat_to_matrix(goal_quat_wxyz)
    if yaw_free:
        rot1 = _align_z(rot0, rot1)
    quat1 = matrix_to_quat(rot1)
    if np.dot(quat0, quat1) < 0:
        quat1 = -quat1
    angle = 2 * math.acos(min(1.0, abs(float(np.dot(quat0, quat1)))))
    n = max(1, math.ceil(max(float(np.linalg.norm(p1 - p0)) / step_m, angle / step_rad)))
    positions = [p0]
    quats = [quat0]
    qs = [q0]
    max_pe = max_re = 0.0
    for k in range(1, n + 1):
        t = k / n
        pos = p0 + (p1 - p0) * t
        quat = slerp(quat0, quat1, t)
        result = ik.solve(pos, quat, seed_q=qs[-1], yaw_free=yaw_free, restarts=0)
        if not result.success:
            at_limit = [ARM_JOINTS[j] for j in range(len(ARM_JOINTS))
                        if min(result.q[j] - ik.lower[j], ik.upper[j] - result.q[j]) < 1e-4]
            limit_note = f"; at their limits: {at_limit}" if at_limit else ""
            raise CartesianPathError(
                f"IK cannot follow the line ({result.position_error_m * 1e3:.1f} mm, "
                f"{result.orientation_error_rad:.3f} rad off{limit_note})", k, (k - 1) / n)
        jump = np.abs(result.q - qs[-1])
        if float(jump.max()) > max_joint_step_rad and not _links_stay(
                ik, qs[-1], result.q, max_link_step_m):
            j = int(np.argmax(jump))
            raise CartesianPathError(
                f"configuration flip: {ARM_JOINTS[j]} would jump {jump[j]:.2f} rad between "
                f"samples {step_m * 1e3:.0f} mm apart, the arm's links more than "
                f"{max_link_step_m * 1e3:.0f} mm (singularity or wrist flip)",
                k, (k - 1) / n)
        qs.append(result.q)
        positions.append(pos)
        quats.append(quat)
        max_pe = max(max_pe, result.position_error_m)
        max_re = max(max_re, result.orientation_error_rad)
    return CartesianPath(qs=np.array(qs), positions=np.array(positions),
                         quats=np.array(quats), max_position_error_m=max_pe,
                         max_orientation_error_rad=max_re)


def _links_stay(ik: IkSolver, q_a: np.ndarray, q_b: np.ndarray, tolerance_m: float) -> bool:
    """True if no link of the arm moves more than `tolerance_m` from `q_a` to `q_b`, nor
    strays that far from its straight way between them on the joint interpolation (a
    self-motion of a redundant arm, not a flip)."""
    start, end = ik.link_points(q_a), ik.link_points(q_b)
    if float(np.max(np.linalg.norm(end - start, axis=1))) > tolerance_m:
        return False
    for t in (0.25, 0.5, 0.75):
        between = ik.link_points(q_a + (q_b - q_a) * t)
        if float(np.max(np.linalg.norm(between - (start + (end - start) * t),
                                       axis=1))) > tolerance_m:
            return False
    return True


def offset_along_tool_z(position: Sequence[float], quat_wxyz: Sequence[float],
                        distance_m: float) -> np.ndarray:
    """The point `distance_m` along the tool z axis (positive = out of the gripper) of a
    pose: e.g. the pre-grasp point is `offset_along_tool_z(grasp, -0.10)`."""
    return np.asarray(position, dtype=float) + quat_to_matrix(quat_wxyz)[:, 2] * distance_m


def tool_z_path(ik: IkSolver, q_start: Sequence[float], distance_m: float, *,
                step_m: float = 0.005, max_joint_step_rad: float = 0.2,
                max_link_step_m: float = 0.02) -> CartesianPath:
    """Straight move along the current tool z axis, orientation fixed: positive distances
    approach or insert (out of the gripper), negative ones retreat."""
    pos, quat = ik.forward(np.asarray(q_start, dtype=float))
    goal = offset_along_tool_z(pos, quat, distance_m)
    return linear_path(ik, q_start, goal, quat, step_m=step_m,
                       max_joint_step_rad=max_joint_step_rad, max_link_step_m=max_link_step_m)
