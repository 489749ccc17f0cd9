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
from foresight_executor.skills import Outcome, SkillRequest, SkillRunner, SkillSettings
from foresight_executor.trajectory import point_to_point
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
