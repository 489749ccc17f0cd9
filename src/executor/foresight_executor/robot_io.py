"""The executor's `RobotIO` over ROS: latest sensor values, trajectory and gripper commands,
and the blocking waits of a skill, which watch for cancel, preemption, e-stop, stale joint
states, contact force and timeouts while the arm moves (in simulated time when
`use_sim_time` is set)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from foresight_common.conversions import sec_to_duration, sec_to_time
from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS
from foresight_executor.skills import ForceLimitExceeded, MotionStalled, Outcome, SkillStopped
from foresight_executor.trajectory import (
    JointTrajectoryPlan,
    continuation,
    slow_down_locally,
)
from foresight_interfaces.action import ExecuteSkill
from foresight_interfaces.msg import CommandEvent

POLL_S = 0.005  # wall-clock polling period of blocking waits
PLAN_SPEED_MARGIN = 0.8  # plan below the allowed speed: tracking overshoots, people move
RETIME_SETTLE_S = 0.3  # after slowing a motion down, let the arm settle to its new speed
SPEEDUP_CHECK_S = 0.5  # how often a slowed motion checks whether it may go faster again
SPEEDUP_GAIN = 0.75  # ... and does when the rest would take at most this share of its time
#: A trajectory replacing one the arm still moves along leaves out its first this many
#: seconds: the controller comes to its first point from wherever the arm is when it
#: arrives. Starting at t = 0 from the measured state, it came 0.05 rad behind the moving
#: arm and the simulation refused it as a jump (the arm stood 8 s, the stow failed:
#: home_train box seed 3, joint 1 at 0.56 rad/s).
MOVING_REPLACEMENT_LEAD_S = 0.1
CREEP_MPS = 0.02  # a plan creeps where less is allowed; the supervisor stops it if need be
STANDSTILL_ESTIMATE_MPS = 0.002  # ... which time estimates count as standing (see there)
# why a wait for the supervisor ended
CLEAR, STALLED, ARRIVED = "clear", "stalled", "arrived"


class RobotState:
    """Latest joint state, wrench and e-stop inputs (written by callbacks, read by skills)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arm: np.ndarray | None = None
        self._arm_velocity = np.zeros(len(ARM_JOINTS))
        self._velocity_measured = False     # the joint states carry velocities
        self._fingers = (0.0, 0.0)
        self._finger_speed = 0.0  # m/s, fastest finger (0 when the states carry no velocity)
        self._force = np.zeros(3)
        self.joint_stamp = -math.inf  # receive time (node clock, s)
        self.estop_input = False
        self.estop_latched = False

    def update_joints(self, msg: JointState, now: float) -> str | None:
        """Store a joint state; returns the reason if it is unusable."""
        names = list(msg.name)
        if len(msg.position) != len(names):
            return f"{len(names)} names but {len(msg.position)} positions"
        lookup = dict(zip(names, msg.position, strict=True))
        missing = [n for n in ARM_JOINTS + FINGER_JOINTS if n not in lookup]
        if missing:
            return "missing joints: " + ", ".join(missing)
        arm = np.array([lookup[n] for n in ARM_JOINTS])
        fingers = (lookup[FINGER_JOINTS[0]], lookup[FINGER_JOINTS[1]])
        if not (np.all(np.isfinite(arm)) and all(map(math.isfinite, fingers))):
            return "positions contain NaN or infinity"
        velocity = np.zeros(len(ARM_JOINTS))
        finger_speed = 0.0
        measured = len(msg.velocity) == len(names)
        if measured:
            vel_lookup = dict(zip(names, msg.velocity, strict=True))
            velocity = np.array([vel_lookup[n] for n in ARM_JOINTS])
            finger_speed = max(abs(vel_lookup[n]) for n in FINGER_JOINTS)
            if not (np.all(np.isfinite(velocity)) and math.isfinite(finger_speed)):
                return "velocities contain NaN or infinity"
        with self._lock:
            self._arm, self._arm_velocity, self._fingers = arm, velocity, fingers
            self._finger_speed = finger_speed
            self._velocity_measured = measured
            self.joint_stamp = now
        return None

    def update_wrench(self, msg) -> str | None:
        force = np.array([msg.wrench.force.x, msg.wrench.force.y, msg.wrench.force.z])
        if not np.all(np.isfinite(force)):
            return "force contains NaN or infinity"
        with self._lock:
            self._force = force
        return None

    def arm_positions(self) -> np.ndarray | None:
        with self._lock:
            return None if self._arm is None else self._arm.copy()

    def arm_motion(self) -> tuple[np.ndarray, np.ndarray | None, float] | None:
        """(positions, velocities or None when the joint states carry none, receive
        time), read together; None before the first joint state."""
        with self._lock:
            if self._arm is None:
                return None
            velocity = self._arm_velocity.copy() if self._velocity_measured else None
            return self._arm.copy(), velocity, self.joint_stamp

    def gripper_width(self) -> float:
        with self._lock:
            return float(self._fingers[0] - self._fingers[1])

    def finger_speed(self) -> float:
        """How fast the fastest finger slides (m/s; 0 without measured velocities)."""
        with self._lock:
            return self._finger_speed

    def force(self) -> np.ndarray:
        with self._lock:
            return self._force.copy()


class RosRobotIO:
    """RobotIO for one goal. `preempted` is set by the node when a newer goal arrives."""

    def __init__(self, node, goal_handle, timeout_s: float) -> None:
        self.node = node
        self.goal_handle = goal_handle
        self.state: RobotState = node.state
        self.params = node.params
        self.preempted = False
        self._phase = ""
        self._deadline = self._now() + timeout_s
        self._timeout_s = timeout_s

    # --- reading ----------------------------------------------------------------------
    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def arm_positions(self) -> np.ndarray:
        q = self.state.arm_positions()
        if q is None:
            raise SkillStopped(Outcome.SAFETY_STOP, "no joint states")
        return q

    def gripper_width(self) -> float:
        return self.state.gripper_width()

    def force(self) -> np.ndarray:
        return self.state.force()

    def hand_within(self, point: np.ndarray, radius: float, unseen_counts: bool = True
                    ) -> bool:
        return self.node.hand_within(point, radius, unseen_counts)

    # --- commanding -------------------------------------------------------------------
    @staticmethod
    def plan_message(plan: JointTrajectoryPlan, start_time: float | None = None,
                     from_s: float = 0.0) -> JointTrajectory:
        """stamp 0 starts now (as joint_trajectory_controller does); else at `start_time`.
        Points before `from_s` (s) are left out (the last one always stays): the
        controller comes to the first from where the arm is."""
        msg = JointTrajectory(joint_names=list(plan.joint_names))
        if start_time is not None:
            msg.header.stamp = sec_to_time(start_time)
        first = min(int(np.searchsorted(plan.times, from_s - 1e-9)), len(plan.times) - 1)
        for t, q, v in zip(plan.times[first:], plan.positions[first:],
                           plan.velocities[first:], strict=True):
            msg.points.append(JointTrajectoryPoint(
                positions=q.tolist(), velocities=v.tolist(),
                time_from_start=sec_to_duration(float(t))))
        return msg

    @staticmethod
    def stop_message(duration: float, rest: np.ndarray) -> JointTrajectory:
        """Come to rest at `rest` in `duration` s (see `braking_stop`): one point at rest,
        which the controller reaches from the velocity it was commanding."""
        msg = JointTrajectory(joint_names=list(ARM_JOINTS))
        msg.points.append(JointTrajectoryPoint(positions=np.asarray(rest).tolist(),
                                               velocities=[0.0] * len(ARM_JOINTS),
                                               time_from_start=sec_to_duration(duration)))
        return msg

    def _hold(self) -> None:
        self.node.hold_arm()

    def set_gripper(self, width: float) -> None:
        self.check()
        self.node.command_gripper(width)
        self._command_event()

    def _command_event(self) -> None:
        """Record that a command left, with the camera frame its decision came from."""
        goal = self.goal_handle.request
        event = CommandEvent(skill=goal.skill, phase=self._phase,
                             source_stamp=goal.source_stamp, wall_time_s=time.time())
        event.header.stamp = self.node.get_clock().now().to_msg()
        self.node.pub_command_events.publish(event)

    def now(self) -> float:
        return self._now()

    @property
    def phase(self) -> str:
        """The skill's current phase (its last feedback), for the markers."""
        return self._phase

    def execute(self, plan: JointTrajectoryPlan, force_limit_n: float | None = None,
                until: Callable[[np.ndarray], bool] | None = None,
                start_time: float | None = None, stall_after_s: float | None = None) -> bool:
        """Play a plan under the safety supervisor: slower near people (the plan is
        stretched in time, same path), held while a person is inside the protective
        distance and resumed along the rest of the path once clear (MotionStalled when held
        longer than `stall_after_s`). A plan timed to the world (start_time: a moving part)
        cannot wait: a stop ends the skill."""
        self.check()
        if plan.duration <= 0.0:
            return True
        timed = start_time is not None
        nominal, offset = plan, 0   # the plan as asked; the sample the running one starts at
        if not timed:
            if self._wait_until_safe(until=until) == ARRIVED:
                return False                  # e.g. pulled at while held before the start
            plan = self._within_speed_limit(plan)
        else:
            self._check_timed_speed(plan)
        start = self._now() if start_time is None else start_time
        baseline = self.state.force()
        self.node.publish_trajectory(self.plan_message(plan, start_time),
                                     start + plan.duration)
        self._command_event()
        final = plan.positions[-1]
        end = start + plan.duration
        settle_deadline = end + self.params.motion_settle_timeout_s
        retimed_at = checked_at = start
        while True:
            self._sleep()
            now = self._now()
            try:
                self.check(now)
            except SkillStopped:
                self._hold()
                raise
            too_fast = (not timed and now - retimed_at > RETIME_SETTLE_S and
                        self.node.robot_speed() > self.node.safety_speed_limit() * 1.05)
            rest: tuple[JointTrajectoryPlan, int] | None = None
            lead = 0.0                        # the rest starts from an arm at rest
            if self.node.safety_stopped() or too_fast:
                # a person came closer: stop, then go on along the same path, slower
                self._hold()
                if too_fast:
                    self.node.get_logger().info(
                        f"slowing down: the arm moves at {self.node.robot_speed():.2f} m/s, "
                        f"the supervisor allows {self.node.safety_speed_limit():.2f} m/s",
                        throttle_duration_sec=1.0)
                if timed:
                    raise SkillStopped(Outcome.SAFETY_STOP, "safety stop during a timed "
                                       f"motion: {self.node.safety_reason()}")
                waited = self._wait_until_safe(stall_after_s, until)
                if waited == ARRIVED:
                    return False              # what the caller waits for came while held
                if waited == STALLED:
                    self.node.diagnostics.count("safety.stalled_moves")
                    raise MotionStalled()
                rest = self._rest_of(nominal, offset, plan, now - start, moving=False)
                if rest is None:
                    return True
            elif not timed and now - checked_at > SPEEDUP_CHECK_S and end - now > 1.0:
                # people moved away: go on faster than the plan was slowed down to
                checked_at = now
                rest = self._rest_of(nominal, offset, plan, now - start, moving=True)
                lead = MOVING_REPLACEMENT_LEAD_S
                if rest is not None and not (rest[0].duration < SPEEDUP_GAIN * (end - now)
                                             and end - now - rest[0].duration > 0.5):
                    rest = None
                elif rest is not None:
                    self.node.get_logger().info(
                        f"speeding up: {end - now:.1f} s left at the old pace, "
                        f"{rest[0].duration:.1f} s now", throttle_duration_sec=1.0)
            if rest is not None:
                plan, offset = rest
                start = retimed_at = checked_at = self._now()
                self.node.publish_trajectory(self.plan_message(plan, from_s=lead),
                                             start + plan.duration)
                self._command_event()
                end = start + plan.duration
                settle_deadline = end + self.params.motion_settle_timeout_s
                continue
            if force_limit_n is not None:
                extra = float(np.linalg.norm(self.state.force() - baseline))
                if extra > force_limit_n:
                    self._hold()
                    raise ForceLimitExceeded(extra)
            if until is not None and until(self.arm_positions()):
                self._hold()
                return False
            if now >= end:
                error = float(np.max(np.abs(self.arm_positions() - final)))
                if error <= self.params.goal_reached_tolerance_rad:
                    return True
                if now > settle_deadline:
                    self._hold()
                    raise SkillStopped(Outcome.FAILED, f"arm did not reach the end of its "
                                       f"trajectory ({self._phase or 'motion'}: joint error "
                                       f"{error:.3f} rad; something in the way?)")

    def _wait_until_safe(self, limit_s: float | None = None,
                         until: Callable[[np.ndarray], bool] | None = None) -> str:
        """Hold still while the supervisor says stop (the skill's timeout still runs). Why
        the wait ended: CLEAR, STALLED (still stopped after `limit_s`; None: no limit) or
        ARRIVED (`until(q)` became true meanwhile: a hand-over's receiver pulls at the
        object while their hand holds the arm)."""
        logged = False
        since = self._now()
        while self.node.safety_stopped():
            if until is not None and until(self.arm_positions()):
                return ARRIVED
            if not logged:
                self.node.get_logger().info(f"holding: {self.node.safety_reason()}")
                logged = True
            if limit_s is not None and self._now() - since > limit_s:
                self.node.get_logger().info(f"held for {limit_s:.1f} s: giving up this way "
                                            f"({self.node.safety_reason()})")
                return STALLED
            self.check()
            self._sleep()
        return CLEAR

    def _rest_of(self, nominal: JointTrajectoryPlan, offset: int,
                 running: JointTrajectoryPlan, elapsed: float, moving: bool
                 ) -> tuple[JointTrajectoryPlan, int] | None:
        """The remaining path of the plan as asked (`nominal`; the running plan, `elapsed`
        s in, starts at its sample `offset`), from where the arm stands, on the nominal
        timing slowed near people as they are now: after a stop from rest, else from the
        arm's current speed. With the index into `nominal` of its second sample; None when
        the arm is at the end."""
        k = int(np.searchsorted(running.times, max(elapsed - 0.5, 0.0), side="right")) - 1
        after = nominal.times[min(offset + max(k - 1, 0), len(nominal.times) - 1)]
        motion = self.state.arm_motion()
        q = self.arm_positions() if motion is None else motion[0]
        qd = motion[1] if moving and motion is not None else None
        rest = continuation(nominal, q, qd, after_s=float(after))
        if rest is None:
            return None
        plan, index = rest
        start_speed = self.node.robot_speed() if moving else 0.0
        # a speed-up is only a candidate (checked every SPEEDUP_CHECK_S): no log line
        return (self._within_speed_limit(plan, log=not moving, start_speed=start_speed),
                index - 1)

    def _check_timed_speed(self, plan: JointTrajectoryPlan) -> None:
        """A motion timed to the world (a moving part) cannot be slowed down: refuse it
        when it would pass a person faster than the protective distance allows."""
        if len(plan.times) < 2:
            return
        speeds, caps, binding = self.node.speed_profile(plan)
        over = speeds > caps * PLAN_SPEED_MARGIN
        if np.any(over):
            k = int(np.argmax(speeds / np.maximum(caps, 1e-6)))
            raise SkillStopped(Outcome.SAFETY_STOP, (
                f"timed motion too fast near a person: {speeds[k]:.2f} m/s where "
                f"{caps[k] * PLAN_SPEED_MARGIN:.2f} m/s is allowed (closest: {binding})"))

    def expected_duration(self, plan: JointTrajectoryPlan) -> float:
        """Where the supervisor would not even let the arm crawl, the arm stands until the
        person moves: counted as a near standstill, so ways around such places win."""
        return self._within_speed_limit(plan, log=False,
                                        min_cap=STANDSTILL_ESTIMATE_MPS).duration

    def _within_speed_limit(self, plan: JointTrajectoryPlan, log: bool = True,
                            min_cap: float = CREEP_MPS, start_speed: float | None = None
                            ) -> JointTrajectoryPlan:
        """Slow a plan down (same path) where a point of the arm would exceed the speed
        that keeps the protective distance to people (with a margin), and only there;
        `start_speed`: the arm's speed where the plan begins (it speeds up gently)."""
        if len(plan.times) < 2:
            return plan
        speeds, caps, binding = self.node.speed_profile(plan)
        slow = slow_down_locally(plan, speeds, caps * PLAN_SPEED_MARGIN, min_cap=min_cap,
                                 start_speed=start_speed)
        if log and slow.duration > 1.5 * plan.duration:
            self.node.get_logger().info(
                f"{self._phase or 'motion'}: {slow.duration:.1f} s instead of "
                f"{plan.duration:.1f} s near people (down to {float(np.min(caps)):.2f} m/s "
                f"allowed, the arm's fastest point at {float(np.max(speeds)):.2f} m/s; "
                f"closest: {binding})")
        return slow

    def wait(self, seconds: float, until: Callable[[np.ndarray], bool] | None = None
             ) -> bool:
        """Let `seconds` pass while the robot may move (the gripper settling): time held
        by the supervisor does not count, except while a hand-over's fingers may open
        next to the hand taking the object (they open in steps with waits between). True
        as soon as `until(q)` holds, polled while the supervisor holds the robot too (the
        receiver's hand on the object stops the arm)."""
        end = self._now() + seconds
        logged = False
        while True:
            self.check()
            if until is not None and until(self.arm_positions()):
                return True
            before = self._now()
            if before >= end:
                return False
            self._sleep()
            # asked again at every poll: a release may open once the arm has come to rest
            # (held from while it still crept, the fingers waited for the person's hand to go
            # away, and it never did: 45 s timeouts with the cup in their hand, cup seeds 1, 7)
            if self.node.safety_stopped() and not self.node.release_allowed():
                end += self._now() - before          # time held does not count
                if not logged:
                    self.node.get_logger().info(f"holding: {self.node.safety_reason()}")
                    logged = True

    def count(self, name: str) -> None:
        self.node.diagnostics.count(name)

    def feedback(self, phase: str, progress: float) -> None:
        self._phase = phase
        feedback = ExecuteSkill.Feedback(phase=phase, progress=float(progress))
        self.goal_handle.publish_feedback(feedback)

    # --- aborts -------------------------------------------------------------------------
    def check(self, now: float | None = None) -> None:
        """Raise SkillStopped if this goal must end now."""
        now = self._now() if now is None else now
        if self.state.estop_latched:
            raise SkillStopped(Outcome.SAFETY_STOP, "e-stop engaged")
        if self.goal_handle.is_cancel_requested:
            raise SkillStopped(Outcome.CANCELED, "canceled by the client")
        if self.preempted:
            raise SkillStopped(Outcome.PREEMPTED, "preempted by a newer goal")
        age = now - self.state.joint_stamp
        if age > self.params.joint_state_timeout_s:
            raise SkillStopped(Outcome.SAFETY_STOP, f"joint states stale ({age:.2f} s)")
        if now > self._deadline:
            raise SkillStopped(Outcome.TIMEOUT, f"skill exceeded its {self._timeout_s:.0f} s "
                               "timeout")

    @staticmethod
    def _sleep() -> None:
        time.sleep(POLL_S)

