"""Link transforms of the robot model for TF: which links move with which joints, and each
link's pose relative to its parent link for given joint positions. No rclpy here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np

from foresight_common.robot_model import (
    ARM_JOINTS,
    BASE_BODY,
    FINGER_JOINTS,
    RobotKinematics,
)


class KinematicTree:
    """The robot's links below `panda_link0` as a TF tree."""

    def __init__(self, kinematics: RobotKinematics | None = None) -> None:
        self.kin = kinematics or RobotKinematics()
        model = self.kin.model
        self.root = BASE_BODY
        root_id = model.body(BASE_BODY).id
        self.links: list[tuple[str, str, int]] = []  # (parent, child, body id)
        for body_id in range(model.nbody):
            parent_id = int(model.body_parentid[body_id])
            if body_id == root_id or not self._below(body_id, root_id):
                continue
            self.links.append((model.body(parent_id).name, model.body(body_id).name, body_id))
        moving = set()
        for parent, child, body_id in self.links:
            if model.body_jntnum[body_id] > 0 or model.body(parent).name in moving:
                moving.add(child)
        self.moving_links = [link for link in self.links if link[1] in moving]
        self.fixed_links = [link for link in self.links if link[1] not in moving]
        self.joint_names = ARM_JOINTS + FINGER_JOINTS

    def _below(self, body_id: int, root_id: int) -> bool:
        while body_id != 0:
            if body_id == root_id:
                return True
            body_id = int(self.kin.model.body_parentid[body_id])
        return False

    def positions_from(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
        """Arm + finger positions in model order from a JointState; ValueError if unusable."""
        if len(names) != len(positions):
            raise ValueError(f"{len(names)} joint names but {len(positions)} positions")
        lookup = dict(zip(names, positions, strict=True))
        missing = [n for n in self.joint_names if n not in lookup]
        if missing:
            raise ValueError("joint_states lacks " + ", ".join(missing))
        values = np.array([lookup[n] for n in self.joint_names], dtype=float)
        if not np.all(np.isfinite(values)):
            raise ValueError("joint_states contains NaN or infinity")
        return values

    def _relative(self, links: list[tuple[str, str, int]]) -> list[tuple]:
        data = self.kin.data
        result = []
        for parent, child, body_id in links:
            parent_id = self.kin.model.body(parent).id
            rot_parent = data.xmat[parent_id].reshape(3, 3)
            pos = rot_parent.T @ (data.xpos[body_id] - data.xpos[parent_id])
            quat = np.zeros(4)
            inverse_parent = np.zeros(4)
            mujoco.mju_negQuat(inverse_parent, data.xquat[parent_id])
            mujoco.mju_mulQuat(quat, inverse_parent, data.xquat[body_id])
            result.append((parent, child, pos, quat))
        return result

    def zero_transforms(self) -> list[tuple]:
        """(parent, child, position, quat wxyz) of every link at zero joint positions (a
        URDF's joint origins)."""
        self.kin.set_arm(np.zeros(len(ARM_JOINTS)), 0.0)
        return self._relative(self.links)

    def fixed_transforms(self) -> list[tuple]:
        """(parent, child, position, quat wxyz) of links that never move relative to parent."""
        self.kin.set_arm(np.zeros(len(ARM_JOINTS)), 0.0)
        return self._relative(self.fixed_links)

    def moving_transforms(self, positions: np.ndarray) -> list[tuple]:
        """(parent, child, position, quat wxyz) of the joint-driven links."""
        arm = positions[:len(ARM_JOINTS)]
        finger = positions[len(ARM_JOINTS)] if len(positions) > len(ARM_JOINTS) else 0.0
        if not math.isfinite(finger):
            finger = 0.0
        self.kin.set_arm(arm, finger)
        return self._relative(self.moving_links)
