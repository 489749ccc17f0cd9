"""Straight TCP lines: they are straight, keep the orientation, end where asked, and flips
or unreachable stretches are rejected with a reason."""

import math

import numpy as np
import pytest

from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_executor.cartesian import (
    CartesianPathError,
    linear_path,
    offset_along_tool_z,
    tool_z_path,
)
from foresight_executor.ik import IkSolver, matrix_to_quat, quat_to_matrix, rotation_error
from foresight_executor.trajectory import time_parameterize, validate_trajectory

HOME = np.array(HOME_POSITIONS)


@pytest.fixture(scope="module")
def kin() -> RobotKinematics:
    return RobotKinematics()


@pytest.fixture(scope="module")
def ik(kin: RobotKinematics) -> IkSolver:
    return IkSolver(kin)


def _line_deviation(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    d = (b - a) / np.linalg.norm(b - a)
    rel = points - a
    return float(np.max(np.linalg.norm(rel - np.outer(rel @ d, d), axis=1)))


@pytest.mark.parametrize("distance", [0.12, -0.08])
def test_tool_z_line_is_straight_and_keeps_orientation(kin: RobotKinematics, ik: IkSolver,
                                                       distance: float) -> None:
    start_pos, start_rot = kin.tcp_pose(HOME)
    path = tool_z_path(ik, HOME, distance)
    assert np.array_equal(path.qs[0], HOME)
    assert len(path.qs) >= abs(distance) / 0.005  # sampled at least every 5 mm
    fk = [kin.tcp_pose(q) for q in path.qs]
    positions = np.array([p for p, _ in fk])
    goal = start_pos + start_rot[:, 2] * distance
    assert np.linalg.norm(positions[-1] - goal) < 1e-3
    assert _line_deviation(positions, start_pos, goal) < 1e-3
    assert max(np.linalg.norm(rotation_error(r, start_rot, False)) for _, r in fk) < 0.01
    # The tool points down at HOME: approach (+) goes down, retreat (-) up.
    assert math.copysign(1.0, start_pos[2] - positions[-1][2]) == math.copysign(1.0, distance)
    assert np.max(np.abs(np.diff(path.qs, axis=0))) < 0.2


def test_linear_move_with_rotation_and_timing(kin: RobotKinematics, ik: IkSolver) -> None:
    goal_pos = np.array([0.5, 0.2, 0.25])
    c, s = math.cos(0.4), math.sin(0.4)  # down, turned 0.8 rad about the world z
    goal_quat = np.array([0.0, c, s, 0.0])
    path = linear_path(ik, HOME, goal_pos, goal_quat)
    p_end, r_end = kin.tcp_pose(path.qs[-1])
    assert np.linalg.norm(p_end - goal_pos) < 1e-3
    assert np.linalg.norm(rotation_error(r_end, quat_to_matrix(goal_quat), False)) < 0.01
    positions = np.array([kin.tcp_pose(q)[0] for q in path.qs])
    assert _line_deviation(positions, positions[0], goal_pos) < 1e-3
    # Timed with a tool speed cap, it is a valid trajectory that still follows the line.
    plan = time_parameterize(path.qs, kin.limits, tcp_position=lambda q: kin.tcp_pose(q)[0],
                             max_tcp_speed=0.1)
    assert validate_trajectory(plan.joint_names, plan.times, plan.positions, plan.velocities,
                               kin.limits) == []
    timed = np.array([kin.tcp_pose(q)[0] for q in plan.positions])
    assert _line_deviation(timed, positions[0], goal_pos) < 1e-3


def test_yaw_free_aligns_only_the_tool_axis(kin: RobotKinematics, ik: IkSolver) -> None:
    tilted = quat_to_matrix([math.cos(0.15), math.sin(0.15), 0.0, 0.0]) @ quat_to_matrix(
        [0.0, 1.0, 0.0, 0.0])  # down, tilted 0.3 rad about x
    path = linear_path(ik, HOME, [0.45, -0.1, 0.3], matrix_to_quat(tilted), yaw_free=True)
    _, r_end = kin.tcp_pose(path.qs[-1])
    assert float(r_end[:, 2] @ tilted[:, 2]) > math.cos(0.01)


def test_offset_along_tool_z() -> None:
    down = [0.0, 1.0, 0.0, 0.0]
    assert np.allclose(offset_along_tool_z([0.4, 0.0, 0.3], down, -0.1), [0.4, 0.0, 0.4])


def test_unreachable_line_is_rejected_with_fraction(ik: IkSolver) -> None:
    with pytest.raises(CartesianPathError) as err:
        linear_path(ik, HOME, [1.3, 0.0, 0.4])
    assert 0.0 < err.value.fraction < 1.0
    assert "IK" in err.value.reason or "flip" in err.value.reason


def test_line_through_the_shoulder_axis_is_rejected(ik: IkSolver) -> None:
    # Passing 2 cm from the base axis needs joint 1 to swing ~pi within a few samples.
    low_elbow = np.array([0.0, -0.35, 0.0, -2.3, 0.0, 1.95, 0.785])
    start = ik.solve([0.3, 0.02, 0.5], [0.0, 1.0, 0.0, 0.0], seed_q=low_elbow, restarts=0)
    assert start.success
    with pytest.raises(CartesianPathError) as err:
        linear_path(ik, start.q, [-0.3, 0.02, 0.5])
    assert 0.2 < err.value.fraction < 0.8


def test_flip_detection_threshold(ik: IkSolver) -> None:
    with pytest.raises(CartesianPathError) as err:
        tool_z_path(ik, HOME, 0.05, max_joint_step_rad=1e-4, max_link_step_m=1e-4)
    assert "flip" in err.value.reason and err.value.index == 1


def test_upper_arm_spinning_about_itself_is_not_a_flip(ik: IkSolver) -> None:
    # Leaning 45 deg into a shelf (home_train seed 7): backing out, joint 2 nears zero and
    # the solver trades joint 1 for joint 3 (up to 1.1 rad per 5 mm) while no link moves.
    grasp = np.array([-0.24, 0.22, 0.15, -2.11, -2.89, 3.16, -2.66])
    position, quat = ik.forward(grasp)
    out = position - quat_to_matrix(quat)[:, 2] * 0.08
    path = linear_path(ik, grasp, out, quat)
    steps = np.abs(np.diff(path.qs, axis=0))
    assert float(steps.max()) > 0.5 and steps.max(axis=0).argmax() in (0, 2)
    links = np.array([ik.link_points(q) for q in path.qs])
    assert float(np.linalg.norm(np.diff(links, axis=0), axis=2).max()) < 0.02
    tcp = np.array([ik.forward(q)[0] for q in path.qs])
    assert _line_deviation(tcp, position, out) < 1e-3
    with pytest.raises(CartesianPathError) as err:
        linear_path(ik, grasp, out, quat, max_link_step_m=1e-4)
    assert "flip" in err.value.reason
