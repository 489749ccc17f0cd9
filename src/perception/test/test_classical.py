"""The classical detector on frames rendered from the simulated cell (default family, seeds
0-9999, 320x240, with the family's camera noise), judged against the scene's ground truth:
classes, 3-D errors, the conveyor, seated parts, the co-worker's hands and partial
occlusion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight_perception.detector import Frame, ObjectDetection
from foresight_perception.geometry import project

SEEDS = (0, 1, 2, 3, 4)
PART_TOLERANCE = 0.01       # m, 3-D, static parts (issue 4: p95 <= 1 cm)


def nearest(detections: list[ObjectDetection], label: str, position) -> tuple[
        ObjectDetection | None, float]:
    candidates = [d for d in detections if d.label == label]
    if not candidates:
        return None, math.inf
    best = min(candidates, key=lambda d: float(np.linalg.norm(d.position - position)))
    return best, float(np.linalg.norm(best.position - np.asarray(position)))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_part_hole_and_the_tray_are_found_with_their_class(make_scene, detector, seed):
    scene = make_scene("default", seed)
    scene.advance(0.5)
    result = detector.detect(scene.frame())
    truths = scene.truth("part") + scene.truth("hole") + scene.truth("tray")
    assert len(scene.truth("part")) == 4 and len(scene.truth("hole")) == 6
    for obj in truths:
        label = obj.type
        found, error = nearest(list(result.objects), label, obj.position)
        assert found is not None, f"seed {seed}: {obj.name} ({label}) not detected"
        assert error <= PART_TOLERANCE, \
            f"seed {seed}: {obj.name} ({label}) detected {error * 1e3:.1f} mm off"
        assert found.kind == {"part": "part", "hole": "hole", "tray": "container"}[obj.kind]
    # nothing else: every detection is one of these objects
    for det in result.objects:
        _, error = nearest([det], det.label, min(
            (o.position for o in truths if o.type == det.label),
            key=lambda p: float(np.linalg.norm(det.position - p)), default=(9.0, 9.0, 9.0)))
        assert error <= 0.02, f"seed {seed}: false {det.label} at {det.position}"


def test_yaw_of_box_parts_and_the_tray(make_scene, detector):
    scene = make_scene("default", 1)
    scene.place_part("part_1", (0.35, 0.31, scene.cell.layout.tray.floor_top_z + 0.0275),
                     yaw=math.radians(25.0))
    scene.advance(0.3)
    result = detector.detect(scene.frame())
    square = next(o for o in scene.truth("part") if o.name == "part_1")
    found, error = nearest(list(result.objects), square.type, square.position)
    assert found is not None and error <= PART_TOLERANCE
    period = math.pi / 2 if square.type == "peg_square" else math.pi
    true_yaw = 2.0 * math.atan2(square.quat[3], square.quat[0])
    delta = (found.yaw - true_yaw + period / 2) % period - period / 2
    assert abs(delta) < math.radians(6.0)
    assert found.yaw_variance < math.radians(10.0) ** 2
    round_peg = next(d for d in result.objects if d.label == "peg_round")
    assert round_peg.yaw_variance > 1.0          # not observable


def test_a_part_moved_onto_the_conveyor_is_detected_there(make_scene, detector):
    scene = make_scene("default", 0)
    belt = scene.cell.layout.conveyor
    part = next(o for o in scene.truth("part") if o.type == "peg_slot")
    target = (belt.start[0], -0.62, belt.belt_top_z + 0.0275 + 0.0005)
    scene.place_part(part.name, target, yaw=0.4)
    result = detector.detect(scene.frame())
    moved = next(o for o in scene.truth("part") if o.name == part.name)
    found, error = nearest(list(result.objects), part.type, moved.position)
    assert found is not None and error <= PART_TOLERANCE, f"{error * 1e3:.1f} mm"
    assert found.position[2] == pytest.approx(belt.belt_top_z + 0.0275, abs=0.004)


def test_a_part_arriving_on_the_conveyor_is_detected_while_it_moves(make_scene, detector):
    scene = make_scene("default", 2)
    spawn, part = min((p.spawn_time, p) for p in scene.cell.params.parts
                      if p.location == "conveyor")
    scene.advance(spawn + 0.35 / scene.cell.params.conveyor_speed)
    truth = next(o for o in scene.truth("part") if o.name == part.name)
    assert scene.cell.part_status()[part.name] == "on_conveyor"
    result = detector.detect(scene.frame())
    found, error = nearest(list(result.objects), truth.type, truth.position)
    assert found is not None and error <= PART_TOLERANCE, f"{error * 1e3:.1f} mm"


def test_a_seated_part_and_an_empty_hole_are_both_found(make_scene, detector):
    scene = make_scene("default", 3)
    part = next(p for p in scene.cell.params.parts if p.location == "tray")
    holes = [h for h in scene.cell.layout.holes if h.type == part.part_type.hole_type]
    scene.seat(part.name, holes[0].name)
    assert scene.cell.part_status()[part.name] == "seated"
    result = detector.detect(scene.frame())
    seated = next(o for o in scene.truth("part") if o.name == part.name)
    found, error = nearest(list(result.objects), seated.type, seated.position)
    assert found is not None and error <= PART_TOLERANCE, f"seated part {error * 1e3:.1f} mm"
    for hole in holes:                     # the occupied one and the empty one
        found_hole, hole_error = nearest(list(result.objects), hole.type, hole.position)
        assert found_hole is not None and hole_error <= 0.005, \
            f"{hole.name} {hole_error * 1e3:.1f} mm"


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_coworker_hands_within_5_cm_when_visible(make_scene, detector, seed):
    scene = make_scene("default", seed)
    reach = scene.cell.coworker.phases[0]
    scene.advance((reach.t_hold + reach.t_back) / 2.0)     # holding at the target
    frame = scene.frame()
    result = detector.detect(frame)
    assert len(result.people) == 1
    keypoints = result.people[0].keypoints
    checked = 0
    for hand in scene.truth("person"):
        if not hand.type.endswith("hand"):
            continue
        uv, _ = project(np.array([hand.position]), frame.intrinsics, frame.world_from_optical)
        u, v = uv[0]
        if not (12 <= u <= frame.size[0] - 12 and 12 <= v <= frame.size[1] - 12):
            continue
        if not scene.visible(hand.name, hand.position):
            continue                      # behind the body or the bench edge
        reported = {n: k for n, k in keypoints.items() if n.endswith("hand")}
        assert reported, f"{hand.type} not reported: {sorted(keypoints)}"
        name, error = min(((n, float(np.linalg.norm(k.position - hand.position)))
                           for n, k in reported.items()), key=lambda e: e[1])
        assert error <= 0.05, f"seed {seed}: {hand.type} {error * 100:.1f} cm off"
        if len(reported) == 2 or "torso" in keypoints:   # a body cue: the side is known
            assert name == hand.type, f"seed {seed}: {hand.type} reported as {name}"
        checked += 1
    assert checked >= 1                   # the reaching hand is always in view


def occlude(frame: Frame, centre_uv: np.ndarray, side: float, cover: float) -> Frame:
    """Paint a white, high occluder (an arm 90 cm from the camera) over the image from
    `centre_uv` on: `cover` pixels past the part centre towards +u, a band around it."""
    rgb, depth = frame.rgb.copy(), frame.depth.copy()
    u0 = int(round(centre_uv[0] + side))
    v0, v1 = int(centre_uv[1]) - 20, int(centre_uv[1]) + 20
    rgb[v0:v1, u0:u0 + int(cover)] = 235
    depth[v0:v1, u0:u0 + int(cover)] = 0.9
    return Frame(rgb, depth, frame.intrinsics, frame.world_from_optical, frame.stamp)


@pytest.mark.parametrize("label", ("peg_round", "peg_square", "peg_slot"))
def test_a_partly_hidden_part_keeps_an_honest_centre(make_scene, detector, label):
    """A third of the top face under the arm: the part is still found, its centre within
    3 sigma of the truth (the hidden side is completed from the class footprint) and its
    stated uncertainty larger than in open view."""
    frame, part, uv, open_view = _part_in_view(make_scene, detector, label)
    hidden = detector.detect(occlude(frame, uv, 3.0, 40))
    found, error = nearest(list(hidden.objects), label, part.position)
    assert found is not None and error <= 0.03, f"{label} lost under a third occlusion"
    _assert_honest(found, part, open_view, error)


@pytest.mark.parametrize("label", ("peg_round", "peg_square", "peg_slot"))
def test_a_mostly_hidden_part_is_dropped_or_honest(make_scene, detector, label):
    """More than half of the top face hidden: dropped, or kept with an honest centre."""
    frame, part, uv, open_view = _part_in_view(make_scene, detector, label)
    hidden = detector.detect(occlude(frame, uv, -4.0, 40))
    found, error = nearest(list(hidden.objects), label, part.position)
    if found is not None and error <= 0.03:
        _assert_honest(found, part, open_view, error)


def _part_in_view(make_scene, detector, label: str):
    scene = make_scene("default", 0)
    frame = scene.frame()
    part = next(o for o in scene.truth("part") if o.type == label)
    top = np.array(part.position) + (0.0, 0.0, 0.0275)
    uv, _ = project(top[None], frame.intrinsics, frame.world_from_optical)
    open_view, _ = nearest(list(detector.detect(frame).objects), label, part.position)
    assert open_view is not None
    return frame, part, uv[0], open_view


def _assert_honest(found: ObjectDetection, part, open_view: ObjectDetection,
                   error: float) -> None:
    covariance = found.position_covariance
    delta = found.position - np.asarray(part.position)
    mahalanobis = float(np.sqrt(delta[:2] @ np.linalg.solve(covariance[:2, :2], delta[:2])))
    assert mahalanobis <= 3.0, f"{part.type}: {error * 1e3:.1f} mm at {mahalanobis:.1f} sigma"
    assert error <= 0.015
    assert np.trace(covariance) > np.trace(open_view.position_covariance)


def test_low_resolution_still_finds_the_tray_part(make_scene, detector):
    scene = make_scene("smoke", 0, width=160, height=120)
    result = detector.detect(scene.frame())
    part = scene.truth("part")[0]
    found, error = nearest(list(result.objects), part.type, part.position)
    assert found is not None and error <= 0.015, f"{error * 1e3:.1f} mm"
