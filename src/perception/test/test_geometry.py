"""Camera geometry: projection round trips, world points per pixel, pixel areas, rotated
rectangles and the completion of partly hidden rectangles, against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from foresight_perception.geometry import (
    Intrinsics,
    PixelGrid,
    complete_rectangle,
    convex_hull,
    deproject,
    is_rigid_transform,
    pixel_area_on_horizontal,
    pixel_pitch,
    project,
    rotated_rect_of_points,
    transform_points,
    wrap_angle,
    yaw_of_axis,
)

INTR = Intrinsics(fx=230.0, fy=230.0, cx=159.5, cy=119.5, width=320, height=240)


def looking_down(height: float = 2.0, x: float = 0.45, y: float = -0.1) -> np.ndarray:
    """world_from_optical of a camera at (x, y, height) looking straight down, image up =
    world +x (the cell's overhead camera): optical z = -world z, optical x = -world y."""
    pose = np.eye(4)
    pose[:3, :3] = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    pose[:3, 3] = (x, y, height)
    return pose


def test_deproject_then_project_is_identity():
    rng = np.random.default_rng(1)
    u = rng.uniform(0, 319, 50)
    v = rng.uniform(0, 239, 50)
    z = rng.uniform(0.5, 2.0, 50)
    pose = looking_down()
    world = transform_points(pose, deproject(u, v, z, INTR))
    uv, depth = project(world, INTR, pose)
    np.testing.assert_allclose(uv[:, 0], u, atol=1e-9)
    np.testing.assert_allclose(uv[:, 1], v, atol=1e-9)
    np.testing.assert_allclose(depth, z, atol=1e-9)


def test_principal_point_pixel_looks_along_the_optical_axis():
    point = deproject(np.array([INTR.cx]), np.array([INTR.cy]), np.array([1.25]), INTR)[0]
    np.testing.assert_allclose(point, (0.0, 0.0, 1.25))
    # 10 pixels right at 1.25 m: 10 * 1.25 / 230 m along optical x
    right = deproject(np.array([INTR.cx + 10]), np.array([INTR.cy]), np.array([1.25]), INTR)[0]
    assert right[0] == pytest.approx(10 * 1.25 / 230.0)


def test_world_points_of_a_flat_floor_come_out_flat():
    pose = looking_down(height=2.0)
    depth = np.full((240, 320), 1.25, dtype=np.float32)     # the bench at z = 0.75
    depth[5, 7] = np.nan
    points = PixelGrid(INTR).world_points(depth, pose)
    assert points.shape == (240, 320, 3)
    assert np.isnan(points[5, 7]).all()
    z = points[..., 2][np.isfinite(points[..., 2])]
    np.testing.assert_allclose(z, 0.75, atol=1e-6)
    # image up is world +x, image right is world -y
    assert points[0, 160, 0] > points[239, 160, 0]
    assert points[120, 319, 1] < points[120, 0, 1]
    centre = points[119:121, 159:161].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(centre[:2], (0.45, -0.1), atol=1e-6)


def test_world_points_agree_with_deproject_for_a_tilted_camera():
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("xyz", (2.6, 0.3, -0.4)).as_matrix()
    pose[:3, 3] = (0.2, -0.3, 1.8)
    rng = np.random.default_rng(2)
    depth = rng.uniform(0.6, 1.8, (240, 320)).astype(np.float32)
    points = PixelGrid(INTR).world_points(depth, pose)
    v, u = 37, 211
    expected = transform_points(pose, deproject(np.array([u]), np.array([v]),
                                                np.array([depth[v, u]]), INTR))[0]
    np.testing.assert_allclose(points[v, u], expected, atol=1e-5)


def test_pixel_area_on_a_horizontal_surface():
    # straight down: (z / f)^2
    assert pixel_area_on_horizontal(1.25, INTR, 1.25) == pytest.approx((1.25 / 230.0) ** 2)
    # off-axis pixel: numeric footprint of the pixel on the plane z = 0 seen from 2 m
    pose = looking_down(height=2.0)
    u, v = 300.0, 20.0

    def hit(du: float, dv: float) -> np.ndarray:
        ray = transform_points(pose, deproject(np.array([u + du]), np.array([v + dv]),
                                               np.array([1.0]), INTR))[0] - pose[:3, 3]
        return pose[:3, 3] + ray * (2.0 / -ray[2])

    a, b, c = hit(0, 0), hit(1, 0), hit(0, 1)
    numeric = abs(np.cross(b - a, c - a)[2])
    z_depth = 2.0                                   # z-depth of every floor point here
    assert pixel_area_on_horizontal(z_depth, INTR, 2.0) == pytest.approx(numeric, rel=1e-3)
    assert pixel_pitch(2.3, INTR) == pytest.approx(0.01)


def test_rigid_transform_check():
    assert is_rigid_transform(looking_down())
    bad = looking_down()
    bad[0, 0] = 2.0
    assert not is_rigid_transform(bad)
    mirrored = np.diag([1.0, 1.0, -1.0, 1.0])
    assert not is_rigid_transform(mirrored)
    nan = looking_down()
    nan[0, 3] = np.nan
    assert not is_rigid_transform(nan)
    assert not is_rigid_transform(np.eye(3))


def test_intrinsics_validity():
    assert INTR.valid()
    assert not Intrinsics(0.0, 230.0, 159.5, 119.5, 320, 240).valid()
    assert not Intrinsics(float("nan"), 230.0, 159.5, 119.5, 320, 240).valid()
    assert not Intrinsics(230.0, 230.0, 5000.0, 119.5, 320, 240).valid()


def test_wrap_angle_folds_into_the_symmetry_period():
    assert wrap_angle(math.radians(100), math.pi / 2) == pytest.approx(math.radians(10))
    assert wrap_angle(math.radians(-80), math.pi / 2) == pytest.approx(math.radians(10))
    assert wrap_angle(math.radians(170), math.pi) == pytest.approx(math.radians(-10))
    assert wrap_angle(3 * math.pi) == pytest.approx(-math.pi)
    assert yaw_of_axis(np.array([0.0, -1.0]), math.pi) == pytest.approx(-math.pi / 2)


def grid_rectangle(width: float, height: float, angle: float, centre=(0.3, 0.4),
                   step: float = 0.002) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(-width / 2, width / 2 + 1e-9, step),
                         np.arange(-height / 2, height / 2 + 1e-9, step))
    local = np.stack([xs.ravel(), ys.ravel()], axis=1)
    c, s = math.cos(angle), math.sin(angle)
    return local @ np.array([[c, s], [-s, c]]) + np.asarray(centre)


@pytest.mark.parametrize("angle", [0.0, 0.3, -1.2, math.pi / 4])
def test_rotated_rectangle_recovers_centre_size_and_angle(angle):
    points = grid_rectangle(0.10, 0.04, angle)
    centre, extents, found = rotated_rect_of_points(points)
    np.testing.assert_allclose(centre, (0.3, 0.4), atol=1e-9)
    # the rectangle's axes may come in either order; yaw is defined modulo 90 deg here
    assert sorted(extents) == pytest.approx([0.04, 0.10], abs=1e-9)
    long_axis = found if extents[0] > extents[1] else found + math.pi / 2
    assert wrap_angle(long_axis - angle, math.pi) == pytest.approx(0.0, abs=1e-9)


def test_convex_hull_of_a_square_with_inner_points():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5], [0.2, 0.7]], dtype=float)
    hull = convex_hull(square)
    assert len(hull) == 4
    assert {tuple(p) for p in hull} == {(0, 0), (1, 0), (1, 1), (0, 1)}


def outline_of(points: np.ndarray, centre, angle: float, width: float, height: float,
               band: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    local = (points - np.asarray(centre)) @ np.array([[c, -s], [s, c]])
    return (np.abs(local[:, 0]) > width / 2 - band) | (np.abs(local[:, 1]) > height / 2 - band)


def test_complete_rectangle_moves_the_centre_towards_the_hidden_side():
    angle = 0.4
    full_centre = np.array([0.30, 0.40])
    # a 0.20 x 0.30 tray whose last 0.08 m along its y axis lie under the arm
    c, s = math.cos(angle), math.sin(angle)
    axis_y = np.array([-s, c])
    visible = grid_rectangle(0.20, 0.22, angle, centre=full_centre - axis_y * 0.04)
    centre, extents, found = rotated_rect_of_points(visible)
    outline = outline_of(visible, centre, found, *extents, band=0.003)
    # the outline along the hidden edge (high local y) borders the arm
    local_y = (visible - full_centre) @ axis_y
    hidden = outline & (local_y > 0.07 - 0.003)
    new_centre, yaw, unresolved = complete_rectangle(
        visible[outline], hidden[outline], (0.20, 0.30), centre, extents, found, 0.006)
    np.testing.assert_allclose(new_centre, full_centre, atol=1e-3)
    assert wrap_angle(yaw - angle, math.pi) == pytest.approx(0.0, abs=1e-6)
    assert unresolved.max() == 0.0


def test_complete_rectangle_reports_an_ambiguous_shortfall():
    visible = grid_rectangle(0.20, 0.22, 0.0)
    centre, extents, angle = rotated_rect_of_points(visible)
    outline = outline_of(visible, centre, angle, *extents, band=0.003)
    new_centre, _, unresolved = complete_rectangle(
        visible[outline], np.zeros(outline.sum(), dtype=bool), (0.20, 0.30), centre, extents,
        angle, 0.006)
    np.testing.assert_allclose(new_centre, centre)
    assert unresolved.max() == pytest.approx(0.04, abs=1e-3)   # half of the 8 cm shortfall
