"""Inverse kinematics of the TCP pose on the robot model (damped least squares).

Why our own solver and not mink or Pinocchio: the problem is one site pose on one 7-DOF arm
whose model already lives in MuJoCo. A damped least-squares step on `mujoco.mj_jacSite`
converges in a handful of iterations (well under a millisecond) and needs nothing beyond
mujoco and numpy; mink would add qpsolvers + daqp for constraints we handle with a clamp and a
null-space limit-avoidance term, and Pinocchio would need a second (URDF) model of the same
robot that could drift from the simulated one.

Conventions: poses are in the robot base frame (`panda_link0`), positions in metres,
orientations as unit quaternions (w, x, y, z) like MuJoCo and `foresight_common.conversions`,
joint positions in radians in `ARM_JOINTS` order. The TCP z axis points out of the gripper.

The solver:
- Levenberg-Marquardt style damping (damping grows with the squared error, after Sugihara
  2011), so large errors take cautious steps and small ones converge quadratically;
- joint limits: every iterate is clamped into the limits, and a null-space term pushes joints
  away from the last 10 % of their range and toward a posture (default `HOME_POSITIONS`), so
  solutions stay in the "elbow up" family the rest of the stack expects;
- `yaw_free`: only the TCP z axis is constrained (symmetric parts), the rotation about it is
  left to the null space;
- restarts from perturbed seeds (then from random configurations) when an attempt stalls.
"""

from __future__ import annotations

import enum
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import mujoco
import numpy as np

from foresight_common.robot_model import ARM_JOINTS, HOME_POSITIONS, RobotKinematics

_LIMIT_MARGIN_FRACTION = 0.1  # limit avoidance acts in the last 10 % of each joint range
_MAX_STEP_RAD = 0.4  # largest joint change per iteration (keeps DLS in its linear regime)
_MAX_POS_ERROR_STEP = 0.2  # m, error clamp per iteration
_MAX_ROT_ERROR_STEP = 0.8  # rad, error clamp per iteration
_STALL_WINDOW = 10  # iterations; an attempt that gains < 10 % over a window is abandoned


class UnreachableReason(enum.StrEnum):
    """Why no joint configuration reaches a pose (the executor maps this to UNREACHABLE)."""

    OUT_OF_REACH = "out_of_reach"
    JOINT_LIMITS = "joint_limits"
    COLLISION = "collision"


class UnreachablePose(Exception):
    """No acceptable IK solution; `reason` says which constraint could not be met."""

    def __init__(self, reason: UnreachableReason, detail: str,
                 result: IkResult | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.result = result


class ConfigurationChecker(Protocol):
    """What `solve_reachable` needs from a collision checker (see collision.py)."""

    def check_configuration(self, q: np.ndarray, fingers: float = ...) -> list: ...


@dataclass(frozen=True)
class IkResult:
    """Outcome of one IK query; `q` is the best configuration found even on failure."""

    q: np.ndarray
    success: bool
    position_error_m: float
    orientation_error_rad: float
    iterations: int  # over all attempts
    time_ms: float
    attempts: int = 1


@dataclass(frozen=True)
class IkSettings:
    """Solver tuning; defaults are well inside the 1 mm / 0.01 rad the executor needs."""

    position_tolerance_m: float = 1e-4
    orientation_tolerance_rad: float = 1e-3
    max_iterations: int = 60  # per attempt
    restarts: int = 10  # extra attempts after the seed
    posture_gain: float = 0.02
    limit_gain: float = 0.5
    min_damping: float = 1e-6
    error_damping: float = 0.5  # damping = error_damping * |e|^2 + min_damping
    posture: tuple[float, ...] = field(default=HOME_POSITIONS)


def quat_to_matrix(quat_wxyz: Sequence[float]) -> np.ndarray:
    """Rotation matrix of a (w, x, y, z) quaternion (normalised first)."""
    q = np.asarray(quat_wxyz, dtype=float)
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, q / np.linalg.norm(q))
    return mat.reshape(3, 3)


def matrix_to_quat(rotation: np.ndarray) -> np.ndarray:
    """(w, x, y, z) quaternion of a rotation matrix, with w >= 0."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.asarray(rotation, dtype=float).reshape(9))
    return quat if quat[0] >= 0 else -quat


def rotation_error(current: np.ndarray, target: np.ndarray, yaw_free: bool) -> np.ndarray:
    """Rotation vector (world frame, rad) that turns `current` into `target`.

    With `yaw_free` only the z axes are aligned (shortest rotation between them).
    """
    if yaw_free:
        z_cur, z_tgt = current[:, 2], target[:, 2]
        axis = np.cross(z_cur, z_tgt)
        sin = np.linalg.norm(axis)
        angle = math.atan2(sin, float(np.dot(z_cur, z_tgt)))
        if sin < 1e-12:
            if angle < 1e-6:
                return np.zeros(3)
            return current[:, 0] * angle  # antiparallel: any perpendicular axis works
        return axis / sin * angle
    rel = target @ current.T
    quat = matrix_to_quat(rel)
    vel = np.empty(3)
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return vel


class IkSolver:
    """DLS inverse kinematics of the `tcp` site. Not thread-safe: one per thread (owns MjData).

    `kinematics` may be shared for its model; the solver keeps its own MjData.
    """

    def __init__(self, kinematics: RobotKinematics | None = None,
                 settings: IkSettings | None = None,
                 limits: tuple[Sequence[float], Sequence[float]] | None = None) -> None:
        """`limits` (lower, upper) may narrow the model's joint ranges, e.g. to keep a
        margin from the hard stops or joint 1 away from a wall."""
        self.kinematics = kinematics if kinematics is not None else RobotKinematics()
        self.settings = settings if settings is not None else IkSettings()
        self.model = self.kinematics.model
        self.data = mujoco.MjData(self.model)
        self._qadr = self.kinematics.arm_qpos
        self._dof = self.kinematics.arm_dof
        self._site = self.kinematics.tcp_site
        self._links = np.array([self.model.jnt_bodyid[self.model.joint(j).id]
                                for j in ARM_JOINTS])
        model_limits = self.kinematics.limits
        self.lower = model_limits.lower.copy()
        self.upper = model_limits.upper.copy()
        if limits is not None:
            lower, upper = (np.asarray(v, dtype=float) for v in limits)
            if lower.shape != (7,) or upper.shape != (7,) or np.any(lower > upper):
                raise ValueError(f"limits must be two 7-vectors with lower <= upper: {limits}")
            self.lower = np.maximum(self.lower, lower)
            self.upper = np.minimum(self.upper, upper)
            if np.any(self.lower > self.upper):
                raise ValueError("limits do not overlap the model's joint ranges")
        self.posture = np.clip(np.asarray(self.settings.posture, dtype=float),
                               self.lower, self.upper)
        self._jacp = np.zeros((3, self.model.nv))
        self._jacr = np.zeros((3, self.model.nv))
        self._reach = self._reach_bound()

    # --- forward kinematics ---------------------------------------------------------------
    def _fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self._site], self.data.site_xmat[self._site].reshape(3, 3)

    def forward(self, q: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """TCP (position, quaternion wxyz) in the base frame for joint positions `q`."""
        pos, rot = self._fk(np.asarray(q, dtype=float))
        return pos.copy(), matrix_to_quat(rot)

    def link_points(self, q: Sequence[float]) -> np.ndarray:
        """Origins of the arm's moving links and the TCP (base frame, (8, 3) m): where
        the arm's body is, to tell a flip that swings it from a motion that leaves it."""
        self._fk(np.asarray(q, dtype=float))
        return np.vstack([self.data.xpos[self._links], self.data.site_xpos[self._site]])

    def _reach_bound(self) -> tuple[np.ndarray, float]:
        """Shoulder point and an upper bound of its distance to the TCP (sum of the rigid
        segments between joint anchors 2..7 and the TCP: the triangle inequality)."""
        self._fk(self.posture)
        jnt_ids = [int(np.where(self.model.jnt_dofadr == d)[0][0]) for d in self._dof]
        points = [self.data.xanchor[j].copy() for j in jnt_ids[1:]]
        points.append(self.data.site_xpos[self._site].copy())
        bound = sum(float(np.linalg.norm(b - a)) for a, b in itertools.pairwise(points))
        return points[0], bound

    def within_reach_bound(self, position: Sequence[float]) -> bool:
        """False if the position is certainly beyond the arm's reach (a cheap pre-check)."""
        shoulder, bound = self._reach
        return float(np.linalg.norm(np.asarray(position) - shoulder)) <= bound

    # --- one attempt ----------------------------------------------------------------------
    def _attempt(self, q0: np.ndarray, p_tgt: np.ndarray, r_tgt: np.ndarray | None,
                 yaw_free: bool, lower: np.ndarray, upper: np.ndarray
                 ) -> tuple[np.ndarray, float, float, int, bool]:
        s = self.settings
        q = np.clip(q0, lower, upper)
        margin = _LIMIT_MARGIN_FRACTION * np.minimum(upper - lower, 2 * math.pi)
        best = (q.copy(), math.inf, math.inf)
        window_cost = math.inf
        for it in range(1, s.max_iterations + 1):
            pos, rot = self._fk(q)
            e_p = p_tgt - pos
            e_r = np.zeros(3) if r_tgt is None else rotation_error(rot, r_tgt, yaw_free)
            pe, re = float(np.linalg.norm(e_p)), float(np.linalg.norm(e_r))
            if pe + 0.1 * re < best[1] + 0.1 * best[2]:
                best = (q.copy(), pe, re)
            cost = pe + 0.1 * re
            if it % _STALL_WINDOW == 0:
                if cost > 0.9 * window_cost:
                    break  # stalled (local minimum, usually at a joint limit): restart
                window_cost = cost
            if pe <= s.position_tolerance_m and re <= s.orientation_tolerance_rad:
                return q, pe, re, it - 1, True
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self._site)
            jac_p = self._jacp[:, self._dof]
            if pe > _MAX_POS_ERROR_STEP:
                e_p = e_p * (_MAX_POS_ERROR_STEP / pe)
            if r_tgt is None:
                jac, err = jac_p, e_p
            else:
                jac_r = self._jacr[:, self._dof]
                if yaw_free:
                    z = rot[:, 2]
                    jac_r = jac_r - np.outer(z, z @ jac_r)  # spin about z is free
                if re > _MAX_ROT_ERROR_STEP:
                    e_r = e_r * (_MAX_ROT_ERROR_STEP / re)
                jac, err = np.vstack((jac_p, jac_r)), np.concatenate((e_p, e_r))
            damping = s.error_damping * float(err @ err) + s.min_damping
            # Null-space bias: drift toward the posture, away from the joint limits.
            bias = s.posture_gain * (self.posture - q)
            low_gap = q - (lower + margin)
            high_gap = (upper - margin) - q
            bias += s.limit_gain * (np.where(low_gap < 0, -low_gap, 0.0)
                                    - np.where(high_gap < 0, -high_gap, 0.0))
            dq = self._clamped_step(jac, err, bias, damping, q, lower, upper)
            q = np.clip(q + dq, lower, upper)
        else:
            pos, rot = self._fk(q)
            pe = float(np.linalg.norm(p_tgt - pos))
            re = 0.0 if r_tgt is None else float(np.linalg.norm(
                rotation_error(rot, r_tgt, yaw_free)))
            if pe + 0.1 * re < best[1] + 0.1 * best[2]:
                best = (q.copy(), pe, re)
        ok = best[1] <= s.position_tolerance_m and best[2] <= s.orientation_tolerance_rad
        return best[0], best[1], best[2], it, ok

    @staticmethod
    def _clamped_step(jac: np.ndarray, err: np.ndarray, bias: np.ndarray, damping: float,
                      q: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """DLS step with joint-limit clamping (after Baerlocher & Boulic): a joint the step
        would push through its limit is fixed at the limit and the task is re-solved with the
        others, so the remaining joints make up for it instead of the solver stalling."""
        damped = damping * np.eye(jac.shape[0])
        free = np.ones(7, dtype=bool)
        fixed_dq = np.zeros(7)
        dq = np.zeros(7)
        for _ in range(4):
            jac_f = jac * free
            # min |J dq - e|^2 + damping |dq - bias|^2: the bias lives in the null space of
            # the task, and as the damping vanishes near convergence so does its leak.
            b = bias * free
            residual = err - jac @ fixed_dq - jac_f @ b
            dq = b + jac_f.T @ np.linalg.solve(jac_f @ jac_f.T + damped, residual)
            step = float(np.max(np.abs(dq)))
            if step > _MAX_STEP_RAD:
                dq *= _MAX_STEP_RAD / step
            dq = np.where(free, dq, fixed_dq)
            target = q + dq
            over = free & ((target < lower) | (target > upper))
            if not over.any():
                break
            fixed_dq = np.where(over, np.clip(target, lower, upper) - q, fixed_dq)
            free &= ~over
        return dq

    def _seeds(self, seed_q: np.ndarray, count: int, rng: np.random.Generator,
               lower: np.ndarray, upper: np.ndarray):
        """The seed, then perturbations of growing size, then uniform random samples."""
        yield seed_q
        for k in range(1, count + 1):
            if k <= count // 2:
                sigma = 0.25 * k
                yield np.clip(seed_q + rng.normal(0.0, sigma, 7), lower, upper)
            else:
                yield rng.uniform(lower, upper)

    # --- public API -----------------------------------------------------------------------
    def solve(self, position: Sequence[float], quat_wxyz: Sequence[float] | None = None, *,
              seed_q: Sequence[float] | None = None, yaw_free: bool = False,
              restarts: int | None = None, rng_seed: int = 0,
              respect_limits: bool = True) -> IkResult:
        """Joint positions putting the TCP at `position` (m) / `quat_wxyz` (base frame).

        `quat_wxyz=None` constrains the position only. `seed_q` defaults to the posture; the
        first attempt starts there, so a nearby seed yields the nearby solution (what
        Cartesian paths need). `restarts` overrides the settings (0: the seed only).
        Deterministic for a given `rng_seed`.
        """
        start = time.perf_counter()
        p_tgt = np.asarray(position, dtype=float)
        r_tgt = None if quat_wxyz is None else quat_to_matrix(quat_wxyz)
        if p_tgt.shape != (3,) or not np.all(np.isfinite(p_tgt)) or (
                r_tgt is not None and not np.all(np.isfinite(r_tgt))):
            raise ValueError(f"IK target must be finite: position={position}, "
                             f"quat={quat_wxyz}")
        seed = self.posture if seed_q is None else np.asarray(seed_q, dtype=float)
        if respect_limits:
            lower, upper = self.lower, self.upper
        else:  # used to tell "out of reach" from "blocked by joint limits"
            lower, upper = np.full(7, -2 * math.pi), np.full(7, 2 * math.pi)
        n_restarts = self.settings.restarts if restarts is None else restarts
        rng = np.random.default_rng(rng_seed)
        best: tuple[np.ndarray, float, float] | None = None
        total_it = 0
        attempts = 0
        for q0 in self._seeds(seed, n_restarts, rng, lower, upper):
            attempts += 1
            q, pe, re, its, ok = self._attempt(q0, p_tgt, r_tgt, yaw_free, lower, upper)
            total_it += its
            if best is None or pe + 0.1 * re < best[1] + 0.1 * best[2]:
                best = (q, pe, re)
            if ok:
                break
        assert best is not None
        s = self.settings
        success = best[1] <= s.position_tolerance_m and best[2] <= s.orientation_tolerance_rad
        return IkResult(q=best[0].copy(), success=success, position_error_m=best[1],
                        orientation_error_rad=best[2], iterations=total_it,
                        time_ms=(time.perf_counter() - start) * 1e3, attempts=attempts)

    def solve_reachable(self, position: Sequence[float],
                        quat_wxyz: Sequence[float] | None = None, *,
                        seed_q: Sequence[float] | None = None, yaw_free: bool = False,
                        collision: ConfigurationChecker | None = None,
                        fingers: float | None = None, rng_seed: int = 0) -> IkResult:
        """Like `solve`, but returns only a usable solution or raises `UnreachablePose`.

        With `collision`, solutions in collision are skipped and further restarts tried; if
        every solution found collides the reason is COLLISION. A failed solve is classified
        by re-solving without joint limits: success there means JOINT_LIMITS, otherwise
        OUT_OF_REACH (also the verdict of the cheap reach pre-check).
        """
        start = time.perf_counter()
        if not self.within_reach_bound(position):
            raise UnreachablePose(UnreachableReason.OUT_OF_REACH,
                                  f"position {np.round(position, 3).tolist()} is farther "
                                  f"from the shoulder than the arm can reach")
        seed = self.posture if seed_q is None else np.asarray(seed_q, dtype=float)
        rounds = 1 if collision is None else 4
        colliding: list = []
        total_it = 0
        last: IkResult | None = None
        for r in range(rounds):
            # First round from the caller's seed; later rounds from random configurations.
            round_seed = seed if r == 0 else np.random.default_rng(rng_seed + r).uniform(
                self.lower, self.upper)
            result = self.solve(position, quat_wxyz, seed_q=round_seed, yaw_free=yaw_free,
                                rng_seed=rng_seed + r)
            total_it += result.iterations
            last = result
            if not result.success:
                continue
            if collision is None:
                return result
            kwargs = {} if fingers is None else {"fingers": fingers}
            contacts = collision.check_configuration(result.q, **kwargs)
            if not contacts:
                return IkResult(result.q, True, result.position_error_m,
                                result.orientation_error_rad, total_it,
                                (time.perf_counter() - start) * 1e3, result.attempts)
            colliding = contacts
        if colliding:
            raise UnreachablePose(UnreachableReason.COLLISION,
                                  f"every IK solution found collides, e.g. {colliding[:3]}",
                                  last)
        free = self.solve(position, quat_wxyz, seed_q=seed, yaw_free=yaw_free,
                          rng_seed=rng_seed, respect_limits=False)
        assert last is not None
        if free.success:
            # The chain reaches it: try harder within the limits before giving up, starting
            # from the unlimited solution pulled into the limits.
            retry = self.solve(position, quat_wxyz, seed_q=np.clip(free.q, self.lower,
                                                                   self.upper),
                               yaw_free=yaw_free, restarts=4 * self.settings.restarts,
                               rng_seed=rng_seed + 101)
            if retry.success and (collision is None or not collision.check_configuration(
                    retry.q, **({} if fingers is None else {"fingers": fingers}))):
                return IkResult(retry.q, True, retry.position_error_m,
                                retry.orientation_error_rad,
                                total_it + free.iterations + retry.iterations,
                                (time.perf_counter() - start) * 1e3, retry.attempts)
            raise UnreachablePose(UnreachableReason.JOINT_LIMITS,
                                  "the pose is reachable only beyond the joint limits "
                                  f"(best within limits: {last.position_error_m * 1e3:.1f} mm, "
                                  f"{last.orientation_error_rad:.3f} rad)", last)
        raise UnreachablePose(UnreachableReason.OUT_OF_REACH,
                              f"no configuration reaches the pose (best: "
                              f"{last.position_error_m * 1e3:.1f} mm, "
                              f"{last.orientation_error_rad:.3f} rad off)", last)
