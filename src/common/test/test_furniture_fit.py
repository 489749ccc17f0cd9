"""Furniture where the scan has it: a table moved and turned is found from the few points the
base scanner's plane cuts from its legs, a person's legs beside it do not pull the fit, and
a scan that does not show the piece leaves it where the room file has it."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from foresight_common.furniture_fit import (
    FurnitureEstimate,
    fit_furniture,
    fit_piece,
    outline_at,
    room_shell,
)
from foresight_common.room_layout import Furniture, furniture_parts

Z = 0.25                                          # the base scanner's height
TABLE = Furniture(name="table", kind="table", center=(2.65, 2.75), yaw=0.0,
                  size=(1.2, 0.8, 0.75), colour=(0.5, 0.4, 0.3, 1.0))


def _seen(piece: Furniture, scanner: tuple[float, float], noise: float = 0.005,
          seed: int = 0) -> np.ndarray:
    """Map points of the cut at Z that face the scanner: of each leg's outline the points
    nearer to the scanner than the leg's centre, every third (about a 1 degree scan)."""
    c, s = math.cos(piece.yaw), math.sin(piece.yaw)
    rotation = np.array([[c, s], [-s, c]])
    out = []
    for _name, centre, half in furniture_parts(piece):
        if abs(Z - centre[2]) > half[2]:
            continue
        part = replace(piece, kind="block", center=(0.0, 0.0), yaw=0.0,
                       size=(2 * half[0], 2 * half[1], 2 * Z))
        ring = outline_at(part, Z) + np.array(centre[:2])
        world = ring @ rotation + np.array(piece.center)
        middle = np.array(centre[:2]) @ rotation + np.array(piece.center)
        facing = np.linalg.norm(world - scanner, axis=1) < math.dist(middle, scanner)
        out.append(world[facing])
    points = np.vstack(out)[::3]
    return points + np.random.default_rng(seed).normal(0.0, noise, points.shape)


def test_a_moved_and_turned_table_is_found_from_its_legs():
    moved = replace(TABLE, center=(2.73, 2.69), yaw=math.radians(6.0))
    scan = _seen(moved, scanner=(2.6, 1.7))
    fit = fit_piece(TABLE, scan, Z)
    assert fit is not None
    assert fit.furniture.center == pytest.approx(moved.center, abs=0.01)
    assert math.degrees(fit.furniture.yaw) == pytest.approx(6.0, abs=1.0)
    assert fit.shift_m == pytest.approx(0.10, abs=0.015) and fit.rms_m < 0.01


def test_a_persons_legs_beside_the_table_do_not_pull_the_fit():
    moved = replace(TABLE, center=(2.60, 2.80))
    legs = np.array([[2.0 + 0.01 * k, 2.3] for k in range(8)] +
                    [[2.0 + 0.01 * k, 2.45] for k in range(8)])
    fit = fit_piece(TABLE, np.vstack([_seen(moved, (2.6, 1.7)), legs]), Z)
    assert fit is not None
    assert fit.furniture.center == pytest.approx(moved.center, abs=0.01)


def test_a_scan_that_does_not_show_the_piece_leaves_it_as_mapped():
    rng = np.random.default_rng(1)
    elsewhere = rng.uniform([0.0, 0.0], [1.0, 1.0], (50, 2))      # far from the table
    furniture, fits = fit_furniture([TABLE], elsewhere, Z)
    assert furniture == [TABLE] and fits == {}
    few = _seen(TABLE, (2.6, 1.7))[:3]
    assert fit_piece(TABLE, few, Z) is None
    scattered = TABLE.center + rng.uniform(-0.8, 0.8, (60, 2))    # clutter, no outline
    assert fit_piece(TABLE, scattered, Z) is None


def test_a_scan_from_a_base_whose_pose_is_off_moves_nothing():
    """Every piece would come out shifted with a wrong base pose; the walls tell: the scan
    is refused, the fits of a good one are kept."""
    moved = replace(TABLE, center=(2.73, 2.69))
    _, walls = room_shell((6.0, 5.0))
    scan = np.vstack([_seen(moved, (2.6, 1.7)), walls[::4] + np.array([3.0, 2.5])])
    estimate = FurnitureEstimate([TABLE], size=(6.0, 5.0))
    assert "table" in estimate.update(scan, Z) and estimate.refused == ""
    assert estimate.current()[0].center == pytest.approx(moved.center, abs=0.015)
    assert estimate.update(scan + np.array([0.08, 0.0]), Z) == {}
    assert "pose is off" in estimate.refused
    assert estimate.current()[0].center == pytest.approx(moved.center, abs=0.015)


def test_the_outline_is_the_cut_through_what_reaches_the_height():
    table = outline_at(TABLE, Z)
    assert np.max(np.abs(table[:, 0])) == pytest.approx(0.6)   # legs at the corners
    assert np.min(np.abs(table[:, 0])) == pytest.approx(0.55)  # 5 cm legs, no top
    assert len(outline_at(TABLE, 0.9)) == 0                    # above the table
