"""The MuJoCo industrial cell: determinism, parts at rest, conveyor transport, co-worker
reaches, seating in chamfered holes, camera intrinsics against the renderer, a physical grasp
under the lead's torque law, safety queries and camera noise. Everything is judged with this
module's own fixed numbers, not the stack's configuration."""

from __future__ import annotations

import math
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from foresight_common.cell_layout import load_cell_layout, yaw_to_quat  # noqa: E402
from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS, HOME_POSITIONS  # noqa: E402
from foresight_simulation.families import (  # noqa: E402
    CameraNoise,
    ReachParams,
    load_family,
    sample_scene,
)
from foresight_simulation.scene import (  # noqa: E402
    ARM_TORQUE_LIMITS,
    HAND_RADIUS,
    TIMESTEP,
    IndustrialCell,
    apply_camera_noise,
    min_jerk,
)

CONFIG = Path(__file__).resolve().parents[3] / "config"
# The lead's joint impedance (simulation runtime): tau = Kp (qd - q) - Kd qdot + qfrc_bias.
KP = np.array([900.0, 900.0, 900.0, 900.0, 300.0, 200.0, 100.0])
KD = np.array([60.0, 60.0, 60.0, 60.0, 20.0, 14.0, 8.0])
#: An arm pose turned away from the fixture and tray (joint 1 to the robot's left rear).
AWAY = np.array(HOME_POSITIONS) + np.array([1.6, 0, 0, 0, 0, 0, 0])


@pytest.fixture(scope="module")
def layout():
    return load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")


@pytest.fixture(scope="module")
def default_cell(layout):
    return IndustrialCell(layout, sample_scene(layout, load_family("default", CONFIG), 0))


@pytest.fixture(scope="module")
def smoke_cell(layout):
    return IndustrialCell(layout, sample_scene(layout, load_family("smoke", CONFIG), 0))


def step(cell: IndustrialCell, q_des: np.ndarray, finger: float | None = None) -> None:
    d = cell.data
    d.ctrl[:7] = (KP * (q_des - d.qpos[cell.arm_qpos]) - KD * d.qvel[cell.arm_dof]
                  + d.qfrc_bias[cell.arm_dof])
    if finger is not None:
        d.ctrl[7:9] = (finger, -finger)
    cell.step_world()
    mujoco.mj_step(cell.model, d)


def run(cell: IndustrialCell, seconds: float, q_des: np.ndarray,
        finger: float | None = None) -> None:
    for _ in range(int(round(seconds / TIMESTEP))):
        step(cell, q_des, finger)


def start(cell: IndustrialCell, arm: np.ndarray = AWAY) -> None:
    cell.reset()
    cell.data.qpos[cell.arm_qpos] = arm
    mujoco.mj_forward(cell.model, cell.data)


def ik(cell: IndustrialCell, pos: np.ndarray, rot: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Damped least squares on the TCP pose, within joint limits (test helper only)."""
    m = cell.model
    scratch = mujoco.MjData(m)
    scratch.qpos[:] = cell.data.qpos
    tcp = m.site("tcp").id
    limits = np.array([m.joint(j).range for j in ARM_JOINTS])
    jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
    q = q.copy()
    for _ in range(100):
        scratch.qpos[cell.arm_qpos] = q
        mujoco.mj_kinematics(m, scratch)
        mujoco.mj_comPos(m, scratch)
        r = scratch.site_xmat[tcp].reshape(3, 3)
        err = np.concatenate([pos - scratch.site_xpos[tcp],
                              0.5 * sum(np.cross(r[:, k], rot[:, k]) for k in range(3))])
        if np.linalg.norm(err) < 1e-6:
            break
        mujoco.mj_jacSite(m, scratch, jp, jr, tcp)
        jac = np.vstack([jp[:, cell.arm_dof], jr[:, cell.arm_dof]])
        q = np.clip(q + jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err),
                    limits[:, 0], limits[:, 1])
    return q


def top_grasp_rotation(closing_yaw: float) -> np.ndarray:
    """TCP orientation pointing down with the fingers closing along `closing_yaw`; the
    direction is flipped into +y so joint 7 stays near its home angle."""
    x = np.array([math.cos(closing_yaw), math.sin(closing_yaw), 0.0])
    if x[1] < -1e-6 or (abs(x[1]) <= 1e-6 and x[0] < 0):
        x = -x
    z = np.array([0.0, 0.0, -1.0])
    return np.stack([x, np.cross(z, x), z], axis=1)


# --- model ------------------------------------------------------------------------------------
def test_actuators_sensors_and_options(default_cell):
    m = default_cell.model
    assert m.opt.timestep == TIMESTEP == 0.002
    for name, limit in zip(ARM_JOINTS, ARM_TORQUE_LIMITS, strict=True):
        act = m.actuator(name)
        assert act.trnid[0] == m.joint(name).id
        assert m.actuator_gaintype[act.id] == mujoco.mjtGain.mjGAIN_FIXED
        assert m.actuator_biastype[act.id] == mujoco.mjtBias.mjBIAS_NONE      # a motor
        assert tuple(act.ctrlrange) == (-limit, limit)
    for name in FINGER_JOINTS:
        act = m.actuator(name)
        assert m.actuator_biastype[act.id] == mujoco.mjtBias.mjBIAS_AFFINE    # a servo
        assert 1000 <= act.gainprm[0] <= 3000
        assert 40 <= act.forcerange[1] <= 70
    for sensor, kind in (("wrist_force", mujoco.mjtSensor.mjSENS_FORCE),
                         ("wrist_torque", mujoco.mjtSensor.mjSENS_TORQUE)):
        s = m.sensor(sensor)
        assert s.type[0] == kind and s.objid[0] == m.site("wrist_ft").id
    assert m.camera("overhead_camera").id >= 0
    for hand in ("left", "right"):
        assert m.site(f"coworker/{hand}_hand").id >= 0
    person = [g for g in range(m.ngeom) if m.geom(g).name.startswith("coworker/")]
    assert person and all(m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 0
                          for g in person)


def test_same_seed_builds_the_same_world(layout, default_cell):
    family = load_family("default", CONFIG)
    twin = IndustrialCell(layout, sample_scene(layout, family, 0))
    other = IndustrialCell(layout, sample_scene(layout, family, 1))
    start(default_cell)
    start(twin)
    assert np.array_equal(twin.data.qpos, default_cell.data.qpos)
    assert twin.ground_truth() == default_cell.ground_truth()
    start(other)
    assert not np.array_equal(other.data.qpos, default_cell.data.qpos)


# --- parts, conveyor --------------------------------------------------------------------------
def test_tray_parts_start_where_stated_and_stay_at_rest(default_cell):
    cell = default_cell
    start(cell)
    tray = [p for p in cell.params.parts if p.location == "tray"]
    conveyor = [p for p in cell.params.parts if p.location == "conveyor"]
    assert len(tray) == 4 and len(conveyor) == 2
    floor = cell.layout.tray.floor_top_z
    placed = {}
    for part in tray:
        pos = cell.data.xpos[cell.model.body(part.name).id].copy()
        slot = cell.layout.slot(part.slot)
        assert np.hypot(*(pos[:2] - slot.position[:2])) <= 0.003
        assert abs(pos[2] - part.part_type.height / 2 - floor) < 1e-6
        placed[part.name] = pos
    run(cell, 2.0, AWAY)
    status = cell.part_status()
    for part in tray:
        drift = np.linalg.norm(cell.data.xpos[cell.model.body(part.name).id] - placed[part.name])
        assert drift < 0.002, (part.name, drift)
        assert status[part.name] == "in_tray"
    for part in conveyor:
        assert status[part.name] == "pending" and not cell.spawned(part.name)
    names = {o.name for o in cell.ground_truth() if o.kind == "part"}
    assert names == {p.name for p in tray}


def test_conveyor_part_moves_at_family_speed_and_ends_in_the_bin(default_cell):
    cell = default_cell
    start(cell)
    part = min((p for p in cell.params.parts if p.location == "conveyor"),
               key=lambda p: p.spawn_time)
    body = cell.model.body(part.name).id
    run(cell, part.spawn_time + 0.01, AWAY)
    assert cell.spawned(part.name)
    assert cell.part_status()[part.name] == "on_conveyor"
    spawn_pos = cell.data.xpos[body].copy()
    assert np.hypot(*(spawn_pos[:2] - part.position)) < 0.005
    run(cell, 1.0, AWAY)          # settle onto the belt speed
    y0, t0 = cell.data.xpos[body][1], cell.data.time
    run(cell, 2.0, AWAY)
    speed = (cell.data.xpos[body][1] - y0) / (cell.data.time - t0)
    assert abs(speed - cell.params.conveyor_speed) <= 0.1 * cell.params.conveyor_speed
    gt = {o.name: o for o in cell.ground_truth()}
    assert abs(gt[part.name].linear_velocity[1] - cell.params.conveyor_speed) < 0.01
    remaining = (cell.layout.conveyor.end[1] - cell.data.xpos[body][1]) / speed
    run(cell, remaining + 3.0, AWAY)
    assert cell.part_status()[part.name] == "in_bin"


# --- co-worker --------------------------------------------------------------------------------
def test_coworker_reaches_targets_pauses_and_comes_back(default_cell):
    cell = default_cell
    motion = cell.coworker
    assert all(b.t_go - a.t_go <= 30.0 for a, b in zip(motion.phases, motion.phases[1:],
                                                    strict=False))
    assert motion.phases[0].t_go <= 30.0
    reach = motion.phases[0]
    start(cell)
    cell.data.time = (reach.t_hold + reach.t_back) / 2.0
    cell.step_world()
    mujoco.mj_forward(cell.model, cell.data)
    site = cell.data.site(f"coworker/{reach.hand}_hand").xpos
    assert np.linalg.norm(site - reach.target) < 0.02
    gt = {o.name: o for o in cell.ground_truth()}
    hand = gt[f"coworker/{reach.hand}_hand"]
    assert np.linalg.norm(hand.linear_velocity) < 1e-6, "pausing at the target"
    cell.data.time = (reach.t_go + reach.t_hold) / 2.0    # mid-reach: at peak speed
    speed = np.linalg.norm(cell.person_velocity(f"coworker/{reach.hand}_hand"))
    assert abs(speed - reach.peak_speed) < 0.02 * reach.peak_speed
    assert cell.robot_speed() == 0.0
    # goal-directed minimum-jerk: peak speed as sampled, at mid-movement, towards the target
    times = np.linspace(reach.t_go, reach.t_hold, 201)
    path = np.array([motion.hand_path(t)[1] for t in times])
    speeds = np.linalg.norm(np.diff(path, axis=0), axis=1) / np.diff(times)
    assert abs(speeds.max() - reach.peak_speed) < 0.03 * reach.peak_speed
    assert 0.5 <= reach.peak_speed <= 1.6
    assert 80 <= int(np.argmax(speeds)) <= 120
    to_target = reach.target - path[0]
    assert np.all(np.diff(path, axis=0) @ to_target >= -1e-9)
    back = motion.hand_path(reach.t_end + 1e-3)
    assert back[0] is None


def test_coworker_segments_stay_connected(default_cell):
    """Elbow IK keeps the capsules joined at every moment of a reach."""
    motion = default_cell.coworker
    reach = motion.phases[1]
    for t in np.linspace(reach.t_go, reach.t_end, 25):
        poses = motion.body_poses(float(t))
        for hand in ("left", "right"):
            upper_c, upper_q = poses[f"{hand}_upper_arm"]
            fore_c, fore_q = poses[f"{hand}_forearm"]
            up_axis, fore_axis = np.zeros(9), np.zeros(9)
            mujoco.mju_quat2Mat(up_axis, upper_q)
            mujoco.mju_quat2Mat(fore_axis, fore_q)
            elbow_a = upper_c + up_axis.reshape(3, 3)[:, 2] * 0.15
            elbow_b = fore_c - fore_axis.reshape(3, 3)[:, 2] * 0.13
            assert np.linalg.norm(elbow_a - elbow_b) < 1e-6


# --- holes ------------------------------------------------------------------------------------
def drop_into(cell: IndustrialCell, part_name: str, hole, offset: np.ndarray) -> str:
    start(cell)
    part = cell.parts[part_name]
    m, d = cell.model, cell.data
    adr = m.jnt_qposadr[m.body(part_name).jntadr[0]]
    d.qpos[adr:adr + 3] = (hole.position[0] + offset[0], hole.position[1] + offset[1],
                           hole.position[2] + 0.02 + part.part_type.height / 2)
    d.qpos[adr + 3:adr + 7] = yaw_to_quat(hole.yaw)
    mujoco.mj_forward(m, d)
    run(cell, 0.8, AWAY)
    return cell.part_status()[part_name]


def test_parts_seat_in_matching_holes_only(default_cell):
    cell = default_cell
    by_type = {}
    for p in cell.params.parts:
        by_type.setdefault(p.type, p.name)
    assert len(by_type) == 3
    for k, (ptype, name) in enumerate(sorted(by_type.items())):
        hole_type = cell.parts[name].part_type.hole_type
        angle = k * 2.0 * math.pi / 3.0
        offset = 0.001 * np.array([math.cos(angle), math.sin(angle)])
        for hole in cell.layout.holes:
            status = drop_into(cell, name, hole, offset)
            if hole.type == hole_type:
                assert status == "seated", (ptype, hole.name)
                bottom = cell.data.xpos[cell.model.body(name).id][2] - (
                    cell.parts[name].part_type.height / 2)
                assert abs(bottom - hole.bottom_z) < 0.002
            else:
                assert status == "wrong_hole", (ptype, hole.name, status)


# --- camera -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer(smoke_cell):
    r = mujoco.Renderer(smoke_cell.model, 240, 320)
    yield r
    r.close()


def _segmentation(renderer: mujoco.Renderer, cell: IndustrialCell) -> np.ndarray:
    renderer.update_scene(cell.data, camera=cell.camera_name)
    renderer.enable_segmentation_rendering()
    seg = renderer.render().copy()
    renderer.disable_segmentation_rendering()
    return seg


def test_depth_of_the_bench_matches_intrinsics(smoke_cell, renderer):
    """Tilt the camera 25 degrees so depth varies across the image: every bench pixel's
    depth must equal the pinhole ray's z-depth to the bench plane."""
    cell = smoke_cell
    start(cell)
    m = cell.model
    cid = m.camera(cell.camera_name).id
    nominal = m.cam_quat[cid].copy()
    tilt = np.zeros(4)
    mujoco.mju_axisAngle2Quat(tilt, np.array([0.0, 1.0, 0.0]), math.radians(25.0))
    try:
        mujoco.mju_mulQuat(m.cam_quat[cid], nominal, tilt)
        mujoco.mj_forward(m, cell.data)
        rgb, depth = cell.render_rgbd(renderer)
        seg = _segmentation(renderer, cell)
        fx, fy, cx, cy = cell.camera_intrinsics(320, 240)
        pos, quat = cell.camera_pose(optical=True)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, quat)
        rot = rot.reshape(3, 3)
        vs, us = np.nonzero((seg[:, :, 0] == m.geom("bench").id)
                            & (seg[:, :, 1] == mujoco.mjtObj.mjOBJ_GEOM))
        assert len(vs) > 5000
        picks = np.linspace(0, len(vs) - 1, 60).astype(int)
        errors = []
        for u, v in zip(us[picks], vs[picks], strict=True):
            ray = rot @ np.array([(u - cx) / fx, (v - cy) / fy, 1.0])
            errors.append(depth[v, u] - (cell.layout.bench.top_z - pos[2]) / ray[2])
        assert np.max(np.abs(errors)) < 0.002
        assert rgb.shape == (240, 320, 3) and rgb.dtype == np.uint8
        assert depth.dtype == np.float32 and not np.isnan(depth).any()
    finally:
        m.cam_quat[cid] = nominal
        mujoco.mj_forward(m, cell.data)


def test_projection_of_known_points_matches_intrinsics(smoke_cell, renderer):
    """A sphere (the co-worker's hand) at known points: the centroid of its rendered pixels
    must sit where the intrinsics put its image (the exact centre of a sphere's perspective
    ellipse), to a fraction of a pixel: a half-pixel convention error fails this."""
    cell = smoke_cell
    start(cell)
    m, d = cell.model, cell.data
    mocap = m.body("coworker/right_hand").mocapid[0]
    gid = m.geom("coworker/right_hand").id
    fx, fy, cx, cy = cell.camera_intrinsics(320, 240)
    assert fx == fy
    for point in ((0.7, 0.2, 1.0), (0.2, -0.5, 0.9), (0.8, -0.6, 1.1), (0.1, 0.4, 1.0),
                  (0.45, -0.3, 1.0)):
        d.mocap_pos[mocap] = point
        mujoco.mj_forward(m, d)
        pos, quat = cell.camera_pose(optical=True)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, quat)
        pc = rot.reshape(3, 3).T @ (np.array(point) - pos)
        off_axis = math.hypot(pc[0], pc[1])
        theta = math.atan2(off_axis, pc[2])
        alpha = math.asin(HAND_RADIUS / np.linalg.norm(pc))
        rho = fx * 0.5 * (math.tan(theta + alpha) + math.tan(theta - alpha))
        direction = pc[:2] / off_axis if off_axis > 1e-9 else np.zeros(2)
        expected = np.array([cx, cy]) + rho * direction
        seg = _segmentation(renderer, cell)
        vs, us = np.nonzero((seg[:, :, 0] == gid) & (seg[:, :, 1] == mujoco.mjtObj.mjOBJ_GEOM))
        assert len(us) > 150, point
        centroid = np.array([us.mean(), vs.mean()])
        assert np.linalg.norm(centroid - expected) < 0.2, (point, centroid, expected)


def test_camera_noise_is_a_pure_function():
    rng_rgb = np.full((120, 160, 3), 100, dtype=np.uint8)
    depth = np.full((120, 160), 2.0, dtype=np.float32)
    noise = CameraNoise(depth_sigma=0.001, depth_hole_fraction=0.02, rgb_sigma=4.0)
    a = apply_camera_noise(rng_rgb, depth, noise, np.random.default_rng(5))
    b = apply_camera_noise(rng_rgb, depth, noise, np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True)
    assert np.all(rng_rgb == 100) and np.all(depth == 2.0), "inputs untouched"
    holes = np.isnan(a[1]).mean()
    assert 0.01 <= holes <= 0.025
    valid = a[1][~np.isnan(a[1])] - 2.0
    assert abs(valid.std() - 0.004) < 0.0005          # sigma at 1 m x z^2 = 0.004
    assert abs(a[0].astype(float).std() - 4.0) < 0.3
    clean = apply_camera_noise(rng_rgb, depth, CameraNoise(0.0, 0.0, 0.0),
                               np.random.default_rng(0))
    assert np.array_equal(clean[0], rng_rgb) and np.array_equal(clean[1], depth)


# --- grasp under the lead's torque law --------------------------------------------------------
def test_grasp_lifts_and_holds_each_part_type_through_a_fast_move(default_cell):
    cell = default_cell
    m, d = cell.model, cell.data
    tcp = m.site("tcp").id
    seen: set[str] = set()
    for part in cell.params.parts:
        if part.location != "tray" or part.type in seen:
            continue
        seen.add(part.type)
        start(cell, np.array(HOME_POSITIONS))
        pt = part.part_type
        body = m.body(part.name).id
        p0 = d.xpos[body].copy()
        narrow_along_y = pt.shape == "box" and pt.size[1] < pt.size[0]
        rot = top_grasp_rotation(part.yaw + (math.pi / 2 if narrow_along_y else 0.0))
        grasp = np.array([p0[0], p0[1], p0[2] + pt.height / 2 - 0.012])
        q = ik(cell, grasp, rot, np.array(HOME_POSITIONS))
        d.qpos[cell.arm_qpos] = q
        mujoco.mj_forward(m, d)
        assert np.linalg.norm(d.site_xpos[tcp] - grasp) < 1e-4
        assert cell.robot_contacts() == []
        run(cell, 0.5, q, finger=0.0)                     # close on the part
        status = cell.part_status()[part.name]
        assert status == "held", (part.type, status)
        assert np.linalg.norm(d.xpos[body][:2] - p0[:2]) < 0.003
        offset = d.xpos[body] - d.site_xpos[tcp]
        lift = grasp + np.array([0.0, 0.0, 0.10])
        t0 = d.time
        while d.time < t0 + 1.0:                           # lift 10 cm in 1 s
            s, _ = min_jerk((d.time - t0) / 1.0)
            step(cell, ik(cell, grasp + s * (lift - grasp), rot, d.qpos[cell.arm_qpos]), 0.0)
        assert d.xpos[body][2] - p0[2] > 0.095, part.type
        goal = np.array([0.45, 0.15, lift[2]])
        duration = 1.875 * np.linalg.norm(goal - lift) / 0.5   # 0.5 m/s peak
        t0, slip, top_speed = d.time, 0.0, 0.0
        while d.time < t0 + duration + 0.3:
            s, _ = min_jerk((d.time - t0) / duration)
            step(cell, ik(cell, lift + s * (goal - lift), rot, d.qpos[cell.arm_qpos]), 0.0)
            slip = max(slip, np.linalg.norm(d.xpos[body] - d.site_xpos[tcp] - offset))
            top_speed = max(top_speed, cell.robot_speed())
        assert top_speed > 0.45, "the move really was fast"
        assert cell.robot_speed() < 0.1, "settled at the goal"
        assert slip < 0.004, (part.type, slip)
        assert cell.part_status()[part.name] == "held"
        held = d.xpos[body] - d.site_xpos[tcp]
        run(cell, 3.0, d.qpos[cell.arm_qpos].copy(), finger=0.0)    # no creep while holding
        assert np.linalg.norm(d.xpos[body] - d.site_xpos[tcp] - held) < 0.001, part.type
    assert seen == {"peg_round", "peg_square", "peg_slot"}


# --- safety queries ---------------------------------------------------------------------------
def test_robot_contacts_and_separation(default_cell):
    cell = default_cell
    start(cell, np.array(HOME_POSITIONS))
    m, d = cell.model, cell.data
    assert cell.robot_contacts() == []
    distance, part = cell.separation()
    assert 0.1 < distance < 2.0 and part.startswith("coworker/")
    # put the co-worker's hand between the open fingers: overlap is reported as "person"
    tcp = d.site("tcp").xpos.copy()
    mocap = m.body("coworker/right_hand").mocapid[0]
    d.mocap_pos[mocap] = tcp
    mujoco.mj_forward(m, d)
    distance, part = cell.separation()
    assert distance < 0.0 and part == "coworker/right_hand"
    assert "person" in cell.robot_contacts()
    d.mocap_pos[mocap] = tcp + np.array([0.0, 0.0, -0.10])
    mujoco.mj_forward(m, d)
    distance, _ = cell.separation()
    assert 0.03 < distance < 0.10
    # press the fingers into the fixture: a collision with a non-task object
    start(cell, np.array(HOME_POSITIONS))
    fx = cell.layout.fixture
    target = np.array([fx.center[0] + 0.075, fx.center[1] + 0.0, fx.top_z + 0.002])
    q = ik(cell, target, top_grasp_rotation(0.0), np.array(HOME_POSITIONS))
    d.qpos[cell.arm_qpos] = q
    mujoco.mj_forward(m, d)
    assert "fixture" in cell.robot_contacts()


def test_ground_truth_lists_every_object(default_cell):
    cell = default_cell
    start(cell)
    run(cell, 0.05, AWAY)
    objects = cell.ground_truth()
    kinds: dict[str, list] = {}
    for o in objects:
        kinds.setdefault(o.kind, []).append(o)
        assert abs(np.linalg.norm(o.quat) - 1.0) < 1e-6
        assert all(s > 0 for s in o.size)
    assert len(kinds["hole"]) == 6 and len(kinds["part"]) == 4
    assert {o.name for o in kinds["person"]} == {
        "coworker/torso", "coworker/head", "coworker/left_hand", "coworker/right_hand"}
    assert len(kinds["tray"]) == len(kinds["fixture"]) == len(kinds["conveyor"]) == 1
    for o in kinds["part"]:
        assert o.matches == cell.parts[o.name].part_type.hole_type
        assert o.matches in {h.type for h in cell.layout.holes}
    hole = next(o for o in kinds["hole"] if o.name == "hole_round_0")
    assert hole.position == cell.layout.hole("hole_round_0").position
    conveyor = kinds["conveyor"][0]
    assert math.isclose(conveyor.linear_velocity[1], cell.params.conveyor_speed)


def test_every_family_schedules_reachable_coworker_targets(layout):
    """The figure must reach every sampled target (CoworkerMotion raises otherwise)."""
    from foresight_simulation.scene import CoworkerMotion

    for name in ("default", "smoke", "heldout_lighting_colours", "heldout_layout_speed"):
        family = load_family(name, CONFIG)
        for seed in range(15):
            scene = sample_scene(layout, family, seed)
            moved = scene.effective_layout(layout)
            motion = CoworkerMotion(moved.coworker.base, moved.coworker.yaw,
                                    scene.coworker_reaches)
            assert motion.phases[-1].t_end >= scene.horizon_s
    with pytest.raises(ValueError, match="out of the figure's reach"):
        far = ReachParams(hand="left", target_name="robot_base", target=(0.0, 0.0, 0.8),
                          peak_speed=1.0, dwell_s=1.0, idle_before_s=1.0)
        CoworkerMotion(layout.coworker.base, layout.coworker.yaw, [far])


def test_in_camera_view_is_the_image_not_the_room(default_cell):
    """The tray and fixture lie in the overhead camera's 320x240 image; the co-worker's
    resting hands (x = 1.05) just outside it (the camera sees x up to ~1.0 at hand height);
    nothing behind the camera."""
    cell = default_cell
    mujoco.mj_forward(cell.model, cell.data)
    assert cell.in_camera_view((0.30, 0.40, 0.80), 320, 240)
    assert cell.in_camera_view((0.50, 0.05, 0.80), 320, 240)
    assert not cell.in_camera_view((1.05, -0.12, 0.97), 320, 240)
    assert cell.in_camera_view((0.90, -0.12, 0.97), 320, 240)
    position, _ = cell.camera_pose()
    assert not cell.in_camera_view(position + np.array([0.0, 0.0, 0.5]), 320, 240)
