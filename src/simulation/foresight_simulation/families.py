"""Variation families (DESIGN section 6): named YAML files of ranges over the cell's scene
parameters, and the seeded sampler that turns (layout, family, seed) into one concrete scene.

A family says *how much* things vary (layout jitter, part sizes and colours, lighting, camera
noise, distractors, conveyor speed and spawn times, the co-worker's timing and speed); the
seed picks one scene from it. `sample_scene` draws every random number from
`np.random.default_rng(seed)` (split into one child stream per aspect, so widening e.g. the
distractor range of a family does not reshuffle its parts), which makes a scene a pure
function of (layout, family, seed): paired episodes of two decision modes see the same world.

No rclpy and no mujoco here; `foresight_simulation.scene` builds the MuJoCo world from the
`SceneParams` this returns.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from foresight_common.cell_layout import (
    CellLayout,
    PartType,
    YamlSection,
    check_vector,
    load_yaml_mapping,
    rotate_xy,
)

SPLITS = ("train", "heldout", "test")
DISTRACTOR_COLOUR_MODES = ("grey", "any", "part_like")
BRINGUP_PACKAGE = "foresight_bringup"
#: Conveyor parts appear this far (m) after the belt's start.
SPAWN_OFFSET_ALONG_BELT = 0.06


class FamilyError(ValueError):
    """A family file is missing or invalid, or does not fit the cell layout."""


# --- the family: ranges -----------------------------------------------------------------------
Range = tuple[float, float]


@dataclass(frozen=True)
class PartsRange:
    tray_count: tuple[int, int]
    conveyor_count: tuple[int, int]
    types: tuple[str, ...]
    size_shrink: Range          # m, subtracted from the nominal footprint (not the height)
    mass: Range                 # kg
    colour_jitter: float        # max |change| per RGB channel
    slot_jitter_xy: float       # m, tray parts around their slot (and laterally on the belt)
    slot_jitter_yaw: float      # rad
    kitting: tuple[tuple[str, str], ...] = ()  # fixed (slot, part type) of a kitted tray


@dataclass(frozen=True)
class PoseJitter:
    xy: float                   # m, uniform in [-xy, xy] per axis
    yaw: float                  # rad, uniform in [-yaw, yaw]


@dataclass(frozen=True)
class LightingRange:
    key_intensity: Range
    key_tilt: Range             # rad from vertical
    key_azimuth: Range          # rad
    fill_intensity: Range
    ambient: Range
    tint: float                 # max per-channel deviation of the key light's colour


@dataclass(frozen=True)
class CameraRange:
    width: int | None
    height: int | None
    rate_hz: float | None
    depth_noise_sigma: Range    # m at 1 m depth (grows with depth squared)
    depth_hole_fraction: Range
    rgb_noise_sigma: Range      # in 0..255 units


@dataclass(frozen=True)
class DistractorRange:
    count: tuple[int, int]
    size: Range                 # m, box edge lengths
    colour_mode: str            # grey | any | part_like


@dataclass(frozen=True)
class ConveyorRange:
    speed: Range                # m/s
    first_spawn_s: Range
    spawn_gap_s: Range


@dataclass(frozen=True)
class CoworkerRange:
    first_reach_s: Range
    idle_s: Range               # at rest between reaches
    dwell_s: Range              # holding still at the target
    peak_speed: Range           # m/s, peak hand speed of a minimum-jerk reach
    targets: tuple[str, ...]    # names of layout reach targets; empty = all
    target_jitter: float        # m per axis


@dataclass(frozen=True)
class Family:
    name: str
    split: str
    description: str
    cell: str                   # layout name (config/cells/<cell>.yaml) or a path
    horizon_s: float            # how far ahead spawns and reaches are scheduled (sim s)
    parts: PartsRange
    fixture_jitter: PoseJitter
    tray_jitter: PoseJitter
    lighting: LightingRange
    camera: CameraRange
    distractors: DistractorRange
    conveyor: ConveyorRange
    coworker: CoworkerRange
    source: str = ""


# --- one sampled scene ------------------------------------------------------------------------
@dataclass(frozen=True)
class PartParams:
    """One part instance. `part_type` carries this instance's own (jittered) size, colour and
    mass. `position` is where its bottom centre starts (world xy; z follows from the tray
    floor or the belt) and `yaw` its heading; conveyor parts appear there at `spawn_time`
    (s of sim time), tray parts are there from t = 0 (`spawn_time` 0)."""
    name: str
    part_type: PartType
    location: str               # "tray" | "conveyor"
    slot: str                   # tray slot name ("" on the conveyor)
    position: tuple[float, float]
    yaw: float
    spawn_time: float

    @property
    def type(self) -> str:
        return self.part_type.name


@dataclass(frozen=True)
class LightParams:
    name: str
    direction: tuple[float, float, float]   # unit vector the light travels along (world)
    diffuse: tuple[float, float, float]


@dataclass(frozen=True)
class CameraNoise:
    depth_sigma: float          # m at 1 m depth, scaled by depth^2
    depth_hole_fraction: float  # share of pixels without a depth reading (NaN)
    rgb_sigma: float            # gaussian noise on 0..255 colour values


@dataclass(frozen=True)
class DistractorParams:
    name: str
    center: tuple[float, float, float]
    half_size: tuple[float, float, float]
    yaw: float
    colour: tuple[float, float, float, float]


@dataclass(frozen=True)
class ReachParams:
    """One co-worker reach: after `idle_before_s` at rest, move `hand` ("left"/"right") along
    a minimum-jerk path with peak speed `peak_speed` to `target` (world), hold `dwell_s`,
    return the same way."""
    hand: str
    target_name: str
    target: tuple[float, float, float]
    peak_speed: float
    dwell_s: float
    idle_before_s: float


@dataclass(frozen=True)
class SceneParams:
    seed: int
    family: str
    split: str
    fixture_offset: tuple[float, float, float]   # dx, dy (m), dyaw (rad) from nominal
    tray_offset: tuple[float, float, float]
    parts: tuple[PartParams, ...]
    conveyor_speed: float                        # m/s along the belt
    lights: tuple[LightParams, ...]
    ambient: float
    camera_noise: CameraNoise
    camera_width: int
    camera_height: int
    camera_rate_hz: float
    distractors: tuple[DistractorParams, ...]
    coworker_reaches: tuple[ReachParams, ...]
    horizon_s: float

    def effective_layout(self, layout: CellLayout) -> CellLayout:
        """The nominal layout with this scene's fixture and tray offsets applied."""
        return layout.with_offsets(fixture=self.fixture_offset, tray=self.tray_offset)


# --- config folder ----------------------------------------------------------------------------
def default_config_dir() -> Path:
    """The repository's config/ folder: `$FORESIGHT_REPO/config` when set, else the installed
    `share/foresight_bringup/config` found on AMENT_PREFIX_PATH, else the source tree next to
    this file (running from a checkout)."""
    repo = os.environ.get("FORESIGHT_REPO")
    if repo and (Path(repo) / "config").is_dir():
        return Path(repo) / "config"
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / BRINGUP_PACKAGE / "config"
        if prefix and candidate.is_dir():
            return candidate
    source = Path(__file__).resolve().parents[3] / "config"
    if source.is_dir():
        return source
    raise FamilyError("config folder not found: set FORESIGHT_REPO, source the workspace "
                      f"(AMENT_PREFIX_PATH with share/{BRINGUP_PACKAGE}/config) or pass "
                      "config_dir")


def family_path(name_or_path: str | Path, config_dir: str | Path | None = None) -> Path:
    """A family name -> config_dir/families/<name>.yaml; anything that looks like a path is
    taken as one (so evaluators can bring their own files)."""
    text = str(name_or_path)
    if not text:
        raise FamilyError("invalid family '': allowed: a family name or a YAML file path")
    if os.sep in text or "/" in text or text.endswith((".yaml", ".yml")) or Path(
            text).is_file():
        path = Path(text)
        if not path.is_file():
            raise FamilyError(f"invalid family file '{text}': no such file")
        return path
    folder = Path(config_dir) if config_dir is not None else default_config_dir()
    path = folder / "families" / f"{text}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (folder / "families").glob("*.yaml"))
        raise FamilyError(f"invalid family '{text}': no file {path}; allowed: "
                          + (", ".join(known) if known else "(no families found)"))
    return path


def layout_path(name: str, key: str, folder_name: str, family_source: str,
                family_name: str, config_dir: str | Path | None = None) -> Path:
    """Where a family's layout file lives: config_dir/<folder_name>/<name>.yaml, or the path
    the family names under `key` (relative to the family file)."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_absolute() and family_source:
            path = Path(family_source).parent / path
    else:
        folder = Path(config_dir) if config_dir is not None else default_config_dir()
        path = folder / folder_name / f"{name}.yaml"
    if not path.is_file():
        raise FamilyError(f"{Path(family_source).name or family_name}: invalid '{key}': got "
                          f"{name!r}, allowed: a layout under config/{folder_name}/ (no file "
                          f"{path})")
    return path


def cell_layout_path(family: Family, config_dir: str | Path | None = None) -> Path:
    """Where the family's cell layout lives (config/cells/ or a path in the family)."""
    return layout_path(family.cell, "cell", "cells", family.source, family.name, config_dir)


# --- reading a family -------------------------------------------------------------------------
def _range(sec: YamlSection, key: str, low: float, high: float, default: Any = ...,
           scale: float = 1.0) -> Range:
    """A number (fixed value) or [lo, hi] with low <= lo <= hi <= high."""
    allowed = f"a number or a range [lo, hi] with {low} <= lo <= hi <= {high}"
    value = sec.raw(key, default, allowed)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    lo, hi = check_vector(sec, sec.key_path(key), value, 2, low, high, allowed)
    if lo > hi:
        raise sec.fail(key, value, allowed)
    return (lo * scale, hi * scale)


def _int_range(sec: YamlSection, key: str, low: int, high: int,
               default: Any = ...) -> tuple[int, int]:
    allowed = f"an integer or a range [lo, hi] of integers with {low} <= lo <= hi <= {high}"
    value = sec.raw(key, default, allowed)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
            or not low <= value[0] <= value[1] <= high):
        raise sec.fail(key, value, allowed)
    return (int(value[0]), int(value[1]))


def _pose_jitter(sec: YamlSection, key: str, max_xy: float, max_yaw_deg: float) -> PoseJitter:
    sub = sec.section(key)
    jitter = PoseJitter(xy=sub.number("xy", 0.0, max_xy),
                        yaw=math.radians(sub.number("yaw_deg", 0.0, max_yaw_deg)))
    sub.done()
    return jitter


def _names(sec: YamlSection, key: str, default: Any = ...) -> tuple[str, ...]:
    values = sec.items(key, default=default)
    if any(not isinstance(v, str) or not v for v in values) or len(set(values)) != len(values):
        raise sec.fail(key, values, "a list of distinct names")
    return tuple(values)


def _kitting(sec: YamlSection) -> tuple[tuple[str, str], ...]:
    """`kitting: ["slot_0:peg_round", ...]`: each listed slot always holds that type."""
    entries = sec.items("kitting", default=[])
    result = []
    for entry in entries:
        slot, _, part_type = str(entry).partition(":")
        if not slot or not part_type:
            raise sec.fail("kitting", entries, "a list of 'slot:part_type' strings")
        result.append((slot, part_type))
    if len({slot for slot, _ in result}) != len(result):
        raise sec.fail("kitting", entries, "each slot at most once")
    return tuple(result)


def read_lighting(light_sec: YamlSection) -> LightingRange:
    """The `lighting` section of a family (any scenario)."""
    lighting = LightingRange(
        key_intensity=_range(light_sec, "key_intensity", 0.0, 2.0),
        key_tilt=_range(light_sec, "key_tilt_deg", 0.0, 80.0, scale=math.pi / 180.0),
        key_azimuth=_range(light_sec, "key_azimuth_deg", -360.0, 360.0, default=[0, 360],
                           scale=math.pi / 180.0),
        fill_intensity=_range(light_sec, "fill_intensity", 0.0, 1.0, default=0.0),
        ambient=_range(light_sec, "ambient", 0.0, 1.0),
        tint=light_sec.number("tint", 0.0, 0.5, default=0.0))
    light_sec.done()
    return lighting


def read_camera(cam_sec: YamlSection) -> CameraRange:
    """The `camera` section of a family (any scenario)."""
    has_size = cam_sec.has("width") or cam_sec.has("height")
    camera = CameraRange(
        width=cam_sec.integer("width", 16, 4096) if has_size else None,
        height=cam_sec.integer("height", 12, 4096) if has_size else None,
        rate_hz=cam_sec.number("rate_hz", 0.1, 120.0) if cam_sec.has("rate_hz") else None,
        depth_noise_sigma=_range(cam_sec, "depth_noise_sigma", 0.0, 0.05, default=0.0),
        depth_hole_fraction=_range(cam_sec, "depth_hole_fraction", 0.0, 0.5, default=0.0),
        rgb_noise_sigma=_range(cam_sec, "rgb_noise_sigma", 0.0, 50.0, default=0.0))
    cam_sec.done()
    return camera


def parse_family(data: dict[str, Any], source: str = "<family>") -> Family:
    """Validate an already-parsed family mapping (see `load_family`)."""
    top = YamlSection(data, "", Path(source).name, FamilyError)
    parts_sec = top.section("parts")
    parts = PartsRange(
        tray_count=_int_range(parts_sec, "tray_count", 0, 64),
        conveyor_count=_int_range(parts_sec, "conveyor_count", 0, 16),
        types=_names(parts_sec, "types"),
        size_shrink=_range(parts_sec, "size_shrink", 0.0, 0.002, default=0.0),
        mass=_range(parts_sec, "mass", 0.01, 0.5),
        colour_jitter=parts_sec.number("colour_jitter", 0.0, 0.5, default=0.0),
        slot_jitter_xy=parts_sec.number("slot_jitter_xy", 0.0, 0.01, default=0.0),
        slot_jitter_yaw=math.radians(parts_sec.number("slot_jitter_yaw_deg", 0.0, 30.0,
                                                      default=0.0)),
        kitting=_kitting(parts_sec))
    if parts.kitting and parts.tray_count != (len(parts.kitting), len(parts.kitting)):
        raise parts_sec.fail("tray_count", list(parts.tray_count),
                             f"exactly {len(parts.kitting)} (the kitting list's length)")
    if not parts.types:
        raise parts_sec.fail("types", [], "at least one part type name")
    if parts.tray_count[1] + parts.conveyor_count[1] == 0:
        raise parts_sec.fail("tray_count", list(parts.tray_count),
                             "counts that allow at least one part")
    parts_sec.done()
    lighting = read_lighting(top.section("lighting"))
    camera = read_camera(top.section("camera"))
    dis_sec = top.section("distractors", default={"count": 0})
    distractors = DistractorRange(
        count=_int_range(dis_sec, "count", 0, 12),
        size=_range(dis_sec, "size", 0.01, 0.15, default=[0.03, 0.08]),
        colour_mode=dis_sec.string("colour_mode", DISTRACTOR_COLOUR_MODES, default="grey"))
    dis_sec.done()
    conv_sec = top.section("conveyor")
    conveyor = ConveyorRange(speed=_range(conv_sec, "speed", 0.01, 0.5),
                             first_spawn_s=_range(conv_sec, "first_spawn_s", 0.0, 3600.0),
                             spawn_gap_s=_range(conv_sec, "spawn_gap_s", 1.0, 3600.0))
    conv_sec.done()
    cw_sec = top.section("coworker")
    coworker = CoworkerRange(
        first_reach_s=_range(cw_sec, "first_reach_s", 0.0, 3600.0),
        idle_s=_range(cw_sec, "idle_s", 0.5, 3600.0),
        dwell_s=_range(cw_sec, "dwell_s", 0.0, 60.0),
        peak_speed=_range(cw_sec, "peak_speed", 0.1, 2.5),
        targets=_names(cw_sec, "targets", default=[]),
        target_jitter=cw_sec.number("target_jitter", 0.0, 0.05, default=0.0))
    cw_sec.done()
    family = Family(
        name=top.string("name"), split=top.string("split", SPLITS),
        description=str(top.raw("description", default="")),
        cell=top.string("cell", default="industrial_cell"),
        horizon_s=top.number("horizon_s", 10.0, 7200.0, default=600.0),
        parts=parts,
        fixture_jitter=_pose_jitter(top, "fixture_jitter", 0.1, 45.0),
        tray_jitter=_pose_jitter(top, "tray_jitter", 0.1, 45.0),
        lighting=lighting, camera=camera, distractors=distractors, conveyor=conveyor,
        coworker=coworker, source=str(source))
    top.done()
    return family


def load_family(name_or_path: str | Path, config_dir: str | Path | None = None) -> Family:
    """Load a family by name (config_dir/families/<name>.yaml; config_dir defaults to
    `default_config_dir()`) or from a YAML path. Raises `FamilyError` (one line)."""
    path = family_path(name_or_path, config_dir)
    return parse_family(load_yaml_mapping(path, FamilyError), source=str(path))


# --- sampling ---------------------------------------------------------------------------------
def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(r[0]) if r[0] == r[1] else float(rng.uniform(r[0], r[1]))


def _integer(rng: np.random.Generator, r: tuple[int, int]) -> int:
    return int(rng.integers(r[0], r[1] + 1))


def _fail(family: Family, key: str, value: Any, allowed: str) -> FamilyError:
    return FamilyError(f"{Path(family.source).name or family.name}: invalid '{key}': got "
                       f"{value!r}, allowed: {allowed}")


def _jittered_part_type(base: PartType, rng: np.random.Generator,
                        parts: PartsRange) -> PartType:
    shrink = _uniform(rng, parts.size_shrink)
    colour_delta = rng.uniform(-parts.colour_jitter, parts.colour_jitter, 3)
    colour = tuple(float(np.clip(c + d, 0.0, 1.0)) for c, d in zip(base.colour[:3],
                                                                   colour_delta, strict=True))
    mass = _uniform(rng, parts.mass)
    if base.shape == "cylinder":
        size: tuple[float, ...] = (base.size[0] - shrink, base.size[1])
        grasp = size[0]
    else:
        size = (base.size[0] - shrink, base.size[1] - shrink, base.size[2])
        grasp = min(size[0], size[1])
    return replace(base, size=size, colour=(*colour, base.colour[3]), mass=mass,
                   grasp_width=grasp)


def _sample_parts(layout: CellLayout, family: Family, rng: np.random.Generator,
                  spawn_rng: np.random.Generator) -> tuple[PartParams, ...]:
    p = family.parts
    for name in p.types:
        if name not in layout.part_types:
            raise _fail(family, "parts.types", list(p.types),
                        "part types of the layout: " + ", ".join(layout.part_types))
    capacity = {t: len(layout.holes_of_type(layout.part_types[t].hole_type)) for t in p.types}
    n_tray = _integer(rng, p.tray_count)
    n_conv = _integer(rng, p.conveyor_count)
    total = n_tray + n_conv
    if total > sum(capacity.values()):
        raise _fail(family, "parts.tray_count", [n_tray, n_conv],
                    f"at most {sum(capacity.values())} parts in all (one hole each)")
    if n_tray > len(layout.tray_slots):
        raise _fail(family, "parts.tray_count", n_tray,
                    f"at most {len(layout.tray_slots)} (tray slots)")
    # Types: cover every allowed type once (when there are enough parts), then fill up
    # without exceeding any type's number of holes, so the task is always solvable.
    pool = [t for t in p.types for _ in range(capacity[t])]
    if p.kitting:
        # A kitted tray: fixed slot -> type; the conveyor brings from what is left.
        slot_by_name = {s.name: s for s in layout.tray_slots}
        for slot_name, type_name in p.kitting:
            if slot_name not in slot_by_name or type_name not in pool:
                raise _fail(family, "parts.kitting", f"{slot_name}:{type_name}",
                            "layout slots and types with a free hole left")
            pool.remove(type_name)
        rest = list(rng.permutation(pool))[:n_conv]
        chosen = [t for _, t in p.kitting] + [str(t) for t in rest]
        slots = [slot_by_name[name] for name, _ in p.kitting]
    else:
        chosen = []
        first = list(rng.permutation(list(p.types)))[:total]
        for t in first:
            chosen.append(str(t))
            pool.remove(str(t))
        rest = list(rng.permutation(pool))[:total - len(chosen)] if total > len(chosen) \
            else []
        chosen.extend(str(t) for t in rest)
        order = list(rng.permutation(len(chosen)))
        chosen = [chosen[i] for i in order]
        slots = [layout.tray_slots[i] for i in sorted(
            rng.choice(len(layout.tray_slots), size=n_tray, replace=False))] if n_tray else []
    conveyor = layout.conveyor
    dx, dy = conveyor.direction
    spawn_base = (conveyor.start[0] + dx * SPAWN_OFFSET_ALONG_BELT,
                  conveyor.start[1] + dy * SPAWN_OFFSET_ALONG_BELT)
    parts: list[PartParams] = []
    spawn_time = 0.0
    for i, type_name in enumerate(chosen):
        ptype = _jittered_part_type(layout.part_types[type_name], rng, p)
        jx, jy = rng.uniform(-p.slot_jitter_xy, p.slot_jitter_xy, 2)
        jyaw = float(rng.uniform(-p.slot_jitter_yaw, p.slot_jitter_yaw))
        if i < n_tray:
            slot = slots[i]
            parts.append(PartParams(name=f"part_{i}", part_type=ptype, location="tray",
                                    slot=slot.name,
                                    position=(slot.position[0] + jx, slot.position[1] + jy),
                                    yaw=slot.yaw + jyaw, spawn_time=0.0))
        else:
            k = i - n_tray
            spawn_time += _uniform(spawn_rng, family.conveyor.first_spawn_s if k == 0
                                   else family.conveyor.spawn_gap_s)
            # Long side along the belt, lateral jitter only (a real feeder centres parts).
            lateral = float(jx)
            position = (spawn_base[0] + dy * lateral, spawn_base[1] - dx * lateral)
            parts.append(PartParams(name=f"part_{i}", part_type=ptype, location="conveyor",
                                    slot="", position=position, yaw=conveyor.yaw + jyaw,
                                    spawn_time=spawn_time))
    return tuple(parts)


def sample_lights(lr: LightingRange, rng: np.random.Generator
                  ) -> tuple[tuple[LightParams, ...], float]:
    """Key and fill light and the ambient level of one scene."""
    tilt = _uniform(rng, lr.key_tilt)
    azimuth = _uniform(rng, lr.key_azimuth)
    intensity = _uniform(rng, lr.key_intensity)
    tint = rng.uniform(-lr.tint, lr.tint, 3)
    key_dir = (math.sin(tilt) * math.cos(azimuth), math.sin(tilt) * math.sin(azimuth),
               -math.cos(tilt))
    key = LightParams("key_light", key_dir, tuple(float(np.clip(intensity * (1.0 + t), 0.0,
                                                                   2.0)) for t in tint))
    fill_intensity = _uniform(rng, lr.fill_intensity)
    # The fill light comes from the opposite side, steeper, so shadows never go black.
    fill_dir = (-0.5 * key_dir[0], -0.5 * key_dir[1], -1.0)
    norm = math.sqrt(sum(c * c for c in fill_dir))
    fill = LightParams("fill_light", tuple(c / norm for c in fill_dir),
                       (fill_intensity, fill_intensity, fill_intensity))
    return (key, fill), _uniform(rng, lr.ambient)


def sample_camera_noise(cr: CameraRange, rng: np.random.Generator) -> CameraNoise:
    return CameraNoise(depth_sigma=_uniform(rng, cr.depth_noise_sigma),
                       depth_hole_fraction=_uniform(rng, cr.depth_hole_fraction),
                       rgb_sigma=_uniform(rng, cr.rgb_noise_sigma))


def _sample_distractors(layout: CellLayout, family: Family,
                        rng: np.random.Generator) -> tuple[DistractorParams, ...]:
    d = family.distractors
    count = _integer(rng, d.count)
    if count and not layout.distractor_zones:
        raise _fail(family, "distractors.count", list(d.count),
                    "0 (the layout has no distractor_zones)")
    placed: list[DistractorParams] = []
    part_colours = [pt.colour for pt in layout.part_types.values()]
    for i in range(count):
        for _attempt in range(100):
            zone = layout.distractor_zones[int(rng.integers(len(layout.distractor_zones)))]
            size = rng.uniform(d.size[0], d.size[1], 3)
            half = size / 2.0
            yaw = float(rng.uniform(-math.pi, math.pi))
            radius = float(math.hypot(half[0], half[1]))
            lo_x, hi_x = zone[0] + radius, zone[1] - radius
            lo_y, hi_y = zone[2] + radius, zone[3] - radius
            if lo_x > hi_x or lo_y > hi_y:
                continue
            x, y = float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))
            if any(math.hypot(x - o.center[0], y - o.center[1])
                   < radius + math.hypot(o.half_size[0], o.half_size[1]) + 0.01
                   for o in placed):
                continue
            if d.colour_mode == "grey":
                g = float(rng.uniform(0.3, 0.8))
                colour = (g, g, g, 1.0)
            elif d.colour_mode == "part_like":
                base = part_colours[int(rng.integers(len(part_colours)))]
                colour = tuple(float(np.clip(c + rng.uniform(-0.1, 0.1), 0, 1))
                               for c in base[:3]) + (1.0,)
            else:
                colour = tuple(float(c) for c in rng.uniform(0.05, 0.95, 3)) + (1.0,)
            placed.append(DistractorParams(
                name=f"distractor_{i}",
                center=(x, y, layout.bench.top_z + float(half[2])),
                half_size=(float(half[0]), float(half[1]), float(half[2])), yaw=yaw,
                colour=colour))
            break
    return tuple(placed)


def _sample_reaches(layout: CellLayout, family: Family,
                    rng: np.random.Generator) -> tuple[ReachParams, ...]:
    c = family.coworker
    targets = layout.coworker.reach_targets
    if c.targets:
        known = {t.name: t for t in targets}
        for name in c.targets:
            if name not in known:
                raise _fail(family, "coworker.targets", list(c.targets),
                            "names of the layout's reach targets: " + ", ".join(known))
        targets = tuple(known[n] for n in c.targets)
    base = layout.coworker.base
    yaw = layout.coworker.yaw
    reaches: list[ReachParams] = []
    elapsed = 0.0
    while elapsed < family.horizon_s and len(reaches) < 2000:
        idle = _uniform(rng, c.first_reach_s if not reaches else c.idle_s)
        target = targets[int(rng.integers(len(targets)))]
        jitter = rng.uniform(-c.target_jitter, c.target_jitter, 3)
        pos = tuple(float(v + j) for v, j in zip(target.position, jitter, strict=True))
        # Which hand: the one on the target's side (the person's left is +90 deg of facing).
        _, ly = rotate_xy(pos[0] - base[0], pos[1] - base[1], -yaw)
        if abs(ly) < 0.08:
            hand = "left" if rng.random() < 0.5 else "right"
        else:
            hand = "left" if ly > 0 else "right"
        dwell = _uniform(rng, c.dwell_s)
        reaches.append(ReachParams(hand=hand, target_name=target.name, target=pos,
                                   peak_speed=_uniform(rng, c.peak_speed), dwell_s=dwell,
                                   idle_before_s=idle))
        elapsed += idle + dwell
    return tuple(reaches)


def _footprint_corners(center: tuple[float, ...], half: tuple[float, float],
                       yaw: float) -> list[tuple[float, float]]:
    corners = []
    for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        dx, dy = rotate_xy(sx * half[0], sy * half[1], yaw)
        corners.append((center[0] + dx, center[1] + dy))
    return corners


def footprints_overlap(a: list[tuple[float, float]], b: list[tuple[float, float]],
                       margin: float = 0.0) -> bool:
    """Separating-axis test of two convex footprints (corner lists), grown by `margin`."""
    for poly in (a, b):
        for i in range(len(poly)):
            ex = poly[(i + 1) % len(poly)][0] - poly[i][0]
            ey = poly[(i + 1) % len(poly)][1] - poly[i][1]
            n = math.hypot(ex, ey)
            ax, ay = -ey / n, ex / n
            pa = [ax * x + ay * y for x, y in a]
            pb = [ax * x + ay * y for x, y in b]
            if max(pa) + margin < min(pb) or max(pb) + margin < min(pa):
                return False
    return True


def _layout_clear(layout: CellLayout) -> bool:
    """Fixture, tray and reject bin footprints keep 1 cm apart (large jitters must not
    push one into another)."""
    fx, tr, rb = layout.fixture, layout.tray, layout.reject_bin
    fixture = _footprint_corners(fx.center, (fx.size[0] / 2, fx.size[1] / 2), fx.yaw)
    tray = _footprint_corners(tr.center, (tr.size[0] / 2, tr.size[1] / 2), tr.yaw)
    reject = _footprint_corners(rb.center, (rb.size[0] / 2, rb.size[1] / 2), 0.0)
    return not (footprints_overlap(fixture, tray, 0.01)
                or footprints_overlap(fixture, reject, 0.01)
                or footprints_overlap(tray, reject, 0.01))


def sample_scene(layout: CellLayout, family: Family, seed: int) -> SceneParams:
    """One concrete scene of `family` on `layout`, a pure function of the three arguments."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FamilyError(f"invalid seed {seed!r}: allowed: an integer >= 0")
    rng = np.random.default_rng(int(seed))
    (layout_rng, parts_rng, spawn_rng, light_rng, camera_rng, distractor_rng, conveyor_rng,
     coworker_rng) = rng.spawn(8)
    fj, tj = family.fixture_jitter, family.tray_jitter
    for _attempt in range(100):
        fixture_offset = (float(layout_rng.uniform(-fj.xy, fj.xy)),
                          float(layout_rng.uniform(-fj.xy, fj.xy)),
                          float(layout_rng.uniform(-fj.yaw, fj.yaw)))
        tray_offset = (float(layout_rng.uniform(-tj.xy, tj.xy)),
                       float(layout_rng.uniform(-tj.xy, tj.xy)),
                       float(layout_rng.uniform(-tj.yaw, tj.yaw)))
        effective = layout.with_offsets(fixture=fixture_offset, tray=tray_offset)
        if _layout_clear(effective):
            break
    else:
        raise _fail(family, "fixture_jitter", {"xy": fj.xy, "yaw_deg": math.degrees(fj.yaw)},
                    "jitters that keep the fixture, tray and reject bin 1 cm apart")
    parts = _sample_parts(effective, family, parts_rng, spawn_rng)
    lights, ambient = sample_lights(family.lighting, light_rng)
    cr = family.camera
    noise = sample_camera_noise(cr, camera_rng)
    return SceneParams(
        seed=int(seed), family=family.name, split=family.split,
        fixture_offset=fixture_offset, tray_offset=tray_offset, parts=parts,
        conveyor_speed=_uniform(conveyor_rng, family.conveyor.speed), lights=lights,
        ambient=ambient, camera_noise=noise,
        camera_width=cr.width if cr.width is not None else layout.camera.width,
        camera_height=cr.height if cr.height is not None else layout.camera.height,
        camera_rate_hz=cr.rate_hz if cr.rate_hz is not None else layout.camera.rate_hz,
        distractors=_sample_distractors(effective, family, distractor_rng),
        coworker_reaches=_sample_reaches(effective, family, coworker_rng),
        horizon_s=family.horizon_s)
