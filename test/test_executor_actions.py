"""The executor through the ROS graph: simulation, TF publisher and executor run as real
processes, and this test talks to the `execute_skill` action like any client would.

What the executor claims is not trusted: physical results are judged from the simulation's
ground truth (`/sim/ground_truth/objects`) and its `joint_states`, with forward kinematics of
the robot model computed here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.task import Future
from std_msgs.msg import Bool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from foresight_common import contract
from foresight_common.cell_layout import load_cell_layout
from foresight_common.conversions import sec_to_duration, time_to_sec
from foresight_common.robot_model import ARM_JOINTS, RobotKinematics
from foresight_interfaces.action import ExecuteSkill
from foresight_interfaces.msg import SkillOutcome
from foresight_planner.assembly_plan import (
    SkillStep,
    load_skill_library,
    plan_assembly,
    tool_down_quat,
)

if TYPE_CHECKING:
    from conftest import Probe, Stack

pytestmark = pytest.mark.slow

ROBOT_BASE = np.array([0.0, 0.0, 0.75])  # panda_link0 in the world (industrial_cell.yaml)
SKILL_NAMES = ("move_to_pose", "pick", "place", "insert", "open_gripper", "close_gripper",
               "go_home")
OUTCOMES = {value: name for name, value in vars(SkillOutcome).items()
            if name.isupper() and isinstance(value, int)}
# Reachable tool-down poses: 10 cm above the fixture, and far to the right of the home pose
# (a ~1 rad joint move: long when slowed down).
ABOVE_FIXTURE = np.array([0.50, 0.05, 0.90])
FAR_RIGHT = np.array([0.35, -0.35, 0.95])
TOOL_DOWN = np.array(tool_down_quat(0.0))
STILL_RAD_S = 0.02  # joint speed below which the arm counts as stopped


# --- helpers ------------------------------------------------------------------------------
def make_goal(skill: str, position: np.ndarray | None = None,
              quat: np.ndarray | None = TOOL_DOWN, speed_scale: float = 0.0,
              frame: str = contract.WORLD_FRAME, gripper_width: float = 0.0,
              object_height: float = 0.0, object_id: str = "", place_id: str = ""
              ) -> ExecuteSkill.Goal:
    goal = ExecuteSkill.Goal(skill=skill, speed_scale=speed_scale, gripper_width=gripper_width,
                             object_height=object_height, object_id=object_id,
                             place_id=place_id)
    goal.target_pose.header.frame_id = frame
    if position is not None:
        p = goal.target_pose.pose.position
        p.x, p.y, p.z = (float(v) for v in position)
    if quat is not None:
        o = goal.target_pose.pose.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in quat)
    return goal


def step_goal(step: SkillStep) -> ExecuteSkill.Goal:
    return make_goal(step.skill, np.array(step.position), np.array(step.quat_wxyz),
                     speed_scale=step.speed_scale, gripper_width=step.gripper_width,
                     object_height=step.object_height, object_id=step.object_id,
                     place_id=step.place_id)


def outcome_name(result: ExecuteSkill.Result) -> str:
    return OUTCOMES.get(result.outcome.value, str(result.outcome.value))


@dataclass
class Sample:
    """One joint state of the arm: sim time stamp, positions and velocities (rad, rad/s)."""

    stamp: float
    q: np.ndarray
    v: np.ndarray


class Cell:
    """The running stack plus the probe's action client and its views of the wire."""

    def __init__(self, stack: Stack, probe: Probe) -> None:
        self.stack = stack
        self.probe = probe
        self.kin = RobotKinematics()
        for topic in (contract.JOINT_STATES, contract.GT_OBJECTS, contract.DIAGNOSTICS,
                      contract.CLOCK_TOPIC):
            probe.subscribe(topic, keep=3000)
        self.client = ActionClient(probe.node, ExecuteSkill, contract.EXECUTE_SKILL.name)

    # --- waiting ------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        self.probe.wait_for(predicate, timeout, what, self.stack)

    def await_future(self, future: Future, timeout: float, what: str) -> Any:
        self.wait_for(future.done, timeout, what)
        return future.result()

    def ready(self) -> None:
        """Action server up and simulated time running with joint states flowing."""
        deadline = time.monotonic() + 60.0
        while not self.client.wait_for_server(timeout_sec=1.0):
            self.stack.runner.check()
            if time.monotonic() > deadline:
                pytest.fail("execute_skill action server not up after 60 s\n" +
                            self.stack.output())
        # The executor subscribed to joint_states before its action server came up; a second
        # of simulated time lets its first joint states arrive before the first goal.
        self.wait_for(lambda: self.sim_time() > 1.0, 60, "simulated time running")

    # --- what crosses the wire ------------------------------------------------------------
    def arm_samples(self) -> list[Sample]:
        samples = []
        for msg in self.probe.messages(contract.JOINT_STATES.name):
            lookup_q = dict(zip(msg.name, msg.position, strict=False))
            lookup_v = dict(zip(msg.name, msg.velocity, strict=False))
            samples.append(Sample(time_to_sec(msg.header.stamp),
                                  np.array([lookup_q[j] for j in ARM_JOINTS]),
                                  np.array([lookup_v.get(j, 0.0) for j in ARM_JOINTS])))
        return samples

    def arm(self) -> Sample:
        return self.arm_samples()[-1]

    def sim_time(self) -> float:
        messages = self.probe.messages(contract.JOINT_STATES.name)
        return time_to_sec(messages[-1].header.stamp) if messages else 0.0

    def clock(self) -> float:
        messages = self.probe.messages(contract.CLOCK_TOPIC.name)
        return time_to_sec(messages[-1].clock) if messages else 0.0

    def tcp(self, q: np.ndarray) -> np.ndarray:
        """TCP in the world by forward kinematics of the robot model (base yaw 0)."""
        return self.kin.tcp_pose(q)[0] + ROBOT_BASE

    def objects(self) -> dict[str, Any]:
        messages = self.probe.messages(contract.GT_OBJECTS.name)
        return {} if not messages else {o.name: o for o in messages[-1].objects}

    def diagnostics(self, status_prefix: str) -> dict[str, float] | None:
        """Numeric key/values of the latest diagnostics status whose name starts with the
        prefix (None: no such status seen yet)."""
        for msg in reversed(self.probe.messages(contract.DIAGNOSTICS.name)):
            for status in msg.status:
                if status.name.startswith(status_prefix):
                    values = {}
                    for kv in status.values:
                        try:
                            values[kv.key] = float(kv.value)
                        except ValueError:
                            continue
                    return values
        return None

    def count(self, status_prefix: str, key_prefix: str) -> float:
        values = self.diagnostics(status_prefix) or {}
        return sum(v for k, v in values.items() if k.startswith(key_prefix))

    # --- the action ------------------------------------------------------------------------
    def send(self, goal: ExecuteSkill.Goal) -> Any:
        handle = self.await_future(self.client.send_goal_async(goal), 10.0,
                                   f"goal '{goal.skill}' accepted or refused")
        assert handle.accepted, f"goal '{goal.skill}' was not accepted by the server"
        return handle

    def result(self, handle: Any, timeout: float) -> tuple[int, ExecuteSkill.Result]:
        response = self.await_future(handle.get_result_async(), timeout, "the skill's result")
        return response.status, response.result

    def run(self, goal: ExecuteSkill.Goal, timeout: float = 40.0
            ) -> tuple[int, ExecuteSkill.Result]:
        return self.result(self.send(goal), timeout)

    def close(self) -> None:
        self.client.destroy()


@pytest.fixture
def cell(launch_stack: Callable[..., Stack], probe: Probe) -> Iterator[Cell]:
    """Simulation (camera off: not needed here), TF publisher and executor, no planner."""
    stack = launch_stack(nodes=("simulation", "tf_publisher", "executor"), camera_rate_hz=0)
    c = Cell(stack, probe)
    c.ready()
    yield c
    c.close()


def nominal_steps() -> tuple[SkillStep, SkillStep]:
    """Pick and insert of the smoke family's tray part at its nominal poses."""
    from conftest import bringup_share

    config = bringup_share() / "config"
    layout = load_cell_layout(config / "cells" / "industrial_cell.yaml")
    library = load_skill_library(config / "skills" / "industrial_assembly.yaml")
    (item,) = plan_assembly(layout, [("slot_0", "peg_round")], library)
    pick, insert = item.steps
    assert (pick.skill, insert.skill) == ("pick", "insert")
    return pick, insert


def assert_outcome(status_result: tuple[int, ExecuteSkill.Result], expected: str) -> None:
    _, result = status_result
    assert outcome_name(result) == expected, \
        f"outcome {outcome_name(result)} (expected {expected}): {result.reason}"
    assert result.reason, "every outcome must come with a reason"


def expect_refusal(status_result: tuple[int, ExecuteSkill.Result], expected: str
                   ) -> ExecuteSkill.Result:
    """A refused goal ends with the expected outcome and a reason (never an empty result)."""
    status, result = status_result
    assert status == GoalStatus.STATUS_ABORTED, f"status {status}"
    assert_outcome(status_result, expected)
    return result


def still_within(cell: Cell, since: float, seconds: float) -> tuple[float, float]:
    """Wait until `seconds` of sim time after `since` have been observed; return the largest
    joint speed and the largest position change over that window."""
    cell.wait_for(lambda: cell.sim_time() >= since + seconds, 10 + 3 * seconds,
                  f"{seconds} s of simulated time")
    window = [s for s in cell.arm_samples() if since <= s.stamp <= since + seconds]
    assert len(window) >= 10, f"only {len(window)} joint states in {seconds} s"
    q = np.array([s.q for s in window])
    v = np.array([s.v for s in window])
    # np.max propagates NaN, so a NaN joint state fails the callers' "< limit" checks.
    return float(np.max(np.abs(v))), float(np.max(np.abs(q - q[0])))


def stopped_by(cell: Cell, since: float, limit_s: float = 1.0) -> float:
    """Sim time after `since` at which the arm's joint speeds fell below STILL_RAD_S and
    stayed there for the rest of what was observed (fails if later than `limit_s`)."""
    cell.wait_for(lambda: cell.sim_time() >= since + limit_s + 1.0, 15,
                  "joint states after the stop")
    samples = [s for s in cell.arm_samples() if s.stamp >= since]
    moving = [s.stamp for s in samples if not np.max(np.abs(s.v)) < STILL_RAD_S]
    stop = (max(moving) if moving else since) - since
    assert stop <= limit_s, f"arm still moving {stop:.2f} s (sim) after the stop"
    return stop


def start_long_move(cell: Cell, target: np.ndarray = FAR_RIGHT) -> Any:
    """Send a slow move (about 8 s) and return its goal handle once the arm really moves."""
    handle = cell.send(make_goal("move_to_pose", target, speed_scale=0.1))
    cell.wait_for(lambda: np.max(np.abs(cell.arm().v)) > 0.05, 15, "the arm moving")
    return handle


# --- 1. pick and insert -----------------------------------------------------------------
def test_pick_lifts_the_tray_part_and_insert_seats_it(cell: Cell) -> None:
    """The core promise of the executor: a part given by its pose is picked, lifted and
    inserted into its hole, as the simulation (not the executor) sees it."""
    pick, insert = nominal_steps()
    cell.wait_for(lambda: any(o.kind == "part" and o.status == "in_tray"
                              for o in cell.objects().values()), 10, "ground truth")
    (name,) = [n for n, o in cell.objects().items() if o.kind == "part"
               and o.status == "in_tray"]
    start_z = cell.objects()[name].pose.position.z

    assert_outcome(cell.run(step_goal(pick)), "SUCCEEDED")
    cell.wait_for(lambda: cell.objects()[name].status == "held", 3,
                  f"{name} held (ground truth: {cell.objects()[name].status})")
    lifted = cell.objects()[name].pose.position.z - start_z
    assert lifted >= 0.05, f"{name} lifted only {lifted * 100:.1f} cm"

    assert_outcome(cell.run(step_goal(insert)), "SUCCEEDED")
    cell.wait_for(lambda: cell.objects()[name].status == "seated", 3,
                  f"{name} seated (ground truth: {cell.objects()[name].status})")


# --- 2. move_to_pose accuracy ------------------------------------------------------------------
def test_move_to_pose_reaches_the_target_within_5_mm(cell: Cell) -> None:
    """Targets must be reached within 5 mm (gravity sag handled), checked against the
    simulated joints, not only against what the executor reports."""
    start_tcp = cell.tcp(cell.arm().q)
    assert np.linalg.norm(start_tcp - ABOVE_FIXTURE) > 0.1  # the move is not trivial
    status, result = cell.run(make_goal("move_to_pose", ABOVE_FIXTURE))
    assert_outcome((status, result), "SUCCEEDED")
    assert status == GoalStatus.STATUS_SUCCEEDED
    p = result.final_tcp_pose.position
    claimed = np.array([p.x, p.y, p.z])
    assert np.linalg.norm(claimed - ABOVE_FIXTURE) <= 0.005, claimed
    assert result.position_error_m <= 0.005
    # Independently: the simulated joints after the arm settles, through forward kinematics.
    now = cell.sim_time()
    cell.wait_for(lambda: cell.sim_time() > now + 0.3, 10, "joint states after the move")
    q = cell.arm().q
    measured = cell.tcp(q)
    error = float(np.linalg.norm(measured - ABOVE_FIXTURE))
    assert error <= 0.005, f"TCP {measured.round(4)} is {error * 1000:.1f} mm off the target"
    # Tool pointing down: the TCP z axis is world -z within 2 degrees.
    tool_z = cell.kin.tcp_pose(q)[1][:, 2]
    assert math.degrees(math.acos(min(1.0, -tool_z[2]))) < 2.0


# --- 3. cancel -------------------------------------------------------------------------------
def test_cancel_stops_the_arm_before_the_target(cell: Cell) -> None:
    """A canceled goal must end CANCELED and the arm must stop where it is, at once."""
    handle = start_long_move(cell)
    time.sleep(1.0)
    cancel_at = cell.sim_time()
    cell.await_future(handle.cancel_goal_async(), 10, "the cancel response")
    status, result = cell.result(handle, 15)
    assert_outcome((status, result), "CANCELED")
    assert status == GoalStatus.STATUS_CANCELED
    stopped_by(cell, cancel_at, 1.0)
    tcp = cell.tcp(cell.arm().q)
    assert np.linalg.norm(tcp - FAR_RIGHT) > 0.05, "the arm reached the target anyway"


# --- 4. e-stop ----------------------------------------------------------------------------------
def test_estop_stops_the_arm_latches_and_needs_an_explicit_reset(cell: Cell) -> None:
    """E-stop: the running goal ends SAFETY_STOP, the arm holds, new goals are refused until
    the input is released and the stop is reset explicitly."""
    estop = cell.probe.node.create_publisher(contract.ESTOP.type, contract.ESTOP.name,
                                             contract.ESTOP.qos)
    reset = cell.probe.node.create_client(contract.RESET_ESTOP.type, contract.RESET_ESTOP.name)
    assert reset.wait_for_service(timeout_sec=10.0), "reset service missing"
    handle = start_long_move(cell)
    time.sleep(1.0)
    pressed_at = cell.sim_time()
    estop.publish(Bool(data=True))
    assert_outcome(cell.result(handle, 15), "SAFETY_STOP")
    stop = stopped_by(cell, pressed_at, 1.0)
    _, drift = still_within(cell, pressed_at + stop + 0.2, 1.0)
    assert drift < 2e-3, f"arm drifted {drift:.4f} rad while e-stopped"
    assert np.linalg.norm(cell.tcp(cell.arm().q) - FAR_RIGHT) > 0.05

    q_held = cell.arm().q
    status, refused = cell.run(make_goal("move_to_pose", ABOVE_FIXTURE))
    assert status != GoalStatus.STATUS_SUCCEEDED, "a goal ran while the e-stop was engaged"
    expect_refusal((status, refused), "REJECTED")
    assert "e-stop" in refused.reason.lower(), refused.reason
    assert np.max(np.abs(cell.arm().q - q_held)) < 2e-3, "the arm moved while e-stopped"

    response = cell.await_future(reset.call_async(contract.RESET_ESTOP.type.Request()), 10,
                                 "reset while pressed")
    assert not response.success, "reset must fail while the e-stop input is still active"
    estop.publish(Bool(data=False))
    time.sleep(0.5)  # the release reaches the executor (reliable, same publisher)
    response = cell.await_future(reset.call_async(contract.RESET_ESTOP.type.Request()), 10,
                                 "reset after release")
    assert response.success, response.message
    assert_outcome(cell.run(make_goal("move_to_pose", ABOVE_FIXTURE)), "SUCCEEDED")
    assert np.linalg.norm(cell.tcp(cell.arm().q) - ABOVE_FIXTURE) <= 0.005


def test_a_stop_leaves_an_arm_at_rest_alone(cell: Cell) -> None:
    """An arm that holds still (no motion running) is already stopped: a stop sends the
    controller nothing (holding where the arm is measured would move the reference by its
    sag: a 0.02 m/s blip next to a person)."""
    estop = cell.probe.node.create_publisher(contract.ESTOP.type, contract.ESTOP.name,
                                             contract.ESTOP.qos)
    cell.probe.subscribe(contract.ARM_TRAJECTORY)
    q_rest = cell.arm().q
    pressed_at = cell.sim_time()
    estop.publish(Bool(data=True))
    cell.wait_for(lambda: cell.count("executor", "estop") >= 1, 10, "the e-stop counted")
    _, drift = still_within(cell, pressed_at, 1.0)
    assert drift < 1e-3 and np.max(np.abs(cell.arm().q - q_rest)) < 1e-3
    assert cell.probe.messages(contract.ARM_TRAJECTORY.name) == [], \
        "a stop was sent to an arm at rest"
    estop.publish(Bool(data=False))


# --- 5. preemption -----------------------------------------------------------------------------
def test_new_goal_preempts_the_running_one(cell: Cell) -> None:
    """A new goal replaces the running one: the old ends PREEMPTED, the new one runs."""
    handle_a = start_long_move(cell)
    time.sleep(1.0)
    handle_b = cell.send(make_goal("move_to_pose", ABOVE_FIXTURE))
    status_a, result_a = cell.result(handle_a, 15)
    assert_outcome((status_a, result_a), "PREEMPTED")
    assert_outcome(cell.result(handle_b, 40), "SUCCEEDED")
    now = cell.sim_time()
    cell.wait_for(lambda: cell.sim_time() > now + 0.3, 10, "joint states after the move")
    tcp = cell.tcp(cell.arm().q)
    assert np.linalg.norm(tcp - ABOVE_FIXTURE) <= 0.005, tcp


# --- 6. bad goals -------------------------------------------------------------------------------
def test_bad_goals_are_refused_with_a_reason_and_the_arm_holds(cell: Cell) -> None:
    """Malformed or impossible goals end with an outcome and a reason, move nothing, and
    are counted on /diagnostics."""
    cell.wait_for(lambda: cell.diagnostics("executor:") is not None, 5, "executor diagnostics")
    rejected_before = cell.count("executor:", "rejected.")
    unreachable_before = cell.count("executor:", "skills.move_to_pose.unreachable")
    q_before = cell.arm().q
    since = cell.sim_time()

    result = expect_refusal(cell.run(make_goal("dance", ABOVE_FIXTURE)), "REJECTED")
    assert all(name in result.reason for name in SKILL_NAMES), result.reason

    result = expect_refusal(cell.run(make_goal("move_to_pose", np.array([0.5, math.nan, 0.9]))),
                            "REJECTED")
    assert "nan" in result.reason.lower(), result.reason

    result = expect_refusal(cell.run(make_goal("move_to_pose", np.array([3.0, 0.0, 0.9]))),
                            "UNREACHABLE")
    assert "unreachable" in result.reason.lower(), result.reason

    result = expect_refusal(cell.run(make_goal("move_to_pose", ABOVE_FIXTURE,
                                               frame="panda_link0")), "REJECTED")
    assert "panda_link0" in result.reason, result.reason

    cell.wait_for(lambda: cell.sim_time() > since + 0.5, 10, "joint states")
    window = [s for s in cell.arm_samples() if s.stamp >= since]
    moved = float(np.max(np.abs(np.array([s.q for s in window]) - q_before)))
    assert moved < 1e-3, f"the arm moved {moved:.4f} rad for refused goals"
    cell.wait_for(lambda: cell.count("executor:", "rejected.") >= rejected_before + 3, 5,
                  f"3 more rejected goals on /diagnostics: {cell.diagnostics('executor:')}")
    cell.wait_for(lambda: cell.count("executor:", "skills.move_to_pose.unreachable")
                  >= unreachable_before + 1, 5,
                  f"the unreachable goal on /diagnostics: {cell.diagnostics('executor:')}")


# --- 7. malformed trajectories -----------------------------------------------------------------
def malformed_trajectories(q: np.ndarray) -> dict[str, JointTrajectory]:
    """Trajectories a controller must refuse; each would move the arm if it were obeyed."""
    def trajectory(names: list[str], points: list[tuple[float, list[float]]]
                   ) -> JointTrajectory:
        msg = JointTrajectory(joint_names=names)
        for t, positions in points:
            msg.points.append(JointTrajectoryPoint(positions=positions,
                                                   time_from_start=sec_to_duration(t)))
        return msg

    shifted = (q + 0.3).tolist()
    with_nan = shifted.copy()
    with_nan[3] = math.nan
    beyond = q.tolist()
    beyond[0] = 3.5  # panda_joint1 is limited to about +-2.9 rad
    return {
        "unknown joints": trajectory([f"joint_{i}" for i in range(1, 8)], [(2.0, shifted)]),
        "NaN": trajectory(list(ARM_JOINTS), [(2.0, with_nan)]),
        "beyond limits": trajectory(list(ARM_JOINTS), [(5.0, beyond)]),
        "non-increasing times": trajectory(list(ARM_JOINTS),
                                           [(2.0, shifted), (2.0, q.tolist()),
                                            (1.5, shifted)]),
    }


def test_malformed_trajectories_are_rejected_and_the_arm_holds(cell: Cell) -> None:
    """The simulated controller, like joint_trajectory_controller, refuses malformed
    commands, counts them and keeps the arm where it is; the simulation keeps running."""
    publisher = cell.probe.node.create_publisher(contract.ARM_TRAJECTORY.type,
                                                 contract.ARM_TRAJECTORY.name,
                                                 contract.ARM_TRAJECTORY.qos)
    cell.wait_for(lambda: publisher.get_subscription_count() > 0, 10,
                  "the simulation subscribed to arm commands")
    cell.wait_for(lambda: cell.diagnostics("simulation: simulation") is not None, 5,
                  "simulation diagnostics")
    key = "rejected.joint_trajectory"
    for what, msg in malformed_trajectories(cell.arm().q).items():
        before = cell.count("simulation: simulation", key)
        clock_before = cell.clock()
        since = cell.sim_time()
        publisher.publish(msg)
        _, drift = still_within(cell, since, 1.0)
        assert drift < 2e-3, f"{what}: the arm moved {drift:.4f} rad"
        cell.wait_for(lambda b=before: cell.count("simulation: simulation", key) >= b + 1, 5,
                      f"{what}: {key} counted on /diagnostics")
        assert cell.clock() > clock_before + 0.5, f"{what}: the simulation clock stopped"
    assert cell.stack.runner.running() == ["simulation", "tf_publisher", "executor"]


# --- RViz: the robot's description and the executor's markers ---------------------------------
def test_rviz_gets_the_robot_description_and_the_skill_in_markers(cell: Cell) -> None:
    """A late subscriber gets the latched URDF (links as the TF publisher's frames, meshes
    on disk); while a skill runs, executor/markers name it and show its target."""
    import xml.etree.ElementTree as ET
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    cell.probe.subscribe(contract.ROBOT_DESCRIPTION)
    cell.probe.subscribe(contract.EXECUTOR_MARKERS)
    cell.wait_for(lambda: cell.probe.messages(contract.ROBOT_DESCRIPTION.name), 10,
                  "/robot_description")
    robot = ET.fromstring(cell.probe.messages(contract.ROBOT_DESCRIPTION.name)[-1].data)
    links = {link.get("name") for link in robot.findall("link")}
    assert {"panda_link0", "panda_link7", "panda_hand", "panda_leftfinger"} <= links
    meshes = [m.get("filename") for m in robot.iter("mesh")]
    assert meshes and all(Path(unquote(urlparse(m).path)).is_file() for m in meshes)

    def skill_texts() -> list[str]:
        return [m.text for array in cell.probe.messages(contract.EXECUTOR_MARKERS.name)
                for m in array.markers if m.ns == "skill" and m.action == m.ADD]

    handle = start_long_move(cell)
    cell.wait_for(lambda: any(t.startswith("move_to_pose") for t in skill_texts()), 10,
                  "the running skill in executor/markers")
    targets = [m for array in cell.probe.messages(contract.EXECUTOR_MARKERS.name)
               for m in array.markers if m.ns == "target" and m.action == m.ADD]
    p = targets[-1].pose.position
    np.testing.assert_allclose([p.x, p.y, p.z], FAR_RIGHT, atol=1e-6)
    cell.result(handle, 40.0)
