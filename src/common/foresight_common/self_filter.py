"""The robot's own arm as capsules in base_link, to cut it out of the head camera's depth
(a robot self filter): while the arm works in front of the camera, its links and what it
holds would otherwise look like a wall a hand's width ahead to localisation (measured: the
localised pose wandered up to 16 cm from the truth during a pick and a place) and like an
obstacle to navigation. No rclpy.
"""

from __future__ import annotations

import threading

import numpy as np

from foresight_common.mobile_manipulator import ARM_MOUNT_XYZ
from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS, RobotKinematics

#: Bodies along the arm whose origins, joined in order, are the capsules' axes.
ARM_CHAIN = ("panda_link1", "panda_link2", "panda_link3", "panda_link4", "panda_link5",
             "panda_link6", "panda_link7", "panda_hand", "panda_leftfinger_tip")
#: Capsule radius (m): the Panda's links are up to 0.09 m from their axes; the rest covers
#: a joint state up to 0.1 s older than the depth image at the arm's 0.4 m/s.
CAPSULE_RADIUS = 0.13
#: Below the finger tips, what the gripper may hold (m; the home-care objects are <= 0.10 m).
HELD_REACH = 0.12


def outside_capsules(points: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                     radius: float) -> np.ndarray:
    """Mask of the (n, 3) `points` farther than `radius` from every segment start-end."""
    if len(points) == 0 or len(starts) == 0:
        return np.ones(len(points), dtype=bool)
    axis = ends - starts                                             # (k, 3)
    length2 = np.maximum(np.einsum("ij,ij->i", axis, axis), 1e-12)
    rel = points[:, None, :] - starts[None, :, :]                    # (n, k, 3)
    t = np.clip(np.einsum("nkj,kj->nk", rel, axis) / length2, 0.0, 1.0)
    nearest = starts[None, :, :] + t[..., None] * axis[None, :, :]
    distance2 = np.sum((points[:, None, :] - nearest) ** 2, axis=2)
    return np.all(distance2 > radius * radius, axis=1)


class ArmSelfFilter:
    """The latest joint state turned into capsules (base_link) on demand. Thread-safe."""

    def __init__(self, kinematics: RobotKinematics | None = None,
                 radius: float = CAPSULE_RADIUS) -> None:
        self.kin = kinematics or RobotKinematics()
        self.radius = radius
        self._lock = threading.Lock()
        self._q: np.ndarray | None = None
        self._fingers = 0.0

    def on_joint_states(self, msg) -> str | None:
        """Keep the arm's positions from a sensor_msgs/JointState; the reason when it lacks
        them (else None)."""
        index = {name: i for i, name in enumerate(msg.name)}
        missing = [j for j in ARM_JOINTS if j not in index]
        if missing or len(msg.position) < len(msg.name):
            return f"joint state without {', '.join(missing) or 'positions'}"
        q = np.array([msg.position[index[j]] for j in ARM_JOINTS], dtype=float)
        if not np.all(np.isfinite(q)):
            return "joint positions not finite"
        fingers = [msg.position[index[j]] for j in FINGER_JOINTS if j in index]
        with self._lock:
            self._q = q
            self._fingers = float(np.mean(np.abs(fingers))) if fingers else 0.0
        return None

    def tcp_in_base(self) -> np.ndarray | None:
        """The TCP's position in base_link (m), None before a joint state: where a held
        object is, for a planner that offers it to someone."""
        with self._lock:
            q = self._q
        if q is None:
            return None
        position, _rotation = self.kin.tcp_pose(q)
        return np.asarray(position, dtype=float) + np.asarray(ARM_MOUNT_XYZ)

    def capsules(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(starts, ends, radius) of the arm's capsules in base_link (depth_scan's `arm`),
        None before a joint state."""
        with self._lock:
            q, fingers = self._q, self._fingers
        if q is None:
            return None
        poses = self.kin.body_poses(q, fingers=fingers)
        chain = [poses[name][0] for name in ARM_CHAIN if name in poses]
        hand = poses.get("panda_hand")
        if hand is not None and chain:
            w, x, y, z = hand[1]
            tool_z = np.array([2 * (x * z + w * y), 2 * (y * z - w * x),
                               1 - 2 * (x * x + y * y)])
            chain.append(chain[-1] + HELD_REACH * tool_z)          # what the fingers hold
        points = np.array(chain) + np.asarray(ARM_MOUNT_XYZ)
        return points[:-1], points[1:], self.radius
