"""Planner node (decision): takes a task, decides from the world model's tracks and
predictions which part to pick, into which hole, when and where, sends skill goals to the
executor, verifies each step by perception and the skill outcome, retries or replans.

`decision_mode: reactive` is this same node with prediction horizon 0 (see decisions.py):
the only difference between the modes, so their comparison is fair.

Subscribes: world_model/objects, world_model/people, world_model/predictions; with
            `room_file` (home care) also odom, localization/pose, joint_states and
            safety_scan (the base scan: where the furniture really stands)
Actions:    run_task (foresight_interfaces/RunTask), server
            execute_skill (foresight_interfaces/ExecuteSkill), client; home care also
            navigate_to_pose (foresight_interfaces/NavigateToPose), client
Publishes:  task_events (foresight_interfaces/TaskEvent), /diagnostics; home care also
            planner/help_request (foresight_interfaces/HelpRequest, latched)
Parameters: see PlannerParams
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from foresight_common import contract
from foresight_common.cell_layout import load_cell_layout
from foresight_common.conversions import (
    pose_to_msg,
    sec_to_time,
    vector_to_msg,
    yaw_to_quat_wxyz,
)
from foresight_common.furniture_fit import FurnitureEstimate
from foresight_common.home_tasks import HOME_TASKS, find_home_task
from foresight_common.laser import scan_ranges, scan_xy
from foresight_common.mobile_manipulator import BASE_SCANNER
from foresight_common.node_support import (
    DiagnosticsReporter,
    async_sleep,
    create_publisher,
    create_subscription,
    declare_parameters,
    load_file_parameter,
    run_node,
)
from foresight_common.occupancy import room_map
from foresight_common.params import param
from foresight_common.planar import MapPose, compose
from foresight_common.room_layout import load_room_layout
from foresight_common.self_filter import ArmSelfFilter
from foresight_interfaces.action import ExecuteSkill, RunTask
from foresight_interfaces.msg import HelpRequest, SkillOutcome, TaskEvent
from foresight_planner.assembly_plan import (
    HOME_SKILLS,
    UNDERSTOOD_TASKS,
    load_skill_library,
    tool_down_quat,
    understood,
)
from foresight_planner.decisions import (
    FAILED,
    HELD,
    PREEMPTED,
    REFUSED,
    SEATED,
    Choice,
    DecisionConfig,
    DecisionMaker,
    Finished,
    GetReady,
    TaskMemory,
    Wait,
    WorldSnapshot,
)
from foresight_planner.home_plan import HomePlanConfig, class_sizes
from foresight_planner.home_runner import CANCELED, DONE, HomeTaskRunner, StepResult
from foresight_planner.world_view import WorldView

#: A pick may give way to a conveyor part only before the arm goes down to the part: one
#: canceled lower down leaves the arm among the tray's parts (the next move would sweep them).
PREEMPTIBLE_PICK_PHASES = ("", "opening", "approach")

OUTCOME_NAMES = {SkillOutcome.SUCCEEDED: "SUCCEEDED", SkillOutcome.CANCELED: "CANCELED",
                 SkillOutcome.PREEMPTED: "PREEMPTED", SkillOutcome.REJECTED: "REJECTED",
                 SkillOutcome.UNREACHABLE: "UNREACHABLE", SkillOutcome.SAFETY_STOP: "SAFETY_STOP",
                 SkillOutcome.TIMEOUT: "TIMEOUT", SkillOutcome.FAILED: "FAILED"}


def outcome_name(value: int) -> str:
    return OUTCOME_NAMES.get(value, str(value))


@dataclass(frozen=True)
class PlannerParams:
    cell_file: str = field(default="", metadata=param(
        "Cell layout YAML: the assembly task (exactly one of cell_file and room_file)"))
    room_file: str = field(default="", metadata=param(
        "Room layout YAML: the home-care tasks with a mobile base in this room"))
    class_config_file: str = field(default="", metadata=param(
        "Perception's class YAML: the nominal object sizes (home-care tasks)"))
    frame_id: str = field(default="world", metadata=param(
        "Frame of skill targets (world: the cell; map: a room)", non_empty=True))
    stand_off_m: float = field(default=0.50, metadata=param(
        "Home: the base stands this far from a surface's edge to work on it (m)", low=0.3,
        high=1.0))
    arm_reach_m: float = field(default=0.60, metadata=param(
        "Home: farthest a target may be from the arm's base, horizontally (m)", low=0.2,
        high=0.85))
    skill_library_file: str = field(default="", metadata=param(
        "Skill library YAML (config/skills/...)", non_empty=True))
    decision_mode: str = field(default="world_model", metadata=param(
        "world_model: act on predictions; reactive: prediction horizon 0",
        choices=("world_model", "reactive")))
    prediction_horizon_s: float = field(default=4.0, metadata=param(
        "How far ahead world_model mode looks (reactive always uses 0)", low=0.1, high=10.0))
    autostart_task: str = field(default="", metadata=param(
        "Task to start on its own once the executor is up ('' waits for run_task goals)"))
    executor_wait_s: float = field(default=120.0, metadata=param(
        "How long to wait for the executor's action server (s)", low=1.0, high=600.0))
    skill_timeout_s: float = field(default=90.0, metadata=param(
        "Timeout per skill goal (s)", low=1.0, high=600.0))
    task_timeout_s: float = field(default=175.0, metadata=param(
        "Give up the task after this long (s, node clock)", low=1.0, high=3600.0))
    tracks_max_age_s: float = field(default=1.0, metadata=param(
        "Tracks older than this are not acted on (s)", low=0.1, high=10.0))
    settle_s: float = field(default=0.6, metadata=param(
        "Wait after an insert before checking it by perception (s)", low=0.0, high=5.0))
    idle_poll_s: float = field(default=0.2, metadata=param(
        "How often to re-decide while waiting (s)", low=0.02, high=5.0))
    person_keepout_m: float = field(default=0.30, metadata=param(
        "Hands this close to a work target block it (m)", low=0.0, high=2.0))
    min_intercept_lead_s: float = field(default=2.0, metadata=param(
        "Lead time the arm needs above a moving part (s)", low=0.5, high=20.0))
    max_attempts: int = field(default=3, metadata=param(
        "Attempts per part before giving up on it", low=1, high=20))
    feed_wait_s: float = field(default=45.0, metadata=param(
        "world_model: the arm waits above the belt this long (s) after the task started or "
        "the last conveyor part appeared, for a part the fixture needs that nothing in view "
        "supplies (0: never)", low=0.0, high=600.0))
    buffer_xy: tuple[float, ...] = field(default=(0.30, -0.02), metadata=param(
        "Free spot on the bench where a part that would not go in is set down to be "
        "picked again (m, world); near the robot, far from the co-worker (at (0.60, 0.32) "
        "the supervisor held such a place next to the co-worker at rest for 78 s)",
        length=2, low=-2.0, high=2.0))
    warmup_s: float = field(default=2.0, metadata=param(
        "Watch the scene this long before the first decision (s)", low=0.0, high=60.0))
    finish_idle_s: float = field(default=40.0, metadata=param(
        "The task ends after this long with nothing left to do: more parts may still come "
        "on the conveyor (s)", low=0.0, high=600.0))


def decision_config(p: PlannerParams, layout, library) -> DecisionConfig:
    """The decision settings of a planner: `reactive` is `world_model` with prediction
    horizon 0 and nothing else changed (a test holds this)."""
    conveyor = layout.conveyor
    return DecisionConfig(
        prediction_horizon_s=p.prediction_horizon_s if p.decision_mode == "world_model"
        else 0.0,
        pick_zone_y=tuple(conveyor.pick_zone), conveyor_x=conveyor.start[0],
        conveyor_end_y=conveyor.end[1], min_intercept_lead_s=p.min_intercept_lead_s,
        person_keepout_m=p.person_keepout_m,
        grasp_depth_m=float(library.parameter("pick", "grasp_depth_m")),
        pregrasp_margin_m=float(library.parameter("pick", "pregrasp_margin_m")),
        max_attempts=p.max_attempts, feed_wait_s=p.feed_wait_s)


class PlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("planner")
        p = declare_parameters(self, PlannerParams)
        self.params = p
        if bool(p.cell_file) == bool(p.room_file):
            raise ValueError("set exactly one of cell_file (the assembly task) and room_file "
                             f"(the home-care tasks); got cell_file='{p.cell_file}', "
                             f"room_file='{p.room_file}'")
        self.home: HomeTaskRunner | None = None
        self._task_text = ""
        self._decided_on = 0.0  # stamp of the world the home task last read (s)
        if p.room_file:
            room = load_file_parameter("room_file", p.room_file, load_room_layout)
            self.library = load_file_parameter(
                "skill_library_file", p.skill_library_file,
                lambda path: load_skill_library(path, HOME_SKILLS))
            sizes = load_file_parameter("class_config_file", p.class_config_file,
                                        class_sizes)
            horizon = p.prediction_horizon_s if p.decision_mode == "world_model" else 0.0
            self.home = HomeTaskRunner(self, room, room_map(room), self.library, sizes,
                                       HomePlanConfig(standoff_m=p.stand_off_m,
                                                      reach_m=p.arm_reach_m), horizon)
            self.map_pose = MapPose()
            self.nav_client = ActionClient(self, contract.NAVIGATE_TO_POSE.type,
                                           contract.NAVIGATE_TO_POSE.name)
            self.pub_help = create_publisher(self, contract.HELP_REQUESTS)
            create_subscription(self, contract.ODOM, self.on_odom)
            create_subscription(self, contract.LOCALIZATION_POSE, self.on_localized)
            self.arm = ArmSelfFilter()        # where the TCP (and a held object) is
            create_subscription(self, contract.JOINT_STATES, self.on_joint_states)
            # the base scan: where the furniture really stands
            self.furniture_seen = FurnitureEstimate(room.furniture, room.size)
            self._scan = None
            create_subscription(self, contract.SAFETY_SCAN, self.on_scan)
            self.understood = tuple(t.text for t in HOME_TASKS)
        else:
            self.layout = load_file_parameter("cell_file", p.cell_file, load_cell_layout)
            self.library = load_file_parameter("skill_library_file", p.skill_library_file,
                                               load_skill_library)
            config = decision_config(p, self.layout, self.library)
            horizon = config.prediction_horizon_s
            self.decisions = DecisionMaker(self.layout, config)
            self.understood = UNDERSTOOD_TASKS
        self.view = WorldView()
        self.diagnostics = DiagnosticsReporter(self, "task planning")
        self.pub_events = create_publisher(self, contract.TASK_EVENTS)
        create_subscription(self, contract.OBJECT_TRACKS, self.view.on_objects)
        create_subscription(self, contract.PERSON_TRACKS, self.view.on_people)
        create_subscription(self, contract.PREDICTIONS, self.view.on_predictions)
        self.skill_client = ActionClient(self, ExecuteSkill, contract.EXECUTE_SKILL.name)
        self._busy = False
        self._wall_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self._server = ActionServer(
            self, RunTask, contract.RUN_TASK.name, execute_callback=self.on_run_task,
            goal_callback=lambda _g: GoalResponse.ACCEPT,
            cancel_callback=lambda _h: CancelResponse.ACCEPT)
        if p.autostart_task:
            self._autostart = self.create_timer(0.5, self._start_autostart,
                                                clock=self._wall_clock)
        self.get_logger().info(
            f"decision_mode={p.decision_mode} (prediction horizon {horizon:g} s); understood "
            f"tasks: {', '.join(self.understood)}")

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # --- task entry points (coroutines on a single-threaded executor) ----------------------
    def _start_autostart(self) -> None:
        self._autostart.cancel()
        self.executor.create_task(self._run_autostart())

    async def _run_autostart(self) -> None:
        outcome, reason, total, done = await self.run_task(self.params.autostart_task,
                                                           cancel_requested=lambda: False)
        self.get_logger().info(f"task '{self.params.autostart_task}' ended: "
                               f"{outcome_name(outcome)}, {done}/{total} items: {reason}")

    async def on_run_task(self, goal_handle) -> RunTask.Result:
        outcome, reason, total, done = await self.run_task(
            goal_handle.request.text, cancel_requested=lambda: goal_handle.is_cancel_requested)
        result = RunTask.Result(outcome=SkillOutcome(value=outcome), reason=reason,
                                items_total=total, items_done=done)
        if outcome == SkillOutcome.SUCCEEDED:
            goal_handle.succeed()
        elif outcome == SkillOutcome.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    async def run_task(self, text: str, cancel_requested) -> tuple[int, str, int, int]:
        known = find_home_task(text) is not None if self.home else understood(text)
        if not known:
            reason = (f"task '{text}' not understood; understood tasks: "
                      f"{', '.join(repr(t) for t in self.understood)}")
            self.diagnostics.reject("task", reason)
            self._event(text, 0, "", "", "", "finished", SkillOutcome.REJECTED, reason)
            return SkillOutcome.REJECTED, reason, 0, 0
        if self._busy:
            return SkillOutcome.REJECTED, "another task is running", 0, 0
        self._busy = True
        try:
            if self.home is not None:
                return await self._home_task(text, cancel_requested)
            return await self._assemble(text, cancel_requested)
        finally:
            self._busy = False

    # --- the home-care tasks -----------------------------------------------------------------
    def on_odom(self, msg) -> None:
        refused = self.map_pose.add_odom_msg(msg)
        if refused:
            self.diagnostics.reject("odom", refused)

    def on_localized(self, msg) -> None:
        refused = self.map_pose.add_localized_msg(msg, self.params.frame_id)
        if refused:
            self.diagnostics.reject("localization", refused)

    def on_joint_states(self, msg) -> None:
        reason = self.arm.on_joint_states(msg)
        if reason:
            self.diagnostics.reject("joint_states", reason)

    def base_pose(self):
        return self.map_pose.pose(self.now(), 1.0)[0]

    def tcp_position(self) -> np.ndarray | None:
        """The TCP in the map: the arm's joint states through the base's localised pose."""
        pose, tcp = self.base_pose(), self.arm.tcp_in_base()
        if pose is None or tcp is None:
            return None
        x, y, _ = compose(pose, (tcp[0], tcp[1], 0.0))
        return np.array([x, y, tcp[2]])

    def on_scan(self, msg) -> None:
        self._scan = msg

    def furniture(self):
        """The furniture where the latest base scan (at the base's localised pose) has it;
        pieces it does not show where an earlier scan had them, else as the room file."""
        scan, pose = self._scan, self.base_pose()
        ranges = scan_ranges(scan, BASE_SCANNER) if scan is not None else None
        if ranges is not None and pose is not None:
            for name, fit in self.furniture_seen.update(
                    scan_xy(ranges, BASE_SCANNER, pose), BASE_SCANNER.position[2]).items():
                if fit.shift_m > 0.02:
                    self.diagnostics.set_value(f"furniture.{name}",
                                               f"{fit.shift_m * 100:.0f} cm off the room file")
        return self.furniture_seen.current()

    def last_person(self, ahead_s: float) -> tuple[float, np.ndarray] | None:
        return self.view.last_person(ahead_s)

    def world(self) -> WorldSnapshot | None:
        """The world now; its stamp (the image the tracks come from) becomes the source
        stamp of the next skill goal: the frame the decision was made on (the judge's
        decision latency runs from that frame to the command)."""
        snapshot = self.view.snapshot(self.now(), self.params.tracks_max_age_s)
        if snapshot is not None:
            self._decided_on = snapshot.stamp
        return snapshot

    async def sleep(self, seconds: float) -> None:
        await async_sleep(self, seconds)

    async def _home_task(self, text: str, cancel_requested) -> tuple[int, str, int, int]:
        task = find_home_task(text)
        self._task_text = text
        for client, what in ((self.skill_client, contract.EXECUTE_SKILL.name),
                             (self.nav_client, contract.NAVIGATE_TO_POSE.name)):
            if not await self._wait_for_server(client):
                reason = f"action '{what}' not available"
                self._event(text, 0, "", "", "", "finished", SkillOutcome.FAILED, reason)
                return SkillOutcome.FAILED, reason, 1, 0
        started = self.now()
        await async_sleep(self, self.params.warmup_s)
        end = await self.home.run(task, cancel_requested, self.params.task_timeout_s)
        outcome = {DONE: SkillOutcome.SUCCEEDED, CANCELED: SkillOutcome.CANCELED}.get(
            end.status, SkillOutcome.FAILED)
        summary = f"{end.reason} ({self.now() - started:.0f} s, {end.steps} steps)"
        self._event(text, end.steps + 1, "", "", "", "finished", outcome, summary)
        return outcome, summary, 1, int(end.status == DONE)

    async def skill(self, step: int, skill: str, object_id: str = "", place_id: str = "",
                    position=None, yaw: float = 0.0, width: float = 0.0,
                    height: float = 0.0, speed: float = 0.0, quat=None,
                    timeout_s: float = 0.0, size=None, preempt=None) -> StepResult:
        """One executor goal of the home task: (succeeded, reason); `timeout_s` 0:
        skill_timeout_s; `size`: the held object's extents along the tool's axes;
        `preempt(phase)` polled meanwhile: a reason to cancel the goal ("" goes on)."""
        if position is None:
            # a fixed pose (go_home, stow, release): no decision on a camera frame
            goal = ExecuteSkill.Goal(skill=skill, object_id=object_id, place_id=place_id,
                                     speed_scale=speed, object_height=height,
                                     timeout_s=timeout_s or self.params.skill_timeout_s)
        else:
            goal = self._goal(skill, object_id, place_id, position, yaw, width, height,
                              self._decided_on, speed, quat, timeout_s)
        if size is not None:
            goal.object_size = vector_to_msg(np.asarray(size, dtype=float))
        outcome, reason, width = await self._send_step(self._task_text, step, goal, preempt)
        return StepResult(outcome == SkillOutcome.SUCCEEDED, reason,
                          outcome == SkillOutcome.UNREACHABLE, width)

    async def navigate(self, step: int, pose, place_id: str, timeout_s: float
                       ) -> tuple[bool, str]:
        """Drive the base to `pose` (x, y, yaw in map) with navigation's action."""
        text = self._task_text
        self._event(text, step, "navigate_to", "", place_id, "started",
                    SkillOutcome.SUCCEEDED, "")
        goal = contract.NAVIGATE_TO_POSE.type.Goal(timeout_s=float(timeout_s))
        goal.pose.header.frame_id = self.params.frame_id
        goal.pose.header.stamp = self.get_clock().now().to_msg()
        goal.pose.pose = pose_to_msg(np.array([pose[0], pose[1], 0.0]),
                                     np.asarray(yaw_to_quat_wxyz(pose[2])))
        self.get_logger().info(f"navigate_to {place_id}: ({pose[0]:.2f}, {pose[1]:.2f}, "
                               f"{np.degrees(pose[2]):.0f} deg)")
        handle = await self.nav_client.send_goal_async(goal)
        if not handle.accepted:
            ok, reason = False, "navigation refused the goal"
        else:
            response = await handle.get_result_async()
            ok, reason = bool(response.result.success), response.result.reason
        state = "succeeded" if ok else "failed"
        self._event(text, step, "navigate_to", "", place_id, state,
                    SkillOutcome.SUCCEEDED if ok else SkillOutcome.FAILED, reason)
        self.diagnostics.count(f"steps.navigate_to.{state}")
        return ok, reason

    def note(self, what: str) -> None:
        """Count something the home task did that a user may want to know about."""
        self.diagnostics.count(what)
        self.get_logger().info(what)

    def help(self, needs: str, reason: str) -> None:
        msg = HelpRequest(task=self._task_text, needs=needs, reason=reason)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_help.publish(msg)
        self.diagnostics.count("help_requests")
        self.get_logger().warning(f"help needed: {needs} ({reason})")

    # --- the assembly task ----------------------------------------------------------------
    async def _wait_for_executor(self) -> bool:
        return await self._wait_for_server(self.skill_client)

    async def _wait_for_server(self, client) -> bool:
        deadline = time.monotonic() + self.params.executor_wait_s
        while not client.server_is_ready():
            if time.monotonic() > deadline:
                return False
            await async_sleep(self, 0.2)
        return True

    async def _assemble(self, text: str, cancel_requested) -> tuple[int, str, int, int]:
        p = self.params
        started = self.now()
        if not await self._wait_for_executor():
            reason = f"executor action '{contract.EXECUTE_SKILL.name}' not available"
            self._event(text, 0, "", "", "", "finished", SkillOutcome.FAILED, reason)
            return SkillOutcome.FAILED, reason, 0, 0
        memory = TaskMemory()
        seen_parts: set[int] = set()
        step = 0
        last_wait = ""
        first_seen: float | None = None
        idle_since: float | None = None
        at_ready = False  # the arm waits above the conveyor's pick zone
        outcome, reason = SkillOutcome.FAILED, ""
        while True:
            if cancel_requested():
                outcome, reason = SkillOutcome.CANCELED, "canceled"
                break
            if self.now() - started > p.task_timeout_s:
                reason = f"gave up after {p.task_timeout_s:.0f} s"
                break
            world = self.view.snapshot(self.now(), p.tracks_max_age_s)
            if world is None:
                await async_sleep(self, p.idle_poll_s)
                continue
            seen_parts.update(o.id for o in world.objects
                              if self.layout.part_types.get(o.label) is not None)
            if first_seen is None:
                first_seen = self.now()
            if self.now() - first_seen < p.warmup_s:
                await async_sleep(self, p.idle_poll_s)
                continue
            decision = self._decide(world, memory)
            if isinstance(decision, Finished):
                idle_since = self.now() if idle_since is None else idle_since
                if self.now() - idle_since >= p.finish_idle_s:
                    outcome, reason = SkillOutcome.SUCCEEDED, decision.reason
                    break
                decision = Wait(f"{decision.reason}; watching for more parts")
            else:
                idle_since = None
            if isinstance(decision, GetReady) and not at_ready:
                step = await self._get_ready(text, step, decision, world.stamp)
                at_ready = True  # tried once: if it failed, the intercept starts from here
                continue
            if isinstance(decision, Wait | GetReady):
                if decision.reason != last_wait:
                    self._event(text, step, "wait", "", "", "waiting", SkillOutcome.SUCCEEDED,
                                decision.reason)
                    last_wait = decision.reason
                await async_sleep(self, p.idle_poll_s)
                continue
            last_wait = ""
            was_ready, at_ready = at_ready, False
            self.get_logger().info(f"decided: {decision.reason}")
            step, result = await self._do(text, step, decision, world.stamp, memory)
            if memory.record(decision, result, was_ready):
                step = await self._get_ready(text, step, self.decisions.ready_above_belt(
                    decision.grasp_yaw, "the intercept is out of time from where the arm "
                    "was: planning it again from above the belt"), world.stamp)
                at_ready = True
            elif result == REFUSED:
                at_ready = was_ready  # refused before moving: the arm is where it was
                await async_sleep(self, p.idle_poll_s)
        step += 1
        await self._run_step(text, step, ExecuteSkill.Goal(
            skill="go_home", speed_scale=float(self.library.parameter("go_home",
                                                                      "speed_scale"))))
        total = max(len(seen_parts), len(memory.done))
        summary = (f"{len(memory.done)} of {total} parts assembled in "
                   f"{self.now() - started:.0f} s: {reason}")
        self._event(text, step, "", "", "", "finished", outcome, summary)
        return outcome, summary, total, len(memory.done)

    async def _get_ready(self, text: str, step: int, ready: GetReady, source: float) -> int:
        """Move to wait above the conveyor's pick zone (the step number after it)."""
        self.get_logger().info(f"getting ready above the conveyor: {ready.reason}")
        step += 1
        await self._run_step(text, step, self._goal(
            "move_to_pose", "", "conveyor_ready", ready.position, ready.yaw, 0.0, 0.0,
            source, float(self.library.parameter("move_to_pose", "speed_scale"))))
        return step

    async def _do(self, text: str, step: int, choice: Choice, source: float,
                  memory: TaskMemory) -> tuple[int, str]:
        """Pick the chosen part and insert it: SEATED, HELD (picked, not seated: set down on
        the buffer spot), FAILED, PREEMPTED (the pick gave way to a conveyor part) or
        REFUSED (the executor found an intercept out of reach before moving). `memory`:
        what the task has done (a part whose attempts are used up must not preempt
        anything)."""
        ptype = self.layout.part_types[choice.part.label]
        width = min(choice.grasp_span + 2 * self.decisions.config.pregrasp_margin_m, 0.08)
        object_id = f"{choice.part.label}#{choice.part.id}"
        pick = self._goal("pick", object_id, "", choice.grasp_position, choice.grasp_yaw,
                          width, ptype.height, source, float(self.library.parameter(
                              "pick", "speed_scale")))
        if choice.intercept_time:
            pick.target_velocity = vector_to_msg(choice.velocity)
            pick.target_stamp = sec_to_time(choice.intercept_time)
        step += 1
        preempt = None if choice.intercept_time else (
            lambda phase: self._conveyor_due(choice.part.id, memory)
            if phase in PREEMPTIBLE_PICK_PHASES else None)
        outcome, _ = await self._run_step(text, step, pick, preempt)
        if outcome == SkillOutcome.CANCELED:
            return step, PREEMPTED
        if outcome == SkillOutcome.UNREACHABLE and choice.intercept_time:
            return step, REFUSED
        if outcome != SkillOutcome.SUCCEEDED:
            return step, FAILED
        insert = self._goal("insert", object_id, f"{choice.hole.label}#{choice.hole.id}",
                            choice.seat_position, choice.seat_yaw, width, ptype.height,
                            source, float(self.library.parameter("insert", "speed_scale")))
        step += 1
        outcome, _ = await self._run_step(text, step, insert)
        if outcome != SkillOutcome.SUCCEEDED:
            # still holding it (the executor keeps the part when the hole is not found):
            # set it down upright on the buffer spot; the next decision sees it afresh
            step += 1
            buffer = np.array([*self.params.buffer_xy, self.layout.bench.top_z +
                               ptype.height - self.decisions.config.grasp_depth_m])
            place = self._goal("place", object_id, "buffer", buffer, choice.seat_yaw, width,
                               ptype.height, source, float(self.library.parameter(
                                   "place", "speed_scale")))
            outcome, _ = await self._run_step(text, step, place)
            if outcome != SkillOutcome.SUCCEEDED:
                step += 1
                await self._run_step(text, step, ExecuteSkill.Goal(skill="open_gripper"))
            return step, HELD
        # The executor measured the seat depth with the wrist; perception double-checks.
        await async_sleep(self, self.params.settle_s)
        if not self.view.part_near(choice.hole.position, ptype.height,
                                   self.layout.fixture.hole_depth):
            self.diagnostics.count("verify.perception_disagrees")
            self.get_logger().warning(f"{object_id}: the executor seated it but perception "
                                      "does not see it in the hole (yet)")
        return step, SEATED

    def _decide(self, world: WorldSnapshot, memory: TaskMemory
                ) -> Choice | Wait | GetReady | Finished:
        """The next step from `world` and what the task has done (the belt's feed clock
        first brought up to date)."""
        now = self.now()
        memory.note_belt(self.decisions.on_belt(world), now)
        visible = {o.id for o in world.objects}
        return self.decisions.next_step(world, now, memory.attempts, memory.given_up,
                                        tuple(memory.filled), memory.last_feed,
                                        tuple(memory.lost_from_belt(visible)))

    def _conveyor_due(self, busy_with: int, memory: TaskMemory) -> str | None:
        """While fetching a part from the tray: a conveyor part is about to pass the pick
        zone (world_model mode only: with horizon 0 nothing is ever 'about to')."""
        world = self.view.snapshot(self.now(), self.params.tracks_max_age_s)
        if world is None:
            return None
        decision = self._decide(world, memory)
        if isinstance(decision, Choice) and decision.intercept_time and \
                decision.part.id != busy_with:
            return f"{decision.reason} is due"
        if isinstance(decision, GetReady):
            return f"a conveyor part arrives soon ({decision.reason})"
        return None

    def _goal(self, skill: str, object_id: str, place_id: str, position: np.ndarray,
              yaw: float, width: float, height: float, source: float, speed: float,
              quat=None, timeout_s: float = 0.0) -> ExecuteSkill.Goal:
        goal = ExecuteSkill.Goal(skill=skill, object_id=object_id, place_id=place_id,
                                 speed_scale=speed, gripper_width=width, object_height=height,
                                 timeout_s=timeout_s or self.params.skill_timeout_s)
        goal.target_pose.header.frame_id = self.params.frame_id
        goal.target_pose.pose = pose_to_msg(
            position, np.asarray(tool_down_quat(yaw) if quat is None else quat))
        goal.source_stamp = sec_to_time(source)
        return goal

    async def _run_step(self, text: str, step: int, goal: ExecuteSkill.Goal,
                        preempt=None) -> tuple[int, str]:
        """Send one skill goal and await its result; `preempt(phase)` (polled meanwhile
        with the phase the executor last reported) may return a reason to cancel it for
        something more urgent."""
        outcome, reason, _width = await self._send_step(text, step, goal, preempt)
        return outcome, reason

    async def _send_step(self, text: str, step: int, goal: ExecuteSkill.Goal,
                         preempt=None) -> tuple[int, str, float]:
        """_run_step, and the gripper's width the executor measured at the end (m; NaN
        when the goal did not run)."""
        width = math.nan
        self._event(text, step, goal.skill, goal.object_id, goal.place_id, "started",
                    SkillOutcome.SUCCEEDED, "")
        phase = [""]
        handle = await self.skill_client.send_goal_async(
            goal, feedback_callback=lambda msg: phase.__setitem__(0, msg.feedback.phase))
        if not handle.accepted:
            outcome, reason = SkillOutcome.REJECTED, "goal not accepted by the executor"
        else:
            result = handle.get_result_async()
            while preempt is not None and not result.done():
                why = preempt(phase[0])
                if why:
                    self.get_logger().info(f"preempting {goal.skill} {goal.object_id}: {why}")
                    await handle.cancel_goal_async()
                    break
                await async_sleep(self, self.params.idle_poll_s)
            response = await result
            outcome, reason = response.result.outcome.value, response.result.reason
            width = float(response.result.gripper_width)
            if response.status != GoalStatus.STATUS_SUCCEEDED and \
                    outcome == SkillOutcome.SUCCEEDED:
                # an aborted goal without a result must never read as a success
                outcome = SkillOutcome.FAILED
                reason = reason or f"goal ended with status {response.status} and no result"
        state = "succeeded" if outcome == SkillOutcome.SUCCEEDED else "failed"
        self._event(text, step, goal.skill, goal.object_id, goal.place_id, state, outcome,
                    reason)
        self.diagnostics.count(f"steps.{goal.skill}.{state}")
        return outcome, reason, width

    def _event(self, task: str, step: int, skill: str, object_id: str, place_id: str,
               state: str, outcome: int, reason: str) -> None:
        msg = TaskEvent(task=task, step=step, skill=skill, object_id=object_id,
                        place_id=place_id, state=state, outcome=SkillOutcome(value=outcome),
                        reason=reason)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_events.publish(msg)
        if state in ("failed", "finished", "waiting"):
            self.get_logger().info(f"[{state}] {skill or task} {object_id} {reason}".strip())


def main(args: list[str] | None = None) -> int:
    return run_node(PlannerNode, "planner", args, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())

