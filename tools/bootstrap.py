"""Bootstrap of the foresight workspace, run by ./foresight before every command.

On first use it creates the venv inside the repo, installs the pinned Python packages, checks
the Debian packages, repairs the CMake export files of the ROS wheels and builds the colcon
workspace. Later calls only check stamps (hashes of the lock files and of the sources), so
they add a second or two. Then it hands over to the CLI (foresight_bringup.cli) with the
ROS environment set, so nothing needs to be sourced. Standard library only: it runs before
the venv exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
BUILD = REPO / "build"
INSTALL = REPO / "install"
LOCK_FILES = (REPO / "requirements.lock", REPO / "requirements-nodeps.lock")
SOURCE_DIRS = ("src", "launch", "config", "tools/ros_fallback")
FALLBACK_DIR = REPO / "tools" / "ros_fallback"
PYTHON_VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"

# Debian packages: cmake + g++ build the interface package; EGL/OSMesa render headless.
DEBIAN_PACKAGES = (
    "cmake",
    "g++",
    "libegl1",
    "libopengl0",
    "libegl-mesa0",
    "libgl1-mesa-dri",
    "libosmesa6",
)

# The ROS wheels were built in a manylinux image; these paths leak into their CMake exports.
WHEEL_BUILDER_PATHS = {
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": "numpy",
    "/opt/python/cp311-cp311/include/python3.11": "python",
}


class BootstrapError(RuntimeError):
    """A step of the bootstrap failed; the message says what to do."""


def log(message: str) -> None:
    print(f"[foresight] {message}", file=sys.stderr, flush=True)


def run_step(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        raise BootstrapError(f"{what} failed (exit {result.returncode}):\n{tail}")
    log(f"{what}: done in {time.monotonic() - started:.1f} s")


def hash_files(paths: list[Path], live_suffixes: tuple[str, ...] = ()) -> str:
    """Hash of names and contents; files with a live suffix count by name only."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(REPO)).encode())
        if path.suffix not in live_suffixes or path.name == "setup.py":
            digest.update(path.read_bytes())
    return digest.hexdigest()


def source_files() -> list[Path]:
    files = []
    for name in SOURCE_DIRS:
        root = REPO / name
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return files


def check_debian_packages() -> None:
    if shutil.which("dpkg-query") is None:
        log("dpkg-query not found: not a Debian system, assuming the libraries are present")
        return
    missing = []
    for package in DEBIAN_PACKAGES:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                                capture_output=True, text=True)
        if "install ok installed" not in result.stdout:
            missing.append(package)
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise BootstrapError(
            "missing Debian packages: " + " ".join(missing) + "\nInstall them with:\n"
            "  sudo apt-get update && sudo " + " ".join(command)
        )
    log("installing Debian packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_step(["apt-get", "update"], "apt-get update", env=env)
    run_step(command, "apt-get install", env=env)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> bool:
    """Create the venv and install the pinned packages; True when something was installed."""
    stamp = VENV / ".foresight-lock-hash"
    wanted = hash_files(list(LOCK_FILES))
    if venv_python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return False
    if not venv_python().exists():
        log(f"creating venv in {VENV}")
        run_step([sys.executable, "-m", "venv", str(VENV)], "python -m venv")
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    run_step([*pip, "-r", str(LOCK_FILES[0])], "pip install -r requirements.lock")
    run_step([*pip, "--no-deps", "-r", str(LOCK_FILES[1])],
             "pip install --no-deps -r requirements-nodeps.lock")
    fix_cmake_exports()
    stamp.write_text(wanted)
    return True


def fix_cmake_exports() -> None:
    """Point the wheel builder's include paths in the CMake exports at this venv (idempotent)."""
    query = ("import sysconfig, numpy; "
             "print(sysconfig.get_paths()['include']); print(numpy.get_include())")
    out = subprocess.run([str(venv_python()), "-c", query], capture_output=True, text=True,
                         check=True).stdout.split()
    replacement = {"python": out[0], "numpy": out[1]}
    share = VENV / "share"
    fixed = 0
    for path in share.rglob("*.cmake"):
        text = path.read_text(errors="surrogateescape")
        new = text
        for old, key in WHEEL_BUILDER_PATHS.items():
            new = new.replace(old, replacement[key])
        if new != text:
            path.write_text(new, errors="surrogateescape")
            fixed += 1
    if fixed:
        log(f"repaired wheel-builder paths in {fixed} CMake export files")


def ros_environment() -> dict[str, str]:
    """Environment under which the workspace builds and runs (nothing to source)."""
    env = dict(os.environ)
    site = INSTALL / "lib" / PYTHON_VERSION / "site-packages"
    prefix_path = f"{INSTALL}:{VENV}"

    def prepend(key: str, value: str) -> None:
        env[key] = value + (":" + env[key] if env.get(key) else "")

    env["AMENT_PREFIX_PATH"] = prefix_path
    env["CMAKE_PREFIX_PATH"] = prefix_path
    prepend("PYTHONPATH", str(site))
    # Python packages built with --symlink-install live in build/<pkg> (colcon's develop hook).
    for hook in sorted(BUILD.glob("*/share/*/hook/pythonpath_develop.dsv")):
        for line in hook.read_text().splitlines():
            parts = line.split(";")
            if len(parts) == 3 and parts[1] == "PYTHONPATH":
                prepend("PYTHONPATH", parts[2])
    prepend("LD_LIBRARY_PATH", str(INSTALL / "lib"))
    prepend("PATH", str(VENV / "bin"))
    env["VIRTUAL_ENV"] = str(VENV)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["FASTDDS_BUILTIN_TRANSPORTS"] = "LARGE_DATA"
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    # reliable writers repair a lost sample within 0.1 s instead of Fast DDS's 3 s
    # heartbeat (config/fastdds_profiles.xml says what was measured)
    env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_profiles.xml"))
    env.setdefault("MUJOCO_GL", "egl")
    env.setdefault("PYOPENGL_PLATFORM", env["MUJOCO_GL"])
    # Mesa's software renderer draws in the calling thread (the simulation's camera thread
    # already runs beside physics): 22 instead of 26 ms CPU per 320x240 RGB-D frame, measured
    env.setdefault("LP_NUM_THREADS", "0")
    env["PYTHONUNBUFFERED"] = "1"
    env["FORESIGHT_REPO"] = str(REPO)
    return env


def tf2_msgs_available(env: dict[str, str]) -> bool:
    for prefix in env["AMENT_PREFIX_PATH"].split(":"):
        marker = Path(prefix) / "share" / "ament_index" / "resource_index" / "packages"
        if (marker / "tf2_msgs").exists() and not str(prefix).startswith(str(INSTALL)):
            return True
    return False


def ensure_build(force_venv_changed: bool) -> None:
    stamp = BUILD / ".foresight-source-hash"
    # --symlink-install: edits of Python modules, launch and config files are live, so
    # only new or removed files, build files and interface definitions need a build.
    wanted = hash_files(source_files() + list(LOCK_FILES),
                        live_suffixes=(".py", ".xml", ".yaml", ".rviz"))
    if not force_venv_changed and stamp.exists() and stamp.read_text() == wanted \
            and (INSTALL / "share").exists():
        return
    env = ros_environment()
    base_paths = [str(REPO / "src")]
    if not tf2_msgs_available(env):
        base_paths.append(str(FALLBACK_DIR))  # tf2_msgs is not on PyPI: build it here
    cmd = [str(VENV / "bin" / "colcon"), "--log-base", str(BUILD / "log"), "build",
           "--merge-install", "--symlink-install", "--base-paths", *base_paths,
           "--build-base", str(BUILD), "--install-base", str(INSTALL),
           "--cmake-args", f"-DPython3_EXECUTABLE={venv_python()}",
           "-DCMAKE_BUILD_TYPE=Release", "--event-handlers", "console_stderr-"]
    log("building the colcon workspace")
    run_step(cmd, "colcon build", env=env)
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    if sys.version_info[:2] != (3, 11):
        log(f"Python 3.11 is required, this is {sys.version.split()[0]}")
        return 1
    started = time.monotonic()
    try:
        check_debian_packages()
        installed = ensure_venv()
        ensure_build(installed)
    except BootstrapError as exc:
        log(str(exc))
        return 1
    elapsed = time.monotonic() - started
    if elapsed > 1.0:
        log(f"bootstrap ready in {elapsed:.1f} s")
    env = ros_environment()
    os.execve(str(venv_python()),
              [str(venv_python()), "-m", "foresight_bringup.cli", *argv], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
