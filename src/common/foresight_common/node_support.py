"""Shared ROS plumbing for every node: parameter declaration into a frozen dataclass, a
diagnostics reporter that counts rejected inputs, creating endpoints from the contract, and
the one `main()` template (init, spin, clean shutdown, one-line exit on bad configuration).
"""

from __future__ import annotations

import math
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    IntegerRange,
    ParameterDescriptor,
)
from rclpy.clock import Clock, ClockType
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.task import Future

from foresight_common import contract
from foresight_common.params import ParameterError, field_defaults, validate_params

#: Raised by rclpy when an entity is used after its node began to be destroyed.
InvalidHandle = _rclpy.InvalidHandle

T = TypeVar("T")

REJECT_LOG_PERIOD_S = 2.0
# Parameters rclpy or ROS tooling may set on any node; not ours to validate.
_FRAMEWORK_PARAMETERS = ("use_sim_time", "start_type_description_service")


def _descriptor(name: str, default: Any, meta: dict[str, Any]) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(name=name, description=meta.get("description", ""))
    low, high = meta.get("low"), meta.get("high")
    scalar = default[0] if isinstance(default, (tuple, list)) and default else default
    constraints = []
    if low is not None or high is not None:
        constraints.append(f"in [{'-inf' if low is None else low}, "
                           f"{'inf' if high is None else high}]")
    if (low is not None and high is not None and isinstance(scalar, int)
            and not isinstance(scalar, bool)):
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                 step=0)]
    if meta.get("choices"):
        constraints.append("one of: " + ", ".join(map(str, meta["choices"])))
    descriptor.additional_constraints = "; ".join(constraints)
    # Floats are dynamically typed: launch files type "1" as an integer (launch_ros does
    # too), which must still set a double parameter; validate_params converts and checks the
    # range. Empty lists have no type to infer.
    if isinstance(scalar, float) or (isinstance(default, (tuple, list)) and not default):
        descriptor.dynamic_typing = True
    descriptor.read_only = True
    return descriptor


def declare_parameters(node: Node, cls: type[T]) -> T:
    """Declare every field of `cls` as a read-only parameter and return the validated config.

    Overrides (params files, `-p`) that name no declared parameter are an error: a typo in a
    YAML key must not silently fall back to a default.
    """
    values: dict[str, Any] = {}
    for name, (default, meta) in field_defaults(cls).items():
        ros_default = list(default) if isinstance(default, tuple) else default
        descriptor = _descriptor(name, default, meta)
        if descriptor.dynamic_typing and not default:
            node.declare_parameter(name, None, descriptor)
        else:
            node.declare_parameter(name, ros_default, descriptor)
        value = node.get_parameter(name).value
        if value is not None:
            values[name] = list(value) if isinstance(value, (list, tuple)) else value
        if descriptor.dynamic_typing and value is None:
            values.pop(name, None)
    declared = set(field_defaults(cls))
    overrides = getattr(node, "_parameter_overrides", {})  # rclpy keeps CLI/file overrides
    for key in sorted(overrides):
        if key not in declared and key not in _FRAMEWORK_PARAMETERS \
                and not key.startswith("qos_overrides."):
            raise ParameterError(key, overrides[key].value,
                                 "one of the declared parameters: " + ", ".join(sorted(declared)))
    return validate_params(cls, values)


class DiagnosticsReporter:
    """Counts rejected inputs and other events per reason and publishes them on /diagnostics.

    `reject()` logs a throttled warning with the reason, so a flood of bad messages never
    floods the log but every one is counted.
    """

    def __init__(self, node: Node, component: str, period_s: float = 1.0) -> None:
        self._node = node
        self._name = f"{node.get_name()}: {component}"
        self._counts: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._values: dict[str, str] = {}
        self._level = DiagnosticStatus.OK
        self._message = "ok"
        self._lock = threading.Lock()
        self._publisher = node.create_publisher(contract.DIAGNOSTICS.type,
                                                contract.DIAGNOSTICS.name,
                                                contract.DIAGNOSTICS.qos)
        self._timer = node.create_timer(period_s, self.publish)

    def reject(self, kind: str, reason: str) -> None:
        """Count a rejected input of `kind` and log why, at most every 2 s per kind (rclpy's
        own throttling is per call site, which would mix all kinds)."""
        now = time.monotonic()
        with self._lock:
            self._counts[f"rejected.{kind}"] += 1
            count = self._counts[f"rejected.{kind}"]
            due = now - self._last_log.get(kind, -math.inf) >= REJECT_LOG_PERIOD_S
            if due:
                self._last_log[kind] = now
        if due:
            self._node.get_logger().warning(f"rejected {kind} ({count} so far): {reason}")

    def count(self, key: str, increment: int = 1) -> None:
        with self._lock:
            self._counts[key] += increment

    def set_value(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = str(value)

    def set_status(self, level: bytes, message: str) -> None:
        with self._lock:
            self._level = level
            self._message = message

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def publish(self) -> None:
        with self._lock:
            values = [KeyValue(key=k, value=str(v)) for k, v in sorted(self._counts.items())]
            values += [KeyValue(key=k, value=v) for k, v in sorted(self._values.items())]
            level, message = self._level, self._message
        status = DiagnosticStatus(level=level, name=self._name, message=message,
                                  hardware_id=self._node.get_fully_qualified_name(),
                                  values=values)
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(msg)


async def async_sleep(node: Node, seconds: float) -> None:
    """Sleep inside a coroutine callback without blocking the executor (wall time): a
    one-shot timer completes a future that the coroutine awaits."""
    future = Future()
    timer = node.create_timer(seconds, lambda: future.done() or future.set_result(None),
                              clock=Clock(clock_type=ClockType.STEADY_TIME))
    try:
        await future
    finally:
        try:
            timer.cancel()
            node.destroy_timer(timer)
        except InvalidHandle:
            pass             # shutting down: the node already destroyed its timers


def load_file_parameter(key: str, path: str, loader: Callable[[str], T]) -> T:
    """Load the file a parameter names; any failure becomes a ParameterError naming the
    key, the path and why (a missing file must not end in a traceback)."""
    try:
        return loader(path)
    except ParameterError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ParameterError(key, path, f"a readable, valid file ({exc})") from exc


def create_publisher(node: Node, topic: contract.Topic, **kwargs: Any):
    return node.create_publisher(topic.type, topic.name, topic.qos, **kwargs)


def create_subscription(node: Node, topic: contract.Topic, callback: Callable, **kwargs: Any):
    return node.create_subscription(topic.type, topic.name, callback, topic.qos, **kwargs)


def run_node(factory: Callable[[], Node], name: str, args: list[str] | None = None,
             threads: int = 2) -> int:
    """The one main() of every node: init, build, spin, clean shutdown on Ctrl-C/SIGTERM.

    A configuration error while building the node (bad parameter, missing file) ends the
    process with exit code 2 and one line naming the problem, not a traceback. Nodes whose
    callbacks never block run single-threaded (`threads=1`, cheaper); nodes that wait inside
    action callbacks need several threads.
    """
    rclpy.init(args=args if args is not None else sys.argv)
    node: Node | None = None
    try:
        node = factory()
    except KeyboardInterrupt:  # stopped while starting up (e.g. the launch is shutting down)
        rclpy.try_shutdown()
        return 130
    except (ParameterError, ValueError, FileNotFoundError, OSError, KeyError) as exc:
        rclpy.logging.get_logger(name).fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return 2
    except Exception as exc:  # noqa: BLE001 - last resort: one line + traceback at debug
        rclpy.logging.get_logger(name).fatal(
            f"cannot start: {type(exc).__name__}: {exc}")
        rclpy.logging.get_logger(name).debug(traceback.format_exc())
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor() if threads == 1 else \
        MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # the context shut down (Ctrl-C, SIGTERM) while a message was being taken: rclpy
        # raises "Unable to convert call argument" from take_message (seen at the end of
        # home episodes, the planner's only output then); while running it is a real error
        if rclpy.ok():
            raise
    finally:
        shutdown = getattr(node, "on_shutdown", None)
        if callable(shutdown):
            shutdown()
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0

