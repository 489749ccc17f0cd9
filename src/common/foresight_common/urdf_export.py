"""A URDF of the robot model for RViz's RobotModel display (`/robot_description`), generated
from the same MuJoCo model the simulation, the executor and the TF publisher use, so what
RViz draws is what they compute with.

Links are the model's bodies from `panda_link0` down (the frames the TF publisher sends);
joints carry the model's types, axes and limits, their origins the bodies' poses at zero
joint positions; visuals are the model's visual meshes (geoms that take part in no contact),
written as binary STL files of the meshes as MuJoCo compiled them, so each visual's origin
is exactly the geom's pose in its body. No rclpy here.
"""

from __future__ import annotations

import hashlib
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from foresight_common.kinematics_tree import KinematicTree
from foresight_common.mobile_manipulator import (
    ARM_MOUNT_XYZ,
    BASE_LINK,
    base_visual_geoms,
    build_mobile_manipulator_spec,
)
from foresight_common.robot_model import (
    ARM_JOINTS,
    ARM_VELOCITY_LIMITS,
    BASE_BODY,
    FINGER_JOINTS,
    RobotKinematics,
)

FINGER_VELOCITY_MPS = 0.2
EFFORT_LIMIT = 87.0  # N m: the Panda's larger joints (the URDF needs a number)

_STL_FACE = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)),
                      ("attribute", "<u2")])


def write_stl(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Binary STL of a triangle mesh (vertices (n, 3) m, faces (k, 3) indices)."""
    triangles = vertices[faces].astype(np.float32)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    records = np.zeros(len(faces), dtype=_STL_FACE)
    records["normal"] = normals / np.where(lengths > 0, lengths, 1.0)
    records["vertices"] = triangles
    with path.open("wb") as stream:
        stream.write(b"foresight robot mesh".ljust(80, b" "))
        stream.write(np.uint32(len(faces)).tobytes())
        stream.write(records.tobytes())


def read_stl(path: Path) -> np.ndarray:
    """Triangles (k, 3, 3) of a binary STL (for tests and tools)."""
    data = path.read_bytes()
    count = int(np.frombuffer(data[80:84], dtype="<u4")[0])
    return np.frombuffer(data[84:84 + count * _STL_FACE.itemsize],
                         dtype=_STL_FACE)["vertices"].astype(float)


def _origin(parent: ET.Element, position: np.ndarray, quat_wxyz: np.ndarray) -> None:
    w, x, y, z = quat_wxyz
    rpy = Rotation.from_quat([x, y, z, w]).as_euler("xyz")
    ET.SubElement(parent, "origin", xyz=" ".join(f"{v:.6g}" for v in position),
                  rpy=" ".join(f"{v:.6g}" for v in rpy))


def model_digest(model: mujoco.MjModel) -> str:
    """Short hash of the visual meshes: names the mesh folder, so a changed model never
    reuses stale files."""
    digest = hashlib.sha256()
    for array in (model.mesh_vert, model.mesh_face, model.geom_pos, model.geom_quat):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def _visual(link: ET.Element, model: mujoco.MjModel, geom: int, position: np.ndarray,
            quat: np.ndarray, mesh_dir: Path, stem: str) -> None:
    """One <visual> of `link`: a mesh geom as an STL file written to `mesh_dir` (file://
    URI), a box or cylinder as the URDF primitive; `position`/`quat` place it in the link."""
    visual = ET.SubElement(link, "visual")
    _origin(visual, position, quat)
    geometry = ET.SubElement(visual, "geometry")
    kind = model.geom_type[geom]
    size = model.geom_size[geom]
    if kind == mujoco.mjtGeom.mjGEOM_MESH:
        mesh = model.geom_dataid[geom]
        start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        first, faces = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
        path = mesh_dir / f"{stem}.stl"
        if not path.exists():
            write_stl(path, model.mesh_vert[start:start + count],
                      model.mesh_face[first:first + faces])
        ET.SubElement(geometry, "mesh", filename=path.resolve().as_uri())
    elif kind == mujoco.mjtGeom.mjGEOM_BOX:
        ET.SubElement(geometry, "box", size=" ".join(f"{2 * v:.6g}" for v in size))
    elif kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
        ET.SubElement(geometry, "cylinder", radius=f"{size[0]:.6g}", length=f"{2 * size[1]:.6g}")
    else:
        raise ValueError(f"geom {model.geom(geom).name!r}: type {int(kind)} has no URDF form here")
    material = ET.SubElement(visual, "material", name=stem)
    rgba = model.mat_rgba[model.geom_matid[geom]] if model.geom_matid[geom] >= 0 \
        else model.geom_rgba[geom]
    ET.SubElement(material, "color", rgba=" ".join(f"{v:.3g}" for v in rgba))


def _mobile_base(robot: ET.Element, mesh_dir: Path) -> None:
    """base_link with the visuals of the home robot's base, column, mast and camera, and the
    fixed joint that mounts panda_link0 on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Attaching a spec with an empty prefix")
        model = build_mobile_manipulator_spec().compile()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    link = ET.SubElement(robot, "link", name=BASE_LINK)
    for k, g in enumerate(base_visual_geoms(model, data)):
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, data.geom_xmat[g])
        _visual(link, model, g, data.geom_xpos[g], quat, mesh_dir, f"{BASE_LINK}_{k}")
    joint = ET.SubElement(robot, "joint", name=f"{BASE_BODY}_mount", type="fixed")
    _origin(joint, np.array(ARM_MOUNT_XYZ), np.array([1.0, 0.0, 0.0, 0.0]))
    ET.SubElement(joint, "parent", link=BASE_LINK)
    ET.SubElement(joint, "child", link=BASE_BODY)


def robot_urdf(mesh_dir: Path, kinematics: RobotKinematics | None = None,
               name: str = "panda", mobile_base: bool = False) -> str:
    """The URDF text; writes the visual meshes into `mesh_dir` (file:// URIs in the URDF).
    `mobile_base` adds the home robot's base as the root link (base_link)."""
    tree = KinematicTree(kinematics or RobotKinematics())
    model = tree.kin.model
    mesh_dir.mkdir(parents=True, exist_ok=True)
    origins = {child: (parent, position, quat)
               for parent, child, position, quat in tree.zero_transforms()}
    bodies = [model.body(BASE_BODY).id] + [body_id for _, _, body_id in tree.links]
    robot = ET.Element("robot", name=name)
    if mobile_base:
        _mobile_base(robot, mesh_dir)
    for body_id in bodies:
        body = model.body(body_id).name
        link = ET.SubElement(robot, "link", name=body)
        visuals = [g for g in np.flatnonzero(model.geom_bodyid == body_id)
                   if not (model.geom_contype[g] or model.geom_conaffinity[g])
                   and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH]
        for k, g in enumerate(visuals):
            _visual(link, model, g, model.geom_pos[g], model.geom_quat[g], mesh_dir,
                    f"{body}_{k}")
        if body not in origins:  # the root
            continue
        parent, position, quat = origins[body]
        joints = range(model.body_jntadr[body_id],
                       model.body_jntadr[body_id] + model.body_jntnum[body_id])
        joint_id = next(iter(joints), None)
        kind = "fixed"
        if joint_id is not None:
            kind = {int(mujoco.mjtJoint.mjJNT_HINGE): "revolute",
                    int(mujoco.mjtJoint.mjJNT_SLIDE): "prismatic"}.get(
                        int(model.jnt_type[joint_id]), "fixed")
        joint_name = model.jnt(joint_id).name if kind != "fixed" else f"{body}_fixed"
        joint = ET.SubElement(robot, "joint", name=joint_name, type=kind)
        _origin(joint, position, quat)
        ET.SubElement(joint, "parent", link=parent)
        ET.SubElement(joint, "child", link=body)
        if kind != "fixed":
            ET.SubElement(joint, "axis", xyz=" ".join(f"{v:.6g}"
                                                      for v in model.jnt_axis[joint_id]))
            lower, upper = model.jnt_range[joint_id]
            velocity = ARM_VELOCITY_LIMITS[ARM_JOINTS.index(joint_name)] \
                if joint_name in ARM_JOINTS else FINGER_VELOCITY_MPS
            ET.SubElement(joint, "limit", lower=f"{lower:.6g}", upper=f"{upper:.6g}",
                          effort=f"{EFFORT_LIMIT:g}", velocity=f"{velocity:g}")
            if joint_name == FINGER_JOINTS[1]:  # the fingers move as one (see set_arm)
                ET.SubElement(joint, "mimic", joint=FINGER_JOINTS[0], multiplier="-1")
    ET.indent(robot)
    return ET.tostring(robot, encoding="unicode")

