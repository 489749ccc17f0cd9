"""The home-care room: layout file, families, the person's day, the MuJoCo world and the base
driver with its drifting odometry."""

from __future__ import annotations

import math
from pathlib import Path

import mujoco
import numpy as np
import pytest

from foresight_common.laser import scan_points
from foresight_common.mobile_manipulator import BASE_FOOTPRINT, BASE_JOINTS, BASE_SCANNER
from foresight_common.room_layout import RoomLayoutError, load_room_layout, parse_room_layout
from foresight_simulation.base_driver import (
    BaseDriver,
    OdometryErrors,
    WheelOdometry,
    base_to_world_velocity,
)
from foresight_simulation.families import FamilyError
from foresight_simulation.home_families import (
    load_home_family,
    room_layout_path,
    sample_home_scene,
)
from foresight_simulation.home_scene import PERSON_UPDATE_S, HomeRoom
from foresight_simulation.person import HandoverArm, PersonSchedule, body_poses
from foresight_simulation.scanner import SCENE_GROUPS, SafetyScanner

CONFIG = Path(__file__).resolve().parents[3] / "config"


def _layout():
    return load_room_layout(CONFIG / "rooms" / "home_room.yaml")


def _scene(family: str, seed: int):
    fam = load_home_family(family, CONFIG)
    return sample_home_scene(load_room_layout(room_layout_path(fam, CONFIG)), fam, seed)


def _schedule(scene) -> PersonSchedule:
    lay = scene.layout
    return PersonSchedule(lay.person_places, scene.person_start,
                          [(v.place, v.dwell_s) for v in scene.person_visits],
                          scene.walk_speed, lay.waypoints, lay.furniture)


# --- layout and families ---------------------------------------------------------------------
def test_room_layout_has_the_design_furniture_and_task_surfaces():
    lay = _layout()
    kinds = {f.kind for f in lay.furniture}
    assert {"table", "chair", "shelf", "bed", "bedside_table"} <= kinds
    names = {s.name for s in lay.surfaces()}
    assert {"table", "bedside_table", "shelf/0", "shelf/1"} <= names
    assert {o.name for o in lay.objects} == {"cup", "medicine_box", "remote"}


def test_object_off_its_surface_is_a_one_line_error():
    import yaml

    data = yaml.safe_load((CONFIG / "rooms" / "home_room.yaml").read_text())
    data["objects"][0]["at"] = [1.5, 0.0]
    with pytest.raises(RoomLayoutError, match=r"objects\[0\]\.at"):
        parse_room_layout(data, "bad.yaml")
    data["objects"][0]["at"] = [0.0, 0.0]
    data["objects"][0]["surface"] = "sofa"
    with pytest.raises(RoomLayoutError, match=r"objects\[0\]\.surface.*allowed: one of table"):
        parse_room_layout(data, "bad.yaml")


def test_industrial_family_is_not_a_home_family():
    with pytest.raises(FamilyError, match="invalid"):
        load_home_family("default", CONFIG)


@pytest.mark.parametrize("family", ["home_train", "home_heldout", "home_smoke"])
def test_scene_is_a_pure_function_of_the_seed_and_keeps_furniture_apart(family):
    a, b = _scene(family, 3), _scene(family, 3)
    assert a == b
    lay = a.layout
    for item in lay.furniture:
        for x, y in item.footprint():
            assert 0.0 <= x <= lay.size[0] and 0.0 <= y <= lay.size[1]
    chair = lay.furniture_named("chair")
    assert lay.place("chair").xy == pytest.approx(chair.center)   # the seat moves with it
    for obj in a.objects:                  # every object rests on its (moved) surface
        surface = lay.surface(obj.spec.surface)
        assert surface.contains_xy(obj.position[0], obj.position[1])
        assert obj.position[2] == pytest.approx(surface.height + obj.spec.size[2] / 2)


def test_heldout_moves_furniture_more_than_train():
    nominal = {f.name: f.center for f in _layout().furniture}

    def largest_move(family):
        return max(math.dist(f.center, nominal[f.name]) for seed in range(10)
                   for f in _scene(family, seed).layout.furniture)
    assert largest_move("home_heldout") > largest_move("home_train") > 0.0


# --- the person ------------------------------------------------------------------------------
def test_person_moves_continuously_and_walks_around_furniture():
    scene = _scene("home_train", 2)
    schedule = _schedule(scene)
    kinds = {p.kind for p in schedule.phases}
    assert {"dwell", "walk", "turn"} <= kinds
    previous = None
    fastest = 0.0
    for t in np.arange(0.0, 240.0, 0.02):
        pose = schedule.pose(t)
        poses = body_poses(pose)
        if previous is not None:
            fastest = max(fastest, max(np.linalg.norm(poses[k][0] - previous[k][0])
                                       for k in poses) / 0.02)
        previous = poses
        if pose.gait > 0.0:        # walking: never through furniture (but out of a chair)
            route = schedule.phase_at(t).route
            others = [f for f in scene.layout.furniture
                      if not any(f.contains_xy(*end, 0.3) for end in (route[0], route[-1]))]
            assert not any(f.contains_xy(pose.xy[0], pose.xy[1], 0.1) for f in others), t
    assert fastest < 4.0           # m/s of any segment (a swinging shin): no jumps


def test_seated_person_has_hips_at_seat_height():
    scene = _scene("home_smoke", 0)
    pose = _schedule(scene).pose(1.0)
    assert pose.sit == 1.0
    thigh = body_poses(pose)["left_thigh"][0]
    assert 0.35 < thigh[2] < 0.55


def test_handover_arm_follows_within_its_speed():
    arm = HandoverArm("right", np.zeros(3), max_speed=0.5)
    target = np.array([0.4, 0.0, 0.2])
    fastest = 0.0
    for _ in range(1500):
        before = arm.position.copy()
        arm.step(target, 0.002)
        fastest = max(fastest, float(np.linalg.norm(arm.position - before)) / 0.002)
    assert np.linalg.norm(arm.position - target) < 0.005
    assert fastest <= 0.5 + 1e-9


# --- the MuJoCo room -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def room() -> HomeRoom:
    return HomeRoom(_scene("home_smoke", 0))


def test_objects_rest_on_their_surfaces_and_robot_touches_nothing(room):
    room.reset()
    for _ in range(500):
        room.step_world()
        mujoco.mj_step(room.model, room.data)
    assert room.object_status() == {"cup": "on:table", "medicine_box": "on:table",
                                    "remote": "on:shelf/1"}
    assert room.robot_contacts() == []
    x, y, yaw = room.base_pose()
    assert (x, y) == pytest.approx(room.layout.robot_start[:2], abs=1e-3)


def test_head_camera_sees_the_table_and_the_seated_person(room):
    room.reset()
    renderer = mujoco.Renderer(room.model, 120, 160)
    rgb, depth = room.render_rgbd(renderer)
    assert rgb.shape == (120, 160, 3) and np.isfinite(depth).mean() > 0.9
    cup = next(o for o in room.ground_truth() if o.name == "cup")
    assert room.in_camera_view(cup.position, 160, 120)
    assert room.visible_from_camera(cup.position, "cup")
    head = next(o for o in room.ground_truth() if o.name == "person/head")
    assert room.in_camera_view(head.position, 160, 120)


def test_base_velocity_servos_drive_the_base(room):
    room.reset()
    m, d = room.model, room.data
    acts = [m.actuator(j).id for j in BASE_JOINTS]
    driver = BaseDriver()
    for k in range(1500):                      # 3 s: forward at 0.3 m/s, turning slowly
        now = d.time
        if k % 50 == 0:
            driver.command(0.3, 0.0, 0.2, now)
        x, y, yaw = room.base_pose()
        d.ctrl[acts] = base_to_world_velocity(driver.step(now, m.opt.timestep), yaw)
        room.step_world()
        mujoco.mj_step(m, d)
    x, y, yaw = room.base_pose()
    start = room.layout.robot_start
    travelled = math.dist((x, y), start[:2])
    assert 0.6 < travelled < 0.9               # 3 s at 0.3 m/s minus the ramp
    assert 0.35 < yaw - start[2] < 0.6
    vx, vy, wz = room.base_velocity()
    assert vx == pytest.approx(0.3, abs=0.03) and abs(vy) < 0.03


def test_base_scanner_sees_the_persons_shins_and_the_furniture_not_the_robot(room):
    room.reset()
    scanner = SafetyScanner(room.model, BASE_SCANNER, SCENE_GROUPS)
    x, y, yaw = room.base_pose()
    ranges = scanner.scan(room.data, (x, y, yaw))
    hits = np.isfinite(ranges)
    assert hits.mean() > 0.8                   # walls and furniture all round, within 4 m
    assert np.min(ranges[hits]) > BASE_FOOTPRINT[1] / 2.0   # nothing of its own body
    points = scan_points(ranges, BASE_SCANNER)
    c, s = math.cos(yaw), math.sin(yaw)
    world = points[:, :2] @ np.array([[c, s], [-s, c]]) + np.array([x, y])
    m = room.model
    shins = [room.data.geom_xpos[g][:2] for g in range(m.ngeom)
             if m.body(int(m.geom_bodyid[g])).name.endswith("_shin")]
    assert len(shins) == 2
    nearest = min(float(np.min(np.linalg.norm(world - shin, axis=1))) for shin in shins)
    assert nearest < 0.12                      # on a shin's surface (capsule + noise)
    # turned by 90 degrees, the same world points come out (the fan turns with the base)
    turned = scanner.scan(room.data, (x, y, yaw + math.pi / 2))
    assert np.roll(turned, 90)[hits] == pytest.approx(ranges[hits], abs=0.02)


# --- driver and odometry ---------------------------------------------------------------------
def test_driver_limits_ramps_and_times_out():
    driver = BaseDriver(timeout_s=0.5)
    assert driver.command(float("nan"), 0.0, 0.0, 0.0) is not None
    assert driver.command(3.0, 0.0, 5.0, 0.0) is None       # clipped to the limits
    out = driver.step(0.0, 0.01)
    assert out[0] == pytest.approx(0.005) and out[2] == pytest.approx(0.015)
    for k in range(200):
        driver.command(3.0, 0.0, 5.0, k * 0.01)
        out = driver.step(k * 0.01, 0.01)
    assert out[0] == pytest.approx(0.5) and out[2] == pytest.approx(1.0)
    assert not driver.timed_out(2.4) and driver.timed_out(2.6)
    for k in range(200):
        out = driver.step(2.6 + k * 0.01, 0.01)
    assert np.allclose(out, 0.0)


def test_odometry_drifts_like_wheels_do():
    errors = OdometryErrors(linear_scale=0.02, angular_scale=-0.02, linear_noise=0.0,
                            angular_noise=0.0)
    odom = WheelOdometry(errors, np.random.default_rng(0))
    for _ in range(1000):                      # 10 s straight at 0.5 m/s
        odom.update(np.array([0.5, 0.0, 0.0]), 0.01)
    assert odom.x == pytest.approx(5.0 * 1.02)
    assert odom.y == pytest.approx(0.0)
    for _ in range(1000):                      # 10 s turning on the spot at 0.5 rad/s
        odom.update(np.array([0.0, 0.0, 0.5]), 0.01)
    assert odom.yaw == pytest.approx(math.remainder(5.0 * 0.98, 2 * math.pi), abs=1e-6)
    var_x, _, var_yaw = odom.covariance()
    assert var_x > 0.01 and var_yaw > 0.01     # grows with what was travelled


def test_person_reaches_only_for_an_object_held_out_to_them_and_still(room, monkeypatch):
    """A receiver starts reaching once the object has come to rest within reach of their
    shoulder (HANDOVER_PRESENTED_S), not while the robot's arm still carries it along."""
    from foresight_simulation.home_scene import HANDOVER_PRESENTED_S
    from foresight_simulation.person import shoulder_position

    room.reset()
    m, d = room.model, room.data
    monkeypatch.setattr(room, "held_object", lambda: "cup")
    cup = m.body("cup").id
    adr = m.jnt_qposadr[m.body_jntadr[cup]]
    dof = m.jnt_dofadr[m.body_jntadr[cup]]
    shoulder = shoulder_position(room._pose, "right")
    yaw = room._pose.yaw
    d.qpos[adr:adr + 3] = shoulder + 0.5 * np.array([math.cos(yaw), math.sin(yaw), 0.0])
    mujoco.mj_forward(m, d)

    def hold(seconds: float, speed: float) -> None:
        for _ in range(int(seconds / m.opt.timestep)):
            d.qvel[dof:dof + 3] = (speed, 0.0, 0.0)
            d.time += m.opt.timestep
            room.step_world()

    hold(1.0, 0.2)                                  # still on its way: nobody reaches
    assert room.handover is None and room.offer_note[0] == "moving_object"
    hold(HANDOVER_PRESENTED_S - 0.05, 0.0)          # held still, not long enough yet
    assert room.handover is None and room.offer_note[0] == "presented"
    hold(0.1, 0.0)
    assert room.person_reaching() and room.offer_note[0] == "reaching"


def _held_cup_and_shoulder(room, monkeypatch):
    """The room reset, the robot said to hold the cup: the cup's body, its free joint's
    qpos address, the person's right shoulder and the way they face."""
    from foresight_simulation.person import shoulder_position

    room.reset()
    monkeypatch.setattr(room, "held_object", lambda: "cup")
    m = room.model
    cup = m.body("cup").id
    yaw = room._pose.yaw
    return (cup, m.jnt_qposadr[m.body_jntadr[cup]], shoulder_position(room._pose, "right"),
            np.array([math.cos(yaw), math.sin(yaw), 0.0]))


def test_a_hand_on_a_held_object_pulls_it_towards_the_person(room, monkeypatch):
    """While the robot still holds the object, the receiver's hand on it pulls it towards
    their shoulder with HANDOVER_PULL_N (what the robot's wrist sensor feels); a hand not
    on it pulls nothing, and the pull ends with the hand-over."""
    from foresight_simulation.home_scene import HANDOVER_PULL_N, HANDOVER_TAKE_DIST, Handover

    cup, adr, shoulder, ahead = _held_cup_and_shoulder(room, monkeypatch)
    m, d = room.model, room.data
    d.qpos[adr:adr + 3] = shoulder + 0.6 * ahead + np.array([0.0, 0.0, -0.3])
    mujoco.mj_forward(m, d)
    far = d.xpos[cup] + np.array([0.0, 0.0, -3.0 * HANDOVER_TAKE_DIST])
    room.handover = Handover(HandoverArm("right", far, 1e-6), started=0.0, last_offer=0.0)

    def advance() -> None:
        d.time += PERSON_UPDATE_S
        room.step_world()

    advance()
    assert np.all(d.xfrc_applied[cup] == 0.0)            # the hand is not on it yet
    room.handover.arm.position = d.xpos[cup].copy()
    advance()
    pull = d.xfrc_applied[cup, :3]
    towards = (shoulder - d.xpos[cup])[:2]
    assert np.linalg.norm(pull) == pytest.approx(HANDOVER_PULL_N)
    assert pull[2] == 0.0
    assert float(pull[:2] @ towards) / np.linalg.norm(towards) == pytest.approx(HANDOVER_PULL_N)
    assert room.offer_note[0] == "pulling"
    monkeypatch.setattr(room, "held_object", lambda: "")  # the fingers let go
    advance()
    assert np.all(d.xfrc_applied[cup] == 0.0)


def test_a_reach_for_an_object_carried_off_ends_after_the_persons_patience(room, monkeypatch):
    """A person who reached for an object held out in passing lowers their hand once it is
    carried beyond their reach (HANDOVER_PATIENCE_S later), though the robot still holds
    it; while it stays within reach they keep reaching for it."""
    from foresight_simulation.home_scene import HANDOVER_OFFER_DIST, HANDOVER_PATIENCE_S, Handover

    _cup, adr, shoulder, ahead = _held_cup_and_shoulder(room, monkeypatch)
    m, d = room.model, room.data

    def hold_at(distance: float, seconds: float) -> None:
        d.qpos[adr:adr + 3] = shoulder + distance * ahead
        mujoco.mj_forward(m, d)
        for _ in range(int(seconds / PERSON_UPDATE_S)):
            d.time += PERSON_UPDATE_S
            room.step_world()

    room.handover = Handover(HandoverArm("right", room._poses["right_hand"][0], 0.5),
                             started=0.0, last_offer=0.0)
    hold_at(HANDOVER_OFFER_DIST - 0.05, 2.0 * HANDOVER_PATIENCE_S)
    assert room.person_reaching() and not room.handover.returning
    hold_at(HANDOVER_OFFER_DIST + 0.5, HANDOVER_PATIENCE_S - 0.5)     # carried off
    assert room.person_reaching() and not room.handover.returning
    hold_at(HANDOVER_OFFER_DIST + 0.5, 3.0)
    assert room.handover is None and not room.person_reaching()


def test_a_walking_person_waits_for_the_robot_in_their_way_then_squeezes_past(room):
    """The robot stands on the person's way, 1 m ahead of them mid-walk: they stop short of
    it (no part of them nearer than the yield gap, torso status "yielding") and wait; the
    robot drives off and they walk on at once. Left standing there, they wait YIELD_MAX_S,
    then walk on through (their schedule slipped by the wait)."""
    from foresight_simulation.home_scene import YIELD_GAP_M, YIELD_MAX_S

    def walk_into_robot(seconds: float, drive_off_at: float | None = None) -> list[float]:
        room.reset()
        d = room.data
        walk = next(ph for ph in room.schedule.phases if ph.kind == "walk" and
                    ph.t1 - ph.t0 > 4.0)
        t0 = walk.t0 + 1.0
        here = room.schedule.pose(t0)
        ahead = room.schedule.pose(t0 + 1.0 / max(room.schedule.walk_speed, 0.1))
        d.qpos[room.base_qpos] = (ahead.xy[0], ahead.xy[1], ahead.yaw + math.pi / 2.0)
        assert math.dist(here.xy, ahead.xy) > 0.6
        room._paused = -t0               # the schedule's t0 now
        gaps, t = [], 0.0
        while t < seconds:
            t += PERSON_UPDATE_S
            d.time = t
            if drive_off_at is not None and t >= drive_off_at:
                d.qpos[room.base_qpos[:2]] += (5.0, 5.0)
            room.step_world()
            gaps.append(room._gap_to_robot(room._poses))
        return gaps

    gaps = walk_into_robot(4.0)
    assert room.person_yielding() and room.part_status()["person/torso"] == "yielding"
    assert min(gaps) >= YIELD_GAP_M and gaps[-1] < 0.3        # stopped just short
    mujoco.mj_forward(room.model, room.data)       # nothing of them touches the robot
    assert room.separation(cutoff=0.5)[0] > 0.0 and "person" not in room.robot_contacts()
    assert room._pose.gait == 0.0                   # standing while they wait
    walk_into_robot(5.0, drive_off_at=4.0)
    assert not room.person_yielding() and "person/torso" not in room.part_status()
    gaps = walk_into_robot(YIELD_MAX_S + 3.0)
    assert min(gaps) < 0.0                          # squeezed past, through the robot
    # ... walking, not held up any more (they had counted as waiting until the walk ended)
    assert not room.person_yielding() and "person/torso" not in room.part_status()
    assert room._pose.gait > 0.0


def test_the_reaching_hand_on_the_gripper_is_reported_as_the_hand_overs_touch(room):
    """Only the hand stretched out for a hand-over touching the robot's gripper is
    HANDOVER_TOUCH (the judge's window decides); the same hand at rest there is "person"."""
    from foresight_common.home_tasks import HANDOVER_TOUCH
    from foresight_simulation.home_scene import Handover

    room.reset()
    m, d = room.model, room.data
    tcp = room.tcp_position()
    room.handover = Handover(HandoverArm("right", tcp, 0.5), started=0.0, last_offer=0.0)
    room._poses = room._set_person(0.0)
    mujoco.mj_forward(m, d)
    assert room.person_reaching()
    assert room.robot_contacts() == [HANDOVER_TOUCH]
    room.handover.returning = True                   # not reaching any more: the person
    assert room.robot_contacts() == ["person"]
    room.handover = None
    room._poses = room._set_person(0.0)
    mujoco.mj_forward(m, d)
    assert "person" not in room.robot_contacts()


def test_person_takes_an_offered_object_and_keeps_it(room):
    """The hand-over from the person's side: a hand stretched out for the cup closes on it
    once it is within reach of the hand and nothing else holds it; the cup then stays in
    the hand (it does not drop) while the hand returns to rest."""
    from foresight_simulation.home_scene import HANDOVER_KEEP_S, Handover

    room.reset()
    m, d = room.model, room.data
    hand = room._poses["right_hand"][0]
    room.handover = Handover(HandoverArm("right", hand, 0.5), started=0.0, last_offer=0.0)
    assert room.person_reaching()
    assert room.part_status()["person/right_hand"] == "reaching"
    # the cup appears right at the hand (as if the robot had just opened its fingers there)
    cup = m.body("cup").id
    adr = m.jnt_qposadr[m.body_jntadr[cup]]
    d.qpos[adr:adr + 3] = hand + np.array([0.0, 0.0, 0.06])
    mujoco.mj_forward(m, d)
    heights = []
    for _ in range(int((HANDOVER_KEEP_S + 2.5) / m.opt.timestep)):
        room.step_world()
        mujoco.mj_step(m, d)
        heights.append(float(d.xpos[cup][2]))
    assert room.object_status()["cup"] == "handed_over"
    assert min(heights) > 0.3                       # never fell to the floor
    assert room.handover is None                    # hand back at rest, schedule resumed
    assert not room.person_reaching()
    rest = room._poses["right_hand"][0]
    assert np.linalg.norm(d.xpos[cup] - rest) < 0.15   # the cup came along
