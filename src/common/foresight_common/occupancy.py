"""Occupancy grids of the home: the known layout rasterised (walls and furniture footprints),
the distance to the nearest obstacle (for inflation, path costs and scan matching), and the
conversion to and from nav_msgs/OccupancyGrid values. No rclpy.

Cells hold the ROS convention: 100 occupied, 0 free, -1 unknown. Cell (row, col) covers
x in [origin_x + col * res, + res), y likewise with rows; the grid is not rotated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from foresight_common.room_layout import Furniture, RoomLayout

OCCUPIED = 100
FREE = 0
UNKNOWN = -1


@dataclass(frozen=True)
class GridGeometry:
    resolution: float                 # m per cell
    origin: tuple[float, float]       # map position of cell (0, 0)'s corner
    width: int                        # columns (x)
    height: int                       # rows (y)

    def to_cell(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the cell holding map point (x, y) (may lie outside the grid)."""
        return (int(math.floor((y - self.origin[1]) / self.resolution)),
                int(math.floor((x - self.origin[0]) / self.resolution)))

    def to_point(self, row: int, col: int) -> tuple[float, float]:
        """Map position of a cell's centre."""
        return (self.origin[0] + (col + 0.5) * self.resolution,
                self.origin[1] + (row + 0.5) * self.resolution)

    def inside(self, row: int, col: int) -> bool:
        return 0 <= row < self.height and 0 <= col < self.width


class OccupancyMap:
    """A grid with its geometry and the distance field of its occupied cells."""

    def __init__(self, geometry: GridGeometry, cells: np.ndarray) -> None:
        if cells.shape != (geometry.height, geometry.width):
            raise ValueError(f"cells {cells.shape} do not match the geometry "
                             f"{geometry.height} x {geometry.width}")
        self.geometry = geometry
        self.cells = cells.astype(np.int8)
        occupied = (self.cells >= 50).astype(np.uint8)
        # distance (m) from every cell centre to the nearest occupied cell's centre
        self.distance = cv2.distanceTransform(1 - occupied, cv2.DIST_L2, 5).astype(
            np.float32) * geometry.resolution

    def occupied(self, x: float, y: float) -> bool:
        """Occupied or outside the grid."""
        row, col = self.geometry.to_cell(x, y)
        return not self.geometry.inside(row, col) or self.cells[row, col] >= 50

    def clearance(self, x: float, y: float) -> float:
        """Distance (m) from (x, y) to the nearest obstacle (0 outside the grid)."""
        row, col = self.geometry.to_cell(x, y)
        if not self.geometry.inside(row, col):
            return 0.0
        return float(self.distance[row, col])

    def clearance_at(self, xy: np.ndarray) -> np.ndarray:
        """Vectorised `clearance` for points (n, 2), bilinear between cell centres (0 outside
        the grid)."""
        return bilinear(self.geometry, self.distance, xy, outside=0.0)

    def with_obstacles(self, xy: np.ndarray, radius: float) -> OccupancyMap:
        """A copy with discs of `radius` (m) around the points (n, 2) marked occupied (a live
        obstacle layer)."""
        cells = self.cells.copy()
        g = self.geometry
        r = max(int(math.ceil(radius / g.resolution)), 0)
        for x, y in np.asarray(xy, dtype=float).reshape(-1, 2):
            row, col = g.to_cell(x, y)
            if g.inside(row, col):
                cv2.circle(cells.view(np.uint8), (col, row), r, OCCUPIED, thickness=-1)
        return OccupancyMap(g, cells)


def bilinear(geometry: GridGeometry, field: np.ndarray, xy: np.ndarray,
             outside: float = 0.0) -> np.ndarray:
    """A per-cell field sampled at points (n, 2), bilinear between cell centres; `outside`
    for points off the grid."""
    g = geometry
    fx = (xy[:, 0] - g.origin[0]) / g.resolution - 0.5
    fy = (xy[:, 1] - g.origin[1]) / g.resolution - 0.5
    x0 = np.clip(np.floor(fx).astype(int), 0, g.width - 2)
    y0 = np.clip(np.floor(fy).astype(int), 0, g.height - 2)
    tx = np.clip(fx - x0, 0.0, 1.0)
    ty = np.clip(fy - y0, 0.0, 1.0)
    value = ((1 - tx) * (1 - ty) * field[y0, x0] + tx * (1 - ty) * field[y0, x0 + 1]
             + (1 - tx) * ty * field[y0 + 1, x0] + tx * ty * field[y0 + 1, x0 + 1])
    off = (fx < -0.5) | (fy < -0.5) | (fx > g.width - 0.5) | (fy > g.height - 0.5)
    return np.where(off, outside, value)


def _fill_polygon(cells: np.ndarray, geometry: GridGeometry,
                  corners: Sequence[tuple[float, float]]) -> None:
    points = np.array([[(x - geometry.origin[0]) / geometry.resolution,
                        (y - geometry.origin[1]) / geometry.resolution] for x, y in corners])
    # fixed-point polygon fill: cells whose area the footprint touches become occupied
    shift = 4
    scaled = np.round(points * (1 << shift)).astype(np.int32)
    cv2.fillPoly(cells.view(np.uint8), [scaled], OCCUPIED, lineType=cv2.LINE_8, shift=shift)


def room_map(layout: RoomLayout, resolution: float = 0.05,
             furniture: Sequence[Furniture] | None = None) -> OccupancyMap:
    """The known layout as a grid: the room's walls (one cell thick at least) around free
    floor, each piece of furniture's footprint occupied. `furniture` overrides the layout's
    (e.g. only what a robot knows)."""
    margin = layout.wall_thickness
    geometry = GridGeometry(resolution, (-margin, -margin),
                            int(math.ceil((layout.size[0] + 2 * margin) / resolution)),
                            int(math.ceil((layout.size[1] + 2 * margin) / resolution)))
    cells = np.zeros((geometry.height, geometry.width), dtype=np.int8)
    wall = max(int(round(margin / resolution)), 1)
    cells[:wall, :] = OCCUPIED
    cells[-wall:, :] = OCCUPIED
    cells[:, :wall] = OCCUPIED
    cells[:, -wall:] = OCCUPIED
    for item in (layout.furniture if furniture is None else furniture):
        _fill_polygon(cells, geometry, item.footprint())
    return OccupancyMap(geometry, cells)
