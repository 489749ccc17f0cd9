"""The one enum of task error kinds (DESIGN section 7), shared by the episode judge, the
run/bench JSON and the report. No rclpy here."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    FAILED_GRASP = "failed_grasp"
    DROPPED = "dropped"
    COLLISION = "collision"
    SEPARATION_VIOLATION = "separation_violation"
    COMFORT_VIOLATION = "comfort_violation"
    WRONG_PLACEMENT = "wrong_placement"
    NAVIGATION_FAILURE = "navigation_failure"
    HANDOVER_FAILURE = "handover_failure"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
