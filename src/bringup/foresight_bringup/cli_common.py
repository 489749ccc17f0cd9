"""What the `run` and `bench` commands share: the repository root, the camera option, the
default ROS domain id and the node-output sink."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TextIO

REPO = Path(os.environ.get("FORESIGHT_REPO", Path.cwd()))


def parse_camera(text: str) -> tuple[int, int, float]:
    match = re.fullmatch(r"(\d+)x(\d+)@(\d+(?:\.\d+)?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"camera '{text}' is not WIDTHxHEIGHT@HZ, "
                                         "e.g. 320x240@15")
    return int(match[1]), int(match[2]), float(match[3])


#: Domain ids a run or bench picks by itself (the bench adds its worker slot): below the
#: tests' 30-99 (test/conftest.py), so a stack left running beside `./foresight test` does
#: not answer the tests' goals (an episode on 57 took an integration test's pick goal).
RUN_DOMAINS = range(1, 21)


def default_domain_id() -> int:
    if os.environ.get("ROS_DOMAIN_ID", "").isdigit():
        return int(os.environ["ROS_DOMAIN_ID"])
    return RUN_DOMAINS[os.getpid() % len(RUN_DOMAINS)]


def log_sink(log: TextIO, quiet: bool):
    def write(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        if not quiet:
            print(line, flush=True)
    return write


