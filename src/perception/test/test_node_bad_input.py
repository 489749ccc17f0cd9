"""The perception node in-process (no other processes): messages handed to its callbacks,
what it publishes captured. Bad input is rejected with its kind counted and the node keeps
working; good frames come out with their image stamp."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from tf2_msgs.msg import TFMessage

from foresight_common import contract
from foresight_common.conversions import (
    camera_info,
    depth_to_image,
    rgb_to_image,
    sec_to_time,
    transform_to_msg,
)
from foresight_perception.perception_node import PerceptionNode

W, H = 64, 48
FX = 60.0


@pytest.fixture
def node(class_file):
    context_args = ["--ros-args", "-p", f"class_config_file:={class_file}"]
    rclpy.init(args=context_args, domain_id=90 + os.getpid() % 10)
    perception = PerceptionNode()
    published: list = []
    perception.pub_detections.publish = published.append   # capture instead of sending
    perception.pub_markers.publish = lambda _msg: None
    perception.published = published
    mount = transform_to_msg(contract.WORLD_FRAME, contract.CAMERA_OPTICAL_FRAME,
                             Time(), np.array([0.45, -0.1, 2.0]),
                             np.array([0.0, 0.70710678, -0.70710678, 0.0]))
    perception.on_tf(TFMessage(transforms=[mount]), static=True)
    yield perception
    perception.on_shutdown()
    perception.destroy_node()
    rclpy.shutdown()


def now_stamp(node: PerceptionNode, offset: float = 0.0) -> Time:
    return sec_to_time(node.get_clock().now().nanoseconds * 1e-9 + offset)


def send(node: PerceptionNode, stamp: Time, rgb: np.ndarray | None = None,
         depth: np.ndarray | None = None, info_size: tuple[int, int] = (W, H)) -> None:
    rgb = np.full((H, W, 3), 120, np.uint8) if rgb is None else rgb
    depth = np.full((H, W), 1.25, np.float32) if depth is None else depth
    frame = contract.CAMERA_OPTICAL_FRAME
    node.on_color(rgb_to_image(rgb, stamp, frame))
    node.on_depth(depth_to_image(depth, stamp, frame))
    node.on_info(camera_info(info_size[0], info_size[1], FX, FX, (info_size[0] - 1) / 2,
                             (info_size[1] - 1) / 2, stamp, frame))


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def rejected(node: PerceptionNode, kind: str) -> int:
    return node.diagnostics.counts().get(f"rejected.{kind}", 0)


def test_a_good_frame_is_published_with_its_stamp(node):
    stamp = now_stamp(node)
    send(node, stamp)
    wait_until(lambda: len(node.published) == 1)
    msg = node.published[0]
    assert msg.header.stamp == stamp and msg.header.frame_id == contract.WORLD_FRAME
    assert msg.processing_time_s > 0.0


def test_bad_inputs_are_rejected_by_kind_and_the_node_keeps_working(node):
    # wrong encoding
    stamp = now_stamp(node)
    bad = rgb_to_image(np.zeros((H, W, 3), np.uint8), stamp, contract.CAMERA_OPTICAL_FRAME)
    bad.encoding = "mono16"
    node.on_color(bad)
    assert rejected(node, "color_image") == 1
    # truncated data (size)
    short = depth_to_image(np.zeros((H, W), np.float32), stamp, contract.CAMERA_OPTICAL_FRAME)
    short.data = bytes(short.data)[:100]
    node.on_depth(short)
    assert rejected(node, "depth_image") == 1
    # colour and depth of different sizes
    send(node, now_stamp(node), rgb=np.zeros((H // 2, W // 2, 3), np.uint8))
    wait_until(lambda: rejected(node, "size") >= 1)
    # depth without a single valid reading (NaN), then all zeros
    send(node, now_stamp(node), depth=np.full((H, W), np.nan, np.float32))
    wait_until(lambda: rejected(node, "depth") >= 1)
    send(node, now_stamp(node), depth=np.zeros((H, W), np.float32))
    wait_until(lambda: rejected(node, "depth") >= 2)
    # a stamp in the future and one far in the past
    send(node, now_stamp(node, offset=5.0))
    assert rejected(node, "stamp") >= 3               # colour, depth and info
    send(node, now_stamp(node, offset=-30.0))
    assert rejected(node, "stamp") >= 6
    # the node still works
    good = now_stamp(node)
    send(node, good)
    wait_until(lambda: any(m.header.stamp == good for m in node.published))
    # ... and a frame older than the one it published is refused
    send(node, sec_to_time(node.published[-1].header.stamp.sec
                           + node.published[-1].header.stamp.nanosec * 1e-9 - 0.05))
    assert rejected(node, "stamp") >= 9
    assert node.diagnostics.counts().get("frames.processed", 0) >= 1


def test_no_camera_pose_is_rejected(node):
    node._tf = type(node._tf)()                         # forget the camera mounting
    send(node, now_stamp(node))
    wait_until(lambda: rejected(node, "tf") >= 1)
    assert not node.published
