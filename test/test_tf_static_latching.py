"""/tf_static has more than one latched publisher (the simulation's sensor mountings, the
robot's fixed links): a subscriber that matches them late, while it is still busy starting
up, must get every one of them. With a history of one, the reader kept only the last
message and perception never learned the camera's mounting (a whole measured episode lost)."""

from __future__ import annotations

import time

import rclpy
from geometry_msgs.msg import TransformStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from tf2_msgs.msg import TFMessage

from foresight_common import contract


def mounting(child: str) -> TFMessage:
    transform = TransformStamped()
    transform.header.frame_id = contract.WORLD_FRAME
    transform.child_frame_id = child
    transform.transform.rotation.w = 1.0
    return TFMessage(transforms=[transform])


def test_a_late_busy_subscriber_gets_every_static_publishers_transforms(domain_id):
    topic = contract.TF_STATIC_TOPIC
    publishers_context, subscriber_context = rclpy.Context(), rclpy.Context()
    rclpy.init(context=publishers_context, domain_id=domain_id)
    rclpy.init(context=subscriber_context, domain_id=domain_id)
    try:
        nodes = [Node(name, context=publishers_context) for name in ("sim", "links")]
        for node, child in zip(nodes, ("camera_link", "panda_hand_tcp"), strict=True):
            node.create_publisher(topic.type, topic.name, topic.qos).publish(mounting(child))
        listener = Node("listener", context=subscriber_context)
        received: list[str] = []
        listener.create_subscription(
            topic.type, topic.name,
            lambda msg: received.extend(t.child_frame_id for t in msg.transforms), topic.qos)
        time.sleep(1.5)  # busy starting up: both latched messages arrive, none is taken yet
        executor = SingleThreadedExecutor(context=subscriber_context)
        executor.add_node(listener)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and len(set(received)) < 2:
            executor.spin_once(timeout_sec=0.1)
        assert set(received) == {"camera_link", "panda_hand_tcp"}
    finally:
        rclpy.try_shutdown(context=subscriber_context)
        rclpy.try_shutdown(context=publishers_context)
