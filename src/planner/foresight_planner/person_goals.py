"""Where a walking person is going: the places people stay at in the room (the room file's
`person.places`: the chair, the bedside, ...) and the walking distance to each over the free
floor. A person heading for a place walks the way that shortens that distance as fast as
they walk (people take short ways); the place whose distance has shrunk by nearly the whole
way they walked, and clearly more than any other's, is where they will stop. This is how the
robot hands over where the person *will* be instead of where they were (DESIGN section 5).
Pure numpy/scipy, no rclpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from foresight_common.occupancy import OccupancyMap
from foresight_common.room_layout import PersonPlace


@dataclass(frozen=True)
class GoalConfig:
    body_radius_m: float = 0.20      # floor nearer an obstacle than this is not walked on
    min_walked_m: float = 0.5        # evidence needed before a place is named
    min_progress: float = 0.75       # distance to the place shrunk by this share of the walk
    margin: float = 0.25             # ... and by this share more than for any other place
    arrived_m: float = 0.4           # nearer than this to a place: already there
    snap_m: float = 0.5              # a point off the walkable floor counts from there


class WalkDistances:
    """Walking distance (m) from every free cell of `grid` to each place (8-connected
    shortest ways over cells at least `body_radius_m` from obstacles; a place inside a
    piece of furniture's footprint, the chair's seat, is reached at its nearest free cell)."""

    def __init__(self, grid: OccupancyMap, places: Sequence[PersonPlace],
                 config: GoalConfig | None = None) -> None:
        self.config = config or GoalConfig()
        self.places = tuple(places)
        self.geometry = grid.geometry
        free = grid.distance >= self.config.body_radius_m
        rows, cols = free.shape
        index = np.arange(rows * cols).reshape(rows, cols)
        starts, ends, lengths = [], [], []
        res = self.geometry.resolution
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            r0, r1 = max(0, -dr), rows - max(0, dr)
            c0, c1 = max(0, -dc), cols - max(0, dc)
            here = (slice(r0, r1), slice(c0, c1))
            there = (slice(r0 + dr, r1 + dr), slice(c0 + dc, c1 + dc))
            both = free[here] & free[there]
            starts.append(index[here][both])
            ends.append(index[there][both])
            lengths.append(np.full(int(both.sum()), res * math.hypot(dr, dc)))
        graph = coo_matrix((np.concatenate(lengths),
                            (np.concatenate(starts), np.concatenate(ends))),
                           shape=(rows * cols, rows * cols)).tocsr()
        free_cells = np.flatnonzero(free)
        free_xy = np.array([self.geometry.to_point(*divmod(int(k), cols))
                            for k in free_cells]) if len(free_cells) else np.zeros((0, 2))
        sources = []
        for place in self.places:
            nearest = int(np.argmin(np.hypot(*(free_xy - np.asarray(place.xy)).T)))
            sources.append(int(free_cells[nearest]))
        self.fields = dijkstra(graph, directed=False, indices=sources).reshape(
            len(sources), rows, cols) if sources else np.zeros((0, rows, cols))
        self._free = free

    def at(self, xy: Sequence[float]) -> np.ndarray:
        """Walking distance from `xy` to each place, from the walkable cells within
        `snap_m` (a seated person's torso lies over the chair; inf when there are none)."""
        g = self.geometry
        row, col = g.to_cell(float(xy[0]), float(xy[1]))
        reach = int(math.ceil(self.config.snap_m / g.resolution))
        r0, r1 = max(0, row - reach), min(g.height, row + reach + 1)
        c0, c1 = max(0, col - reach), min(g.width, col + reach + 1)
        if r0 >= r1 or c0 >= c1:
            return np.full(len(self.places), np.inf)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        step = np.hypot(rr - row, cc - col) * g.resolution
        usable = self._free[r0:r1, c0:c1] & (step <= self.config.snap_m)
        if not usable.any():
            return np.full(len(self.places), np.inf)
        window = self.fields[:, r0:r1, c0:c1][:, usable] + step[usable]
        return window.min(axis=1)


def heading_for(distances: WalkDistances, walked: Sequence[Sequence[float]]
                ) -> PersonPlace | None:
    """The place a person who walked through the points `walked` (oldest first, e.g. their
    torso over the last seconds) is heading for, or None while it cannot be told: they
    walked less than `min_walked_m`, no place's distance shrank by `min_progress` of the
    way walked, or two places are about equally consistent (a corridor shared by both);
    a place they are already at is not where they are going."""
    c = distances.config
    points = np.asarray(walked, dtype=float)[:, :2]
    if len(points) < 2:
        return None
    walked_m = float(np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1)))
    if walked_m < c.min_walked_m:
        return None
    before, now = distances.at(points[0]), distances.at(points[-1])
    progress = np.where(np.isfinite(before) & np.isfinite(now), (before - now) / walked_m,
                        -np.inf)
    here = np.array([math.dist(p.xy, points[-1]) for p in distances.places])
    progress[here < c.arrived_m] = -np.inf
    order = np.argsort(progress)[::-1]
    best = int(order[0])
    if progress[best] < c.min_progress:
        return None
    if len(order) > 1 and progress[best] - progress[int(order[1])] < c.margin:
        return None
    return distances.places[best]
