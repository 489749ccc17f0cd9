"""The home-care room as one MuJoCo model (DESIGN section 6): walls, table, chair, shelf,
bed, bedside table and floor clutter from a sampled scene (`home_families`), the task
objects as free bodies, the mobile manipulator (`foresight_common.mobile_manipulator`) with
velocity servos on its planar base joints, torque motors on the arm, position servos on the
fingers and a wrist force/torque sensor, its head RGB-D camera, and the person: the capsule
figure with legs, made of mocap bodies (renders, never pushes), living the scene's schedule
and taking an object that is offered to them (`person.HandoverArm`).

What it offers the simulation node: the same queries as the industrial cell
(`scene.SceneQueries`) plus `base_pose()` / `base_velocity()` (ground truth of the mobile
base) and `object_status()`. No rclpy.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import mujoco
import numpy as np

from foresight_common.cell_layout import yaw_to_quat
from foresight_common.home_tasks import HANDOVER_TOUCH
from foresight_common.mobile_manipulator import (
    BASE_FOOTPRINT,
    BASE_JOINTS,
    BASE_LINK,
    CAMERA_NAME,
    TUCKED_POSITIONS,
    build_mobile_manipulator_spec,
)
from foresight_common.robot_model import (
    ARM_JOINTS,
    FINGER_JOINTS,
    MAX_GRIPPER_WIDTH,
    TCP_SITE,
)
from foresight_common.room_layout import Furniture, furniture_parts
from foresight_simulation.home_families import HomeSceneParams
from foresight_simulation.person import (
    PERSON_SEGMENTS,
    HandoverArm,
    PersonSchedule,
    SchedulePose,
    body_poses,
    clip_to_reach,
    shoulder_position,
)
from foresight_simulation.scene import (
    ARM_REACH,
    COWORKER_COLOURS,
    FOREARM,
    FOREARM_RADIUS,
    HAND_RADIUS,
    HEAD_RADIUS,
    LEG_RADIUS,
    PART_FRICTION,
    SHOULDER_HALF_WIDTH,
    SHOULDER_RADIUS,
    TORSO_LENGTH,
    TORSO_RADIUS,
    UPPER_ARM,
    UPPER_ARM_RADIUS,
    ObjectState,
    SceneQueries,
    add_arm_drives,
    configure_simulation,
)

#: Base velocity servos (N s/m, N m s/rad) and their force limits: a stiff drive that
#: follows commanded wheel speeds within ~0.1 s, as a base driver's wheel controllers do.
BASE_KV = (3000.0, 3000.0, 1500.0)
BASE_FORCE_LIMIT = (1500.0, 1500.0, 800.0)
#: The person's pose is computed this often (s, simulated); their bodies are mocap bodies
#: that push nothing, and 10 ms is 1 cm of a walk at 1 m/s.
PERSON_UPDATE_S = 0.01
# --- hand-over: how the simulated person behaves (fixed here, not the stack's settings) ----
#: The person reaches out when an object held by the robot is within an arm's length and a
#: lean of their shoulder (they cannot lean or get up for it here: reaching for one farther
#: only puts a hand in the robot's way) and has been held out to them: moving slower than
#: HANDOVER_STILL_MPS for HANDOVER_PRESENTED_S (a receiver starts reaching once the giver's
#: arm has come to rest where it offers; an object still on its way is not yet offered) ...
HANDOVER_OFFER_DIST = ARM_REACH + 0.2
HANDOVER_STILL_MPS = 0.05
HANDOVER_PRESENTED_S = 0.3
#: ... closes their hand on it when it is within this of their hand, and while the robot
#: still holds it pulls it towards their shoulder with HANDOVER_PULL_N (receivers pull with
#: a few newtons and the giver lets go when it feels that: Chan et al., "Grip forces and load
#: forces in handovers", IJRR 2013), which the robot's wrist sensor feels; once the fingers
#: have let go, the object is theirs ...
HANDOVER_TAKE_DIST = 0.10
HANDOVER_PULL_N = 6.0
#: ... and gives up when nothing is offered for this long.
HANDOVER_PATIENCE_S = 3.0
HANDOVER_KEEP_S = 1.0            # s holding the taken object out before pulling it in
#: --- the person and the robot in their way (fixed here, not the stack's settings) ---------
#: A walking person does not walk into the robot: a step that would bring any part of them
#: (a segment's centre and radius, in the plane) nearer than YIELD_GAP_M to the robot's
#: footprint, and nearer than they are, is not taken; they wait, as people wait for a robot
#: that stands in a corridor, at most YIELD_MAX_S at a time, then squeeze past (their
#: schedule slips by the wait). The judge reports the time they were held up; a robot that
#: stands in the way is not let off. (Walking into a standing robot, they made 21 of 26
#: contacts counted against the robot in 10 cup episodes, stop 26.)
YIELD_GAP_M = 0.05
YIELD_MAX_S = 10.0
YIELD_LOOK_M = 1.5              # beyond this (centre to centre) nobody is in the way yet
THIGH_RADIUS = LEG_RADIUS
SHIN_RADIUS = 0.055
THIGH_LENGTH = 0.45
SHIN_LENGTH = 0.45
#: A resting object: bottom within this of a surface (m), inside its outline.
REST_HEIGHT = 0.01


@dataclass
class Handover:
    """The person's side of a hand-over in progress."""
    arm: HandoverArm
    started: float
    last_offer: float
    taken: str = ""              # the object the person holds
    taken_at: float = 0.0
    returning: bool = False


class HomeRoom(SceneQueries):
    """One MuJoCo world of the home-care room. `model`/`data` are public: the simulation
    node steps them (`step_world()` then `mujoco.mj_step`)."""

    TASK_CATEGORY = "object"
    FRAME = "map"

    def __init__(self, params: HomeSceneParams) -> None:
        self.params = params
        self.layout = params.layout
        self.camera_name = CAMERA_NAME
        self.schedule = PersonSchedule(
            self.layout.person_places, params.person_start,
            [(v.place, v.dwell_s) for v in params.person_visits], params.walk_speed,
            self.layout.waypoints, self.layout.furniture)
        self._geom_category: dict[str, str] = {}
        spec = self._build_spec()
        self.spec = spec
        with warnings.catch_warnings():
            # the arm is attached without a name prefix on purpose (ROS link names)
            warnings.filterwarnings("ignore", message="Attaching a spec with an empty prefix")
            self.model: mujoco.MjModel = spec.compile()
        self.data = mujoco.MjData(self.model)
        self._index()
        self.reset()

    # --- building ----------------------------------------------------------------------------
    def _geom(self, body: mujoco.MjsBody, category: str, **kwargs: object) -> mujoco.MjsGeom:
        geom = body.add_geom(**kwargs)
        self._geom_category[geom.name] = category
        return geom

    def _build_spec(self) -> mujoco.MjSpec:
        p = self.params
        spec = build_mobile_manipulator_spec()
        configure_simulation(spec, "home_room", p.ambient)
        spec.stat.extent = 8.0
        spec.visual.map.zfar = 2.0           # x extent: 16 m far plane
        for site in spec.sites:
            site.group = 5
        for geom in spec.geoms:
            if geom.group == 0:              # robosuite's collision geoms: not rendered
                geom.group = 3
        add_arm_drives(spec)
        for name, kv, limit in zip(BASE_JOINTS, BASE_KV, BASE_FORCE_LIMIT, strict=True):
            act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            act.set_to_velocity(kv=kv)
            act.forcelimited = True
            act.forcerange = [-limit, limit]
        world = spec.worldbody
        lay = self.layout
        self._geom(world, "floor", name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE,
                   pos=[lay.size[0] / 2, lay.size[1] / 2, 0],
                   size=[lay.size[0] / 2 + 1, lay.size[1] / 2 + 1, 0.05],
                   rgba=list(lay.floor_colour))
        for light in p.lights:
            world.add_light(name=light.name, type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                            pos=[lay.size[0] / 2, lay.size[1] / 2, 3.0],
                            dir=list(light.direction), diffuse=list(light.diffuse),
                            specular=[0.1, 0.1, 0.1], castshadow=False)
        self._add_walls(world)
        for item in lay.furniture:
            self._add_furniture(world, item)
        for c in p.clutter:
            self._geom(world, "clutter", name=c.name, type=mujoco.mjtGeom.mjGEOM_BOX,
                       pos=list(c.center), quat=list(yaw_to_quat(c.yaw)),
                       size=list(c.half_size), rgba=list(c.colour))
        for obj in p.objects:
            body = world.add_body(name=obj.spec.name, pos=list(obj.position),
                                  quat=list(yaw_to_quat(obj.yaw)))
            body.add_freejoint(name=f"{obj.spec.name}/free")
            size = obj.spec.size
            if obj.spec.shape == "cylinder":
                shape = {"type": mujoco.mjtGeom.mjGEOM_CYLINDER,
                         "size": [size[0] / 2, size[2] / 2, 0]}
            else:
                shape = {"type": mujoco.mjtGeom.mjGEOM_BOX,
                         "size": [size[0] / 2, size[1] / 2, size[2] / 2]}
            self._geom(body, "object", name=obj.spec.name, rgba=list(obj.spec.colour),
                       mass=obj.spec.mass, friction=list(PART_FRICTION), condim=4, **shape)
        self._add_person(spec)
        return spec

    def _add_walls(self, world: mujoco.MjsBody) -> None:
        lay = self.layout
        (sx, sy), h, t = lay.size, lay.wall_height, lay.wall_thickness
        for name, pos, size in (
                ("wall_south", [sx / 2, -t / 2, h / 2], [sx / 2 + t, t / 2, h / 2]),
                ("wall_north", [sx / 2, sy + t / 2, h / 2], [sx / 2 + t, t / 2, h / 2]),
                ("wall_west", [-t / 2, sy / 2, h / 2], [t / 2, sy / 2, h / 2]),
                ("wall_east", [sx + t / 2, sy / 2, h / 2], [t / 2, sy / 2, h / 2])):
            self._geom(world, "wall", name=name, type=mujoco.mjtGeom.mjGEOM_BOX, pos=pos,
                       size=size, rgba=list(lay.wall_colour))

    def _add_furniture(self, world: mujoco.MjsBody, f: Furniture) -> None:
        """Boxes in the furniture's own frame: tables and chairs on legs, a shelf of panels
        and boards open at its +x face, a bed and a bedside table as blocks."""
        body = world.add_body(name=f"furniture/{f.name}", pos=[f.center[0], f.center[1], 0],
                              quat=list(yaw_to_quat(f.yaw)))
        colour = list(f.colour)
        boxes = furniture_parts(f)
        for part, pos, size in boxes:
            rgba = [0.92, 0.92, 0.95, 1.0] if part == "mattress" else colour
            self._geom(body, "furniture", name=f"{f.name}/{part}",
                       type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(pos), size=list(size),
                       rgba=rgba)

    def _add_person(self, spec: mujoco.MjSpec) -> None:
        """Capsule figure of mocap bodies (contype = conaffinity = 0: renders, measurable by
        mj_geomDistance, never collides), one weld per hand and object for hand-overs."""
        world = spec.worldbody
        skin, shirt, trousers = (COWORKER_COLOURS[k] for k in ("skin", "shirt", "trousers"))
        nocollide = {"contype": 0, "conaffinity": 0, "group": 2}
        capsule = mujoco.mjtGeom.mjGEOM_CAPSULE
        shapes = {
            "torso": (capsule, TORSO_RADIUS, TORSO_LENGTH - 0.1, shirt),
            "head": (mujoco.mjtGeom.mjGEOM_SPHERE, HEAD_RADIUS, 0.0, skin),
        }
        for side in ("left", "right"):
            shapes[f"{side}_upper_arm"] = (capsule, UPPER_ARM_RADIUS, UPPER_ARM, shirt)
            shapes[f"{side}_forearm"] = (capsule, FOREARM_RADIUS, FOREARM, skin)
            shapes[f"{side}_hand"] = (mujoco.mjtGeom.mjGEOM_SPHERE, HAND_RADIUS, 0.0, skin)
            shapes[f"{side}_thigh"] = (capsule, THIGH_RADIUS, THIGH_LENGTH, trousers)
            shapes[f"{side}_shin"] = (capsule, SHIN_RADIUS, SHIN_LENGTH - 0.05, trousers)
        # each segment's radius and length, for the yield to the robot (_gap_to_robot)
        self._segment_shape = {name: (radius, length)
                               for name, (_kind, radius, length, _rgba) in shapes.items()}
        for segment in PERSON_SEGMENTS:
            kind, radius, length, rgba = shapes[segment]
            body = world.add_body(name=f"person/{segment}", mocap=True)
            geom = {"type": kind, "size": [radius, 0, 0], "rgba": list(rgba)}
            if kind == capsule:
                geom["fromto"] = [0, 0, -length / 2, 0, 0, length / 2]
            self._geom(body, "person", name=f"person/{segment}", **geom, **nocollide)
            if segment == "torso":
                z = TORSO_LENGTH / 2 - 0.05
                self._geom(body, "person", name="person/shoulders", type=capsule,
                           size=[SHOULDER_RADIUS, 0, 0],
                           fromto=[0, -SHOULDER_HALF_WIDTH, z, 0, SHOULDER_HALF_WIDTH, z],
                           rgba=list(shirt), **nocollide)
            if segment.endswith("_hand"):
                body.add_site(name=f"person/{segment}", size=[0.01, 0, 0], group=4)
        for obj in self.params.objects:
            for side in ("left", "right"):
                spec.add_equality(name=f"handover/{obj.spec.name}/{side}",
                                  type=mujoco.mjtEq.mjEQ_WELD, objtype=mujoco.mjtObj.mjOBJ_BODY,
                                  name1=obj.spec.name, name2=f"person/{side}_hand",
                                  active=False)

    def _index(self) -> None:
        m = self.model
        self.object_names: tuple[str, ...] = tuple(o.spec.name for o in self.params.objects)
        self._objects = {o.spec.name: o for o in self.params.objects}
        self._object_body = {n: m.body(n).id for n in self.object_names}
        self._object_geom = {n: m.geom(n).id for n in self.object_names}
        self._geom_part = {gid: n for n, gid in self._object_geom.items()}
        self.arm_qpos = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([m.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.base_qpos = np.array([m.joint(j).qposadr[0] for j in BASE_JOINTS])
        self.base_dof = np.array([m.joint(j).dofadr[0] for j in BASE_JOINTS])
        base = m.body(BASE_LINK).id
        robot = {b for b in range(m.nbody) if self._is_descendant(b, base)}
        self._robot_bodies = tuple(sorted(robot))
        self._robot_geoms = np.array([g for g in range(m.ngeom) if m.geom_bodyid[g] in robot])
        self._robot_collision_geoms = np.array([
            g for g in self._robot_geoms if m.geom_contype[g] or m.geom_conaffinity[g]])
        category = np.full(m.ngeom, "", dtype=object)
        for g in range(m.ngeom):
            category[g] = self._geom_category.get(m.geom(g).name, "")
        category[self._robot_geoms] = "robot"
        self._category = category
        fingers = []
        for joint in FINGER_JOINTS:
            root = int(m.jnt_bodyid[m.joint(joint).id])
            bodies = {b for b in range(m.nbody) if self._is_descendant(b, root)}
            fingers.append({g for g in range(m.ngeom) if m.geom_bodyid[g] in bodies})
        self._left_finger_geoms, self._right_finger_geoms = fingers
        self._person_geoms = np.array([g for g in range(m.ngeom) if category[g] == "person"])
        self._person_geom_part = {int(g): m.body(m.geom_bodyid[g]).name
                                  for g in self._person_geoms}
        self._mocap = {s: m.body(f"person/{s}").mocapid[0] for s in PERSON_SEGMENTS}
        self._weld = {(n, side): m.equality(f"handover/{n}/{side}").id
                      for n in self.object_names for side in ("left", "right")}
        self._camera_id = m.camera(self.camera_name).id
        self._tcp_site = m.site(TCP_SITE).id

    # --- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0: the robot at its start pose with the arm tucked and the fingers
        open, objects in their places, the person at the first place of their day."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self.base_qpos] = self.layout.robot_start
        d.qpos[self.arm_qpos] = TUCKED_POSITIONS
        half = MAX_GRIPPER_WIDTH / 2.0
        d.qpos[self.finger_qpos] = (half, -half)
        d.ctrl[m.actuator(FINGER_JOINTS[0]).id] = half
        d.ctrl[m.actuator(FINGER_JOINTS[1]).id] = -half
        d.eq_active[:] = 0
        self.handover: Handover | None = None
        self._presented_since: float | None = None  # the held object in reach and still
        # why the person does (not) reach for a held object: (kind, text), for the log
        self.offer_note: tuple[str, str] = ("", "")
        self.handed_over: dict[str, str] = {}     # object -> hand holding it
        self._paused = 0.0                        # schedule time lost to hand-overs
        self._yielding_for = 0.0                  # s waited for the robot (this time)
        self._waiting = False                     # ... and waiting now
        self._last_time = 0.0
        self._pose = self.schedule.pose(0.0)
        self._previous_poses: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self._pose_dt = PERSON_UPDATE_S
        self._poses = self._set_person(0.0)
        mujoco.mj_forward(m, d)

    def step_world(self) -> None:
        """Everything time-dependent that is not physics; call before every mj_step: the
        person's pose and the hand-over, every PERSON_UPDATE_S (the figure's kinematics
        took half the physics loop's time when computed every 2 ms step)."""
        t = float(self.data.time)
        dt = t - self._last_time
        if dt < PERSON_UPDATE_S - 1e-9:
            return
        self._last_time = t
        self._pose_dt = dt
        if self.handover is not None:
            self._paused += dt
            self._advance_handover(t, dt)
        else:
            self._maybe_start_handover(t)
            if self._yields_to_robot(t, dt):
                self._paused += dt
        self._previous_poses = self._poses
        self._poses = self._set_person(t)

    def _schedule_time(self, t: float) -> float:
        return t - self._paused

    def _yields_to_robot(self, t: float, dt: float) -> bool:
        """Whether the walking person waits this step rather than walk into the robot
        (YIELD_GAP_M, YIELD_MAX_S); after YIELD_MAX_S they walk on (squeeze past), no longer
        waiting, until this walk ends."""
        self._waiting = self._blocked_by_robot(t, dt)
        return self._waiting

    def _blocked_by_robot(self, t: float, dt: float) -> bool:
        step = self.schedule.pose(self._schedule_time(t))
        if step.gait <= 0.0 or self._yielding_for >= YIELD_MAX_S:
            self._yielding_for = 0.0 if step.gait <= 0.0 else self._yielding_for
            return False
        if math.dist(step.xy, self.base_pose()[:2]) > YIELD_LOOK_M:
            self._yielding_for = 0.0
            return False
        ahead = self._gap_to_robot(body_poses(step))
        if ahead >= YIELD_GAP_M or ahead >= self._gap_to_robot(self._poses):
            self._yielding_for = 0.0
            return False
        self._yielding_for += dt
        return True

    def _gap_to_robot(self, poses: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
        """Smallest plan-view gap (m) between the person's segments (centre and radius) and
        the robot's footprint rectangle."""
        x, y, yaw = self.base_pose()
        c, s = math.cos(yaw), math.sin(yaw)
        half = np.array(BASE_FOOTPRINT) / 2.0
        gap = math.inf
        for segment, (pos, quat) in poses.items():
            radius, length = self._segment_shape.get(segment, (LEG_RADIUS, 0.0))
            axis = np.zeros(9)
            mujoco.mju_quat2Mat(axis, np.asarray(quat, dtype=float))
            along = axis.reshape(3, 3)[:, 2] * length / 2.0
            # its centre and both ends: a leg frozen mid-stride reaches 0.2 m past its
            # centre (the centres alone let a waiting person's foot stand in the base)
            for point in (pos, pos + along, pos - along):
                dx, dy = point[0] - x, point[1] - y
                local = np.abs(np.array([c * dx + s * dy, -s * dx + c * dy]))
                gap = min(gap, float(np.linalg.norm(np.maximum(local - half, 0.0))) - radius)
        return gap

    def person_yielding(self) -> bool:
        """The person stands waiting for the robot to get out of their way (not once they
        squeeze past after YIELD_MAX_S: counted so, the judge had them held up for 216 s of
        an episode, home_train cup seed 6 at 474414d; nor during a hand-over to them)."""
        return self._waiting and self.handover is None

    def _set_person(self, t: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        self._pose = self.schedule.pose(self._schedule_time(t))
        if self._waiting:     # (also through a hand-over to them that began meanwhile)
            # waiting, they stand (feet together, still): not frozen mid-stride, and
            # someone standing may be handed the object they wait beside
            self._pose = replace(self._pose, gait=0.0)
        arm = self.handover.arm if self.handover is not None else None
        poses = body_poses(self._pose, arm)
        d = self.data
        for segment, (pos, quat) in poses.items():
            mid = self._mocap[segment]
            d.mocap_pos[mid] = pos
            d.mocap_quat[mid] = quat
        return poses

    def held_object(self) -> str:
        """The object both fingers touch ("" when none)."""
        for name, (left, right) in self._finger_contacts().items():
            if left and right and name not in self.handed_over:
                return name
        return ""

    def _maybe_start_handover(self, t: float) -> None:
        pose = self._pose
        offered = self.held_object()
        if not offered:
            self._presented_since = None
            self.offer_note = ("", "")
            return
        if pose.gait > 0.0 or pose.sit not in (0.0, 1.0):
            self.offer_note = ("moving", "the person walks, sits down or stands up")
            return
        obj = self.data.xpos[self._object_body[offered]]
        hand = min(("left", "right"),
                   key=lambda h: float(np.linalg.norm(shoulder_position(pose, h) - obj)))
        gap = float(np.linalg.norm(shoulder_position(pose, hand) - obj))
        speed = self._object_speed(offered)
        if gap > HANDOVER_OFFER_DIST:
            self._presented_since = None
            self.offer_note = ("far", f"the {offered} is {gap:.2f} m from the shoulder "
                               f"(reach {HANDOVER_OFFER_DIST:.2f} m)")
            return
        if speed > HANDOVER_STILL_MPS:
            self._presented_since = None
            self.offer_note = ("moving_object", f"the {offered} moves at {speed:.2f} m/s "
                               f"(still below {HANDOVER_STILL_MPS} m/s)")
            return
        if self._presented_since is None:
            self._presented_since = t
        self.offer_note = ("presented", f"the {offered} is held out {gap:.2f} m from the "
                           f"shoulder, still")
        if t - self._presented_since < HANDOVER_PRESENTED_S:
            return
        self._presented_since = None
        self.offer_note = ("reaching", f"the person reaches for the {offered}")
        start = self._poses[f"{hand}_hand"][0]
        self.handover = Handover(HandoverArm(hand, start, self.params.handover_reach_speed),
                                 started=t, last_offer=t)

    def _object_speed(self, name: str) -> float:
        """Linear speed (m/s) of an object's free joint."""
        body = self._object_body[name]
        dof = int(self.model.jnt_dofadr[self.model.body_jntadr[body]])
        return float(np.linalg.norm(self.data.qvel[dof:dof + 3]))

    def _pull(self, name: str, towards: np.ndarray) -> None:
        """The person's hand on the held object pulls it along `towards` (horizontally)."""
        direction = np.array([towards[0], towards[1], 0.0])
        norm = float(np.linalg.norm(direction))
        if norm < 1e-6:
            return
        self.data.xfrc_applied[self._object_body[name], :3] = \
            HANDOVER_PULL_N * direction / norm
        self.offer_note = ("pulling", f"the person's hand is on the {name}, pulling")

    def _advance_handover(self, t: float, dt: float) -> None:
        h = self.handover
        for body in self._object_body.values():   # a pull lasts while the hand is on it
            self.data.xfrc_applied[body, :3] = 0.0
        pose = self._pose
        shoulder = shoulder_position(pose, h.arm.hand)
        held = self.held_object()
        # an object carried off beyond their reach is no longer offered: they lower their
        # hand after HANDOVER_PATIENCE_S (one reached for in passing was reached for as long
        # as the robot held it, 3 m away and 100 s later: the outstretched hand then stood
        # in the way of the robot's real offer, home_train cup seeds 6 and 7, stop 26)
        obj = self.data.xpos[self._object_body[held]] if held else None
        offered = held if obj is not None and \
            np.linalg.norm(obj - shoulder) <= HANDOVER_OFFER_DIST else ""
        rest = self._rest_hand(pose, h.arm.hand)
        if h.taken:
            h.returning = t - h.taken_at >= HANDOVER_KEEP_S
            target = rest if h.returning else h.arm.position
        elif offered:
            h.last_offer = t
            target = clip_to_reach(shoulder, obj)
            if np.linalg.norm(obj - h.arm.position) <= HANDOVER_TAKE_DIST:
                self._pull(offered, shoulder - obj)
        else:
            h.returning = t - h.last_offer > HANDOVER_PATIENCE_S
            target = rest if h.returning else h.arm.position
        if not h.taken:
            self._maybe_take(h, t, held)
        h.arm.step(target, dt)
        if h.returning and np.linalg.norm(h.arm.position - rest) < 0.02:
            self.handover = None

    def _maybe_take(self, h: Handover, t: float, held: str) -> None:
        """The person closes their hand on an object near it that the fingers let go of
        (`held`: the one the fingers hold now)."""
        for name in self.object_names:
            if name in self.handed_over or name == held:
                continue
            pos = self.data.xpos[self._object_body[name]]
            if np.linalg.norm(pos - h.arm.position) > HANDOVER_TAKE_DIST:
                continue
            weld = self._weld[(name, h.arm.hand)]
            hand_body = self.model.body(f"person/{h.arm.hand}_hand").id
            # keep the object where it is: the weld's relpose is the hand's pose in the
            # object's frame (body2 relative to body1)
            obj_body = self._object_body[name]
            rel_pos = self.data.xmat[obj_body].reshape(3, 3).T @ (
                self.data.xpos[hand_body] - pos)
            inverse, rel_quat = np.zeros(4), np.zeros(4)
            mujoco.mju_negQuat(inverse, self.data.xquat[obj_body])
            mujoco.mju_mulQuat(rel_quat, inverse, self.data.xquat[hand_body])
            self.model.eq_data[weld, 0:3] = 0.0      # anchor at the hand's origin
            self.model.eq_data[weld, 3:6] = rel_pos
            self.model.eq_data[weld, 6:10] = rel_quat
            self.data.eq_active[weld] = 1
            self.handed_over[name] = h.arm.hand
            h.taken, h.taken_at = name, t
            return

    @staticmethod
    def _rest_hand(pose: SchedulePose, hand: str) -> np.ndarray:
        return body_poses(pose)[f"{hand}_hand"][0]

    # --- ground truth --------------------------------------------------------------------------
    def base_pose(self) -> tuple[float, float, float]:
        """True (x, y, yaw) of base_link in the map frame."""
        q = self.data.qpos[self.base_qpos]
        return float(q[0]), float(q[1]), float(math.atan2(math.sin(q[2]), math.cos(q[2])))

    def base_velocity(self) -> tuple[float, float, float]:
        """True base velocity (vx, vy, wz) in base_link's own frame."""
        vx, vy, wz = self.data.qvel[self.base_dof]
        yaw = self.data.qpos[self.base_qpos[2]]
        c, s = math.cos(yaw), math.sin(yaw)
        return float(c * vx + s * vy), float(-s * vx + c * vy), float(wz)

    def robot_contacts(self) -> list[str]:
        """As the cell's; a touch of only the hand and forearm stretched out for a hand-over
        is HANDOVER_TOUCH instead of "person" (the judge decides when that is a collision:
        outside its hand-over window)."""
        found = super().robot_contacts()
        if "person" not in found or not self.person_reaching():
            return found
        side = self.handover.arm.hand
        taking = (f"person/{side}_hand", f"person/{side}_forearm")
        others = np.array([g for g in self._person_geoms
                           if self._person_geom_part[int(g)] not in taking], dtype=int)
        if self.separation(cutoff=0.05, person_geoms=others)[0] <= 0.0:
            return found
        return sorted((set(found) - {"person"}) | {HANDOVER_TOUCH})

    def person_reaching(self) -> bool:
        """The person stretches a hand out for a hand-over (the judge's hand-over window)."""
        return self.handover is not None and not self.handover.returning

    def ground_truth(self) -> list[ObjectState]:
        d = self.data
        zero = (0.0, 0.0, 0.0)
        out: list[ObjectState] = []
        for name in self.object_names:
            body = self._object_body[name]
            lin, ang = self._body_velocity(body)
            obj = self._objects[name].spec
            out.append(ObjectState(name, "object", obj.type, "",
                                   tuple(float(v) for v in d.xpos[body]),
                                   tuple(float(v) for v in d.xquat[body]),
                                   tuple(float(v) for v in lin), tuple(float(v) for v in ang),
                                   obj.size))
        for f in self.layout.furniture:
            out.append(ObjectState(f.name, "furniture", f.kind, "",
                                   (f.center[0], f.center[1], f.size[2] / 2.0),
                                   yaw_to_quat(f.yaw), zero, zero, f.size))
        for c in self.params.clutter:
            out.append(ObjectState(c.name, "clutter", "box", "", c.center, yaw_to_quat(c.yaw),
                                   zero, zero, tuple(2 * h for h in c.half_size)))
        x, y, yaw = self.base_pose()
        vx, vy, wz = self.data.qvel[self.base_dof]
        out.append(ObjectState(BASE_LINK, "robot", "mobile_base", "", (x, y, 0.0),
                               yaw_to_quat(yaw), (float(vx), float(vy), 0.0),
                               (0.0, 0.0, float(wz)), (0.7, 0.5, 0.38)))
        sizes = {"torso": (2 * TORSO_RADIUS, 2 * SHOULDER_HALF_WIDTH, TORSO_LENGTH),
                 "head": (2 * HEAD_RADIUS,) * 3, "left_hand": (2 * HAND_RADIUS,) * 3,
                 "right_hand": (2 * HAND_RADIUS,) * 3}
        for part, size in sizes.items():
            pos, quat = self._poses[part]
            vel = self.person_velocity(f"person/{part}")
            out.append(ObjectState(f"person/{part}", "person", part, "",
                                   tuple(float(v) for v in pos),
                                   tuple(float(v) for v in quat),
                                   tuple(float(v) for v in vel), zero, size))
        return out

    def person_velocity(self, body: str) -> np.ndarray:
        """World velocity (m/s) of a person body ("person/right_hand"): the last step's
        displacement over its duration."""
        part = body.removeprefix("person/")
        if part not in PERSON_SEGMENTS:
            raise KeyError(f"unknown person body '{body}': allowed "
                           + ", ".join(f"person/{p}" for p in PERSON_SEGMENTS))
        if self._previous_poses is None:
            return np.zeros(3)
        return (self._poses[part][0] - self._previous_poses[part][0]) / self._pose_dt

    def object_status(self) -> dict[str, str]:
        """Per object: "held" (both fingers touch it), "handed_over" (a person's hand holds
        it), "on:<surface>" (resting on a surface: bottom within 1 cm of it, centre over
        it), "on_floor" or "other". Tolerances are this module's fixed constants."""
        d = self.data
        fingers = self._finger_contacts()
        surfaces = self.layout.surfaces()
        status: dict[str, str] = {}
        for name in self.object_names:
            if name in self.handed_over:
                status[name] = "handed_over"
                continue
            left, right = fingers.get(name, (False, False))
            if left and right:
                status[name] = "held"
                continue
            pos = d.xpos[self._object_body[name]]
            rot = d.xmat[self._object_body[name]].reshape(3, 3)
            size = np.array(self._objects[name].spec.size)
            low = pos[2] - float(np.abs(rot[2, :]) @ (size / 2.0))
            status[name] = "other"
            for surface in surfaces:
                if abs(low - surface.height) <= REST_HEIGHT and surface.contains_xy(
                        pos[0], pos[1]):
                    status[name] = f"on:{surface.name}"
                    break
            else:
                if low <= REST_HEIGHT:
                    status[name] = "on_floor"
        return status

    def part_status(self) -> dict[str, str]:
        """The status field of the ground-truth message: every object's status,
        "reaching" for the person's hand stretched out for a hand-over and "yielding" for
        the torso of a person who waits for the robot to get out of their way."""
        status = self.object_status()
        if self.person_reaching():
            status[f"person/{self.handover.arm.hand}_hand"] = "reaching"
        if self.person_yielding():
            status["person/torso"] = "yielding"
        return status

    def tcp_position(self) -> np.ndarray:
        return self.data.site_xpos[self._tcp_site].copy()

