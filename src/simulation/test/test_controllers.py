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
        position, velocity, _ = hermite(t, 2.0, q0, q1, v0, v1)
        np.testing.assert_allclose(position, q, atol=1e-12)
        np.testing.assert_allclose(velocity, v, atol=1e-12)


def test_hermite_acceleration_is_the_derivative_of_its_velocity():
    q0, q1 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    v0, v1 = np.array([0.5, 0.0]), np.array([0.0, -0.2])
    for t in (0.0, 0.3, 1.0, 1.7, 2.0):
        acceleration = hermite(t, 2.0, q0, q1, v0, v1)[2]
        h = 1e-6
        ahead = hermite(min(t + h, 2.0), 2.0, q0, q1, v0, v1)[1]
        behind = hermite(max(t - h, 0.0), 2.0, q0, q1, v0, v1)[1]
        np.testing.assert_allclose(acceleration, (ahead - behind) /
                                   (min(t + h, 2.0) - max(t - h, 0.0)), atol=1e-5)


def test_a_trajectory_replacing_a_running_one_continues_its_velocity():
    """A stop sent to a moving arm brakes from the commanded velocity (linear deceleration
    to the rest point q + v T / 2), instead of demanding rest at once."""
    follower = TrajectoryFollower(np.zeros(1))
    moving = TrajectorySegmentPlan(start_time=0.0, times=np.array([1.0, 10.0]),
                                   positions=np.array([[0.5], [9.5]]),
                                   velocities=np.array([[1.0], [1.0]]))
    follower.start(moving, np.zeros(1), now=0.0)
    now = 2.0
    q, v = follower.reference(now)
    assert v[0] == pytest.approx(1.0)
    stop = TrajectorySegmentPlan(start_time=now, times=np.array([0.2]),
                                 positions=q[None, :] + 0.1, velocities=np.zeros((1, 1)))
    follower.start(stop, q, now=now)
    for dt in (0.0, 0.05, 0.1, 0.15):
        _, velocity, acceleration = follower.reference_with_acceleration(now + dt + 1e-9)
        assert velocity[0] == pytest.approx(1.0 - dt / 0.2, abs=1e-6)
        assert acceleration[0] == pytest.approx(-5.0, abs=1e-6)
    # a plan that starts later leaves from rest
    later = TrajectorySegmentPlan(start_time=now + 1.0, times=np.array([0.2]),
                                  positions=q[None, :] + 0.1, velocities=np.zeros((1, 1)))
    follower.start(later, q, now=now)
    assert follower.reference(now + 1.0 + 1e-9)[1][0] == pytest.approx(0.0, abs=1e-6)


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
    torque = joint_torques(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2),
                           gains, inertia_feedforward=np.array([1.0, 2.0]))
    np.testing.assert_allclose(torque, [1.0, 2.0])
