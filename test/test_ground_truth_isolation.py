"""No online node reads simulation ground truth: checked in the running graph and in the
sources of the online packages."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from foresight_common import contract

REPO = Path(__file__).resolve().parent.parent
ONLINE_PACKAGES = ("perception", "world_model", "planner", "executor")
ONLINE_NODES = {
    "industrial_assembly": ("tf_publisher", "perception", "world_model", "executor", "planner"),
    "home_care": ("tf_publisher", "localization", "perception", "world_model", "navigation",
                  "executor", "planner"),
}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(ONLINE_NODES))
def test_no_online_node_subscribes_to_ground_truth(launch_stack, probe, scenario):
    stack = launch_stack(scenario=scenario)  # every node of the scenario
    online = ONLINE_NODES[scenario]
    node = probe.node
    deadline = time.monotonic() + 60
    names: set[str] = set()
    while time.monotonic() < deadline:
        names = {name for name, _ns in node.get_node_names_and_namespaces()}
        if set(online) <= names and "simulation" in names:
            break
        stack.runner.check()
        time.sleep(0.2)
    assert set(online) <= names, f"nodes up: {sorted(names)}"

    def simulation_publishes() -> set[str]:
        return {t for t, _ in node.get_publisher_names_and_types_by_node("simulation", "/")}

    # the simulation creates its publishers once its world is built (slow with every node
    # starting at once); by then every node has made its subscriptions
    while contract.GT_OBJECTS.name not in simulation_publishes() and \
            time.monotonic() < deadline + 30:
        stack.runner.check()
        time.sleep(0.2)
    time.sleep(1.0)
    for name in online:
        topics = node.get_subscriber_names_and_types_by_node(name, "/")
        assert topics, f"{name} has no subscriptions at all: graph query broken?"
        leaked = [t for t, _types in topics if contract.is_ground_truth(t)]
        assert not leaked, f"{name} subscribes to ground truth: {leaked}"
    # the check itself can see ground-truth subscribers: the simulation publishes them
    assert contract.GT_OBJECTS.name in simulation_publishes()


def test_online_sources_do_not_touch_ground_truth():
    pattern = re.compile(r"ground_truth|\bGT_[A-Z_]+|foresight_simulation")
    offenders = []
    for package in ONLINE_PACKAGES:
        for path in (REPO / "src" / package).rglob("*.py"):
            if "test" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "online code refers to ground truth:\n" + "\n".join(offenders)


def test_ground_truth_names_are_global_and_recognised():
    for topic in (contract.GT_OBJECTS, contract.GT_SAFETY, contract.GT_STATUS):
        assert topic.name.startswith("/sim/ground_truth/")
        assert contract.is_ground_truth(topic.name)
    assert not contract.is_ground_truth(contract.JOINT_STATES.name)
