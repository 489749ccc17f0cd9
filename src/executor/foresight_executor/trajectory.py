"""Time parameterisation of joint paths within position, velocity and acceleration limits.

Two generators, both returning a `JointTrajectoryPlan` sampled every `sample_period` s
(default 0.02 s, at most 0.05 s) so a ros2_control-style controller interpolating between
points (linearly or with cubic Hermite splines on position + velocity) tracks it closely:

- `point_to_point`: a straight line in joint space, all joints starting and stopping
  together. The shared normalised profile is either a quintic (minimum-jerk; default: no
  acceleration steps, gentle on position servos) or a trapezoid (faster, acceleration steps).
- `time_parameterize`: a multi-waypoint path (e.g. a Cartesian line sampled by IK). The
  waypoints are joined by a C2 cubic spline over the joint-space chord length (velocity and
  acceleration continuous at the waypoints; a shape-preserving PCHIP is used instead if the
  cubic would overshoot a joint limit), then timed by a TOPP-style forward/backward pass on a
  grid in the path parameter (the time-optimal profile under the velocity limits, the
  acceleration limits and an optional TCP speed limit, as in Kunz & Stilman / TOPP-RA but
  without their exact switching-point search). Discretisation errors are removed by a final
  check of the sampled trajectory and, if needed, a uniform slow-down.

Limits: `RobotKinematics.limits`; `speed_scale` in (0, 1] scales velocities, and accelerations
by `speed_scale` as well unless `accel_scale` says otherwise. Joint positions in radians in
`ARM_JOINTS` order, times in seconds from the start of the trajectory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from foresight_common.robot_model import ARM_JOINTS, JointLimits
from foresight_common.trajectory_validation import validate_trajectory  # noqa: F401 (re-export)

MAX_SAMPLE_PERIOD = 0.05  # s
_LIMIT_SAFETY = 0.98  # plan at 98 % of the scaled limits; discretisation eats part of it
_MIN_MOVE = 1e-9  # rad: waypoints closer than this are the same point


class TrajectoryError(ValueError):
    """The path cannot be timed (bad input, or it leaves the joint limits)."""


@dataclass(frozen=True)
class JointTrajectoryPlan:
    """A timed joint trajectory: `times` (N,) from 0, strictly increasing; `positions` and
    `velocities` (N, 7) in `joint_names` order (rad, rad/s). Ends at rest."""

    times: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    joint_names: tuple[str, ...] = field(default=ARM_JOINTS)

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Position and velocity at time `t` (cubic Hermite between samples, as a
        joint_trajectory_controller would), clamped to the trajectory's ends."""
        if t <= self.times[0]:
            return self.positions[0].copy(), self.velocities[0].copy()
        if t >= self.times[-1]:
            return self.positions[-1].copy(), self.velocities[-1].copy()
        k = int(np.searchsorted(self.times, t, side="right")) - 1
        h = self.times[k + 1] - self.times[k]
        s = (t - self.times[k]) / h
        p0, p1 = self.positions[k], self.positions[k + 1]
        v0, v1 = self.velocities[k] * h, self.velocities[k + 1] * h
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        pos = h00 * p0 + h10 * v0 + h01 * p1 + h11 * v1
        vel = ((6 * s**2 - 6 * s) * p0 + (3 * s**2 - 4 * s + 1) * v0
               + (-6 * s**2 + 6 * s) * p1 + (3 * s**2 - 2 * s) * v1) / h
        return pos, vel


def continuation(plan: JointTrajectoryPlan, q: np.ndarray, qd: np.ndarray | None,
                 after_s: float = 0.0) -> tuple[JointTrajectoryPlan, int] | None:
    """The rest of `plan`'s path from `q`, where a stop or a slower version of the same
    path left the arm, on the plan's own timing (so it is never faster than the plan: an
    insertion stroke stays at its stroke speed), starting with velocity `qd` (at rest when
    None). The arm joins the path at the sample nearest to `q` among those from `after_s`
    on; returns the continuation and the index in `plan` of its second sample (its first
    is `q`), or None when the arm stands at the path's end."""
    q = np.asarray(q, dtype=float)
    first = min(int(np.searchsorted(plan.times, max(after_s, 0.0), side="right")) - 1,
                len(plan.times) - 1)
    first = max(first, 0)
    nearest = first + int(np.argmin(np.linalg.norm(plan.positions[first:] - q, axis=1)))
    if nearest >= len(plan.times) - 1:
        if float(np.max(np.abs(plan.positions[-1] - q))) < 1e-3:
            return None
        nearest = len(plan.times) - 2
    dt = np.diff(plan.times[nearest:])
    times = np.concatenate(([0.0], np.cumsum(dt)))
    positions = np.vstack([q, plan.positions[nearest + 1:]])
    start_velocity = np.zeros_like(q) if qd is None else np.asarray(qd, dtype=float)
    velocities = np.vstack([start_velocity, plan.velocities[nearest + 1:]])
    return (JointTrajectoryPlan(times=times, positions=positions, velocities=velocities,
                                joint_names=plan.joint_names), nearest + 1)


def braking_stop(q: np.ndarray, qd: np.ndarray | None, limits: JointLimits,
                 point_speed_mps: float, deceleration_mps2: float,
                 joint_deceleration_factor: float = 2.0,
                 min_duration_s: float = 0.04) -> tuple[float, np.ndarray]:
    """Where and when an arm moving at `qd` comes to rest braking at a constant rate (a
    category-2 stop along its current direction): (duration T, rest position q + qd T / 2).
    T lets its fastest point (`point_speed_mps`) decelerate at `deceleration_mps2` (the
    rate speed and separation monitoring assumes) and each joint at most at
    `joint_deceleration_factor` x its planning acceleration limit. A stop that holds the
    position of the moment instead makes a moving arm overshoot and spring back (measured:
    0.04 m/s for 0.2 s after a stop from 0.17 m/s). Without velocities: hold `q`."""
    q = np.asarray(q, dtype=float)
    if qd is None or not np.all(np.isfinite(qd)):
        return min_duration_s, q.copy()
    qd = np.asarray(qd, dtype=float)
    duration = max(min_duration_s, point_speed_mps / deceleration_mps2 if
                   math.isfinite(point_speed_mps) else 0.0,
                   float(np.max(np.abs(qd) / (joint_deceleration_factor *
                                              np.asarray(limits.acceleration, dtype=float)))))
    rest = np.clip(q + qd * duration / 2.0, limits.lower, limits.upper)
    return duration, rest


def scaled_limits(limits: JointLimits, speed_scale: float,
                  accel_scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(velocity, acceleration) limits scaled for a skill's speed_scale, validated."""
    accel = speed_scale if accel_scale is None else accel_scale
    for name, value in (("speed_scale", speed_scale), ("accel_scale", accel)):
        if not (0.0 < value <= 1.0) or not math.isfinite(value):
            raise TrajectoryError(f"{name} must be in (0, 1], got {value}")
    return (np.asarray(limits.velocity, dtype=float) * speed_scale,
            np.asarray(limits.acceleration, dtype=float) * accel)


#: A motion's first waypoint (the arm's measured position) may lie this far past a joint
#: limit (rad): an arm held at its limit by the controller reads a hair beyond it (measured:
#: joint 7 at -2.8973 after a grasp at the limit refused every motion after it).
START_SLACK_RAD = 0.005


def _start_within_limits(points: np.ndarray, limits: JointLimits) -> np.ndarray:
    """`points` with the first clipped into the limits when it is within START_SLACK_RAD of
    them (further out stays, and is refused)."""
    lower, upper = np.asarray(limits.lower), np.asarray(limits.upper)
    first = points[0]
    if np.all((first >= lower - START_SLACK_RAD) & (first <= upper + START_SLACK_RAD)):
        points = points.copy()
        points[0] = np.clip(first, lower, upper)
    return points


def _check_inputs(points: np.ndarray, limits: JointLimits, sample_period: float) -> None:
    if not (0.0 < sample_period <= MAX_SAMPLE_PERIOD):
        raise TrajectoryError(f"sample_period must be in (0, {MAX_SAMPLE_PERIOD}] s, "
                              f"got {sample_period}")
    if points.ndim != 2 or points.shape[1] != len(limits.lower) or len(points) == 0:
        raise TrajectoryError(f"waypoints must be N x {len(limits.lower)}, got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise TrajectoryError("waypoints contain NaN or inf")
    low = points < np.asarray(limits.lower) - 1e-9
    high = points > np.asarray(limits.upper) + 1e-9
    if low.any() or high.any():
        k, j = np.argwhere(low | high)[0]
        raise TrajectoryError(f"waypoint {k}: joint {j + 1} = {points[k, j]:.4f} rad is "
                              f"outside [{limits.lower[j]:.4f}, {limits.upper[j]:.4f}]")


def _at_rest(q: np.ndarray) -> JointTrajectoryPlan:
    return JointTrajectoryPlan(times=np.array([0.0]), positions=q[None, :].copy(),
                               velocities=np.zeros((1, q.size)))


# --- point to point ------------------------------------------------------------------------
def point_to_point(q_start: Sequence[float], q_goal: Sequence[float], limits: JointLimits, *,
                   speed_scale: float = 1.0, accel_scale: float | None = None,
                   profile: Literal["quintic", "trapezoidal"] = "quintic",
                   sample_period: float = 0.02) -> JointTrajectoryPlan:
    """Synchronised straight-line joint motion from rest to rest, as short as the slowest
    joint's limits allow for the chosen profile. A zero-length move is a single point."""
    start, goal = _start_within_limits(
        np.vstack((np.asarray(q_start, dtype=float), np.asarray(q_goal, dtype=float))), limits)
    _check_inputs(np.vstack((start, goal)), limits, sample_period)
    vmax, amax = scaled_limits(limits, speed_scale, accel_scale)
    delta = goal - start
    dist = np.abs(delta)
    if float(dist.max()) < _MIN_MOVE:
        return _at_rest(goal)
    moving = dist > _MIN_MOVE
    # Normalised limits of the shared profile s(t) in [0, 1]: s' <= V, s'' <= A.
    v_norm = float(np.min(vmax[moving] / dist[moving]))
    a_norm = float(np.min(amax[moving] / dist[moving]))
    if profile == "quintic":
        duration = max(1.875 / v_norm, math.sqrt(10.0 / math.sqrt(3.0) / a_norm))
    elif profile == "trapezoidal":
        if v_norm * v_norm / a_norm >= 1.0:  # never reaches cruise speed: triangle
            v_norm = math.sqrt(a_norm)
        t_acc = v_norm / a_norm
        duration = 1.0 / v_norm + t_acc
    else:
        raise TrajectoryError(f"unknown profile {profile!r} (quintic, trapezoidal)")
    n = max(1, math.ceil(duration / sample_period - 1e-9))
    times = np.linspace(0.0, duration, n + 1)
    if profile == "quintic":
        tau = times / duration
        s = tau**3 * (10 - 15 * tau + 6 * tau**2)
        sd = 30 * tau**2 * (1 - tau) ** 2 / duration
    else:
        t_dec = duration - t_acc
        s = np.where(times < t_acc, 0.5 * a_norm * times**2,
                     np.where(times <= t_dec, 0.5 * a_norm * t_acc**2 + v_norm * (times - t_acc),
                              1.0 - 0.5 * a_norm * (duration - times) ** 2))
        sd = np.where(times < t_acc, a_norm * times,
                      np.where(times <= t_dec, v_norm, a_norm * (duration - times)))
    positions = start + np.outer(s, delta)
    velocities = np.outer(sd, delta)
    positions[0], positions[-1] = start, goal  # exact ends
    velocities[0] = velocities[-1] = 0.0
    return JointTrajectoryPlan(times=times, positions=positions, velocities=velocities)


# --- multi-waypoint path ---------------------------------------------------------------------
def _spline(u: np.ndarray, points: np.ndarray, limits: JointLimits
            ) -> CubicSpline | PchipInterpolator:
    """C2 cubic through the waypoints, or PCHIP (never overshoots) if the cubic leaves
    the joint limits between waypoints."""
    if len(points) == 2:
        return PchipInterpolator(u, points)  # the straight segment
    cubic = CubicSpline(u, points, bc_type="not-a-knot")
    fine = cubic(np.linspace(0.0, u[-1], 20 * len(u)))
    if np.all(fine >= limits.lower) and np.all(fine <= limits.upper):
        return cubic
    return PchipInterpolator(u, points)


def _accel_bounds(qd: np.ndarray, qdd: np.ndarray, x: np.ndarray, amax: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the path acceleration u'' at path speeds u'^2 = x (per grid point):
    |qd u'' + qdd x| <= amax for every joint."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hi = (amax - qdd * x[:, None]) / qd
        lo = (-amax - qdd * x[:, None]) / qd
    upper = np.where(qd > 0, hi, np.where(qd < 0, lo, np.inf))
    lower = np.where(qd > 0, lo, np.where(qd < 0, hi, -np.inf))
    # Joints not moving along the path at this point still get accelerated by curvature.
    stuck = (qd == 0) & (np.abs(qdd * x[:, None]) > amax)
    upper = np.where(stuck, -np.inf, upper)
    return lower.max(axis=1), upper.min(axis=1)


def _max_feasible_x(qd: np.ndarray, qdd: np.ndarray, amax: np.ndarray, x_cap: np.ndarray
                    ) -> np.ndarray:
    """Largest x <= x_cap with a non-empty u'' interval (bisection, all grid points at once).
    Feasibility is monotone: the interval only shrinks as x grows."""
    lower, upper = _accel_bounds(qd, qdd, x_cap, amax)
    ok = lower <= upper
    lo = np.zeros_like(x_cap)
    hi = x_cap.copy()
    lo[ok] = x_cap[ok]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lower, upper = _accel_bounds(qd, qdd, mid, amax)
        feasible = lower <= upper
        lo = np.where(feasible, mid, lo)
        hi = np.where(feasible, hi, mid)
    return lo


def time_parameterize(waypoints: Sequence[Sequence[float]] | np.ndarray, limits: JointLimits,
                      *, speed_scale: float = 1.0, accel_scale: float | None = None,
                      sample_period: float = 0.02,
                      tcp_position: Callable[[np.ndarray], np.ndarray] | None = None,
                      max_tcp_speed: float | None = None) -> JointTrajectoryPlan:
    """Time a joint path through `waypoints` (M x 7) from rest to rest.

    Velocity is continuous at the waypoints (the path is a spline through them, not a
    polyline); the trajectory passes through each waypoint without stopping. With
    `tcp_position` (forward kinematics: q -> TCP position, e.g.
    `lambda q: kinematics.tcp_pose(q)[0]`) and `max_tcp_speed` (m/s), the TCP speed is capped
    too (e.g. for insertion); it is evaluated on the path itself, so sparse waypoints are
    fine.
    """
    points = np.asarray(waypoints, dtype=float)
    if points.ndim == 2 and len(points):
        points = _start_within_limits(points, limits)
    _check_inputs(points, limits, sample_period)
    vmax, amax = scaled_limits(limits, speed_scale, accel_scale)
    vmax, amax = vmax * _LIMIT_SAFETY, amax * _LIMIT_SAFETY
    keep = np.concatenate(([True], np.linalg.norm(np.diff(points, axis=0), axis=1) > _MIN_MOVE))
    points = points[keep]
    if len(points) == 1:
        return _at_rest(points[0])
    u_knots = np.concatenate(([0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0),
                                                                axis=1))))
    path = _spline(u_knots, points, limits)
    n_grid = int(np.clip(8 * (len(points) - 1) + 1, 101, 4001))
    u = np.linspace(0.0, u_knots[-1], n_grid)
    du = u[1] - u[0]
    qd, qdd = path(u, 1), path(u, 2)
    # Maximum velocity curve x = u'^2 from the velocity limits, then the acceleration limits.
    with np.errstate(divide="ignore"):
        x_cap = np.min(np.where(np.abs(qd) > 0, (vmax / np.abs(qd)) ** 2, np.inf), axis=1)
    tcp_cap = None
    if max_tcp_speed is not None:
        if tcp_position is None or not max_tcp_speed > 0:
            raise TrajectoryError(f"max_tcp_speed ({max_tcp_speed}) must be > 0 and needs "
                                  "tcp_position")
        tcp_cap = (tcp_position, float(max_tcp_speed))
        tcp = np.array([tcp_position(q) for q in path(u)])
        dp = np.linalg.norm(np.gradient(tcp, du, axis=0), axis=1)
        with np.errstate(divide="ignore"):
            cap = max_tcp_speed * _LIMIT_SAFETY
            x_cap = np.minimum(x_cap, np.where(dp > 0, (cap / dp) ** 2, np.inf))
    x_cap = np.minimum(x_cap, 1e6)
    mvc = _max_feasible_x(qd, qdd, amax, x_cap)
    # Forward pass (accelerate as hard as allowed), then backward pass (brake in time).
    x = mvc.copy()
    x[0] = 0.0
    for k in range(n_grid - 1):
        _, acc = _accel_bounds(qd[k:k + 1], qdd[k:k + 1], x[k:k + 1], amax)
        x[k + 1] = min(x[k + 1], x[k] + 2 * du * max(float(acc[0]), 0.0))
    x[-1] = 0.0
    for k in range(n_grid - 2, -1, -1):
        dec, _ = _accel_bounds(qd[k + 1:k + 2], qdd[k + 1:k + 2], x[k + 1:k + 2], amax)
        x[k] = min(x[k], x[k + 1] - 2 * du * min(float(dec[0]), 0.0))
    speed = np.sqrt(np.maximum(x, 0.0))
    dt = 2 * du / np.maximum(speed[:-1] + speed[1:], 1e-12)
    t_grid = np.concatenate(([0.0], np.cumsum(dt)))
    stretch = 1.0
    for _ in range(5):
        plan, ratio = _resample(path, u, speed, t_grid * stretch, stretch, points,
                                vmax / _LIMIT_SAFETY, amax / _LIMIT_SAFETY, sample_period,
                                tcp_cap)
        if ratio <= 1.0:
            return plan
        stretch *= ratio * 1.01
    raise TrajectoryError("could not time the path within the limits (numerical trouble)")


def _resample(path: CubicSpline | PchipInterpolator, u: np.ndarray, speed: np.ndarray,
              t_grid: np.ndarray, stretch: float, points: np.ndarray, vmax: np.ndarray,
              amax: np.ndarray, sample_period: float,
              tcp_cap: tuple[Callable[[np.ndarray], np.ndarray], float] | None
              ) -> tuple[JointTrajectoryPlan, float]:
    """Sample u(t) (constant u'' between grid points) every `sample_period` and measure how
    far the result is over the limits (ratio > 1: stretch time by about that much)."""
    speed = speed / stretch
    duration = float(t_grid[-1])
    n = max(1, math.ceil(duration / sample_period - 1e-9))
    times = np.linspace(0.0, duration, n + 1)
    k = np.clip(np.searchsorted(t_grid, times, side="right") - 1, 0, len(u) - 2)
    h = t_grid[k + 1] - t_grid[k]
    acc = (speed[k + 1] - speed[k]) / h
    tau = times - t_grid[k]
    s = np.clip(u[k] + speed[k] * tau + 0.5 * acc * tau**2, 0.0, u[-1])
    sd = np.maximum(speed[k] + acc * tau, 0.0)
    positions = path(s)
    velocities = path(s, 1) * sd[:, None]
    positions[0], positions[-1] = points[0], points[-1]
    velocities[0] = velocities[-1] = 0.0
    plan = JointTrajectoryPlan(times=times, positions=positions, velocities=velocities)
    # Check at the samples: velocity directly, acceleration from the sampled velocities.
    v_ratio = float(np.max(np.abs(velocities) / vmax))
    accel = np.diff(velocities, axis=0) / np.diff(times)[:, None]
    a_ratio = float(np.max(np.abs(accel) / amax)) if len(accel) else 0.0
    ratio = max(v_ratio, math.sqrt(a_ratio))
    if tcp_cap is not None:
        fk, cap = tcp_cap
        tcp = np.array([fk(q) for q in positions])
        tcp_speed = np.linalg.norm(np.diff(tcp, axis=0), axis=1) / np.diff(times)
        ratio = max(ratio, float(np.max(tcp_speed, initial=0.0)) / cap)
    return plan, ratio


def slow_down_locally(plan: JointTrajectoryPlan, segment_speed: np.ndarray,
                      segment_cap: np.ndarray, smooth_s: float = 0.3,
                      min_cap: float = 0.02, start_speed: float | None = None,
                      ramp_mps2: float = 1.0) -> JointTrajectoryPlan:
    """The same path, slower only where it must be: segment k (between samples k and k+1)
    moves its fastest point at `segment_speed[k]` (m/s) and may move it at most at
    `segment_cap[k]` (m/s, e.g. the speed that keeps a person's protective distance there).
    Each segment is stretched in time by its own factor; the factors are widened and
    averaged over `smooth_s` so the speed changes gently (no added acceleration jumps).
    Caps below `min_cap` count as `min_cap`: the arm creeps there and the supervisor, which
    watches the separation as it happens, stops it if the person is still too close.
    `start_speed` (m/s): a plan that begins with the arm already moving (or at rest) that
    slowly speeds up at no more than about `ramp_mps2`."""
    speed = np.asarray(segment_speed, dtype=float)
    cap = np.maximum(np.asarray(segment_cap, dtype=float), min_cap)
    dt = np.diff(plan.times)
    if len(speed) != len(dt) or len(cap) != len(dt):
        raise ValueError(f"{len(dt)} segments but {len(speed)} speeds and {len(cap)} caps")
    if len(dt) == 0:
        return plan
    factor = np.maximum(1.0, speed / cap)
    smooth = factor
    if np.any(factor > 1.0):
        width = max(1, int(round(smooth_s / max(float(np.median(dt)), 1e-6))))
        half = width // 2
        padded = np.pad(factor, half, mode="edge")
        widened = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).max(axis=1)
        padded = np.pad(widened, half, mode="edge")
        smooth = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).mean(axis=1)
        smooth = np.maximum(smooth, factor)
    if start_speed is not None:
        # each segment at most at the ramp's speed when it begins (already gradual: not
        # smoothed, which would spread the first segments' large factors)
        smooth, clock = smooth.copy(), 0.0
        for k in range(len(dt)):
            ramp = max(start_speed, min_cap) + ramp_mps2 * clock
            smooth[k] = max(smooth[k], speed[k] / ramp)
            clock += dt[k] * smooth[k]
    if np.all(smooth <= 1.0):
        return plan
    times = np.concatenate(([0.0], np.cumsum(dt * smooth)))
    at_samples = np.concatenate(([smooth[0]], np.maximum(smooth[:-1], smooth[1:]),
                                 [smooth[-1]]))
    velocities = plan.velocities / at_samples[:, None]
    velocities[0], velocities[-1] = plan.velocities[0], plan.velocities[-1]
    return JointTrajectoryPlan(times=times, positions=plan.positions, velocities=velocities,
                               joint_names=plan.joint_names)
