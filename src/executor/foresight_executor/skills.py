"""Skills as sequences of motions: what `pick`, `place`, `insert`, ... mean for the arm.

The `SkillRunner` turns one skill request (TCP target pose in the world frame plus a few
numbers) into collision-checked, time-parameterised joint motions and gripper commands, and
checks that each step did what it should (target reached within tolerance, something between
the fingers, the part went down to its seat). It talks to the robot through the small
`RobotIO` protocol, so the same code runs against the ROS node (real or simulated robot) and
against a kinematic fake in unit tests. No rclpy here.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from foresight_common.robot_model import (
    HAND_BODY,
    HOME_POSITIONS,
    MAX_GRIPPER_WIDTH,
    RobotKinematics,
)
from foresight_executor.cartesian import CartesianPathError, linear_path
from foresight_executor.collision import AttachedBox, Box, CollisionChecker
from foresight_executor.ik import IkSolver, UnreachablePose, matrix_to_quat, quat_to_matrix
from foresight_executor.joint_planner import connect
from foresight_executor.trajectory import (
    JointTrajectoryPlan,
    TrajectoryError,
    point_to_point,
    time_parameterize,
)

SKILLS = ("move_to_pose", "pick", "place", "insert", "open_gripper", "close_gripper",
          "go_home", "stow", "release", "release_on_pull", "hand_over")
SKILLS_WITH_TARGET = ("move_to_pose", "pick", "place", "insert", "hand_over")
#: A straight TCP line may end in another arm configuration than the goal's; up to this far
#: (any joint) a last short blend reaches the goal configuration, beyond it the line is not used.
LINE_END_TOLERANCE_RAD = 0.3


class Outcome(enum.IntEnum):
    """Mirror of foresight_interfaces/SkillOutcome (kept here so the core needs no ROS)."""

    SUCCEEDED = 0
    CANCELED = 1
    PREEMPTED = 2
    REJECTED = 3
    UNREACHABLE = 4
    SAFETY_STOP = 5
    TIMEOUT = 6
    FAILED = 7


#: A grasp whose tool axis is within ~8 degrees of straight down is a top-down one.
TOP_DOWN_COS = 0.99
#: A tilted grasp (into a shelf) lifts only this much (m) before backing out: the board
#: above leaves little room.
TILTED_LIFT_M = 0.03
#: ... and comes in and backs out this far (m) along its axis: from outside the shelf, or
#: when the arm cannot follow that line (the wrist at a singularity), from nearer ...
TILTED_APPROACHES_M = (0.30, 0.22, 0.15)
#: ... then draws back level by this much (m), clear of the shelf's front (where the arm
#: can go straight on).
TILTED_DRAW_BACK_M = 0.10
#: Arm configurations a planned way in (a tilted grasp, a set-down) tries, the first from
#: where the arm stands, the next from home, the others from random seeds, before it gives
#: up (a failed one costs about 0.1 s).
WAY_IN_SEEDS = 8


#: A pull at the held object is a receiver's only with a tracked hand this near the TCP
#: (m; or no hand tracked): the hand that pulls is on the object, but its estimate may be
#: old or off by a hand's length while the arm hides it
PULL_HAND_M = 0.6
#: What `_stow_at` returns when its `until` (a receiver's pull) stopped the fold.
STOPPED_BY_PULL = "stopped by a pull"
#: A fold stopped by a pull lets go only if the pull goes on this long (s) with the arm
#: standing: the receiver holds the object and pulls it to them
PULL_STANDING_S = 1.0
#: An object just set down is planned round this much larger (m) all round than it was
#: held: it settles a little where it lands.
SET_DOWN_MARGIN_M = 0.01
#: A stow with an object raises the hand in steps of this (m), at most this many, until
#: the object is clear of the robot's own body (the tucked hand is 2 cm off the column),
#: no joint further than CARRY_POSTURE_RAD from the stow's.
CARRY_LIFT_STEP_M = 0.02
CARRY_LIFT_STEPS = 6
CARRY_POSTURE_RAD = 0.5
#: A release opens the fingers this fast (m/s of width: 1 cm/s each finger, a crawl that
#: neither pinches nor pushes the hand taking the object) in steps of RELEASE_STEP_S.
RELEASE_WIDTH_MPS = 0.02
RELEASE_STEP_S = 0.05
#: How often a hand-over's wait for the receiver's pull reads the wrist force (s).
PULL_POLL_S = 0.02


def half_turned(quat_wxyz: np.ndarray) -> np.ndarray:
    """The tool pose turned by pi about its own axis (the same grasp for a parallel
    gripper)."""
    rotation = quat_to_matrix(np.asarray(quat_wxyz, dtype=float))
    return matrix_to_quat(rotation @ np.diag([-1.0, -1.0, 1.0]))


def grasp_turns(quat_wxyz: np.ndarray, yaw_free: bool) -> tuple[np.ndarray, ...]:
    """The tool orientations that grasp an object alike with a parallel gripper: the
    given one and the same turned half a turn about its axis (with a free yaw: the given
    one, the solver turns it as it likes)."""
    return (quat_wxyz,) if yaw_free else (quat_wxyz, half_turned(quat_wxyz))


def hand_turned_nearest(q_target: np.ndarray, q_now: np.ndarray, lower: np.ndarray,
                        upper: np.ndarray) -> np.ndarray:
    """`q_target` with its last joint (the hand's turn about the tool axis) a half turn
    either way where that is within the limits and nearer `q_now`'s: a parallel gripper and
    what it holds are the same shape either way (the stow after a round cup's grasp turned
    the wrist 5.1 rad, 10 of the stow's 25 s, home_train cup seed 1)."""
    target = np.array(q_target, dtype=float)
    turns = [target[6] + k * math.pi for k in (0, -1, 1)]
    allowed = [t for t in turns[1:] if lower[6] <= t <= upper[6]]
    target[6] = min([turns[0], *allowed], key=lambda t: abs(t - float(q_now[6])))
    return target


def is_leaned(quat_wxyz: np.ndarray) -> bool:
    """The tool's axis is more than ~8 degrees off straight down (a grasp into a shelf)."""
    return float(approach_axis(quat_wxyz)[2]) > -TOP_DOWN_COS


def _level(direction: np.ndarray) -> np.ndarray:
    """`direction` made horizontal, of unit length."""
    level = np.array([direction[0], direction[1], 0.0])
    return level / max(float(np.linalg.norm(level)), 1e-9)


def approach_axis(quat_wxyz: np.ndarray) -> np.ndarray:
    """The tool's z axis in the world (where the fingers point; straight down for a
    top-down grasp)."""
    return quat_to_matrix(np.asarray(quat_wxyz, dtype=float))[:, 2]


class SkillStopped(Exception):
    """A skill ends early with an outcome and a reason (abort, failure, unreachable)."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class ForceLimitExceeded(Exception):
    """The robot IO stopped a motion because the wrist force passed the limit."""

    def __init__(self, force_n: float) -> None:
        super().__init__(f"wrist force {force_n:.1f} N")
        self.force_n = force_n


class MotionStalled(Exception):
    """The robot IO gave up waiting for the supervisor to let a motion go on (the arm
    holds where it stands): the caller may choose another way from there."""


class RobotIO(Protocol):
    """What a skill needs from the robot. Blocking calls raise SkillStopped when the goal is
    canceled, preempted or the e-stop engages."""

    def arm_positions(self) -> np.ndarray: ...

    def gripper_width(self) -> float: ...

    def execute(self, plan: JointTrajectoryPlan, force_limit_n: float | None = None,
                until: Callable[[np.ndarray], bool] | None = None,
                start_time: float | None = None, stall_after_s: float | None = None) -> bool:
        """Play `plan` (from `start_time`, robot clock, or now); False if `until(q)` became
        true first (the arm then holds). MotionStalled when a safety stop holds the motion
        longer than `stall_after_s` (None: wait as long as the skill may)."""

    def set_gripper(self, width: float) -> None: ...

    def expected_duration(self, plan: JointTrajectoryPlan) -> float:
        """How long `plan` will take when executed now (a safety supervisor may slow it
        near people), s."""

    def wait(self, seconds: float, until: Callable[[np.ndarray], bool] | None = None
             ) -> bool:
        """Let `seconds` pass (time the supervisor holds the robot does not count); True as
        soon as `until(q)` holds, also while held."""

    def now(self) -> float:
        """The robot's clock (simulated time in simulation), s."""

    def feedback(self, phase: str, progress: float) -> None: ...

    def count(self, name: str) -> None:
        """Count an event on the executor's /diagnostics (e.g. a push not taken for a
        pull)."""

    def force(self) -> np.ndarray:
        """The wrist force sensor's reading (N, its own frame)."""

    def hand_within(self, point: np.ndarray, radius: float, unseen_counts: bool = True
                    ) -> bool:
        """Whether a tracked person's hand is within `radius` (m) of `point` (world), or
        (`unseen_counts`) no hand is tracked at all (the arm holding an object out hides
        the receiver's)."""


@dataclass(frozen=True)
class SkillRequest:
    skill: str
    position: np.ndarray | None = None  # TCP target, world frame (m)
    quat_wxyz: np.ndarray | None = None  # TCP orientation, world frame
    speed_scale: float = 0.0  # 0: the runner's default
    gripper_width: float = 0.0  # 0: fully open
    object_height: float = 0.0  # m, 0: unknown
    # m, the held object's extents along the tool's axes (x, y between the fingers, z);
    # zeros: unknown (a box of held_object_half_width, object_height long)
    object_size: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_free: bool = False
    velocity: np.ndarray | None = None  # m/s, world: the target moves (conveyor)
    target_time: float = 0.0  # robot clock time at which `position` holds: for a moving
    # target the intended intercept time (the grasp happens then, or later if the arm cannot
    # be there in time, at the extrapolated position)
    let_go_on_pull: bool = False  # a stow at the person: a pull at the held object (the
    # receiver took hold as the arm withdrew) stops the fold and the fingers let go


@dataclass(frozen=True)
class SkillReport:
    outcome: Outcome
    reason: str
    tcp_position: np.ndarray
    tcp_quat_wxyz: np.ndarray
    position_error_m: float
    gripper_width: float


@dataclass(frozen=True)
class SkillSettings:
    default_speed_scale: float = 0.5
    linear_speed_scale: float = 0.3
    insert_tcp_speed: float = 0.02  # m/s in the final insertion stroke
    approach_height: float = 0.10  # m above pick/place/insert targets
    lift_height: float = 0.12  # m lifted after a grasp / retreat after release
    escape_height: float = 0.05  # m straight up out of a contact before a joint move
    insert_slow_zone: float = 0.045  # m above the seat where the slow stroke begins
    insert_overtravel: float = 0.003  # m commanded below the seat, so the part is pressed
    insert_force_limit_n: float = 10.0  # N of extra wrist force: contact stops the stroke
    place_force_limit_n: float = 10.0  # N of extra wrist force: the object has touched down
    search_radius: float = 0.014  # m around the estimate the spiral search covers
    search_pitch: float = 0.002  # m between the spiral's turns (< chamfer + clearance)
    search_step: float = 0.002  # m between search waypoints
    search_press_depth: float = 0.004  # m commanded below the contact: light pressure
    search_drop: float = 0.004  # m the TCP must sink below the contact: found the hole
    search_tcp_speed: float = 0.02  # m/s along the spiral
    search_force_limit_n: float = 45.0  # N: safety limit while pressing
    position_tolerance_m: float = 0.005
    grasp_min_width: float = 0.004  # m between the fingers that means "holding something"
    gripper_settle_s: float = 0.8
    grasp_depth: float = 0.015  # m from the part's top to the TCP when grasped
    stow_positions: tuple[float, ...] = tuple(HOME_POSITIONS)  # the arm's pose for driving
    intercept_reach_s: float = 1.5  # s first guess of the move to above a moving part
    intercept_descend_s: float = 0.8  # s from above the moving part down to it
    intercept_lift_s: float = 0.8  # s lifting off the belt
    intercept_height: float = 0.05  # m above the moving part before and after the grasp:
    #                                 low, so that the timed descent and lift stay slow
    intercept_max_stretch: float = 3.0  # the timed descent and lift may take this much
    #                                     longer near people; beyond that, refuse
    intercept_margin_s: float = 0.4  # s spare between arriving above and descending
    intercept_max_ride_m: float = 0.10  # m the part may ride past the requested grasp
    #                                     point before the grasp (then it leaves the zone)
    held_object_half_width: float = 0.025  # m, box standing in for a held part in checks
    stall_replan_s: float = 3.0  # s a joint move may be held by the supervisor before the
    #                              way is chosen again from where the arm stands
    stall_replans: int = 3  # that many times per move; then it waits as long as it must
    handover_pull_n: float = 3.0  # N of wrist force change: the receiver pulls (hand-over)
    pull_confirm_s: float = 0.1  # s the pull must last (not a bump of the arm)


class _Deferred:
    """Runs an action once the robot clock reaches a time: polled from `execute`'s `until`
    hook (it never stops the motion), so the fingers close at the planned grasp instant."""

    def __init__(self, io: RobotIO, at: float, action: Callable[[], None]) -> None:
        self.io, self.at, self.action, self.done = io, at, action, False

    def poll(self, _q: np.ndarray | None) -> bool:
        if not self.done and self.io.now() >= self.at:
            self.done = True
            self.action()
        return False


class PullWatch:
    """Whether the receiver of a hand-over pulls at the held object: a horizontal wrist
    force (gravity loads the wrist only vertically, whatever the hand's orientation: an
    arm moving at collaborative speed adds well under 1 N), or any change of the force since
    the watch began, of `handover_pull_n` for `pull_confirm_s`. The sensor's reading is
    turned into the arm's (level) base frame with the hand's orientation at `q`."""

    def __init__(self, kinematics: RobotKinematics, io: RobotIO,
                 settings: SkillSettings,
                 receiver_near: Callable[[], bool] = lambda: True) -> None:
        self.kin, self.io, self.settings = kinematics, io, settings
        self.receiver_near = receiver_near
        self.baseline = self._force(io.arm_positions())
        self.since: float | None = None
        self.newtons = 0.0

    def _force(self, q: np.ndarray) -> np.ndarray:
        _position, hand = self.kin.body_poses(q)[HAND_BODY]
        return quat_to_matrix(hand) @ self.io.force()

    def rearm(self) -> None:
        """Forget the pull felt so far: the next must last `pull_confirm_s` anew (against
        the same unloaded reading)."""
        self.since = None

    def felt(self, q: np.ndarray | None = None) -> bool:
        """Poll (as `RobotIO.execute`'s `until`, or standing); True once a pull lasted."""
        force = self._force(self.io.arm_positions() if q is None else q)
        self.newtons = max(float(np.linalg.norm(force[:2])),
                           float(np.linalg.norm(force - self.baseline)))
        if self.newtons < self.settings.handover_pull_n:
            self.since = None
            return False
        if self.since is None:
            self.since = self.io.now()
        if self.io.now() - self.since < self.settings.pull_confirm_s:
            return False
        if not self.receiver_near():
            # the held cup pushed against something with every tracked hand a metre off:
            # letting go dropped it (home_train cup seed 4 at bbecb06, 9.1 N)
            self.since = None
            self.io.count("hand_over.pushes_ignored")
            return False
        return True


class SkillRunner:
    """Plans and runs one skill at a time. Not thread-safe (owns IK/collision data)."""

    def __init__(self, kinematics: RobotKinematics, checker: CollisionChecker,
                 settings: SkillSettings, base_position: np.ndarray, base_yaw: float,
                 obstacle_names: tuple[str, ...]) -> None:
        self.kin = kinematics
        self.ik = IkSolver(kinematics)
        self.checker = checker
        self.settings = settings
        self.base_position = np.asarray(base_position, dtype=float)
        c, s = math.cos(base_yaw), math.sin(base_yaw)
        self.base_rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        # Near a grasp or a seat the fingers and the held part may touch the surfaces there.
        self.contact_allowances = tuple(("fingers", name) for name in obstacle_names) + \
            tuple(("attached", name) for name in obstacle_names)
        # the held object was grasped with the tool turned half a turn from the request: a
        # leaned set-down turns the same way, so the object comes out as asked (whoever
        # rebuilds the runner for a new base pose carries this over)
        self.held_turned = False
        # the object the last place let go of, where it was released (world frame): the
        # arm's next fold plans round it (whoever rebuilds the runner decides if it holds)
        self.set_down: Box | None = None

    # --- frames ------------------------------------------------------------------------
    def to_base(self, position: np.ndarray, quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rotation = self.base_rotation.T @ quat_to_matrix(quat)
        return self.base_rotation.T @ (position - self.base_position), matrix_to_quat(rotation)

    def tcp_world(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position, rotation = self.kin.tcp_pose(q)
        return (self.base_rotation @ position + self.base_position,
                matrix_to_quat(self.base_rotation @ rotation))

    # --- validation --------------------------------------------------------------------
    def check_request(self, request: SkillRequest) -> str | None:
        """Reason to reject the request outright, or None."""
        if request.skill not in SKILLS:
            return f"unknown skill '{request.skill}' (known: {', '.join(SKILLS)})"
        if not 0.0 <= request.speed_scale <= 1.0 or not math.isfinite(request.speed_scale):
            return f"speed_scale {request.speed_scale} outside [0, 1]"
        if not 0.0 <= request.gripper_width <= MAX_GRIPPER_WIDTH + 1e-9:
            return f"gripper_width {request.gripper_width} outside [0, {MAX_GRIPPER_WIDTH}] m"
        if request.skill in SKILLS_WITH_TARGET:
            if request.position is None or request.quat_wxyz is None:
                return f"{request.skill} needs a target pose"
            if not (np.all(np.isfinite(request.position)) and
                    np.all(np.isfinite(request.quat_wxyz))):
                return "target pose contains NaN or infinity"
        return None

    # --- the skills --------------------------------------------------------------------
    def run(self, request: SkillRequest, io: RobotIO) -> SkillReport:
        reason = self.check_request(request)
        if reason:
            return self._report(io, Outcome.REJECTED, reason, request)
        speed = request.speed_scale or self.settings.default_speed_scale
        request = replace(request, speed_scale=speed)
        try:
            handler = getattr(self, f"_{request.skill}")
            message = handler(request, io)
        except SkillStopped as stop:
            return self._report(io, stop.outcome, stop.reason, request)
        return self._report(io, Outcome.SUCCEEDED, message, request)

    def _move_to_pose(self, request: SkillRequest, io: RobotIO) -> str:
        io.feedback("planning", 0.0)
        q_goal = self._solve(request.position, request.quat_wxyz, io, request.yaw_free)
        io.feedback("moving", 0.2)
        self._move_joint(q_goal, request.speed_scale, io)
        error = self._correct(request, io)
        return f"reached target within {error * 1000:.1f} mm"

    def _go_home(self, request: SkillRequest, io: RobotIO) -> str:
        """The ready pose as it is (the hand not turned the short way: the grasps that
        follow are solved from here, and from half a turn round the hand's joint came near
        its limit: the cup slipped out while lifting three times, home_train seed 5)."""
        self._move_joint(np.array(HOME_POSITIONS), request.speed_scale, io,
                         attached=self._held(request))
        return "at home"

    def _stow(self, request: SkillRequest, io: RobotIO) -> str:
        """The pose the arm rides in while the base drives (a held object with it: give
        its height), clear of the camera's view and within the base's footprint; with an
        object, raised as far as it must be to keep the object clear (`_carry_pose`).
        `let_go_on_pull`: a receiver who takes hold of the object as the arm withdraws
        from an offer gets it (home_train cup seed 4: the person came back and pulled at
        the cup during the fold; the supervisor held the arm for their hand, 90 s)."""
        held = self._held(request)
        q_now = io.arm_positions()
        may_turn = not is_leaned(self.tcp_world(q_now)[1])
        # a hand must be seen at the object: the folding arm hides nobody's, and a cup that
        # met something with nobody near was let go of (home_train cup seed 1 at 36edb46:
        # 4.2 N, the person 2 m away)
        pull = self._pull_watch(io, unseen_counts=False) \
            if held is not None and request.let_go_on_pull else None
        goals = self._stow_turns(q_now)
        for index, q_goal in enumerate(goals):
            try:
                done = self._stow_at(q_goal, held, may_turn, request.speed_scale, io,
                                     None if pull is None else pull.felt)
            except SkillStopped as stop:
                if stop.outcome != Outcome.UNREACHABLE or index == len(goals) - 1:
                    raise
                continue
            if done != STOPPED_BY_PULL:
                return done
            felt = pull.newtons
            if not self._pull_goes_on(pull, io, PULL_STANDING_S):
                # the pull ended as the arm stopped: the withdrawing cup met a hand that does
                # not hold it (letting go then dropped it: reactive cup seeds 0 and 5 at
                # 474414d); fold on holding it
                return self._stow_at(q_goal, held, may_turn, request.speed_scale, io)
            io.feedback("release", 0.8)
            return (f"let go while folding: felt a pull of {felt:.1f} N, still pulling "
                    f"with the arm stopped; {self._release(request, io)}")
        raise SkillStopped(Outcome.UNREACHABLE, "no stow pose to try")

    def _stow_at(self, q_goal: np.ndarray, held: AttachedBox | None, may_turn: bool,
                 speed: float, io: RobotIO,
                 until: Callable[[np.ndarray], bool] | None = None) -> str:
        lift = 0.0
        if held is not None:
            q_goal, lift = self._carry_pose(q_goal, held, io.gripper_width() / 2.0, may_turn)
        if self._move_joint(q_goal, speed, io, attached=held, until=until) is False:
            return STOPPED_BY_PULL
        return "stowed" if lift == 0.0 else f"stowed, the hand {lift * 100:.0f} cm higher"

    def _stow_turns(self, q_now: np.ndarray) -> list[np.ndarray]:
        """The stow's joint positions to try: the hand as `_hand_near` turns it first, then
        half a turn either way within the joint's limits. An arm stopped halfway through a
        hand-over stands leaned, so the hand kept the stow's turn, 3.7 rad from where it
        was, and the held cup swept the base's column on every way there: no stow, and the
        planner drove on with the arm held out (home_train cup seeds 6 and 7, stop 26)."""
        first = self._hand_near(self.settings.stow_positions, q_now)
        lower, upper = self.kin.limits.lower, self.kin.limits.upper
        others = []
        for turn in (-math.pi, math.pi):
            q = first.copy()
            q[-1] += turn
            if lower[-1] <= q[-1] <= upper[-1]:
                others.append(q)
        others.sort(key=lambda q: abs(float(q[-1] - q_now[-1])))
        return [first, *others]

    def _carry_pose(self, q_stow: np.ndarray, held: AttachedBox, fingers: float,
                    may_turn: bool) -> tuple[np.ndarray, float]:
        """`q_stow`, or the nearest pose above it (the hand raised in CARRY_LIFT_STEP_M
        steps, same orientation, no joint more than CARRY_POSTURE_RAD from the stow's:
        still folded over the base, out of the camera's view) where the held object is
        clear of everything (the checker keeps it off the robot's own column), from the
        hand as it is or, `may_turn`, half a turn round (near its joint's limit the IK
        finds no nearby pose); `q_stow` when none is. And the lift (m)."""
        if not self.checker.check_configuration(q_stow, fingers, attached=held):
            return q_stow, 0.0
        lower, upper = self.kin.limits.lower, self.kin.limits.upper
        seeds = [q_stow]
        for turn in (math.pi, -math.pi):
            turned = q_stow.copy()
            turned[-1] += turn
            if may_turn and lower[-1] <= turned[-1] <= upper[-1]:
                seeds.append(turned)
        for step in range(1, CARRY_LIFT_STEPS + 1):
            lift = step * CARRY_LIFT_STEP_M
            for seed in seeds:
                position, quat = self.ik.forward(seed)
                try:
                    result = self.ik.solve_reachable(
                        position + np.array([0.0, 0.0, lift]), quat, seed_q=seed)
                except UnreachablePose:
                    continue
                if float(np.max(np.abs(result.q - seed))) <= CARRY_POSTURE_RAD and \
                        not self.checker.check_configuration(result.q, fingers,
                                                             attached=held):
                    return result.q, lift
        return q_stow, 0.0

    def _hand_near(self, q_target, q_now: np.ndarray) -> np.ndarray:
        """`q_target` (the stow's), the hand turned the short way (`hand_turned_nearest`)
        unless it holds its tool leaned (a grasp into the shelf: the remote, turned so,
        came down on the floor from the table it was set on, test_home_skills_in_sim)."""
        q_target = np.asarray(q_target, dtype=float)
        if is_leaned(self.tcp_world(q_now)[1]):
            return q_target
        return hand_turned_nearest(q_target, q_now, self.kin.limits.lower,
                                   self.kin.limits.upper)

    def _open_gripper(self, request: SkillRequest, io: RobotIO) -> str:
        width = request.gripper_width or MAX_GRIPPER_WIDTH
        io.set_gripper(width)
        io.wait(self.settings.gripper_settle_s)
        self.held_turned = False
        return f"gripper open to {io.gripper_width() * 1000:.1f} mm"

    def _release(self, request: SkillRequest, io: RobotIO) -> str:
        """Let go of the held object into a person's hand: the fingers open while the arm
        stands (the executor lets them open next to the hand that takes it), slowly
        (RELEASE_WIDTH_MPS): next to a hand, moving fingers are robot motion too."""
        width = request.gripper_width or MAX_GRIPPER_WIDTH
        start = io.gripper_width()
        steps = max(1, math.ceil(abs(width - start) / (RELEASE_WIDTH_MPS * RELEASE_STEP_S)
                                 - 1e-9))
        for k in range(1, steps + 1):
            io.set_gripper(start + (width - start) * k / steps)
            io.wait(RELEASE_STEP_S)
        io.wait(self.settings.gripper_settle_s)
        self.held_turned = False
        return f"released: gripper open to {io.gripper_width() * 1000:.1f} mm"

    def _release_on_pull(self, request: SkillRequest, io: RobotIO) -> str:
        """Hold the object out, still, until the person's hand pulls at it (`PullWatch`),
        then let go (`_release`): a receiver closes their hand on the object and pulls, and
        the giver lets go when it feels that (how people hand things over, Chan et al.,
        IJRR 2013), which needs no view of the hand (the arm holding the object out hides
        it from a head camera behind the arm). The goal's timeout ends a wait that felt
        none."""
        io.feedback("waiting_for_pull", 0.0)
        pull = self._pull_watch(io)
        self._await_pull(pull, io)
        io.feedback("release", 0.5)
        return f"felt a pull of {pull.newtons:.1f} N; {self._release(request, io)}"

    def _hand_over(self, request: SkillRequest, io: RobotIO) -> str:
        """Hold the object out at the target and let go when the receiver pulls at it, on
        the way there as well: next to the person the supervisor lets the arm only creep,
        and a receiver takes hold of an object that has come within reach (measured: the
        hand closed on the cup 3 s before the offer's motion ended), so the motion stops
        and the fingers open as soon as the pull is felt; at the target, as
        `_release_on_pull`. The goal's timeout ends a wait that felt none."""
        io.feedback("planning", 0.0)
        q_goal = self._solve(request.position, request.quat_wxyz, io, request.yaw_free)
        pull = self._pull_watch(io)
        io.feedback("offer", 0.2)
        if self._move_joint(q_goal, request.speed_scale, io, until=pull.felt):
            io.feedback("waiting_for_pull", 0.6)
            self._await_pull(pull, io)
            where = "held out"
        else:
            where = "on the way"
        io.feedback("release", 0.8)
        return f"felt a pull of {pull.newtons:.1f} N ({where}); {self._release(request, io)}"

    def _pull_watch(self, io: RobotIO, unseen_counts: bool = True) -> PullWatch:
        """A PullWatch that takes a pull for a receiver's only with a tracked hand within
        PULL_HAND_M of the TCP (or, `unseen_counts`, none tracked)."""
        return PullWatch(self.kin, io, self.settings, lambda: io.hand_within(
            self.tcp_world(io.arm_positions())[0], PULL_HAND_M, unseen_counts))

    @staticmethod
    def _pull_goes_on(pull: PullWatch, io: RobotIO, seconds: float) -> bool:
        """Whether a pull is felt anew (lasting `pull_confirm_s`) within `seconds`."""
        pull.rearm()
        deadline = io.now() + seconds
        while io.now() < deadline:
            if pull.felt() or io.wait(PULL_POLL_S, until=pull.felt):
                return True
        return False

    @staticmethod
    def _await_pull(pull: PullWatch, io: RobotIO) -> None:
        """Stand until the receiver's pull is felt, watched while the supervisor holds the
        arm as well: their hand on the object is what stops it (a pull went unnoticed for
        the 45 s of a goal's timeout while the person took the cup, home_train seed 1)."""
        while not pull.felt():
            io.wait(PULL_POLL_S, until=pull.felt)

    def _close_gripper(self, request: SkillRequest, io: RobotIO) -> str:
        io.set_gripper(0.0)
        io.wait(self.settings.gripper_settle_s)
        width = io.gripper_width()
        held = "holding an object" if width >= self.settings.grasp_min_width else "empty"
        return f"gripper closed at {width * 1000:.1f} mm ({held})"

    def _pick(self, request: SkillRequest, io: RobotIO) -> str:
        """Open, come in along the tool's axis (from above for a top-down grasp; tilted
        into a shelf for one held at an angle), close, lift; a tilted grasp then backs out
        along the axis it came in on and draws back level, out of the shelf. A parallel
        gripper grasps the same turned half a turn about its axis: when the way in is
        blocked (a joint at its limit), that grasp is tried."""
        if request.velocity is not None and float(np.linalg.norm(request.velocity)) > 1e-3:
            return self._pick_moving(request, io)
        s = self.settings
        up = np.array([0.0, 0.0, 1.0])
        io.feedback("opening", 0.05)
        io.set_gripper(request.gripper_width or MAX_GRIPPER_WIDTH)
        tilted = is_leaned(request.quat_wxyz)
        if tilted:
            quat, approach = self._come_in_tilted(request, io)
        else:
            quats = grasp_turns(request.quat_wxyz, request.yaw_free)
            for turn, quat in enumerate(quats):
                try:
                    self._come_in(request, quat, io)
                    break
                except (SkillStopped, UnreachablePose):
                    if turn == len(quats) - 1:
                        raise
        self.held_turned = not np.array_equal(quat, request.quat_wxyz)
        back = -approach_axis(quat)
        io.feedback("grasp", 0.6)
        io.set_gripper(0.0)
        io.wait(s.gripper_settle_s)
        width = io.gripper_width()
        if width < s.grasp_min_width:
            io.set_gripper(request.gripper_width or MAX_GRIPPER_WIDTH)
            self._retreat(io, s.lift_height)
            raise SkillStopped(Outcome.FAILED, f"nothing grasped: the fingers closed to "
                               f"{width * 1000:.1f} mm")
        io.feedback("lift", 0.8)
        held = self._held(request)
        lifted = request.position + up * (min(s.lift_height, TILTED_LIFT_M) if tilted
                                          else s.lift_height)
        self._move_linear(lifted, quat, s.linear_speed_scale, io,
                          allow=self.contact_allowances, attached=held)
        if tilted:
            io.feedback("back out", 0.9)
            out = lifted + back * approach
            self._move_linear(out, quat, s.linear_speed_scale, io,
                              allow=self.contact_allowances, attached=held)
            try:
                self._move_linear(out + _level(back) * TILTED_DRAW_BACK_M, quat,
                                  s.linear_speed_scale, io, allow=self.contact_allowances,
                                  attached=held)
            except SkillStopped as exc:
                if exc.outcome != Outcome.UNREACHABLE:
                    raise                     # planned, then stopped: not a way to skip
        width = io.gripper_width()
        if width < s.grasp_min_width:
            raise SkillStopped(Outcome.FAILED, "the object slipped out while lifting")
        return f"holding the object ({width * 1000:.1f} mm between the fingers)"

    def _come_in(self, request: SkillRequest, quat: np.ndarray, io: RobotIO) -> None:
        """To a top-down grasp pose: a joint move to approach_height above it, then
        straight down."""
        s = self.settings
        io.feedback("approach", 0.1)
        q_pre = self._solve(request.position - approach_axis(quat) * s.approach_height,
                            quat, io, request.yaw_free)
        self._move_joint(q_pre, request.speed_scale, io)
        io.wait(max(0.0, s.gripper_settle_s - 0.5))
        io.feedback("descend", 0.4)
        self._move_linear(request.position, quat, s.linear_speed_scale, io,
                          allow=self.contact_allowances)

    def _come_in_tilted(self, request: SkillRequest, io: RobotIO
                        ) -> tuple[np.ndarray, float]:
        """To a grasp leaned into a shelf, along a way planned whole before the arm moves:
        the arm configuration at the grasp, from which the tool can go straight out along
        its axis (its way in, backwards), lift TILTED_LIFT_M and back out again, and which
        a joint move reaches from where the arm stands. Near a shelf the arm works at the
        edge of its joint limits: the configuration the solver finds first often cannot
        follow one of these lines (measured: 4 of 10 remotes picked on the training
        family). Tried for each of TILTED_APPROACHES_M from several seeds; returns the tool
        orientation and the approach distance taken."""
        io.feedback("approach", 0.1)
        quats = grasp_turns(request.quat_wxyz, request.yaw_free)
        reason = "no arm configuration reaches the grasp"
        for approach, attempt, quat in itertools.product(
                TILTED_APPROACHES_M, range(WAY_IN_SEEDS), quats):
            try:
                way_in = self._tilted_way_in(request, quat, approach, io, attempt)
            except SkillStopped as exc:
                reason = exc.reason
                continue
            self._go_in(way_in, request, io)
            return quat, approach
        raise SkillStopped(Outcome.UNREACHABLE, f"no way into the shelf for the grasp "
                           f"({WAY_IN_SEEDS * len(quats)} arm configurations, "
                           f"{len(TILTED_APPROACHES_M)} approach distances tried): {reason}")

    def _tilted_way_in(self, request: SkillRequest, quat: np.ndarray, approach: float,
                       io: RobotIO, attempt: int) -> np.ndarray:
        """The joint samples of one tilted grasp's way in (see _come_in_tilted), from
        outside the shelf to the grasp (see _planned_way_in), with the lift, the way out,
        the draw back and the fold for driving after it checked; raises SkillStopped with
        what is in the way."""
        back = -approach_axis(quat)
        up = np.array([0.0, 0.0, 1.0])
        _, base_quat = self.to_base(request.position, quat)
        held = self._held(request)
        way_in = self._planned_way_in(request, quat, request.position + back * approach,
                                      io, attempt, fingers=(request.gripper_width or
                                                            MAX_GRIPPER_WIDTH) / 2.0)
        lifted = request.position + up * min(self.settings.lift_height, TILTED_LIFT_M)
        out = lifted + back * approach
        # closed on the object, holding it
        q_end = self._checked_line(way_in[-1], lifted, base_quat, "the lift", 0.0, held)[-1]
        q_end = self._checked_line(q_end, out, base_quat, "the way out", 0.0, held)[-1]
        try:                                    # where the arm can (as _pick does)
            q_end = self._checked_line(q_end, out + _level(back) * TILTED_DRAW_BACK_M,
                                       base_quat, "the draw back", 0.0, held)[-1]
        except SkillStopped:
            pass
        # on from the way out to the pose for driving (elsewhere the elbow met the mast)
        self._fastest_move(np.array(self.settings.stow_positions), request.speed_scale, io,
                           attached=held, q_start=q_end, fingers=0.0)
        return way_in

    def _go_in(self, way_in: np.ndarray, request: SkillRequest, io: RobotIO,
               attached: AttachedBox | None = None, force_limit_n: float | None = None
               ) -> None:
        """A joint move to the start of a planned way in, then along it as planned (with
        `force_limit_n`: stopped by contact, ForceLimitExceeded)."""
        self._move_joint(way_in[0], request.speed_scale, io, attached=attached)
        io.wait(max(0.0, self.settings.gripper_settle_s - 0.5))
        io.feedback("descend", 0.4)
        self._follow(np.vstack([io.arm_positions(), way_in[1:]]),
                     self.settings.linear_speed_scale, io, allow=self.contact_allowances,
                     attached=attached, force_limit_n=force_limit_n)

    def _planned_way_in(self, request: SkillRequest, quat: np.ndarray, start: np.ndarray,
                        io: RobotIO, attempt: int, fingers: float,
                        attached: AttachedBox | None = None) -> np.ndarray:
        """Joint samples of the TCP's straight line from `start` to the request's pose at
        `quat`, solved backwards from an arm configuration at the goal (seed `attempt`: 0
        where the arm stands, 1 home, else random), collision-checked, and reachable by a
        joint move from where the arm stands; raises SkillStopped with what is in the way.
        Solved forwards from `start` instead, the solver can take another branch at the
        joint limits and cannot follow the line (measured: a flip half way into a shelf)."""
        seed = io.arm_positions() if attempt == 0 else np.array(HOME_POSITIONS) \
            if attempt == 1 else np.random.default_rng(attempt).uniform(
                self.kin.limits.lower, self.kin.limits.upper)
        base_pos, base_quat = self.to_base(request.position, quat)
        # solved without the collision check: at the goal the fingers may touch the surface
        # (the allowances of the line)
        solution = self.ik.solve(base_pos, base_quat, seed_q=seed, rng_seed=attempt)
        if not solution.success:
            raise SkillStopped(Outcome.UNREACHABLE, "the target is out of the arm's reach "
                               f"({solution.position_error_m * 1000:.0f} mm off)")
        way_in = self._checked_line(solution.q, start, base_quat, "the way in", fingers,
                                    attached)[::-1]
        self._fastest_move(way_in[0], request.speed_scale, io, attached=attached)
        return way_in

    def _checked_line(self, q_from: np.ndarray, target: np.ndarray, base_quat: np.ndarray,
                      what: str, fingers: float, attached: AttachedBox | None
                      ) -> np.ndarray:
        """Joint samples of the TCP's straight line from `q_from` to `target` (world) at
        `base_quat`, collision-checked (fingers and the held object may touch the surfaces
        there); raises SkillStopped saying what is in the way."""
        target_base = self.base_rotation.T @ (target - self.base_position)
        try:
            path = linear_path(self.ik, q_from, target_base, base_quat)
        except CartesianPathError as exc:
            raise SkillStopped(Outcome.UNREACHABLE, f"{what} is not a straight line for "
                               f"this arm configuration: {exc}") from exc
        hits = self.checker.check_path(path.qs, allow=self.contact_allowances,
                                       fingers=fingers, attached=attached)
        if hits:
            hit = hits[0].contacts[0]
            raise SkillStopped(Outcome.UNREACHABLE, f"{what} is blocked: {hit.robot_link} "
                               f"would hit {hit.obstacle}")
        return path.qs

    def _pick_moving(self, request: SkillRequest, io: RobotIO) -> str:
        """Intercept a part riding a conveyor: choose a grasp time the arm can make, wait
        above the part's future path, descend while moving with it, close the fingers at the
        grasp time while still tracking it, and lift off the belt."""
        s = self.settings
        velocity = np.asarray(request.velocity, dtype=float)
        io.set_gripper(request.gripper_width or MAX_GRIPPER_WIDTH)
        io.feedback("planning intercept", 0.05)

        def position_at(t: float) -> np.ndarray:
            return request.position + velocity * (t - request.target_time)

        close = s.gripper_settle_s * 0.6
        descend, lift = s.intercept_descend_s, s.intercept_lift_s
        for _attempt in range(4):
            grasp_time, q_pre = self._intercept_start(request, io, position_at, descend)
            plan = self._tracking_plan(position_at, request.quat_wxyz, io, q_pre,
                                       grasp_time - descend, descend, close, lift)
            # the descent and the lift are timed to the belt: the supervisor cannot slow
            # them, so near people they are planned slower from the start
            stretch = io.expected_duration(plan) / plan.duration
            if stretch <= 1.05:
                break
            descend, lift = descend * stretch * 1.2, lift * stretch * 1.2
            if descend > s.intercept_descend_s * s.intercept_max_stretch:
                raise SkillStopped(Outcome.UNREACHABLE, "too close to a person to follow the "
                                   f"belt: the supervisor would slow the grasp {stretch:.1f}x")
        else:
            raise SkillStopped(Outcome.UNREACHABLE, "too close to a person to follow the belt")
        io.feedback("approach", 0.2)
        self._move_joint(q_pre, request.speed_scale, io)
        if io.now() > grasp_time - descend:
            raise SkillStopped(Outcome.FAILED, f"arrived {io.now() - grasp_time + descend:.2f}"
                               " s too late to intercept the part")
        io.feedback("intercept", 0.5)
        finished = _Deferred(io, grasp_time, lambda: io.set_gripper(0.0))
        io.execute(plan, start_time=grasp_time - descend, until=finished.poll)
        finished.poll(None)
        io.wait(0.2)
        width = io.gripper_width()
        where = (f"intercept at t={grasp_time:.2f} s at "
                 f"{np.round(position_at(grasp_time), 3).tolist()}")
        if width < s.grasp_min_width:
            io.set_gripper(request.gripper_width or MAX_GRIPPER_WIDTH)
            raise SkillStopped(Outcome.FAILED, f"missed the moving part ({where}): the "
                               f"fingers closed to {width * 1000:.1f} mm")
        io.feedback("lift", 0.8)
        self._retreat(io, max(s.lift_height - s.intercept_height, 0.0),
                      attached=self._held(request))
        return f"holding the part taken off the conveyor ({where}, {width * 1000:.1f} mm)"

    def _intercept_start(self, request: SkillRequest, io: RobotIO,
                         position_at: Callable[[float], np.ndarray], descend: float
                         ) -> tuple[float, np.ndarray]:
        """The grasp time and the joints above the part's path where the descent begins:
        the caller's intercept time, pushed back until the (supervised) approach fits."""
        s = self.settings
        now = io.now()
        speed = float(np.linalg.norm(request.velocity))
        travel = s.intercept_reach_s
        for _attempt in range(4):
            grasp_time = max(request.target_time, now + travel + descend)
            if (grasp_time - request.target_time) * speed > s.intercept_max_ride_m:
                raise SkillStopped(Outcome.UNREACHABLE, f"the approach and descent take "
                                   f"{travel + descend:.1f} s (slowed near people): the part "
                                   "has ridden past the pick zone by then")
            start = position_at(grasp_time - descend) + np.array([0.0, 0.0,
                                                                  s.intercept_height])
            try:
                q_pre = self._solve(start, request.quat_wxyz, io, request.yaw_free)
            except SkillStopped as exc:
                if travel == s.intercept_reach_s:
                    raise
                raise SkillStopped(exc.outcome, f"the approach takes {travel:.1f} s (slowed "
                                   "near people): the part is out of reach by then") from exc
            # as executed: near people the supervisor slows the approach down
            _legs, duration = self._fastest_move(q_pre, request.speed_scale, io)
            if duration + s.intercept_margin_s <= travel:
                return grasp_time, q_pre
            travel = duration + s.intercept_margin_s
        raise SkillStopped(Outcome.UNREACHABLE, "cannot reach the part's path in time")

    def _tracking_plan(self, position_at: Callable[[float], np.ndarray], quat: np.ndarray,
                       io: RobotIO, q_start: np.ndarray, t_start: float, descend: float,
                       close: float, lift: float) -> JointTrajectoryPlan:
        """A time-fixed trajectory: descend onto the moving target, follow it while the
        fingers close, lift while slowing to rest. IK per 20 ms sample, seeded."""
        s = self.settings
        dt = 0.02
        total = descend + close + lift
        times = np.arange(0.0, total + 1e-9, dt)
        grasp_offset = descend
        qs = [np.asarray(q_start, dtype=float)]
        for t in times[1:]:
            if t <= grasp_offset:
                u = t / grasp_offset
                height = s.intercept_height * (1 - (10 * u**3 - 15 * u**4 + 6 * u**5))
                point = position_at(t_start + t) + np.array([0.0, 0.0, height])
            elif t <= grasp_offset + close:
                point = position_at(t_start + t)
            else:
                u = (t - grasp_offset - close) / lift
                ease = 10 * u**3 - 15 * u**4 + 6 * u**5
                # keep drifting with the belt, slowing to rest, while lifting
                drift_time = (t - grasp_offset - close) * (1 - u / 2)
                point = position_at(t_start + grasp_offset + close + drift_time) + \
                    np.array([0.0, 0.0, s.intercept_height * ease])
            base_pos, base_quat = self.to_base(point, quat)
            result = self.ik.solve(base_pos, base_quat, seed_q=qs[-1], restarts=0)
            if not result.success or np.max(np.abs(result.q - qs[-1])) > 0.2:
                raise SkillStopped(Outcome.UNREACHABLE, f"intercept path leaves the arm's "
                                   f"reach at {np.round(point, 3).tolist()}")
            qs.append(result.q)
        positions = np.array(qs)
        velocities = np.gradient(positions, times, axis=0)
        velocities[0] = velocities[-1] = 0.0
        if np.any(np.abs(velocities) > self.kin.limits.velocity):
            raise SkillStopped(Outcome.UNREACHABLE, "intercept too fast for the joint limits")
        collisions = self.checker.check_path(positions, allow=self.contact_allowances)
        if collisions:
            hit = collisions[0].contacts[0]
            raise SkillStopped(Outcome.UNREACHABLE, f"intercept blocked: {hit.robot_link} "
                               f"would hit {hit.obstacle}")
        return JointTrajectoryPlan(times=times, positions=positions, velocities=velocities)

    def _approach_holding(self, request: SkillRequest, io: RobotIO) -> AttachedBox | None:
        """Joint move (carrying the object) to the approach pose above the target."""
        held = self._held(request)
        io.feedback("approach", 0.1)
        above = request.position + np.array([0.0, 0.0, self.settings.approach_height])
        q_pre = self._solve(above, request.quat_wxyz, io, request.yaw_free, attached=held)
        self._move_joint(q_pre, request.speed_scale, io, attached=held)
        return held

    def _place(self, request: SkillRequest, io: RobotIO) -> str:
        """Down onto the target from approach_height above it along a way planned whole
        (see _planned_way_in; tried from several seeds and with the tool turned half a
        turn), release, retreat up. The descent stops where the object touches down (an
        object that turned in the hand meets the surface early: the arm, held there,
        missed its trajectory's end and the set-down failed, 3 of 10 in simulation)."""
        s = self.settings
        try:
            self._set_down(request, io)
            touched = ""
        except ForceLimitExceeded as exc:
            io.wait(0.1)
            touched = f", where it touched down ({exc.force_n:.0f} N)"
        error = self._tcp_error(request, io)
        released = self.held_box_in_world(self._held(request), io.arm_positions())
        io.feedback("release", 0.7)
        io.set_gripper(request.gripper_width or MAX_GRIPPER_WIDTH)
        io.wait(s.gripper_settle_s)
        self._retreat(io, s.lift_height)
        self.held_turned = False
        self.set_down = released
        return f"placed within {error * 1000:.1f} mm of the target{touched}"

    def held_box_in_world(self, held: AttachedBox | None, q: np.ndarray) -> Box | None:
        """The held object's box where it is with the arm at `q` (world frame, SET_DOWN_
        MARGIN_M larger all round): turned with the tool when the tool points down, else
        the box round it along the world's axes."""
        if held is None:
            return None
        tcp, quat = self.tcp_world(q)
        rotation = quat_to_matrix(quat) @ quat_to_matrix(np.asarray(held.quat_wxyz))
        center = tcp + quat_to_matrix(quat) @ np.asarray(held.pos)
        half = np.asarray(held.half_size, dtype=float)
        if is_leaned(quat):
            half, yaw = np.abs(rotation) @ half, 0.0
        else:
            yaw = math.atan2(rotation[1, 0], rotation[0, 0])
        return Box("set_down", tuple(center), tuple(half + SET_DOWN_MARGIN_M), yaw)

    def _set_down(self, request: SkillRequest, io: RobotIO) -> None:
        """The held object to the set-down pose (see _place), stopped by contact."""
        s = self.settings
        if request.yaw_free:
            held = self._approach_holding(request, io)
            io.feedback("descend", 0.4)
            self._move_linear(request.position, request.quat_wxyz, s.linear_speed_scale, io,
                              allow=self.contact_allowances, attached=held,
                              force_limit_n=s.place_force_limit_n)
        else:
            held = self._held(request)
            io.feedback("approach", 0.1)
            above = request.position + np.array([0.0, 0.0, s.approach_height])
            reason = ""
            quats = grasp_turns(request.quat_wxyz, request.yaw_free)
            if is_leaned(request.quat_wxyz):
                # a leaned tool turned half a turn would set an object that lies flat in
                # the hand down standing on its end: only as it was grasped
                quats = (half_turned(request.quat_wxyz),) if self.held_turned else \
                    (request.quat_wxyz,)
            for attempt, quat in itertools.product(range(WAY_IN_SEEDS), quats):
                try:
                    way_in = self._planned_way_in(request, quat, above, io, attempt,
                                                  io.gripper_width() / 2.0, held)
                    break
                except SkillStopped as exc:
                    reason = exc.reason
            else:
                raise SkillStopped(Outcome.UNREACHABLE, f"no way down to the set-down pose "
                                   f"({WAY_IN_SEEDS * len(quats)} arm configurations "
                                   f"tried): {reason}")
            self._go_in(way_in, request, io, attached=held,
                        force_limit_n=s.place_force_limit_n)

    def _insert(self, request: SkillRequest, io: RobotIO) -> str:
        """Peg-in-hole that tolerates centimetre-level target errors: a force-guarded stroke
        down; if the part lands on the fixture instead of in the hole, a spiral search with
        light downward pressure until it drops into the chamfer, then the stroke again."""
        s = self.settings
        up = np.array([0.0, 0.0, 1.0])
        held = self._approach_holding(request, io)
        io.feedback("align", 0.3)
        self._move_linear(request.position + up * s.insert_slow_zone, request.quat_wxyz,
                          s.linear_speed_scale, io, attached=held)
        io.feedback("insert", 0.5)
        contact = self._guarded_stroke(request, io, held)
        note = ""
        if contact is not None and contact[2] - request.position[2] > s.position_tolerance_m:
            io.feedback("search", 0.6)
            offset = self._spiral_search(contact, request, io)
            if offset is None:
                self._retreat(io, s.lift_height)
                raise SkillStopped(Outcome.FAILED, f"no hole within {s.search_radius * 1000:.0f}"
                                   f" mm of the target (blocked "
                                   f"{(contact[2] - request.position[2]) * 1000:.0f} mm above "
                                   "the seat); still holding the part")
            note = f", found by search {offset * 1000:.1f} mm off the estimate"
            io.feedback("insert", 0.7)
            self._guarded_stroke(request, io, held, from_current=True)
        io.wait(0.2)
        tcp, _ = self.tcp_world(io.arm_positions())
        height_above_seat = float(tcp[2] - request.position[2])
        if height_above_seat > s.position_tolerance_m:
            self._retreat(io, s.lift_height)
            raise SkillStopped(Outcome.FAILED, f"part stopped {height_above_seat * 1000:.1f} mm "
                               "above its seat; still holding it")
        io.feedback("release", 0.8)
        io.set_gripper(request.gripper_width or MAX_GRIPPER_WIDTH)
        io.wait(s.gripper_settle_s)
        self._retreat(io, s.lift_height)
        return f"inserted: {max(height_above_seat, 0.0) * 1000:.1f} mm above the seat{note}"

    def _guarded_stroke(self, request: SkillRequest, io: RobotIO, held: AttachedBox | None,
                        from_current: bool = False) -> np.ndarray | None:
        """Slow stroke down to just below the seat; the TCP position where contact stopped
        it, or None if it went all the way."""
        s = self.settings
        bottom = request.position - np.array([0.0, 0.0, s.insert_overtravel])
        if from_current:  # keep the xy where the search found the hole
            tcp, _ = self.tcp_world(io.arm_positions())
            bottom = np.array([tcp[0], tcp[1], bottom[2]])
        try:
            self._move_linear(bottom, request.quat_wxyz, s.linear_speed_scale, io,
                              allow=self.contact_allowances, attached=held,
                              tcp_speed=s.insert_tcp_speed, force_limit_n=s.insert_force_limit_n)
        except ForceLimitExceeded:
            io.wait(0.1)
            return self.tcp_world(io.arm_positions())[0]
        return None

    def _spiral_search(self, contact: np.ndarray, request: SkillRequest, io: RobotIO
                       ) -> float | None:
        """Archimedean spiral around the estimate, pressing lightly; the distance from the
        estimate where the part dropped into the hole, or None."""
        s = self.settings
        centre = np.array([request.position[0], request.position[1]])
        press_z = contact[2] - s.search_press_depth
        points = []
        angle, radius = 0.0, 0.0
        while radius <= s.search_radius:  # waypoints about search_step apart along the arc
            radius = s.search_pitch * angle / (2 * np.pi)
            points.append(np.array([centre[0] + radius * np.cos(angle),
                                    centre[1] + radius * np.sin(angle), press_z]))
            angle += s.search_step / max(radius, s.search_step)
        qs = [io.arm_positions()]
        for point in points:
            base_pos, base_quat = self.to_base(point, request.quat_wxyz)
            result = self.ik.solve(base_pos, base_quat, seed_q=qs[-1], restarts=0)
            if not result.success:
                break
            qs.append(result.q)
        try:
            plan = time_parameterize(np.array(qs), self.kin.limits,
                                     speed_scale=s.linear_speed_scale,
                                     tcp_position=lambda q: self.kin.tcp_pose(q)[0],
                                     max_tcp_speed=s.search_tcp_speed)
        except TrajectoryError as exc:
            raise SkillStopped(Outcome.UNREACHABLE, f"search path: {exc}") from exc
        dropped_below = contact[2] - s.search_drop

        def dropped(q: np.ndarray) -> bool:
            return bool(self.tcp_world(q)[0][2] < dropped_below)

        completed = io.execute(plan, force_limit_n=s.search_force_limit_n, until=dropped)
        if completed:
            return None
        tcp, _ = self.tcp_world(io.arm_positions())
        return float(np.linalg.norm(tcp[:2] - centre))

    # --- motion primitives -------------------------------------------------------------
    def _held(self, request: SkillRequest) -> AttachedBox | None:
        height = request.object_height
        if height <= 0.0:
            return None
        s = self.settings
        if min(request.object_size) > 0.0:
            # the whole object, its centre below the TCP as it was grasped (the planner's
            # grasp: grasp_depth below the top, at most half the height)
            below = height / 2.0 - min(s.grasp_depth, height / 2.0)
            return AttachedBox("held", tuple(v / 2.0 for v in request.object_size),
                               pos=(0.0, 0.0, below))
        below_tcp = height - s.grasp_depth  # the part reaches this far past the TCP
        half = s.held_object_half_width
        # Only the part of the object beyond the finger tips: the fingers hold the rest.
        reach = max(below_tcp, 0.005)
        return AttachedBox("held", (half, half, reach / 2.0), pos=(0.0, 0.0, reach / 2.0 +
                                                                    0.002))

    def _solve(self, position: np.ndarray, quat: np.ndarray, io: RobotIO, yaw_free: bool,
               attached: AttachedBox | None = None) -> np.ndarray:
        base_pos, base_quat = self.to_base(position, quat)
        try:
            result = self.ik.solve_reachable(base_pos, base_quat, seed_q=io.arm_positions(),
                                             yaw_free=yaw_free, collision=self.checker)
        except UnreachablePose as exc:
            raise SkillStopped(Outcome.UNREACHABLE, f"pose {np.round(position, 3).tolist()} "
                               f"unreachable: {exc}") from exc
        return result.q

    def _move_joint(self, q_goal: np.ndarray, speed: float, io: RobotIO,
                    attached: AttachedBox | None = None,
                    until: Callable[[np.ndarray], bool] | None = None) -> bool:
        """Move to `q_goal` the quickest collision-free way as executed (see _fastest_move);
        every leg after the first starts from where the arm really stands. A way chosen
        while a person was elsewhere can lead to where the supervisor holds the arm for
        good (next to the co-worker at rest): held too long, the arm takes the way that is
        quickest from where it stands then. False when `until(q)` stopped it on the way
        (the arm holds there)."""
        s = self.settings
        self._escape_contact(io, attached)
        for replan in range(s.stall_replans + 1):
            stall = s.stall_replan_s if replan < s.stall_replans else None
            legs, _duration = self._fastest_move(q_goal, speed, io, attached)
            try:
                for index, plan in enumerate(legs):
                    if index > 0:
                        try:
                            plan = point_to_point(io.arm_positions(), plan.positions[-1],
                                                  self.kin.limits, speed_scale=speed)
                        except TrajectoryError as exc:
                            raise SkillStopped(Outcome.UNREACHABLE, str(exc)) from exc
                    if io.execute(plan, stall_after_s=stall, until=until) is False:
                        return False
                return True
            except MotionStalled:
                continue  # the IO logged why
        return True

    def _escape_contact(self, io: RobotIO, attached: AttachedBox | None) -> None:
        """An arm that stands touching something (a pick that pressed a finger onto the
        fixture) has no collision-free joint path from there: move straight up out of
        exactly those contacts first (else every later skill failed, measured: an episode
        ended with the arm stuck on the fixture for its last 60 s)."""
        q = io.arm_positions()
        touching = self.checker.check_configuration(q, io.gripper_width() / 2.0,
                                                    attached=attached)
        if not touching:
            return
        tcp, quat = self.tcp_world(q)
        self._move_linear(tcp + np.array([0.0, 0.0, self.settings.escape_height]), quat,
                          self.settings.linear_speed_scale, io,
                          allow=tuple((c.robot_link, c.obstacle) for c in touching),
                          attached=attached)

    def _fastest_move(self, q_goal: np.ndarray, speed: float, io: RobotIO,
                      attached: AttachedBox | None = None, q_start: np.ndarray | None = None,
                      fingers: float | None = None
                      ) -> tuple[list[JointTrajectoryPlan], float]:
        """The legs of the collision-free way to `q_goal` that takes least time as executed
        (near people the supervisor slows a motion down where it passes them): straight in
        joint space, the TCP on a straight line (the arm does not swing out), or via home;
        when none of these is free, one joint first and then the rest, else a way searched
        round what is in between; and that time (s). From where the arm stands, or from
        `q_start` with `fingers` (a way planned ahead)."""
        q_start = io.arm_positions() if q_start is None else q_start
        fingers = io.gripper_width() / 2.0 if fingers is None else fingers
        options: list[list[JointTrajectoryPlan]] = []
        last_reason = ""

        def add(waypoints: list[np.ndarray]) -> None:
            nonlocal last_reason
            collisions = self.checker.check_path(np.array(waypoints), attached=attached,
                                                 fingers=fingers)
            if collisions:
                hit = collisions[0].contacts[0]
                last_reason = f"{hit.robot_link} would hit {hit.obstacle}"
                return
            try:
                options.append([point_to_point(a, b, self.kin.limits, speed_scale=speed)
                                for a, b in zip(waypoints[:-1], waypoints[1:], strict=True)])
            except TrajectoryError as exc:
                raise SkillStopped(Outcome.UNREACHABLE, str(exc)) from exc

        add([q_start, q_goal])
        add([q_start, np.array(HOME_POSITIONS), q_goal])
        line = self._tcp_line_to(q_start, q_goal, speed, attached, fingers)
        if line is not None:
            options.append([line])
        # else one joint first, then the rest (an arm folded into a shelf's mouth unbends
        # its elbow before it swings: straight, its hand met the base's column)
        for j in range(len(q_start)):
            if options:
                break
            add([q_start, np.where(np.arange(len(q_start)) == j, q_goal, q_start), q_goal])
        if not options and not any(self.checker.check_configuration(
                q, fingers, attached=attached) for q in (q_start, q_goal)):
            # a way round what is in between, searched (joint_planner.py)
            way = connect(q_start, q_goal, lambda a, b: not self.checker.check_path(
                np.array([a, b]), attached=attached, fingers=fingers), self.kin.limits.lower,
                self.kin.limits.upper, np.random.default_rng(0))
            if way is not None:
                add(way)
        if not options:
            raise SkillStopped(Outcome.UNREACHABLE,
                               f"no collision-free joint path: {last_reason}")
        timed = [(plans, sum(io.expected_duration(p) for p in plans)) for plans in options]
        return min(timed, key=lambda option: option[1])

    def _tcp_line_to(self, q_start: np.ndarray, q_goal: np.ndarray, speed: float,
                     attached: AttachedBox | None, fingers: float
                     ) -> JointTrajectoryPlan | None:
        """A plan moving the TCP straight to its pose at `q_goal` and ending at `q_goal`;
        None when the line needs another arm configuration or hits something."""
        goal_position, goal_quat = self.ik.forward(q_goal)
        try:
            path = linear_path(self.ik, q_start, goal_position, goal_quat)
        except CartesianPathError:
            return None
        if float(np.max(np.abs(path.qs[-1] - q_goal))) > LINE_END_TOLERANCE_RAD:
            return None
        try:
            plan = time_parameterize(np.vstack([path.qs, q_goal]), self.kin.limits,
                                     speed_scale=speed)
        except TrajectoryError:
            return None
        if self.checker.check_path(plan.positions, attached=attached, fingers=fingers):
            return None
        return plan

    def _move_linear(self, position: np.ndarray, quat: np.ndarray, speed: float, io: RobotIO,
                     allow: tuple = (), attached: AttachedBox | None = None,
                     tcp_speed: float | None = None, force_limit_n: float | None = None
                     ) -> None:
        q_start = io.arm_positions()
        base_pos, base_quat = self.to_base(position, quat)
        try:
            path = linear_path(self.ik, q_start, base_pos, base_quat)
        except CartesianPathError as exc:
            raise SkillStopped(Outcome.UNREACHABLE, f"straight line to "
                               f"{np.round(position, 3).tolist()} not feasible: {exc}") from exc
        self._follow(path.qs, speed, io, allow, attached, tcp_speed, force_limit_n)

    def _follow(self, qs: np.ndarray, speed: float, io: RobotIO, allow: tuple = (),
                attached: AttachedBox | None = None, tcp_speed: float | None = None,
                force_limit_n: float | None = None) -> None:
        """Execute a TCP line already solved as joint samples `qs` (qs[0]: where the arm
        stands), timed to the joint and TCP speed limits."""
        try:
            plan = time_parameterize(qs, self.kin.limits, speed_scale=speed,
                                     tcp_position=lambda q: self.kin.tcp_pose(q)[0],
                                     max_tcp_speed=tcp_speed or 0.25)
        except TrajectoryError as exc:
            raise SkillStopped(Outcome.UNREACHABLE, str(exc)) from exc
        # The timed path is a spline through the IK samples: check what will be executed.
        collisions = self.checker.check_path(plan.positions, attached=attached, allow=allow,
                                             fingers=io.gripper_width() / 2.0)
        if collisions:
            hit = collisions[0].contacts[0]
            raise SkillStopped(Outcome.UNREACHABLE, f"straight line blocked: {hit.robot_link}"
                               f" would hit {hit.obstacle}")
        io.execute(plan, force_limit_n=force_limit_n)

    def _retreat(self, io: RobotIO, height: float, attached: AttachedBox | None = None
                 ) -> None:
        """Straight up by `height` from where the TCP is (with a held part: `attached`)."""
        tcp, quat = self.tcp_world(io.arm_positions())
        self._move_linear(tcp + np.array([0.0, 0.0, height]), quat,
                          self.settings.linear_speed_scale, io,
                          allow=self.contact_allowances, attached=attached)

    def _tcp_error(self, request: SkillRequest, io: RobotIO) -> float:
        tcp, _ = self.tcp_world(io.arm_positions())
        return float(np.linalg.norm(tcp - request.position))

    def _correct(self, request: SkillRequest, io: RobotIO) -> float:
        """Close the loop once: if the measured TCP misses the target, move the rest."""
        error = self._tcp_error(request, io)
        if error > self.settings.position_tolerance_m * 0.5:
            self._move_linear(request.position, request.quat_wxyz,
                              self.settings.linear_speed_scale, io)
            error = self._tcp_error(request, io)
        if error > self.settings.position_tolerance_m:
            raise SkillStopped(Outcome.FAILED, f"target missed by {error * 1000:.1f} mm "
                               f"(tolerance {self.settings.position_tolerance_m * 1000:.0f} mm)")
        return error

    def _report(self, io: RobotIO, outcome: Outcome, reason: str,
                request: SkillRequest) -> SkillReport:
        q = io.arm_positions()
        tcp, quat = self.tcp_world(q)
        error = float("nan")
        if request.position is not None and request.skill == "move_to_pose":
            error = float(np.linalg.norm(tcp - request.position))
        return SkillReport(outcome, reason, tcp, quat, error, io.gripper_width())
