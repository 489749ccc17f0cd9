"""Localisation node of the mobile base: corrects the wheel odometry's drift by matching the
head camera's depth to the known room (foresight_perception.localization) and broadcasts
`map -> odom`, as AMCL does for a laser.

Subscribes: camera/depth/{image_raw,camera_info}, odom (the base driver's wheel odometry:
            odom -> base_link at the image stamp), /tf_static (the camera's mounting),
            joint_states (the arm, cut out of the depth)
Publishes:  /tf map -> odom (re-sent at publish_rate_hz, stamped a little ahead like AMCL's
            transform_tolerance), localization/pose (the base in map, with covariance),
            /diagnostics (matches accepted and refused, with the last reason)
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from foresight_common import contract
from foresight_common.conversions import (
    pose_to_msg,
    sec_to_time,
    store_tf_message,
    time_to_sec,
    transform_to_msg,
    yaw_to_quat_wxyz,
)
from foresight_common.depth_scan import ScanConfig, scan_from_depth_message
from foresight_common.node_support import (
    DiagnosticsReporter,
    create_publisher,
    create_subscription,
    declare_parameters,
    load_file_parameter,
    run_node,
)
from foresight_common.params import param
from foresight_common.planar import PoseHistory, compose, inverse, odometry_pose
from foresight_common.room_layout import load_room_layout
from foresight_common.self_filter import ArmSelfFilter
from foresight_common.tf_buffer import TransformBuffer
from foresight_perception.localization import (
    LocalizerConfig,
    ScanMatcher,
    map_outline,
)

#: The static transforms this node needs: the camera's mounting on the base.
TF_CHILDREN = frozenset({contract.CAMERA_FRAME, contract.CAMERA_OPTICAL_FRAME})


@dataclass(frozen=True)
class LocalizationParams:
    room_file: str = field(default="", metadata=param(
        "Room layout YAML (config/rooms/...): the known map", non_empty=True))
    initial_pose_from_room: bool = field(default=True, metadata=param(
        "Start at the room file's robot start (else at initial_pose)"))
    initial_pose: tuple[float, ...] = field(default=(0.0, 0.0, 0.0), metadata=param(
        "Start pose of base_link in map (x m, y m, yaw rad)", length=3, low=-100.0,
        high=100.0))
    update_rate_hz: float = field(default=5.0, metadata=param(
        "Matches per second at most (depth frames between are skipped)", low=0.1, high=30.0))
    publish_rate_hz: float = field(default=20.0, metadata=param(
        "Rate of map -> odom on /tf", low=1.0, high=100.0))
    transform_tolerance_s: float = field(default=0.1, metadata=param(
        "map -> odom is stamped this far ahead (as AMCL's transform_tolerance)", low=0.0,
        high=1.0))
    blend: float = field(default=0.6, metadata=param(
        "Share of an accepted match's correction applied at once", low=0.05, high=1.0))
    odom_history_s: float = field(default=5.0, metadata=param(
        "How long odometry is kept for lookups at image stamps (s)", low=0.5, high=60.0))
    update_min_d_m: float = field(default=0.05, metadata=param(
        "A match needs the base to have driven this far since the last one (m; or turned "
        "update_min_a_rad), as AMCL's update_min_d", low=0.0, high=2.0))
    update_min_a_rad: float = field(default=0.05, metadata=param(
        "... or turned this far (rad)", low=0.0, high=3.2))
    max_arm_share: float = field(default=0.05, metadata=param(
        "A depth frame whose in-band points are more than this share the robot's own arm "
        "is not matched (the arm hides the room; the base stands while it works)",
        low=0.0, high=1.0))
    wall_band_min_z_m: float = field(default=1.0, metadata=param(
        "Above this height (m) only walls and tall fixed furniture reach (the room's "
        "movable furniture ends at 0.85 m): the nearest point per bearing there is matched "
        "as well, so the wall behind a table counts, not only the table's edge (0: the "
        "lower band alone)", low=0.0, high=2.0))


class LocalizationNode(Node):
    def __init__(self) -> None:
        super().__init__("localization")
        self.params = p = declare_parameters(self, LocalizationParams)
        layout = load_file_parameter("room_file", p.room_file, load_room_layout)
        self.matcher = ScanMatcher(map_outline(layout), LocalizerConfig())
        # at a table's edge the lower band sees the table (moved by people) and hardly a
        # wall: half the matches were refused and the rest 6 cm off at p50 (home_train,
        # benchmarks/localization.py --near table); with the wall band 2 cm, none refused
        self.scan_config = ScanConfig(upper_min_z=p.wall_band_min_z_m or None)
        start = layout.robot_start if p.initial_pose_from_room else tuple(p.initial_pose)
        # odometry starts at the base's start: map -> odom = the start pose
        self._map_to_odom = (float(start[0]), float(start[1]), float(start[2]))
        self._lock = threading.Lock()
        self._variances = (1.0, 1.0, 1.0)      # of the last match (none yet: unknown)
        self._tf = TransformBuffer()                 # static: the camera's mounting
        self._odom = PoseHistory(span_s=p.odom_history_s)
        self._info: CameraInfo | None = None
        self._last_match = -math.inf
        self._accepted_at: tuple[float, float, float] | None = None   # odom pose then
        self.diagnostics = DiagnosticsReporter(self, "localization")
        self.pub_tf = create_publisher(self, contract.TF_TOPIC)
        self.pub_pose = create_publisher(self, contract.LOCALIZATION_POSE)
        create_subscription(self, contract.TF_STATIC_TOPIC, self.on_tf_static)
        # the arm's links and what it holds are cut out of the depth (a self filter)
        self.arm = ArmSelfFilter()
        create_subscription(self, contract.JOINT_STATES, self.on_joint_states)
        create_subscription(self, contract.ODOM, self.on_odom)
        create_subscription(self, contract.DEPTH_INFO, self.on_info)
        create_subscription(self, contract.DEPTH_IMAGE, self.on_depth)
        self.create_timer(1.0 / p.publish_rate_hz, self.publish_map_to_odom)
        self.get_logger().info(
            f"localising in {layout.source} ({len(self.matcher.a)} outline segments) from "
            f"({start[0]:.2f}, {start[1]:.2f}, {math.degrees(start[2]):.0f} deg)")

    def on_joint_states(self, msg) -> None:
        reason = self.arm.on_joint_states(msg)
        if reason:
            self.diagnostics.reject("joint_states", reason)

    def on_tf_static(self, msg: TFMessage) -> None:
        with self._lock:
            refused = store_tf_message(self._tf, msg, True, TF_CHILDREN)
        for reason in refused:
            self.diagnostics.reject("tf", reason)

    def on_odom(self, msg: Odometry) -> None:
        try:
            with self._lock:
                self._odom.add(*odometry_pose(msg))
        except ValueError as exc:
            self.diagnostics.reject("odom", str(exc))

    def on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def on_depth(self, msg: Image) -> None:
        p = self.params
        stamp = time_to_sec(msg.header.stamp)
        if stamp - self._last_match < 1.0 / self.params.update_rate_hz:
            return
        info = self._info
        if info is None:
            self.diagnostics.reject("depth", "no camera_info of this image size yet")
            return
        try:
            with self._lock:
                depth = scan_from_depth_message(msg, info, self._tf, self.scan_config,
                                                arm=self.arm.capsules())
        except ValueError as exc:
            self.diagnostics.reject("depth", str(exc))
            return
        try:
            with self._lock:
                odom_pose = self._odom.at(stamp)
        except LookupError as exc:
            self.diagnostics.reject("depth", f"no pose at the image stamp: {exc}")
            return
        self._last_match = stamp
        prior = compose(self._map_to_odom, odom_pose)
        since = None
        if self._accepted_at is not None:
            moved = compose(inverse(self._accepted_at), odom_pose)
            since = (math.hypot(moved[0], moved[1]), abs(moved[2]))
        if since is not None and since[0] < p.update_min_d_m and since[1] < p.update_min_a_rad:
            # standing since the last match: nothing to correct (AMCL's update_min_d/_a);
            # matching again would only walk along what the view leaves unconstrained
            self.diagnostics.count("matches.skipped_standing")
            self._publish_pose(msg.header.stamp, prior, self._variances)
            return
        if depth.arm_share > p.max_arm_share:
            # the arm at work hides the room (the base stands meanwhile): odometry holds
            self.diagnostics.count("matches.skipped_arm_in_view")
            self._publish_pose(msg.header.stamp, prior, self._variances)
            return
        match = self.matcher.match(depth.points, prior, since)
        self.diagnostics.set_value("last_mean_residual_m", f"{match.mean_residual:.3f}")
        if not match.accepted:
            self.diagnostics.count("matches.refused")
            self.diagnostics.set_value("last_refusal", match.reason)
            pose = prior
        else:
            self.diagnostics.count("matches.accepted")
            w = self.params.blend
            dyaw = math.remainder(match.pose[2] - prior[2], 2 * math.pi)
            pose = (prior[0] + w * (match.pose[0] - prior[0]),
                    prior[1] + w * (match.pose[1] - prior[1]), prior[2] + w * dyaw)
            with self._lock:
                self._map_to_odom = compose(pose, inverse(odom_pose))
            self._accepted_at = odom_pose
        self._variances = match.covariance
        self._publish_pose(msg.header.stamp, pose, match.covariance)

    def _publish_pose(self, stamp, pose: tuple[float, float, float],
                      variances: tuple[float, float, float]) -> None:
        out = contract.LOCALIZATION_POSE.type()
        out.header.stamp = stamp
        out.header.frame_id = contract.MAP_FRAME
        out.pose.pose = pose_to_msg(np.array([pose[0], pose[1], 0.0]),
                                    yaw_to_quat_wxyz(pose[2]))
        cov = [0.0] * 36
        cov[0], cov[7], cov[35] = variances
        cov[14] = cov[21] = cov[28] = 1e-6
        out.pose.covariance = cov
        self.pub_pose.publish(out)

    def publish_map_to_odom(self) -> None:
        with self._lock:
            x, y, yaw = self._map_to_odom
        now = time_to_sec(self.get_clock().now().to_msg())
        stamp = sec_to_time(now + self.params.transform_tolerance_s)
        self.pub_tf.publish(TFMessage(transforms=[transform_to_msg(
            contract.MAP_FRAME, contract.ODOM_FRAME, stamp, np.array([x, y, 0.0]),
            yaw_to_quat_wxyz(yaw))]))


def main(args: list[str] | None = None) -> int:
    return run_node(LocalizationNode, "localization", args, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
