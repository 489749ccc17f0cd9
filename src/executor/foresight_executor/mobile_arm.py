"""The arm on the mobile base, without rclpy: where the arm's base is in the map for a base
pose, and what the arm must not touch there (the room's furniture as boxes, and the robot's
own shell, column, mast and camera), so the cell's SkillRunner plans and runs the same skills
(pick, place, move_to_pose, go_home) while the base stands still.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from foresight_common.mobile_manipulator import ARM_MOUNT_XYZ, body_boxes
from foresight_common.robot_model import RobotKinematics
from foresight_common.room_layout import Furniture, furniture_parts
from foresight_executor.collision import Box, CollisionChecker
from foresight_executor.skills import SkillRunner, SkillSettings

BODY_PREFIX = "robot/"  # the robot's own boxes: robot/base_column, ...
#: A carried object keeps this far (m) from the robot's own column, shell and mast, 3 times
#: the arm's padding: where it sits in the hand is known to a centimetre or two (the grasp
#: from a perceived pose), and the column is round where its stand-in box is square. At
#: the arm's 1 cm the medicine box, unfolding from the stow, brushed the column and turned
#: 24-50 degrees in the fingers (home_smoke seed 0, its set-down then lying on its side).
HELD_BODY_CLEARANCE_M = 0.03


def arm_base_in_map(base_pose: Sequence[float]) -> tuple[np.ndarray, float]:
    """Position (m) and yaw (rad) of `panda_link0` in the map for base_link at
    `base_pose` (x, y, yaw)."""
    x, y, yaw = (float(v) for v in base_pose)
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([x + c * ARM_MOUNT_XYZ[0] - s * ARM_MOUNT_XYZ[1],
                     y + s * ARM_MOUNT_XYZ[0] + c * ARM_MOUNT_XYZ[1], ARM_MOUNT_XYZ[2]]), yaw


def furniture_boxes(furniture: Iterable[Furniture]) -> list[Box]:
    """Every piece of furniture as the boxes it is made of (a table's top and legs, a
    shelf's boards and panels: the arm may reach into a shelf), in the map."""
    out = []
    for f in furniture:
        c, s = math.cos(f.yaw), math.sin(f.yaw)
        for part, (x, y, z), half in furniture_parts(f):
            out.append(Box(f"{f.name}/{part}", (f.center[0] + c * x - s * y,
                                                f.center[1] + s * x + c * y, z), half, f.yaw))
    return out


def robot_boxes(base_pose: Sequence[float]) -> list[Box]:
    """The robot's own shell, column, mast and camera in the map at `base_pose`."""
    x, y, yaw = (float(v) for v in base_pose)
    c, s = math.cos(yaw), math.sin(yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return [Box(f"{BODY_PREFIX}{name}", tuple(rotation @ centre + np.array([x, y, 0.0])),
                tuple(half), yaw) for name, centre, half in body_boxes()]


def mobile_skill_runner(furniture: Iterable[Furniture], base_pose: Sequence[float],
                        settings: SkillSettings,
                        kinematics: RobotKinematics | None = None) -> SkillRunner:
    """A SkillRunner for the arm with the base standing at `base_pose` in the map."""
    boxes = furniture_boxes(furniture) + robot_boxes(base_pose)
    position, yaw = arm_base_in_map(base_pose)
    checker = CollisionChecker(boxes, base_pos=position, base_yaw=yaw,
                               held_clearance=HELD_BODY_CLEARANCE_M, body_prefix=BODY_PREFIX)
    return SkillRunner(kinematics or RobotKinematics(), checker, settings, position, yaw,
                       tuple(b.name for b in boxes))
