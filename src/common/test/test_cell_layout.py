"""The cell layout loader: the nominal file is valid and reachable, derived geometry is right,
and every kind of bad input fails with one line naming the key, the value and what is
allowed."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml

from foresight_common.cell_layout import (
    CellLayoutError,
    load_cell_layout,
    parse_cell_layout,
)

CELL_FILE = Path(__file__).resolve().parents[3] / "config" / "cells" / "industrial_cell.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(CELL_FILE.read_text())


@pytest.fixture(scope="module")
def layout():
    return load_cell_layout(CELL_FILE)


def test_nominal_cell_has_six_holes_of_three_shapes(layout):
    assert len(layout.holes) == 6
    types = sorted({h.type for h in layout.holes})
    assert types == ["hole_round", "hole_slot", "hole_square"]
    for hole in layout.holes:
        assert len(layout.holes_of_type(hole.type)) == 2
        assert hole.clearance <= 0.003
        assert 0.02 <= hole.depth <= 0.04
        assert hole.chamfer > 0
        assert math.isclose(hole.position[2], layout.fixture.top_z)
    colours = {layout.fixture.hole_colours[t] for t in types}
    assert len(colours) == 3, "each hole shape has its own colour"
    assert len(layout.tray_slots) == 6


def test_parts_fit_only_their_own_hole(layout):
    """Geometric sanity of the part/hole sizes: a part fits its hole with the nominal
    clearance and is too big for every other hole in any orientation."""
    for part in layout.part_types.values():
        assert 0.025 <= part.grasp_width <= 0.045
        assert 0.04 <= part.height <= 0.06
        assert 0.05 <= part.mass <= 0.1
        seated_top = part.height - layout.fixture.hole_depth
        assert seated_top >= 0.015, "a top grasp must clear the rim when seated"
        for hole in layout.holes:
            if hole.type == part.hole_type:
                assert math.isclose(hole.opening[0] - part.footprint[0], hole.clearance)
                continue
            w, length = sorted(part.footprint)
            if part.shape == "cylinder":
                assert part.size[0] > min(hole.opening[0], *hole.opening[1:])
            elif hole.shape == "cylinder":
                assert math.hypot(w, length) > hole.opening[0]
            else:
                hw, hl = sorted(hole.opening)
                assert w > hw or length > hl
                assert (w + length) / math.sqrt(2) > hw


def test_everything_the_robot_handles_is_within_reach(layout):
    base = layout.robot_base
    points = [h.position for h in layout.holes] + [s.position for s in layout.tray_slots]
    cv = layout.conveyor
    points += [(cv.start[0], y, cv.belt_top_z) for y in cv.pick_zone]
    for p in points:
        radius = math.hypot(p[0] - base[0], p[1] - base[1])
        assert 0.3 <= radius <= 0.72, (p, radius)
        assert abs(p[2] - base[2]) < 0.2


def test_offsets_move_holes_and_slots_with_their_parents(layout):
    moved = layout.with_offsets(fixture=(0.01, -0.02, math.radians(90)),
                                tray=(0.03, 0.0, 0.0))
    f0, f1 = layout.fixture.center, moved.fixture.center
    assert math.isclose(f1[0] - f0[0], 0.01) and math.isclose(f1[1] - f0[1], -0.02)
    for before, after in zip(layout.holes, moved.holes, strict=True):
        ox, oy = before.position[0] - f0[0], before.position[1] - f0[1]
        assert math.isclose(after.position[0] - f1[0], -oy, abs_tol=1e-9)
        assert math.isclose(after.position[1] - f1[1], ox, abs_tol=1e-9)
        assert math.isclose(after.yaw, before.yaw + math.radians(90))
    for before, after in zip(layout.tray_slots, moved.tray_slots, strict=True):
        assert math.isclose(after.position[0], before.position[0] + 0.03)


def test_static_obstacles_cover_the_fixed_cell(layout):
    boxes = {b.name: b for b in layout.static_obstacles()}
    assert {"bench", "fixture", "tray/floor", "conveyor/belt", "conveyor/frame",
            "reject_bin/floor"} <= set(boxes)
    assert sum(n.startswith("tray/wall") for n in boxes) == 4
    bench = boxes["bench"]
    assert math.isclose(bench.center[2] + bench.half_size[2], layout.bench.top_z)
    fixture = boxes["fixture"]
    assert math.isclose(fixture.center[2] + fixture.half_size[2], layout.fixture.top_z)
    belt = boxes["conveyor/belt"]
    assert math.isclose(belt.center[2] + belt.half_size[2], layout.conveyor.belt_top_z)
    assert not any(n.startswith(("part", "coworker")) for n in boxes)


def test_camera_looks_down_over_the_cell(layout):
    cam = layout.camera
    w, x, y, z = cam.quat
    # camera -z axis in world = third column of R, negated
    r02 = 2 * (x * z + w * y)
    r12 = 2 * (y * z - w * x)
    r22 = 1 - 2 * (x * x + y * y)
    assert r22 > 0.99 and abs(r02) < 0.01 and abs(r12) < 0.01
    assert cam.name == "overhead_camera"
    assert cam.width * 3 == cam.height * 4


def _mutate(raw: dict, path: str, value) -> dict:
    data = copy.deepcopy(raw)
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize("path, value, fragments", [
    ("fixture.chamfer", _DELETE, ["fixture.chamfer", "<missing>"]),
    ("fixture.clearance", 0.005, ["fixture.clearance", "0.005", "0.003"]),
    ("fixture.hole_depth", 0.049, ["fixture.hole_depth", "block height"]),
    ("fixture.colour", [1, 0, 0], ["fixture.colour", "4 numbers"]),
    ("fixture.holes.0.type", "hole_oval", ["fixture.holes[0].type", "hole_oval", "one of"]),
    ("fixture.holes.1.offset", [-0.04, -0.08], ["fixture.holes[1].offset", "overlap"]),
    ("fixture.holes.0.offset", [-0.075, -0.09], ["fixture.holes[0].offset", "inside the block"]),
    ("fixture.holes.1.name", "hole_round_0", ["fixture.holes[1].name", "hole_round_0"]),
    ("part_types.peg_round.shape", "sphere", ["part_types.peg_round.shape", "cylinder"]),
    ("part_types.peg_round.size", [0.09, 0.05], ["part_types.peg_round.size", "gripper"]),
    ("part_types.peg_round.mass", "heavy", ["part_types.peg_round.mass", "heavy", "number"]),
    ("part_types.peg_slot.hole_type", "hole_round", ["peg_slot.hole_type", "no other part"]),
    ("tray.slots.0.offset", [0.5, 0.0], ["tray.slots[0].offset", "inside the tray"]),
    ("conveyor.pick_zone", [-0.2, -0.1], ["conveyor.pick_zone", "belt"]),
    ("camera.image_up", [0.0, 0.0, 1.0], ["camera.image_up", "parallel"]),
    ("camera.fovy_deg", 170, ["camera.fovy_deg", "170"]),
    ("bench.colr", [1, 1, 1, 1], ["bench.colr", "no such key", "colour"]),
    ("distractor_zones", [[0.5, 0.4, 0.0, 0.1]], ["distractor_zones[0]", "x_min < x_max"]),
    ("robot", "origin", ["robot", "mapping"]),
])
def test_bad_values_fail_with_one_line(raw, path, value, fragments):
    with pytest.raises(CellLayoutError) as info:
        parse_cell_layout(_mutate(raw, path, value), source="cell.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cell.yaml: ")
    for fragment in fragments:
        assert fragment in message, message


def test_unreadable_files_fail_with_one_line(tmp_path):
    with pytest.raises(CellLayoutError, match="cannot read"):
        load_cell_layout(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("bench: [1, 2\n")
    with pytest.raises(CellLayoutError, match="not valid YAML") as info:
        load_cell_layout(bad)
    assert "\n" not in str(info.value)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(CellLayoutError, match="mapping"):
        load_cell_layout(bad)
