import numpy as np
import pytest

from foresight_simulation.controllers import (
    ImpedanceGains,
    TrajectoryFollower,
    TrajectorySegmentPlan,
    hermite,
    joint_torques,
)


def test_hermite_matches_end_conditions():
    q0, q1 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    v0, v1 = np.array([0.5, 0.0]), np.array([0.0, -0.2])
    for t, q, v in ((0.0, q0, v0), (2.0, q1, v1)):
        position, velocity = hermite(t, 2.0, q0, q1, v0, v1)
        np.testing.assert_allclose(position, q, atol=1e-12)
        np.testing.assert_allclose(velocity, v, atol=1e-12)


def test_follower_starts_from_current_state_holds_the_end_and_can_stop():
    follower = TrajectoryFollower(np.zeros(2))
    plan = TrajectorySegmentPlan(start_time=10.0, times=np.array([1.0, 2.0]),
                                 positions=np.array([[1.0, 1.0], [2.0, 2.0]]),
                                 velocities=np.zeros((2, 2)))
    follower.start(plan, np.array([0.1, 0.1]))
    np.testing.assert_allclose(follower.reference(9.0)[0], [0.1, 0.1])  # not started yet
    np.testing.assert_allclose(follower.reference(10.5)[0], [0.55, 0.55])
    np.testing.assert_allclose(follower.reference(11.0)[0], [1.0, 1.0])
    np.testing.assert_allclose(follower.reference(99.0)[0], [2.0, 2.0])
    assert not follower.active
    follower.start(plan, np.zeros(2))
    follower.hold(np.array([0.3, 0.4]))
    position, velocity = follower.reference(10.5)
    np.testing.assert_allclose(position, [0.3, 0.4])
    np.testing.assert_allclose(velocity, 0.0)


def test_joint_torques_compensate_bias_and_clip():
    gains = ImpedanceGains(np.array([100.0, 100.0]), np.array([10.0, 10.0]),
                           np.array([5.0, 50.0]))
    torque = joint_torques(np.zeros(2), np.zeros(2), np.array([1.0, 0.1]), np.zeros(2),
                           np.array([0.0, 3.0]), gains)
    assert torque[0] == pytest.approx(5.0)  # 100 N m wanted, clipped to 5
    assert torque[1] == pytest.approx(13.0)  # 10 from stiffness + 3 of gravity
