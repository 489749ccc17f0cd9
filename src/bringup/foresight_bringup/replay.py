"""Replay (`./foresight replay BAG`): a recorded episode's sensor streams (clock, TF, joint
states, camera, safety scan) played from its bag into perception and the world model,
started as real processes from the scenario's launch file, with no simulator; what the
world model then tracks is compared with the bag's own ground truth. For regression tests:
the same recorded input, today's perception and world model. An offline tool: it reads
ground truth (from the bag), the replayed nodes never do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rosbags.highlevel import AnyReader

from foresight_bringup.episode import launch_file_for
from foresight_bringup.launch_xml import parse_launch_file
from foresight_bringup.process_runner import ProcessRunner
from foresight_common import contract
from foresight_interfaces.msg import ObjectTrackArray

PLAYED = (contract.CLOCK_TOPIC, contract.TF_TOPIC, contract.TF_STATIC_TOPIC,
          contract.JOINT_STATES, contract.COLOR_IMAGE, contract.COLOR_INFO,
          contract.DEPTH_IMAGE, contract.DEPTH_INFO, contract.SAFETY_SCAN)
REPLAYED_NODES = ("perception", "world_model")
STARTUP_S = 4.0  # wall s the replayed nodes get to start before the first message


class ReplayError(RuntimeError):
    """The bag cannot be replayed (missing, or without the streams perception needs)."""


def replay(bag: Path, domain_id: int, sink: Callable[[str], object], rtf: float = 1.0,
           scenario: str = "industrial_assembly", until_s: float | None = None) -> dict:
    """Play `bag` into perception and the world model; returns what came out: messages
    played, object tracks received, and per ground-truth part in the tray (the last state
    the bag holds) the distance to the nearest track of its type at the end."""
    if not bag.exists():
        raise ReplayError(f"no bag at {bag}")
    description = parse_launch_file(launch_file_for(scenario), {"family": "smoke"})
    specs = [s for s in description.nodes if s.name in REPLAYED_NODES]
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = Node("bag_player", context=context)
    publishers = {"/" + t.name.lstrip("/"): node.create_publisher(t.type, t.name, t.qos)
                  for t in PLAYED}
    tracks: list[ObjectTrackArray] = []
    node.create_subscription(ObjectTrackArray, contract.OBJECT_TRACKS.name, tracks.append,
                             contract.OBJECT_TRACKS.qos)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    runner = ProcessRunner(specs, domain_id=domain_id, sink=sink)
    played = 0
    truth: dict[str, tuple[str, np.ndarray]] = {}
    try:
        runner.start()
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        with AnyReader([bag]) as reader:
            connections = [c for c in reader.connections
                           if c.topic in publishers or c.topic == contract.GT_OBJECTS.name]
            if not any(c.topic == "/" + contract.COLOR_IMAGE.name for c in connections):
                raise ReplayError(f"{bag} holds no camera images")
            wall_start, sim_start = time.monotonic(), None
            for connection, stamp, raw in reader.messages(connections=connections):
                sim = stamp * 1e-9
                if until_s is not None and sim > until_s:
                    break
                if connection.topic == contract.GT_OBJECTS.name:
                    objects = reader.deserialize(raw, connection.msgtype)
                    truth = {o.name: (o.type, np.array([o.pose.position.x, o.pose.position.y,
                                                        o.pose.position.z]))
                             for o in objects.objects
                             if o.kind == "part" and o.status == "in_tray"}
                    continue
                if sim > 0.0:
                    sim_start = sim if sim_start is None else sim_start
                    due = wall_start + (sim - sim_start) / rtf
                    while time.monotonic() < due:
                        executor.spin_once(timeout_sec=max(0.0, min(0.01, due -
                                                                    time.monotonic())))
                publishers[connection.topic].publish(bytes(raw))
                played += 1
                runner.check()
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            executor.spin_once(timeout_sec=0.05)
    finally:
        runner.shutdown()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return {"bag": str(bag), "played": played, "track_messages": len(tracks),
            "parts": _match(truth, tracks[-1] if tracks else None)}


def _match(truth: dict[str, tuple[str, np.ndarray]], last: ObjectTrackArray | None
           ) -> dict[str, float | None]:
    """Per ground-truth part: distance (m) to the nearest track of its type (None: none)."""
    out: dict[str, float | None] = {}
    for name, (kind, position) in truth.items():
        gaps = [math.dist(position, (t.pose.position.x, t.pose.position.y, t.pose.position.z))
                for t in (last.tracks if last else []) if t.label == kind]
        out[name] = round(min(gaps), 4) if gaps else None
    return out

