"""Fixtures of the perception tests: the classical detector with the cell's class file, and
scenes of the simulated industrial cell that render RGB-D frames (with the family's camera
noise) next to their ground truth. Tests may read ground truth; the detector never does."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import mujoco
import numpy as np
import pytest

from foresight_common.conversions import homogeneous
from foresight_common.robot_model import HOME_POSITIONS
from foresight_perception.detector import Frame, load_class_catalog, make_detector
from foresight_perception.geometry import Intrinsics
from foresight_simulation.runtime import SimulatedCell
from foresight_simulation.scene import IndustrialCell, apply_camera_noise

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "config"
CLASS_FILE = CONFIG / "perception" / "industrial_classes.yaml"
#: Arm joints that swing the arm to the conveyor side, out of the camera's view of the tray
#: and the fixture (at home the arm hides some tray slots from the overhead camera).
ARM_ASIDE = (HOME_POSITIONS[0] - 0.9, *HOME_POSITIONS[1:])


class Scene:
    """One seeded scene of a family: physics stepped with the arm held by its controller,
    frames rendered from a copy of the state (so the arm can be posed for a picture only)."""

    def __init__(self, family: str, seed: int, width: int = 320, height: int = 240) -> None:
        self.cell = IndustrialCell.from_family(family, seed, CONFIG)
        self.sim = SimulatedCell(self.cell)
        self.renderer = mujoco.Renderer(self.cell.model, height, width)
        fx, fy, cx, cy = self.cell.camera_intrinsics(width, height)
        self.intrinsics = Intrinsics(fx, fy, cx, cy, width, height)
        self.rng = np.random.default_rng([seed, 17])

    def close(self) -> None:
        self.renderer.close()

    def advance(self, until: float) -> None:
        while self.sim.sim_time < until:
            self.sim.step()

    def posed(self, arm: tuple[float, ...] | None = ARM_ASIDE) -> mujoco.MjData:
        """The current state with the arm at `arm` (the live state when None)."""
        if arm is None:
            return self.cell.data
        data = mujoco.MjData(self.cell.model)
        mujoco.mj_copyData(data, self.cell.model, self.cell.data)
        data.qpos[self.cell.arm_qpos] = arm
        mujoco.mj_forward(self.cell.model, data)
        return data

    def visible(self, name: str, position, arm: tuple[float, ...] | None = ARM_ASIDE) -> bool:
        """Whether the camera sees `position` on body `name` with the arm posed at `arm`."""
        return self.cell.visible_from_camera(position, name, self.posed(arm))

    def frame(self, arm: tuple[float, ...] | None = ARM_ASIDE, noise: bool = True) -> Frame:
        data = self.posed(arm)
        rgb, depth = self.cell.render_rgbd(self.renderer, data)
        if noise:
            rgb, depth = apply_camera_noise(rgb, depth, self.cell.params.camera_noise, self.rng)
        position, quat = self.cell.camera_pose(optical=True)
        return Frame(rgb, depth, self.intrinsics, homogeneous(position, quat),
                     self.sim.sim_time)

    def truth(self, kind: str | None = None) -> list:
        return [o for o in self.cell.ground_truth() if kind is None or o.kind == kind]

    def place_part(self, name: str, position: tuple[float, float, float],
                   yaw: float = 0.0) -> None:
        """Teleport a part (its centre) and hold it still."""
        cell = self.cell
        adr, dof = cell._part_qpos[name], cell._part_dof[name]
        cell.data.qpos[adr:adr + 3] = position
        cell.data.qpos[adr + 3:adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        cell.data.qvel[dof:dof + 6] = 0.0
        mujoco.mj_forward(cell.model, cell.data)

    def seat(self, part: str, hole_name: str) -> None:
        """Put a part into a hole of its type, as a successful insertion leaves it."""
        hole = next(h for h in self.cell.layout.holes if h.name == hole_name)
        height = self.cell.parts[part].part_type.height
        self.place_part(part, (hole.position[0], hole.position[1],
                               hole.bottom_z + height / 2.0 + 0.0005), hole.yaw)
        self.advance(self.sim.sim_time + 0.3)


@pytest.fixture(scope="session")
def class_file() -> Path:
    return CLASS_FILE


@pytest.fixture(scope="session")
def catalog():
    return load_class_catalog(CLASS_FILE)


@pytest.fixture(scope="session")
def detector(catalog):
    return make_detector("classical", catalog)


@pytest.fixture
def make_scene() -> Iterator:
    scenes: list[Scene] = []

    def build(family: str = "default", seed: int = 0, width: int = 320,
              height: int = 240) -> Scene:
        assert seed < 100_000, "seeds >= 100000 are reserved for evaluation"
        scene = Scene(family, seed, width, height)
        scenes.append(scene)
        return scene

    yield build
    for scene in scenes:
        scene.close()
