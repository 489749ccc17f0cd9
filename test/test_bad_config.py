"""Bad configuration at start-up: each node, started as a real process with one bad
parameter, must exit with code 2 and say in ONE line which key or file is wrong and what is
allowed (issue 3, "Bad input"), never with a bare traceback."""

from __future__ import annotations

import dataclasses
import time

import pytest
from conftest import bringup_share

from foresight_bringup.launch_xml import NodeSpec, parse_launch_file
from foresight_bringup.process_runner import ProcessRunner

pytestmark = pytest.mark.slow

EXIT_TIMEOUT_S = 30.0
MISSING_CELL_FILE = "/nonexistent/foresight/no_such_cell.yaml"


def node_spec(name: str, scenario: str = "industrial_assembly", **bad: object) -> NodeSpec:
    """The node's spec from the scenario launch file with `bad` parameters appended last
    (later parameters win, as under ros2 launch)."""
    share = bringup_share()
    description = parse_launch_file(
        share / "launch" / f"{scenario}.launch.xml",
        {"family": "smoke" if scenario == "industrial_assembly" else "home_smoke"})
    spec = next(s for s in description.nodes if s.name == name)
    extra = {key: str(value) for key, value in bad.items()}
    return dataclasses.replace(spec, parameters=(*spec.parameters, extra))


def run_until_exit(spec: NodeSpec, domain_id: int) -> tuple[int | None, list[str]]:
    """Start one node process; wait for it to end; its exit code (None: still running after
    the timeout) and its output lines (without the runner's own lines)."""
    lines: list[str] = []
    runner = ProcessRunner([spec], domain_id=domain_id, sink=lines.append)
    runner.start()
    code: int | None = None
    try:
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        while time.monotonic() < deadline:
            exits = runner.poll()
            if exits:
                code = exits[0].returncode
                break
            time.sleep(0.1)
    finally:
        runner.shutdown(timeout=3.0, sigterm_timeout=2.0)
    return code, [line for line in lines if not line.startswith("[runner]")]


def assert_one_line_exit(spec: NodeSpec, domain_id: int, needles: tuple[str, ...],
                         any_of: tuple[str, ...] = ("",)) -> None:
    """Exit code 2, no traceback, and exactly one line with all `needles` and one of
    `any_of` (alternative wordings of what is allowed)."""
    code, lines = run_until_exit(spec, domain_id)
    output = "\n".join(lines)
    assert code == 2, f"{spec.name} exit code {code}, expected 2; output:\n{output}"
    assert "Traceback" not in output, output
    naming = [line for line in lines if all(needle in line for needle in needles)
              and any(alternative in line for alternative in any_of)]
    assert len(naming) == 1, (f"expected exactly one line containing {needles} and one of "
                              f"{any_of}; output:\n{output}")


def test_executor_with_missing_cell_file_exits_naming_the_file(domain_id: int) -> None:
    """A typo in a path must stop the executor at once, not leave a node without a scene."""
    spec = node_spec("executor", cell_file=MISSING_CELL_FILE)
    assert_one_line_exit(spec, domain_id, (MISSING_CELL_FILE,),
                         any_of=("No such file", "not found", "does not exist", "missing"))


def test_simulation_with_unknown_family_exits_listing_the_families(domain_id: int) -> None:
    """An unknown variation family must name the known ones (smoke is one of them)."""
    spec = node_spec("simulation", family="no_such_family")
    assert_one_line_exit(spec, domain_id, ("family", "no_such_family", "default", "smoke"))


def test_simulation_with_rtf_out_of_range_exits_naming_key_value_and_range(
        domain_id: int) -> None:
    """A negative real-time factor is refused by the parameter range, with the range."""
    spec = node_spec("simulation", rtf=-3.0)
    assert_one_line_exit(spec, domain_id, ("rtf", "-3.0", "[0.0, 50.0]"))


def test_planner_with_unknown_decision_mode_exits_listing_the_modes(domain_id: int) -> None:
    """The planner's decision mode is one of two; anything else is a configuration error."""
    spec = node_spec("planner", decision_mode="psychic")
    assert_one_line_exit(spec, domain_id, ("decision_mode", "psychic", "world_model",
                                           "reactive"))


@pytest.mark.parametrize("node", ["localization", "navigation"])
def test_home_base_nodes_with_missing_room_file_exit_naming_the_file(domain_id: int,
                                                                     node: str) -> None:
    spec = node_spec(node, scenario="home_care",
                     room_file="/nonexistent/foresight/no_such_room.yaml")
    assert_one_line_exit(spec, domain_id, ("room_file", "no_such_room.yaml"))


def test_home_simulation_with_an_industrial_family_exits_saying_so(domain_id: int) -> None:
    spec = node_spec("simulation", scenario="home_care", family="default")
    assert_one_line_exit(spec, domain_id, ("family", "default"))


@pytest.mark.parametrize("node", ["executor", "planner"])
def test_arm_nodes_given_both_a_cell_and_a_room_exit_saying_to_choose(domain_id: int,
                                                                       node: str) -> None:
    """The same executables serve a fixed arm (cell_file) or one on a mobile base
    (room_file): never both at once."""
    spec = node_spec(node, scenario="home_care", cell_file="/some/cell.yaml")
    assert_one_line_exit(spec, domain_id, ("exactly one of cell_file", "room_file",
                                           "/some/cell.yaml"))
