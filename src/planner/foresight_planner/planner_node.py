"""Planner node (decision): takes a task, plans skills and sends them to the executor.

This first version plans from the nominal cell layout and the work order in config (the
classic perceive-nothing cell); it monitors each skill's outcome, skips an item whose pick
fails and reports honestly what it believes it did. `decision_mode` is declared so launch
files and the comparison harness already use it; both modes plan identically until
predictions exist (industrial slice).

Actions:    run_task (foresight_interfaces/RunTask), server
            execute_skill (foresight_interfaces/ExecuteSkill), client
Publishes:  task_events (foresight_interfaces/TaskEvent), /diagnostics
Parameters: see PlannerParams
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from foresight_common import contract
from foresight_common.cell_layout import load_cell_layout
from foresight_common.conversions import pose_to_msg
from foresight_common.node_support import (
    DiagnosticsReporter,
    async_sleep,
    create_publisher,
    declare_parameters,
    load_file_parameter,
    run_node,
)
from foresight_common.params import ParameterError, param
from foresight_interfaces.action import ExecuteSkill, RunTask
from foresight_interfaces.msg import SkillOutcome, TaskEvent
from foresight_planner.assembly_plan import (
    UNDERSTOOD_TASKS,
    PlanningError,
    SkillStep,
    WorkItem,
    load_skill_library,
    parse_work_order,
    plan_assembly,
    quat_array,
    understood,
)


@dataclass(frozen=True)
class PlannerParams:
    cell_file: str = field(default="", metadata=param("Cell layout YAML", non_empty=True))
    skill_library_file: str = field(default="", metadata=param(
        "Skill library YAML (config/skills/...)", non_empty=True))
    decision_mode: str = field(default="world_model", metadata=param(
        "Decision mode", choices=("world_model", "reactive")))
    work_order: tuple[str, ...] = field(default=("slot_0:peg_round",), metadata=param(
        "Kitting list 'slot:part_type' of the tray (nominal, no perception)", min_len=1))
    autostart_task: str = field(default="", metadata=param(
        "Task to start on its own once the executor is up ('' waits for run_task goals)"))
    executor_wait_s: float = field(default=120.0, metadata=param(
        "How long to wait for the executor's action server (s)", low=1.0, high=600.0))
    skill_timeout_s: float = field(default=90.0, metadata=param(
        "Timeout per skill goal (s)", low=1.0, high=600.0))


class PlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("planner")
        p = declare_parameters(self, PlannerParams)
        self.params = p
        self.layout = load_file_parameter("cell_file", p.cell_file, load_cell_layout)
        self.library = load_file_parameter("skill_library_file", p.skill_library_file,
                                           load_skill_library)
        try:
            self.work_order = parse_work_order(list(p.work_order), self.layout)
        except PlanningError as exc:
            raise ParameterError("work_order", list(p.work_order), str(exc)) from exc
        self.diagnostics = DiagnosticsReporter(self, "task planning")
        self.pub_events = create_publisher(self, contract.TASK_EVENTS)
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
            f"decision_mode={p.decision_mode}; {len(self.work_order)} items in the work "
            f"order; understood tasks: {', '.join(UNDERSTOOD_TASKS)}")

    # --- task entry points ------------------------------------------------------------------
    # Everything below runs as coroutines on a single-threaded executor: waiting for a skill
    # result is an `await`, so nothing blocks and no thread spins.
    def _start_autostart(self) -> None:
        self._autostart.cancel()
        self.executor.create_task(self._run_autostart())

    async def _run_autostart(self) -> None:
        outcome, reason, total, done = await self.run_task(self.params.autostart_task,
                                                           cancel_requested=lambda: False)
        self.get_logger().info(f"task '{self.params.autostart_task}' ended: "
                               f"{outcome_name(outcome)}, {done}/{total} items: {reason}")

    async def on_run_task(self, goal_handle) -> RunTask.Result:
        text = goal_handle.request.text
        outcome, reason, total, done = await self.run_task(
            text, cancel_requested=lambda: goal_handle.is_cancel_requested)
        result = RunTask.Result(outcome=SkillOutcome(value=outcome), reason=reason,
                                items_total=total, items_done=done)
        if outcome == SkillOutcome.SUCCEEDED:
            goal_handle.succeed()
        elif outcome == SkillOutcome.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    # --- the task -------------------------------------------------------------------------
    async def run_task(self, text: str, cancel_requested) -> tuple[int, str, int, int]:
        if not understood(text):
            reason = (f"task '{text}' not understood; understood tasks: "
                      f"{', '.join(repr(t) for t in UNDERSTOOD_TASKS)}")
            self.diagnostics.reject("task", reason)
            self._event(text, 0, "", "", "", "finished", SkillOutcome.REJECTED, reason)
            return SkillOutcome.REJECTED, reason, 0, 0
        if self._busy:
            return SkillOutcome.REJECTED, "another task is running", 0, 0
        self._busy = True
        try:
            return await self._assemble(text, cancel_requested)
        finally:
            self._busy = False

    async def _wait_for_executor(self) -> bool:
        deadline = time.monotonic() + self.params.executor_wait_s
        while not self.skill_client.server_is_ready():
            if time.monotonic() > deadline:
                return False
            await async_sleep(self, 0.2)
        return True

    async def _assemble(self, text: str, cancel_requested) -> tuple[int, str, int, int]:
        started = time.monotonic()
        if not await self._wait_for_executor():
            reason = f"executor action '{contract.EXECUTE_SKILL.name}' not available"
            self._event(text, 0, "", "", "", "finished", SkillOutcome.FAILED, reason)
            return SkillOutcome.FAILED, reason, len(self.work_order), 0
        items: list[WorkItem] = plan_assembly(self.layout, self.work_order, self.library)
        done = 0
        step = 0
        notes = []
        for item in items:
            if cancel_requested():
                break
            ok = True
            for skill_step in item.steps:
                step += 1
                outcome, reason = await self._run_step(text, step, skill_step)
                if outcome != SkillOutcome.SUCCEEDED:
                    notes.append(f"{item.object_id}: {skill_step.skill} {reason}")
                    ok = False
                    break
            done += int(ok)
        step += 1
        await self._run_step(text, step, SkillStep(
            "go_home", speed_scale=float(self.library.parameter("go_home", "speed_scale"))))
        total = len(items)
        outcome = SkillOutcome.SUCCEEDED if done == total else SkillOutcome.FAILED
        if cancel_requested():
            outcome = SkillOutcome.CANCELED
        reason = (f"{done}/{total} items assembled in {time.monotonic() - started:.0f} s"
                  + (f"; {'; '.join(notes)}" if notes else ""))
        self._event(text, step, "", "", "", "finished", outcome, reason)
        return outcome, reason, total, done

    async def _run_step(self, text: str, step: int, skill_step: SkillStep) -> tuple[int, str]:
        self._event(text, step, skill_step.skill, skill_step.object_id, skill_step.place_id,
                    "started", SkillOutcome.SUCCEEDED, "")
        goal = ExecuteSkill.Goal(skill=skill_step.skill, object_id=skill_step.object_id,
                                 place_id=skill_step.place_id,
                                 speed_scale=skill_step.speed_scale,
                                 gripper_width=skill_step.gripper_width,
                                 object_height=skill_step.object_height,
                                 timeout_s=self.params.skill_timeout_s)
        if skill_step.position is not None and skill_step.quat_wxyz is not None:
            goal.target_pose.header.frame_id = contract.WORLD_FRAME
            goal.target_pose.pose = pose_to_msg(quat_array(skill_step.position),
                                                quat_array(skill_step.quat_wxyz))
        outcome, reason = await self._send(goal)
        state = "succeeded" if outcome == SkillOutcome.SUCCEEDED else "failed"
        self._event(text, step, skill_step.skill, skill_step.object_id, skill_step.place_id,
                    state, outcome, reason)
        self.diagnostics.count(f"steps.{state}")
        return outcome, reason

    async def _send(self, goal: ExecuteSkill.Goal) -> tuple[int, str]:
        """Send a skill goal and await its result."""
        handle = await self.skill_client.send_goal_async(goal)
        if not handle.accepted:
            return SkillOutcome.REJECTED, "goal not accepted by the executor"
        response = await handle.get_result_async()
        return response.result.outcome.value, response.result.reason

    def _event(self, task: str, step: int, skill: str, object_id: str, place_id: str,
               state: str, outcome: int, reason: str) -> None:
        msg = TaskEvent(task=task, step=step, skill=skill, object_id=object_id,
                        place_id=place_id, state=state, outcome=SkillOutcome(value=outcome),
                        reason=reason)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_events.publish(msg)
        if state in ("failed", "finished"):
            self.get_logger().info(f"[{state}] {skill or task} {object_id} {reason}".strip())


OUTCOME_NAMES = {SkillOutcome.SUCCEEDED: "SUCCEEDED", SkillOutcome.CANCELED: "CANCELED",
                 SkillOutcome.PREEMPTED: "PREEMPTED", SkillOutcome.REJECTED: "REJECTED",
                 SkillOutcome.UNREACHABLE: "UNREACHABLE", SkillOutcome.SAFETY_STOP: "SAFETY_STOP",
                 SkillOutcome.TIMEOUT: "TIMEOUT", SkillOutcome.FAILED: "FAILED"}


def outcome_name(value: int) -> str:
    return OUTCOME_NAMES.get(value, str(value))


def main(args: list[str] | None = None) -> int:
    return run_node(PlannerNode, "planner", args, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
