"""People seen by the home robot's head camera (foresight_perception.upright_people) on
frames the simulation renders, judged by its ground truth: the person's torso and head in
the map frame, found from several viewpoints and rooms; no person where there is none
(skin-coloured furniture: the wooden floor, table, chair and shelf)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import mujoco
import numpy as np
import pytest

from foresight_common.conversions import homogeneous
from foresight_common.occupancy import room_map
from foresight_perception.classical import ColourRange, white_balanced
from foresight_perception.geometry import Intrinsics, PixelGrid
from foresight_perception.upright_people import (
    UprightPersonSettings,
    depth_edges,
    find_upright_people,
)
from foresight_simulation.scene import apply_camera_noise
from foresight_simulation.world import build_world

CONFIG = Path(__file__).resolve().parents[3] / "config"
# the home classes' colours (config/perception/home_classes.yaml)
SKIN = ColourRange(((5.0, 30.0),), (0.18, 0.48), (0.45, 1.0))
CLOTHING = ColourRange(((168.0, 200.0),), (0.35, 1.0), (0.08, 1.0))
SIZE = (320, 240)


def _look(room, pose, rng):
    """Render the head camera with the base at `pose`; the person finder's answer and the
    person's true keypoints (map)."""
    room.data.qpos[room.base_qpos] = pose
    mujoco.mj_forward(room.model, room.data)
    renderer = mujoco.Renderer(room.model, SIZE[1], SIZE[0])
    rgb, depth = room.render_rgbd(renderer)
    renderer.close()
    rgb, depth = apply_camera_noise(rgb, depth, room.params.camera_noise, rng)
    fx, fy, cx, cy = room.camera_intrinsics(*SIZE)
    position, quat = room.camera_pose()
    points = PixelGrid(Intrinsics(fx, fy, cx, cy, *SIZE)).world_points(
        depth.astype(np.float32), homogeneous(position, quat))
    hsv = cv2.cvtColor(white_balanced(rgb), cv2.COLOR_RGB2HSV_FULL)
    people = find_upright_people(points, depth, SKIN.mask(hsv), CLOTHING.mask(hsv), position,
                                 (depth / fx) * (depth / fy))
    truth = {o.name.removeprefix("person/"): np.array(o.position)
             for o in room.ground_truth() if o.name.startswith("person/")}
    return people, truth


def _in_view(room, point, margin_px: int) -> bool:
    """Whether a world point projects into the image, `margin_px` inside its edges (a
    standing person's head is above the view of a camera close by)."""
    position, quat = room.camera_pose()
    optical = np.linalg.inv(homogeneous(position, quat)) @ np.append(point, 1.0)
    if optical[2] <= 0.1:
        return False
    fx, fy, cx, cy = room.camera_intrinsics(*SIZE)
    u, v = fx * optical[0] / optical[2] + cx, fy * optical[1] / optical[2] + cy
    return margin_px <= u < SIZE[0] - margin_px and margin_px <= v < SIZE[1] - margin_px


def _facing(room, target, distance: float):
    """A free base pose `distance` m from `target` (xy) facing it, with nothing on the floor
    between (the first of 12 directions that works)."""
    grid = room_map(room.layout)
    for k in range(12):
        a = 2.0 * math.pi * k / 12
        xy = np.asarray(target[:2]) + distance * np.array([math.cos(a), math.sin(a)])
        line = np.linspace(xy, target[:2], 30)[:-8]
        if grid.clearance(*xy) > 0.5 and np.all(grid.clearance_at(line) > 0.05):
            return (float(xy[0]), float(xy[1]), a + math.pi)
    pytest.skip("no free viewpoint")


@pytest.mark.parametrize("family,seed", [("home_smoke", 0)] + [("home_train", k)
                                                               for k in range(1, 7)])
def test_the_person_is_found_where_the_truth_has_them(family, seed):
    room = build_world("", family, "", str(CONFIG), seed, "home_care").cell
    rng = np.random.default_rng(seed)
    truth = None
    for distance in (1.4, 2.0, 2.6):
        room.data.qpos[room.base_qpos] = (0.0, 0.0, 0.0)
        mujoco.mj_forward(room.model, room.data)
        truth = {o.name.removeprefix("person/"): np.array(o.position)
                 for o in room.ground_truth() if o.name.startswith("person/")}
        pose = _facing(room, truth["torso"], distance)
        people, truth = _look(room, pose, rng)
        assert len(people) == 1, (pose, people)
        keypoints = people[0].keypoints
        torso_error = np.linalg.norm(keypoints["torso"].position[:2] - truth["torso"][:2])
        assert torso_error < 0.10, (pose, keypoints, truth)
        if _in_view(room, truth["head"], margin_px=12):
            assert "head" in keypoints, (pose, keypoints)
        if "head" in keypoints:
            assert np.linalg.norm(keypoints["head"].position - truth["head"]) < 0.08
        for name in ("left_hand", "right_hand"):
            if name in keypoints:        # within an arm of the body (sides may swap)
                nearest = min(np.linalg.norm(keypoints[name].position - truth[h])
                              for h in ("left_hand", "right_hand"))
                assert nearest < 0.35, (name, keypoints[name].position, truth)


def test_no_person_in_a_view_of_skin_coloured_furniture():
    """The shelf, the floor and the table fill the view; the person sits out of it."""
    room = build_world("", "home_smoke", "", str(CONFIG), 0, "home_care").cell
    rng = np.random.default_rng(0)
    for pose in ((1.0, 2.0, math.pi), (1.3, 2.4, -0.6), (2.0, 1.2, -0.2)):
        people, _ = _look(room, pose, rng)
        assert people == [], pose


def test_depth_edges_cut_a_hand_from_the_table_behind():
    depth = np.full((20, 20), 2.0, dtype=np.float32)
    depth[5:10, 5:10] = 1.5                       # a hand half a metre in front
    depth[0, 0] = np.nan
    edges = depth_edges(depth, UprightPersonSettings().depth_edge)
    assert edges[5, 7] and edges[4, 7] and not edges[7, 7] and not edges[15, 15]
    assert edges[1, 1]                            # next to a pixel without depth
