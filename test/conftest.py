"""Shared fixtures of the cross-package tests: a private ROS domain per test, the scenario's
nodes started as real processes from the launch file, and an rclpy probe node that watches
what crosses the wire."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from foresight_bringup.launch_xml import find_package_share, parse_launch_file
from foresight_bringup.process_runner import ProcessRunner

sys.path.insert(0, str(Path(__file__).parent))

_domains = itertools.count()


def next_domain_id() -> int:
    """Distinct ROS domain ids for the tests of this session (30..99, spread by pid so two
    sessions on one machine are unlikely to meet)."""
    return 30 + (os.getpid() * 7 + next(_domains)) % 70


@pytest.fixture
def domain_id() -> int:
    return next_domain_id()


def bringup_share() -> Path:
    share = find_package_share("foresight_bringup", os.environ.get("AMENT_PREFIX_PATH", ""))
    if share is None:
        pytest.fail("foresight_bringup is not installed: run the tests through ./foresight test")
    return share


class Stack:
    """Nodes of the scenario launch file running as processes; output kept for asserts."""

    def __init__(self, runner: ProcessRunner, lines: list[str]) -> None:
        self.runner = runner
        self.lines = lines

    def output(self, node: str | None = None) -> str:
        prefix = f"[{node}] " if node else ""
        return "\n".join(line for line in self.lines if line.startswith(prefix))


@pytest.fixture
def launch_stack(domain_id: int) -> Iterator[Callable[..., Stack]]:
    """launch_stack(nodes=("simulation",), scenario=..., **launch_args) starts those nodes
    of the scenario's launch file (industrial_assembly by default) on the test's domain."""
    runners: list[ProcessRunner] = []
    smoke = {"industrial_assembly": {"family": "smoke", "watchdog_s": "0.0"},  # most tests
             "home_care": {"family": "home_smoke"}}                # run without perception

    def start(nodes: tuple[str, ...] | None = None, scenario: str = "industrial_assembly",
              **launch_args: str) -> Stack:
        share = bringup_share()
        args = {**smoke[scenario], **{k: str(v) for k, v in launch_args.items()}}
        description = parse_launch_file(share / "launch" / f"{scenario}.launch.xml", args)
        specs = [s for s in description.nodes if nodes is None or s.name in nodes]
        lines: list[str] = []
        runner = ProcessRunner(specs, domain_id=domain_id, sink=lines.append)
        runners.append(runner)
        runner.start()
        return Stack(runner, lines)

    yield start
    for runner in runners:
        runner.shutdown()


class Probe:
    """An rclpy node on the test's domain, spun in a background thread."""

    def __init__(self, domain_id: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node("test_probe", context=self.context)
        # single-threaded: rclpy's MultiThreadedExecutor busy-spins a core
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        self.received: dict[str, list] = {}
        self._lock = threading.Lock()

    def subscribe(self, topic, keep: int = 1000) -> None:
        """Record messages of a contract topic (with their wall receive times)."""
        self.received.setdefault(topic.name, [])

        def on_message(msg, name=topic.name) -> None:
            with self._lock:
                box = self.received[name]
                box.append((time.monotonic(), msg))
                del box[:-keep]

        self.node.create_subscription(topic.type, topic.name, on_message, topic.qos)

    def messages(self, name: str) -> list:
        with self._lock:
            return [m for _, m in self.received.get(name, [])]

    def stamped(self, name: str) -> list:
        with self._lock:
            return list(self.received.get(name, []))

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str,
                 stack: Stack | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if stack is not None:
                stack.runner.check()
            time.sleep(0.05)
        tail = "" if stack is None else "\n" + "\n".join(stack.lines[-30:])
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{tail}")

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def probe(domain_id: int) -> Iterator[Probe]:
    p = Probe(domain_id)
    yield p
    p.close()
