"""The simulated robot cell as hardware: physics stepping, controllers, sensors, camera.

This is everything the simulation node does except ROS plumbing: it steps the MuJoCo cell,
plays joint trajectories through the trajectory follower and the joint impedance law, drives
the gripper, reads joint states and the wrist wrench, renders RGB-D and paces simulated time
against the wall clock at a fixed real-time-factor target. No rclpy here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mujoco
import numpy as np

from foresight_common.mobile_manipulator import BASE_JOINTS, TUCKED_POSITIONS
from foresight_common.robot_model import (
    ARM_JOINTS,
    FINGER_JOINTS,
    HOME_POSITIONS,
    MAX_GRIPPER_WIDTH,
    JointLimits,
)
from foresight_common.trajectory_validation import validate_trajectory
from foresight_simulation.base_driver import (
    BaseDriver,
    OdometryErrors,
    PoseHold,
    WheelOdometry,
)
from foresight_simulation.controllers import (
    ImpedanceGains,
    TrajectoryFollower,
    TrajectorySegmentPlan,
    joint_torques,
)

# Joint impedance of the simulated arm (the "hardware" controller, not tuned by the stack).
ARM_STIFFNESS = np.array([900.0, 900.0, 900.0, 900.0, 300.0, 200.0, 100.0])
ARM_DAMPING = np.array([60.0, 60.0, 60.0, 60.0, 20.0, 14.0, 8.0])
ARM_TORQUE_LIMITS = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])
# Limits the controller enforces on incoming trajectories (Panda datasheet velocities).
ARM_MAX_VELOCITY = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])
#: How fast the commanded gripper opening moves (m/s of width; the Franka Hand moves each
#: finger at up to 0.05 m/s). A step to the position servos would snap the fingers at ~0.5
#: m/s, a robot motion that speed and separation monitoring has to count.
GRIPPER_WIDTH_RATE_MPS = 0.1
ARM_MAX_ACCELERATION = np.array([15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0])


@dataclass(frozen=True)
class JointStateSample:
    names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


class SimulatedCell:
    """Hardware view of an `IndustrialCell`: commands in, sensor readings out."""

    def __init__(self, cell, initial_arm: tuple[float, ...] = HOME_POSITIONS) -> None:
        self.cell = cell
        self.model: mujoco.MjModel = cell.model
        self.data: mujoco.MjData = cell.data
        model = self.model
        self.arm_qpos = np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.arm_dof = np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([model.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.finger_dof = np.array([model.joint(j).dofadr[0] for j in FINGER_JOINTS])
        self.arm_act = np.array([model.actuator(j).id for j in ARM_JOINTS])
        self.finger_act = np.array([model.actuator(j).id for j in FINGER_JOINTS])
        ranges = np.array([model.joint(j).range for j in ARM_JOINTS])
        self.limits = JointLimits(lower=ranges[:, 0], upper=ranges[:, 1],
                                  velocity=ARM_MAX_VELOCITY, acceleration=ARM_MAX_ACCELERATION)
        self.gains = ImpedanceGains(ARM_STIFFNESS, ARM_DAMPING, ARM_TORQUE_LIMITS)
        self.data.qpos[self.arm_qpos] = initial_arm
        self.data.qvel[:] = 0.0
        self.gripper_width = MAX_GRIPPER_WIDTH  # the servos' set point, ramping to ...
        self.gripper_target = MAX_GRIPPER_WIDTH  # ... the commanded width
        self.data.qpos[self.finger_qpos] = (MAX_GRIPPER_WIDTH / 2, -MAX_GRIPPER_WIDTH / 2)
        mujoco.mj_forward(model, self.data)
        self.follower = TrajectoryFollower(np.array(initial_arm))
        self._acceleration = np.zeros(model.nv)
        self._inertia_product = np.zeros(model.nv)
        self._force_sensor = model.sensor("wrist_force").id
        self._torque_sensor = model.sensor("wrist_torque").id

    # --- commands --------------------------------------------------------------------------
    @property
    def sim_time(self) -> float:
        return float(self.data.time)

    def arm_positions(self) -> np.ndarray:
        return self.data.qpos[self.arm_qpos].copy()

    def command_trajectory(self, joint_names: list[str], times: list[float],
                           positions: list[list[float]], velocities: list[list[float]],
                           start_time: float | None = None) -> list[str]:
        """Validate and start a trajectory; returns the reasons when it is rejected."""
        current = self.arm_positions()
        reasons = validate_trajectory(joint_names, times, positions, velocities,
                                      self.limits, start_positions=current)
        if reasons:
            return reasons
        order = [joint_names.index(j) for j in ARM_JOINTS]
        q = np.asarray(positions, dtype=float)[:, order]
        if velocities:
            v = np.asarray(velocities, dtype=float)[:, order]
        else:
            v = np.zeros_like(q)
        plan = TrajectorySegmentPlan(
            start_time=self.sim_time if start_time is None else start_time,
            times=np.asarray(times, dtype=float), positions=q, velocities=v)
        self.follower.start(plan, current, self.sim_time)
        return []

    def hold_position(self) -> None:
        self.follower.hold(self.arm_positions())

    def command_gripper(self, values: list[float]) -> str | None:
        """Gripper width command (m, both fingers); returns a reason when rejected."""
        if len(values) != 1:
            return f"expected 1 value (gripper width in m), got {len(values)}"
        width = float(values[0])
        if not np.isfinite(width) or width < 0.0 or width > MAX_GRIPPER_WIDTH + 1e-6:
            return f"gripper width {width!r} outside [0, {MAX_GRIPPER_WIDTH}] m"
        self.gripper_target = width
        return None

    # --- physics ---------------------------------------------------------------------------
    def step(self) -> None:
        data = self.data
        q_ref, qd_ref, qdd_ref = self.follower.reference_with_acceleration(self.sim_time)
        bias = data.qfrc_bias[self.arm_dof]
        data.ctrl[self.arm_act] = joint_torques(data.qpos[self.arm_qpos],
                                                data.qvel[self.arm_dof], q_ref, qd_ref, bias,
                                                self.gains, self._inertia_torque(qdd_ref))
        step = GRIPPER_WIDTH_RATE_MPS * self.model.opt.timestep
        self.gripper_width += float(np.clip(self.gripper_target - self.gripper_width,
                                            -step, step))
        half = self.gripper_width / 2.0
        data.ctrl[self.finger_act] = (half, -half)
        self.cell.step_world()
        mujoco.mj_step(self.model, data)

    def _inertia_torque(self, arm_acceleration: np.ndarray) -> np.ndarray:
        """M(q) qdd for the arm's joints (the arm is a chain of its own: its rows of the mass
        matrix do not couple to the free parts' degrees of freedom)."""
        if not np.any(arm_acceleration):
            return np.zeros_like(arm_acceleration)
        self._acceleration[:] = 0.0
        self._acceleration[self.arm_dof] = arm_acceleration
        mujoco.mj_mulM(self.model, self.data, self._inertia_product, self._acceleration)
        return self._inertia_product[self.arm_dof].copy()

    # --- sensors ---------------------------------------------------------------------------
    def joint_state(self) -> JointStateSample:
        data = self.data
        qpos = np.concatenate([data.qpos[self.arm_qpos], data.qpos[self.finger_qpos]])
        qvel = np.concatenate([data.qvel[self.arm_dof], data.qvel[self.finger_dof]])
        effort = np.concatenate([data.ctrl[self.arm_act],
                                 data.actuator_force[self.finger_act]])
        return JointStateSample(ARM_JOINTS + FINGER_JOINTS, qpos, qvel, effort)

    def wrist_wrench(self) -> tuple[np.ndarray, np.ndarray]:
        """Force (N) and torque (N m) measured at the wrist, in the hand frame."""
        adr_f = self.model.sensor_adr[self._force_sensor]
        adr_t = self.model.sensor_adr[self._torque_sensor]
        return (self.data.sensordata[adr_f:adr_f + 3].copy(),
                self.data.sensordata[adr_t:adr_t + 3].copy())


class SimulatedMobileManipulator(SimulatedCell):
    """Hardware view of the home-care robot: the arm and gripper as in the cell, plus the
    base driver (cmd_vel in, wheel set points to the base's velocity servos) and its wheel
    odometry, whose errors are drawn once per episode from `odometry_rng`."""

    def __init__(self, room, odometry_rng: np.random.Generator) -> None:
        super().__init__(room, initial_arm=TUCKED_POSITIONS)
        self.base_act = np.array([self.model.actuator(j).id for j in BASE_JOINTS])
        self.driver = BaseDriver()
        self.hold = PoseHold()
        self.odometry = WheelOdometry(OdometryErrors.sample(odometry_rng), odometry_rng)

    def command_base(self, vx: float, vy: float, wz: float) -> str | None:
        """A base velocity command (base_link frame); returns a reason when rejected."""
        return self.driver.command(vx, vy, wz, self.sim_time)

    def step(self) -> None:
        dt = float(self.model.opt.timestep)
        pose = self.cell.base_pose()
        self.data.ctrl[self.base_act] = self.hold.velocity(
            self.driver.step(self.sim_time, dt), np.asarray(pose), pose[2])
        super().step()
        self.odometry.update(np.array(self.cell.base_velocity()), dt)


class FailureStreak:
    """Failures of something that usually works (a publish), tolerated for `limit_s` in a
    row: a transient transport error (Fast DDS "cannot publish data", once, at the end of
    home_train cup seed 8 at 474414d) should not end the simulation, a lasting one should."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.since: float | None = None   # first failure of the current streak
        self.count = 0                    # failures in all

    def ok(self) -> None:
        self.since = None

    def failed(self, now: float) -> bool:
        """Count one failure at `now` (monotonic s); True once the streak lasted limit_s."""
        self.count += 1
        self.since = now if self.since is None else self.since
        return now - self.since >= self.limit_s


class RealTimePacer:
    """Keeps simulated time at `rtf` x wall time (rtf <= 0: as fast as possible) and
    measures the real-time factor actually achieved."""

    def __init__(self, rtf: float) -> None:
        self.rtf = rtf
        self._wall_start: float | None = None
        self._sim_start = 0.0
        self.last_wall = 0.0

    def start(self, sim_time: float) -> None:
        self._wall_start = time.monotonic()
        self._sim_start = sim_time

    @property
    def started(self) -> bool:
        return self._wall_start is not None

    def wait(self, sim_time: float) -> None:
        """Sleep until the wall clock catches up with `sim_time` (if we are ahead)."""
        if self._wall_start is None or self.rtf <= 0:
            return
        due = self._wall_start + (sim_time - self._sim_start) / self.rtf
        delay = due - time.monotonic()
        if delay > 0.0005:
            time.sleep(delay)

    def wall_elapsed(self) -> float:
        return 0.0 if self._wall_start is None else time.monotonic() - self._wall_start

    def achieved(self, sim_time: float) -> float:
        wall = self.wall_elapsed()
        return (sim_time - self._sim_start) / wall if wall > 0 else 0.0
