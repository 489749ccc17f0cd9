"""The home-care planner's geometry against hand-computed cases in the nominal room
(config/rooms/home_room.yaml): table 1.2 x 0.8 m centred at (3.0, 2.6), bedside table
0.45 x 0.45 m at (3.55, 0.30) with the bed's west side at x = 3.9, shelf boards open to +x."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foresight_common.occupancy import room_map
from foresight_planner.decisions import TrackedObject
from foresight_planner.home_plan import (
    HandoverConfig,
    HomePlanConfig,
    HomePlanError,
    arm_base_xy,
    class_sizes,
    find_object,
    footprint_free,
    grasp_point,
    grasp_yaw,
    held_extents,
    offer_point,
    on_surface,
    release_point,
    set_down_spots,
    stand_poses,
    turning_spot,
)

CONFIG = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def grid(room):
    return room_map(room)


def _track(label: str, xyz, yaw: float = 0.0, size=(0.1, 0.06, 0.05), age: float = 5.0,
           track_id: int = 1) -> TrackedObject:
    return TrackedObject(id=track_id, label=label, motion=1, position=np.array(xyz, float),
                         yaw=yaw, velocity=np.zeros(3), age_s=age, size=np.array(size))


def test_the_nearest_stand_pose_faces_the_table_edge_at_the_standoff(room, grid):
    # cup at (2.65, 2.40): the south edge (y = 2.2) is nearest: base at y = 2.2 - 0.5,
    # facing north (+90 deg), arm base 0.2 m ahead at y = 1.9: reach 0.50 m
    stands = stand_poses(room, grid, room.surface("table"), (2.65, 2.40), HomePlanConfig())
    first = stands[0]
    assert first.pose == pytest.approx((2.65, 1.70, math.pi / 2))
    assert first.reach_m == pytest.approx(0.50)
    # the west side (x = 2.4) is the other: base at x = 1.9 facing east, reach 0.55 m
    assert stands[1].pose == pytest.approx((1.90, 2.40, 0.0))
    assert stands[1].reach_m == pytest.approx(0.55)
    for stand in stands:
        assert arm_base_xy(stand.pose) == pytest.approx(
            (stand.pose[0] + 0.2 * math.cos(stand.pose[2]),
             stand.pose[1] + 0.2 * math.sin(stand.pose[2])))
        assert footprint_free(grid, stand.pose, 0.04)
        assert grid.clearance(*stand.pose[:2]) >= HomePlanConfig().goal_clearance_m


def test_the_table_centre_is_out_of_reach_from_every_side(room, grid):
    # 0.4 m in from the long sides + 0.5 m standoff - 0.2 m arm offset = 0.7 m > 0.6 m
    assert stand_poses(room, grid, room.surface("table"), (3.0, 2.6), HomePlanConfig()) == []


def test_the_bed_pushes_the_bedside_stand_pose_west_along_the_edge(room, grid):
    # from the north the base needs 0.50 m from the bed (x = 3.9): its centre at x <= 3.40,
    # so the foot point moves west from the table's centre line (x = 3.55)
    stands = stand_poses(room, grid, room.surface("bedside_table"), (3.55, 0.30),
                         HomePlanConfig())
    north = [s for s in stands if s.pose[2] == pytest.approx(-math.pi / 2)]
    assert north, stands
    assert north[0].pose[0] < 3.55                         # moved west, off the bed
    assert grid.clearance(*north[0].pose[:2]) >= HomePlanConfig().goal_clearance_m
    assert grid.clearance(3.55, north[0].pose[1]) < HomePlanConfig().goal_clearance_m
    assert north[0].pose[1] >= 0.525 + 0.5 - 1e-9
    assert all(s.reach_m <= 0.6 for s in stands)


def test_a_shelf_board_is_reached_from_its_open_front_only(room, grid):
    board = room.surface("shelf/1")
    stands = stand_poses(room, grid, board, (board.center[0], board.center[1] + 0.1),
                         HomePlanConfig())
    assert len(stands) == 1
    assert stands[0].pose[2] == pytest.approx(math.pi)       # facing -x, into the shelf
    assert stands[0].pose[0] > board.center[0]


def test_set_down_spots_keep_clear_of_other_objects_and_stay_on_the_surface(room, grid):
    table = room.surface("table")
    config = HomePlanConfig()
    free = set_down_spots(room, grid, table, (1.3, 2.4), [], config)
    assert free, "no spot on the table"
    # the nearest side to a robot at (1.3, 2.4) is the west one: spot 0.12 m inside x = 2.4
    assert free[0].target_xy == pytest.approx((2.52, 2.4))
    blocked = set_down_spots(room, grid, table, (1.3, 2.4),
                             [np.array([2.52, 2.4, 0.8])], config)
    for spot in blocked:
        assert math.dist(spot.target_xy, (2.52, 2.4)) >= config.spot_clearance_m
        assert table.contains_xy(*spot.target_xy, margin=config.edge_inset_m - 1e-9)


def test_a_turning_spot_keeps_the_clearance_asked_for_nearest_first(grid):
    config = HomePlanConfig()
    free = (2.74, 1.63)                     # a table pick's stand, 0.6 m from the table
    assert grid.clearance(*free) >= config.goal_clearance_m
    assert turning_spot(grid, free, config) == free
    spot = turning_spot(grid, free, config, margin_m=0.15)
    assert spot != free and grid.clearance(*spot) >= config.goal_clearance_m + 0.15
    assert math.dist(spot, free) <= 0.2    # the nearest ring that has room
    assert turning_spot(grid, free, config, margin_m=5.0) is None


def test_grasp_yaw_closes_across_a_box_and_prefers_the_comfortable_hand(room):
    # box along x (yaw 0), base facing +y: the hand's comfortable yaw is 0 -> take 0
    assert grasp_yaw(0.0, math.pi / 2, round_object=False) == pytest.approx(0.0)
    # the same box seen with yaw pi (a box's yaw is known modulo pi): still 0
    assert abs(math.remainder(grasp_yaw(math.pi, math.pi / 2, False), 2 * math.pi)) < 1e-9
    # base facing +x: comfortable yaw -90 deg; a box at 80 deg -> -100 deg (same axis)
    assert grasp_yaw(math.radians(80), 0.0, False) == pytest.approx(math.radians(-100))
    # a cup: any yaw, the comfortable one
    assert grasp_yaw(1.0, 0.0, round_object=True) == pytest.approx(-math.pi / 2)


def test_grasp_and_release_points_keep_the_object_where_it_belongs(room):
    config = HomePlanConfig(grasp_below_top_m=0.03, place_drop_m=0.005)
    cup = _track("cup", (2.65, 2.4, 0.80), size=(0.07, 0.07, 0.10))   # 10 cm cup on 0.75
    assert grasp_point(cup, 0.10, config) == pytest.approx((2.65, 2.4, 0.80 + 0.05 - 0.03))
    # a 5 cm box is held at most half its height below its top (its centre)
    box = _track("medicine_box", (3.3, 2.38, 0.775))
    assert grasp_point(box, 0.05, config) == pytest.approx((3.3, 2.38, 0.775))
    bedside = room.surface("bedside_table")
    # the box's bottom 5 mm above the 0.55 m top: TCP at 0.55 + 0.005 + 0.05 - 0.025
    assert release_point((3.5, 0.3), bedside, 0.05, config) == pytest.approx(
        (3.5, 0.3, 0.58))
    assert on_surface(box, room.surface("table"), 0.05, config)
    assert not on_surface(box, bedside, 0.05, config)


def test_find_object_picks_the_nearest_or_the_longest_tracked():
    a = _track("cup", (1.0, 1.0, 0.8), age=9.0, track_id=1)
    b = _track("cup", (3.0, 2.5, 0.8), age=2.0, track_id=2)
    c = _track("remote", (3.0, 2.5, 0.8), track_id=3)
    assert find_object([a, b, c], "cup").id == 1
    assert find_object([a, b, c], "cup", near=(3.1, 2.4)).id == 2
    assert find_object([c], "cup") is None


def test_class_sizes_come_from_perceptions_class_file(tmp_path):
    sizes = class_sizes(str(CONFIG / "perception" / "home_classes.yaml"))
    assert sizes == {"cup": (0.06, 0.06, 0.10), "medicine_box": (0.10, 0.06, 0.05),
                     "remote": (0.17, 0.05, 0.025)}
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  cup: {size: [0.07, 0.07]}\n")
    with pytest.raises(HomePlanError, match="classes.cup.size"):
        class_sizes(str(bad))
    with pytest.raises(HomePlanError, match="cannot read file"):
        class_sizes(str(tmp_path / "missing.yaml"))


def test_a_held_object_is_checked_as_its_box_along_the_tools_axes():
    """Grasped from above across its narrow side, a box lies along the tool's x whichever
    way it lies on the table."""
    assert held_extents((0.06, 0.10, 0.05)) == pytest.approx((0.10, 0.06, 0.05))
    assert held_extents((0.10, 0.06, 0.05)) == pytest.approx((0.10, 0.06, 0.05))


@pytest.mark.parametrize("base_to_torso, in_front", [
    (1.35, 0.50),          # the planned stand: half a metre in front of the torso
    (1.55, 1.55 - 0.2 - 0.68),  # the base stopped farther: as far as the arm reaches
    (0.95, 0.50),          # a nearer person: still half a metre in front, not nearer
])
def test_the_offer_is_held_where_the_persons_hand_reaches_it(base_to_torso: float,
                                                              in_front: float) -> None:
    handover = HandoverConfig()
    torso = np.array([2.0, 3.0, 1.27])           # standing
    yaw = math.radians(30.0)
    stand = (torso[0] - base_to_torso * math.cos(yaw), torso[1] - base_to_torso * math.sin(yaw),
             yaw)
    offer = offer_point(stand, torso, handover)
    assert math.dist(offer[:2], torso[:2]) == pytest.approx(in_front, abs=1e-6)
    assert math.dist(offer[:2], arm_base_xy(stand)) <= handover.offer_reach_max_m + 1e-9
    # on the line from the arm's base to the torso, at the capped height
    to_torso = np.subtract(torso[:2], arm_base_xy(stand))
    to_offer = np.subtract(offer[:2], arm_base_xy(stand))
    assert abs(to_torso[0] * to_offer[1] - to_torso[1] * to_offer[0]) < 1e-9
    assert offer[2] == pytest.approx(handover.offer_max_height_m)
