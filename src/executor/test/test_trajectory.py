"""Time parameterisation within limits, and the trajectory validator used by the executor and
the simulation."""

import math

import numpy as np
import pytest

from foresight_common.robot_model import ARM_JOINTS, HOME_POSITIONS, JointLimits, RobotKinematics
from foresight_executor.trajectory import (
    MAX_SAMPLE_PERIOD,
    JointTrajectoryPlan,
    TrajectoryError,
    braking_stop,
    continuation,
    point_to_point,
    slow_down_locally,
    time_parameterize,
    validate_trajectory,
)

HOME = np.array(HOME_POSITIONS)
GOAL = HOME + np.array([1.0, 0.3, -0.5, 0.4, 0.0, 0.2, 1.5])
TOL = 1e-9


@pytest.fixture(scope="module")
def limits() -> JointLimits:
    return RobotKinematics().limits


def _accelerations(plan: JointTrajectoryPlan) -> np.ndarray:
    return np.diff(plan.velocities, axis=0) / np.diff(plan.times)[:, None]


def _assert_well_formed(plan: JointTrajectoryPlan, limits: JointLimits, scale: float,
                        period: float) -> None:
    assert plan.times[0] == 0.0
    assert np.all(np.diff(plan.times) > 0)
    assert np.max(np.diff(plan.times)) <= period + TOL
    assert plan.positions.shape == plan.velocities.shape == (len(plan.times), 7)
    assert np.all(plan.positions >= limits.lower - TOL)
    assert np.all(plan.positions <= limits.upper + TOL)
    assert np.all(np.abs(plan.velocities) <= limits.velocity * scale * (1 + 1e-6))
    assert np.all(np.abs(_accelerations(plan)) <= limits.acceleration * scale * (1 + 1e-6))
    assert np.all(plan.velocities[0] == 0.0) and np.all(plan.velocities[-1] == 0.0)
    assert validate_trajectory(plan.joint_names, plan.times, plan.positions, plan.velocities,
                               limits) == []


@pytest.mark.parametrize("profile", ["quintic", "trapezoidal"])
@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_point_to_point_limits_sync_and_ends(limits: JointLimits, profile: str,
                                             scale: float) -> None:
    plan = point_to_point(HOME, GOAL, limits, speed_scale=scale, profile=profile)
    _assert_well_formed(plan, limits, scale, 0.02)
    assert np.array_equal(plan.positions[0], HOME) and np.array_equal(plan.positions[-1], GOAL)
    # Synchronised: every joint has covered the same fraction of its move at every sample.
    moving = np.abs(GOAL - HOME) > 0
    progress = (plan.positions - HOME)[:, moving] / (GOAL - HOME)[moving]
    assert np.allclose(progress, progress[:, [0]], atol=1e-9)
    # Some joint actually uses its velocity or acceleration limit (not needlessly slow).
    v_ratio = np.max(np.abs(plan.velocities) / (limits.velocity * scale))
    a_ratio = np.max(np.abs(_accelerations(plan)) / (limits.acceleration * scale))
    assert max(v_ratio, a_ratio) > 0.9


def test_slower_scale_takes_longer(limits: JointLimits) -> None:
    fast = point_to_point(HOME, GOAL, limits, speed_scale=1.0)
    slow = point_to_point(HOME, GOAL, limits, speed_scale=0.25)
    assert slow.duration > 1.9 * fast.duration


def test_sample_period_is_respected_and_bounded(limits: JointLimits) -> None:
    plan = point_to_point(HOME, GOAL, limits, sample_period=0.05)
    assert np.max(np.diff(plan.times)) <= 0.05 + TOL
    with pytest.raises(TrajectoryError):
        point_to_point(HOME, GOAL, limits, sample_period=MAX_SAMPLE_PERIOD * 2)


def test_zero_move_is_a_single_point(limits: JointLimits) -> None:
    plan = point_to_point(HOME, HOME, limits)
    assert plan.times.tolist() == [0.0] and np.array_equal(plan.positions[0], HOME)


def test_bad_inputs_raise(limits: JointLimits) -> None:
    with pytest.raises(TrajectoryError):
        point_to_point(HOME, GOAL, limits, speed_scale=0.0)
    with pytest.raises(TrajectoryError):
        point_to_point(HOME, GOAL, limits, speed_scale=1.5)
    outside = HOME.copy()
    outside[3] = 0.5  # joint 4 upper limit is -0.0698
    with pytest.raises(TrajectoryError):
        point_to_point(HOME, outside, limits)
    with pytest.raises(TrajectoryError):
        time_parameterize([HOME, [math.nan] * 7], limits)


def _curve(n: int) -> np.ndarray:
    """A smooth, gently curved joint-space path through n waypoints, inside the limits."""
    s = np.linspace(0.0, 1.0, n)[:, None]
    return (HOME + np.array([1.0, 0.3, -0.5, 0.4, 0.6, 0.2, 1.5]) * s
            + 0.15 * np.array([0.5, 1.0, -1.0, 0.5, 0.5, -0.5, 1.0]) * np.sin(2 * math.pi * s))


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_multi_waypoint_path(limits: JointLimits, scale: float) -> None:
    waypoints = _curve(40)
    plan = time_parameterize(waypoints, limits, speed_scale=scale)
    _assert_well_formed(plan, limits, scale, 0.02)
    assert np.array_equal(plan.positions[0], waypoints[0])
    assert np.array_equal(plan.positions[-1], waypoints[-1])
    # It passes every waypoint (the spline interpolates them): within one sample step.
    step = np.max(np.linalg.norm(np.diff(plan.positions, axis=0), axis=1))
    for w in waypoints:
        assert np.min(np.linalg.norm(plan.positions - w, axis=1)) <= step
    # ... without stopping at them: the speed stays up between the end ramps.
    speed = np.linalg.norm(plan.velocities, axis=1)
    middle = speed[len(speed) // 4: 3 * len(speed) // 4]
    assert middle.min() > 0.3 * speed.max()


def test_path_near_a_limit_does_not_overshoot(limits: JointLimits) -> None:
    # Joint 4 goes to its upper limit and turns back sharply: a cubic would overshoot.
    waypoints = np.repeat(HOME[None, :], 5, axis=0)
    upper4 = limits.upper[3]
    waypoints[:, 3] = [-1.0, -0.3, upper4, -0.3, -1.0]
    waypoints[:, 0] = np.linspace(0.0, 0.4, 5)
    plan = time_parameterize(waypoints, limits)
    _assert_well_formed(plan, limits, 1.0, 0.02)


def test_tcp_speed_cap(limits: JointLimits) -> None:
    kin = RobotKinematics()
    waypoints = _curve(30)
    free = time_parameterize(waypoints, limits)
    capped = time_parameterize(waypoints, limits, tcp_position=lambda q: kin.tcp_pose(q)[0],
                               max_tcp_speed=0.05)
    assert capped.duration > free.duration
    path = np.array([kin.tcp_pose(q)[0] for q in capped.positions])
    speed = np.linalg.norm(np.diff(path, axis=0), axis=1) / np.diff(capped.times)
    assert speed.max() <= 0.05 * (1 + 1e-9)
    assert speed.max() > 0.045  # and it does move at about that speed
    with pytest.raises(TrajectoryError):
        time_parameterize(waypoints, limits, max_tcp_speed=0.05)  # no FK given


def test_sample_interpolates_between_points(limits: JointLimits) -> None:
    plan = point_to_point(HOME, GOAL, limits)
    q, v = plan.sample(plan.times[10])
    assert np.allclose(q, plan.positions[10]) and np.allclose(v, plan.velocities[10])
    q_mid, _ = plan.sample(0.5 * (plan.times[10] + plan.times[11]))
    assert np.all(np.minimum(plan.positions[10], plan.positions[11]) - 1e-9 <= q_mid)
    assert np.array_equal(plan.sample(1e9)[0], GOAL)


# --- validate_trajectory ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(limits: JointLimits) -> JointTrajectoryPlan:
    return point_to_point(HOME, GOAL, limits, speed_scale=0.5)


def _validate(limits: JointLimits, names=None, times=None, positions=None, velocities=None,
              plan: JointTrajectoryPlan | None = None) -> list[str]:
    return validate_trajectory(
        list(ARM_JOINTS) if names is None else names,
        plan.times.tolist() if times is None else times,
        plan.positions.tolist() if positions is None else positions,
        plan.velocities.tolist() if velocities is None else velocities, limits)


def test_validate_accepts_a_good_trajectory(limits: JointLimits,
                                            good: JointTrajectoryPlan) -> None:
    assert _validate(limits, plan=good) == []
    # Velocities are optional (JointTrajectoryPoint without velocities), so is the order.
    assert _validate(limits, velocities=[[] for _ in good.times], plan=good) == []
    order = [6, 5, 4, 3, 2, 1, 0]
    assert _validate(limits, names=[ARM_JOINTS[i] for i in order],
                     positions=good.positions[:, order].tolist(),
                     velocities=good.velocities[:, order].tolist(), plan=good) == []


def _one_reason(reasons: list[str], word: str) -> None:
    assert reasons, "malformed trajectory accepted"
    assert any(word in r for r in reasons), reasons


def test_validate_catches_each_malformation(limits: JointLimits,
                                            good: JointTrajectoryPlan) -> None:
    names = list(ARM_JOINTS)
    _one_reason(_validate(limits, names=[*names[:6], "elbow_joint"], plan=good), "unknown")
    _one_reason(_validate(limits, names=names[:6], positions=good.positions[:, :6].tolist(),
                          velocities=good.velocities[:, :6].tolist(), plan=good), "missing")
    _one_reason(_validate(limits, names=[*names[:6], names[0]], plan=good), "duplicate")
    p = good.positions.copy()
    p[5, 2] = math.nan
    _one_reason(_validate(limits, positions=p.tolist(), plan=good), "non-finite positions")
    t = good.times.copy()
    t[3] = math.inf
    _one_reason(_validate(limits, times=t.tolist(), plan=good), "non-finite time")
    v = good.velocities.copy()
    v[4, 1] = math.nan
    _one_reason(_validate(limits, velocities=v.tolist(), plan=good), "non-finite velocities")
    t = good.times.copy()
    t[7] = t[6]
    _one_reason(_validate(limits, times=t.tolist(), plan=good), "not strictly increasing")
    t = good.times[::-1].copy()
    _one_reason(_validate(limits, times=t.tolist(), plan=good), "not strictly increasing")
    p = good.positions.copy()
    p[:, 3] = 0.1  # joint 4 above its -0.0698 upper limit
    _one_reason(_validate(limits, positions=p.tolist(), plan=good), "beyond the joint limits")
    v = good.velocities.copy()
    v[10, 0] = 10.0
    _one_reason(_validate(limits, velocities=v.tolist(), plan=good), "velocities beyond")
    # A jump hidden between two points that both claim to be at rest.
    _one_reason(_validate(limits, times=[0.0, 0.01], positions=[HOME.tolist(), GOAL.tolist()],
                          velocities=[[0.0] * 7, [0.0] * 7], plan=good), "jumps")
    _one_reason(_validate(limits, times=[], positions=[], velocities=[], plan=good),
                "no points")
    _one_reason(_validate(limits, positions=good.positions[:-1].tolist(), plan=good),
                "position rows")
    short = good.positions.tolist()
    short[2] = short[2][:5]
    _one_reason(_validate(limits, positions=short, plan=good), "malformed points")
    t = good.times - 1.0
    _one_reason(_validate(limits, times=t.tolist(), plan=good), "negative")


# --- slowing down near people -----------------------------------------------------------
def test_slow_down_locally_only_where_the_cap_binds(limits: JointLimits) -> None:
    plan = point_to_point(HOME, GOAL, limits, speed_scale=0.5)
    dt = np.diff(plan.times)
    speed = np.full(len(dt), 0.5)                  # the fastest point at 0.5 m/s throughout
    cap = np.full(len(dt), 1.0)
    assert slow_down_locally(plan, speed, cap) is plan          # nothing binds: unchanged
    middle = slice(len(dt) // 2 - 5, len(dt) // 2 + 5)
    cap[middle] = 0.1                              # a person near the middle of the path
    slow = slow_down_locally(plan, speed, cap, smooth_s=0.2)
    new_dt = np.diff(slow.times)
    # where the cap binds the point moves at most at the cap; the path is the same
    assert np.all(speed[middle] * dt[middle] / new_dt[middle] <= 0.1 + 1e-9)
    assert np.array_equal(slow.positions, plan.positions)
    # far from that stretch the timing is untouched; the speed changes over about smooth_s
    assert np.allclose(new_dt[:middle.start - 12], dt[:middle.start - 12])
    assert np.allclose(new_dt[middle.stop + 12:], dt[middle.stop + 12:])
    assert slow.duration > plan.duration + 0.3
    assert np.all(np.diff(slow.times) > 0)
    assert np.all(slow.velocities[0] == 0.0) and np.all(slow.velocities[-1] == 0.0)
    assert np.all(np.abs(slow.velocities) <= np.abs(plan.velocities) + 1e-12)


def test_slow_down_locally_creeps_where_the_cap_is_zero(limits: JointLimits) -> None:
    plan = point_to_point(HOME, GOAL, limits)
    dt = np.diff(plan.times)
    speed = np.full(len(dt), 0.4)
    slow = slow_down_locally(plan, speed, np.zeros(len(dt)), min_cap=0.02)
    assert slow.duration == pytest.approx(plan.duration * 0.4 / 0.02, rel=1e-6)
    with pytest.raises(ValueError, match="segments"):   # a caller's bug is loud
        slow_down_locally(plan, speed[:-1], np.zeros(len(dt)))


def test_braking_stop_rests_half_way_along_the_current_velocity(limits: JointLimits) -> None:
    qd = np.array([0.5, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0])
    # fastest point 0.1 m/s at 2.5 m/s^2: 0.04 s; joint 1 at 2 x 3 rad/s^2: 0.5 / 6 s
    duration, rest = braking_stop(HOME, qd, limits, 0.1, 2.5)
    assert duration == pytest.approx(0.5 / (2.0 * limits.acceleration[0]))
    np.testing.assert_allclose(rest, HOME + qd * duration / 2.0)
    # a fast point, slow joints: the Cartesian deceleration decides
    duration, _ = braking_stop(HOME, qd * 0.1, limits, 0.5, 2.5)
    assert duration == pytest.approx(0.2)


def test_braking_stop_without_velocities_or_at_a_limit(limits: JointLimits) -> None:
    duration, rest = braking_stop(HOME, None, limits, 0.3, 2.5)
    np.testing.assert_allclose(rest, HOME)
    assert duration > 0.0
    at_limit = HOME.copy()
    at_limit[0] = limits.upper[0] - 1e-3
    _, rest = braking_stop(at_limit, np.full(7, 1.0), limits, 0.3, 2.5)
    assert np.all(rest <= limits.upper) and np.all(rest >= limits.lower)


def test_slow_down_locally_ramps_up_from_the_start_speed(limits: JointLimits) -> None:
    plan = point_to_point(HOME, GOAL, limits)
    dt = np.diff(plan.times)
    speed = np.full(len(dt), 0.4)
    cap = np.full(len(dt), 1.0)
    assert slow_down_locally(plan, speed, cap) is plan          # nothing binds
    ramped = slow_down_locally(plan, speed, cap, start_speed=0.05, ramp_mps2=1.0,
                               smooth_s=0.0)
    new_speed = speed * dt / np.diff(ramped.times)
    # each segment at most at the start speed plus the ramp by the time it begins; once the
    # ramp has reached the plan's speed, as planned
    assert new_speed[0] <= 0.05 + 1e-9
    assert np.all(new_speed <= 0.05 + 1.0 * ramped.times[:-1] + 1e-9)
    late = ramped.times[:-1] > 0.4
    assert late.any() and np.allclose(new_speed[late], 0.4)
    assert ramped.duration > plan.duration


def test_continuation_follows_the_rest_of_the_path_on_its_own_timing(
        limits: JointLimits) -> None:
    plan = point_to_point(HOME, GOAL, limits, speed_scale=0.5)
    k = len(plan.times) // 3
    q, qd = plan.sample(plan.times[k] + 1e-3)
    rest, index = continuation(plan, q, qd * 0.1, after_s=plan.times[k] - 0.2)
    # it starts where the arm is, at the speed given, and then is the plan's own samples
    np.testing.assert_allclose(rest.positions[0], q)
    np.testing.assert_allclose(rest.velocities[0], qd * 0.1)
    assert index == k + 1
    np.testing.assert_allclose(rest.positions[1:], plan.positions[index:])
    np.testing.assert_allclose(np.diff(rest.times)[1:], np.diff(plan.times)[index:])
    assert rest.duration == pytest.approx(plan.duration - plan.times[k])
    # without a velocity it starts at rest; at the end there is nothing left
    assert np.all(continuation(plan, q, None)[0].velocities[0] == 0.0)
    assert continuation(plan, plan.positions[-1], None) is None
    # a sample behind `after_s` is never joined, even if nearer
    rest, index = continuation(plan, plan.positions[2], None, after_s=plan.times[k])
    assert index > k
