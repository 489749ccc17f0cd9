"""The cell's skills with the arm on the mobile base, in the simulated room (no ROS): the
executor's SkillRunner with the room's furniture and the robot's own body as obstacles
(foresight_executor.mobile_arm) picks the cup from the table, and carries the medicine box
from the table to the bedside table; judged by the simulation's ground truth. The base is
driven between the two by velocity commands (navigation itself is tested elsewhere)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sim_robot_io import SimRobotIO

from foresight_common.mobile_manipulator import TUCKED_POSITIONS
from foresight_executor.ik import matrix_to_quat, quat_to_matrix
from foresight_executor.mobile_arm import mobile_skill_runner
from foresight_executor.skills import Outcome, SkillRequest, SkillSettings, approach_axis
from foresight_planner.assembly_plan import tool_down_quat
from foresight_simulation.runtime import SimulatedMobileManipulator
from foresight_simulation.world import build_world

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parent.parent / "config"
GRASP_BELOW_TOP = 0.03            # m: the TCP this far below an object's top when grasped


@pytest.fixture
def room_and_io():
    room = build_world("", "home_smoke", "", str(CONFIG), 0, "home_care").cell
    sim = SimulatedMobileManipulator(room, np.random.default_rng(0))
    return room, sim, SimRobotIO(sim)


def _truth(room, name: str):
    return next(o for o in room.ground_truth() if o.name == name)


def _drive_to(room, sim, goal, timeout_s: float = 20.0) -> None:
    """Drive the base to `goal` (x, y, yaw) by cmd_vel: a proportional controller on the
    true pose (a test's stand-in for navigation)."""
    for _ in range(int(timeout_s / 0.02)):
        x, y, yaw = room.base_pose()
        ex, ey = goal[0] - x, goal[1] - y
        eyaw = math.remainder(goal[2] - yaw, 2.0 * math.pi)
        if math.hypot(ex, ey) < 0.005 and abs(eyaw) < 0.005:
            break
        c, s = math.cos(yaw), math.sin(yaw)
        sim.command_base(1.5 * (c * ex + s * ey), 1.5 * (-s * ex + c * ey), 1.5 * eyaw)
        for _ in range(int(round(0.02 / sim.model.opt.timestep))):
            sim.step()
    sim.command_base(0.0, 0.0, 0.0)
    for _ in range(int(round(0.5 / sim.model.opt.timestep))):
        sim.step()
    assert math.dist(room.base_pose()[:2], goal[:2]) < 0.02, room.base_pose()


def _pick(room, io, base_pose, name: str, yaw: float):
    runner = mobile_skill_runner(room.layout.furniture, base_pose, SkillSettings())
    assert runner.run(SkillRequest("go_home", speed_scale=0.5), io).outcome == \
        Outcome.SUCCEEDED
    obj = _truth(room, name)
    grasp = np.array(obj.position) + np.array([0.0, 0.0, obj.size[2] / 2 - GRASP_BELOW_TOP])
    return runner, runner.run(SkillRequest("pick", grasp, np.array(tool_down_quat(yaw)), 0.5,
                                           0.08, obj.size[2]), io)


def test_the_arm_on_the_base_picks_the_cup_from_the_table(room_and_io):
    room, sim, io = room_and_io
    base = (1.92, 2.4, 0.0)                 # 0.47 m (the robot's radius) from the table
    _drive_to(room, sim, base)
    start = np.array(_truth(room, "cup").position)
    _, report = _pick(room, io, room.base_pose(), "cup", 0.0)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    assert room.object_status()["cup"] == "held"
    assert _truth(room, "cup").position[2] > start[2] + 0.08
    assert room.robot_contacts() == []


def test_the_medicine_box_goes_from_the_table_to_the_bedside_table(room_and_io):
    room, sim, io = room_and_io
    _drive_to(room, sim, (2.0, 1.6, 0.0))                 # round the table's corner
    _drive_to(room, sim, (3.3, 1.70, math.pi / 2))        # south of the table, facing it
    # the fingers close across the box's 6 cm side (world y: the box lies along x)
    _, report = _pick(room, io, room.base_pose(), "medicine_box", 0.0)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    assert room.object_status()["medicine_box"] == "held"
    _drive_to(room, sim, (3.55, 1.03, -math.pi / 2))      # north of the bedside table
    runner = mobile_skill_runner(room.layout.furniture, room.base_pose(), SkillSettings())
    bedside = next(f for f in room.layout.furniture if f.name == "bedside_table")
    height = _truth(room, "medicine_box").size[2]
    # the box's bottom 5 mm above the top: the TCP holds it GRASP_BELOW_TOP below its top
    target = np.array([bedside.center[0], bedside.center[1],
                       bedside.size[2] + 0.005 + height - GRASP_BELOW_TOP])
    report = runner.run(SkillRequest("place", target, np.array(tool_down_quat(0.0)), 0.5,
                                     0.08, height), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    io.wait(1.0)
    assert room.object_status()["medicine_box"] == "on:bedside_table"
    assert room.robot_contacts() == []


def test_the_remote_is_picked_from_inside_the_shelf_with_a_tilted_grasp(room_and_io):
    """The shelf's board above leaves no room for a top-down grasp: the hand comes in at
    45 degrees along its own axis, lifts 3 cm and backs out, along a way planned whole
    before the arm moves; then the arm folds for driving with the remote."""
    room, sim, io = room_and_io
    remote = _truth(room, "remote")
    _drive_to(room, sim, (1.0, remote.position[1], math.pi))   # facing the shelf's front
    runner = mobile_skill_runner(room.layout.furniture, room.base_pose(),
                                 SkillSettings(stow_positions=tuple(TUCKED_POSITIONS)))
    tilt = math.radians(45.0)
    lean = np.array([[math.cos(tilt), 0.0, math.sin(tilt)], [0.0, 1.0, 0.0],
                     [-math.sin(tilt), 0.0, math.cos(tilt)]])
    rotation = lean @ quat_to_matrix(tool_down_quat(0.0))     # axis leaning into -x
    assert approach_axis(matrix_to_quat(rotation))[0] < -0.7
    report = runner.run(SkillRequest("pick", np.array(remote.position),
                                     matrix_to_quat(rotation), 0.5, 0.08,
                                     remote.size[2]), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    assert room.object_status()["remote"] == "held"
    tcp, _ = runner.tcp_world(io.arm_positions())
    assert tcp[0] > remote.position[0] + 0.1        # backed out (0.15-0.30 m along its axis)
    assert room.robot_contacts() == []
    # folded for driving with the remote in the hand (the elbow unbends first)
    report = runner.run(SkillRequest("stow", speed_scale=0.5, object_height=remote.size[2]),
                        io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    assert room.object_status()["remote"] == "held" and room.robot_contacts() == []
    # set down on the table held the same way (leaned towards the table, turned as it was
    # grasped), stopped where it touches down: it lies flat
    _drive_to(room, sim, (1.9, 2.33, 0.0))
    turned = runner.held_turned
    runner = mobile_skill_runner(room.layout.furniture, room.base_pose(),
                                 SkillSettings(stow_positions=tuple(TUCKED_POSITIONS)))
    runner.held_turned = turned
    facing_table = np.diag([-1.0, -1.0, 1.0]) @ rotation   # the base turned half a turn
    target = np.array([2.52, 2.33, room.layout.surface("table").height + 0.005
                       + remote.size[2] / 2.0])
    report = runner.run(SkillRequest("place", target, matrix_to_quat(facing_table), 0.5,
                                     0.08, remote.size[2]), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    io.wait(1.0)
    assert room.object_status()["remote"] == "on:table"
    assert quat_to_matrix(_truth(room, "remote").quat)[2, 2] > 0.98      # lying flat
    assert room.robot_contacts() == []
