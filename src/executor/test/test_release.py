"""The hand-over's release: the fingers open slowly next to the hand taking the object
(commanded in small steps at RELEASE_WIDTH_MPS), to the width asked for."""

from __future__ import annotations

import numpy as np
import pytest

from foresight_common.robot_model import HOME_POSITIONS
from foresight_executor.mobile_arm import mobile_skill_runner
from foresight_executor.skills import (
    RELEASE_STEP_S,
    RELEASE_WIDTH_MPS,
    Outcome,
    SkillRequest,
    SkillSettings,
)


class FingersOnly:
    """A robot whose fingers go where they are told at once; it records when."""

    def __init__(self, width: float) -> None:
        self.width, self.time = width, 0.0
        self.commands: list[tuple[float, float]] = []

    def arm_positions(self) -> np.ndarray:
        return np.array(HOME_POSITIONS)

    def gripper_width(self) -> float:
        return self.width

    def set_gripper(self, width: float) -> None:
        self.commands.append((self.time, width))
        self.width = width

    def wait(self, seconds: float) -> None:
        self.time += seconds

    def now(self) -> float:
        return self.time

    def feedback(self, phase: str, progress: float) -> None:
        pass

    def check(self) -> None:
        pass


def test_the_fingers_open_at_the_release_speed_to_the_width_asked():
    runner = mobile_skill_runner([], (0.0, 0.0, 0.0), SkillSettings())
    io = FingersOnly(0.060)                         # holding a 6 cm cup
    report = runner.run(SkillRequest("release", gripper_width=0.08), io)
    assert report.outcome == Outcome.SUCCEEDED, report.reason
    times, widths = np.array(io.commands).T
    assert widths[-1] == pytest.approx(0.08)
    steps = np.diff(np.concatenate(([0.060], widths)))
    assert np.all(steps > 0) and np.max(steps) <= RELEASE_WIDTH_MPS * RELEASE_STEP_S + 1e-9
    assert np.allclose(np.diff(times), RELEASE_STEP_S)      # one step per period: 1 s in all
    assert len(widths) == round(0.02 / (RELEASE_WIDTH_MPS * RELEASE_STEP_S))
