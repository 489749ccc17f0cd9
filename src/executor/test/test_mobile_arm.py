"""Where the arm's base is for a base pose, and the boxes the arm plans around on the mobile
robot (hand-computed cases); the tucked arm is free of them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foresight_common.mobile_manipulator import TUCKED_POSITIONS
from foresight_common.room_layout import load_room_layout
from foresight_executor.collision import CollisionChecker
from foresight_executor.mobile_arm import (
    HELD_BODY_CLEARANCE_M,
    arm_base_in_map,
    furniture_boxes,
    kept_clear,
    mobile_skill_runner,
    robot_boxes,
    set_down_at,
)
from foresight_executor.skills import (
    SkillRequest,
    SkillSettings,
    SkillStopped,
    hand_turned_nearest,
)

ROOM = Path(__file__).resolve().parents[3] / "config" / "rooms" / "home_room.yaml"


def test_the_arm_base_rides_0_2_m_ahead_of_the_base_and_0_7_m_up():
    position, yaw = arm_base_in_map((1.0, 2.0, math.pi / 2))
    assert position == pytest.approx([1.0, 2.2, 0.7]) and yaw == pytest.approx(math.pi / 2)


def test_furniture_is_its_parts_and_the_robot_turns_with_its_base():
    """The table's 3 cm top at 0.75 m and its legs; the shelf open to the front (the arm may
    reach in between its boards)."""
    layout = load_room_layout(ROOM)
    boxes = {b.name: b for b in furniture_boxes(layout.furniture)}
    assert boxes["table/top"].center == pytest.approx((3.0, 2.6, 0.735))
    assert boxes["table/top"].half_size == pytest.approx((0.6, 0.4, 0.015))
    assert {"table/leg0", "shelf/board1", "shelf/back", "bed/mattress"} <= set(boxes)
    # the shelf (0.40 deep, its back against the west wall) has its board 1 top at 0.90 m
    board = boxes["shelf/board1"]
    assert board.center[2] + board.half_size[2] == pytest.approx(0.90)
    assert board.center[0] - board.half_size[0] == pytest.approx(0.02 + 0.02)
    boxes = {b.name: b for b in robot_boxes((1.0, 2.0, math.pi / 2))}
    assert set(boxes) == {"robot/base_shell", "robot/base_column", "robot/camera_mast",
                          "robot/camera"}
    # the mast stands 0.12 m behind the base's centre: facing +y, that is y - 0.12
    assert boxes["robot/camera_mast"].center[:2] == pytest.approx((1.0, 1.88))
    assert boxes["robot/base_shell"].yaw == pytest.approx(math.pi / 2)


def test_the_tucked_arm_is_free_of_the_robots_own_body():
    runner = mobile_skill_runner(load_room_layout(ROOM).furniture, (1.3, 2.4, 0.0),
                                 SkillSettings())
    assert runner.checker.check_configuration(np.array(TUCKED_POSITIONS)) == []


def test_the_stow_turns_the_hand_the_short_way_and_stays_free_of_the_body():
    """A round cup grasped with the hand at +2.44 rad: the stow ends with the hand half a
    turn from the tucked pose's -2.69 (0.45 rad, 2 rad away instead of 5.1), a pose just as
    free of the robot's body; from near -2.69 it stays as it is."""
    runner = mobile_skill_runner(load_room_layout(ROOM).furniture, (1.3, 2.4, 0.0),
                                 SkillSettings())
    lower, upper = runner.kin.limits.lower, runner.kin.limits.upper
    tucked = np.array(TUCKED_POSITIONS)
    after_pick = np.array([0.26, 0.12, -0.2, -2.18, 0.03, 2.29, 2.44])
    turned = hand_turned_nearest(tucked, after_pick, lower, upper)
    assert turned[6] == pytest.approx(-2.69 + math.pi) and np.all(turned[:6] == tucked[:6])
    assert runner.checker.check_configuration(turned) == []
    assert hand_turned_nearest(tucked, tucked, lower, upper)[6] == pytest.approx(-2.69)
    # a half turn beyond the joint's range is no choice: 0.3 + pi > 2.9 rad, nearest 2.8
    target = np.array([*tucked[:6], 0.3])
    assert hand_turned_nearest(target, np.array([*tucked[:6], 2.8]), lower, upper)[6] == \
        pytest.approx(0.3)


def test_a_carried_box_keeps_clear_of_the_robots_column_and_rides_higher():
    """The medicine box (10 x 6 x 5 cm, held 2.5 cm below its top) as the executor checks
    it: its whole box below the TCP. In the stow it hangs 2 cm from the base's column:
    clear at the arm's 1 cm padding, not at the 3 cm a carried object keeps from the
    robot's own body, so the stow raises the hand 2 cm, where it is clear; from the
    hand's other turn (near its joint's limit) to the same pose."""
    runner = mobile_skill_runner(load_room_layout(ROOM).furniture, (1.3, 2.4, 0.0),
                                 SkillSettings(grasp_depth=0.03))
    held = runner._held(SkillRequest("stow", object_height=0.05,
                                     object_size=(0.10, 0.06, 0.05)))
    assert held.half_size == pytest.approx((0.05, 0.03, 0.025))
    assert held.pos == pytest.approx((0.0, 0.0, 0.0))          # grasped at half height
    lower, upper = runner.kin.limits.lower, runner.kin.limits.upper
    tucked = np.array(TUCKED_POSITIONS)
    turned = hand_turned_nearest(tucked, np.array([*tucked[:6], 0.5]), lower, upper)
    near = runner.checker.check_configuration(turned, 0.03, attached=held)
    assert [(c.robot_link, c.obstacle) for c in near] == \
        [("attached_object", "robot/base_column")]
    assert 0.01 < near[0].distance < HELD_BODY_CLEARANCE_M
    plain = CollisionChecker(runner.checker.boxes, base_pos=runner.checker.base_pos,
                             base_yaw=runner.checker.base_yaw)
    assert plain.check_configuration(turned, 0.03, attached=held) == []
    for start in (turned, tucked):
        q, lift = runner._carry_pose(start, held, 0.03, may_turn=True)
        assert lift == pytest.approx(0.02)
        assert runner.checker.check_configuration(q, 0.03, attached=held) == []
        assert np.max(np.abs(q - turned)) < 0.5
    # a leaned tool is not turned: from the tucked hand no nearby raised pose is found
    q, lift = runner._carry_pose(tucked, held, 0.03, may_turn=False)
    assert lift == 0.0 and np.all(q == tucked)


class _StandingArm:
    """The IO of an arm that stands at `q` and executes whatever it is sent."""

    def __init__(self, q: np.ndarray, width: float) -> None:
        self.q, self.width, self.executed = q, width, []

    def arm_positions(self) -> np.ndarray:
        return self.q

    def gripper_width(self) -> float:
        return self.width

    def expected_duration(self, plan) -> float:
        return plan.duration

    def execute(self, plan, **_kwargs) -> bool:
        self.executed.append(plan)
        self.q = plan.positions[-1]
        return True


def test_a_stow_from_an_offer_stopped_halfway_turns_the_hand_the_other_way():
    """The arm stopped halfway to a hand-over (the supervisor held it), the cup in its hand
    (joint states of home_train cup seed 7, stop 26): the tool leans, so the stow keeps the
    tucked pose's hand turn, 3.7 rad from where it is, and every way there sweeps the cup
    through the base's column; half a turn the other way is free, and the stow takes it."""
    settings = SkillSettings(grasp_depth=0.03, stow_positions=tuple(TUCKED_POSITIONS))
    runner = mobile_skill_runner(load_room_layout(ROOM).furniture, (1.75, 3.27, 0.26),
                                 settings)
    q = np.array([1.937, 1.239, -0.351, -1.731, 0.184, 0.736, 0.986])
    first, *others = runner._stow_turns(q)
    assert first[6] == pytest.approx(TUCKED_POSITIONS[6])
    assert [o[6] for o in others] == pytest.approx([TUCKED_POSITIONS[6] + math.pi])
    request = SkillRequest("stow", speed_scale=0.5, object_height=0.10,
                           object_size=(0.06, 0.06, 0.10))
    held = runner._held(request)
    with pytest.raises(SkillStopped, match="attached_object would hit robot/base_column"):
        runner._stow_at(first, held, False, 0.5, _StandingArm(q, 0.058))
    arm = _StandingArm(q, 0.058)
    assert runner._stow(request, arm).startswith("stowed")
    assert arm.q[6] == pytest.approx(TUCKED_POSITIONS[6] + math.pi, abs=0.5)   # raised: IK
    assert runner.checker.check_configuration(arm.q, 0.029, attached=held) == []


def test_an_object_set_down_is_kept_clear_of_by_the_next_fold_at_that_stand():
    """The remote (17 x 5 x 2.5 cm) let go of tool down, turned 30 degrees: its box in the
    map, 1 cm larger all round; a stow or go_home from the same stand plans round it (the
    base's estimate moved 2 cm: the box moves with the base, which has not driven), a pick
    does not, nor a fold after the base drove off."""
    runner = mobile_skill_runner(load_room_layout(ROOM).furniture, (2.2, 2.6, 0.0),
                                 SkillSettings(grasp_depth=0.0125))
    held = runner._held(SkillRequest("place", object_height=0.025,
                                     object_size=(0.17, 0.05, 0.025)))
    yaw = math.radians(30.0)
    target = np.array([2.75, 2.6, 0.775])
    quat = np.array([0.0, math.cos(yaw / 2), math.sin(yaw / 2), 0.0])   # tool down, turned
    q = runner.ik.solve_reachable(*runner.to_base(target, quat)).q
    box = runner.held_box_in_world(held, q)
    tcp, _ = runner.tcp_world(q)
    assert box.center == pytest.approx(tcp + np.array([0.0, 0.0, -held.pos[2]]), abs=1e-4)
    assert box.half_size == pytest.approx((0.095, 0.035, 0.0225))
    assert math.remainder(box.yaw - yaw, math.pi) == pytest.approx(0.0, abs=1e-3)
    record = set_down_at(box, (2.2, 2.6, 0.0))
    jittered = (2.22, 2.6, 0.0)
    (kept,) = kept_clear(record, jittered, "stow")
    assert kept.center == pytest.approx((box.center[0] + 0.02, *box.center[1:]))
    assert kept.half_size == box.half_size and kept.yaw == pytest.approx(box.yaw)
    assert kept_clear(record, jittered, "go_home")
    assert kept_clear(record, jittered, "pick") == []
    assert kept_clear(record, (2.5, 2.6, 0.0), "stow") == []           # drove off
    assert kept_clear(record, (2.2, 2.6, 0.2), "stow") == []           # turned away
    assert kept_clear(None, jittered, "stow") == []
    # the fingers where they let go are inside it: the fold's checker sees it
    fold = mobile_skill_runner(load_room_layout(ROOM).furniture, jittered,
                               SkillSettings(), keep_clear=[kept])
    hits = {c.obstacle for c in fold.checker.check_configuration(q, 0.04)}
    assert "set_down" in hits
