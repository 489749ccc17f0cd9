"""Builds the simulated world of one episode: scenario + family + seed -> scene, plus the
camera noise stream. No rclpy here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foresight_common.cell_layout import load_cell_layout
from foresight_common.room_layout import load_room_layout
from foresight_simulation.families import FamilyError, load_family, sample_scene
from foresight_simulation.home_families import (
    load_home_family,
    room_layout_path,
    sample_home_scene,
)
from foresight_simulation.home_scene import HomeRoom
from foresight_simulation.scene import IndustrialCell, apply_camera_noise

SCENARIOS = ("industrial_assembly", "home_care")


@dataclass
class World:
    cell: IndustrialCell | HomeRoom
    family_name: str
    split: str
    noise_rng: np.random.Generator

    @property
    def camera_name(self) -> str:
        return self.cell.camera_name

    @property
    def mobile(self) -> bool:
        """Whether the robot drives (a mobile base) or stands bolted to the floor."""
        return isinstance(self.cell, HomeRoom)

    def add_camera_noise(self, rgb: np.ndarray, depth: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        return apply_camera_noise(rgb, depth, self.cell.params.camera_noise, self.noise_rng)


def build_world(cell_file: str, family: str, families_file: str, config_dir: str,
                seed: int, scenario: str = "industrial_assembly") -> World:
    """The episode's world: `families_file` (a path) wins over `family` (a name). The
    industrial cell's layout is `cell_file`; the home room's comes from the family."""
    if scenario == "home_care":
        home = load_home_family(families_file or family, config_dir or None)
        room = HomeRoom(sample_home_scene(load_room_layout(
            room_layout_path(home, config_dir or None)), home, seed))
        return World(cell=room, family_name=home.name, split=home.split,
                     noise_rng=room.noise_rng())
    if scenario != "industrial_assembly":
        raise FamilyError(f"invalid scenario {scenario!r}: allowed: " + ", ".join(SCENARIOS))
    fam = load_family(families_file or family, config_dir or None)
    layout = load_cell_layout(cell_file)
    cell = IndustrialCell(layout, sample_scene(layout, fam, seed))
    return World(cell=cell, family_name=fam.name, split=fam.split,
                 noise_rng=cell.noise_rng())
