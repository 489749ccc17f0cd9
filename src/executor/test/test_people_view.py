"""The mobile base's scanner in the supervisor: a person walking beside the base, whom the
camera does not track, becomes a column of person points over their legs (map frame, at
the base's pose); a person the camera tracks there needs none."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from foresight_common.mobile_manipulator import BASE_SCANNER
from foresight_common.occupancy import GridGeometry, OccupancyMap
from foresight_executor.people_view import (
    HIDDEN_AFTER_S,
    LEGS_HEIGHTS,
    BaseScanPeople,
    measured_lately,
    receiving_now,
)
from foresight_executor.safety import SsmConfig, person_radius

BASE_POSE = (2.0, 2.0, math.pi / 2)          # the base in a 4 x 4 m empty room, facing +y


def _room() -> OccupancyMap:
    cells = np.zeros((80, 80), dtype=np.int8)
    cells[0, :] = cells[-1, :] = cells[:, 0] = cells[:, -1] = 100
    return OccupancyMap(GridGeometry(0.05, (0.0, 0.0), 80, 80), cells)


def _scan(t: float, legs_base: list[tuple[float, float]]) -> SimpleNamespace:
    """A LaserScan of the base scanner seeing legs (radius 6 cm) at base-frame xy."""
    spec = BASE_SCANNER
    angles = spec.yaw - spec.fov / 2 + spec.fov / (spec.rays - 1) * np.arange(spec.rays)
    ranges = np.full(spec.rays, np.inf)
    for x, y in legs_base:
        d, centre = math.hypot(x, y), math.atan2(y, x)
        near = np.abs((angles - centre + math.pi) % (2 * math.pi) - math.pi) < \
            math.asin(0.06 / d)
        ranges[near] = np.minimum(ranges[near], d - 0.06)
    stamp = SimpleNamespace(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp), range_min=0.05,
                           ranges=ranges.tolist())


def test_a_person_walking_behind_the_base_becomes_person_points_over_their_legs():
    view = BaseScanPeople(_room(), BASE_SCANNER)
    for k in range(20):
        t = k / 15.0
        x = -1.0 + 0.8 * t                       # behind the base (base x < 0), crossing
        swing = 0.15 * math.sin(6.0 * t)
        view.update(_scan(t, [(x + swing, -0.9), (x - swing, -1.1)]), BASE_POSE)
    points = view.points({})
    assert len(points) == len(LEGS_HEIGHTS)
    # base frame (x, -1.0) with the base at (2, 2) facing +y: map (2 + 1.0, 2 + x)
    x_now = -1.0 + 0.8 * 19 / 15.0
    for name, point in points.items():
        assert name.startswith("legs/0/")
        assert point[:2] == pytest.approx([3.0, 2.0 + x_now], abs=0.15)
    assert sorted(p[2] for p in points.values()) == list(LEGS_HEIGHTS)
    assert person_radius(next(iter(points)), SsmConfig()) == SsmConfig().legs_radius_m
    # the camera tracks the same person: no stand-in
    assert view.points({"7/torso": np.array([3.1, 2.0 + x_now, 1.1])}) == {}


def test_old_scans_and_scans_of_another_scanner_are_not_folded_in():
    view = BaseScanPeople(_room(), BASE_SCANNER)
    assert view.update(_scan(1.0, []), BASE_POSE) == 1.0
    assert view.update(_scan(0.5, []), BASE_POSE) == 1.0          # older: ignored
    wrong = _scan(2.0, [])
    wrong.ranges = wrong.ranges[:100]
    assert view.update(wrong, BASE_POSE) == 1.0
    assert view.update(_scan(2.0, []), None) == 1.0               # no pose: not yet


def test_during_a_hand_over_the_tracked_person_counts_as_measured_now():
    measured = {"7/right_hand": 9.6, "7/left_arm": 9.5, "7/torso": 9.4, "legs/0/1": 9.9}
    now = receiving_now(measured, 10.0)
    assert now == {"7/right_hand": 10.0, "7/left_arm": 10.0, "7/torso": 10.0,
                   "legs/0/1": 9.9}


def test_a_person_the_arm_hides_is_left_to_the_scanner_outside_a_hand_over():
    """The world model keeps a person the arm hides where they were last seen; away from a
    hand-over those old points leave the supervisor, so their legs (measured now) stand
    for them instead of a region grown by seconds of age."""
    view = BaseScanPeople(_room(), BASE_SCANNER)
    for k in range(20):                          # walking behind the base (see above)
        t = k / 15.0
        x, swing = -1.0 + 0.8 * t, 0.15 * math.sin(6.0 * t)
        view.update(_scan(t, [(x + swing, -0.9), (x - swing, -1.1)]), BASE_POSE)
    x_now = -1.0 + 0.8 * 19 / 15.0
    stamp = 9.0
    people = {"7/torso": np.array([3.1, 2.0 + x_now, 1.1]),
              "7/right_hand": np.array([2.8, 2.0 + x_now, 0.9]),
              "8/torso": np.array([3.5, 3.5, 1.1])}
    measured = {"7/torso": stamp - 2.0, "7/right_hand": stamp - 2.0,
                "8/torso": stamp - HIDDEN_AFTER_S / 2}
    predicted = {"7/torso": np.zeros((2, 3)), "8/torso": np.zeros((2, 3))}
    kept, kept_predicted, kept_measured = measured_lately(people, predicted, measured, stamp)
    assert set(kept) == set(kept_predicted) == set(kept_measured) == {"8/torso"}
    assert len(view.points(kept)) == len(LEGS_HEIGHTS)     # the hidden one: by their legs
    assert view.points(people) == {}                        # ... who the old torso explains


def test_the_receivers_hand_at_the_held_object_is_the_taking_hand():
    """Hands within 0.3 m of the held object during a hand-over; not the torso, not a far
    hand, not leg points, not a hand without a finite position; none when off (0)."""
    from foresight_executor.people_view import taking_hands

    held = np.array([3.8, 1.5, 1.15])
    people = {"74/left_hand": np.array([3.84, 1.54, 1.22]),
              "74/right_hand": np.array([4.13, 1.64, 1.09]),
              "74/torso": np.array([3.9, 1.5, 1.2]),
              "legs/0/1_hand": np.array([3.8, 1.5, 1.15]),
              "75/left_hand": np.array([np.nan, 1.5, 1.15])}
    assert taking_hands(people, held, 0.3) == {"74/left_hand"}
    assert taking_hands(people, held, 0.0) == set()
    assert taking_hands(people, None, 0.3) == set()


def test_a_hand_reaching_out_for_the_held_object_is_taken_farther_off():
    """Within `reaching_m` only a hand well ahead of its own torso (home_train cup seed 3:
    hands 0.35-0.43 m from the cup, the torso 0.87 m); a hand hanging at the side of a
    person near the object, or one without a tracked torso, stays supervised."""
    from foresight_executor.people_view import taking_hands

    held = np.array([4.5, 2.0, 1.15])
    people = {"62/right_hand": held + [0.0, -0.36, 0.0],   # reaching: torso 0.87 m off
              "62/left_hand": held + [0.0, -0.42, -0.05],
              "62/torso": held + [0.0, -0.87, 0.05],
              "63/right_hand": held + [0.25, 0.25, -0.25],   # hanging beside a near torso
              "63/torso": held + [0.45, 0.3, 0.0],
              "64/left_hand": held + [-0.4, 0.0, 0.0]}       # no torso tracked
    assert taking_hands(people, held, 0.3, 0.5) == {"62/right_hand", "62/left_hand"}
    assert taking_hands(people, held, 0.3, 0.0) == set()
    assert taking_hands(people, held, 0.0, 0.4) == {"62/right_hand"}
