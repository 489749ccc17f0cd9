"""Unit tests of the process runner with tiny fake node executables (no ROS needed).

The fakes are Python scripts installed into a fake `<prefix>/lib/<pkg>/` in tmp_path, so
the runner's executable lookup, command line, environment, output forwarding, required-node
handling and signal escalation are exercised on real processes.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from foresight_bringup.launch_xml import NodeSpec, ParamFile
from foresight_bringup.process_runner import (
    ExecutableNotFound,
    NodeExit,
    ProcessRunner,
    RequiredNodeDied,
    build_command,
    child_environment,
    find_executable,
    parameter_value,
    write_parameter_file,
)

PKG = "fake_pkg"

SCRIPTS = {
    # prints to stdout and stderr, then exits with the code given as first argument
    "talker": """
        print("hello")
        print("to stderr", file=sys.stderr)
        print("world", end="")
        sys.exit(int(sys.argv[1]))
    """,
    # reports its environment and argv, then waits for SIGINT and says goodbye
    "envdump": """
        keys = ["ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS",
                "SPEC_VAR", "EXTRA_VAR", "PYTHONUNBUFFERED"]
        print("DUMP " + json.dumps({"env": {k: os.environ.get(k) for k in keys},
                                    "argv": sys.argv[1:]}))
        print("ready")
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            print("bye")
            sys.exit(0)
    """,
    # ignores SIGINT (tests escalation to SIGTERM)
    "stubborn": """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("ready")
        time.sleep(30)
    """,
    # ignores SIGINT and SIGTERM (tests escalation to SIGKILL)
    "immortal": """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready")
        time.sleep(30)
    """,
    # leaves a stubborn grandchild behind when it exits on SIGINT
    "spawner": """
        code = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)")
        child = subprocess.Popen([sys.executable, "-c", code])
        print(f"grandchild {child.pid}")
        print("ready")
        signal.signal(signal.SIGINT, lambda *_: os._exit(0))
        time.sleep(30)
    """,
    # prints 30 numbered lines, then fails
    "crasher": """
        for i in range(30):
            print(f"line {i}")
        sys.exit(3)
    """,
}


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """A fake install prefix holding the fake executables under lib/fake_pkg/."""
    lib = tmp_path / "prefix" / "lib" / PKG
    lib.mkdir(parents=True)
    header = (f"#!{sys.executable}\nimport json, os, signal, subprocess, sys, time\n")
    for name, body in SCRIPTS.items():
        script = lib / name
        script.write_text(header + textwrap.dedent(body))
        script.chmod(0o755)
    return tmp_path / "prefix"


class Lines:
    """A callable sink that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def has(self, line: str) -> bool:
        return line in self.lines


def spec(executable: str, name: str, *, required: bool = False, arguments: tuple[str, ...] = (),
         env: tuple[tuple[str, str], ...] = (), namespace: str = "/") -> NodeSpec:
    return NodeSpec(package=PKG, executable=executable, name=name, namespace=namespace,
                    arguments=arguments, env=env, required=required)


def make_runner(prefix: Path, specs: list[NodeSpec], sink: Lines | io.StringIO | None = None,
                domain_id: int = 42, extra_env: dict[str, str] | None = None) -> ProcessRunner:
    base = dict(os.environ, AMENT_PREFIX_PATH=str(prefix))
    return ProcessRunner(specs, domain_id, extra_env=extra_env, sink=sink, base_env=base)


@pytest.fixture
def runners() -> Iterator[list[ProcessRunner]]:
    """Collects runners so a failing test still stops its processes."""
    created: list[ProcessRunner] = []
    yield created
    for runner in created:
        runner.shutdown(timeout=0.5, sigterm_timeout=0.5)


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


# ------------------------------------------------------------------------- pure helpers

def test_build_command_is_the_ros2_standard_order() -> None:
    node = NodeSpec(
        package="pkg", executable="exe", name="planner", namespace="/robot",
        parameters=(ParamFile("/cfg/base.yaml"), {"a": "1", "b": "x y"},
                    ParamFile("/cfg/scenario.yaml")),
        remappings=(("image", "/camera/image"),), arguments=("--verbose", "7"),
    )
    assert build_command(node, "/p/lib/pkg/exe", ["/tmp/values.yaml"]) == [
        "/p/lib/pkg/exe", "--verbose", "7", "--ros-args",
        "-r", "__node:=planner", "-r", "__ns:=/robot",
        "--params-file", "/cfg/base.yaml", "--params-file", "/tmp/values.yaml",
        "--params-file", "/cfg/scenario.yaml",
        "-r", "image:=/camera/image",
    ]
    with pytest.raises(ValueError, match="need as many value_files"):
        build_command(node, "/p/lib/pkg/exe")


@pytest.mark.parametrize("text, value", [
    ("true", True), ("0", 0), ("15.0", 15.0), ("assemble all", "assemble all"),
    ("", ""), ("a: b", "a: b"), ("[1, 2]", [1, 2]), ("[1, x]", "[1, x]"), ("[]", "[]"),
    ("'quoted'", "quoted"), ("x,y", "x,y"), ("{", "{"),
])
def test_parameter_values_are_typed_like_launch_ros(text: str, value: object) -> None:
    assert parameter_value(text) == value and type(parameter_value(text)) is type(value)


def test_parameter_file_applies_to_the_process_nodes(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    write_parameter_file({"empty": "", "flag": "false", "rate": "2.5"}, path)
    assert yaml.safe_load(path.read_text()) == {
        "/**": {"ros__parameters": {"empty": "", "flag": False, "rate": 2.5}}}


def test_child_environment_forces_isolation() -> None:
    node = spec("x", "n", env=(("SPEC_VAR", "s"), ("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET"),
                               ("ROS_DOMAIN_ID", "0")))
    env = child_environment(node, 7, {"BASE": "b", "SPEC_VAR": "base", "ROS_DOMAIN_ID": "1"},
                            {"EXTRA": "e"})
    assert env["BASE"] == "b" and env["EXTRA"] == "e" and env["SPEC_VAR"] == "s"
    assert env["ROS_DOMAIN_ID"] == "7"
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["FASTDDS_BUILTIN_TRANSPORTS"] == "LARGE_DATA"


def test_find_executable_searches_prefixes_in_order(prefix: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert find_executable(PKG, "talker", f"{other}:{prefix}") == prefix / "lib" / PKG / "talker"
    with pytest.raises(ExecutableNotFound) as info:
        find_executable(PKG, "nope", f"{other}:{prefix}")
    message = str(info.value)
    assert f"{other}/lib/{PKG}/nope" in message and f"{prefix}/lib/{PKG}/nope" in message


def test_invalid_domain_id_and_duplicate_names_rejected(prefix: Path) -> None:
    for bad in (-1, 233):
        with pytest.raises(ValueError, match="ROS_DOMAIN_ID"):
            ProcessRunner([], bad)
    with pytest.raises(ValueError, match="duplicate node names: /n"):
        ProcessRunner([spec("talker", "n"), spec("talker", "n")], 1)
    runner = ProcessRunner([spec("talker", "n", namespace="/a"),
                            spec("talker", "n", namespace="/b"), spec("talker", "m")], 1)
    assert runner.names == ["/a/n", "/b/n", "m"]


# ------------------------------------------------------------------------- processes

def test_missing_executable_starts_nothing(prefix: Path) -> None:
    runner = make_runner(prefix, [spec("envdump", "first"), spec("missing", "second")])
    with pytest.raises(ExecutableNotFound, match="'missing' of package 'fake_pkg'"):
        runner.start()
    assert runner.pid("first") is None
    assert runner.shutdown() == {"first": None, "second": None}


def test_output_is_prefixed_line_by_line_with_stderr_merged(prefix: Path,
                                                            runners: list[ProcessRunner]
                                                            ) -> None:
    sink = Lines()
    runner = make_runner(prefix, [spec("talker", "talker", arguments=("4",))], sink)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: not runner.running(), timeout=5)
    exits = runner.poll()
    assert exits == [NodeExit("talker", 4, False, ("hello", "to stderr", "world"))]
    assert runner.poll() == []  # reported once
    assert runner.failed_required() is None
    assert sink.lines[:3] == ["[talker] hello", "[talker] to stderr", "[talker] world"]
    assert sink.has("[runner] node 'talker' exited with code 4")
    assert runner.shutdown() == {"talker": 4}


def test_environment_and_command_line_reach_the_child(prefix: Path,
                                                      runners: list[ProcessRunner]) -> None:
    sink = Lines()
    node = NodeSpec(package=PKG, executable="envdump", name="dump", namespace="/ns",
                    parameters=({"rate": "2.5"},), remappings=(("in", "out"),),
                    env=(("SPEC_VAR", "from_spec"),), arguments=("pos1",))
    runner = make_runner(prefix, [node], sink, domain_id=17, extra_env={"EXTRA_VAR": "x"})
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: sink.has("[dump] ready"), timeout=5)
    (dump,) = [json.loads(line.split("DUMP ", 1)[1]) for line in sink.lines if "DUMP " in line]
    assert dump["env"] == {
        "ROS_DOMAIN_ID": "17", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA", "SPEC_VAR": "from_spec",
        "EXTRA_VAR": "x", "PYTHONUNBUFFERED": "1"}
    argv = dump["argv"]
    assert argv[:6] == ["pos1", "--ros-args", "-r", "__node:=dump", "-r", "__ns:=/ns"]
    assert argv[6] == "--params-file" and argv[8:] == ["-r", "in:=out"]
    values = Path(argv[7])
    assert yaml.safe_load(values.read_text()) == {"/**": {"ros__parameters": {"rate": 2.5}}}
    # own process group, so a terminal Ctrl-C reaches only the caller
    pid = runner.pid("dump")
    assert pid is not None and os.getpgid(pid) == pid != os.getpgid(0)
    # graceful stop: SIGINT is enough, the node's goodbye is still forwarded
    started = time.monotonic()
    assert runner.shutdown(timeout=5) == {"dump": 0}
    assert time.monotonic() - started < 3
    assert sink.has("[dump] bye")
    assert not values.exists()  # temporary params files are removed on shutdown


def test_required_node_death_is_reported_with_its_last_lines(prefix: Path,
                                                             runners: list[ProcessRunner]
                                                             ) -> None:
    runner = make_runner(prefix, [spec("envdump", "steady"),
                                  spec("crasher", "crasher", required=True)], Lines())
    runners.append(runner)
    runner.start()
    with pytest.raises(RequiredNodeDied) as info:
        runner.run_until(timeout=5)
    node_exit = info.value.node_exit
    assert (node_exit.name, node_exit.returncode, node_exit.required) == ("crasher", 3, True)
    assert node_exit.output_tail == tuple(f"line {i}" for i in range(10, 30))
    message = str(info.value)
    assert "required node 'crasher' exited with code 3" in message
    assert "line 29" in message and "line 9\n" not in message
    assert runner.failed_required() == node_exit
    assert runner.running() == ["steady"]
    codes = runner.shutdown(timeout=5)
    assert codes["crasher"] == 3 and codes["steady"] == 0
    assert runner.failed_required() == node_exit  # shutdown exits are not failures


def test_sigint_ignored_escalates_to_sigterm(prefix: Path, runners: list[ProcessRunner]
                                            ) -> None:
    sink = Lines()
    runner = make_runner(prefix, [spec("stubborn", "stubborn")], sink)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: sink.has("[stubborn] ready"), timeout=5)
    started = time.monotonic()
    assert runner.shutdown(timeout=0.3, sigterm_timeout=3) == {"stubborn": -signal.SIGTERM}
    assert 0.3 <= time.monotonic() - started < 2.5


def test_sigterm_ignored_escalates_to_sigkill(prefix: Path, runners: list[ProcessRunner]
                                             ) -> None:
    sink = Lines()
    runner = make_runner(prefix, [spec("immortal", "immortal")], sink)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: sink.has("[immortal] ready"), timeout=5)
    started = time.monotonic()
    assert runner.shutdown(timeout=0.3, sigterm_timeout=0.3) == {"immortal": -signal.SIGKILL}
    assert 0.6 <= time.monotonic() - started < 3


def test_no_orphans_after_shutdown(prefix: Path, runners: list[ProcessRunner]) -> None:
    """A helper process left by a node (same group) is killed even after the node exits."""
    sink = Lines()
    runner = make_runner(prefix, [spec("spawner", "spawner")], sink)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: sink.has("[spawner] ready"), timeout=5)
    (line,) = [x for x in sink.lines if x.startswith("[spawner] grandchild ")]
    grandchild = int(line.split()[-1])
    assert alive(grandchild)
    assert runner.shutdown(timeout=0.3, sigterm_timeout=0.3) == {"spawner": 0}
    deadline = time.monotonic() + 2
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)


def test_context_manager_stops_everything_on_ctrl_c(prefix: Path) -> None:
    sink = Lines()
    runner = make_runner(prefix, [spec("envdump", "a"), spec("envdump", "b")], sink)

    def interrupt_when_ready() -> bool:
        if sink.has("[a] ready") and sink.has("[b] ready"):
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt), runner:
        runner.run_until(interrupt_when_ready, timeout=5)
    pids = [runner.pid("a"), runner.pid("b")]
    assert all(pid is not None and not alive(pid) for pid in pids)
    assert runner.running() == []
    assert sink.has("[a] bye") and sink.has("[b] bye")  # SIGINT, not a kill
    assert runner.shutdown() == {"a": 0, "b": 0}  # idempotent: the first result again


def test_second_ctrl_c_during_shutdown_kills_at_once(prefix: Path,
                                                     runners: list[ProcessRunner]) -> None:
    sink = Lines()
    runner = make_runner(prefix, [spec("immortal", "immortal")], sink)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: sink.has("[immortal] ready"), timeout=5)

    def second_ctrl_c(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, second_ctrl_c)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            runner.shutdown(timeout=20, sigterm_timeout=20)
        assert time.monotonic() - started < 3
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pid = runner.pid("immortal")
    assert pid is not None and not alive(pid)
    assert runner.shutdown() == {"immortal": -signal.SIGKILL}


def test_file_sink_and_default_stdout(prefix: Path, runners: list[ProcessRunner],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    log = io.StringIO()
    runner = make_runner(prefix, [spec("talker", "t", arguments=("0",))], log)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: not runner.running(), timeout=5)
    runner.shutdown()
    assert log.getvalue().startswith("[t] hello\n[t] to stderr\n[t] world\n")

    runner = make_runner(prefix, [spec("talker", "t2", arguments=("0",))])
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: not runner.running(), timeout=5)
    runner.shutdown()
    assert "[t2] hello\n" in capsys.readouterr().out


PROBE = """
    import rclpy
    from rclpy.node import Node

    rclpy.init(args=sys.argv)
    node = Node("probe", automatically_declare_parameters_from_overrides=True)
    values = {name: node.get_parameter(name).value for name in node._parameters}
    topic = node.resolve_topic_name("camera")
    print("PROBE " + json.dumps({"fqn": node.get_fully_qualified_name(), "topic": topic,
                                 "params": values}))
    node.destroy_node()
    rclpy.shutdown()
"""


def test_real_rclpy_node_gets_name_namespace_parameters_and_remaps(
        prefix: Path, tmp_path: Path, runners: list[ProcessRunner]) -> None:
    """The command line and params files are what rcl expects (empty and YAML-like values
    included: rcl would reject them as -p overrides)."""
    pytest.importorskip("rclpy")
    script = prefix / "lib" / PKG / "probe"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n" + textwrap.dedent(PROBE))
    script.chmod(0o755)
    base = tmp_path / "base.yaml"
    base.write_text("/**:\n  ros__parameters:\n    from_file: 1\n    overridden: file\n")
    node = NodeSpec(package=PKG, executable="probe", name="sim", namespace="/cell",
                    parameters=(ParamFile(str(base)),
                                {"overridden": "value", "empty": "", "mapping": "a: b",
                                 "task": "assemble all", "flag": "true"}),
                    remappings=(("camera", "/sensors/cam"),))
    sink = Lines()
    runner = make_runner(prefix, [node], sink, domain_id=199)
    runners.append(runner)
    runner.start()
    assert runner.run_until(lambda: not runner.running(), timeout=20), sink.lines
    found = [x for x in sink.lines if x.startswith("[sim] PROBE ")]
    assert len(found) == 1, sink.lines
    line = found[0]
    probe = json.loads(line.split("PROBE ", 1)[1])
    assert probe["fqn"] == "/cell/sim" and probe["topic"] == "/sensors/cam"
    params = probe["params"]
    assert {k: params[k] for k in ("from_file", "overridden", "empty", "mapping", "task",
                                   "flag")} == {
        "from_file": 1, "overridden": "value", "empty": "", "mapping": "a: b",
        "task": "assemble all", "flag": True}


def test_sigterm_to_the_runners_process_stops_its_nodes(prefix: Path, tmp_path: Path) -> None:
    """`kill` (SIGTERM) on a process running nodes: they are stopped as on Ctrl-C, not left
    running on the domain (the default SIGTERM ended the driver and orphaned them)."""
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import os, sys
        from foresight_bringup.launch_xml import NodeSpec
        from foresight_bringup.process_runner import ProcessRunner, stop_on_sigterm
        stop_on_sigterm()
        spec = NodeSpec(package={PKG!r}, executable="envdump", name="a", namespace="/",
                        arguments=(), env=(), required=False)
        runner = ProcessRunner([spec], 42, sink=lambda line: print(line, flush=True),
                               base_env=dict(os.environ, AMENT_PREFIX_PATH={str(prefix)!r}))
        try:
            with runner:
                runner.run_until(lambda: False, timeout=30)
        except KeyboardInterrupt:
            print("driver stopped", runner.pid("a"), flush=True)
    """))
    import subprocess
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if line.strip() == "[a] ready":
            proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert "[a] bye" in lines, lines                  # stopped by SIGINT, gracefully
    (stopped,) = [x for x in lines if x.startswith("driver stopped")]
    assert not alive(int(stopped.split()[-1]))
