"""Image hop latency between two processes while the whole industrial stack runs: a publisher
process sends sensor_msgs/Image (rgb8, the camera topics' QoS from the contract) stamped with
the wall clock at the camera rate; this process receives them and measures receive time -
stamp. Reports p50/p99/n per image size. Every process is on one private ROS domain,
localhost only."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image

from foresight_bringup.episode import launch_file_for
from foresight_bringup.launch_xml import parse_launch_file
from foresight_bringup.process_runner import ProcessRunner
from foresight_common import contract

TOPIC = "benchmark/image_hop"


def wall_stamp(msg: Image) -> None:
    now = time.time_ns()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)


def publisher(width: int, height: int, rate: float, seconds: float) -> None:
    rclpy.init()
    node = Node("image_hop_publisher")
    pub = node.create_publisher(Image, TOPIC, contract.COLOR_IMAGE.qos)
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8).tobytes()
    msg = Image(width=width, height=height, encoding="rgb8", step=width * 3, data=pixels)
    time.sleep(2.0)  # discovery
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        wall_stamp(msg)
        pub.publish(msg)
        time.sleep(1.0 / rate)
    node.destroy_node()
    rclpy.shutdown()


def measure(width: int, height: int, rate: float, seconds: float, domain: int) -> dict:
    latencies: list[float] = []
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = Node("image_hop_subscriber", context=context)
    # (the publisher child runs on the same domain: ROS_DOMAIN_ID in its environment)

    def on_image(msg: Image) -> None:
        sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        latencies.append((time.time_ns() - sent) / 1e6)

    node.create_subscription(Image, TOPIC, on_image, contract.COLOR_IMAGE.qos)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    child = subprocess.Popen([sys.executable, __file__, "--role", "publisher", "--size",
                              f"{width}x{height}", "--rate", str(rate), "--seconds",
                              str(seconds)], env=env)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    while child.poll() is None:
        executor.spin_once(timeout_sec=0.05)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    values = np.array(latencies)
    return {"size": f"{width}x{height}", "n": int(values.size),
            "p50_ms": float(np.percentile(values, 50)) if values.size else None,
            "p99_ms": float(np.percentile(values, 99)) if values.size else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=("measure", "publisher"), default="measure")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--rate", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--domain", type=int, default=int(os.environ.get("BENCH_DOMAIN", 88)))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.role == "publisher":
        width, height = map(int, args.size.split("x"))
        publisher(width, height, args.rate, args.seconds)
        return
    lines: list[str] = []
    description = parse_launch_file(launch_file_for("industrial_assembly"),
                                    {"family": "default", "camera_width": "320",
                                     "camera_height": "240", "camera_rate_hz": "15"})
    runner = ProcessRunner(description.nodes, domain_id=args.domain, sink=lines.append)
    results = []
    with runner:
        time.sleep(8.0)  # let the stack come up and start working
        runner.check()
        for width, height in ((320, 240), (640, 480)):
            results.append(measure(width, height, args.rate, args.seconds, args.domain))
        runner.check()
    report = {"stack": "industrial_assembly (all nodes, default family, camera 320x240@15)",
              "rate_hz": args.rate, "results": results}
    for r in results:
        print(f"image hop {r['size']} rgb8 at {args.rate:g} Hz with all nodes up: "
              f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms (n={r['n']})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
