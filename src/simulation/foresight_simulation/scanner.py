"""A simulated safety laser scanner: a horizontal fan of rays cast through the scene (what a
2D safety scanner on the bench's edge measures). No rclpy here."""

from __future__ import annotations

import math

import mujoco
import numpy as np

from foresight_common.cell_layout import ScannerSpec

VISIBLE_GROUPS = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)  # what is drawn is measured


class SafetyScanner:
    def __init__(self, model: mujoco.MjModel, spec: ScannerSpec) -> None:
        self.model = model
        self.spec = spec
        self.angle_min = -spec.fov / 2.0
        self.angle_increment = spec.fov / (spec.rays - 1)
        angles = spec.yaw + self.angle_min + self.angle_increment * np.arange(spec.rays)
        self._directions = np.stack([np.cos(angles), np.sin(angles),
                                     np.zeros_like(angles)], axis=1).reshape(-1)
        self._geomid = np.zeros(spec.rays, dtype=np.int32)
        self._dist = np.zeros(spec.rays, dtype=np.float64)
        self._origin = np.asarray(spec.position, dtype=float)

    def scan(self, data: mujoco.MjData) -> np.ndarray:
        """Ranges (m) in the scanner's angle order; inf where nothing is within range."""
        mujoco.mj_multiRay(self.model, data, self._origin, self._directions, VISIBLE_GROUPS,
                           1, -1, self._geomid, self._dist, None, self.spec.rays,
                           self.spec.range_max)
        ranges = self._dist.copy()
        ranges[(self._geomid < 0) | (ranges < 0) | (ranges > self.spec.range_max)] = math.inf
        return ranges
