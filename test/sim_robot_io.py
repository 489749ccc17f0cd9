"""A RobotIO that drives the MuJoCo cell directly (no ROS): the executor's skills run against
the simulated robot in one process, stepping physics while they wait. Used by tests that
judge skills from ground truth, and for debugging skills deterministically."""

from __future__ import annotations

import numpy as np

from foresight_executor.skills import ForceLimitExceeded, Outcome, SkillStopped
from foresight_executor.trajectory import JointTrajectoryPlan
from foresight_simulation.runtime import SimulatedCell


class SimRobotIO:
    def __init__(self, sim: SimulatedCell, settle_timeout_s: float = 2.0,
                 tolerance_rad: float = 0.01) -> None:
        self.sim = sim
        self.settle_timeout_s = settle_timeout_s
        self.tolerance_rad = tolerance_rad
        self.phases: list[str] = []
        self.counted: list[str] = []        # diagnostics counters, each count

    def step(self, seconds: float) -> None:
        steps = int(round(seconds / self.sim.model.opt.timestep))
        for _ in range(max(steps, 1)):
            self.sim.step()

    def arm_positions(self) -> np.ndarray:
        return self.sim.arm_positions()

    def gripper_width(self) -> float:
        q = self.sim.joint_state().position
        return float(q[7] - q[8])

    def now(self) -> float:
        return self.sim.sim_time

    def execute(self, plan: JointTrajectoryPlan, force_limit_n: float | None = None,
                until=None, start_time: float | None = None,
                stall_after_s: float | None = None) -> bool:
        reasons = self.sim.command_trajectory(list(plan.joint_names), plan.times.tolist(),
                                              plan.positions.tolist(),
                                              plan.velocities.tolist(), start_time=start_time)
        if reasons:
            raise SkillStopped(Outcome.FAILED, "; ".join(reasons))
        if plan.duration <= 0.0:
            return True
        start = self.sim.sim_time if start_time is None else start_time
        baseline = self.sim.wrist_wrench()[0]
        dt = self.sim.model.opt.timestep
        while True:
            self.sim.step()
            now = self.sim.sim_time
            if force_limit_n is not None:
                extra = float(np.linalg.norm(self.sim.wrist_wrench()[0] - baseline))
                if extra > force_limit_n:
                    self.sim.hold_position()
                    raise ForceLimitExceeded(extra)
            if until is not None and until(self.arm_positions()):
                self.sim.hold_position()
                return False
            if now >= start + plan.duration - dt / 2:
                error = float(np.max(np.abs(self.arm_positions() - plan.positions[-1])))
                if error <= self.tolerance_rad:
                    return True
                if now > start + plan.duration + self.settle_timeout_s:
                    self.sim.hold_position()
                    raise SkillStopped(Outcome.FAILED, f"arm did not reach the end of its "
                                       f"trajectory (joint error {error:.3f} rad)")

    def set_gripper(self, width: float) -> None:
        reason = self.sim.command_gripper([width])
        if reason:
            raise SkillStopped(Outcome.FAILED, reason)

    def expected_duration(self, plan) -> float:
        return plan.duration                  # no supervisor in this direct loop

    def wait(self, seconds: float, until=None) -> bool:
        self.step(seconds)
        return until is not None and bool(until(self.arm_positions()))

    def feedback(self, phase: str, progress: float) -> None:
        self.phases.append(phase)

    def count(self, name: str) -> None:
        self.counted.append(name)
