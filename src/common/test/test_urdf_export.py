"""The URDF for RViz matches the robot model: one link per body with the TF publisher's
frame names, joints with the model's types, axes and limits, and visual meshes that sit
where the model's visual geoms are."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlparse

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from foresight_common.kinematics_tree import KinematicTree
from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS, RobotKinematics
from foresight_common.urdf_export import read_stl, robot_urdf


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    kin = RobotKinematics()
    folder = tmp_path_factory.mktemp("meshes")
    return kin, ET.fromstring(robot_urdf(folder, kin)), folder


def _pose(element: ET.Element) -> tuple[np.ndarray, np.ndarray]:
    origin = element.find("origin")
    xyz = np.array([float(v) for v in origin.get("xyz").split()])
    rpy = [float(v) for v in origin.get("rpy").split()]
    return xyz, Rotation.from_euler("xyz", rpy).as_matrix()


def test_links_are_the_tf_frames_and_joints_the_models(exported):
    kin, robot, _ = exported
    tree = KinematicTree(kin)
    links = {link.get("name") for link in robot.findall("link")}
    assert links == {"panda_link0"} | {child for _, child, _ in tree.links}
    joints = {j.get("name"): j for j in robot.findall("joint")}
    for name in ARM_JOINTS:
        joint = joints[name]
        assert joint.get("type") == "revolute"
        jid = kin.model.joint(name).id
        limit = joint.find("limit")
        assert float(limit.get("lower")) == pytest.approx(kin.model.jnt_range[jid][0], abs=1e-5)
        assert float(limit.get("upper")) == pytest.approx(kin.model.jnt_range[jid][1], abs=1e-5)
    assert all(joints[name].get("type") == "prismatic" for name in FINGER_JOINTS)
    assert joints[FINGER_JOINTS[1]].find("mimic").get("joint") == FINGER_JOINTS[0]
    # every child has one parent and the tree is rooted at panda_link0
    children = [j.find("child").get("link") for j in joints.values()]
    assert len(children) == len(set(children)) == len(links) - 1


def test_joint_origins_chain_to_the_models_forward_kinematics(exported):
    """Composing the joint origins at zero positions gives each body's pose from the model."""
    kin, robot, _ = exported
    kin.set_arm(np.zeros(7), 0.0)
    poses = {"panda_link0": (np.zeros(3), np.eye(3))}
    joints = robot.findall("joint")
    while len(poses) < len(joints) + 1:
        for joint in joints:
            parent, child = joint.find("parent").get("link"), joint.find("child").get("link")
            if parent in poses and child not in poses:
                p, r = poses[parent]
                xyz, rot = _pose(joint)
                poses[child] = (p + r @ xyz, r @ rot)
    base = kin.model.body("panda_link0").id
    for name, (position, _) in poses.items():
        body = kin.model.body(name).id
        expected = kin.data.xmat[base].reshape(3, 3).T @ (kin.data.xpos[body] -
                                                          kin.data.xpos[base])
        np.testing.assert_allclose(position, expected, atol=1e-5, err_msg=name)


def test_visual_meshes_sit_where_the_models_visual_geoms_are(exported):
    kin, robot, folder = exported
    model = kin.model
    link = next(li for li in robot.findall("link") if li.get("name") == "panda_link4")
    visuals = link.findall("visual")
    geoms = [g for g in np.flatnonzero(model.geom_bodyid == model.body("panda_link4").id)
             if not (model.geom_contype[g] or model.geom_conaffinity[g])]
    assert len(visuals) == len(geoms) >= 1
    for visual, g in zip(visuals, geoms, strict=True):
        uri = visual.find("geometry/mesh").get("filename")
        path = unquote(urlparse(uri).path)
        assert uri.startswith("file://") and path.startswith(str(folder))
        triangles = read_stl(__import__("pathlib").Path(path))
        xyz, rot = _pose(visual)
        in_body = triangles.reshape(-1, 3) @ rot.T + xyz
        geom_rot = np.zeros(9)
        mujoco.mju_quat2Mat(geom_rot, model.geom_quat[g])
        mesh = model.geom_dataid[g]
        verts = model.mesh_vert[model.mesh_vertadr[mesh]:
                                model.mesh_vertadr[mesh] + model.mesh_vertnum[mesh]]
        expected = verts @ geom_rot.reshape(3, 3).T + model.geom_pos[g]
        # same point cloud: every STL corner is a model vertex placed in the body
        gaps = np.min(np.linalg.norm(in_body[:200, None] - expected[None], axis=2), axis=1)
        assert np.max(gaps) < 1e-4


def test_mobile_base_is_the_root_with_its_visuals_and_mounts_the_arm(tmp_path):
    """The home robot's description: base_link first, carrying the base's meshes, column,
    mast and camera where the MuJoCo model has them, and the fixed joint to panda_link0 at
    the arm's mount."""
    from foresight_common.mobile_manipulator import ARM_MOUNT_XYZ, CAMERA_MOUNT_XYZ

    robot = ET.fromstring(robot_urdf(tmp_path, mobile_base=True))
    links = robot.findall("link")
    assert links[0].get("name") == "base_link"
    visuals = links[0].findall("visual")
    kinds = {child.tag for v in visuals for child in v.find("geometry")}
    assert {"mesh", "cylinder", "box"} <= kinds
    # every base visual lies on the base: inside its footprint, below the camera's top
    for visual in visuals:
        xyz, _ = _pose(visual)
        assert abs(xyz[0]) < 0.45 and abs(xyz[1]) < 0.3 and -0.01 < xyz[2] < 1.5
    # the mast's top carries the camera housing at the camera mount
    housing = [_pose(v)[0] for v in visuals if v.find("geometry/box") is not None
               and v.find("geometry/box").get("size").startswith("0.04")]
    assert housing and np.linalg.norm(housing[0][[0, 2]] - np.array(
        [CAMERA_MOUNT_XYZ[0], CAMERA_MOUNT_XYZ[2]])) < 0.05
    mount = next(j for j in robot.findall("joint") if j.find("child").get("link") ==
                 "panda_link0")
    assert mount.get("type") == "fixed" and mount.find("parent").get("link") == "base_link"
    assert _pose(mount)[0] == pytest.approx(ARM_MOUNT_XYZ)
