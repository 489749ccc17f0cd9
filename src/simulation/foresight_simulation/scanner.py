"""A simulated safety laser scanner: a horizontal fan of rays cast through the scene (what a
2D safety scanner on the bench's edge, or on a mobile base, measures). No rclpy here."""

from __future__ import annotations

import math

import mujoco
import numpy as np

from foresight_common.cell_layout import ScannerSpec

VISIBLE_GROUPS = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)  # what is drawn is measured
#: On the mobile base: the scene (group 0) and the person (2), not the robot's own visual (1)
#: and collision (3) geoms: a base scanner looks out through slots in the base's shell.
SCENE_GROUPS = np.array([1, 0, 1, 0, 0, 0], dtype=np.uint8)


class SafetyScanner:
    """`spec.position`/`spec.yaw` are in the world (a fixed scanner) or in the frame of the
    body carrying it (pass that body's pose to `scan`); `noise_sigma` (m) with `rng` adds
    range noise as a real scanner's datasheet states it."""

    def __init__(self, model: mujoco.MjModel, spec: ScannerSpec,
                 groups: np.ndarray = VISIBLE_GROUPS, noise_sigma: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        self.model = model
        self.spec = spec
        self.groups = groups
        self.noise_sigma = noise_sigma
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.angle_min = -spec.fov / 2.0
        self.angle_increment = spec.fov / (spec.rays - 1)
        self._angles = spec.yaw + self.angle_min + self.angle_increment * np.arange(spec.rays)
        self._geomid = np.zeros(spec.rays, dtype=np.int32)
        self._dist = np.zeros(spec.rays, dtype=np.float64)
        self._directions = self._fan(0.0)

    def _fan(self, yaw: float) -> np.ndarray:
        angles = self._angles + yaw
        return np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)],
                        axis=1).reshape(-1)

    def scan(self, data: mujoco.MjData,
             mount: tuple[float, float, float] | None = None) -> np.ndarray:
        """Ranges (m) in the scanner's angle order; inf where nothing is within range.
        `mount`: (x, y, yaw) of the carrying body in the world, None for a fixed scanner."""
        origin = np.asarray(self.spec.position, dtype=float)
        directions = self._directions
        if mount is not None:
            c, s = math.cos(mount[2]), math.sin(mount[2])
            origin = np.array([mount[0] + c * origin[0] - s * origin[1],
                               mount[1] + s * origin[0] + c * origin[1], origin[2]])
            directions = self._fan(mount[2])
        mujoco.mj_multiRay(self.model, data, origin, directions, self.groups,
                           1, -1, self._geomid, self._dist, None, self.spec.rays,
                           self.spec.range_max)
        ranges = self._dist.copy()
        if self.noise_sigma > 0.0:
            ranges += self.rng.normal(0.0, self.noise_sigma, len(ranges))
        ranges[(self._geomid < 0) | (ranges < 0) | (ranges > self.spec.range_max)] = math.inf
        return ranges
