"""The robot model shared by the simulation, the executor (IK, collision checks) and the TF
publisher (forward kinematics): a Franka Panda arm with its parallel gripper, taken from the
pinned `robosuite` wheel's model files (loaded from its installed path, never downloaded).

Names follow the usual ROS conventions for the Panda (`panda_link0..7`, `panda_joint1..7`,
`panda_hand`, `panda_finger_joint1/2`) and a `tcp` site between the finger pads. The spec has
no actuators: whoever simulates the robot adds the ones its controllers need.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

ARM_JOINTS: tuple[str, ...] = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS: tuple[str, ...] = ("panda_finger_joint1", "panda_finger_joint2")
BASE_BODY = "panda_link0"
HAND_BODY = "panda_hand"
TCP_SITE = "tcp"
WRIST_FT_SITE = "wrist_ft"
MAX_GRIPPER_WIDTH = 0.08  # m, both fingers fully open
#: The ready pose: arm raised over its base, gripper down, clear of the overhead camera's view
#: of the tray and the fixture (at the former, lower home the forearm hid three holes).
HOME_POSITIONS: tuple[float, ...] = (0.0, -0.9, 0.0, -2.6, 0.0, 1.7, 0.785)

# Conservative joint velocity/acceleration limits (rad/s, rad/s^2), below the Panda datasheet
# (2.175/2.61 rad/s, 15/7.5/10/12.5/15/20/20 rad/s^2) so the trajectories stay smooth.
ARM_VELOCITY_LIMITS: tuple[float, ...] = (1.5, 1.5, 1.5, 1.5, 2.0, 2.0, 2.0)
ARM_ACCELERATION_LIMITS: tuple[float, ...] = (3.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0)


class RobotModelError(RuntimeError):
    """The robot model files are missing or do not look as expected."""


def robosuite_assets() -> Path:
    """Folder with robosuite's model files, found without importing robosuite itself
    (its package import pulls heavy optional dependencies we do not install)."""
    spec = importlib.util.find_spec("robosuite")
    if spec is None or not spec.submodule_search_locations:
        raise RobotModelError(
            "robosuite is not installed: its robot model files are needed "
            "(./foresight installs it from requirements-nodeps.lock)")
    assets = Path(list(spec.submodule_search_locations)[0]) / "models" / "assets"
    if not (assets / "robots" / "panda" / "robot.xml").exists():
        raise RobotModelError(f"Panda model files not found under {assets}")
    return assets


_BODY_NAMES = {
    "right_hand": "panda_link8",
    "gripper/right_gripper": HAND_BODY,
    "gripper/eef": "panda_hand_tcp",
    "gripper/leftfinger": "panda_leftfinger",
    "gripper/rightfinger": "panda_rightfinger",
    "gripper/finger_joint1_tip": "panda_leftfinger_tip",
    "gripper/finger_joint2_tip": "panda_rightfinger_tip",
}


def _rename(spec: mujoco.MjSpec) -> None:
    """ROS-style names (valid TF frame ids: no slashes)."""
    for body in spec.bodies:
        if body.name.startswith("link") and body.name[4:].isdigit():
            body.name = f"panda_{body.name}"
        elif body.name in _BODY_NAMES:
            body.name = _BODY_NAMES[body.name]
    for joint in spec.joints:
        if joint.name.startswith("joint") and joint.name[5:].isdigit():
            joint.name = f"panda_{joint.name}"
        elif joint.name.startswith("gripper/finger_joint"):
            joint.name = "panda_" + joint.name.removeprefix("gripper/")


def build_robot_spec() -> mujoco.MjSpec:
    """Panda + gripper as an MjSpec rooted at `panda_link0`, without actuators.

    The arm's root body is renamed so the spec can be attached to any frame of a scene.
    """
    assets = robosuite_assets()
    arm = mujoco.MjSpec.from_file(str(assets / "robots" / "panda" / "robot.xml"))
    gripper = mujoco.MjSpec.from_file(str(assets / "grippers" / "panda_gripper.xml"))
    for spec in (arm, gripper):
        for actuator in list(spec.actuators):
            spec.delete(actuator)
        for sensor in list(spec.sensors):
            spec.delete(sensor)
        for camera in list(spec.cameras):
            spec.delete(camera)
    hand_mount = arm.body("right_hand")
    mount_site = hand_mount.add_site(name="gripper_mount")
    arm.attach(gripper, site=mount_site, prefix="gripper/")
    _rename(arm)
    hand = arm.body(HAND_BODY)
    hand.add_site(name=WRIST_FT_SITE, pos=[0, 0, 0], size=[0.005, 0, 0], group=4)
    eef = arm.body("panda_hand_tcp")
    eef.add_site(name=TCP_SITE, pos=[0, 0, 0], size=[0.005, 0, 0], group=4)
    return arm


@dataclass(frozen=True)
class JointLimits:
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray


class RobotKinematics:
    """Forward kinematics and Jacobians of the robot on its own MjModel (no scene).
    Thread-safe: one MjData behind a lock (the executor's supervisor and its skill thread
    share an instance)."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        self.model = model if model is not None else build_robot_spec().compile()
        self.data = mujoco.MjData(self.model)
        self._lock = threading.Lock()
        self.arm_qpos = np.array([self.model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.arm_dof = np.array([self.model.joint(j).dofadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([self.model.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.tcp_site = self.model.site(TCP_SITE).id
        ranges = np.array([self.model.joint(j).range for j in ARM_JOINTS])
        self.limits = JointLimits(lower=ranges[:, 0].copy(), upper=ranges[:, 1].copy(),
                                  velocity=np.array(ARM_VELOCITY_LIMITS),
                                  acceleration=np.array(ARM_ACCELERATION_LIMITS))

    def set_arm(self, q: np.ndarray, finger: float | None = None) -> None:
        """Pose the arm in `data` for a caller that reads `data` itself (single-threaded
        use; the methods below hold the lock)."""
        self.data.qpos[self.arm_qpos] = q
        if finger is not None:
            self.data.qpos[self.finger_qpos] = (finger, -finger)
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def tcp_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (m) and rotation matrix in the `panda_link0` frame."""
        with self._lock:
            self.set_arm(q)
            return (self.data.site_xpos[self.tcp_site].copy(),
                    self.data.site_xmat[self.tcp_site].reshape(3, 3).copy())

    def body_poses(self, q: np.ndarray, fingers: float = 0.0) -> dict[str, tuple]:
        """World (= panda_link0) pose of every named body: name -> (pos, quat wxyz)."""
        with self._lock:
            self.set_arm(q, fingers)
            return {self.model.body(body_id).name: (self.data.xpos[body_id].copy(),
                                                    self.data.xquat[body_id].copy())
                    for body_id in range(1, self.model.nbody)}
