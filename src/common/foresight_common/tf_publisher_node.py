"""Robot state publisher: /tf from /joint_states by forward kinematics of the robot model.

There is no robot_state_publisher on this machine (not on PyPI), so this node does its job
for our MuJoCo robot model: every link's transform relative to its parent link, stamped with
the joint state's stamp, plus the robot's mounting on /tf_static.

Subscribes: joint_states (sensor_msgs/JointState)
Publishes:  /tf, /tf_static (tf2_msgs/TFMessage), /robot_description (std_msgs/String,
            latched: the URDF of the same robot model, for RViz), /diagnostics
Parameters: see TfPublisherParams
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from foresight_common import contract
from foresight_common.conversions import transform_to_msg
from foresight_common.kinematics_tree import KinematicTree
from foresight_common.node_support import (
    DiagnosticsReporter,
    create_publisher,
    create_subscription,
    declare_parameters,
    run_node,
)
from foresight_common.params import param
from foresight_common.urdf_export import model_digest, robot_urdf


@dataclass(frozen=True)
class TfPublisherParams:
    parent_frame: str = field(default="world", metadata=param(
        "Frame the robot base is mounted in", non_empty=True))
    base_xyz: tuple[float, ...] = field(default=(0.0, 0.0, 0.75), metadata=param(
        "Position of panda_link0 in parent_frame (m)", length=3, low=-100.0, high=100.0))
    base_yaw: float = field(default=0.0, metadata=param(
        "Yaw of panda_link0 in parent_frame (rad)", low=-3.1416, high=3.1416))
    publish_rate_hz: float = field(default=30.0, metadata=param(
        "Rate of /tf (robot_state_publisher's publish_frequency)", low=1.0, high=500.0))
    mobile_base: bool = field(default=False, metadata=param(
        "The arm rides on the home robot's mobile base: robot_description gets base_link "
        "(with the base's visuals) as its root"))
    mesh_dir: str = field(default="", metadata=param(
        "Folder for the robot_description's mesh files (default: a folder per model under "
        "the system's temporary directory)"))


class TfPublisherNode(Node):
    def __init__(self) -> None:
        super().__init__("tf_publisher")
        self.params = declare_parameters(self, TfPublisherParams)
        self.tree = KinematicTree()
        self.diagnostics = DiagnosticsReporter(self, "forward kinematics")
        self.tf_pub = create_publisher(self, contract.TF_TOPIC)
        self.tf_static_pub = create_publisher(self, contract.TF_STATIC_TOPIC)
        self._latest: JointState | None = None
        self._published_stamp = None
        create_subscription(self, contract.JOINT_STATES, self.on_joint_states)
        self.create_timer(1.0 / self.params.publish_rate_hz, self.publish_tf)
        self._publish_static()
        self.description_pub = create_publisher(self, contract.ROBOT_DESCRIPTION)
        self._publish_description()
        self.get_logger().info(
            f"publishing /tf for {len(self.tree.moving_links)} moving links of "
            f"{len(self.tree.links)} from joint_states")

    def _publish_static(self) -> None:
        stamp = self.get_clock().now().to_msg()
        yaw = self.params.base_yaw
        mount = transform_to_msg(self.params.parent_frame, self.tree.root, stamp,
                                 np.array(self.params.base_xyz),
                                 np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]))
        fixed = [transform_to_msg(parent, child, stamp, pos, quat)
                 for parent, child, pos, quat in self.tree.fixed_transforms()]
        self.tf_static_pub.publish(TFMessage(transforms=[mount, *fixed]))

    def _publish_description(self) -> None:
        """The URDF once (latched); without it RViz shows no robot, the rest still runs."""
        folder = Path(self.params.mesh_dir) if self.params.mesh_dir else \
            Path(tempfile.gettempdir()) / f"foresight-robot-{model_digest(self.tree.kin.model)}"
        try:
            urdf = robot_urdf(folder, self.tree.kin, mobile_base=self.params.mobile_base)
        except OSError as exc:
            self.diagnostics.reject("robot_description", f"no robot_description: meshes "
                                    f"not written to {folder}: {exc}")
            return
        self.description_pub.publish(String(data=urdf))

    def on_joint_states(self, msg: JointState) -> None:
        self._latest = msg  # callbacks store, the timer publishes

    def publish_tf(self) -> None:
        msg = self._latest
        if msg is None or msg.header.stamp == self._published_stamp:
            return
        self._published_stamp = msg.header.stamp
        try:
            positions = self.tree.positions_from(msg.name, msg.position)
        except ValueError as exc:
            self.diagnostics.reject("joint_states", str(exc))
            return
        transforms = [transform_to_msg(parent, child, msg.header.stamp, pos, quat)
                      for parent, child, pos, quat in self.tree.moving_transforms(positions)]
        self.tf_pub.publish(TFMessage(transforms=transforms))
        self.diagnostics.count("joint_states.used")


def main(args: list[str] | None = None) -> int:
    return run_node(TfPublisherNode, "tf_publisher", args, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
