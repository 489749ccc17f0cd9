import math

import numpy as np
import pytest

from foresight_common.conversions import quat_wxyz_to_matrix
from foresight_planner.assembly_plan import (
    PlanningError,
    load_skill_library,
    parse_work_order,
    plan_assembly,
    tool_down_quat,
    understood,
    wrap_half_turn,
)


def test_tool_down_quat_points_down_with_fingers_along_world_y_at_yaw_zero():
    rotation = quat_wxyz_to_matrix(np.array(tool_down_quat(0.0)))
    np.testing.assert_allclose(rotation[:, 2], [0, 0, -1], atol=1e-12)  # tool z down
    np.testing.assert_allclose(rotation[:, 0], [0, 1, 0], atol=1e-12)  # fingers close on y
    rotated = quat_wxyz_to_matrix(np.array(tool_down_quat(math.pi / 2)))
    np.testing.assert_allclose(rotated[:, 0], [-1, 0, 0], atol=1e-12)
    assert wrap_half_turn(math.pi) == pytest.approx(0.0)
    assert wrap_half_turn(0.75 * math.pi) == pytest.approx(-0.25 * math.pi)


def test_each_part_goes_to_a_free_hole_of_its_type(layout, library):
    order = parse_work_order(["slot_0:peg_round", "slot_1:peg_round", "slot_2:peg_slot"],
                             layout)
    items = plan_assembly(layout, order, library)
    assert [i.place_id for i in items] == ["hole_round_0", "hole_round_1", "hole_slot_0"]
    pick, insert = items[0].steps
    part = layout.part_types["peg_round"]
    grasp_depth = library.parameter("pick", "grasp_depth_m")
    slot = layout.slot("slot_0")
    hole = layout.hole("hole_round_0")
    assert pick.position[2] == pytest.approx(slot.position[2] + part.height - grasp_depth)
    assert insert.position[2] == pytest.approx(hole.bottom_z + part.height - grasp_depth)
    assert insert.position[:2] == pytest.approx(hole.position[:2])
    assert pick.gripper_width > part.grasp_width
    # the slot peg (narrow along its x) is grasped with the fingers closing along x
    slot_pick = items[2].steps[0]
    fingers = quat_wxyz_to_matrix(np.array(slot_pick.quat_wxyz))[:, 0]
    assert abs(fingers[0]) == pytest.approx(1.0, abs=1e-9)


def test_bad_orders_and_tasks_are_refused_with_reasons(layout, library):
    with pytest.raises(PlanningError, match="unknown slot 'slot_9'"):
        parse_work_order(["slot_9:peg_round"], layout)
    with pytest.raises(PlanningError, match="unknown part type"):
        parse_work_order(["slot_0:peg_star"], layout)
    too_many = parse_work_order(["slot_0:peg_slot", "slot_1:peg_slot", "slot_2:peg_slot"],
                                layout)
    with pytest.raises(PlanningError, match="no free 'hole_slot' hole"):
        plan_assembly(layout, too_many, library)
    assert understood("Assemble   ALL") and not understood("make coffee")


def test_skill_library_is_validated(tmp_path):
    path = tmp_path / "skills.yaml"
    path.write_text("skills:\n  pick: {parameters: {}, effcts: []}\n")
    with pytest.raises(PlanningError, match="'skills.pick.effcts' is not a known key"):
        load_skill_library(path)
    path.write_text("skills: [pick]\n")
    with pytest.raises(PlanningError, match="'skills'"):
        load_skill_library(path)
    with pytest.raises(PlanningError, match="cannot be read"):
        load_skill_library(tmp_path / "missing.yaml")
