"""The executor's RViz markers (`executor/markers`): the protective separation distance S_p
as a ring around the robot point closest to a person, coloured by the supervisor's state
(green clear, amber slowed, red stopped), a line to that person point, the running skill's
target, the TCP's path along the running motion and the skill with its phase as text above
the hand. Built from plain values: no
rclpy here (message types only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from foresight_common.conversions import point_to_msg, vector_to_msg

STATE_COLOURS = {0: (0.2, 0.8, 0.2), 1: (1.0, 0.7, 0.0), 2: (0.9, 0.1, 0.1),
                 3: (0.6, 0.0, 0.6)}  # SafetyState: OK, SLOW, STOP, E-STOP
LIFETIME_S = 0.5  # markers vanish when the executor stops publishing them
RING_HEIGHT_M = 0.005
NS_ZONE, NS_CLOSEST, NS_TARGET, NS_SKILL, NS_PATH = ("safety_zone", "closest", "target",
                                                     "skill", "path")


def _colour(state: int, alpha: float) -> ColorRGBA:
    r, g, b = STATE_COLOURS.get(state, (0.5, 0.5, 0.5))
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def executor_markers(frame: str, stamp: Time, state: int, protective_distance_m: float,
                     robot_point: Sequence[float] | None,
                     person_point: Sequence[float] | None,
                     target: Sequence[float] | None, skill_text: str,
                     text_at: Sequence[float] | None,
                     path: Sequence[Sequence[float]] | None = None) -> MarkerArray:
    """Markers for one supervisor cycle; parts without data are deleted, so RViz never
    shows a stale ring or target. `path`: the TCP's way along the running motion."""
    header = Header(frame_id=frame, stamp=stamp)
    lifetime = Duration(sec=0, nanosec=int(LIFETIME_S * 1e9))
    markers = []

    def add(ns: str, kind: int, **fields) -> None:
        markers.append(Marker(header=header, ns=ns, id=0, type=kind, action=Marker.ADD,
                              lifetime=lifetime, **fields))

    def delete(ns: str) -> None:
        markers.append(Marker(header=header, ns=ns, id=0, action=Marker.DELETE))

    if robot_point is not None and np.isfinite(protective_distance_m):
        marker_pose = Marker().pose
        marker_pose.position = point_to_msg(robot_point)
        marker_pose.orientation.w = 1.0
        diameter = 2.0 * float(protective_distance_m)
        add(NS_ZONE, Marker.CYLINDER, pose=marker_pose, color=_colour(state, 0.25),
            scale=vector_to_msg((diameter, diameter, RING_HEIGHT_M)))
    else:
        delete(NS_ZONE)
    if robot_point is not None and person_point is not None:
        add(NS_CLOSEST, Marker.LINE_LIST,
            points=[point_to_msg(robot_point), point_to_msg(person_point)],
            color=_colour(state, 0.9), scale=vector_to_msg((0.005, 0.0, 0.0)))
    else:
        delete(NS_CLOSEST)
    if target is not None:
        pose = Marker().pose
        pose.position = point_to_msg(target)
        pose.orientation.w = 1.0
        add(NS_TARGET, Marker.SPHERE, pose=pose, color=ColorRGBA(r=0.1, g=0.5, b=1.0, a=0.8),
            scale=vector_to_msg((0.02, 0.02, 0.02)))
    else:
        delete(NS_TARGET)
    if path is not None and len(path) >= 2:
        add(NS_PATH, Marker.LINE_STRIP, points=[point_to_msg(p) for p in path],
            color=ColorRGBA(r=0.1, g=0.5, b=1.0, a=0.6), scale=vector_to_msg((0.004, 0.0, 0.0)))
    else:
        delete(NS_PATH)
    if skill_text and text_at is not None:
        pose = Marker().pose
        pose.position = point_to_msg((text_at[0], text_at[1], text_at[2] + 0.15))
        pose.orientation.w = 1.0
        add(NS_SKILL, Marker.TEXT_VIEW_FACING, pose=pose, text=skill_text,
            color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0), scale=vector_to_msg((0.0, 0.0, 0.04)))
    else:
        delete(NS_SKILL)
    return MarkerArray(markers=markers)
