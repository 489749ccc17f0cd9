"""The robot self filter against hand-computed cases: capsule distances, and the arm in its
ready pose cut out of a virtual scan while the wall behind it stays."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from foresight_common.depth_scan import ScanConfig, _scan, virtual_scan
from foresight_common.robot_model import ARM_JOINTS, HOME_POSITIONS
from foresight_common.self_filter import ArmSelfFilter, outside_capsules


def test_outside_capsules_measures_to_the_segment_not_its_line():
    starts, ends = np.array([[0.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])
    points = np.array([[0.5, 0.09, 0.0],     # 9 cm from the middle: inside
                       [0.5, 0.11, 0.0],     # 11 cm: outside
                       [1.08, 0.0, 0.0],     # 8 cm past the end: inside (round cap)
                       [1.5, 0.0, 0.0],      # on the line, 0.5 m past the end: outside
                       [-0.06, 0.06, 0.0]])  # 8.5 cm from the start: inside
    assert outside_capsules(points, starts, ends, 0.10).tolist() == [
        False, True, False, True, False]
    assert outside_capsules(points, starts[:0], ends[:0], 0.10).all()


def _joint_state(q) -> SimpleNamespace:
    return SimpleNamespace(name=list(ARM_JOINTS), position=list(q))


def test_joint_states_without_the_arm_are_refused():
    arm = ArmSelfFilter()
    assert arm.capsules() is None
    assert "panda_joint1" in arm.on_joint_states(SimpleNamespace(name=["x"], position=[0.0]))
    bad = list(HOME_POSITIONS)
    bad[2] = math.nan
    assert arm.on_joint_states(_joint_state(bad)) == "joint positions not finite"
    assert arm.capsules() is None


def test_the_arm_in_front_of_the_camera_is_cut_out_and_the_wall_kept():
    arm = ArmSelfFilter()
    assert arm.on_joint_states(_joint_state(HOME_POSITIONS)) is None
    starts, ends, radius = arm.capsules()
    # in the ready pose the hand hangs ~0.48 m ahead of base_link, ~1.1 m up
    assert ends[-2] == pytest.approx((0.48, 0.0, 1.11), abs=0.03)
    # a depth camera at base_link (0, 0, 1.45) looking along +x (optical z = base x):
    # the hand's pixels at the hand's distance, a wall behind them at 2.0 m
    camera = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0],
                       [0.0, -1.0, 0.0, 1.45], [0.0, 0.0, 0.0, 1.0]])
    intrinsics = (100.0, 100.0, 160.0, 120.0)             # fx, fy, cx, cy
    depth = np.full((240, 320), 2.0)
    hand = ends[-2]                                        # its pixels: the hand's depth
    u = int(round(160 + 100.0 * -hand[1] / hand[0]))
    v = int(round(120 + 100.0 * (1.45 - hand[2]) / hand[0]))
    depth[v - 3:v + 4, u - 3:u + 4] = hand[0]
    points, share = _scan(depth, intrinsics, camera, ScanConfig(stride=1),
                          (starts, ends, radius))
    assert 0.0 < share < 0.1
    assert np.all(np.hypot(points[:, 0], points[:, 1]) > 1.9)       # only the wall
    unfiltered = virtual_scan(depth, intrinsics, camera, ScanConfig(stride=1))
    assert np.min(np.hypot(unfiltered[:, 0], unfiltered[:, 1])) < 0.6   # the hand, seen

