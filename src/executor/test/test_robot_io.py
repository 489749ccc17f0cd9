"""RosRobotIO.execute against a fake executor node whose arm follows the commanded
trajectory exactly and whose supervisor caps the speed while a person stands near the path:
a slowed motion speeds up again once the person has gone; after a stop the rest of the path
is never faster than the plan as asked. Wall clock, a few seconds."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_common.trajectory_validation import validate_trajectory
from foresight_executor.robot_io import (
    MOVING_REPLACEMENT_LEAD_S,
    PLAN_SPEED_MARGIN,
    MotionStalled,
    RosRobotIO,
)
from foresight_executor.trajectory import JointTrajectoryPlan, point_to_point

HOME = np.array(HOME_POSITIONS)
GOAL = HOME + np.array([0.6, 0.2, -0.3, 0.3, 0.0, 0.2, 0.8])
NEAR_CAP = 0.05  # rad/s the fake supervisor allows while the person is near


class FakeArm:
    """The arm where the last trajectory puts it now (stamp 0: from when it was sent)."""

    def __init__(self, q: np.ndarray) -> None:
        self.plan = JointTrajectoryPlan(np.array([0.0]), q[None], np.zeros((1, 7)))
        self.sent_at = time.monotonic()
        self.estop_latched = False

    def motion(self) -> tuple[np.ndarray, np.ndarray]:
        return self.plan.sample(time.monotonic() - self.sent_at)

    @property
    def joint_stamp(self) -> float:
        return time.monotonic()

    def arm_positions(self) -> np.ndarray:
        return self.motion()[0]

    def arm_motion(self):
        q, qd = self.motion()
        return q, qd, time.monotonic()

    def force(self) -> np.ndarray:
        return np.zeros(3)


class FakeNode:
    """What RosRobotIO uses of the executor node. Speeds are joint-space norms (rad/s): the
    person caps them at NEAR_CAP until `leaves_at` (s after the start), or stops the arm
    between `stop_from` and `stop_until`."""

    def __init__(self, leaves_at: float = 0.0, stop_from: float = np.inf,
                 stop_until: float = np.inf, release_from: float = np.inf) -> None:
        self.state = FakeArm(HOME)
        self.params = SimpleNamespace(joint_state_timeout_s=0.5, motion_settle_timeout_s=2.0,
                                      goal_reached_tolerance_rad=0.01)
        self.t0 = time.monotonic()
        self.leaves_at, self.stop_from, self.stop_until = leaves_at, stop_from, stop_until
        self.release_from = release_from
        self.sent: list[tuple[float, JointTrajectoryPlan]] = []
        self.diagnostics = SimpleNamespace(count=lambda _key: None)
        self.pub_command_events = SimpleNamespace(publish=lambda _msg: None)
        self.runner = SimpleNamespace(kin=RobotKinematics())

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def get_clock(self):
        now = time.monotonic()
        return SimpleNamespace(now=lambda: SimpleNamespace(
            nanoseconds=int(now * 1e9), to_msg=lambda: None))

    def get_logger(self):
        return SimpleNamespace(info=lambda *_a, **_k: None)

    def publish_trajectory(self, msg, _ends_at: float) -> None:
        plan = JointTrajectoryPlan(
            np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9
                      for p in msg.points]),
            np.array([p.positions for p in msg.points]),
            np.array([p.velocities for p in msg.points]))
        self.state.plan, self.state.sent_at = plan, time.monotonic()
        self.sent.append((self.elapsed(), plan))

    def hold_arm(self) -> None:
        q = self.state.arm_positions()
        self.state.plan = JointTrajectoryPlan(np.array([0.0]), q[None], np.zeros((1, 7)))

    def safety_stopped(self) -> bool:
        return self.stop_from <= self.elapsed() < self.stop_until

    def release_allowed(self) -> bool:
        return self.elapsed() >= self.release_from

    def safety_reason(self) -> str:
        return "a person"

    def _cap(self) -> float:
        return NEAR_CAP if self.elapsed() < self.leaves_at else np.inf

    def robot_speed(self) -> float:
        return float(np.linalg.norm(self.state.motion()[1]))

    def safety_speed_limit(self) -> float:
        return 0.0 if self.safety_stopped() else self._cap()

    def speed_profile(self, plan: JointTrajectoryPlan):
        speeds = np.linalg.norm(np.diff(plan.positions, axis=0), axis=1) / np.diff(plan.times)
        return speeds, np.full(len(speeds), self._cap()), "a person"


def _io(node: FakeNode) -> RosRobotIO:
    goal = SimpleNamespace(request=SimpleNamespace(skill="move_to_pose", source_stamp=None),
                           is_cancel_requested=False, publish_feedback=lambda _f: None)
    io = RosRobotIO(node, goal, timeout_s=60.0)
    io._command_event = lambda: None
    return io


def run(node: FakeNode, plan: JointTrajectoryPlan) -> float:
    io = _io(node)
    started = time.monotonic()
    assert io.execute(plan)
    np.testing.assert_allclose(node.state.arm_positions(), plan.positions[-1], atol=0.01)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def plan() -> JointTrajectoryPlan:
    return point_to_point(HOME, GOAL, RobotKinematics().limits, speed_scale=0.5)


def test_a_slowed_motion_speeds_up_once_the_person_has_gone(plan) -> None:
    node = FakeNode(leaves_at=0.6)
    took = run(node, plan)
    slowed = node.sent[0][1]
    assert slowed.duration > 3.0 * plan.duration     # slowed down for the person at first
    assert len(node.sent) >= 2                       # ... then re-timed
    # and done soon after: one speed-up check period (0.5 s) late at most, then ramping
    # up from the slow pace (gentler than the plan's own acceleration)
    assert took < 0.6 + 0.5 + 2.0 * plan.duration < 0.2 * slowed.duration
    # the faster rest starts from the arm's speed then: no jump in commanded velocity (it
    # leaves out its first tenth of a second, the arm moves on while it travels: a tenth
    # of a second into the ramp up from the slow pace)
    at, rest = node.sent[1]
    assert at >= 0.6
    assert MOVING_REPLACEMENT_LEAD_S <= rest.times[0] < MOVING_REPLACEMENT_LEAD_S + 0.2
    top = float(np.max(np.linalg.norm(plan.velocities, axis=1)))
    assert float(np.linalg.norm(rest.velocities[0])) <= NEAR_CAP * 1.5 + 0.15 * top


def test_a_replacement_for_a_moving_arm_is_taken_by_a_controller_that_gets_it_late() -> None:
    """Joint 1 at 0.56 rad/s, the message 0.1 s late: from t = 0 at the state it was made
    from, the controller finds point 0 a jump from where the arm is and refuses it (the
    simulation did: home_train box seed 3); without its first 0.1 s, it goes on."""
    limits = RobotKinematics().limits
    goal = HOME + np.array([-1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    rest = point_to_point(HOME, goal, limits)
    mid = len(rest.times) // 2
    moving = JointTrajectoryPlan(rest.times[mid:] - rest.times[mid], rest.positions[mid:],
                                 rest.velocities[mid:])
    speed = abs(moving.velocities[0][0])
    assert speed > 0.5
    late = moving.sample(0.1)[0]                  # where the arm is when it arrives

    def refused(msg) -> list[str]:
        times = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points]
        return validate_trajectory(msg.joint_names, times, [p.positions for p in msg.points],
                                   [p.velocities for p in msg.points], limits,
                                   start_positions=late)

    assert any("away from the current position" in r
               for r in refused(RosRobotIO.plan_message(moving)))
    led = RosRobotIO.plan_message(moving, from_s=MOVING_REPLACEMENT_LEAD_S)
    assert refused(led) == []
    first = led.points[0].time_from_start
    assert first.sec + first.nanosec * 1e-9 >= MOVING_REPLACEMENT_LEAD_S - 1e-9
    assert led.points[-1].positions == pytest.approx(goal.tolist())


def test_a_person_who_stays_keeps_the_motion_slow(plan) -> None:
    node = FakeNode(leaves_at=np.inf)
    short = point_to_point(HOME, HOME + (GOAL - HOME) * 0.1, RobotKinematics().limits)
    took = run(node, short)
    assert took > 5.0 * short.duration
    for _, sent in node.sent:   # whatever it re-timed, never faster than allowed
        speeds = np.linalg.norm(np.diff(sent.positions, axis=0), axis=1) / np.diff(sent.times)
        assert np.all(speeds <= NEAR_CAP * PLAN_SPEED_MARGIN + 1e-9)


def test_after_a_stop_the_rest_is_never_faster_than_the_plan(plan) -> None:
    node = FakeNode(leaves_at=0.0, stop_from=0.3 * plan.duration,
                    stop_until=0.3 * plan.duration + 0.3)
    run(node, plan)
    assert len(node.sent) >= 2
    _, rest = node.sent[1]
    nominal = np.max(np.linalg.norm(plan.velocities, axis=1))
    assert np.max(np.linalg.norm(rest.velocities, axis=1)) <= nominal + 1e-9
    np.testing.assert_allclose(rest.positions[-1], plan.positions[-1])
    # the rest of the same path, not all of it again (how much of it the arm covered
    # before the stop depends on this machine's load: the fake arm runs on wall time)
    assert len(rest.times) < len(plan.times)
    np.testing.assert_allclose(rest.positions[1:], plan.positions[-len(rest.times) + 1:])


def test_what_the_motion_waits_for_may_come_while_the_supervisor_holds_it(plan) -> None:
    """A hand-over's receiver pulls at the object while their hand holds the arm: the
    motion ends there (False: stopped by `until`), not as a stall."""
    held_from = 0.3 * plan.duration
    node = FakeNode(stop_from=held_from)                      # held for good
    pulled = lambda _q: node.elapsed() > held_from + 0.3      # noqa: E731
    assert _io(node).execute(plan, until=pulled, stall_after_s=5.0) is False
    assert node.elapsed() < held_from + 4.0            # not the 60 s timeout
    # held before the motion starts (a person already that near): the same
    node = FakeNode(stop_from=0.0)
    pulled = lambda _q: node.elapsed() > 0.3                  # noqa: E731
    assert _io(node).execute(plan, until=pulled, stall_after_s=5.0) is False
    assert node.elapsed() < 4.0
    node = FakeNode(stop_from=held_from)
    with pytest.raises(MotionStalled):
        _io(node).execute(plan, until=lambda _q: False, stall_after_s=0.5)


def test_a_pull_felt_while_the_supervisor_holds_the_standing_arm_ends_the_wait() -> None:
    """The object held out, the receiver's hand on it stops the arm: the wait for their
    pull sees it then (it used to wait for the stop to clear, to the goal's timeout)."""
    node = FakeNode(stop_from=0.0)                            # held for good
    pulled = lambda _q: node.elapsed() > 0.3                  # noqa: E731
    assert _io(node).wait(30.0, until=pulled) is True
    assert node.elapsed() < 4.0
    node = FakeNode()
    assert _io(node).wait(0.2, until=lambda _q: False) is False


def test_a_release_held_while_the_arm_still_moved_goes_on_once_it_stands() -> None:
    """The pull is felt while the arm still creeps; the supervisor holds it for the hand at
    the cup, and lets the fingers open once the arm stands (release_allowed): the release's
    waits go on then, they do not wait for the hand to go away."""
    node = FakeNode(stop_from=0.0)                            # held for good
    io = _io(node)
    started = node.elapsed()
    node.release_from = started + 0.3
    assert io.wait(0.2) is False
    assert 0.45 <= node.elapsed() - started < 3.0
