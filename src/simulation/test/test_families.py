"""Variation families: the shipped files load, sampling is a pure function of
(layout, family, seed), each family varies what it says it does, and bad files fail with one
line naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import Counter
from pathlib import Path

import pytest
import yaml

from foresight_common.cell_layout import load_cell_layout
from foresight_simulation.families import (
    FamilyError,
    cell_layout_path,
    default_config_dir,
    load_family,
    parse_family,
    sample_scene,
)

CONFIG = Path(__file__).resolve().parents[3] / "config"
FAMILIES = ("default", "smoke", "heldout_lighting_colours", "heldout_layout_speed")


@pytest.fixture(scope="module")
def layout():
    return load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")


@pytest.fixture(scope="module")
def families():
    return {name: load_family(name, CONFIG) for name in FAMILIES}


def test_shipped_families_and_their_splits(families, layout):
    assert families["default"].split == "train"
    assert families["smoke"].split == "test"
    assert families["heldout_lighting_colours"].split == "heldout"
    assert families["heldout_layout_speed"].split == "heldout"
    listed = (CONFIG / "families" / "README.md").read_text()
    for name, family in families.items():
        assert family.name == name
        assert f"`{name}`" in listed
        assert cell_layout_path(family, CONFIG) == CONFIG / "cells" / "industrial_cell.yaml"
        for seed in (0, 1, 2):
            sample_scene(layout, family, seed)


def test_same_seed_same_scene_other_seed_other_scene(families, layout):
    family = families["default"]
    a, b = sample_scene(layout, family, 7), sample_scene(layout, family, 7)
    assert a == b
    c = sample_scene(layout, family, 8)
    assert c != a
    assert (c.fixture_offset, c.conveyor_speed) != (a.fixture_offset, a.conveyor_speed)


def test_default_scene_has_two_parts_of_each_type(families, layout):
    for seed in range(20):
        scene = sample_scene(layout, families["default"], seed)
        where = Counter(p.location for p in scene.parts)
        assert where == {"tray": 4, "conveyor": 2}
        assert Counter(p.type for p in scene.parts) == {
            "peg_round": 2, "peg_square": 2, "peg_slot": 2}
        slots = [p.slot for p in scene.parts if p.location == "tray"]
        assert len(set(slots)) == 4
        spawns = sorted(p.spawn_time for p in scene.parts if p.location == "conveyor")
        assert 8.0 <= spawns[0] <= 20.0 and 25.0 <= spawns[1] - spawns[0] <= 45.0
        assert 0.05 <= scene.conveyor_speed <= 0.10
        assert max(abs(v) for v in scene.fixture_offset[:2]) <= 0.003
        assert not scene.distractors
        for part in scene.parts:
            nominal = layout.part_types[part.type]
            shrink = nominal.footprint[0] - part.part_type.footprint[0]
            assert 0.0 <= shrink <= 0.0006 + 1e-12     # clearance stays within 2.0-2.6 mm
            assert part.part_type.height == nominal.height


def test_coworker_reaches_often_enough_in_default(families, layout):
    scene = sample_scene(layout, families["default"], 3)
    reaches = scene.coworker_reaches
    assert reaches[0].idle_before_s <= 10.0
    assert all(r.idle_before_s <= 22.0 for r in reaches)
    assert all(0.5 <= r.peak_speed <= 1.2 for r in reaches)
    assert sum(r.idle_before_s + r.dwell_s for r in reaches) >= scene.horizon_s
    names = {t.name for t in layout.coworker.reach_targets}
    assert {r.target_name for r in reaches} <= names
    for r in reaches:   # targets are in the shared zone in front of the fixture and tray
        assert 0.5 <= r.target[0] <= 0.82


def test_smoke_family_is_small_and_quiet(families, layout):
    scene = sample_scene(layout, families["smoke"], 0)
    assert Counter(p.location for p in scene.parts) == {"tray": 1, "conveyor": 1}
    assert (scene.camera_width, scene.camera_height) == (160, 120)
    assert scene.camera_noise.depth_sigma == 0.0
    assert scene.coworker_reaches[0].idle_before_s >= 40.0
    assert scene.fixture_offset == (0.0, 0.0, 0.0)


def test_heldout_families_shift_what_train_never_varies(families, layout):
    train = [sample_scene(layout, families["default"], s) for s in range(10)]
    looks = [sample_scene(layout, families["heldout_lighting_colours"], s) for s in range(10)]
    fast = [sample_scene(layout, families["heldout_layout_speed"], s) for s in range(10)]
    assert all(s.distractors for s in looks) and not any(s.distractors for s in train)
    assert max(s.lights[0].direction[2] for s in looks) > -math.cos(math.radians(19.9))
    assert min(s.conveyor_speed for s in fast) >= 0.10 > max(s.conveyor_speed for s in train)
    assert max(math.hypot(*s.fixture_offset[:2]) for s in fast) > 0.01
    assert min(r.peak_speed for s in fast for r in s.coworker_reaches) >= 1.2
    for s in looks:
        for d in s.distractors:
            zone_ok = any(z[0] <= d.center[0] <= z[1] and z[2] <= d.center[1] <= z[3]
                          for z in layout.distractor_zones)
            assert zone_ok


def test_default_config_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FORESIGHT_REPO", str(CONFIG.parent))
    assert default_config_dir() == CONFIG
    share = tmp_path / "share" / "foresight_bringup" / "config"
    share.mkdir(parents=True)
    monkeypatch.setenv("FORESIGHT_REPO", str(tmp_path / "nowhere"))
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    assert default_config_dir() == share


def test_family_from_a_path_and_unknown_names(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((CONFIG / "families" / "smoke.yaml").read_text())
    assert load_family(str(path)).name == "smoke"
    with pytest.raises(FamilyError) as info:
        load_family("nonexistent", CONFIG)
    message = str(info.value)
    assert "\n" not in message and "nonexistent" in message and "default" in message
    with pytest.raises(FamilyError, match="no such file"):
        load_family(str(tmp_path / "missing.yaml"))


@pytest.fixture(scope="module")
def raw_default() -> dict:
    return yaml.safe_load((CONFIG / "families" / "default.yaml").read_text())


def _with(raw: dict, path: str, value) -> dict:
    data = copy.deepcopy(raw)
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    if value is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize("path, value, fragments", [
    ("split", "validation", ["'split'", "validation", "train, heldout, test"]),
    ("conveyor.speed", [0.2, 0.1], ["conveyor.speed", "lo <= hi"]),
    ("conveyor.speed", [0.1, 0.9], ["conveyor.speed", "0.5"]),
    ("parts.tray_count", 2.5, ["parts.tray_count", "integer"]),
    ("parts.size_shrink", 0.01, ["parts.size_shrink", "0.002"]),
    ("coworker.peak_speed", "fast", ["coworker.peak_speed", "fast"]),
    ("coworker.idle_s", None, ["coworker.idle_s", "<missing>"]),
    ("lighting.ambeint", 0.3, ["lighting.ambeint", "no such key"]),
    ("distractors.colour_mode", "neon", ["distractors.colour_mode", "grey, any, part_like"]),
    ("fixture_jitter", {"xy": 0.001}, ["fixture_jitter.yaw_deg", "<missing>"]),
])
def test_bad_family_values_fail_with_one_line(raw_default, path, value, fragments):
    with pytest.raises(FamilyError) as info:
        parse_family(_with(raw_default, path, value), source="/x/fam.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("fam.yaml: ")
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("path, value, fragment", [
    ("parts.types", ["peg_round", "peg_oval"], "part types of the layout"),
    ("parts.tray_count", 6, "at most 6 parts"),
    ("coworker.targets", ["over_there"], "reach targets"),
])
def test_family_that_does_not_fit_the_layout(raw_default, layout, path, value, fragment):
    raw = _with(raw_default, path, value)
    raw["parts"].pop("kitting", None)  # a kitting list fixes the tray count itself
    family = parse_family(raw, source="fam.yaml")
    with pytest.raises(FamilyError, match=fragment) as info:
        sample_scene(layout, family, 0)
    assert "\n" not in str(info.value)


def test_large_jitters_never_overlap_fixture_tray_and_bin(families, layout):
    from foresight_simulation.families import _footprint_corners, footprints_overlap

    for seed in range(40):
        scene = sample_scene(layout, families["heldout_layout_speed"], seed)
        moved = scene.effective_layout(layout)
        fx, tr = moved.fixture, moved.tray
        a = _footprint_corners(fx.center, (fx.size[0] / 2, fx.size[1] / 2), fx.yaw)
        b = _footprint_corners(tr.center, (tr.size[0] / 2, tr.size[1] / 2), tr.yaw)
        assert not footprints_overlap(a, b, 0.01)
    assert footprints_overlap(a, a)
    # a cell whose tray sits on the fixture can never be sampled
    crowded = dataclasses.replace(layout, tray=dataclasses.replace(
        layout.tray, center=layout.fixture.center))
    with pytest.raises(FamilyError, match="fixture_jitter") as info:
        sample_scene(crowded, families["default"], 0)
    assert "\n" not in str(info.value)
