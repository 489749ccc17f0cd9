"""Planning-scene collision checks: boxes on links, clear poses, paths through boxes, padding,
allowed contacts, carried objects, self-collision and the base pose."""

import math
import time
from collections import namedtuple

import numpy as np
import pytest

from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_executor.collision import AttachedBox, Box, CollisionChecker

HOME = np.array(HOME_POSITIONS)
BASE = np.array([0.0, 0.0, 0.75])
BENCH = Box("bench", (0.3, 0.0, 0.725), (0.6, 0.6, 0.025))  # top at z = 0.75, under the base


@pytest.fixture(scope="module")
def kin() -> RobotKinematics:
    return RobotKinematics()


@pytest.fixture(scope="module")
def tcp_world(kin: RobotKinematics) -> np.ndarray:
    return kin.tcp_pose(HOME)[0] + BASE


def _checker(*boxes: Box, **kwargs) -> CollisionChecker:
    return CollisionChecker([BENCH, *boxes], base_pos=BASE, **kwargs)


def test_clear_pose_is_clean() -> None:
    checker = _checker()
    assert checker.check_configuration(HOME) == []
    assert checker.check_path([HOME, HOME + 0.3]) == []


def test_box_on_a_link_is_detected(kin: RobotKinematics) -> None:
    link5 = kin.body_poses(HOME)["panda_link5"][0] + BASE
    checker = _checker(Box("column", tuple(link5), (0.03, 0.03, 0.03)))
    contacts = checker.check_configuration(HOME)
    assert ("panda_link5", "column") in {(c.robot_link, c.obstacle) for c in contacts}
    assert min(c.distance for c in contacts) < 0.0  # penetrating
    assert all(c.obstacle == "column" for c in contacts)  # bench and base are not reported


def test_path_through_a_box_is_detected_between_samples(tcp_world: np.ndarray) -> None:
    checker = _checker(Box("post", tuple(tcp_world), (0.02, 0.02, 0.02)))
    left, right = HOME.copy(), HOME.copy()
    left[0], right[0] = -0.8, 0.8  # joint 1 swings the TCP through the post
    assert checker.check_configuration(left) == []
    assert checker.check_configuration(right) == []
    hits = checker.check_path([left, right])
    assert len(hits) == 1
    assert hits[0].segment == 0 and 0.25 < hits[0].fraction < 0.75
    assert hits[0].contacts[0].obstacle == "post"
    everything = checker.check_path([left, right], first_only=False)
    assert len(everything) > 1 and all(h.contacts for h in everything)


def test_padding(tcp_world: np.ndarray) -> None:
    below = Box("plate", (tcp_world[0], tcp_world[1], tcp_world[2] - 0.04), (0.05, 0.05, 0.01))
    gap, link, obstacle = _checker(below, padding=0.0).clearance(HOME)
    assert obstacle == "plate" and 0.005 < gap < 0.05
    assert _checker(below, padding=gap - 0.003).check_configuration(HOME) == []
    contacts = _checker(below, padding=gap + 0.003).check_configuration(HOME)
    assert contacts and contacts[0].obstacle == "plate"
    assert contacts[0].robot_link == link
    assert contacts[0].distance == pytest.approx(gap, abs=1e-3)


def test_allowed_finger_contact(tcp_world: np.ndarray) -> None:
    tray = Box("tray", tuple(tcp_world), (0.01, 0.05, 0.01))  # between and under the pads
    contacts = _checker(tray).check_configuration(HOME)
    assert contacts and {c.robot_link for c in contacts} <= {"panda_leftfinger",
                                                           "panda_rightfinger"}
    assert _checker(tray).check_configuration(HOME, allow=[("fingers", "tray")]) == []
    assert _checker(tray, allowed=[("fingers", "tray")]).check_configuration(HOME) == []


def test_attached_object_must_not_hit_the_scene(tcp_world: np.ndarray) -> None:
    table = Box("table", (tcp_world[0], tcp_world[1], tcp_world[2] - 0.07), (0.1, 0.1, 0.02))
    checker = _checker(table)
    assert checker.check_configuration(HOME) == []  # the gripper alone is clear
    part = AttachedBox("part", half_size=(0.015, 0.015, 0.04), pos=(0.0, 0.0, 0.02))
    contacts = checker.check_configuration(HOME, attached=part)
    assert [(c.robot_link, c.obstacle) for c in contacts] == [("attached_object", "table")]
    # Held between the fingers: no contact with the hand that holds it.
    free_space = _checker()
    assert free_space.check_configuration(HOME, fingers=0.015, attached=part) == []


def test_self_collision_is_detected() -> None:
    folded = HOME.copy()
    folded[5] = -0.0175  # wrist folded back onto the forearm
    contacts = _checker().check_configuration(folded)
    assert any({c.robot_link, c.obstacle} == {"panda_link5", "panda_link7"} for c in contacts)


def test_base_pose_and_layout_objects(kin: RobotKinematics) -> None:
    base = np.array([1.0, 2.0, 0.75])
    checker = CollisionChecker([], base_pos=base, base_yaw=math.pi / 2)
    local = kin.tcp_pose(HOME)[0]
    expected = base + np.array([-local[1], local[0], local[2]])
    assert np.allclose(checker.tcp_position(HOME), expected, atol=1e-9)
    # Any object with name/center/half_size/yaw works (e.g. the cell layout's boxes).
    LayoutBox = namedtuple("LayoutBox", "name center half_size yaw")
    boxed = CollisionChecker([LayoutBox("probe", tuple(expected), (0.02, 0.02, 0.02), 0.3)],
                             base_pos=base, base_yaw=math.pi / 2)
    assert boxed.check_configuration(HOME, fingers=0.0)  # closed fingers reach into it
    assert boxed.check_configuration(HOME, fingers=0.04) == []  # open ones straddle it


def test_bad_scenes_are_rejected() -> None:
    with pytest.raises(ValueError):
        CollisionChecker([Box("a", (0, 0, 0), (1, 1, 1)), Box("a", (1, 0, 0), (1, 1, 1))])
    with pytest.raises(ValueError):
        CollisionChecker([Box("flat", (0, 0, 0), (1, 1, 0))])


def test_check_is_fast(kin: RobotKinematics) -> None:
    checker = _checker(Box("wall", (0.0, -0.7, 1.2), (1.0, 0.02, 0.5)))
    qs = np.random.default_rng(0).uniform(kin.limits.lower, kin.limits.upper, (500, 7))
    start = time.perf_counter()
    for q in qs:
        checker.check_configuration(q)
    per_check_ms = (time.perf_counter() - start) / len(qs) * 1e3
    assert per_check_ms < 1.0  # ~0.02-0.05 ms measured
