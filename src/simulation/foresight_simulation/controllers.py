"""Controllers of the simulated robot, as ros2_control would provide them on hardware.

`TrajectoryFollower` plays a joint trajectory the way joint_trajectory_controller does:
`header.stamp == 0` starts it now, points are interpolated with cubic Hermite splines
(positions + velocities), a new trajectory replaces the old one from its start time (a
trajectory that starts now continues from the velocity the old one was commanding, so a
stop trajectory brakes smoothly instead of snapping the reference to rest), and after the
last point the arm holds it. `joint_torques` is the arm's low-level joint
impedance law with gravity, Coriolis and inertia compensation, as a torque-controlled arm (e.g.
Franka's) runs internally; it is why a position target is reached without gravity sag.
No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrajectorySegmentPlan:
    """A validated trajectory in controller joint order, absolute sim times."""

    start_time: float
    times: np.ndarray  # (N,) seconds from start
    positions: np.ndarray  # (N, J)
    velocities: np.ndarray  # (N, J)


class TrajectoryFollower:
    def __init__(self, initial_positions: np.ndarray) -> None:
        self._hold = np.asarray(initial_positions, dtype=float).copy()
        self._plan: TrajectorySegmentPlan | None = None
        self._origin = self._hold.copy()
        self._origin_velocity = np.zeros_like(self._hold)

    @property
    def active(self) -> bool:
        return self._plan is not None

    def hold(self, positions: np.ndarray) -> None:
        """Stop following and hold `positions` (used for a stop / e-stop)."""
        self._plan = None
        self._hold = np.asarray(positions, dtype=float).copy()

    def start(self, plan: TrajectorySegmentPlan, current_positions: np.ndarray,
              now: float | None = None) -> None:
        """Follow `plan`; before its first point, move from where the arm is now. A plan
        that starts by `now` leaves from the velocity commanded at `now` (as
        joint_trajectory_controller does), one that starts later from rest."""
        self._origin = np.asarray(current_positions, dtype=float).copy()
        self._origin_velocity = np.zeros_like(self._origin)
        if now is not None and plan.start_time <= now:
            self._origin_velocity = self.reference(now)[1]
        self._plan = plan

    def reference(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Desired (positions, velocities) at sim time `now`."""
        position, velocity, _ = self.reference_with_acceleration(now)
        return position, velocity

    def reference_with_acceleration(self, now: float
                                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Desired (positions, velocities, accelerations) at sim time `now` (the
        acceleration feeds the controller's inertia feed-forward)."""
        plan = self._plan
        if plan is None:
            return self._hold.copy(), np.zeros_like(self._hold), np.zeros_like(self._hold)
        t = now - plan.start_time
        if t <= 0.0:
            return self._origin.copy(), np.zeros_like(self._origin), np.zeros_like(self._origin)
        times = plan.times
        if t >= times[-1]:
            self._hold = plan.positions[-1].copy()
            self._plan = None
            return self._hold.copy(), np.zeros_like(self._hold), np.zeros_like(self._hold)
        index = int(np.searchsorted(times, t, side="right"))
        if index == 0:
            t0, t1 = 0.0, times[0]
            q0, q1 = self._origin, plan.positions[0]
            v0, v1 = self._origin_velocity, plan.velocities[0]
        else:
            t0, t1 = times[index - 1], times[index]
            q0, q1 = plan.positions[index - 1], plan.positions[index]
            v0, v1 = plan.velocities[index - 1], plan.velocities[index]
        return hermite(t - t0, t1 - t0, q0, q1, v0, v1)


def hermite(t: float, duration: float, q0: np.ndarray, q1: np.ndarray, v0: np.ndarray,
            v1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cubic Hermite interpolation: position, velocity and acceleration at `t` in
    [0, duration]."""
    s = t / duration
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    position = h00 * q0 + h10 * duration * v0 + h01 * q1 + h11 * duration * v1
    d00 = (6 * s**2 - 6 * s) / duration
    d10 = 3 * s**2 - 4 * s + 1
    d01 = (-6 * s**2 + 6 * s) / duration
    d11 = 3 * s**2 - 2 * s
    velocity = d00 * q0 + d10 * v0 + d01 * q1 + d11 * v1
    a00 = (12 * s - 6) / duration**2
    a10 = (6 * s - 4) / duration
    a11 = (6 * s - 2) / duration
    acceleration = a00 * q0 + a10 * v0 - a00 * q1 + a11 * v1
    return position, velocity, acceleration


@dataclass(frozen=True)
class ImpedanceGains:
    stiffness: np.ndarray  # N m / rad
    damping: np.ndarray  # N m s / rad
    torque_limit: np.ndarray  # N m


def joint_torques(q: np.ndarray, qd: np.ndarray, q_ref: np.ndarray, qd_ref: np.ndarray,
                  bias: np.ndarray, gains: ImpedanceGains,
                  inertia_feedforward: np.ndarray | None = None) -> np.ndarray:
    """Joint impedance + bias (gravity, Coriolis) compensation + the inertia torque of the
    reference acceleration (M(q) qdd_ref: without it the arm lags while braking and springs
    back after a stop), clipped to torque limits."""
    torque = gains.stiffness * (q_ref - q) + gains.damping * (qd_ref - qd) + bias
    if inertia_feedforward is not None:
        torque = torque + inertia_feedforward
    return np.clip(torque, -gains.torque_limit, gains.torque_limit)
