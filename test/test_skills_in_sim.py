"""The executor's skills against the simulated cell in one process (no ROS): a pick given by
the part's pose lifts it and an insert seats it, judged from the simulation's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sim_robot_io import SimRobotIO

from foresight_common.cell_layout import load_cell_layout
from foresight_common.robot_model import RobotKinematics
from foresight_executor.collision import CollisionChecker
from foresight_executor.skills import (
    MotionStalled,
    Outcome,
    SkillRequest,
    SkillRunner,
    SkillSettings,
)
from foresight_executor.trajectory import braking_stop, point_to_point
from foresight_planner.assembly_plan import (
    load_skill_library,
    parse_work_order,
    plan_assembly,
    tool_down_quat,
)
from foresight_simulation.families import load_family, sample_scene
from foresight_simulation.runtime import SimulatedCell
from foresight_simulation.scene import IndustrialCell

CONFIG = Path(__file__).resolve().parent.parent / "config"


@pytest.fixture
def cell_and_runner():
    layout = load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")
    cell = IndustrialCell(layout, sample_scene(layout, load_family("smoke", CONFIG), 0))
    obstacles = layout.static_obstacles()
    runner = SkillRunner(RobotKinematics(),
                         CollisionChecker(obstacles, base_pos=layout.robot_base),
                         SkillSettings(grasp_depth=0.012), np.array(layout.robot_base), 0.0,
                         tuple(b.name for b in obstacles))
    library = load_skill_library(CONFIG / "skills" / "industrial_assembly.yaml")
    item = plan_assembly(layout, parse_work_order(["slot_0:peg_round"], layout), library)[0]
    return cell, SimRobotIO(SimulatedCell(cell)), runner, item


def request(step) -> SkillRequest:
    return SkillRequest(step.skill, np.array(step.position), np.array(step.quat_wxyz),
                        step.speed_scale, step.gripper_width, step.object_height)


def part_z(cell: IndustrialCell) -> float:
    return next(o.position[2] for o in cell.ground_truth() if o.name == "part_0")


def test_pick_lifts_the_part_and_insert_seats_it(cell_and_runner):
    cell, io, runner, item = cell_and_runner
    pick, insert = item.steps
    start_z = part_z(cell)
    report = runner.run(request(pick), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    assert cell.part_status()["part_0"] == "held"
    assert part_z(cell) > start_z + 0.08
    report = runner.run(request(insert), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    io.wait(1.0)
    assert cell.part_status()["part_0"] == "seated"
    assert cell.robot_contacts() == []


def test_picking_an_empty_spot_fails_with_a_reason(cell_and_runner):
    cell, io, runner, item = cell_and_runner
    empty = request(item.steps[0])
    empty = SkillRequest("pick", empty.position + np.array([0.0, 0.08, 0.0]),
                         empty.quat_wxyz, empty.speed_scale, empty.gripper_width,
                         empty.object_height)
    report = runner.run(empty, io)
    assert report.outcome == Outcome.FAILED
    assert "nothing grasped" in report.reason
    assert cell.part_status()["part_0"] == "in_tray"


def test_move_to_pose_reaches_within_tolerance_and_rejects_nonsense(cell_and_runner):
    cell, io, runner, _ = cell_and_runner
    target = np.array([0.5, 0.05, 0.95])
    report = runner.run(SkillRequest("move_to_pose", target, np.array(tool_down_quat(0.3))),
                        io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    tcp = cell.data.site_xpos[cell.model.site("tcp").id]
    assert np.linalg.norm(tcp - target) < 0.005  # measured in the simulation, not FK
    far = runner.run(SkillRequest("move_to_pose", np.array([3.0, 0.0, 1.0]),
                                  np.array(tool_down_quat(0.0))), io)
    assert far.outcome == Outcome.UNREACHABLE
    assert runner.run(SkillRequest("dance"), io).outcome == Outcome.REJECTED


def test_insert_finds_a_hole_8_mm_off_the_estimate_by_searching(cell_and_runner):
    """Centimetre-level perception errors: the force-guarded stroke lands on the fixture, the
    spiral search finds the hole, the part is seated (judged from ground truth)."""
    cell, io, runner, item = cell_and_runner
    pick, insert = item.steps
    assert runner.run(request(pick), io).outcome == Outcome.SUCCEEDED
    wrong = request(insert)
    wrong = SkillRequest("insert", wrong.position + np.array([-0.005, 0.006, 0.0]),
                         wrong.quat_wxyz, wrong.speed_scale, wrong.gripper_width,
                         wrong.object_height)
    report = runner.run(wrong, io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    assert "found by search" in report.reason
    io.wait(1.0)
    assert cell.part_status()["part_0"] == "seated"
    assert cell.robot_contacts() == []


class PersonAwareIO(SimRobotIO):
    """Sim IO whose supervisor slows plans down tenfold where the TCP passes within 0.6 m
    of a person standing at the bench edge (as the executor's SSM would, in spirit)."""

    PERSON = np.array([1.02, -0.12, 1.0])

    def __init__(self, sim, runner: SkillRunner) -> None:
        super().__init__(sim)
        self.runner = runner
        self.executed: list = []

    def closest(self, plan) -> float:
        return min(float(np.linalg.norm(self.runner.tcp_world(q)[0] - self.PERSON))
                   for q in plan.positions)

    def expected_duration(self, plan) -> float:
        return plan.duration * (10.0 if self.closest(plan) < 0.6 else 1.0)

    def execute(self, plan, *args, **kwargs) -> bool:
        self.executed.append(plan)
        return super().execute(plan, *args, **kwargs)


def test_a_move_takes_the_way_the_supervisor_lets_go_fastest(cell_and_runner):
    """From the tray side to above the conveyor the joint-space line swings the hand toward
    the person; the executor picks a way (TCP line or via home) that stays clear."""
    cell, io, runner, _ = cell_and_runner
    io = PersonAwareIO(io.sim, runner)
    down = np.array(tool_down_quat(0.0))
    assert runner.run(SkillRequest("move_to_pose", np.array([0.45, 0.35, 0.95]), down),
                      io).outcome == Outcome.SUCCEEDED
    start = io.arm_positions()
    target = np.array([0.40, -0.50, 0.90])
    io.executed.clear()
    report = runner.run(SkillRequest("move_to_pose", target, down), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    tcp = cell.data.site_xpos[cell.model.site("tcp").id]
    assert np.linalg.norm(tcp - target) < 0.005
    direct = point_to_point(start, io.executed[-1].positions[-1], runner.kin.limits)
    assert io.closest(direct) < 0.6                          # the straight joint move is slow
    assert min(io.closest(plan) for plan in io.executed) >= 0.6   # the chosen way is not


class StallingIO(SimRobotIO):
    """Sim IO whose supervisor holds the first `stalls` untimed motions for good (a
    co-worker at rest next to where the way leads): it gives up on them at once."""

    def __init__(self, sim, stalls: int) -> None:
        super().__init__(sim)
        self.stalls = stalls
        self.limits: list = []

    def execute(self, plan, *args, stall_after_s=None, **kwargs) -> bool:
        self.limits.append(stall_after_s)
        if stall_after_s is not None and self.stalls > 0:
            self.stalls -= 1
            raise MotionStalled()
        return super().execute(plan, *args, stall_after_s=stall_after_s, **kwargs)


@pytest.mark.parametrize("stalls", (1, 5))
def test_a_move_held_too_long_chooses_its_way_again_then_waits(cell_and_runner, stalls):
    cell, io, runner, _ = cell_and_runner
    io = StallingIO(io.sim, stalls)
    down = np.array(tool_down_quat(0.0))
    target = np.array([0.40, -0.50, 0.90])
    report = runner.run(SkillRequest("move_to_pose", target, down), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    tcp = cell.data.site_xpos[cell.model.site("tcp").id]
    assert np.linalg.norm(tcp - target) < 0.005
    replans = runner.settings.stall_replans
    held = min(stalls, replans)
    assert io.limits[:held] == [runner.settings.stall_replan_s] * held
    if stalls > replans:   # out of new ways: the last one waits as long as it must
        assert io.limits[held:] and all(limit is None for limit in io.limits[held:])


class SlowingIO(SimRobotIO):
    """Sim IO whose supervisor would slow the hand to `cap_mps` within 0.4 m of a person
    standing beside the belt, and only there (as the executor's SSM does), recording the
    timed plans it executes."""

    PERSON = np.array([0.75, -0.48, 0.95])

    def __init__(self, sim, runner: SkillRunner, cap_mps: float) -> None:
        super().__init__(sim)
        self.runner, self.cap_mps = runner, cap_mps
        self.timed: list = []

    def expected_duration(self, plan) -> float:
        if len(plan.times) < 2:
            return plan.duration
        tcp = np.array([self.runner.tcp_world(q)[0] for q in plan.positions])
        steps = np.linalg.norm(np.diff(tcp, axis=0), axis=1)
        near = np.linalg.norm(tcp[1:] - self.PERSON, axis=1) < 0.4
        dt = np.diff(plan.times)
        return float(np.sum(np.where(near, np.maximum(dt, steps / self.cap_mps), dt)))

    def execute(self, plan, *args, start_time=None, **kwargs) -> bool:
        if start_time is not None:
            self.timed.append(plan)
        return super().execute(plan, *args, start_time=start_time, **kwargs)


def conveyor_intercept(cell: IndustrialCell, io: SimRobotIO, ride_to_y: float,
                       grasp_y: float) -> tuple[SkillRequest, str]:
    """Wait until the conveyor part passes `ride_to_y`; the pick request that grasps it
    where it will be at `grasp_y` (ground truth: the planner's job is tested elsewhere)."""
    name = next(p.name for p in cell.params.parts if p.location == "conveyor")
    truth = None
    for _ in range(4000):
        io.step(0.05)
        truth = next((o for o in cell.ground_truth() if o.name == name), None)
        if truth is not None and cell.part_status()[name] == "on_conveyor" and \
                truth.position[1] > ride_to_y:
            break
    velocity = np.array(truth.linear_velocity) * [1.0, 1.0, 0.0]
    assert velocity[1] > 0.02, "the conveyor part is not riding"
    at = io.sim.sim_time + (grasp_y - truth.position[1]) / velocity[1]
    position = np.array(truth.position) + velocity * (at - io.sim.sim_time) + \
        np.array([0.0, 0.0, truth.size[2] / 2 - 0.012])
    return SkillRequest("pick", position, np.array(tool_down_quat(0.0)), 0.6, 0.06,
                        truth.size[2], velocity=velocity, target_time=at), name


@pytest.mark.parametrize("cap_per_belt_speed, succeeds", [(100.0, True), (1.4, True),
                                                          (0.7, False)])
def test_an_intercept_near_a_person_follows_the_belt_slower_or_refuses(
        cell_and_runner, cap_per_belt_speed, succeeds):
    """The descent onto a moving part and the lift off the belt are timed to the belt, so
    the supervisor cannot slow them while they run: near a person the skill plans them
    slower from the start, and refuses when even that would be too fast."""
    cell, io, runner, _ = cell_and_runner
    io = SlowingIO(io.sim, runner, cap_mps=0.0)
    pick, name = conveyor_intercept(cell, io, ride_to_y=-0.90, grasp_y=-0.48)
    io.cap_mps = cap_per_belt_speed * float(np.linalg.norm(pick.velocity))
    report = runner.run(pick, io)
    if not succeeds:
        assert report.outcome in (Outcome.SAFETY_STOP, Outcome.UNREACHABLE), report.reason
        assert "near people" in report.reason or "close to a person" in report.reason
        assert io.timed == []
        return
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    io.wait(0.5)
    assert cell.part_status()[name] == "held"
    assert cell.robot_contacts() == []
    timed = io.timed[-1]
    settings = runner.settings
    nominal = settings.intercept_descend_s + settings.gripper_settle_s * 0.6 + \
        settings.intercept_lift_s
    assert (timed.duration > 1.1 * nominal) == (cap_per_belt_speed < 10.0), timed.duration
    assert io.expected_duration(timed) <= 1.05 * timed.duration


def test_an_arm_left_touching_the_fixture_moves_up_out_of_it_first(cell_and_runner):
    """A pick that pressed a finger onto the fixture leaves the arm in contact: no joint
    path is collision-free from there, so a later move first goes straight up out of it."""
    _cell, io, runner, _item = cell_and_runner
    down = np.array(tool_down_quat(0.0))
    io.set_gripper(0.08)
    io.wait(1.0)
    touching = None
    for z in np.arange(0.86, 0.78, -0.002):  # lower until a finger is within the padding
        base_pos, base_quat = runner.to_base(np.array([0.50, 0.05, z]), down)
        solved = runner.ik.solve(base_pos, base_quat, seed_q=io.arm_positions(), restarts=0)
        assert solved.success
        if any(c.obstacle == "fixture" for c in runner.checker.check_configuration(
                solved.q, io.gripper_width() / 2.0)):
            touching = np.array([0.50, 0.05, z])
            break
    assert touching is not None
    runner._move_linear(touching, down, 0.3, io, allow=runner.contact_allowances)
    assert runner.checker.check_configuration(io.arm_positions(), io.gripper_width() / 2.0)
    report = runner.run(SkillRequest("move_to_pose", np.array([0.35, -0.15, 1.0]), down), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason


def test_a_safety_stop_brakes_without_springing_back(cell_and_runner):
    """The supervisor's stop from mid-motion: braking along the motion to rest, the arm
    stays still afterwards. Holding the position of the moment instead (the old stop), or
    a controller without inertia feed-forward, let the arm overshoot and come back at
    0.04 m/s for 0.2 s, which the judge counts as moving next to a hand."""
    cell, io, runner, _item = cell_and_runner
    sim = io.sim
    goal = np.array(sim.arm_positions()) + np.array([1.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0])
    plan = point_to_point(sim.arm_positions(), goal, runner.kin.limits, speed_scale=0.3)
    sim.command_trajectory(list(plan.joint_names), plan.times.tolist(),
                           plan.positions.tolist(), plan.velocities.tolist())
    io.step(plan.duration / 2.0)
    speed = cell.robot_speed()
    assert speed > 0.1
    velocity = sim.joint_state().velocity[:7]
    duration, rest = braking_stop(sim.arm_positions(), velocity, runner.kin.limits, speed, 2.5)
    assert sim.command_trajectory(list(plan.joint_names), [duration], [rest.tolist()],
                                  [[0.0] * 7]) == []
    io.step(duration + 0.02)
    after = []
    for _ in range(100):
        io.step(0.005)
        after.append(cell.robot_speed())
    assert max(after) < 0.01, f"the arm moved at {max(after):.3f} m/s after stopping"
    np.testing.assert_allclose(sim.arm_positions(), rest, atol=0.01)
