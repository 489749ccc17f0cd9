"""The mobile base's "driver": what a holonomic base controller and its wheel odometry do,
without rclpy. `BaseDriver` turns `cmd_vel` (base frame) into wheel-speed set points within
the base's speed and acceleration limits and stops the base when commands stop coming (the
usual cmd_vel timeout). `WheelOdometry` integrates the *measured* wheel motion into the
`odom` -> `base_link` pose with the errors real wheel odometry has: a per-robot scale error
on distance and on rotation (tyre wear, wheel base calibration) and slip noise, so it drifts
from the true pose, which only `/sim/ground_truth` carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from foresight_common.mobile_manipulator import (
    BASE_MAX_ANGULAR,
    BASE_MAX_ANGULAR_ACCEL,
    BASE_MAX_LINEAR,
    BASE_MAX_LINEAR_ACCEL,
)

#: The base stops when no cmd_vel arrived for this long (s, sim time).
CMD_VEL_TIMEOUT_S = 0.5
#: A stopped base holds where it came to rest (its wheel controllers' integrators and
#: brakes): a pose error is driven back at this rate (1/s). Without it, the arm's reaction
#: forces pushed the standing base 9 cm during one pick (measured).
HOLD_GAIN = 5.0


class BaseDriver:
    """Velocity commands in, rate-limited wheel set points out (base frame)."""

    def __init__(self, timeout_s: float = CMD_VEL_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.target = np.zeros(3)        # vx, vy (m/s), wz (rad/s) as commanded
        self.output = np.zeros(3)        # the set point now, after the ramps
        self._commanded_at = -math.inf

    def command(self, vx: float, vy: float, wz: float, now: float) -> str | None:
        """Accept a command; returns a reason when rejected (the base keeps its command)."""
        values = (vx, vy, wz)
        if not all(math.isfinite(v) for v in values):
            return f"non-finite velocity {values}"
        linear = math.hypot(vx, vy)
        scale = min(1.0, BASE_MAX_LINEAR / linear) if linear > 0 else 1.0
        self.target = np.array([vx * scale, vy * scale,
                                float(np.clip(wz, -BASE_MAX_ANGULAR, BASE_MAX_ANGULAR))])
        self._commanded_at = now
        return None

    def timed_out(self, now: float) -> bool:
        return now - self._commanded_at > self.timeout_s

    def step(self, now: float, dt: float) -> np.ndarray:
        """The set point for the coming step: towards the command (zero after a timeout)
        with the acceleration limits."""
        target = np.zeros(3) if self.timed_out(now) else self.target
        delta = target - self.output
        linear = math.hypot(delta[0], delta[1])
        max_linear = BASE_MAX_LINEAR_ACCEL * dt
        if linear > max_linear:
            delta[:2] *= max_linear / linear
        delta[2] = float(np.clip(delta[2], -BASE_MAX_ANGULAR_ACCEL * dt,
                                 BASE_MAX_ANGULAR_ACCEL * dt))
        self.output = self.output + delta
        return self.output.copy()


class PoseHold:
    """Where a stopped base holds itself: the pose it had when its set point reached zero."""

    def __init__(self) -> None:
        self.pose: np.ndarray | None = None

    def velocity(self, set_point: np.ndarray, pose: np.ndarray, yaw: float) -> np.ndarray:
        """Velocities of the planar joints (map x, y, yaw) for `set_point` (base frame) at
        `pose`: the set point while it moves, else back towards where it stopped."""
        if np.any(set_point):
            self.pose = None
            return base_to_world_velocity(set_point, yaw)
        if self.pose is None:
            self.pose = np.array(pose, dtype=float)
        error = np.array(pose, dtype=float) - self.pose
        error[2] = math.remainder(error[2], 2.0 * math.pi)
        return -HOLD_GAIN * error


def base_to_world_velocity(velocity: np.ndarray, yaw: float) -> np.ndarray:
    """(vx, vy, wz) in base_link -> velocities of the planar joints (map x, y, yaw)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * velocity[0] - s * velocity[1], s * velocity[0] + c * velocity[1],
                     velocity[2]])


@dataclass(frozen=True)
class OdometryErrors:
    """How this robot's wheel odometry is wrong: scale errors (fractions) and white noise
    on the measured velocities (per sqrt(Hz) of the integration)."""
    linear_scale: float
    angular_scale: float
    linear_noise: float            # m/s
    angular_noise: float           # rad/s

    @classmethod
    def sample(cls, rng: np.random.Generator) -> OdometryErrors:
        """Typical of a wheeled indoor base: 1-2 % distance scale, 1-3 % rotation scale."""
        return cls(linear_scale=float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.02)),
                   angular_scale=float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.03)),
                   linear_noise=0.01, angular_noise=0.01)


class WheelOdometry:
    """Integrates measured base velocity into the odom -> base_link pose (odom = where the
    base started)."""

    def __init__(self, errors: OdometryErrors, rng: np.random.Generator) -> None:
        self.errors = errors
        self.rng = rng
        self.x = self.y = self.yaw = 0.0
        self.velocity = np.zeros(3)    # what the wheels report, base frame
        self.travelled = 0.0           # m, for the covariance's growth
        self.turned = 0.0              # rad

    def update(self, true_velocity: np.ndarray, dt: float) -> None:
        """One step with the base's true velocity (vx, vy, wz in base_link)."""
        e = self.errors
        noise = self.rng.standard_normal(3) if np.any(true_velocity) else np.zeros(3)
        vx = true_velocity[0] * (1.0 + e.linear_scale) + noise[0] * e.linear_noise
        vy = true_velocity[1] * (1.0 + e.linear_scale) + noise[1] * e.linear_noise
        wz = true_velocity[2] * (1.0 + e.angular_scale) + noise[2] * e.angular_noise
        heading = self.yaw + 0.5 * wz * dt     # midpoint rule
        c, s = math.cos(heading), math.sin(heading)
        self.x += (c * vx - s * vy) * dt
        self.y += (s * vx + c * vy) * dt
        self.yaw = math.atan2(math.sin(self.yaw + wz * dt), math.cos(self.yaw + wz * dt))
        self.velocity = np.array([vx, vy, wz])
        self.travelled += math.hypot(vx, vy) * dt
        self.turned += abs(wz) * dt

    def covariance(self) -> tuple[float, float, float]:
        """Variances (x, y, yaw) that grow with the distance and angle travelled (2 % and 3 %
        one-sigma bounds of the scale errors), for nav_msgs/Odometry."""
        sigma_xy = 0.001 + 0.02 * self.travelled
        sigma_yaw = 0.001 + 0.03 * self.turned + 0.01 * self.travelled
        return sigma_xy ** 2, sigma_xy ** 2, sigma_yaw ** 2
