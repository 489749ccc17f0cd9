"""Episode recording (`./foresight run --record DIR`): a rosbag2 bag in MCAP storage of what
crossed the wire, written by `rosbags` with every message definition embedded (the
project's own interface types included), so `rosbags`' AnyReader reads it back typed and
Foxglove opens it.

Recorded: the clock, TF and the robot description, joint states and wrench, camera images at
the episode's setting (colour as published; depth as 16UC1 millimetres, 0 = no reading, half
the size of 32FC1 metres), camera infos, the safety scan, detections, tracks, predictions and
markers, task and command events, the supervisor's state, arm and gripper commands,
diagnostics, and the simulation's ground truth in its own namespace (/sim/ground_truth).
Timestamps are simulated time (the latest /clock), as `ros2 bag record --use-sim-time` would
write them. Runs in the episode runner's process (an offline tool), never in the stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from sensor_msgs.msg import Image

from foresight_common import contract
from foresight_common.conversions import image_to_numpy, time_to_sec

RECORDED = (contract.CLOCK_TOPIC, contract.TF_TOPIC, contract.TF_STATIC_TOPIC,
            contract.ROBOT_DESCRIPTION, contract.JOINT_STATES, contract.WRIST_WRENCH,
            contract.COLOR_IMAGE, contract.COLOR_INFO, contract.DEPTH_IMAGE,
            contract.DEPTH_INFO, contract.SAFETY_SCAN, contract.DETECTIONS,
            contract.PERCEPTION_MARKERS, contract.OBJECT_TRACKS, contract.PERSON_TRACKS,
            contract.PREDICTIONS, contract.WORLD_MODEL_MARKERS, contract.EXECUTOR_MARKERS,
            contract.TASK_EVENTS, contract.COMMAND_EVENTS, contract.SAFETY_STATE,
            contract.ARM_TRAJECTORY, contract.GRIPPER_COMMAND, contract.DIAGNOSTICS,
            contract.GT_OBJECTS, contract.GT_SAFETY, contract.GT_STATUS, contract.GT_FRAMES)
INTERFACES_PACKAGE = "foresight_interfaces"


class RecorderError(RuntimeError):
    """The bag cannot be written (the folder exists, the interface files are missing)."""


def msgtype_name(cls: type) -> str:
    """ROS 2 type name of a generated message class: 'sensor_msgs/msg/Image'."""
    return f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"


def interface_typestore():
    """The ROS 2 (Kilted) message types plus the project's own, from their .msg files in the
    installed share (AMENT_PREFIX_PATH)."""
    store = get_typestore(Stores.ROS2_KILTED)
    folders = [Path(prefix) / "share" / INTERFACES_PACKAGE / "msg"
               for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
               if prefix]
    folder = next((f for f in folders if f.is_dir()), None)
    if folder is None:
        raise RecorderError(f"{INTERFACES_PACKAGE}'s .msg files not found under "
                            "AMENT_PREFIX_PATH (run through ./foresight)")
    types = {}
    for path in sorted(folder.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(),
                                        f"{INTERFACES_PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


def depth_to_millimetres(data: bytes) -> bytes:
    """A serialized 32FC1 depth image (m, NaN invalid) as serialized 16UC1 millimetres
    (0 invalid, clipped at 65.535 m)."""
    image = deserialize_message(data, Image)
    if image.encoding != "32FC1":
        return data
    metres = image_to_numpy(image, ("32FC1",))
    millimetres = np.where(np.isfinite(metres) & (metres > 0.0),
                           np.clip(np.round(metres * 1000.0), 0, 65535), 0).astype("<u2")
    image.encoding, image.step, image.is_bigendian = "16UC1", image.width * 2, 0
    image.data = millimetres.tobytes()
    return serialize_message(image)


class BagRecorder:
    """Subscribes (serialized, no decoding except depth) on `node` and writes the bag at
    `path` (a new folder). `close()` finishes the file; messages after it are dropped."""

    def __init__(self, node: Node, path: Path) -> None:
        if path.exists():
            raise RecorderError(f"{path} exists already: not overwriting a recording")
        typestore = interface_typestore()
        self.path = path
        self.writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.clock_ns = 0
        self.counts: dict[str, int] = {}
        self._closed = False
        for topic in RECORDED:
            name = "/" + topic.name.lstrip("/")
            connection = self.writer.add_connection(name, msgtype_name(topic.type),
                                                    typestore=typestore)
            convert = depth_to_millimetres if topic is contract.DEPTH_IMAGE else None
            node.create_subscription(
                topic.type, topic.name,
                lambda data, c=connection, t=topic, f=convert: self._write(c, t, data, f),
                topic.qos, raw=True)

    def _write(self, connection, topic, data: bytes, convert) -> None:
        if self._closed:
            return
        if topic is contract.CLOCK_TOPIC:
            clock = deserialize_message(data, topic.type)
            self.clock_ns = int(round(time_to_sec(clock.clock) * 1e9))
        self.writer.write(connection, self.clock_ns, convert(data) if convert else data)
        self.counts[connection.topic] = self.counts.get(connection.topic, 0) + 1

    def close(self) -> dict[str, int]:
        """Finish the bag; messages written per topic."""
        if not self._closed:
            self._closed = True
            self.writer.close()
        return dict(self.counts)
