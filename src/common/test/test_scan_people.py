"""The base scanner's leg finder: a walking pair of legs becomes a person, things that stand
still (even ones that come into view suddenly) and the known room never do; synthetic scans
from a scanner at the origin of a 6 x 6 m room with one table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight_common.occupancy import GridGeometry, OccupancyMap
from foresight_common.scan_people import ScanPeople, clusters, unexplained

SCAN_HZ = 15.0


def _room() -> OccupancyMap:
    """6 x 6 m, origin at (-3, -3), walls one cell thick, a 1 x 1 m table at (2, 2)."""
    geometry = GridGeometry(0.05, (-3.0, -3.0), 120, 120)
    cells = np.zeros((120, 120), dtype=np.int8)
    cells[0, :] = cells[-1, :] = cells[:, 0] = cells[:, -1] = 100
    cells[90:110, 90:110] = 100
    return OccupancyMap(geometry, cells)


def _scan(circles: list[tuple[float, float, float]]) -> np.ndarray:
    """Hit points of a scanner at the origin on circles (x, y, radius), in scan order (the
    side of each circle facing the scanner, 1 point per degree)."""
    points = []
    for x, y, r in circles:
        d = math.hypot(x, y)
        half = math.asin(min(1.0, r / d))
        centre = math.atan2(y, x)
        for a in np.arange(centre - half, centre + half, math.radians(1.0)):
            # nearest intersection of the ray with the circle
            b = math.cos(a) * x + math.sin(a) * y
            disc = b * b - (d * d - r * r)
            if disc >= 0.0:
                t = b - math.sqrt(disc)
                points.append((a, t * math.cos(a), t * math.sin(a)))
    points.sort()
    return np.array([(px, py) for _, px, py in points]).reshape(-1, 2)


def _legs(x: float, y: float, stride: float) -> list[tuple[float, float, float]]:
    return [(x + stride / 2.0, y + 0.1, 0.06), (x - stride / 2.0, y - 0.1, 0.06)]


def test_a_walking_pair_of_legs_becomes_a_person_within_half_a_second():
    finder = ScanPeople(_room())
    found_at = None
    for k in range(30):
        t = k / SCAN_HZ
        x = -1.5 + 0.8 * t                              # walking along x at 0.8 m/s
        stride = 0.4 * math.sin(2.0 * math.pi * t)      # legs swinging past each other
        people = finder.update(t, _scan(_legs(x, 1.0, stride)))
        if people and found_at is None:
            found_at = t
    assert found_at is not None and found_at <= 0.8
    assert len(people) == 1
    assert people[0].xy == pytest.approx([-1.5 + 0.8 * 29 / SCAN_HZ, 1.0], abs=0.12)
    # the legs' centre sways with the stride; its smoothed velocity is the walk's
    assert people[0].velocity == pytest.approx([0.8, 0.0], abs=0.2)


def test_things_standing_still_are_never_people_even_when_they_come_into_view():
    finder = ScanPeople(_room())
    box = [(1.0, -1.0, 0.15)]
    for k in range(30):
        circles = box if k >= 10 else []                # appears at t = 0.67 s
        assert finder.update(k / SCAN_HZ, _scan(circles)) == []


def test_the_known_room_hides_what_stands_at_it():
    finder = ScanPeople(_room())
    # legs walking along the table's west edge (x = 1.5), within 0.2 m of it: the room
    for k in range(30):
        t = k / SCAN_HZ
        legs = _legs(1.42, 1.6 + 0.5 * t, 0.1 * math.sin(2.0 * math.pi * t))
        assert finder.update(t, _scan(legs)) == []


def test_a_person_who_stops_stays_a_while_and_is_forgotten_once_gone():
    finder = ScanPeople(_room())
    t = 0.0
    for k in range(15):                                 # walks 1 s ...
        t = k / SCAN_HZ
        finder.update(t, _scan(_legs(-1.5 + 0.8 * t, 1.0, 0.3 * math.sin(6.0 * t))))
    stop_x = -1.5 + 0.8 * t
    for k in range(15, 60):                             # ... stands 3 s
        t = k / SCAN_HZ
        people = finder.update(t, _scan(_legs(stop_x, 1.0, 0.2)))
    assert len(people) == 1
    assert np.linalg.norm(people[0].velocity) < 0.05
    people = finder.update(t + 1.1, _scan([]))         # gone for longer than keep_s
    assert people == []


def test_scan_clusters_split_on_gaps_and_join_across_the_scan_start():
    points = np.array([[1.0, 0.0], [1.0, 0.05], [1.0, 1.0], [1.0, 1.05], [1.0, -0.05]])
    parts = clusters(points, 0.15)
    assert sorted(len(p) for p in parts) == [2, 3]     # the last point joins the first two


def test_a_scanned_person_the_camera_tracks_is_explained():
    finder = ScanPeople(_room())
    for k in range(20):
        t = k / SCAN_HZ
        people = finder.update(t, _scan(_legs(-1.5 + 0.8 * t, 1.0, 0.3 * math.sin(6 * t))))
    assert len(people) == 1
    assert unexplained(people, [people[0].xy + [0.3, 0.0]], 0.5) == []
    assert len(unexplained(people, [people[0].xy + [1.0, 0.0]], 0.5)) == 1
