"""Planar poses (x, y, yaw) of a mobile base and a short history of its odometry, for the
nodes that need the base's pose at a given stamp without converting all of /tf (~100
messages/s of arm links a base node has no use for). No rclpy.
"""

from __future__ import annotations

import bisect
import math
import threading

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


class MapPose:
    """base_link in map now, the way a base node needs it without all of /tf: the wheel
    odometry's history (odom -> base_link) and the newest localised pose (base_link in map
    at a camera stamp), joined as map -> odom once the odometry of that stamp is here (the
    two topics arrive in any order). Thread-safe."""

    def __init__(self, span_s: float = 10.0) -> None:
        self._lock = threading.Lock()
        self.odom = PoseHistory(span_s=span_s)
        self._pending: tuple[float, Pose2D] | None = None
        self._map_to_odom: Pose2D | None = None
        self._localized_at = -math.inf

    def add_odom(self, stamp: float, pose: Pose2D) -> str | None:
        """Store one odometry pose; the reason when a pending localisation could not be
        joined to it (else None). ValueError for a non-finite pose."""
        with self._lock:
            self.odom.add(stamp, pose)
        return self._join()

    def add_localized(self, stamp: float, pose: Pose2D) -> str | None:
        with self._lock:
            self._pending = (stamp, pose)
        return self._join()

    def _join(self) -> str | None:
        with self._lock:
            newest = self.odom.latest()
            if self._pending is None or newest is None or newest[0] < self._pending[0]:
                return None
            stamp, in_map = self._pending
            self._pending = None
            try:
                odom = self.odom.at(stamp)
            except LookupError as exc:
                return f"no odometry at its stamp: {exc}"
            self._map_to_odom = compose(in_map, inverse(odom))
            self._localized_at = stamp
            return None

    def add_odom_msg(self, msg) -> str | None:
        """add_odom from a nav_msgs/Odometry; the reason it was refused or could not be
        joined, else None."""
        try:
            return self.add_odom(*odometry_pose(msg))
        except ValueError as exc:
            return str(exc)

    def add_localized_msg(self, msg, map_frame: str) -> str | None:
        """add_localized from localisation's PoseWithCovarianceStamped in `map_frame`; the
        reason it was refused, else None."""
        try:
            return self.add_localized(*localized_pose(msg, map_frame))
        except ValueError as exc:
            return str(exc)

    def latest_odom(self) -> tuple[float, Pose2D] | None:
        with self._lock:
            return self.odom.latest()

    def pose(self, now: float, timeout_s: float) -> tuple[Pose2D | None, str]:
        """(base_link in map from the newest odometry through the newest map -> odom, "")
        or (None, why not): odometry older than `timeout_s`, localisation older than 10
        times that, or either missing."""
        with self._lock:
            newest, map_to_odom, localized = self.odom.latest(), self._map_to_odom, \
                self._localized_at
        if newest is None or now - newest[0] > timeout_s:
            return None, "no odometry" if newest is None else \
                f"odometry {now - newest[0]:.2f} s old (limit {timeout_s} s)"
        if map_to_odom is None or now - localized > 10.0 * timeout_s:
            return None, "no localisation" if map_to_odom is None else \
                f"localisation {now - localized:.1f} s old (limit {10.0 * timeout_s:g} s)"
        return compose(map_to_odom, newest[1]), ""

    def map_to_odom(self) -> Pose2D | None:
        with self._lock:
            return self._map_to_odom


def localized_pose(msg, map_frame: str) -> tuple[float, Pose2D]:
    """(stamp s, (x, y, yaw)) of a localisation PoseWithCovarianceStamped in `map_frame`;
    ValueError with the reason when it is in another frame or not finite."""
    if msg.header.frame_id != map_frame:
        raise ValueError(f"frame '{msg.header.frame_id}' is not {map_frame}")
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    pose = (float(p.x), float(p.y), yaw_of(q))
    if not all(math.isfinite(v) for v in pose):
        raise ValueError(f"pose not finite: {pose}")
    return stamp, pose
