"""A collision-free joint-space way between two arm configurations when the simple ones
(straight, via home, one joint first) are blocked: bidirectional RRT-Connect (Kuffner and
LaValle 2000) followed by shortcutting.

Why here and not OMPL or MoveIt: the executor needs this as a last resort for one arm with
a collision checker it already has (`CollisionChecker.check_path` interpolates finely
between configurations); the whole planner is the segment test it is given, a few dozen
lines of numpy, deterministic for a given seed. Measured case: an arm folded over its base
had to get its hand past the base's column into a shelf's mouth, and every simple way
swept the hand through the column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Is the straight joint-space segment between two configurations free?
SegmentFree = Callable[[np.ndarray, np.ndarray], bool]


class _Tree:
    """Configurations and each one's parent index."""

    def __init__(self, root: np.ndarray) -> None:
        self.nodes = [root]
        self.parents = [-1]

    def nearest(self, q: np.ndarray) -> int:
        return int(np.argmin(np.linalg.norm(np.array(self.nodes) - q, axis=1)))

    def add(self, q: np.ndarray, parent: int) -> int:
        self.nodes.append(q)
        self.parents.append(parent)
        return len(self.nodes) - 1

    def branch(self, index: int) -> list[np.ndarray]:
        """From the root to node `index`."""
        out = []
        while index >= 0:
            out.append(self.nodes[index])
            index = self.parents[index]
        return out[::-1]


def _extend(tree: _Tree, target: np.ndarray, free: SegmentFree, step: float
            ) -> tuple[int, bool]:
    """Grow `tree` towards `target` one step at a time while the way is free; the last node
    added (or the nearest one) and whether `target` was reached."""
    index = tree.nearest(target)
    while True:
        here = tree.nodes[index]
        gap = target - here
        distance = float(np.linalg.norm(gap))
        if distance < 1e-9:
            return index, True
        reached = distance <= step
        nxt = target if reached else here + gap * (step / distance)
        if not free(here, nxt):
            return index, False
        index = tree.add(nxt, index)
        if reached:
            return index, True


def shortcut(way: list[np.ndarray], free: SegmentFree) -> list[np.ndarray]:
    """The way with every waypoint dropped that a free straight segment can skip (from each
    kept waypoint, to the farthest one it sees)."""
    out = [way[0]]
    i = 0
    while i < len(way) - 1:
        j = len(way) - 1
        while j > i + 1 and not free(way[i], way[j]):
            j -= 1
        out.append(way[j])
        i = j
    return out


def connect(q_start: np.ndarray, q_goal: np.ndarray, free: SegmentFree, lower: np.ndarray,
            upper: np.ndarray, rng: np.random.Generator, max_samples: int = 300,
            step_rad: float = 0.3) -> list[np.ndarray] | None:
    """Waypoints from `q_start` to `q_goal` whose straight segments are all free, or None
    after `max_samples` random samples (joint limits `lower`/`upper`)."""
    start, goal = (np.asarray(q, dtype=float) for q in (q_start, q_goal))
    if free(start, goal):
        return [start, goal]
    start_tree = _Tree(start)
    grown, other = start_tree, _Tree(goal)
    for _ in range(max_samples):
        index, _ = _extend(grown, rng.uniform(lower, upper), free, step_rad)
        meet, joined = _extend(other, grown.nodes[index], free, step_rad)
        if joined:      # both branches end where they met
            mine, theirs = grown.branch(index), other.branch(meet)
            way = mine + theirs[::-1][1:] if grown is start_tree else theirs + mine[::-1][1:]
            return shortcut(way, free)
        grown, other = other, grown
    return None
