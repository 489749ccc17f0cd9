"""Start, watch and stop the node processes of a parsed launch file.

Why our own runner: `ros2 launch` is not installable here, yet scenarios must run the same
processes with the same command lines. This module does what ros2 launch's process handling
does for the subset we use: one OS process per `NodeSpec`, the standard `--ros-args` command
line, output prefixed with the node name, `on_exit="shutdown"` nodes treated as required,
and SIGINT -> SIGTERM -> SIGKILL escalation on shutdown.

Every child runs in its own process group (and session), so a terminal's Ctrl-C reaches only
the caller, which then shuts the runner down in order; signals go to whole groups, so helper
processes a node spawned are stopped too and nothing is left orphaned. Every child gets
`ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, `FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA` and the
runner's `ROS_DOMAIN_ID` (DESIGN.md section 4): no traffic leaves the machine and parallel
runs do not see each other.

No rclpy import: the runner only manages processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

import yaml

from foresight_bringup.launch_xml import NodeSpec, ParamFile

__all__ = [
    "ExecutableNotFound",
    "NodeExit",
    "ProcessRunner",
    "RequiredNodeDied",
    "RunnerError",
    "build_command",
    "child_environment",
    "find_executable",
    "parameter_value",
    "write_parameter_file",
]

MAX_DOMAIN_ID = 232  # highest id whose Fast DDS ports stay valid (REP/ROS 2 docs)
FORCED_ENV = {
    "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
    "FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA",
}


class RunnerError(Exception):
    """Base class of the runner's errors."""


class ExecutableNotFound(RunnerError):
    """A node's `<prefix>/lib/<package>/<executable>` exists in no AMENT_PREFIX_PATH entry."""


@dataclass(frozen=True)
class NodeExit:
    """A node process that ended: its label, exit code (negative = killed by that signal),
    whether it was required, and its last output lines (for the error report)."""

    name: str
    returncode: int
    required: bool
    output_tail: tuple[str, ...]


class RequiredNodeDied(RunnerError):
    """A node launched with `on_exit="shutdown"` exited: the run cannot go on."""

    def __init__(self, node_exit: NodeExit) -> None:
        self.node_exit = node_exit
        tail = "\n".join(f"  {line}" for line in node_exit.output_tail) or "  (no output)"
        super().__init__(
            f"required node '{node_exit.name}' exited with code {node_exit.returncode}; "
            f"last output:\n{tail}")


class _Writable(Protocol):
    """Anything with a text `write` (files, sys.stdout, io.StringIO)."""

    def write(self, text: str, /) -> object: ...


Sink = Callable[[str], object] | _Writable


def find_executable(package: str, executable: str, ament_prefix_path: str) -> Path:
    """`<prefix>/lib/<package>/<executable>` of the first prefix that has it (as ros2 run)."""
    searched = []
    for prefix in ament_prefix_path.split(os.pathsep):
        if not prefix:
            continue
        candidate = Path(prefix, "lib", package, executable)
        searched.append(str(candidate))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = "\n  ".join(searched) or "(AMENT_PREFIX_PATH is empty)"
    raise ExecutableNotFound(
        f"executable '{executable}' of package '{package}' not found; looked for:\n  {where}"
        f"\n(is the package built and installed, and is the prefix on AMENT_PREFIX_PATH?)")


ParameterValue = bool | int | float | str | list[bool] | list[int] | list[float] | list[str]


def parameter_value(text: str) -> ParameterValue:
    """Type a `<param value>` string the way launch_ros does: YAML scalars and uniform
    lists become typed values, everything else (empty, mappings, mixed lists) stays text."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if type(loaded) in (bool, int, float, str):
        return loaded
    if (isinstance(loaded, list) and loaded and type(loaded[0]) in (bool, int, float, str)
            and all(type(item) is type(loaded[0]) for item in loaded)):
        return loaded
    return text


def write_parameter_file(params: Mapping[str, str], path: Path) -> None:
    """Write `<param name value>` pairs as a params file for every node of the process.

    Like launch_ros, values go through a file rather than `-p name:=value`: rcl rejects
    `-p` values that are empty or look like YAML mappings (e.g. `families_file:=`).
    """
    document = {"/**": {"ros__parameters": {k: parameter_value(v) for k, v in params.items()}}}
    path.write_text(yaml.safe_dump(document, default_flow_style=False, sort_keys=False))


def build_command(spec: NodeSpec, executable: Path | str,
                  value_files: Sequence[str | Path] = ()) -> list[str]:
    """The ROS 2 standard command line for a node.

    Parameters keep their launch-file order, one `--params-file` per entry, because rcl
    applies them in command-line order and later ones win. `value_files` are the files
    written (`write_parameter_file`) for the name/value dicts of `spec.parameters`, in order.
    """
    dicts = sum(1 for entry in spec.parameters if not isinstance(entry, ParamFile))
    if dicts != len(value_files):
        raise ValueError(f"{spec.name}: {dicts} name/value parameter group(s) need as many "
                         f"value_files, got {len(value_files)}")
    files = iter(value_files)
    command = [str(executable), *spec.arguments, "--ros-args",
               "-r", f"__node:={spec.name}", "-r", f"__ns:={spec.namespace}"]
    for entry in spec.parameters:
        path = entry.path if isinstance(entry, ParamFile) else str(next(files))
        command += ["--params-file", path]
    for source, target in spec.remappings:
        command += ["-r", f"{source}:={target}"]
    return command


def child_environment(spec: NodeSpec, domain_id: int, base_env: Mapping[str, str],
                      extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of one child: base + runner extras + the spec's env, then the values no
    node may change (domain id, localhost-only discovery, Fast DDS transports).

    PYTHONUNBUFFERED=1 (overridable) makes Python nodes emit lines as they happen, so the
    prefixed output stays in order and a crashing node's last lines are not lost.
    """
    env = dict(base_env)
    env.update(extra_env or {})
    env["PYTHONUNBUFFERED"] = "1"
    env.update(dict(spec.env))
    env.update(FORCED_ENV)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    return env


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process is in the group (a zombie cannot be killed and,
    once its parent is gone, may never be reaped when PID 1 does not reap)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class _Child:
    """Bookkeeping for one started node."""

    label: str
    spec: NodeSpec
    process: subprocess.Popen[bytes]
    reader: threading.Thread
    tail: deque[str]


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action. A runner started from a
    background shell job inherits SIGINT as ignored, and Python (and so a node) keeps an
    ignored SIGINT ignored: the graceful stop would never reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_on_sigterm() -> None:
    """In the process that runs nodes: SIGTERM (a CI timeout, `kill`) raises
    KeyboardInterrupt like Ctrl-C, so the shutdown in `finally` / `with` blocks stops the
    nodes. Python's default SIGTERM ends the process at once, and the nodes (each in its own
    process group) kept running on the episode's domain, answering the next run's topics."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupt)


class ProcessRunner:
    """Runs the nodes of a launch description as child processes.

    Typical use::

        with ProcessRunner(description.nodes, domain_id=17) as runner:
            runner.run_until(lambda: episode_done(), timeout=300)  # raises RequiredNodeDied

    Leaving the block (also by Ctrl-C / KeyboardInterrupt) calls `shutdown()`.
    Nodes are labelled by their name; if two nodes share a name (different namespaces)
    they are labelled by their fully qualified name instead. Output lines are forwarded as
    `[label] line` to `sink`: a callable taking the line (no newline), or a text file
    (default: sys.stdout, looked up at write time).
    """

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        domain_id: int,
        extra_env: Mapping[str, str] | None = None,
        sink: Sink | None = None,
        *,
        base_env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        tail_lines: int = 20,
    ) -> None:
        if not isinstance(domain_id, int) or not 0 <= domain_id <= MAX_DOMAIN_ID:
            raise ValueError(f"ROS_DOMAIN_ID must be an int in 0..{MAX_DOMAIN_ID}, "
                             f"got {domain_id!r}")
        self._specs = tuple(specs)
        fqns = [s.fully_qualified_name for s in self._specs]
        duplicates = sorted({f for f in fqns if fqns.count(f) > 1})
        if duplicates:
            raise ValueError(f"duplicate node names: {', '.join(duplicates)}")
        names = [s.name for s in self._specs]
        self._labels = [s.name if names.count(s.name) == 1 else s.fully_qualified_name
                        for s in self._specs]
        self._domain_id = domain_id
        self._extra_env = dict(extra_env or {})
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._cwd = cwd
        self._sink = sink
        self._tail_lines = tail_lines
        self._lock = threading.Lock()
        self._children: list[_Child] = []
        self._exits: dict[str, NodeExit] = {}
        self._polled: set[str] = set()
        self._started = False
        self._stopping = False
        self._final: dict[str, int | None] | None = None
        self._params_dir: Path | None = None

    # ------------------------------------------------------------------ output

    def _emit(self, line: str) -> None:
        """Write one line to the sink; serialised, as reader threads write concurrently."""
        sink = self._sink if self._sink is not None else sys.stdout
        # A failing sink must not kill the reader: the child would block on a full pipe.
        with self._lock, contextlib.suppress(Exception):
            if hasattr(sink, "write"):
                sink.write(line + "\n")
                flush = getattr(sink, "flush", None)
                if flush is not None:
                    flush()
            else:
                sink(line)

    def _read(self, label: str, stream: IO[bytes], tail: deque[str]) -> None:
        """Forward a child's merged stdout/stderr line by line until EOF."""
        prefix = f"[{label}] "
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            tail.append(line)
            self._emit(prefix + line)
        stream.close()

    # ------------------------------------------------------------------ lifecycle

    @property
    def names(self) -> list[str]:
        """Labels of the nodes, in launch order (keys of `shutdown()`'s result)."""
        return list(self._labels)

    def pid(self, name: str) -> int | None:
        """PID (= process group id) of a started node, for diagnostics and tests."""
        for child in self._children:
            if child.label == name:
                return child.process.pid
        return None

    def start(self) -> None:
        """Start every node in launch order.

        All executables are resolved first, so a missing one fails before anything runs;
        if a spawn fails midway, the nodes already started are stopped again.
        """
        if self._started:
            raise RunnerError("runner already started")
        self._started = True
        plans = []
        for label, spec in zip(self._labels, self._specs, strict=True):
            env = child_environment(spec, self._domain_id, self._base_env, self._extra_env)
            exe = find_executable(spec.package, spec.executable,
                                  env.get("AMENT_PREFIX_PATH", ""))
            plans.append((label, spec, exe, env))
        try:
            commands = [build_command(spec, exe, self._write_values(index, spec))
                        for index, (_, spec, exe, _) in enumerate(plans)]
            for (label, spec, _, env), command in zip(plans, commands, strict=True):
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, env=env, cwd=self._cwd,
                    start_new_session=True, close_fds=True,
                    preexec_fn=_default_sigint,
                )
                tail: deque[str] = deque(maxlen=self._tail_lines)
                assert process.stdout is not None
                reader = threading.Thread(
                    target=self._read, args=(label, process.stdout, tail),
                    name=f"output-{label}", daemon=True)
                reader.start()
                self._children.append(_Child(label, spec, process, reader, tail))
        except BaseException:
            self.shutdown(timeout=2.0, sigterm_timeout=2.0)
            raise

    def _write_values(self, index: int, spec: NodeSpec) -> list[Path]:
        """Params files for the spec's name/value dicts, in a directory removed on shutdown."""
        files = []
        for number, entry in enumerate(spec.parameters):
            if isinstance(entry, ParamFile):
                continue
            if self._params_dir is None:
                self._params_dir = Path(tempfile.mkdtemp(prefix="foresight-params-"))
            path = self._params_dir / f"{index:02d}_{spec.name}_{number}.yaml"
            write_parameter_file(entry, path)
            files.append(path)
        return files

    def _collect(self) -> None:
        """Record exits that happened while running (not those caused by shutdown)."""
        if self._stopping:
            return
        for child in self._children:
            if child.label in self._exits:
                continue
            code = child.process.poll()
            if code is None:
                continue
            # Give the reader a moment to drain the pipe, so the tail has the last lines.
            child.reader.join(timeout=0.5)
            node_exit = NodeExit(child.label, code, child.spec.required, tuple(child.tail))
            self._exits[child.label] = node_exit
            kind = "required node" if child.spec.required else "node"
            self._emit(f"[runner] {kind} '{child.label}' exited with code {code}")

    def poll(self) -> list[NodeExit]:
        """Nodes that exited since the previous call (each reported once)."""
        self._collect()
        new = [e for label, e in self._exits.items() if label not in self._polled]
        self._polled.update(e.name for e in new)
        return new

    def running(self) -> list[str]:
        """Labels of the nodes whose process is still alive."""
        return [c.label for c in self._children if c.process.poll() is None]

    def failed_required(self) -> NodeExit | None:
        """The first required node that exited while running (any exit code), if any."""
        self._collect()
        return next((e for e in self._exits.values() if e.required), None)

    def check(self) -> None:
        """Raise `RequiredNodeDied` if a required node has exited."""
        failed = self.failed_required()
        if failed is not None:
            raise RequiredNodeDied(failed)

    def run_until(self, predicate: Callable[[], bool] | None = None,
                  timeout: float | None = None, interval: float = 0.05) -> bool:
        """Wait until `predicate()` is true (-> True) or `timeout` passes (-> False).

        Checks for dead required nodes throughout and raises `RequiredNodeDied`; without a
        predicate and timeout it waits until a required node dies. Ctrl-C arrives as
        KeyboardInterrupt in the caller, which should then call `shutdown()` (the context
        manager does).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.check()
            if predicate is not None and predicate():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def shutdown(self, timeout: float = 10.0, sigterm_timeout: float = 5.0
                 ) -> dict[str, int | None]:
        """Stop every node: SIGINT to each process group, wait up to `timeout`, then SIGTERM
        to groups still alive, wait up to `sigterm_timeout`, then SIGKILL.

        Groups are watched, not only the node process, so helpers a node spawned are
        stopped too. A KeyboardInterrupt while waiting (a second Ctrl-C) kills everything
        at once and is re-raised. Returns the exit code per label (None: never started or
        could not be reaped). Idempotent.
        """
        if self._final is not None:
            return dict(self._final)
        self._collect()
        self._stopping = True
        groups = [c.process.pid for c in self._children]
        try:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, sigterm_timeout)):
                alive = [g for g in groups if _group_alive(g)]
                if not alive:
                    break
                for pgid in alive:
                    _signal_group(pgid, sig)
                if self._wait_groups(groups, wait):
                    break
            else:
                self._kill_all(groups)
        except KeyboardInterrupt:
            self._kill_all(groups)
            self._finish()
            raise
        return self._finish()

    def _wait_groups(self, groups: list[int], timeout: float) -> bool:
        """Reap exited nodes until every group is empty or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            for child in self._children:
                child.process.poll()
            if not any(_group_alive(g) for g in groups):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _kill_all(self, groups: list[int]) -> None:
        for pgid in groups:
            _signal_group(pgid, signal.SIGKILL)
        self._wait_groups(groups, 5.0)

    def _finish(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {label: None for label in self._labels}
        for child in self._children:
            try:
                codes[child.label] = child.process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                codes[child.label] = None
            child.reader.join(timeout=1.0)
        self._final = codes
        if self._params_dir is not None:
            shutil.rmtree(self._params_dir, ignore_errors=True)
        return dict(codes)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.shutdown()
