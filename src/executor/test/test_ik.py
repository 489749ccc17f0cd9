"""IK on the robot model: accuracy from a different seed, limits, yaw-free targets and the
typed failure reasons."""

import math

import numpy as np
import pytest

from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_executor.collision import Box, CollisionChecker
from foresight_executor.ik import (
    IkSolver,
    UnreachablePose,
    UnreachableReason,
    matrix_to_quat,
    quat_to_matrix,
    rotation_error,
)

HOME = np.array(HOME_POSITIONS)
DOWN = (0.0, 1.0, 0.0, 0.0)  # wxyz: TCP z axis pointing down (180 deg about x)


@pytest.fixture(scope="module")
def kin() -> RobotKinematics:
    return RobotKinematics()


@pytest.fixture(scope="module")
def solver(kin: RobotKinematics) -> IkSolver:
    return IkSolver(kin)


def _pose_error(kin: RobotKinematics, q: np.ndarray, pos: np.ndarray, quat: np.ndarray,
                yaw_free: bool = False) -> tuple[float, float]:
    """Checked with the model's own FK, independent of the solver's bookkeeping."""
    p, rot = kin.tcp_pose(q)
    err = rotation_error(rot, quat_to_matrix(quat), yaw_free)
    return float(np.linalg.norm(p - pos)), float(np.linalg.norm(err))


def test_random_reachable_poses(kin: RobotKinematics, solver: IkSolver) -> None:
    rng = np.random.default_rng(42)
    lower, upper = kin.limits.lower, kin.limits.upper
    good = 0
    times = []
    for _ in range(200):
        q_true = rng.uniform(lower, upper)
        pos, rot = kin.tcp_pose(q_true)
        quat = matrix_to_quat(rot)
        result = solver.solve(pos, quat, seed_q=HOME)
        times.append(result.time_ms)
        assert np.all(result.q >= lower) and np.all(result.q <= upper)
        pe, re = _pose_error(kin, result.q, pos, quat)
        if result.success:  # the solver's own verdict must agree with the model's FK
            assert pe <= 1e-3 and re <= 0.01
        if pe <= 1e-3 and re <= 0.01:
            good += 1
    assert good >= 196, f"only {good}/200 poses recovered"
    assert np.median(times) < 20.0  # ms; ~1 ms measured, generous for slow CI machines


def test_near_seed_converges_fast_to_nearby_solution(kin: RobotKinematics,
                                                     solver: IkSolver) -> None:
    q_true = np.array([0.3, -0.2, 0.1, -2.0, 0.1, 1.9, 0.5])
    pos, rot = kin.tcp_pose(q_true)
    result = solver.solve(pos, matrix_to_quat(rot), seed_q=q_true + 0.02, restarts=0)
    assert result.success
    assert result.iterations <= 10
    assert np.max(np.abs(result.q - q_true)) < 0.05  # stays on the seed's branch


def test_yaw_free_only_aligns_the_tool_axis(kin: RobotKinematics, solver: IkSolver) -> None:
    pos = np.array([0.45, 0.1, 0.25])
    # Down, then turned 1 rad about the world z: with yaw_free any yaw is acceptable.
    yaw = 1.0
    rz = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0],
                   [0, 0, 1]])
    target = rz @ quat_to_matrix(DOWN)
    result = solver.solve(pos, matrix_to_quat(target), yaw_free=True)
    assert result.success
    p, rot = kin.tcp_pose(result.q)
    assert np.linalg.norm(p - pos) < 1e-3
    assert float(rot[:, 2] @ target[:, 2]) > math.cos(0.01)
    strict = solver.solve(pos, matrix_to_quat(target))
    assert strict.success
    _, rot_strict = kin.tcp_pose(strict.q)
    assert np.allclose(rot_strict, target, atol=0.01)


def test_position_only_target(kin: RobotKinematics, solver: IkSolver) -> None:
    result = solver.solve([0.5, -0.2, 0.3])
    assert result.success and result.orientation_error_rad == 0.0
    assert np.linalg.norm(kin.tcp_pose(result.q)[0] - [0.5, -0.2, 0.3]) < 1e-3


def test_home_pose_matches_the_documented_tcp(solver: IkSolver) -> None:
    pos, quat = solver.forward(HOME)
    assert np.allclose(pos, [0.283, 0.0, 0.423], atol=1e-3)
    assert quat_to_matrix(quat)[2, 2] < -0.999  # pointing down


def test_out_of_reach_is_typed(solver: IkSolver) -> None:
    with pytest.raises(UnreachablePose) as far:
        solver.solve_reachable([2.0, 0.0, 0.4], DOWN)  # beyond the reach bound: no solve
    assert far.value.reason is UnreachableReason.OUT_OF_REACH
    with pytest.raises(UnreachablePose) as edge:
        solver.solve_reachable([0.9, 0.0, 0.333], DOWN)  # within the bound, still too far
    assert edge.value.reason is UnreachableReason.OUT_OF_REACH
    assert edge.value.result is not None and not edge.value.result.success


def test_joint_limits_are_typed_and_respected(kin: RobotKinematics) -> None:
    # Joints 1 and 3 narrowed to +-0.05 rad: a pose far to the side needs them.
    lower, upper = kin.limits.lower.copy(), kin.limits.upper.copy()
    lower[[0, 2]], upper[[0, 2]] = -0.05, 0.05
    narrow = IkSolver(kin, limits=(lower, upper))
    with pytest.raises(UnreachablePose) as err:
        narrow.solve_reachable([0.1, 0.5, 0.4], DOWN)
    assert err.value.reason is UnreachableReason.JOINT_LIMITS
    result = narrow.solve([0.1, 0.5, 0.4], DOWN)
    assert np.all(result.q >= lower - 1e-12) and np.all(result.q <= upper + 1e-12)
    # The same pose is fine with the full ranges.
    assert IkSolver(kin).solve_reachable([0.1, 0.5, 0.4], DOWN).success


def test_collision_is_typed(solver: IkSolver) -> None:
    target = np.array([0.45, 0.0, 0.3])
    # A block enclosing the target TCP point: every solution puts the gripper inside it.
    block = Box("block", (0.45, 0.0, 0.3), (0.04, 0.04, 0.04))
    checker = CollisionChecker([block])
    with pytest.raises(UnreachablePose) as err:
        solver.solve_reachable(target, DOWN, collision=checker)
    assert err.value.reason is UnreachableReason.COLLISION
    clear = CollisionChecker([Box("far", (-0.6, 0.6, 0.2), (0.05, 0.05, 0.05))])
    result = solver.solve_reachable(target, DOWN, collision=clear)
    assert result.success and not clear.check_configuration(result.q)


def test_bad_targets_raise_value_error(solver: IkSolver) -> None:
    with pytest.raises(ValueError):
        solver.solve([float("nan"), 0.0, 0.3], DOWN)
    with pytest.raises(ValueError):
        IkSolver(limits=(np.zeros(7), -np.ones(7)))
