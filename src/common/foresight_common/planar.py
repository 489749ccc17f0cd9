"""Planar poses (x, y, yaw) of a mobile base and a short history of its odometry, for the
nodes that need the base's pose at a given stamp without converting all of /tf (~100
messages/s of arm links a base node has no use for). No rclpy.
"""

from __future__ import annotations

import bisect
import math

Pose2D = tuple[float, float, float]


def compose(a: Pose2D, b: Pose2D) -> Pose2D:
    """a * b: pose b (given in a's frame) expressed in a's parent frame."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1],
            math.remainder(a[2] + b[2], 2 * math.pi))


def inverse(a: Pose2D) -> Pose2D:
    c, s = math.cos(a[2]), math.sin(a[2])
    return (-c * a[0] - s * a[1], s * a[0] - c * a[1], -a[2])


def odometry_pose(msg) -> tuple[float, Pose2D]:
    """(stamp s, (x, y, yaw)) of a nav_msgs/Odometry."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    return stamp, (p.x, p.y, yaw_of(q))


def yaw_of(q) -> float:
    """Yaw (rad) of a geometry_msgs/Quaternion (or anything with w, x, y, z)."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class PoseHistory:
    """Time-stamped planar poses (e.g. odom -> base_link from `odom`), kept `span_s` back;
    `at(t)` interpolates between neighbours and refuses what it does not hold."""

    def __init__(self, span_s: float = 5.0, tolerance_s: float = 0.1) -> None:
        self.span_s = span_s
        self.tolerance_s = tolerance_s
        self.times: list[float] = []
        self.poses: list[Pose2D] = []

    def add(self, t: float, pose: Pose2D) -> None:
        if not all(math.isfinite(v) for v in (t, *pose)):
            raise ValueError(f"non-finite pose {pose} at {t}")
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.poses.insert(i, pose)
        while len(self.times) > 2 and self.times[0] < self.times[-1] - self.span_s:
            self.times.pop(0)
            self.poses.pop(0)

    def latest(self) -> tuple[float, Pose2D] | None:
        return (self.times[-1], self.poses[-1]) if self.times else None

    def at(self, t: float) -> Pose2D:
        """The pose at `t`; LookupError with the reason when `t` is outside the history
        (beyond `tolerance_s` of its ends)."""
        if not self.times:
            raise LookupError("no pose received yet")
        if t > self.times[-1] + self.tolerance_s:
            raise LookupError(f"pose at {t:.3f} s is newer than the newest "
                              f"({self.times[-1]:.3f} s)")
        if t < self.times[0] - self.tolerance_s:
            raise LookupError(f"pose at {t:.3f} s is older than the history "
                              f"({self.times[0]:.3f} s)")
        i = bisect.bisect_left(self.times, t)
        if i <= 0:
            return self.poses[0]
        if i >= len(self.times):
            return self.poses[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        a, b = self.poses[i - 1], self.poses[i]
        w = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
        return (a[0] + w * (b[0] - a[0]), a[1] + w * (b[1] - a[1]),
                math.remainder(a[2] + w * math.remainder(b[2] - a[2], 2 * math.pi),
                               2 * math.pi))
