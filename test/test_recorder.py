"""The episode recorder over the wire: what a publisher sends (a ROS type, one of the
project's own, a depth image, the clock) lands in an MCAP bag that `rosbags` reads back
typed, with simulated-time stamps and depth as 16UC1 millimetres."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rosbags.highlevel import AnyReader
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image

from foresight_bringup.recorder import BagRecorder, RecorderError, depth_to_millimetres
from foresight_common import contract
from foresight_interfaces.msg import ObjectTrack, ObjectTrackArray


def depth_image(values: list[float]) -> Image:
    data = np.array(values, dtype="<f4")
    return Image(height=1, width=len(values), encoding="32FC1", step=4 * len(values),
                 data=data.tobytes())


def test_depth_becomes_millimetres_with_zero_for_no_reading():
    from rclpy.serialization import deserialize_message, serialize_message
    out = deserialize_message(depth_to_millimetres(serialize_message(
        depth_image([1.2345, float("nan"), 0.0, 70.0]))), Image)
    assert out.encoding == "16UC1" and out.step == 8
    assert np.frombuffer(bytes(out.data), dtype="<u2").tolist() == [1234, 0, 0, 65535]


def test_a_bag_of_what_crossed_the_wire_reads_back_typed(tmp_path, domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        recorder_node = Node("recorder", context=context)
        bag = tmp_path / "episode"
        recorder = BagRecorder(recorder_node, bag)
        with pytest.raises(RecorderError, match="exists already"):
            BagRecorder(recorder_node, bag)
        talker = Node("talker", context=context)
        publishers = {t.name: talker.create_publisher(t.type, t.name, t.qos)
                      for t in (contract.CLOCK_TOPIC, contract.OBJECT_TRACKS,
                                contract.DEPTH_IMAGE)}
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(recorder_node)
        executor.add_node(talker)
        deadline = time.monotonic() + 5.0   # until discovery has matched every topic
        while time.monotonic() < deadline and not all(
                p.get_subscription_count() for p in publishers.values()):
            executor.spin_once(timeout_sec=0.05)
        for k in range(3):
            publishers[contract.CLOCK_TOPIC.name].publish(Clock(clock=Time(sec=10 + k)))
            executor.spin_once(timeout_sec=0.2)
            publishers[contract.OBJECT_TRACKS.name].publish(ObjectTrackArray(
                tracks=[ObjectTrack(id=k, label="peg_round")]))
            publishers[contract.DEPTH_IMAGE.name].publish(depth_image([0.5, 1.0]))
            for _ in range(5):
                executor.spin_once(timeout_sec=0.05)
        counts = recorder.close()
        executor.shutdown()
    finally:
        rclpy.try_shutdown(context=context)
    assert counts.get("/world_model/objects") == 3, counts
    assert list(bag.glob("*.mcap")), "no MCAP file"
    with AnyReader([bag]) as reader:
        tracks = [(stamp, reader.deserialize(raw, c.msgtype)) for c, stamp, raw
                  in reader.messages() if c.topic == "/world_model/objects"]
        depths = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()
                  if c.topic == "/camera/depth/image_raw"]
    assert [t.tracks[0].id for _, t in tracks] == [0, 1, 2]
    assert tracks[0][1].tracks[0].label == "peg_round"
    assert [stamp for stamp, _ in tracks] == [10_000_000_000, 11_000_000_000, 12_000_000_000]
    assert depths and depths[0].encoding == "16UC1"
    assert np.frombuffer(depths[0].data.tobytes(), dtype="<u2").tolist() == [500, 1000]
