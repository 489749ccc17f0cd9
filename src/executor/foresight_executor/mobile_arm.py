"""The arm on the mobile base, without rclpy: where the arm's base is in the map for a base
pose, and what the arm must not touch there (the room's furniture as boxes, and the robot's
own shell, column, mast and camera), so the cell's SkillRunner plans and runs the same skills
(pick, place, move_to_pose, go_home) while the base stands still.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
#: Skills that plan round the object the last place set down (kept_clear) ...
FOLDS_ROUND_SET_DOWN = ("stow", "go_home")
#: ... while the base stands within this of where it stood then (m, rad): the pose
#: estimate of a standing base moves by a centimetre or two, a drive by far more.
STILL_AT_SET_DOWN_M = 0.10
STILL_AT_SET_DOWN_RAD = math.radians(5.0)


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
                        kinematics: RobotKinematics | None = None,
                        keep_clear: Sequence[Box] = ()) -> SkillRunner:
    """A SkillRunner for the arm with the base standing at `base_pose` in the map, planning
    round `keep_clear` too (an object it just set down)."""
    boxes = furniture_boxes(furniture) + robot_boxes(base_pose) + list(keep_clear)
    position, yaw = arm_base_in_map(base_pose)
    checker = CollisionChecker(boxes, base_pos=position, base_yaw=yaw,
                               held_clearance=HELD_BODY_CLEARANCE_M, body_prefix=BODY_PREFIX)
    return SkillRunner(kinematics or RobotKinematics(), checker, settings, position, yaw,
                       tuple(b.name for b in boxes))


@dataclass(frozen=True)
class SetDown:
    """An object the arm let go of, as a box in the frame of the base that stood at
    `base_pose` (map) then: it stays where it is relative to a base that has not driven,
    whatever the localisation says meanwhile."""

    box: Box
    base_pose: tuple[float, float, float]


def set_down_at(box: Box, base_pose: Sequence[float]) -> SetDown:
    """`box` (map) as a SetDown of the base at `base_pose`."""
    x, y, yaw = (float(v) for v in base_pose)
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = box.center[0] - x, box.center[1] - y
    local = Box(box.name, (c * dx + s * dy, -s * dx + c * dy, box.center[2]), box.half_size,
                box.yaw - yaw)
    return SetDown(local, (x, y, yaw))


def kept_clear(set_down: SetDown | None, base_pose: Sequence[float], skill: str) -> list[Box]:
    """The set-down object's box in the map for the base now at `base_pose`, for a skill
    that folds or unfolds the arm (FOLDS_ROUND_SET_DOWN) while the base has not driven off
    (STILL_AT_SET_DOWN_M, _RAD); none else (a pick may go for that very object). After
    the remote's set-down the fold swept it off its feet: the stack said placed, the
    remote lay on its side (home_train remote seed 8, stop 26)."""
    if set_down is None or skill not in FOLDS_ROUND_SET_DOWN:
        return []
    x, y, yaw = (float(v) for v in base_pose)
    then = set_down.base_pose
    if math.dist((x, y), then[:2]) > STILL_AT_SET_DOWN_M or \
            abs(math.remainder(yaw - then[2], 2.0 * math.pi)) > STILL_AT_SET_DOWN_RAD:
        return []
    c, s = math.cos(yaw), math.sin(yaw)
    lx, ly, z = set_down.box.center
    return [Box(set_down.box.name, (x + c * lx - s * ly, y + s * lx + c * ly, z),
                set_down.box.half_size, set_down.box.yaw + yaw)]
