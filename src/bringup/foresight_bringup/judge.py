"""Episode judge (offline tool): turns the simulation's ground truth into the episode record
of DESIGN section 8. It may read ground truth; no online node may.

Reference values are fixed here (or in the simulation's own part-status code), never taken
from the stack's configuration, so the stack cannot grade itself.

Counted now: success, items done, dropped parts, parts in a wrong hole, robot collisions with
the cell or the person, timeout, minimum separation. Separation violations against S_p,
decision latency and prediction accuracy come with the industrial slice and stay null here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from foresight_common.error_kinds import ErrorKind

# A contact must last this long (s) to count as a collision event; a new event needs a gap
# of the same length (a grazing contact that flickers is one event).
COLLISION_DEBOUNCE_S = 0.05
DROP_STATES = ("fell", "in_bin")


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
    collision_events: list[tuple[float, str]] = field(default_factory=list)
    _contact_since: dict[str, float] = field(default_factory=dict)
    _contact_counted: set[str] = field(default_factory=set)
    _contact_last: dict[str, float] = field(default_factory=dict)

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

    def on_safety(self, stamp_s: float, min_separation_m: float,
                  robot_contacts: list[str]) -> None:
        self.sim_time_s = max(self.sim_time_s, stamp_s)
        if math.isfinite(min_separation_m):
            self.min_separation_m = min(self.min_separation_m, min_separation_m)
        for name in robot_contacts:
            self._contact_last[name] = stamp_s
            since = self._contact_since.setdefault(name, stamp_s)
            if stamp_s - since >= COLLISION_DEBOUNCE_S and name not in self._contact_counted:
                self._contact_counted.add(name)
                self.errors[ErrorKind.COLLISION.value] += 1
                self.collision_events.append((round(since, 3), name))
        for name in list(self._contact_since):
            if name not in robot_contacts and \
                    stamp_s - self._contact_last.get(name, stamp_s) >= COLLISION_DEBOUNCE_S:
                del self._contact_since[name]
                self._contact_counted.discard(name)

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

    def done(self) -> bool:
        return self.finished_by_stack or self.timed_out

    def record(self, cpu_s: dict[str, float] | None = None,
               rss_mb: dict[str, float] | None = None) -> dict[str, Any]:
        """The episode record (DESIGN section 8); unmeasured fields are None."""
        items_total = len(self.parts)
        items_done = sum(1 for t in self.parts.values() if t.status == "seated")
        errors = dict(self.errors)
        if self.timed_out and not self.finished_by_stack:
            errors[ErrorKind.TIMEOUT.value] += 1
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
                "violation_s": None,
            },
            "latency_ms": None,
            "prediction": None,
            "part_status": {name: t.status for name, t in sorted(self.parts.items())},
            "collision_events": [{"t": t, "with": name} for t, name in self.collision_events],
            "stack_reason": self.stack_reason,
            "cpu_s": cpu_s,
            "rss_mb": rss_mb,
        }
