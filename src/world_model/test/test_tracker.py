"""Tracker unit tests: occlusion by the arm, birth and death, association per class, motion
classes, people, yaw, geometry helpers. Synthetic detections with known truth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foresight_common.cell_layout import load_cell_layout
from foresight_world_model.tracker import (
    ArmState,
    BeltRegion,
    DetectionFrame,
    KalmanState,
    MotionClass,
    MultiObjectTracker,
    ObjectDetection,
    PersonObservation,
    SceneGeometry,
    TrackerConfig,
    align_sides,
    line_fit,
    occluded_mask,
    segment_distances,
    wrap,
)

CELL = Path(__file__).resolve().parents[3] / "config" / "cells" / "industrial_cell.yaml"
DT = 1.0 / 15.0
CAMERA = (0.45, -0.10, 2.0)
BELT = BeltRegion(start=(0.40, -1.0), end=(0.40, -0.33), width=0.12, top_z=0.80,
                  landing=(0.40, -0.28, 0.783))


def det(label: str, position, noise: float = 0.0, rng=None, **kwargs) -> ObjectDetection:
    p = np.asarray(position, float)
    if noise and rng is not None:
        p = p + rng.normal(0.0, noise, 3)
    return ObjectDetection(label, p, np.eye(3) * max(noise, 0.003) ** 2, **kwargs)


def arm_over(x: float, y: float) -> ArmState:
    """One horizontal link 30 cm above the bench, centred at (x, y), along x."""
    segment = np.array([[[x - 0.15, y, 1.05], [x + 0.15, y, 1.05]]])
    return ArmState(segment, np.array([x + 0.15, y, 1.0]), np.zeros(3), 0.08,
                    radii=np.array([0.05]))


def far_arm() -> ArmState:
    return arm_over(-1.0, -1.0)


# --- geometry ---------------------------------------------------------------------------------
def test_segment_distances_hand_computed() -> None:
    p0 = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    p1 = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    q0 = np.array([[0.5, 1.0, 0.0], [2.0, 0.0, 0.0]])
    q1 = np.array([[0.5, 2.0, 0.0], [3.0, 0.0, 1.0]])
    d = segment_distances(p0, p1, q0, q1)
    # crossing at right angles 1 m apart; collinear 1 m gap; a point to both
    assert d[0, 0] == pytest.approx(1.0)
    assert d[0, 1] == pytest.approx(1.0)
    assert d[2, 0] == pytest.approx(math.hypot(0.5, 1.0))
    assert d[2, 1] == pytest.approx(2.0)
    skew = segment_distances(np.array([[0.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 0.0]]),
                             np.array([[0.0, 1.0, 0.3]]), np.array([[1.0, 0.0, 0.3]]))
    assert skew[0, 0] == pytest.approx(0.3)


def test_occlusion_uses_line_of_sight_from_camera() -> None:
    part = np.array([[0.30, 0.30, 0.78]])
    # a link on the line of sight, high up: hides the part although 27 cm away from it
    ray = np.array(CAMERA) + (part[0] - CAMERA) * (2.0 - 1.05) / (2.0 - 0.78)
    above = arm_over(ray[0], ray[1])
    assert occluded_mask(part, above, 0.05, CAMERA)[0]
    assert not occluded_mask(part, above, 0.05, None)[0]      # 3D distance alone: far
    assert not occluded_mask(part, arm_over(0.8, 0.3), 0.05, CAMERA)[0]
    assert not occluded_mask(part, None, 0.05, CAMERA)[0]


def test_wrap() -> None:
    assert wrap(3.5) == pytest.approx(3.5 - 2 * math.pi)
    assert wrap(math.pi / 2 + 0.1, math.pi / 2) == pytest.approx(0.1)


# --- occlusion through a moving arm -----------------------------------------------------------
def run_sweep(with_arm: bool) -> tuple[list[set[int]], int]:
    """A static part; an arm link sweeps over it so that the camera loses it for > 2 s."""
    rng = np.random.default_rng(1)
    part = np.array([0.30, 0.30, 0.78])
    tracker = MultiObjectTracker(scene=SceneGeometry(camera_position=CAMERA))
    ids_per_frame, hidden_frames = [], 0
    for k in range(int(8.0 / DT)):
        t = 0.1 + k * DT
        # the link moves along y at 4 cm/s and passes over the part between ~2.5 s and ~5 s
        ray = np.array(CAMERA) + (part - CAMERA) * (2.0 - 1.05) / (2.0 - 0.78)
        arm = arm_over(ray[0], ray[1] - 0.16 + 0.04 * (t - 0.1))
        hidden = occluded_mask(part[None], arm, 0.05, CAMERA)[0]
        hidden_frames += int(hidden)
        dets = [] if hidden else [det("peg_round", part, 0.003, rng)]
        result = tracker.update(DetectionFrame(t, dets), arm if with_arm else None)
        ids_per_frame.append({tr.id for tr in result.tracks})
    return ids_per_frame, hidden_frames


def test_ids_stable_through_2s_occlusion_by_moving_arm() -> None:
    ids, hidden = run_sweep(with_arm=True)
    assert hidden * DT >= 2.0, "the link must hide the part for at least 2 s"
    seen = set().union(*ids)
    assert len(seen) == 1
    assert all(frame == seen for frame in ids[3:]), "track lost while hidden"


def test_without_arm_the_hidden_track_dies() -> None:
    """Control for the test above: the same frames without the arm lose the id."""
    ids, _hidden = run_sweep(with_arm=False)
    assert len(set().union(*ids)) == 2


# --- birth and death --------------------------------------------------------------------------
def test_birth_after_k_hits_and_death_after_misses() -> None:
    cfg = TrackerConfig(birth_hits=3, death_misses=5, tentative_max_misses=2)
    tracker = MultiObjectTracker(cfg)
    p = [0.3, 0.2, 0.78]
    t = 1.0
    for hits in (1, 2):
        result = tracker.update(DetectionFrame(t, [det("peg_square", p)]))
        assert result.tracks == (), f"confirmed after {hits} hit(s)"
        t += DT
    result = tracker.update(DetectionFrame(t, [det("peg_square", p)]))
    assert len(result.tracks) == 1 and result.born == (result.tracks[0].id,)
    first = result.tracks[0].id
    for miss in range(1, 5):
        t += DT
        result = tracker.update(DetectionFrame(t, []))
        assert [tr.missed for tr in result.tracks] == [miss]
    t += DT
    result = tracker.update(DetectionFrame(t, []))
    assert result.tracks == () and result.lost == (first,)
    # a new track for the same place gets a new id (ids are never reused)
    for _ in range(3):
        t += DT
        result = tracker.update(DetectionFrame(t, [det("peg_square", p)]))
    assert len(result.tracks) == 1 and result.tracks[0].id > first


def test_a_person_is_published_at_first_sight_a_part_after_birth_hits() -> None:
    """The safety supervisor stops for a hand it is told about: a person must not wait
    for confirmation the way a part does (a false person only costs a stop)."""
    tracker = MultiObjectTracker(TrackerConfig(birth_hits=3))
    hand = np.array([0.8, 0.2, 0.9])
    result = tracker.update(DetectionFrame(1.0, [det("peg_square", [0.3, 0.2, 0.78])],
                                           people=[PersonObservation({"right_hand": hand})]))
    assert result.tracks == ()
    assert len(result.people) == 1 and "right_hand" in result.people[0].keypoints
    waiting = MultiObjectTracker(TrackerConfig(person_birth_hits=2))
    first = waiting.update(DetectionFrame(1.0, people=[PersonObservation({"left_hand": hand})]))
    second = waiting.update(DetectionFrame(1.0 + DT, people=[
        PersonObservation({"left_hand": hand})]))
    assert first.people == () and len(second.people) == 1


def test_tentative_track_dies_fast_and_is_never_published() -> None:
    tracker = MultiObjectTracker(TrackerConfig(birth_hits=3, tentative_max_misses=2))
    tracker.update(DetectionFrame(1.0, [det("peg_slot", [0.3, 0.2, 0.78])]))
    tracker.update(DetectionFrame(1.0 + DT, []))
    tracker.update(DetectionFrame(1.0 + 2 * DT, []))
    assert tracker.tracks() == () and tracker._objects == []


def test_old_frames_are_ignored() -> None:
    tracker = MultiObjectTracker(TrackerConfig(birth_hits=1))
    tracker.update(DetectionFrame(2.0, [det("peg_slot", [0.3, 0.2, 0.78])]))
    result = tracker.update(DetectionFrame(1.0, [det("peg_slot", [0.5, 0.2, 0.78])]))
    assert len(result.tracks) == 1 and tracker.stamp == 2.0


# --- association ------------------------------------------------------------------------------
def test_two_close_parts_of_different_classes_keep_their_ids() -> None:
    """1.5 cm apart (inside each other's gates), detections in random order: a detection
    only ever updates the track of its own label."""
    rng = np.random.default_rng(2)
    round_p, square_p = np.array([0.30, 0.30, 0.78]), np.array([0.315, 0.30, 0.78])
    tracker = MultiObjectTracker()
    ids = None
    for k in range(60):
        dets = [det("peg_round", round_p, 0.003, rng), det("peg_square", square_p, 0.003, rng)]
        if rng.random() < 0.5:
            dets.reverse()
        result = tracker.update(DetectionFrame(1.0 + k * DT, dets))
        if len(result.tracks) == 2:
            now = {tr.label: tr.id for tr in result.tracks}
            ids = ids or now
            assert now == ids
    by_label = {tr.label: tr for tr in tracker.tracks()}
    assert np.linalg.norm(by_label["peg_round"].position - round_p) < 0.004
    assert np.linalg.norm(by_label["peg_square"].position - square_p) < 0.004


def test_two_parts_of_one_class_crossing_gates_stay_apart() -> None:
    rng = np.random.default_rng(3)
    a, b = np.array([0.30, 0.30, 0.78]), np.array([0.30, 0.40, 0.78])
    tracker = MultiObjectTracker()
    for k in range(45):
        tracker.update(DetectionFrame(1.0 + k * DT, [det("peg_round", b, 0.003, rng),
                                                     det("peg_round", a, 0.003, rng)]))
    tracks = sorted(tracker.tracks(), key=lambda tr: tr.position[1])
    assert len(tracks) == 2
    assert np.linalg.norm(tracks[0].position - a) < 0.005
    assert np.linalg.norm(tracks[1].position - b) < 0.005


# --- motion classes ---------------------------------------------------------------------------
def test_conveyor_part_is_classified_with_its_speed() -> None:
    rng = np.random.default_rng(4)
    tracker = MultiObjectTracker(scene=SceneGeometry(CAMERA, BELT))
    speed = 0.07
    for k in range(40):
        t = 1.0 + k * DT
        p = np.array([0.40, -0.95 + speed * (t - 1.0), 0.8275])
        tracker.update(DetectionFrame(t, [det("peg_slot", p, 0.003, rng),
                                          det("peg_round", [0.25, 0.30, 0.78], 0.003, rng)]))
    tracks = {tr.label: tr for tr in tracker.tracks()}
    conveyor, static = tracks["peg_slot"], tracks["peg_round"]
    assert conveyor.motion_class == MotionClass.CONVEYOR
    assert conveyor.velocity @ BELT.direction == pytest.approx(speed, abs=0.005)
    assert static.motion_class == MotionClass.STATIC


def test_conveyor_speed_is_a_line_through_the_ride_not_the_filters_noisy_velocity() -> None:
    """Intercepts are planned 2-4 s ahead: after 2.5 s of 3 mm detections the along-belt
    speed is known to about 1 mm/s (a constant-velocity filter stays near 2.5 mm/s, i.e.
    1 cm at the gripper), and the position is the line's, not lagging behind."""
    speed = 0.063
    speed_errors, position_errors = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        tracker = MultiObjectTracker(scene=SceneGeometry(CAMERA, BELT))
        for k in range(38):
            t = 1.0 + k * DT
            truth = np.array([0.40, -0.94 + speed * (t - 1.0), 0.8275])
            tracker.update(DetectionFrame(t, [det("peg_slot", truth, 0.003, rng)]))
        (track,) = tracker.tracks()
        assert track.motion_class == MotionClass.CONVEYOR
        speed_errors.append(track.velocity @ BELT.direction - speed)
        position_errors.append(np.linalg.norm(track.position[:2] - truth[:2]))
    assert np.sqrt(np.mean(np.square(speed_errors))) < 0.0015
    assert np.sqrt(np.mean(np.square(position_errors))) < 0.002


def test_part_leaving_the_belt_keeps_its_id() -> None:
    rng = np.random.default_rng(5)
    tracker = MultiObjectTracker(scene=SceneGeometry(CAMERA, BELT))
    ids = set()
    for k in range(90):
        t = 1.0 + k * DT
        y = -0.45 + 0.08 * (t - 1.0)
        p = [0.40, y, 0.8275] if y < -0.32 else [0.40, -0.28, 0.783]   # lands in the bin
        result = tracker.update(DetectionFrame(t, [det("peg_slot", p, 0.003, rng)]))
        ids |= {tr.id for tr in result.tracks}
    assert len(ids) == 1
    assert tracker.tracks()[0].motion_class == MotionClass.STATIC


def test_part_held_by_gripper_follows_tcp_while_hidden() -> None:
    cfg = TrackerConfig()
    tracker = MultiObjectTracker(cfg, SceneGeometry(CAMERA))
    part = np.array([0.50, 0.10, 0.78])
    t = 1.0
    tcp = part + np.array([0.0, 0.0, 0.01])
    for _ in range(20):   # seen, gripper open above it
        arm = ArmState(np.array([[tcp + [0, 0, 0.1], tcp + [0, 0, 0.3]]]), tcp, np.zeros(3),
                       0.08, np.array([0.04]))
        tracker.update(DetectionFrame(t, [det("peg_round", part)]), arm)
        t += DT
    assert tracker.tracks()[0].motion_class == MotionClass.INTERACTING
    velocity = np.array([0.0, 0.1, 0.1])
    for _ in range(15):   # gripper closed on it, lifting and moving: hidden under the hand
        tcp = tcp + velocity * DT
        arm = ArmState(np.array([[tcp + [0, 0, 0.1], tcp + [0, 0, 0.3]]]), tcp, velocity,
                       0.038, np.array([0.04]))
        result = tracker.update(DetectionFrame(t, []), arm)
        t += DT
    track = result.tracks[0]
    assert track.motion_class == MotionClass.INTERACTING and track.occluded
    assert np.linalg.norm(track.position - (tcp - [0, 0, 0.01])) < 0.005
    assert track.velocity == pytest.approx(velocity)


# --- people -----------------------------------------------------------------------------------
def test_person_keypoints_share_one_id_and_hidden_hand_is_kept() -> None:
    tracker = MultiObjectTracker(TrackerConfig(keypoint_max_misses=5),
                                 SceneGeometry(CAMERA))
    torso = np.array([1.05, 0.10, 1.2])
    hand = np.array([0.80, 0.20, 0.90])
    t = 1.0
    for _ in range(10):
        obs = PersonObservation({"torso": torso, "right_hand": hand},
                                {"torso": 1e-4, "right_hand": 1e-4})
        result = tracker.update(DetectionFrame(t, people=[obs]))
        t += DT
    assert len(result.people) == 1
    person = result.people[0]
    assert set(person.keypoints) == {"torso", "right_hand"}
    assert {kp.id for kp in person.keypoints.values()} == {person.id}
    ray = np.array(CAMERA) + (hand - CAMERA) * (2.0 - 1.05) / (2.0 - hand[2])
    arm = arm_over(ray[0], ray[1])
    last_seen = t - DT
    for _ in range(20):   # the hand is hidden by the arm for 1.3 s: kept, not aged
        result = tracker.update(DetectionFrame(t, people=[PersonObservation(
            {"torso": torso})]), arm)
        t += DT
    assert "right_hand" in result.people[0].keypoints
    # ... but it says when it was last measured (a safety user grows its region with that)
    assert result.people[0].keypoints["right_hand"].measured_at == pytest.approx(last_seen)
    assert result.people[0].keypoints["torso"].measured_at == pytest.approx(t - DT)
    for _ in range(6):    # not hidden, not seen: dropped after keypoint_max_misses
        result = tracker.update(DetectionFrame(t, people=[PersonObservation(
            {"torso": torso})]), far_arm())
        t += DT
    assert set(result.people[0].keypoints) == {"torso"}
    assert result.people[0].id == person.id


def test_a_hand_hidden_longer_than_keypoint_max_hidden_s_is_dropped() -> None:
    """An arm standing still over a hand would otherwise keep it (and the safety stop it
    causes) forever."""
    tracker = MultiObjectTracker(TrackerConfig(keypoint_max_hidden_s=1.0), SceneGeometry(CAMERA))
    torso, hand = np.array([1.15, 0.10, 1.20]), np.array([0.80, 0.20, 0.90])
    ray = np.array(CAMERA) + (hand - CAMERA) * (2.0 - 1.05) / (2.0 - hand[2])
    arm = arm_over(ray[0], ray[1])
    t = 1.0
    tracker.update(DetectionFrame(t, people=[PersonObservation({"torso": torso,
                                                                "right_hand": hand})]))
    kept = []
    for _ in range(25):
        t += DT
        result = tracker.update(DetectionFrame(t, people=[PersonObservation(
            {"torso": torso})]), arm)
        kept.append("right_hand" in result.people[0].keypoints)
    hidden_for = np.arange(1, 26) * DT
    assert kept == list(hidden_for <= 1.0 + 1e-9)


def test_moving_hand_is_followed_by_the_moving_model() -> None:
    tracker = MultiObjectTracker()
    t, p = 1.0, np.array([0.9, 0.1, 0.9])
    for k in range(30):
        p = p + (np.array([-0.8, 0.0, 0.0]) * DT if k >= 10 else 0.0)
        result = tracker.update(DetectionFrame(t, people=[PersonObservation({"left_hand": p})]))
        t += DT
    hand = result.people[0].keypoints["left_hand"]
    assert hand.velocity[0] == pytest.approx(-0.8, abs=0.1)
    assert np.linalg.norm(hand.position - p) < 0.01


def test_align_sides_swaps_only_a_clearly_better_close_fit() -> None:
    tracked = {"left_hand": np.array([0.7, 0.4, 0.9]), "right_hand": np.array([1.0, -0.1, 0.9])}
    # labelled "left" but sits on the tracked right hand: swapped, arm point with it
    obs = PersonObservation({"left_hand": np.array([1.01, -0.1, 0.9]),
                             "left_arm": np.array([1.1, -0.1, 1.0])}, {"left_hand": 4e-4})
    fixed = align_sides(obs, tracked)
    assert set(fixed.keypoints) == {"right_hand", "right_arm"}
    assert fixed.variances == {"right_hand": 4e-4}
    # on its own side already: unchanged
    assert align_sides(PersonObservation({"left_hand": np.array([0.71, 0.4, 0.9])}),
                       tracked).keypoints.keys() == {"left_hand"}
    # only the other side is tracked, but the new hand is 60 cm away: a second hand, kept
    lone = {"right_hand": np.array([1.0, -0.1, 0.9])}
    far = PersonObservation({"left_hand": np.array([1.0, 0.5, 0.9])})
    assert align_sides(far, lone) is far
    near = PersonObservation({"left_hand": np.array([1.02, -0.1, 0.9])})
    assert set(align_sides(near, lone).keypoints) == {"right_hand"}
    # the torso and head are never renamed
    body = PersonObservation({"torso": np.zeros(3)})
    assert align_sides(body, tracked) is body


def test_a_hand_whose_label_flips_keeps_its_track() -> None:
    """One arm seen without the body is labelled by guess; the tracker keeps the identity."""
    tracker = MultiObjectTracker()
    t, p = 1.0, np.array([0.9, 0.1, 0.9])
    for k in range(20):
        name = "right_hand" if k < 10 else "left_hand"
        result = tracker.update(DetectionFrame(t, people=[PersonObservation({name: p})]))
        t += DT
    assert len(result.people) == 1
    assert set(result.people[0].keypoints) == {"right_hand"}


# --- yaw --------------------------------------------------------------------------------------
def test_yaw_is_filtered_across_the_wrap() -> None:
    tracker = MultiObjectTracker(TrackerConfig(birth_hits=1))
    for k in range(20):
        yaw = math.pi - 0.02 if k % 2 else -math.pi + 0.02
        tracker.update(DetectionFrame(1.0 + k * DT, [det("part", [0.3, 0.2, 0.78], yaw=yaw,
                                                         yaw_variance=0.01)]))
    yaw = tracker.tracks()[0].yaw
    assert abs(wrap(yaw - math.pi)) < 0.03


def test_yaw_period_of_square_parts_from_layout() -> None:
    scene = SceneGeometry.from_layout(load_cell_layout(CELL))
    assert scene.yaw_periods["peg_square"] == pytest.approx(math.pi / 2)
    assert scene.yaw_periods["peg_slot"] == pytest.approx(math.pi)
    assert scene.yaw_periods["peg_round"] == 0.0
    tracker = MultiObjectTracker(TrackerConfig(birth_hits=1), scene)
    for k in range(20):   # 0.1 and 0.1 + 90 degrees are the same square part
        yaw = 0.1 + (math.pi / 2 if k % 2 else 0.0)
        tracker.update(DetectionFrame(1.0 + k * DT, [det("peg_square", [0.3, 0.2, 0.78],
                                                         yaw=yaw, yaw_variance=0.01)]))
    assert tracker.tracks()[0].yaw == pytest.approx(0.1, abs=0.02)
    assert scene.belt is not None and scene.belt.length == pytest.approx(0.67)


def test_kalman_filter_converges_on_a_constant_velocity() -> None:
    kf = KalmanState.start(np.zeros(3), np.eye(3) * 1e-6, 1.0)
    for k in range(1, 30):
        kf.predict(0.1, 1e-4)
        kf.update(np.array([0.05 * k, 0.0, 0.0]), np.eye(3) * 1e-6)   # 0.5 m/s
    assert kf.x[3] == pytest.approx(0.5, abs=1e-3)


# --- the arm's geometry from the robot model --------------------------------------------------
def test_arm_geometry_matches_the_robot_model() -> None:
    from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
    from foresight_world_model.tracker import ArmGeometry

    kin = RobotKinematics()
    geometry = ArmGeometry(kin, (0.0, 0.0, 0.75))
    arm = geometry.state(np.array(HOME_POSITIONS), 0.04)
    tcp, _rot = kin.tcp_pose(np.array(HOME_POSITIONS))
    assert arm.tcp == pytest.approx(tcp + [0.0, 0.0, 0.75])
    assert len(arm.segments) == len(arm.radii) >= 9
    assert 0.04 < float(np.median(arm.radii)) < 0.08 and np.max(arm.radii) < 0.1
    # In this lower pose the forearm hides the tray part in slot 0 and the fixture's left
    # holes from the overhead camera (checked by ray casting in the simulated cell); the
    # ready pose (HOME_POSITIONS) was raised so that it hides none of them.
    low = geometry.state(np.array([0.0, -0.35, 0.0, -2.3, 0.0, 1.95, 0.785]), 0.04)
    points = np.array([[0.249, 0.307, 0.783], [0.46, -0.04, 0.80], [0.25, 0.60, 0.78]])
    assert occluded_mask(points, low, 0.07, CAMERA).tolist() == [True, True, False]
    assert not occluded_mask(points, arm, 0.07, CAMERA).any()


def test_arm_geometry_on_a_moving_base_takes_the_base_pose_of_the_moment() -> None:
    """A mobile robot's arm: the base pose handed in (TF at the image stamp) places the
    links as a fixed mounting there would."""
    from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
    from foresight_world_model.tracker import ArmGeometry

    kin = RobotKinematics()
    mount, yaw = (2.0, 1.5, 0.7), 0.8
    fixed = ArmGeometry(kin, mount, yaw).state(np.array(HOME_POSITIONS), 0.04)
    base = np.eye(4)
    base[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0],
                    [0.0, 0.0, 1.0]]
    base[:3, 3] = mount
    moving = ArmGeometry(kin, (0.0, 0.0, 0.0)).state(np.array(HOME_POSITIONS), 0.04, base=base)
    assert moving.segments == pytest.approx(fixed.segments)
    assert moving.tcp == pytest.approx(fixed.tcp)


def test_picked_and_placed_part_keeps_its_id_and_stays_where_released() -> None:
    """Seen in the tray, gripped, carried 20 cm hidden under the hand, released in a hole,
    the gripper leaves: the same track stands at the new place, static again."""
    tracker = MultiObjectTracker(scene=SceneGeometry(CAMERA))
    part, place = np.array([0.30, 0.30, 0.78]), np.array([0.46, 0.15, 0.785])
    t, ids = 1.0, set()

    def arm_at(tcp: np.ndarray, width: float, velocity=np.zeros(3)) -> ArmState:
        return ArmState(np.array([[tcp + [0, 0, 0.1], tcp + [0, 0, 0.4]]]), tcp, velocity,
                        width, np.array([0.04]))

    def step(dets, arm) -> None:
        nonlocal t
        ids.update(tr.id for tr in tracker.update(DetectionFrame(t, dets), arm).tracks)
        t += DT

    for _ in range(20):
        step([det("peg_round", part)], arm_at(part + [0, 0, 0.3], 0.08))
    for _ in range(5):    # down onto it (hidden), close
        step([], arm_at(part, 0.038))
    steps = 30
    velocity = (place - part) / (steps * DT)
    for k in range(1, steps + 1):
        step([], arm_at(part + velocity * k * DT, 0.038, velocity))
    assert np.linalg.norm(tracker.tracks()[0].position - place) < 0.01
    for _ in range(3):    # open the gripper, still above it
        step([], arm_at(place, 0.08))
    for k in range(1, 30):   # leave upwards; the part is seen again where it was released
        tcp = place + [0, 0, 0.02 * k]
        step([det("peg_round", place)] if k > 5 else [], arm_at(tcp, 0.08, [0, 0, 0.3]))
    track = tracker.tracks()[0]
    assert len(ids) == 1
    assert np.linalg.norm(track.position - place) < 0.005
    assert track.motion_class == MotionClass.STATIC


def test_a_person_seen_nowhere_keeps_hidden_keypoints_and_drops_the_others() -> None:
    """A frame without the person at all (the hands went back out of the camera's view, or
    the arm hides the one hand in view): what the arm hides is kept, the rest is dropped
    after keypoint_max_misses frames instead of lingering with a growing age."""
    tracker = MultiObjectTracker(TrackerConfig(keypoint_max_misses=3, person_death_misses=15),
                                 SceneGeometry(CAMERA))
    hidden_hand = np.array([0.80, 0.20, 0.90])
    gone_hand = np.array([0.95, -0.10, 0.95])
    t = 1.0
    for _ in range(5):
        tracker.update(DetectionFrame(t, people=[PersonObservation(
            {"right_hand": hidden_hand, "left_hand": gone_hand},
            {"right_hand": 1e-4, "left_hand": 1e-4})]))
        t += DT
    ray = np.array(CAMERA) + (hidden_hand - CAMERA) * (2.0 - 1.05) / (2.0 - hidden_hand[2])
    arm = arm_over(ray[0], ray[1])
    for frames in range(1, 6):
        result = tracker.update(DetectionFrame(t, people=[]), arm)
        t += DT
        kept = set(result.people[0].keypoints) if result.people else set()
        assert "right_hand" in kept
        assert ("left_hand" in kept) == (frames < 3), (frames, kept)


def test_a_person_the_arm_hides_from_a_moving_camera_is_kept_until_max_hidden() -> None:
    """A head camera behind an arm held out to a person sees only the arm: the person keeps
    their id and keypoints (not missed) for keypoint_max_hidden_s. The lines of sight start
    at the camera the frame names (the scene has none: with no camera named, only the 3D
    proximity to the arm counts: the keypoints are missed and dropped)."""
    config = TrackerConfig(keypoint_max_hidden_s=2.05)
    head = (0.0, 0.0, 1.45)
    torso, hand = np.array([1.5, 0.0, 1.2]), np.array([1.2, 0.1, 1.0])
    arm = ArmState(np.array([[[0.5, 0.0, 0.9], [0.5, 0.0, 1.5]]]), np.array([0.5, 0.0, 0.9]),
                   np.zeros(3), 0.06, radii=np.array([0.1]))
    for camera in (head, None):
        tracker = MultiObjectTracker(config, SceneGeometry())
        t = 1.0
        for _ in range(5):
            result = tracker.update(DetectionFrame(t, people=[PersonObservation(
                {"torso": torso, "right_hand": hand})], camera_position=head))
            t += DT
        first = result.people[0].id
        seen = []
        for _ in range(45):                       # 3 s with the arm in front
            result = tracker.update(DetectionFrame(t, camera_position=camera), arm)
            seen.append(bool(result.people) and result.people[0].id == first
                        and set(result.people[0].keypoints) == {"torso", "right_hand"})
            t += DT
        hidden_for = np.arange(1, 46) * DT
        if camera is None:
            assert seen == [k < config.keypoint_max_misses for k in range(1, 46)]
        else:
            assert seen == list(hidden_for <= 2.05)


def test_line_fit_leaves_out_positions_seen_cut_by_the_image_edge() -> None:
    """A part riding at 0.08 m/s seen for 1 s at 15 Hz with 1 mm noise (as the
    classical detector on the belt, offline); its first two positions 15 mm ahead (cut by
    the image edge). The plain fit's velocity is off by about 1 cm/s; without those two
    samples it is within 3 mm/s."""
    rng = np.random.default_rng(5)
    t = np.arange(16) / 15.0
    truth = np.outer(t, [0.0, 0.08, 0.0]) + [0.40, -0.90, 0.83]
    seen = truth + rng.normal(0.0, 0.001, truth.shape)
    seen[:2, 1] += 0.015
    history = list(zip(t, seen, strict=True))
    position, velocity = line_fit(history, t[-1])
    assert abs(velocity[1] - 0.08) < 0.003
    np.testing.assert_allclose(position, truth[-1], atol=0.004)
    # the same samples without the outliers' removal (a floor above them) are tilted
    _, plain = line_fit(history, t[-1], outlier_floor_m=0.05)
    assert abs(plain[1] - 0.08) > 0.006
    # clean samples: both fits agree
    clean = list(zip(t, truth + rng.normal(0.0, 0.001, truth.shape), strict=True))
    assert abs(line_fit(clean, t[-1])[1][1] - 0.08) < 0.003
