"""Builds the simulated world of one episode: family + seed -> scene, plus the camera noise
stream. No rclpy here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foresight_common.cell_layout import load_cell_layout
from foresight_simulation.families import load_family, sample_scene
from foresight_simulation.scene import IndustrialCell, apply_camera_noise


@dataclass
class World:
    cell: IndustrialCell
    family_name: str
    split: str
    noise_rng: np.random.Generator

    @property
    def camera_name(self) -> str:
        return self.cell.camera_name

    def add_camera_noise(self, rgb: np.ndarray, depth: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        return apply_camera_noise(rgb, depth, self.cell.params.camera_noise, self.noise_rng)


def build_world(cell_file: str, family: str, families_file: str, config_dir: str,
                seed: int) -> World:
    """The episode's world: `families_file` (a path) wins over `family` (a name)."""
    fam = load_family(families_file or family, config_dir or None)
    layout = load_cell_layout(cell_file)
    cell = IndustrialCell(layout, sample_scene(layout, fam, seed))
    return World(cell=cell, family_name=fam.name, split=fam.split,
                 noise_rng=cell.noise_rng())
