"""The supervisor's view of a plan: every sample of one plan placed on one base pose (a
localisation update between two samples must not read as the arm jumping)."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np

from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_executor.executor_node import ExecutorNode
from foresight_executor.safety import SafetyLevel, SpeedSeparationMonitor, SsmConfig
from foresight_executor.trajectory import point_to_point

TUCK = np.array([2.46, 1.53, -0.15, -1.81, 0.02, 0.4, -2.69])


def _node_whose_base_pose_moves_on_each_look():
    """What speed_profile uses of the node; the arm's base 5 cm further along at every
    look (a localisation correction arriving meanwhile)."""
    shifts = itertools.count()
    node = SimpleNamespace(
        runner=SimpleNamespace(kin=RobotKinematics()),
        state=SimpleNamespace(gripper_width=lambda: 0.08),
        ssm=SpeedSeparationMonitor(SsmConfig()),
        _verdict=SimpleNamespace(level=SafetyLevel.OK),
        _now=lambda: 0.0,
        _person_points=lambda: ({}, {}, 0.0, 0.0, {}),
        _collaborative_cap=lambda _separations: math.inf,
        safety_speed_limit=lambda: math.inf,
        _arm_base=lambda: (np.array([0.05 * next(shifts), 0.0, 0.7]), np.eye(3)))
    node.robot_points = lambda q, *base: ExecutorNode.robot_points(node, q, *base)
    return node


def test_a_plan_is_judged_on_one_base_pose():
    kin = RobotKinematics()
    plan = point_to_point(np.array(HOME_POSITIONS), TUCK, kin.limits, speed_scale=0.5)
    speeds, caps, _binding = ExecutorNode.speed_profile(
        _node_whose_base_pose_moves_on_each_look(), plan)
    # the arm's own fastest point: well under 2 m/s (5 cm per 20 ms sample read 2.5 m/s)
    assert float(np.max(speeds)) < 2.0
    assert np.all(np.isinf(caps))
