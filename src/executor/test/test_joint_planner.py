"""The last-resort joint planner finds a way around a wall the straight way crosses, keeps
every segment free, and says None when the goal is walled in."""

from collections.abc import Callable

import numpy as np

from foresight_executor.joint_planner import connect, shortcut

LOWER, UPPER = np.full(7, -2.0), np.full(7, 2.0)


def _free_of(blocked: Callable[[np.ndarray], bool]
             ) -> Callable[[np.ndarray, np.ndarray], bool]:
    """Segment test sampling every 0.01 rad against `blocked(q)`."""
    def free(a: np.ndarray, b: np.ndarray) -> bool:
        n = max(2, int(np.ceil(np.max(np.abs(b - a)) / 0.01)) + 1)
        return not any(blocked(a + (b - a) * t) for t in np.linspace(0.0, 1.0, n))
    return free


def _wall(q: np.ndarray) -> bool:
    """A wall at joint 1 = 0 with a gap only where joint 2 > 1.2."""
    return abs(q[0]) < 0.1 and q[1] < 1.2


def test_a_way_round_the_wall_with_every_segment_free():
    free = _free_of(_wall)
    start, goal = np.full(7, 0.0), np.zeros(7)
    start[0], goal[0] = -1.0, 1.0
    assert not free(start, goal)
    way = connect(start, goal, free, LOWER, UPPER, np.random.default_rng(0))
    assert way is not None
    assert np.array_equal(way[0], start) and np.array_equal(way[-1], goal)
    assert all(free(a, b) for a, b in zip(way[:-1], way[1:], strict=True))
    assert len(way) <= 5          # shortcut: no random walk left
    assert max(q[1] for q in way) > 1.2  # through the gap


def test_a_walled_in_goal_gives_none():
    def boxed(q: np.ndarray) -> bool:
        return 0.5 < q[0] < 1.5 and not (0.6 < q[0] < 1.4 and np.all(np.abs(q[1:]) < 0.3))
    goal = np.zeros(7)
    goal[0] = 1.0
    free = _free_of(boxed)
    assert connect(np.zeros(7), goal, free, LOWER, UPPER, np.random.default_rng(0),
                   max_samples=50) is None


def test_shortcut_drops_the_waypoints_a_straight_segment_skips():
    way = [np.array([float(i)] + [0.0] * 6) for i in range(5)]
    assert len(shortcut(way, lambda a, b: True)) == 2
    assert len(shortcut(way, lambda a, b: abs(b[0] - a[0]) <= 1.0)) == 5
