"""Where a walking person is going (person_goals): walking distances over the room's free
floor and the place a walk so far heads for, on the home room's layout."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foresight_common.occupancy import room_map
from foresight_planner.person_goals import WalkDistances, heading_for

CONFIG = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def distances(room):
    return WalkDistances(room_map(room), room.person_places)


def _walk(points, step=0.1):
    """Points every `step` m along the polyline `points`."""
    out = [np.asarray(points[0], dtype=float)]
    for a, b in zip(points, points[1:], strict=False):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        n = max(1, int(math.ceil(np.linalg.norm(b - a) / step)))
        out += [a + (b - a) * k / n for k in range(1, n + 1)]
    return np.array(out)


def test_walking_distances_go_round_the_furniture(room, distances):
    """From west of the table to the window north-east of it: round the table, longer
    than the straight line through it; zero at a place; every place reachable."""
    names = [p.name for p in room.person_places]
    window = names.index("window")
    at = distances.at((2.0, 2.6))
    assert np.all(np.isfinite(at))
    straight = math.dist((2.0, 2.6), room.person_places[window].xy)
    assert at[window] > straight + 0.1
    bedside = names.index("bedside")
    assert distances.at(room.person_places[bedside].xy)[bedside] < 0.15


def test_a_walk_towards_the_window_names_the_window(room, distances):
    """From the chair east along the table's north side and round to the window."""
    walked = _walk([(3.0, 3.6), (3.6, 3.8), (4.3, 3.95)])
    assert heading_for(distances, walked).name == "window"


def test_a_walk_past_the_chair_names_the_door_once_past_it(room, distances):
    """From the bedside north and west along the table: the chair and the door are
    equally likely until the walk goes on past the chair."""
    walked = _walk([(4.4, 1.9), (4.3, 2.6), (4.2, 3.9), (2.9, 3.95)])
    assert heading_for(distances, walked) is None
    walked = _walk([(4.4, 1.9), (4.3, 2.6), (4.2, 3.9), (2.0, 3.9), (1.5, 4.0)])
    assert heading_for(distances, walked).name == "door"


def test_too_short_or_ambiguous_walks_name_no_place(room, distances):
    # a few centimetres: no evidence yet
    assert heading_for(distances, _walk([(2.0, 2.0), (2.0, 2.2)])) is None
    # standing at the bedside: already there, and going nowhere
    assert heading_for(distances, [(4.4, 1.65)] * 10) is None
    # pacing back and forth gets nowhere
    assert heading_for(distances, _walk([(1.5, 3.0), (2.0, 3.0), (1.5, 3.0), (2.0, 3.0)])) \
        is None
