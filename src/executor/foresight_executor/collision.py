"""Planning-scene collision checks: the robot model against static boxes and itself.

The scene is a MuJoCo model compiled once: the robot from `build_robot_spec()` (collision
geoms only: convex hulls of its meshes, so the check is conservative), mounted at a given base
pose, plus the cell's static obstacles as boxes. A configuration check is one
`mj_kinematics` + `mj_collision` (MuJoCo's own broad and narrow phase), about 0.02 ms, so
whole paths can be checked densely. The padding is MuJoCo's contact margin: every pair closer
than the padding comes back with its signed distance (negative = penetration).

Frames and units: boxes and the base pose in the world frame (m, rad); joint positions in
`ARM_JOINTS` order (rad); `fingers` is the position of each finger joint (0 closed .. 0.04 m
open, as `RobotKinematics.set_arm`).

Never in the check: `panda_link0` against the scene (it is bolted to the bench it stands on,
so touching it is the layout, not a motion), `panda_link0`-`panda_link1` and the fingers
against each other (always touching by construction), links welded together or in
parent-child relation (MuJoCo's own filter, e.g. hand and fingers against `panda_link6/7`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import mujoco
import numpy as np

from foresight_common.robot_model import (
    ARM_JOINTS,
    BASE_BODY,
    FINGER_JOINTS,
    MAX_GRIPPER_WIDTH,
    TCP_SITE,
    build_robot_spec,
)

ROBOT_ROOT_BODY = "base"  # parent of panda_link0 in the robot spec, moved to the base pose
ATTACHED_LINK = "attached_object"
_TCP_BODY = "panda_hand_tcp"
#: Link groups usable in allowed-contact pairs.
LINK_GROUPS: dict[str, tuple[str, ...]] = {
    "fingers": ("panda_leftfinger", "panda_rightfinger"),
    "gripper": ("panda_hand", "panda_leftfinger", "panda_rightfinger"),
    "attached": (ATTACHED_LINK,),
}
# Bodies reported under another link's name (finger pads belong to their finger).
_LINK_OF_BODY = {
    "panda_leftfinger_tip": "panda_leftfinger",
    "panda_rightfinger_tip": "panda_rightfinger",
    "panda_link8": "panda_link7",
    _TCP_BODY: "panda_hand",
}
_ALWAYS_EXCLUDED = (
    ("panda_link0", "panda_link1"),
    ("panda_leftfinger", "panda_rightfinger"),
    ("panda_leftfinger_tip", "panda_rightfinger_tip"),
    ("panda_leftfinger", "panda_rightfinger_tip"),
    ("panda_leftfinger_tip", "panda_rightfinger"),
)
# contype/conaffinity bits: robot = 1, scene = 2. A pair collides if
# (contype1 & conaffinity2) or (contype2 & conaffinity1).
_ROBOT_BIT, _SCENE_BIT = 1, 2


class BoxLike(Protocol):
    """Anything with a box's fields (e.g. the cell layout's obstacle records)."""

    name: str
    center: Sequence[float]
    half_size: Sequence[float]
    yaw: float


@dataclass(frozen=True)
class Box:
    """A static obstacle: world-frame centre (m), half sizes (m), yaw about world z (rad)."""

    name: str
    center: tuple[float, float, float]
    half_size: tuple[float, float, float]
    yaw: float = 0.0


@dataclass(frozen=True)
class AttachedBox:
    """An object carried in the gripper, as a box in the TCP frame (m, quaternion wxyz).

    It is checked against the scene and the arm (not the hand and fingers holding it)."""

    name: str
    half_size: tuple[float, float, float]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat_wxyz: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


class Contact(NamedTuple):
    """A pair closer than its padding: robot link, obstacle (box or link), distance (m)."""

    robot_link: str
    obstacle: str
    distance: float


@dataclass(frozen=True)
class PathCollision:
    """First colliding sample on a path: between waypoints `segment` and `segment + 1`,
    at `fraction` of that segment."""

    segment: int
    fraction: float
    q: np.ndarray
    contacts: list[Contact]


def yaw_quat(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


class _SceneModel:
    """One compiled scene (robot + boxes [+ attached object]) with its lookup tables."""

    def __init__(self, model: mujoco.MjModel, obstacle_names: set[str]) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.arm_qpos = np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([model.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.tcp_site = model.site(TCP_SITE).id
        self.geom_owner: list[str] = []
        self.geom_is_robot = np.zeros(model.ngeom, dtype=bool)
        for g in range(model.ngeom):
            name = model.geom(g).name
            if name in obstacle_names:
                self.geom_owner.append(name)
                continue
            body = model.body(model.geom_bodyid[g]).name
            self.geom_owner.append(_LINK_OF_BODY.get(body, body))
            self.geom_is_robot[g] = True
        self.scene_geoms = np.flatnonzero(~self.geom_is_robot)
        self.moving_geoms = np.array([g for g in np.flatnonzero(self.geom_is_robot)
                                      if self.geom_owner[g] != BASE_BODY])
        self.attached_geom = next((g for g in range(model.ngeom)
                                   if self.geom_owner[g] == ATTACHED_LINK), None)

    def set(self, q: np.ndarray, fingers: float) -> None:
        self.data.qpos[self.arm_qpos] = q
        self.data.qpos[self.finger_qpos] = (fingers, -fingers)
        mujoco.mj_kinematics(self.model, self.data)


class CollisionChecker:
    """Collision checks of robot configurations and paths against a static box scene.

    Not thread-safe (owns MjData). `allowed` pairs (link or group, obstacle) are ignored in
    every check, e.g. `("fingers", "tray")`; per-call `allow` adds more.
    """

    def __init__(self, boxes: Iterable[BoxLike] = (), *,
                 base_pos: Sequence[float] = (0.0, 0.0, 0.0), base_yaw: float = 0.0,
                 padding: float = 0.01, self_padding: float = 0.0,
                 allowed: Iterable[tuple[str, str]] = (),
                 max_joint_step_rad: float = math.radians(1.0),
                 max_tcp_step_m: float = 0.005,
                 held_clearance: float = 0.0, body_prefix: str = "robot/") -> None:
        if padding < 0 or self_padding < 0 or held_clearance < 0:
            raise ValueError("padding, self_padding and held_clearance must be >= 0")
        self.boxes = [Box(b.name, tuple(map(float, b.center)), tuple(map(float, b.half_size)),
                          float(b.yaw)) for b in boxes]
        names = [b.name for b in self.boxes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate obstacle names in {names}")
        for b in self.boxes:
            if min(b.half_size) <= 0 or not all(map(math.isfinite, b.center + b.half_size)):
                raise ValueError(f"box {b.name!r}: half sizes must be > 0 and finite")
        self.base_pos = tuple(float(v) for v in base_pos)
        self.base_yaw = float(base_yaw)
        self.padding = float(padding)
        self.self_padding = float(self_padding)
        # a carried object keeps this far from the robot's own body (boxes named
        # `body_prefix`...): where it sits in the hand is known only to a centimetre or two
        self.held_clearance = float(held_clearance)
        self.body_prefix = body_prefix
        self.allowed = self._expand(allowed)
        self.max_joint_step_rad = max_joint_step_rad
        self.max_tcp_step_m = max_tcp_step_m
        self._models: dict[AttachedBox | None, _SceneModel] = {}
        self._scene(None)  # compile now, so errors surface at construction

    # --- model building --------------------------------------------------------------------
    def _build(self, attached: AttachedBox | None) -> _SceneModel:
        spec = build_robot_spec()
        for geom in list(spec.geoms):
            if geom.contype == 0 and geom.conaffinity == 0:
                spec.delete(geom)  # visual only
        used = {geom.meshname for geom in spec.geoms}
        for mesh in list(spec.meshes):
            if mesh.name not in used:
                spec.delete(mesh)
        margin = max(self.padding, self.self_padding)
        for geom in spec.geoms:
            fixed = geom.parent.name == BASE_BODY
            geom.contype = _ROBOT_BIT
            geom.conaffinity = _ROBOT_BIT if fixed else _ROBOT_BIT | _SCENE_BIT
            geom.margin = margin
            geom.gap = 0.0
        root = spec.body(ROBOT_ROOT_BODY)
        root.pos = list(self.base_pos)
        root.quat = yaw_quat(self.base_yaw)
        for body1, body2 in _ALWAYS_EXCLUDED:
            spec.add_exclude(bodyname1=body1, bodyname2=body2)
        for box in self.boxes:
            spec.worldbody.add_geom(
                name=box.name, type=mujoco.mjtGeom.mjGEOM_BOX, size=list(box.half_size),
                pos=list(box.center), quat=yaw_quat(box.yaw), contype=_SCENE_BIT,
                conaffinity=0, margin=margin, gap=0.0)
        if attached is not None:
            # Welded to the hand: MuJoCo's filter skips it against hand, fingers, link6/7.
            body = spec.body(_TCP_BODY).add_body(name=ATTACHED_LINK)
            body.add_geom(name=ATTACHED_LINK, type=mujoco.mjtGeom.mjGEOM_BOX,
                          size=list(attached.half_size), pos=list(attached.pos),
                          quat=list(attached.quat_wxyz), contype=_ROBOT_BIT,
                          conaffinity=_ROBOT_BIT | _SCENE_BIT, margin=margin, gap=0.0,
                          mass=0.01)
        return _SceneModel(spec.compile(), {b.name for b in self.boxes})

    def _scene(self, attached: AttachedBox | None) -> _SceneModel:
        scene = self._models.get(attached)
        if scene is None:
            if len(self._models) >= 8:  # a handful of carried objects at most: keep it bounded
                self._models.pop(next(k for k in self._models if k is not None))
            scene = self._models[attached] = self._build(attached)
        return scene

    @staticmethod
    def _expand(pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for link, obstacle in pairs:
            for name in LINK_GROUPS.get(link, (link,)):
                out.add((name, obstacle))
                out.add((obstacle, name))
        return frozenset(out)

    # --- checks ----------------------------------------------------------------------------
    def _contacts(self, scene: _SceneModel, allowed: frozenset[tuple[str, str]]
                  ) -> list[Contact]:
        model, data = scene.model, scene.data
        mujoco.mj_collision(model, data)
        closest: dict[tuple[str, str], float] = {}
        geoms = data.contact.geom[:data.ncon]
        dists = data.contact.dist[:data.ncon]
        for (g1, g2), dist in zip(geoms, dists, strict=True):
            robot1, robot2 = scene.geom_is_robot[g1], scene.geom_is_robot[g2]
            if not robot1:
                g1, g2 = g2, g1  # robot first
            a, b = scene.geom_owner[g1], scene.geom_owner[g2]
            limit = self.self_padding if (robot1 and robot2) else self.padding
            if dist >= limit or (a, b) in allowed or (a, b) in self.allowed:
                continue
            key = (a, b) if not (robot1 and robot2) else tuple(sorted((a, b)))
            closest[key] = min(float(dist), closest.get(key, math.inf))
        self._held_near_body(scene, allowed, closest)
        return [Contact(a, b, d) for (a, b), d in sorted(closest.items(), key=lambda i: i[1])]

    def _held_near_body(self, scene: _SceneModel, allowed: frozenset[tuple[str, str]],
                        closest: dict[tuple[str, str], float]) -> None:
        """Adds the robot's own body boxes nearer the carried object than `held_clearance`
        (distances by mj_geomDistance: box-box contacts within a wide margin are not all
        reported)."""
        if scene.attached_geom is None or self.held_clearance <= self.padding:
            return
        for g in scene.scene_geoms:
            name = scene.geom_owner[g]
            pair = (ATTACHED_LINK, name)
            if not name.startswith(self.body_prefix) or pair in allowed or \
                    pair in self.allowed:
                continue
            dist = mujoco.mj_geomDistance(scene.model, scene.data, int(scene.attached_geom),
                                          int(g), self.held_clearance, None)
            if dist < self.held_clearance:
                closest[pair] = min(float(dist), closest.get(pair, math.inf))

    def check_configuration(self, q: Sequence[float], fingers: float = MAX_GRIPPER_WIDTH / 2,
                            *, attached: AttachedBox | None = None,
                            allow: Iterable[tuple[str, str]] = ()) -> list[Contact]:
        """Pairs closer than the padding at `q` (empty = collision-free), closest first."""
        scene = self._scene(attached)
        scene.set(np.asarray(q, dtype=float), fingers)
        return self._contacts(scene, self._expand(allow))

    def tcp_position(self, q: Sequence[float]) -> np.ndarray:
        """World-frame TCP position at `q` (the scene model includes the base pose)."""
        scene = self._scene(None)
        scene.set(np.asarray(q, dtype=float), 0.0)
        return scene.data.site_xpos[scene.tcp_site].copy()

    def check_path(self, qs: Sequence[Sequence[float]] | np.ndarray,
                   fingers: float = MAX_GRIPPER_WIDTH / 2, *,
                   attached: AttachedBox | None = None,
                   allow: Iterable[tuple[str, str]] = (),
                   first_only: bool = True) -> list[PathCollision]:
        """Check a joint path, interpolated linearly between its waypoints so no step moves a
        joint more than `max_joint_step_rad` or the TCP more than `max_tcp_step_m`.

        Returns the colliding samples (only the first with `first_only`); empty = clear.
        """
        path = np.asarray(qs, dtype=float)
        if path.ndim != 2 or path.shape[1] != len(ARM_JOINTS) or len(path) == 0:
            raise ValueError(f"path must be N x {len(ARM_JOINTS)}, got {path.shape}")
        scene = self._scene(attached)
        allowed = self._expand(allow)
        found: list[PathCollision] = []

        def visit(segment: int, fraction: float, q: np.ndarray) -> np.ndarray:
            scene.set(q, fingers)
            contacts = self._contacts(scene, allowed)
            if contacts:
                found.append(PathCollision(segment, fraction, q.copy(), contacts))
            return scene.data.site_xpos[scene.tcp_site].copy()

        tcp_prev = visit(0, 0.0, path[0])
        if found and first_only:
            return found
        for seg in range(len(path) - 1):
            qa, qb = path[seg], path[seg + 1]
            n = max(1, math.ceil(float(np.max(np.abs(qb - qa))) / self.max_joint_step_rad))
            f_prev = 0.0
            for k in range(1, n + 1):
                f = k / n
                tcp = visit(seg, f, qa + (qb - qa) * f)
                travel = float(np.linalg.norm(tcp - tcp_prev))
                if travel > self.max_tcp_step_m:
                    # Fill in between the last two samples so the TCP step stays small too.
                    m = math.ceil(travel / self.max_tcp_step_m)
                    for j in range(1, m):
                        fj = f_prev + (f - f_prev) * j / m
                        visit(seg, fj, qa + (qb - qa) * fj)
                    found.sort(key=lambda c: (c.segment, c.fraction))
                if found and first_only:
                    return found[:1]
                tcp_prev, f_prev = tcp, f
        return found

    def clearance(self, q: Sequence[float], fingers: float = MAX_GRIPPER_WIDTH / 2, *,
                  distmax: float = 0.2) -> tuple[float, str, str]:
        """Smallest distance (m, capped at `distmax`) between a moving robot link and a box,
        with the pair, via `mj_geomDistance` (for monitoring; checks use the padding)."""
        scene = self._scene(None)
        scene.set(np.asarray(q, dtype=float), fingers)
        best = (distmax, "", "")
        for g_box in scene.scene_geoms:
            for g_robot in scene.moving_geoms:
                d = mujoco.mj_geomDistance(scene.model, scene.data, int(g_robot), int(g_box),
                                           distmax, None)
                if d < best[0]:
                    best = (float(d), scene.geom_owner[g_robot], scene.geom_owner[g_box])
        return best
