"""The home-care robot: the Panda arm and gripper of `robot_model` on robosuite's Omron
omnidirectional base (both from the pinned `robosuite` wheel's model files, never
downloaded), with a head RGB-D camera on a mast.

Frames follow REP 105: `base_link` is the centre of the base's footprint on the floor, x
forward; the arm's `panda_link0` is mounted on the base's column at `ARM_MOUNT_XYZ`; the
camera's `camera_link` at `CAMERA_MOUNT_XYZ`, pitched down by `CAMERA_PITCH`. The
simulation moves the base through three planar joints (`base_x`, `base_y` in the world,
`base_yaw` about the footprint centre), the way a holonomic base driver would; whoever
simulates the robot adds the actuators. Nothing here reads a scene: the executor and the
TF publisher use the same numbers.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from foresight_common.cell_layout import ScannerSpec
from foresight_common.robot_model import BASE_BODY, build_robot_spec, robosuite_assets

BASE_LINK = "base_link"
BASE_JOINTS: tuple[str, ...] = ("base_x", "base_y", "base_yaw")
#: panda_link0 in base_link (m): on robosuite's column (0.70 m above the floor with the lift
#: at its lowest; the lift is not used), 0.20 m ahead of the footprint centre.
ARM_MOUNT_XYZ: tuple[float, float, float] = (0.20, 0.0, 0.70)
#: Footprint of the base (m, x by y), centred on base_link: robosuite's collision box.
BASE_FOOTPRINT: tuple[float, float] = (0.70, 0.50)
BASE_HEIGHT = 0.38
#: Radius (m) of the circle navigation keeps clear (the planner's goals must have it): the
#: footprint reaches 0.43 m from its centre at the corners; 4 cm more for localisation
#: error (measured: a base turning on the spot 0.45 m from a wall touched it).
ROBOT_RADIUS = 0.47
#: camera_link in base_link (m) and its downward pitch (rad): a head camera on a mast
#: behind the arm, high enough to see table tops and shelves over the tucked arm.
CAMERA_MOUNT_XYZ: tuple[float, float, float] = (-0.12, 0.0, 1.45)
CAMERA_PITCH = math.radians(30.0)
CAMERA_FOVY_DEG = 58.0
CAMERA_NAME = "head_camera"
#: The arm folded over the base while driving: every link's origin over the footprint (its
#: geometry reaches 0.32 m sideways, within the 0.43 m circle of the base's corners), the
#: hand at 0.76 m over the column; of the head camera's image it covers the bottom-centre
#: 7 % (the shoulder; a search over 12000 collision-free poses found none below that).
TUCKED_POSITIONS: tuple[float, ...] = (2.46, 1.53, -0.15, -1.81, 0.02, 0.4, -2.69)
#: The base's safety laser scanners as the one merged 360 degree scan a base driver
#: publishes (two 270 degree scanners at opposite corners, as on most service robots), in
#: base_link: 0.25 m above the floor, where a person's shins and a chair's legs are, 1 degree
#: per ray, 4 m. It sees what the head camera cannot: beside and behind the base.
BASE_SCANNER = ScannerSpec(position=(0.0, 0.0, 0.25), yaw=0.0, fov=math.radians(359.0),
                           rays=360, range_max=4.0, rate_hz=15.0)
#: Range noise (m, one sigma) of the simulated base scanner (a safety scanner's datasheet
#: states +-2 to 3 cm as its measurement tolerance).
BASE_SCANNER_NOISE_M = 0.01
#: Base speed limits (m/s, rad/s) and acceleration limits (m/s^2, rad/s^2) the base driver
#: enforces; a home robot moves at walking pace or below.
BASE_MAX_LINEAR = 0.5
BASE_MAX_ANGULAR = 1.0
BASE_MAX_LINEAR_ACCEL = 0.5
BASE_MAX_ANGULAR_ACCEL = 1.5
#: The omron base's "base" body sits this far ahead of the footprint centre (its wheeled
#: body and collision box are 0.20 m behind that body's origin).
_OMRON_OFFSET_X = 0.20


def build_mobile_manipulator_spec() -> mujoco.MjSpec:
    """Base + arm + gripper + head camera as one MjSpec rooted at `base_link`, which carries
    the three planar joints. No actuators, no floor."""
    omron = mujoco.MjSpec.from_file(
        str(robosuite_assets() / "bases" / "omron_mobile_base.xml"))
    for actuator in list(omron.actuators):
        omron.delete(actuator)
    for joint in list(omron.joints):
        omron.delete(joint)
    spec = mujoco.MjSpec()
    spec.modelname = "mobile_manipulator"
    base = spec.worldbody.add_body(name=BASE_LINK)
    base.add_joint(name=BASE_JOINTS[0], type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[1, 0, 0])
    base.add_joint(name=BASE_JOINTS[1], type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 1, 0])
    base.add_joint(name=BASE_JOINTS[2], type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1])
    # a heavy, low body: the omron's own geoms are light visual meshes and a box
    base.add_geom(name="base_ballast", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.3, 0.2, 0.05],
                  pos=[0, 0, 0.06], mass=60.0, contype=0, conaffinity=0, group=3)
    spec.attach(omron, site=base.add_site(name="omron_mount", pos=[_OMRON_OFFSET_X, 0, 0]),
                prefix="omron/")
    arm = build_robot_spec()
    spec.attach(arm, site=base.add_site(name="arm_mount", pos=list(ARM_MOUNT_XYZ)),
                prefix="")
    mast_height = CAMERA_MOUNT_XYZ[2] - BASE_HEIGHT
    base.add_geom(name="camera_mast", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                  size=[0.025, mast_height / 2.0, 0],
                  pos=[CAMERA_MOUNT_XYZ[0], 0, BASE_HEIGHT + mast_height / 2.0 - 0.05],
                  rgba=[0.2, 0.2, 0.22, 1.0], group=1)
    head = base.add_body(name="camera_link", pos=list(CAMERA_MOUNT_XYZ),
                         quat=list(_pitch_quat(CAMERA_PITCH)))
    head.add_geom(name="camera_housing", type=mujoco.mjtGeom.mjGEOM_BOX,
                  size=[0.02, 0.06, 0.015], pos=[-0.02, 0, 0], rgba=[0.1, 0.1, 0.1, 1.0],
                  contype=0, conaffinity=0, group=1)
    # MuJoCo cameras look along -z with y up: turn camera_link's x-forward/z-up onto that
    head.add_camera(name=CAMERA_NAME, fovy=CAMERA_FOVY_DEG,
                    quat=list(_matrix_to_quat(np.array([[0.0, 0.0, -1.0],
                                                        [-1.0, 0.0, 0.0],
                                                        [0.0, 1.0, 0.0]]))))
    return spec


def _pitch_quat(pitch: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of a rotation about +y by `pitch` (positive: looks down)."""
    return np.array([math.cos(pitch / 2.0), 0.0, math.sin(pitch / 2.0), 0.0])


def _matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot, dtype=float).reshape(9))
    return quat


def arm_mount_in_base() -> tuple[np.ndarray, np.ndarray]:
    """(position, quat wxyz) of panda_link0 in base_link."""
    return np.array(ARM_MOUNT_XYZ), np.array([1.0, 0.0, 0.0, 0.0])


def camera_mount_in_base() -> tuple[np.ndarray, np.ndarray]:
    """(position, quat wxyz) of camera_link (x forward, z up) in base_link."""
    return np.array(CAMERA_MOUNT_XYZ), _pitch_quat(CAMERA_PITCH)


def base_visual_geoms(model: mujoco.MjModel, data: mujoco.MjData) -> list[int]:
    """The visible geoms (robosuite's visual group 1) of everything on the base that is not
    the arm: base, column, mast and camera, for a robot description. `data` must hold the
    model at its zero pose (base_link at the origin)."""
    arm_root = model.body(BASE_BODY).id
    out = []
    for g in range(model.ngeom):
        body = int(model.geom_bodyid[g])
        below_arm = False
        while body != 0:
            if body == arm_root:
                below_arm = True
                break
            body = int(model.body_parentid[body])
        if not below_arm and model.geom_group[g] == 1 and model.geom_bodyid[g] != 0:
            out.append(g)
    return out



def body_boxes() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The base's own geometry (not the arm) as boxes in base_link, (name, centre, half
    extents), for the arm's collision checks on the mobile robot: the shell (the footprint,
    BASE_HEIGHT tall), the column the arm stands on (robosuite's omron support, its bounding
    circle), the camera mast and the camera. The shell's mesh bounding box reaches 0.52 m and
    would put the tucked arm in collision; the shell itself is 0.38 m tall."""
    mast_top = CAMERA_MOUNT_XYZ[2]
    return [
        ("base_shell", np.array([0.0, 0.0, BASE_HEIGHT / 2.0]),
         np.array([BASE_FOOTPRINT[0] / 2.0, BASE_FOOTPRINT[1] / 2.0, BASE_HEIGHT / 2.0])),
        # robosuite's support is round, 0.112 m in radius: a box of 0.105 plus the checker's
        # 1 cm padding covers it, and leaves the tucked hand (1.5 cm off) free
        ("base_column", np.array([0.15, 0.0, 0.5]), np.array([0.105, 0.105, 0.2])),
        ("camera_mast", np.array([CAMERA_MOUNT_XYZ[0], 0.0, (BASE_HEIGHT + mast_top) / 2.0]),
         np.array([0.025, 0.025, (mast_top - BASE_HEIGHT) / 2.0])),
        ("camera", np.array([CAMERA_MOUNT_XYZ[0] - 0.02, 0.0, mast_top]),
         np.array([0.03, 0.06, 0.03])),
    ]
