"""The `upright` back end (the home robot's head camera looking across the room) on frames
the simulation renders, judged by its ground truth: the task objects and the person in
the map frame from several viewpoints and rooms (with the family's lighting, colour jitter
and camera noise); nothing where there is nothing (the room's wood shares the skin's hue, its
walls are nearly white, the chair's legs dark); a bad back-end section fails with a
reason."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from foresight_perception.detector import (
    ConfigError,
    Frame,
    load_class_catalog,
    make_detector,
    parse_class_catalog,
)
from foresight_perception.geometry import Intrinsics
from foresight_perception.upright import UprightDetector
from foresight_perception.upright_people import UprightPersonSettings, depth_edges
from foresight_simulation.home_views import (
    HeadView,
    ViewStats,
    facing_pose,
    in_view,
    measure_views,
    render_view,
    truth,
)
from foresight_simulation.world import build_world

CONFIG = Path(__file__).resolve().parents[3] / "config"
CLASS_FILE = CONFIG / "perception" / "home_classes.yaml"
SIZE = (320, 240)


@pytest.fixture(scope="module")
def detector() -> UprightDetector:
    return make_detector("upright", load_class_catalog(CLASS_FILE))


def _room(family: str, seed: int):
    room = build_world("", family, "", str(CONFIG), seed, "home_care").cell
    room.data.qpos[room.base_qpos] = (0.0, 0.0, 0.0)
    mujoco.mj_forward(room.model, room.data)
    return room


def _detect(detector, view: HeadView):
    return detector.detect(Frame(view.rgb, view.depth, Intrinsics(*view.intrinsics, *SIZE),
                                 view.world_from_optical, 1.0))


def _as_lists(detector):
    """The detector as measure_views wants it: objects (label, position), people
    {keypoint: position}."""
    def detect(view: HeadView):
        result = _detect(detector, view)
        return ([(d.label, d.position) for d in result.objects],
                [{k: kp.position for k, kp in p.keypoints.items()} for p in result.people])
    return detect


SCENES = [("home_smoke", 0)] + [("home_train", k) for k in range(1, 7)]


def test_the_task_objects_are_found_where_the_truth_has_them(detector):
    """Each object of 7 rooms seen from 1.0 and 1.4 m (where the robot looks for it;
    further, the shelf's boards hide the remote and a box is a few pixels), camera noise
    on: found in >= 95 % of the views that have it in the image, within 3.5 cm across
    (p95 < 3 cm) and 2 cm in height; at most 1 detection in 20 views lies more than 5 cm
    from a true object of its class (a table's dark rim has been taken for the remote).
    The same measurement on any family: benchmarks/home_perception.py."""
    stats = ViewStats()
    for family, seed in SCENES:
        measure_views(_room(family, seed), _as_lists(detector), np.random.default_rng(seed),
                      stats, person_distances=())
    summary = stats.summary()
    print(f"\nobjects: {summary}")
    assert summary["recall"] >= 0.95, stats.missed
    assert summary["error_across_m"]["max"] < 0.035
    assert summary["error_across_m"]["p95"] < 0.03
    assert summary["height_error_max_m"] < 0.02
    assert summary["false"] <= summary["views"] / 20, stats.false


@pytest.mark.parametrize("family,seed", SCENES)
def test_the_person_is_found_where_the_truth_has_them(detector, family, seed):
    """From 1.4, 2.0 and 2.6 m: one person, torso within 10 cm, head within 8 cm whenever
    it is in the image (a standing person's head is above the view close by), hands within
    an arm of a true hand (which side is which cannot be told from one view)."""
    room = _room(family, seed)
    rng = np.random.default_rng(seed)
    for distance in (1.4, 2.0, 2.6):
        pose = facing_pose(room, truth(room)["person/torso"], distance)
        assert pose is not None
        view = render_view(room, pose, rng)
        result = _detect(detector, view)
        now = truth(room)
        assert len(result.people) == 1, (pose, result.people)
        keypoints = result.people[0].keypoints
        torso_error = np.linalg.norm(keypoints["torso"].position[:2] - now["person/torso"][:2])
        assert torso_error < 0.10, (pose, keypoints, now)
        if in_view(view, now["person/head"], margin_px=12):
            assert "head" in keypoints, (pose, keypoints)
        if "head" in keypoints:
            assert np.linalg.norm(keypoints["head"].position - now["person/head"]) < 0.08
        for name in ("left_hand", "right_hand"):
            if name in keypoints:
                nearest = min(np.linalg.norm(keypoints[name].position - now[f"person/{h}"])
                              for h in ("left_hand", "right_hand"))
                assert nearest < 0.35, (name, keypoints[name].position, now)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_box_seen_obliquely_from_a_pick_stand_is_centred_along_the_line_of_sight(
        detector, seed):
    """From where the robot stands to pick it (0.65-0.9 m, straight on and 30 degrees to
    either side), the medicine box's centre lies within 6 mm of the truth along the line of
    sight: the fingers close with 1 cm to spare a side, often along that line. (Front face
    plus half the extent put it 0.5-1.9 cm too far, measured; the top face's middle is
    within 3 mm.)"""
    room = _room("home_train", seed)
    box = truth(room)["medicine_box"]
    rng = np.random.default_rng(seed)
    along = []
    for bearing in (-60.0, -90.0, -120.0):               # from the box to the base
        b = math.radians(bearing)
        for distance in (0.65, 0.75, 0.9):
            pose = (box[0] + distance * math.cos(b), box[1] + distance * math.sin(b),
                    b + math.pi)
            result = _detect(detector, render_view(room, pose, rng))
            seen = [d.position for d in result.objects if d.label == "medicine_box"]
            assert len(seen) == 1, (pose, result.objects)
            error = np.asarray(seen[0][:2]) - box[:2]
            along.append(float(error @ -np.array([math.cos(b), math.sin(b)])))
            assert abs(error @ np.array([math.sin(b), -math.cos(b)])) < 0.006, pose
    assert np.max(np.abs(along)) < 0.006, np.round(along, 4)


def test_nothing_in_views_of_the_furniture(detector):
    """The shelf (its remote moved out of the room), the floor, the table top without
    objects and the bed: no object, no person."""
    room = _room("home_smoke", 0)
    for name in ("cup", "medicine_box", "remote"):                # out of the room
        joint = room.model.body(name).jntadr[0]
        address = room.model.jnt_qposadr[joint]
        room.data.qpos[address:address + 3] = (10.0, 10.0, 0.1)
    rng = np.random.default_rng(0)
    for pose in ((1.0, 2.0, math.pi), (1.3, 2.4, -0.6), (2.0, 1.2, -0.2), (3.6, 1.6, -0.3),
                 (1.9, 2.0, 0.3)):
        result = _detect(detector, render_view(room, pose, rng))
        assert result.objects == () and len(result.people) <= 1, pose
        if result.people:                                  # only the person in the chair
            torso = result.people[0].keypoints["torso"].position
            assert np.linalg.norm(torso[:2] - truth(room)["person/torso"][:2]) < 0.15


def test_depth_edges_cut_a_hand_from_the_table_behind():
    """The table's pixels around the hand go (the far side of the step), the hand stays
    whole; a pixel without depth cuts nothing."""
    depth = np.full((20, 20), 2.0, dtype=np.float32)
    depth[5:10, 5:10] = 1.5                       # a hand half a metre in front
    depth[0, 0] = np.nan
    depth[15, 15] = np.nan
    edges = depth_edges(depth, UprightPersonSettings().depth_edge)
    assert edges[4, 7] and edges[10, 7] and edges[7, 4] and edges[7, 10]
    assert not edges[5:10, 5:10].any()
    assert not edges[1, 1] and not edges[14, 15] and not edges[0, 0]


def test_the_home_class_file_configures_the_upright_back_end(detector):
    assert detector.name == "upright"
    assert set(detector.catalog.classes) == {"cup", "medicine_box", "remote"}
    assert detector.config.people.settings.floor_z == 0.0
    assert detector.config.people.settings.hand_sigma == 0.10        # from the file
    assert detector.config.objects.min_range == 0.55


@pytest.mark.parametrize("edit, needle", [
    (lambda c: c["backends"]["upright"]["person"].update(arm_reech=0.9), "arm_reech"),
    (lambda c: c["backends"]["upright"]["objects"].update(min_height=-0.3), "min_height"),
    (lambda c: c["backends"]["upright"]["person"].update(clothing="tartan"), "clothing"),
    (lambda c: c["classes"]["cup"].update(colour="purple"), "purple"),
    (lambda c: c["classes"]["cup"].update(kind="hole", rim=[0.1, 0.1]), "parts only"),
    (lambda c: c["backends"].pop("upright"), "no 'backends.upright'"),
])
def test_bad_upright_sections_fail_with_a_reason(edit, needle):
    config = copy.deepcopy(yaml.safe_load(CLASS_FILE.read_text()))
    edit(config)
    with pytest.raises(ConfigError, match=needle):
        UprightDetector(parse_class_catalog(config, "test.yaml"))
