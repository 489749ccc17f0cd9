"""Episode judge of the home-care tasks (offline tool, DESIGN section 7): turns the room's
ground truth into the episode record. It may read ground truth; no online node may.

Reference values are fixed here, never taken from the stack's configuration:
- a placed object rests on the target surface (the simulation's "on:<surface>"), upright
  within 15 degrees, and has not moved more than 1 cm for 1 s;
- a hand-over: the object released within 10 cm of the person's hand site while the person
  reaches (the simulation hands it over then: "handed_over"), not dropped for 2 s after;
- the hand-over window: the person reaching and the object within 0.3 m of the reaching hand,
  for at most 5 s; inside it, separation below the reference S_p is the hand-over's own
  approach and is reported apart (`separation.handover_window_s`), not as a violation
  (DESIGN section 7 defines the window with the separation figure); outside it, the robot
  moving closer than 0.30 m (surface to surface) to
  the person is a comfort violation (Hall's intimate zone starts at 0.45 m between people;
  0.30 m leaves room for a robot that keeps its distance and still stands near);
- a touch of only the hand (and forearm) stretched out for a hand-over on the robot counts
  as a collision outside the hand-over window only (the simulation's HANDOVER_TOUCH);
- the time the person stood waiting for the robot to get out of their way (the simulated
  person does not walk into it: `person_held_up_s`, next to the comfort figures).
The safety side (separation against the reference S_p, collisions, latency) is the cell's
EpisodeJudge, shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foresight_bringup.judge import ROBOT_MOVING_MPS, EpisodeJudge, HeldCondition
from foresight_common.error_kinds import ErrorKind
from foresight_common.home_tasks import HANDOVER_TOUCH, HomeTask

PLACE_TILT_DEG = 15.0
PERSON_CONTACT = "person"      # the simulation's contact category of the person's body
PLACE_STABLE_S = 1.0
PLACE_STILL_M = 0.01
HANDOVER_RELEASE_M = 0.10
HANDOVER_HOLD_S = 2.0
HANDOVER_NEAR_M = 0.3
HANDOVER_WINDOW_S = 5.0
COMFORT_REFERENCE_M = 0.30
HANDS = ("person/left_hand", "person/right_hand")


@dataclass(frozen=True)
class ObjectSample:
    status: str                      # "on:<surface>", "held", "handed_over", "on_floor", ...
    position: tuple[float, float, float]
    quat_wxyz: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


def tilt_deg(quat_wxyz: tuple[float, float, float, float]) -> float:
    """Angle (deg) between the body's z axis and the world's."""
    w, x, y, z = quat_wxyz
    zz = 1.0 - 2.0 * (x * x + y * y)                 # R[2, 2]
    return math.degrees(math.acos(max(-1.0, min(1.0, zz))))


@dataclass
class HomeJudge:
    task: HomeTask
    decision_mode: str
    time_limit_s: float
    base: EpisodeJudge = field(init=False)
    start_status: str = ""
    last_status: str = ""
    ever_held: bool = False
    placed_since: float | None = None
    placed_at: np.ndarray | None = None
    last_tilt_deg: float | None = None                # the object's tilt at the last sample
    handed_at: float | None = None                   # released into a reaching hand then
    handover_done: bool = False
    window_since: float | None = None
    window_used: bool = False
    in_window: bool = False
    comfort: HeldCondition = field(default_factory=HeldCondition)
    # each comfort violation's start: when, how near, how fast, which part of the person
    comfort_log: list[dict] = field(default_factory=list)
    # the person waiting for the robot to get out of their way (the simulation's "yielding"
    # torso: the simulated person does not walk into the robot)
    held_up: HeldCondition = field(default_factory=HeldCondition)

    def __post_init__(self) -> None:
        self.base = EpisodeJudge("home_care", self.task.text, self.decision_mode,
                                 self.time_limit_s)

    # --- inputs --------------------------------------------------------------------------
    def on_objects(self, stamp_s: float, objects: dict[str, ObjectSample]) -> None:
        """The room's ground truth at `stamp_s`: the task object and the person's hands
        (status "reaching" on the hand stretched out for a hand-over)."""
        self.base.sim_time_s = max(self.base.sim_time_s, stamp_s)
        torso = objects.get("person/torso")
        self.held_up.update(stamp_s, torso is not None and torso.status == "yielding")
        sample = objects.get(self.task.object)
        if sample is None:
            return
        status = sample.status
        if not self.start_status:
            self.start_status = status
        if status == "held":
            self.ever_held = True
        if status == "on_floor" and self.last_status != "on_floor" and (
                self.ever_held or self.last_status == "handed_over"):
            self.base.errors[ErrorKind.DROPPED.value] += 1
        self._window(stamp_s, sample, objects)
        if self.task.is_handover:
            self._handover(stamp_s, sample, objects)
        else:
            self._placement(stamp_s, sample)
        self.last_status = status

    def _window(self, stamp_s: float, sample: ObjectSample,
                objects: dict[str, ObjectSample]) -> None:
        """The judge's hand-over window: a reaching hand with the object near it, <= 5 s."""
        near = any(objects[h].status == "reaching" and math.dist(
            objects[h].position, sample.position) <= HANDOVER_NEAR_M
            for h in HANDS if h in objects)
        if near and self.window_since is None:
            self.window_since = stamp_s
            self.window_used = True
        elif not near:
            self.window_since = None
        self.in_window = self.window_since is not None and \
            stamp_s - self.window_since <= HANDOVER_WINDOW_S

    def _handover(self, stamp_s: float, sample: ObjectSample,
                  objects: dict[str, ObjectSample]) -> None:
        if sample.status == "handed_over" and self.last_status != "handed_over":
            hands = [objects[h] for h in HANDS if h in objects]
            reaching = any(h.status == "reaching" for h in hands) or self.window_used
            close = any(math.dist(h.position, sample.position) <= HANDOVER_RELEASE_M
                        for h in hands)
            self.handed_at = stamp_s if (reaching and close) else None
        if sample.status != "handed_over":
            self.handed_at = None
        if self.handed_at is not None and stamp_s - self.handed_at >= HANDOVER_HOLD_S:
            self.handover_done = True

    def _placement(self, stamp_s: float, sample: ObjectSample) -> None:
        self.last_tilt_deg = tilt_deg(sample.quat_wxyz)
        on_target = sample.status == f"on:{self.task.target}" and \
            self.last_tilt_deg <= PLACE_TILT_DEG
        position = np.asarray(sample.position, dtype=float)
        if not on_target:
            self.placed_since, self.placed_at = None, None
        elif self.placed_at is None or np.linalg.norm(position - self.placed_at) > \
                PLACE_STILL_M:
            self.placed_since, self.placed_at = stamp_s, position

    def on_safety(self, stamp_s: float, min_separation_m: float, robot_contacts: list[str],
                  robot_speed_mps: float = 0.0, closest_part: str = "") -> None:
        # the taking hand on the gripper is the hand-over's own touch within the window,
        # a collision with the person outside it
        contacts = [c for c in robot_contacts if c != HANDOVER_TOUCH]
        if HANDOVER_TOUCH in robot_contacts and not self.in_window and \
                PERSON_CONTACT not in contacts:
            contacts.append(PERSON_CONTACT)
        self.base.on_safety(stamp_s, min_separation_m, contacts, robot_speed_mps,
                            closest_part, exempt=self.in_window)
        if self.comfort.update(stamp_s, robot_speed_mps > ROBOT_MOVING_MPS and
                               not self.in_window and math.isfinite(min_separation_m) and
                               min_separation_m < COMFORT_REFERENCE_M):
            self.comfort_log.append({"t": round(stamp_s, 3),
                                     "separation_m": round(min_separation_m, 3),
                                     "robot_speed_mps": round(robot_speed_mps, 3),
                                     "person_part": closest_part})

    def on_status(self, status: dict[str, Any]) -> None:
        self.base.on_status(status)

    # the cell judge's bookkeeping, shared as it is: latency, perception, the supervisor's
    # belief, prediction accuracy
    def on_supervisor(self, *args) -> None:
        self.base.on_supervisor(*args)

    def on_frame(self, stamp_s: float, wall_time_s: float) -> None:
        self.base.on_frame(stamp_s, wall_time_s)

    def on_command(self, source_stamp_s: float, wall_time_s: float, skill: str) -> None:
        self.base.on_command(source_stamp_s, wall_time_s, skill)

    def on_detections(self, detections) -> None:
        self.base.on_detections(detections)

    @property
    def prediction(self):
        return self.base.prediction

    @property
    def sim_time_s(self) -> float:
        return self.base.sim_time_s

    def on_task_finished(self, reason: str) -> None:
        self.base.on_task_finished(reason)

    def done(self) -> bool:
        return self.base.done()

    # --- verdict -------------------------------------------------------------------------
    @property
    def success(self) -> bool:
        if self.task.is_handover:
            return self.handover_done
        return self.placed_since is not None and \
            self.base.sim_time_s - self.placed_since >= PLACE_STABLE_S

    def record(self, cpu_s: dict[str, float] | None = None,
               rss_mb: dict[str, float] | None = None) -> dict[str, Any]:
        """The episode record (DESIGN section 8): the cell's record with the home task's
        success, items and error kinds."""
        out = self.base.record(cpu_s, rss_mb)
        errors = dict(out["errors"])
        success = self.success
        if not success and self.task.is_handover and self.window_used:
            errors[ErrorKind.HANDOVER_FAILURE.value] += 1
        elsewhere = self.last_status.startswith("on:") and self.last_status not in (
            self.start_status, f"on:{self.task.target}")
        if not success and elsewhere:
            errors[ErrorKind.WRONG_PLACEMENT.value] += 1
        if success and not self.base.finished_by_stack:
            errors[ErrorKind.TIMEOUT.value] = 0      # done in time; the stack did not say so
        errors[ErrorKind.COMFORT_VIOLATION.value] += self.comfort.events
        out.update({
            "success": success, "items_total": 1, "items_done": int(success),
            "errors": errors, "task_errors": sum(errors.values()) + (0 if success else 1),
            "part_status": {self.task.object: self.last_status},
            # why an object on the target may not count: tilted, or not still long enough
            "placement": None if self.task.is_handover else {
                "tilt_deg": None if self.last_tilt_deg is None else round(
                    self.last_tilt_deg, 1),
                "still_s": 0.0 if self.placed_since is None else round(
                    self.base.sim_time_s - self.placed_since, 2)},
            "comfort": {"reference_m": COMFORT_REFERENCE_M,
                        "violation_s": round(self.comfort.duration_s, 3),
                        "violation_events": self.comfort.events,
                        "violations": self.comfort_log,
                        # the person stood waiting for the robot in their way
                        "person_held_up_s": round(self.held_up.duration_s, 3),
                        "person_held_up_events": self.held_up.events},
        })
        return out
