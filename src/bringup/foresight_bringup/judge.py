"""Episode judge (offline tool): turns the simulation's ground truth into the episode record
of DESIGN section 8. It may read ground truth; no online node may.

Reference values are fixed here (or in the simulation's own part-status code), never taken
from the stack's configuration, so the stack cannot grade itself.

Counted: success, items done, dropped parts, parts in a wrong hole, robot collisions with
the cell or the person, timeout, separation (minimum distance, violations of the reference
protective distance S_p while the robot moves: events and duration), decision latency
(camera frame published -> resulting command published, wall clock) and perception
(recall and 3D error of static parts the camera sees). Prediction accuracy stays null here
(the world model scores itself on /diagnostics; the benchmark adds it).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foresight_bringup.prediction_score import PredictionScorer
from foresight_common.error_kinds import ErrorKind

# A contact must last this long (s) to count as a collision event; a new event needs a gap
# of the same length (a grazing contact that flickers is one event).
COLLISION_DEBOUNCE_S = 0.05
DROP_STATES = ("fell", "in_bin")
#: Every part seated this long ends the episode: the task is done whether or not the stack
#: says so (a cell planner watches for more parts until the time limit; the episode ran on
#: and counted a timeout after success)
COMPLETE_HOLD_S = 2.0

# Reference protective separation distance (ISO/TS 15066 form), judged on ground truth:
# S_p = v_h (T_r + T_s) + v_r T_r + B + C + Z_d + Z_r, where the robot's stopping time and
# distance follow from its actual speed and a reference deceleration: T_s = v_r / a,
# B = v_r^2 / (2 a).
HUMAN_SPEED_MPS = 1.6
HAND_SPEED_MPS = 2.0  # a hand within HAND_NEAR_M of the robot
HAND_NEAR_M = 0.5
REACTION_TIME_S = 0.1
REFERENCE_DECELERATION_MPS2 = 2.5
INTRUSION_DISTANCE_M = 0.05
SENSOR_UNCERTAINTY_M = 0.0  # ground truth is exact
ROBOT_UNCERTAINTY_M = 0.0
ROBOT_MOVING_MPS = 0.02  # below this the robot counts as standing still
# A violation's record carries the ground-truth separation and robot speed from this long
# before to this long after its start (a diagnostic of how the stack reacted).
TRACE_BEFORE_S = 0.3
TRACE_AFTER_S = 0.5
# The episode's separation over time, for plots: one ground-truth sample per this period.
SERIES_PERIOD_S = 0.2
SUPERVISOR_STOP = 2  # SafetyState.state of a stopping supervisor (3: e-stop)
# Perception: a detection of the right class within this distance matches a part.
DETECTION_MATCH_M = 0.03


def protective_distance(robot_speed: float, closest_part: str, separation: float) -> float:
    """Reference S_p for the robot's actual speed and the closest person part."""
    hand = "hand" in closest_part and separation < HAND_NEAR_M
    human = HAND_SPEED_MPS if hand else HUMAN_SPEED_MPS
    stopping_time = robot_speed / REFERENCE_DECELERATION_MPS2
    stopping_distance = robot_speed ** 2 / (2.0 * REFERENCE_DECELERATION_MPS2)
    return (human * (REACTION_TIME_S + stopping_time) + robot_speed * REACTION_TIME_S
            + stopping_distance + INTRUSION_DISTANCE_M + SENSOR_UNCERTAINTY_M
            + ROBOT_UNCERTAINTY_M)


@dataclass
class HeldCondition:
    """A condition sampled over time and held between samples (a sample's state lasts until
    the next): how long it was true and how often it became true."""
    duration_s: float = 0.0
    events: int = 0
    active: bool = False
    _last_t: float | None = None

    def update(self, stamp_s: float, active: bool) -> bool:
        """The state at `stamp_s`; True when the condition starts now."""
        if self.active and self._last_t is not None:
            self.duration_s += max(0.0, stamp_s - self._last_t)
        self._last_t = stamp_s
        started = active and not self.active
        self.events += int(started)
        self.active = active
        return started


@dataclass
class PartTrack:
    status: str = "unknown"
    ever_held: bool = False
    wrong_counted: bool = False


@dataclass
class EpisodeJudge:
    scenario: str
    task: str
    decision_mode: str
    time_limit_s: float
    parts: dict[str, PartTrack] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in ErrorKind})
    min_separation_m: float = math.inf
    sim_time_s: float = 0.0
    status: dict[str, Any] = field(default_factory=dict)
    finished_by_stack: bool = False
    stack_reason: str = ""
    # (start, what, the robot's speed then): a person walking into a robot that stands
    # still is told apart from one it drives into
    collision_events: list[tuple[float, str, float]] = field(default_factory=list)
    violation: HeldCondition = field(default_factory=HeldCondition)
    # below the reference S_p inside a hand-over window (the home judge's): not a violation,
    # the receiver's hand comes to the object on purpose (DESIGN section 7); reported apart
    exempt: HeldCondition = field(default_factory=HeldCondition)
    frame_wall: dict[float, float] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)
    _commands_seen: set[float] = field(default_factory=set)
    violation_log: list[dict[str, Any]] = field(default_factory=list)
    _supervisor: dict[str, Any] | None = None  # the executor's latest safety state
    _recent: deque = field(default_factory=deque)  # ground-truth safety samples
    separation_series: list[list[float | None]] = field(default_factory=list)
    _visible_static: dict[str, tuple[str, tuple[float, float, float]]] = \
        field(default_factory=dict)
    perception_truth: int = 0
    perception_found: int = 0
    perception_errors: list[float] = field(default_factory=list)
    perception_frames: int = 0
    perception_false: int = 0
    _contact_since: dict[str, float] = field(default_factory=dict)
    _contact_speed: dict[str, float] = field(default_factory=dict)   # at the start
    _contact_counted: set[str] = field(default_factory=set)
    _contact_last: dict[str, float] = field(default_factory=dict)
    prediction: PredictionScorer = field(default_factory=PredictionScorer)
    complete_since: float | None = None  # sim time since when every part is seated

    # --- inputs --------------------------------------------------------------------------
    def on_parts(self, stamp_s: float, statuses: dict[str, str]) -> None:
        """Part name -> status ("seated", "wrong_hole", "held", "fell", ...)."""
        self.sim_time_s = max(self.sim_time_s, stamp_s)
        for name, status in statuses.items():
            track = self.parts.setdefault(name, PartTrack())
            previous = track.status
            if status == "held":
                track.ever_held = True
            if status in DROP_STATES and previous not in DROP_STATES and track.ever_held:
                self.errors[ErrorKind.DROPPED.value] += 1
            if status == "wrong_hole" and previous != "wrong_hole":
                self.errors[ErrorKind.WRONG_PLACEMENT.value] += 1
            track.status = status
        if self.parts and all(t.status == "seated" for t in self.parts.values()):
            if self.complete_since is None:
                self.complete_since = stamp_s
        else:
            self.complete_since = None

    def on_static_parts(self, visible: dict[str, tuple[str, tuple[float, float, float]]]
                        ) -> None:
        """Ground truth of the parts lying still and seen by the camera: name -> (type,
        position)."""
        self._visible_static = dict(visible)

    def on_detections(self, detections: list[tuple[str, tuple[float, float, float]]]) -> None:
        """One perception frame: (label, position) per detection, against the latest ground
        truth of the visible static parts."""
        self.perception_frames += 1
        used = set()
        for ptype, truth in self._visible_static.values():
            self.perception_truth += 1
            best, best_i = DETECTION_MATCH_M, None
            for i, (label, position) in enumerate(detections):
                if label != ptype or i in used:
                    continue
                error = math.dist(position, truth)
                if error <= best:
                    best, best_i = error, i
            if best_i is not None:
                used.add(best_i)
                self.perception_found += 1
                self.perception_errors.append(best)

    def on_frame(self, stamp_s: float, wall_time_s: float) -> None:
        self.frame_wall[round(stamp_s, 4)] = wall_time_s

    def on_command(self, source_stamp_s: float, wall_time_s: float, skill: str) -> None:
        """A command the executor sent; the first one per decision (per source frame: the
        later skills of that decision are not new decisions) gives a latency sample."""
        key = round(source_stamp_s, 4)
        if source_stamp_s <= 0 or key in self._commands_seen:
            return
        self._commands_seen.add(key)
        frame = self.frame_wall.get(key)
        if frame is not None:
            self.latency_ms.append((wall_time_s - frame) * 1000.0)

    def on_safety(self, stamp_s: float, min_separation_m: float,
                  robot_contacts: list[str], robot_speed_mps: float = 0.0,
                  closest_part: str = "", exempt: bool = False) -> None:
        """One ground-truth safety sample; `exempt`: inside a hand-over window, where
        separation below the reference is counted apart, not as a violation."""
        self.sim_time_s = max(self.sim_time_s, stamp_s)
        if math.isfinite(min_separation_m):
            self.min_separation_m = min(self.min_separation_m, min_separation_m)
        below = (robot_speed_mps > ROBOT_MOVING_MPS and math.isfinite(min_separation_m)
                 and min_separation_m < protective_distance(robot_speed_mps, closest_part,
                                                            min_separation_m))
        violating = below and not exempt
        self.exempt.update(stamp_s, below and exempt)
        sample = (stamp_s, min_separation_m, robot_speed_mps)
        if self.violation.update(stamp_s, violating):
            self.violation_log.append({"t": round(stamp_s, 3),
                                       "separation_m": round(min_separation_m, 3),
                                       "robot_speed_mps": round(robot_speed_mps, 3),
                                       "person_part": closest_part,
                                       "supervisor": self._supervisor_at(stamp_s),
                                       "trace": []})
            for earlier in self._recent:
                self._trace(earlier)
        if self.violation_log and stamp_s - self.violation_log[-1]["t"] <= TRACE_AFTER_S:
            self._trace(sample)
        slot = math.floor(stamp_s / SERIES_PERIOD_S + 1e-6)
        if not self.separation_series or slot > math.floor(
                self.separation_series[-1][0] / SERIES_PERIOD_S + 1e-6):
            self.separation_series.append(
                [round(stamp_s, 2), round(min_separation_m, 3)
                 if math.isfinite(min_separation_m) else None, round(robot_speed_mps, 3),
                 round(protective_distance(robot_speed_mps, closest_part, min_separation_m),
                       3) if math.isfinite(min_separation_m) else None])
        self._recent.append(sample)
        while self._recent and stamp_s - self._recent[0][0] > TRACE_BEFORE_S:
            self._recent.popleft()
        for name in robot_contacts:
            self._contact_last[name] = stamp_s
            since = self._contact_since.setdefault(name, stamp_s)
            self._contact_speed.setdefault(name, robot_speed_mps)
            if stamp_s - since >= COLLISION_DEBOUNCE_S and name not in self._contact_counted:
                self._contact_counted.add(name)
                self.errors[ErrorKind.COLLISION.value] += 1
                self.collision_events.append((round(since, 3), name,
                                              round(self._contact_speed[name], 3)))
        for name in list(self._contact_since):
            if name not in robot_contacts and \
                    stamp_s - self._contact_last.get(name, stamp_s) >= COLLISION_DEBOUNCE_S:
                del self._contact_since[name]
                self._contact_speed.pop(name, None)
                self._contact_counted.discard(name)

    def _trace(self, sample: tuple[float, float, float]) -> None:
        """(time from the violation's start, true separation, true robot speed)."""
        start = self.violation_log[-1]["t"]
        separation = sample[1] if math.isfinite(sample[1]) else None
        self.violation_log[-1]["trace"].append(
            [round(sample[0] - start, 3), separation and round(separation, 3),
             round(sample[2], 3)])

    def on_supervisor(self, stamp_s: float, state: int, separation_m: float,
                      robot_speed_mps: float, reason: str) -> None:
        """The executor's safety state (what the stack believed; a diagnostic of each
        violation, never part of the verdict). A violation still open gets the delay until
        the supervisor first said stop."""
        self._supervisor = {"stamp": stamp_s, "state": int(state),
                            "separation_m": separation_m, "robot_speed_mps": robot_speed_mps,
                            "reason": reason}
        last = self.violation_log[-1] if self.violation_log else None
        if state >= SUPERVISOR_STOP and last is not None and "stopped_after_s" not in last \
                and 0.0 <= stamp_s - last["t"] <= 2.0:
            last["stopped_after_s"] = round(stamp_s - last["t"], 3)

    def _supervisor_at(self, stamp_s: float) -> dict[str, Any] | None:
        state = self._supervisor
        if state is None:
            return None
        separation = state["separation_m"]
        return {"age_s": round(stamp_s - state["stamp"], 3), "state": state["state"],
                "separation_m": round(separation, 3) if math.isfinite(separation) else None,
                "robot_speed_mps": round(state["robot_speed_mps"], 3),
                "reason": state["reason"]}

    def on_status(self, status: dict[str, Any]) -> None:
        self.status = dict(status)
        self.sim_time_s = max(self.sim_time_s, float(status.get("sim_time_s", 0.0)))

    def on_task_finished(self, reason: str) -> None:
        self.finished_by_stack = True
        self.stack_reason = reason

    # --- verdict -------------------------------------------------------------------------
    @property
    def timed_out(self) -> bool:
        return self.sim_time_s >= self.time_limit_s

    @property
    def complete(self) -> bool:
        """Every part seated for COMPLETE_HOLD_S."""
        return self.complete_since is not None and \
            self.sim_time_s >= self.complete_since + COMPLETE_HOLD_S

    def done(self) -> bool:
        return self.finished_by_stack or self.timed_out or self.complete

    def record(self, cpu_s: dict[str, float] | None = None,
               rss_mb: dict[str, float] | None = None) -> dict[str, Any]:
        """The episode record (DESIGN section 8); unmeasured fields are None."""
        items_total = len(self.parts)
        items_done = sum(1 for t in self.parts.values() if t.status == "seated")
        errors = dict(self.errors)
        if self.timed_out and not (self.finished_by_stack or self.complete):
            errors[ErrorKind.TIMEOUT.value] += 1
        errors[ErrorKind.SEPARATION_VIOLATION.value] += self.violation.events
        success = items_total > 0 and items_done == items_total
        status = self.status
        camera = None
        if status.get("camera_width"):
            camera = {"width": status["camera_width"], "height": status["camera_height"],
                      "rate_hz": status["camera_rate_hz"]}
        return {
            "scenario": self.scenario,
            "task": self.task,
            "seed": status.get("seed"),
            "family": status.get("family"),
            "split": status.get("split"),
            "decision_mode": self.decision_mode,
            "success": success,
            "items_total": items_total,
            "items_done": items_done,
            "task_errors": sum(errors.values()) + (items_total - items_done),
            "duration_sim_s": round(self.sim_time_s, 3),
            "rtf_achieved": status.get("rtf_achieved"),
            "camera": camera,
            "errors": errors,
            "separation": {
                "min_m": None if math.isinf(self.min_separation_m)
                else round(self.min_separation_m, 4),
                "violation_s": round(self.violation.duration_s, 3),
                "violation_events": self.violation.events,
                "violations": self.violation_log,
                # below the reference inside the judge's hand-over windows (not violations)
                "handover_window_s": round(self.exempt.duration_s, 3),
                "handover_window_events": self.exempt.events,
                # [t, separation m, robot speed m/s, reference S_p m] every 0.2 s
                "series": self.separation_series,
            },
            "latency_ms": latency_record(self.latency_ms),
            "perception": self.perception_record(),
            "prediction": self.prediction.record(),
            "part_status": {name: t.status for name, t in sorted(self.parts.items())},
            "collision_events": [{"t": t, "with": name, "robot_speed_mps": speed}
                                 for t, name, speed in self.collision_events],
            "stack_reason": self.stack_reason,
            "cpu_s": cpu_s,
            "rss_mb": rss_mb,
        }

    def perception_record(self) -> dict[str, Any] | None:
        if not self.perception_truth:
            return None
        errors = sorted(self.perception_errors)
        return {
            "recall_static": round(self.perception_found / self.perception_truth, 4),
            "error_p50_m": round(percentile(errors, 50), 4) if errors else None,
            "error_p95_m": round(percentile(errors, 95), 4) if errors else None,
            "n": self.perception_truth, "frames": self.perception_frames,
        }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def latency_record(samples: list[float]) -> dict[str, Any] | None:
    """p50/p99 from all samples (never an average of percentiles), plus the samples."""
    if not samples:
        return None
    return {"p50": round(percentile(samples, 50), 2), "p99": round(percentile(samples, 99), 2),
            "n": len(samples), "samples": [round(v, 2) for v in samples]}
