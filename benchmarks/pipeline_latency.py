"""How old each stage's output is when it arrives, on a running graph: simulated time now
(/clock) minus the message's stamp (the source camera image's stamp) for the camera images,
perception's detections and the world model's tracks, and the longest simulated time between
two arrivals (what trips the executor's watchdogs). A probe node on the graph's domain; it
only listens.

    ROS_DOMAIN_ID=<the run's --domain-id> ./foresight python benchmarks/pipeline_latency.py 20
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import rclpy
from rclpy.node import Node

from foresight_common import contract
from foresight_common.conversions import time_to_sec

#: Arrival gaps longer than this (simulated s) are counted: the executor's watchdog default.
LONG_GAP_S = 0.5

STAGES = (contract.COLOR_IMAGE, contract.DETECTIONS, contract.PERSON_TRACKS,
          contract.OBJECT_TRACKS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", type=float, help="how long to listen (wall s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rclpy.init()
    node = Node("pipeline_latency_probe")
    now = [float("nan")]
    # per topic: (simulated time on arrival, the message's stamp)
    received: dict[str, list[tuple[float, float]]] = {topic.name: [] for topic in STAGES}
    clock = contract.CLOCK_TOPIC
    node.create_subscription(clock.type, clock.name,
                             lambda m: now.__setitem__(0, time_to_sec(m.clock)), clock.qos)
    for topic in STAGES:
        node.create_subscription(
            topic.type, topic.name,
            lambda m, name=topic.name: received[name].append(
                (now[0], time_to_sec(m.header.stamp))),
            topic.qos)
    end = node.get_clock().now().nanoseconds + int(args.seconds * 1e9)
    while node.get_clock().now().nanoseconds < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
    for name, pairs in received.items():
        arrivals, stamps = np.array(pairs[5:]).reshape(-1, 2).T  # skip the first few
        samples = arrivals - stamps
        samples = samples[np.isfinite(samples)]
        if len(samples) == 0:
            print(f"{name:28s} no messages")
            continue
        p10, p50, p90 = np.percentile(samples, [10, 50, 90])
        gaps = np.diff(arrivals)
        gaps = gaps[np.isfinite(gaps)]
        print(f"{name:28s} n={len(samples):4d}  age p10 {p10 * 1e3:5.0f}  p50 {p50 * 1e3:5.0f}"
              f"  p90 {p90 * 1e3:5.0f}  max {samples.max() * 1e3:5.0f} ms; simulated time "
              f"between arrivals max {gaps.max(initial=0.0) * 1e3:5.0f} ms, "
              f"> {LONG_GAP_S} s: {int(np.sum(gaps > LONG_GAP_S))}; between stamps max "
              f"{np.diff(stamps).max(initial=0.0) * 1e3:5.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
