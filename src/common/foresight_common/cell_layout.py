"""The industrial cell's nominal layout (config/cells/*.yaml) as frozen, validated dataclasses.

Both the simulation (which builds the MuJoCo world from it) and the executor (which uses it as
its planning scene: `CellLayout.static_obstacles()`) read the same file, so there is one
description of where things are. No rclpy and no mujoco here: the executor must be able to
use it without a physics engine.

Units and frames: metres, radians (the YAML file writes angles in degrees, keys ending in
`_deg`), world frame of REP 103 (x forward from the robot, z up, floor at z = 0). Quaternions
are (w, x, y, z).

Bad input raises `CellLayoutError` with one line naming the key, the value and what is
allowed, so a typo in a config file never ends in a traceback deep inside the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
Rgba = tuple[float, float, float, float]

PART_SHAPES = ("cylinder", "box")
#: Panda gripper: fingers open to 0.08 m; below 5 mm nothing is held reliably.
MIN_GRASP_WIDTH = 0.005
MAX_GRASP_WIDTH = 0.08


class CellLayoutError(ValueError):
    """A cell layout file is missing, malformed or describes an impossible cell."""


# --- a small validating reader, shared with the variation families ---------------------------
class YamlSection:
    """Reads one mapping of a YAML document, turning every problem into a one-line error that
    names the key path, the offending value and what is allowed. `done()` rejects keys that
    were never read (typos must not be ignored silently)."""

    def __init__(self, data: Any, path: str, source: str,
                 error: Callable[[str], Exception]) -> None:
        self.path = path
        self.source = source
        self._error = error
        if not isinstance(data, Mapping):
            raise self.fail_at(path, data, "a mapping of keys to values")
        self.data = dict(data)
        self._read: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail_at(self, key_path: str, value: Any, allowed: str) -> Exception:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return self._error(f"{self.source}: invalid '{key_path or '<top>'}': got {shown}, "
                           f"allowed: {allowed}")

    def fail(self, key: str, value: Any, allowed: str) -> Exception:
        return self.fail_at(self.key_path(key), value, allowed)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = ..., allowed: str = "a value") -> Any:
        self._read.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "<missing>", allowed)
            return default
        return self.data[key]

    def section(self, key: str, default: Any = ...) -> YamlSection:
        value = self.raw(key, default, "a mapping of keys to values")
        return YamlSection({} if value is None else value, self.key_path(key), self.source,
                           self._error)

    def number(self, key: str, low: float | None = None, high: float | None = None,
               default: Any = ...) -> float:
        allowed = _range_text("a number", low, high)
        value = self.raw(key, default, allowed)
        return _check_number(self, self.key_path(key), value, low, high, allowed)

    def integer(self, key: str, low: int | None = None, high: int | None = None,
                default: Any = ...) -> int:
        allowed = _range_text("an integer", low, high)
        value = self.raw(key, default, allowed)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, value, allowed)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(key, value, allowed)
        return int(value)

    def vector(self, key: str, length: int, low: float | None = None,
               high: float | None = None, default: Any = ...) -> tuple[float, ...]:
        allowed = _range_text(f"a list of {length} numbers", low, high)
        value = self.raw(key, default, allowed)
        return check_vector(self, self.key_path(key), value, length, low, high, allowed)

    def string(self, key: str, choices: Sequence[str] | None = None,
               default: Any = ...) -> str:
        allowed = ("one of " + ", ".join(choices)) if choices else "a non-empty string"
        value = self.raw(key, default, allowed)
        if not isinstance(value, str) or not value or (choices and value not in choices):
            raise self.fail(key, value, allowed)
        return value

    def boolean(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default, "true or false")
        if not isinstance(value, bool):
            raise self.fail(key, value, "true or false")
        return value

    def items(self, key: str, min_len: int = 0, default: Any = ...) -> list[Any]:
        allowed = f"a list with at least {min_len} entries"
        value = self.raw(key, default, allowed)
        if not isinstance(value, list) or len(value) < min_len:
            raise self.fail(key, value, allowed)
        return value

    def sections(self, key: str, min_len: int = 0, default: Any = ...) -> list[YamlSection]:
        values = self.items(key, min_len, default)
        return [YamlSection(v, f"{self.key_path(key)}[{i}]", self.source, self._error)
                for i, v in enumerate(values)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            raise self.fail(unknown[0], self.data[unknown[0]],
                            "no such key here; known keys: " + ", ".join(sorted(self._read)))


def _range_text(kind: str, low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return kind
    return f"{kind} in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def _check_number(sec: YamlSection, key_path: str, value: Any, low: float | None,
                  high: float | None, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value):
        raise sec.fail_at(key_path, value, allowed)
    if (low is not None and value < low) or (high is not None and value > high):
        raise sec.fail_at(key_path, value, allowed)
    return float(value)


def check_vector(sec: YamlSection, key_path: str, value: Any, length: int,
                 low: float | None, high: float | None, allowed: str) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise sec.fail_at(key_path, value, allowed)
    return tuple(_check_number(sec, key_path, v, low, high, allowed) for v in value)


def load_yaml_mapping(path: str | Path, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; every failure becomes `error(one line)`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"{path}: cannot read file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}: not valid YAML{where}: "
                    f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: invalid '<top>': got {type(data).__name__}, "
                    "allowed: a mapping of keys to values")
    return data


# --- small geometry helpers (plain math: no numpy needed here) --------------------------------
def rotate_xy(x: float, y: float, yaw: float) -> Vec2:
    c, s = math.cos(yaw), math.sin(yaw)
    return (c * x - s * y, s * x + c * y)


def yaw_to_quat(yaw: float) -> tuple[float, float, float, float]:
    return (math.cos(yaw / 2.0), 0.0, 0.0, math.sin(yaw / 2.0))


def _normalise(v: Sequence[float]) -> Vec3:
    n = math.sqrt(sum(c * c for c in v))
    return (v[0] / n, v[1] / n, v[2] / n)


def _cross(a: Sequence[float], b: Sequence[float]) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def matrix_to_quat(r: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """Rotation matrix (rows) -> unit quaternion (w, x, y, z), w >= 0."""
    trace = r[0][0] + r[1][1] + r[2][2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = (0.25 * s, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s,
             (r[1][0] - r[0][1]) / s)
    elif r[0][0] > r[1][1] and r[0][0] > r[2][2]:
        s = 2.0 * math.sqrt(1.0 + r[0][0] - r[1][1] - r[2][2])
        q = ((r[2][1] - r[1][2]) / s, 0.25 * s, (r[0][1] + r[1][0]) / s,
             (r[0][2] + r[2][0]) / s)
    elif r[1][1] > r[2][2]:
        s = 2.0 * math.sqrt(1.0 + r[1][1] - r[0][0] - r[2][2])
        q = ((r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, 0.25 * s,
             (r[1][2] + r[2][1]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + r[2][2] - r[0][0] - r[1][1])
        q = ((r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s,
             0.25 * s)
    n = math.sqrt(sum(c * c for c in q))
    sign = 1.0 if q[0] >= 0 else -1.0
    return (sign * q[0] / n, sign * q[1] / n, sign * q[2] / n, sign * q[3] / n)


def look_at_quat(position: Sequence[float], target: Sequence[float],
                 image_up: Sequence[float]) -> tuple[float, float, float, float]:
    """Orientation (w, x, y, z) of a MuJoCo camera frame (looks along -z, image up = +y) at
    `position` looking at `target` with `image_up` projected to the top of the image."""
    forward = _normalise([t - p for t, p in zip(target, position, strict=True)])
    right = _normalise(_cross(forward, image_up))
    up = _cross(right, forward)
    back = (-forward[0], -forward[1], -forward[2])
    # columns: camera x (right), y (up), z (back)
    rows = [[right[i], up[i], back[i]] for i in range(3)]
    return matrix_to_quat(rows)


# --- the layout's parts -----------------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    """An oriented box obstacle: centre (world), half extents along its own axes, yaw about z."""
    name: str
    center: Vec3
    half_size: Vec3
    yaw: float = 0.0


@dataclass(frozen=True)
class PartType:
    """A kind of part. `size` is (diameter, height) for a cylinder and (x, y, height) for a box
    at yaw 0; the part's frame is at its geometric centre with z up. `grasp_width` is the
    distance between the finger pads of a top grasp across the narrow side."""
    name: str
    shape: str
    size: tuple[float, ...]
    colour: Rgba
    mass: float
    hole_type: str
    grasp_width: float
    height: float

    @property
    def footprint(self) -> Vec2:
        """Extents in x and y at yaw 0 (m)."""
        if self.shape == "cylinder":
            return (self.size[0], self.size[0])
        return (self.size[0], self.size[1])


@dataclass(frozen=True)
class HoleSpec:
    """One hole of the fixture. `position` is the centre of the top opening (world, on the
    fixture's top surface); the flat bottom is `depth` below it. `opening` is the opening
    below the chamfer: (diameter,) for a round hole, (x, y) in the hole frame otherwise; the
    rim is chamfered by `chamfer` at 45 degrees. `clearance` is the diametral clearance for
    the nominal part."""
    name: str
    type: str
    position: Vec3
    yaw: float
    depth: float
    clearance: float
    shape: str = "cylinder"
    opening: tuple[float, ...] = ()
    chamfer: float = 0.0

    @property
    def bottom_z(self) -> float:
        return self.position[2] - self.depth


@dataclass(frozen=True)
class SlotSpec:
    """A tray slot: where a part's bottom centre rests (world) and the part's yaw there."""
    name: str
    position: Vec3
    yaw: float


@dataclass(frozen=True)
class BenchSpec:
    center: Vec2
    size: Vec2
    top_z: float
    colour: Rgba


@dataclass(frozen=True)
class FixtureHoleDef:
    """A hole as written in the file: in the fixture frame."""
    name: str
    type: str
    offset: Vec2
    yaw: float


@dataclass(frozen=True)
class FixtureSpec:
    """The fixture block standing on the bench: `center` is the block's centre (world)."""
    center: Vec3
    yaw: float
    size: Vec3
    colour: Rgba
    hole_depth: float
    chamfer: float
    clearance: float
    rim_margin: float
    hole_colours: dict[str, Rgba]
    hole_defs: tuple[FixtureHoleDef, ...]

    @property
    def top_z(self) -> float:
        return self.center[2] + self.size[2] / 2.0


@dataclass(frozen=True)
class SlotDef:
    name: str
    offset: Vec2
    yaw: float


@dataclass(frozen=True)
class TraySpec:
    """An open tray on the bench: `center` is the centre of its footprint at bench height."""
    center: Vec3
    yaw: float
    size: Vec2
    wall_height: float
    wall_thickness: float
    floor_thickness: float
    colour: Rgba
    slot_defs: tuple[SlotDef, ...]

    @property
    def floor_top_z(self) -> float:
        return self.center[2] + self.floor_thickness


@dataclass(frozen=True)
class ConveyorSpec:
    """A straight belt from `start` to `end` (xy); parts travel start -> end. `pick_zone` is a
    range of the coordinate along the belt's axis (y for this cell) the robot reaches."""
    start: Vec2
    end: Vec2
    belt_top_z: float
    width: float
    belt_thickness: float
    pick_zone: Vec2
    belt_colour: Rgba
    frame_colour: Rgba

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)

    @property
    def direction(self) -> Vec2:
        d = self.length
        return ((self.end[0] - self.start[0]) / d, (self.end[1] - self.start[1]) / d)

    @property
    def yaw(self) -> float:
        """Yaw of the belt frame whose +y axis runs along the travel direction."""
        dx, dy = self.direction
        return math.atan2(dy, dx) - math.pi / 2.0

    @property
    def center_xy(self) -> Vec2:
        return ((self.start[0] + self.end[0]) / 2.0, (self.start[1] + self.end[1]) / 2.0)


@dataclass(frozen=True)
class BinSpec:
    """Reject bin on the bench: `center` is its footprint centre at bench height; `size` is
    (x, y, wall height)."""
    center: Vec3
    size: Vec3
    wall_thickness: float
    colour: Rgba


@dataclass(frozen=True)
class CameraSpec:
    """Fixed camera. `quat` (w, x, y, z) orients MuJoCo's camera frame (looking along -z,
    image up = +y); the REP 103 optical frame is that frame turned 180 degrees about x.
    `fovy_deg` is the vertical field of view; width/height/rate are defaults for nodes."""
    name: str
    position: Vec3
    look_at: Vec3
    image_up: Vec3
    quat: tuple[float, float, float, float]
    fovy_deg: float
    width: int
    height: int
    rate_hz: float


@dataclass(frozen=True)
class ReachTarget:
    name: str
    position: Vec3


@dataclass(frozen=True)
class CoworkerSpec:
    """Where the co-worker stands (xy between the feet), which way they face (yaw, rad) and
    the hand targets (world) they reach to in the shared zone."""
    base: Vec2
    yaw: float
    reach_targets: tuple[ReachTarget, ...]


@dataclass(frozen=True)
class ScannerSpec:
    """A safety laser scanner watching the co-worker's station: a horizontal fan of rays
    from `position` (world) centred on `yaw` (rad), `fov` wide, out to `range_max` (m)."""
    position: Vec3
    yaw: float
    fov: float
    rays: int
    range_max: float
    rate_hz: float


@dataclass(frozen=True)
class CellLayout:
    """The whole cell. `holes` and `tray_slots` are in the world frame (derived from the
    fixture and tray poses); `with_offsets` moves them together with their parents."""
    source: str
    bench: BenchSpec
    robot_base: Vec3
    robot_yaw: float
    part_types: dict[str, PartType]
    fixture: FixtureSpec
    holes: tuple[HoleSpec, ...]
    tray: TraySpec
    tray_slots: tuple[SlotSpec, ...]
    conveyor: ConveyorSpec
    reject_bin: BinSpec
    camera: CameraSpec
    coworker: CoworkerSpec
    distractor_zones: tuple[tuple[float, float, float, float], ...] = field(default=())
    safety_scanner: ScannerSpec | None = None

    def hole(self, name: str) -> HoleSpec:
        for hole in self.holes:
            if hole.name == name:
                return hole
        raise KeyError(name)

    def slot(self, name: str) -> SlotSpec:
        for slot in self.tray_slots:
            if slot.name == name:
                return slot
        raise KeyError(name)

    def holes_of_type(self, hole_type: str) -> tuple[HoleSpec, ...]:
        return tuple(h for h in self.holes if h.type == hole_type)

    def with_offsets(self, fixture: tuple[float, float, float] = (0.0, 0.0, 0.0),
                     tray: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> CellLayout:
        """The same cell with the fixture and the tray moved by (dx, dy, dyaw) in the world
        frame (m, m, rad), holes and slots following them. Variation families use this."""
        fx = replace(self.fixture, center=(self.fixture.center[0] + fixture[0],
                                           self.fixture.center[1] + fixture[1],
                                           self.fixture.center[2]),
                     yaw=self.fixture.yaw + fixture[2])
        tr = replace(self.tray, center=(self.tray.center[0] + tray[0],
                                        self.tray.center[1] + tray[1], self.tray.center[2]),
                     yaw=self.tray.yaw + tray[2])
        return replace(self, fixture=fx, holes=derive_holes(fx, self.part_types),
                       tray=tr, tray_slots=derive_slots(tr))

    def static_obstacles(self) -> tuple[Box, ...]:
        """Collision boxes of everything fixed in the cell (world frame) for planning: bench,
        fixture block (solid: hole interiors are the executor's business), tray floor and
        walls, conveyor frame and belt, reject bin floor and walls. Not the parts, not the
        person, not distractors (they vary per scene)."""
        boxes = [Box("bench", (self.bench.center[0], self.bench.center[1],
                               self.bench.top_z / 2.0),
                     (self.bench.size[0] / 2.0, self.bench.size[1] / 2.0,
                      self.bench.top_z / 2.0))]
        fx = self.fixture
        boxes.append(Box("fixture", fx.center, (fx.size[0] / 2, fx.size[1] / 2, fx.size[2] / 2),
                         fx.yaw))
        tr = self.tray
        boxes.extend(open_box_parts("tray", tr.center, tr.yaw, tr.size, tr.wall_height,
                                    tr.wall_thickness, tr.floor_thickness))
        boxes.extend(conveyor_boxes(self.conveyor))
        rb = self.reject_bin
        boxes.extend(open_box_parts("reject_bin", rb.center, 0.0, rb.size[:2], rb.size[2],
                                    rb.wall_thickness, rb.wall_thickness))
        return tuple(boxes)


def open_box_parts(name: str, center: Vec3, yaw: float, size: Vec2, wall_height: float,
                   wall: float, floor: float) -> list[Box]:
    """Floor and four walls of an open box standing at `center` (bottom centre), world."""
    sx, sy = size[0] / 2.0, size[1] / 2.0
    wz = wall_height / 2.0
    local = [
        (f"{name}/floor", (0.0, 0.0, floor / 2.0), (sx, sy, floor / 2.0)),
        (f"{name}/wall_x_neg", (-sx + wall / 2.0, 0.0, wz), (wall / 2.0, sy, wz)),
        (f"{name}/wall_x_pos", (sx - wall / 2.0, 0.0, wz), (wall / 2.0, sy, wz)),
        (f"{name}/wall_y_neg", (0.0, -sy + wall / 2.0, wz), (sx - wall, wall / 2.0, wz)),
        (f"{name}/wall_y_pos", (0.0, sy - wall / 2.0, wz), (sx - wall, wall / 2.0, wz)),
    ]
    boxes = []
    for part_name, offset, half in local:
        ox, oy = rotate_xy(offset[0], offset[1], yaw)
        boxes.append(Box(part_name, (center[0] + ox, center[1] + oy, center[2] + offset[2]),
                         half, yaw))
    return boxes


def conveyor_boxes(conveyor: ConveyorSpec) -> list[Box]:
    """Belt and supporting frame of the conveyor (world). The frame stands on the floor and
    stops short of the belt's last 2 cm, which overhang the bench."""
    cx, cy = conveyor.center_xy
    half_len = conveyor.length / 2.0
    belt_half_z = conveyor.belt_thickness / 2.0
    belt = Box("conveyor/belt", (cx, cy, conveyor.belt_top_z - belt_half_z),
               (conveyor.width / 2.0, half_len, belt_half_z), conveyor.yaw)
    frame_top = conveyor.belt_top_z - conveyor.belt_thickness
    frame_len = max(conveyor.length - 0.02, 0.01)
    dx, dy = conveyor.direction
    fcx = conveyor.start[0] + dx * frame_len / 2.0
    fcy = conveyor.start[1] + dy * frame_len / 2.0
    frame = Box("conveyor/frame", (fcx, fcy, frame_top / 2.0),
                (conveyor.width / 2.0 + 0.01, frame_len / 2.0, frame_top / 2.0), conveyor.yaw)
    return [belt, frame]


def hole_opening_half_extents(shape: str, opening: Sequence[float], yaw: float,
                              grow: float) -> Vec2:
    """Half extents (x, y, fixture frame) of a hole opening grown by `grow` on every side,
    rotated by `yaw` (relative to the fixture)."""
    if shape == "cylinder":
        r = opening[0] / 2.0 + grow
        return (r, r)
    hx, hy = opening[0] / 2.0 + grow, opening[1] / 2.0 + grow
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    return (c * hx + s * hy, s * hx + c * hy)


def derive_holes(fixture: FixtureSpec, part_types: Mapping[str, PartType]) -> tuple[
        HoleSpec, ...]:
    """World hole specs from the fixture pose and the hole definitions in its frame."""
    by_hole = {p.hole_type: p for p in part_types.values()}
    holes = []
    for d in fixture.hole_defs:
        part = by_hole[d.type]
        ox, oy = rotate_xy(d.offset[0], d.offset[1], fixture.yaw)
        if part.shape == "cylinder":
            opening: tuple[float, ...] = (part.size[0] + fixture.clearance,)
        else:
            opening = (part.size[0] + fixture.clearance, part.size[1] + fixture.clearance)
        holes.append(HoleSpec(
            name=d.name, type=d.type,
            position=(fixture.center[0] + ox, fixture.center[1] + oy, fixture.top_z),
            yaw=fixture.yaw + d.yaw, depth=fixture.hole_depth, clearance=fixture.clearance,
            shape=part.shape, opening=opening, chamfer=fixture.chamfer))
    return tuple(holes)


def derive_slots(tray: TraySpec) -> tuple[SlotSpec, ...]:
    slots = []
    for d in tray.slot_defs:
        ox, oy = rotate_xy(d.offset[0], d.offset[1], tray.yaw)
        slots.append(SlotSpec(d.name, (tray.center[0] + ox, tray.center[1] + oy,
                                       tray.floor_top_z), tray.yaw + d.yaw))
    return tuple(slots)


# --- loading ----------------------------------------------------------------------------------
def _colour(sec: YamlSection, key: str, default: Any = ...) -> Rgba:
    value = sec.vector(key, 4, 0.0, 1.0, default=default)
    return (value[0], value[1], value[2], value[3])


def _read_part_type(name: str, sec: YamlSection) -> PartType:
    shape = sec.string("shape", PART_SHAPES)
    if shape == "cylinder":
        size = sec.vector("size", 2, 0.005, 0.2)
        grasp = size[0]
    else:
        size = sec.vector("size", 3, 0.005, 0.2)
        grasp = min(size[0], size[1])
    if not MIN_GRASP_WIDTH <= grasp <= MAX_GRASP_WIDTH:
        raise sec.fail("size", list(size),
                       f"a narrow side between {MIN_GRASP_WIDTH} and {MAX_GRASP_WIDTH} m "
                       "(the Panda gripper must close on it)")
    part = PartType(name=name, shape=shape, size=size, colour=_colour(sec, "colour"),
                    mass=sec.number("mass", 0.005, 2.0), hole_type=sec.string("hole_type"),
                    grasp_width=grasp, height=size[-1])
    sec.done()
    return part


def _read_fixture(sec: YamlSection, bench_top: float,
                  part_types: Mapping[str, PartType]) -> FixtureSpec:
    cx, cy = sec.vector("center", 2, -5.0, 5.0)
    size = sec.vector("size", 3, 0.01, 2.0)
    hole_depth = sec.number("hole_depth", 0.005, 0.2)
    if hole_depth > size[2] - 0.005:
        raise sec.fail("hole_depth", hole_depth,
                       f"at most the block height minus 5 mm ({size[2] - 0.005:.3f})")
    hole_types = sorted({p.hole_type for p in part_types.values()})
    colours_sec = sec.section("hole_colours")
    hole_colours = {t: _colour(colours_sec, t) for t in hole_types}
    colours_sec.done()
    fixture_yaw = math.radians(sec.number("yaw_deg", -360.0, 360.0, default=0.0))
    chamfer = sec.number("chamfer", 0.0, 0.01)
    clearance = sec.number("clearance", 0.0002, 0.003)
    rim_margin = sec.number("rim_margin", 0.002, 0.05)
    defs = []
    names: set[str] = set()
    for h in sec.sections("holes", min_len=1):
        name = h.string("name")
        if name in names:
            raise h.fail("name", name, "a name not used by another hole")
        names.add(name)
        defs.append(FixtureHoleDef(name=name, type=h.string("type", hole_types),
                                   offset=tuple(h.vector("offset", 2, -1.0, 1.0)),
                                   yaw=math.radians(h.number("yaw_deg", -360.0, 360.0,
                                                             default=0.0))))
        h.done()
    fixture = FixtureSpec(center=(cx, cy, bench_top + size[2] / 2.0), yaw=fixture_yaw,
                          size=size, colour=_colour(sec, "colour"), hole_depth=hole_depth,
                          chamfer=chamfer, clearance=clearance, rim_margin=rim_margin,
                          hole_colours=hole_colours, hole_defs=tuple(defs))
    _check_hole_cells(sec, fixture, part_types)
    sec.done()
    return fixture


def hole_cell_half_extents(fixture: FixtureSpec, hole: FixtureHoleDef,
                           part_types: Mapping[str, PartType]) -> Vec2:
    """Half extents (fixture frame) of the coloured rim cell built around a hole: the
    opening, grown by the chamfer and the rim margin."""
    part = next(p for p in part_types.values() if p.hole_type == hole.type)
    if part.shape == "cylinder":
        opening: tuple[float, ...] = (part.size[0] + fixture.clearance,)
    else:
        opening = (part.size[0] + fixture.clearance, part.size[1] + fixture.clearance)
    return hole_opening_half_extents(part.shape, opening, hole.yaw,
                                     fixture.chamfer + fixture.rim_margin)


def _check_hole_cells(sec: YamlSection, fixture: FixtureSpec,
                      part_types: Mapping[str, PartType]) -> None:
    """Every hole with its rim must lie inside the block and not overlap another."""
    cells = []
    for i, hole in enumerate(fixture.hole_defs):
        hx, hy = hole_cell_half_extents(fixture, hole, part_types)
        x, y = hole.offset
        key = f"holes[{i}].offset"
        if abs(x) + hx > fixture.size[0] / 2 - 1e-9 or abs(y) + hy > fixture.size[1] / 2 - 1e-9:
            raise sec.fail(key, list(hole.offset),
                           f"an offset keeping the hole and its rim ({2 * hx:.3f} x "
                           f"{2 * hy:.3f} m) inside the block")
        for name, (ox, oy, ohx, ohy) in cells:
            if abs(x - ox) < hx + ohx - 1e-9 and abs(y - oy) < hy + ohy - 1e-9:
                raise sec.fail(key, list(hole.offset),
                               f"an offset whose rim does not overlap hole '{name}'")
        cells.append((hole.name, (x, y, hx, hy)))


def _read_tray(sec: YamlSection, bench_top: float) -> TraySpec:
    cx, cy = sec.vector("center", 2, -5.0, 5.0)
    size = sec.vector("size", 2, 0.05, 2.0)
    wall = sec.number("wall_thickness", 0.002, 0.05)
    slots = []
    names: set[str] = set()
    for s in sec.sections("slots", min_len=1):
        name = s.string("name")
        if name in names:
            raise s.fail("name", name, "a name not used by another slot")
        names.add(name)
        offset = s.vector("offset", 2, -1.0, 1.0)
        if abs(offset[0]) > size[0] / 2 - wall or abs(offset[1]) > size[1] / 2 - wall:
            raise s.fail("offset", list(offset), "a point inside the tray's walls")
        slots.append(SlotDef(name, (offset[0], offset[1]),
                             math.radians(s.number("yaw_deg", -360.0, 360.0, default=0.0))))
        s.done()
    tray = TraySpec(center=(cx, cy, bench_top),
                    yaw=math.radians(sec.number("yaw_deg", -360.0, 360.0, default=0.0)),
                    size=size, wall_height=sec.number("wall_height", 0.005, 0.2),
                    wall_thickness=wall,
                    floor_thickness=sec.number("floor_thickness", 0.001, 0.05),
                    colour=_colour(sec, "colour"), slot_defs=tuple(slots))
    if tray.floor_thickness >= tray.wall_height:
        raise sec.fail("floor_thickness", tray.floor_thickness,
                       f"less than wall_height ({tray.wall_height})")
    sec.done()
    return tray


def _read_conveyor(sec: YamlSection, bench_top: float) -> ConveyorSpec:
    start = sec.vector("start", 2, -5.0, 5.0)
    end = sec.vector("end", 2, -5.0, 5.0)
    if math.dist(start, end) < 0.2:
        raise sec.fail("end", list(end), "a point at least 0.2 m from start")
    top = sec.number("belt_top_z", bench_top, bench_top + 0.5)
    zone = sec.vector("pick_zone", 2, -5.0, 5.0)
    lo_y, hi_y = sorted((start[1], end[1]))
    if not (zone[0] < zone[1] and lo_y <= zone[0] and zone[1] <= hi_y):
        raise sec.fail("pick_zone", list(zone),
                       f"an increasing range within the belt's extent [{lo_y}, {hi_y}]")
    conveyor = ConveyorSpec(start=(start[0], start[1]), end=(end[0], end[1]), belt_top_z=top,
                            width=sec.number("width", 0.05, 1.0),
                            belt_thickness=sec.number("belt_thickness", 0.005, 0.1),
                            pick_zone=(zone[0], zone[1]),
                            belt_colour=_colour(sec, "belt_colour"),
                            frame_colour=_colour(sec, "frame_colour"))
    sec.done()
    return conveyor


def _read_camera(sec: YamlSection) -> CameraSpec:
    position = sec.vector("position", 3, -10.0, 10.0)
    look_at = sec.vector("look_at", 3, -10.0, 10.0)
    up = sec.vector("image_up", 3, -1.0, 1.0)
    forward = [t - p for t, p in zip(look_at, position, strict=True)]
    if math.sqrt(sum(c * c for c in forward)) < 0.1:
        raise sec.fail("look_at", list(look_at), "a point at least 0.1 m from position")
    side = _cross(_normalise(forward), up)
    if math.sqrt(sum(c * c for c in side)) < 0.1:
        raise sec.fail("image_up", list(up), "a direction not parallel to the view direction")
    camera = CameraSpec(name=sec.string("name", default="overhead_camera"),
                        position=tuple(position), look_at=tuple(look_at), image_up=tuple(up),
                        quat=look_at_quat(position, look_at, up),
                        fovy_deg=sec.number("fovy_deg", 10.0, 120.0),
                        width=sec.integer("width", 16, 4096),
                        height=sec.integer("height", 12, 4096),
                        rate_hz=sec.number("rate_hz", 0.1, 120.0))
    sec.done()
    return camera


def _read_coworker(sec: YamlSection) -> CoworkerSpec:
    targets = []
    names: set[str] = set()
    for t in sec.sections("reach_targets", min_len=1):
        name = t.string("name")
        if name in names:
            raise t.fail("name", name, "a name not used by another target")
        names.add(name)
        targets.append(ReachTarget(name, tuple(t.vector("position", 3, -5.0, 5.0))))
        t.done()
    spec = CoworkerSpec(base=tuple(sec.vector("base", 2, -5.0, 5.0)),
                        yaw=math.radians(sec.number("yaw_deg", -360.0, 360.0)),
                        reach_targets=tuple(targets))
    sec.done()
    return spec


def _read_scanner(sec: YamlSection) -> ScannerSpec:
    spec = ScannerSpec(position=tuple(sec.vector("position", 3, -5.0, 5.0)),
                       yaw=math.radians(sec.number("yaw_deg", -360.0, 360.0)),
                       fov=math.radians(sec.number("fov_deg", 1.0, 360.0)),
                       rays=sec.integer("rays", 2, 4096),
                       range_max=sec.number("range_max", 0.1, 30.0),
                       rate_hz=sec.number("rate_hz", 1.0, 100.0))
    sec.done()
    return spec


def parse_cell_layout(data: Mapping[str, Any], source: str = "<cell layout>") -> CellLayout:
    """Validate an already-parsed layout mapping (see `load_cell_layout`)."""
    top = YamlSection(data, "", source, CellLayoutError)
    bench_sec = top.section("bench")
    bench = BenchSpec(center=tuple(bench_sec.vector("center", 2, -5.0, 5.0)),
                      size=tuple(bench_sec.vector("size", 2, 0.2, 10.0)),
                      top_z=bench_sec.number("top_z", 0.2, 2.0),
                      colour=_colour(bench_sec, "colour"))
    bench_sec.done()
    robot_sec = top.section("robot")
    base = robot_sec.vector("base", 3, -5.0, 5.0)
    robot_yaw = math.radians(robot_sec.number("yaw_deg", -360.0, 360.0, default=0.0))
    robot_sec.done()
    parts_sec = top.section("part_types")
    if not parts_sec.data:
        raise top.fail("part_types", {}, "at least one part type")
    part_types = {name: _read_part_type(name, parts_sec.section(name))
                  for name in parts_sec.data}
    parts_sec.done()
    seen: dict[str, str] = {}
    for part in part_types.values():
        if part.hole_type in seen:
            raise top.fail(f"part_types.{part.name}.hole_type", part.hole_type,
                           f"a hole type no other part uses (also used by {seen[part.hole_type]})")
        seen[part.hole_type] = part.name
    fixture = _read_fixture(top.section("fixture"), bench.top_z, part_types)
    used = {d.type for d in fixture.hole_defs}
    for part in part_types.values():
        if part.hole_type not in used:
            raise top.fail(f"part_types.{part.name}.hole_type", part.hole_type,
                           "a type of at least one hole in fixture.holes")
        if part.height <= fixture.hole_depth + 0.01:
            raise top.fail(f"part_types.{part.name}.size", list(part.size),
                           f"a height above hole_depth + 0.01 ({fixture.hole_depth + 0.01:.3f})"
                           " so a top grasp clears the rim when seated")
    tray = _read_tray(top.section("tray"), bench.top_z)
    conveyor = _read_conveyor(top.section("conveyor"), bench.top_z)
    bin_sec = top.section("reject_bin")
    bcx, bcy = bin_sec.vector("center", 2, -5.0, 5.0)
    reject_bin = BinSpec(center=(bcx, bcy, bench.top_z),
                         size=tuple(bin_sec.vector("size", 3, 0.02, 2.0)),
                         wall_thickness=bin_sec.number("wall_thickness", 0.002, 0.05),
                         colour=_colour(bin_sec, "colour"))
    bin_sec.done()
    camera = _read_camera(top.section("camera"))
    coworker = _read_coworker(top.section("coworker"))
    scanner = _read_scanner(top.section("safety_scanner")) if top.has("safety_scanner") \
        else None
    zones = []
    for i, zone in enumerate(top.items("distractor_zones", default=[])):
        z = check_vector(top, f"distractor_zones[{i}]", zone, 4, -5.0, 5.0,
                         "4 numbers x_min, x_max, y_min, y_max")
        if z[0] >= z[1] or z[2] >= z[3]:
            raise top.fail(f"distractor_zones[{i}]", zone, "x_min < x_max and y_min < y_max")
        zones.append((z[0], z[1], z[2], z[3]))
    top.done()
    return CellLayout(source=source, bench=bench, robot_base=(base[0], base[1], base[2]),
                      robot_yaw=robot_yaw, part_types=part_types, fixture=fixture,
                      holes=derive_holes(fixture, part_types), tray=tray,
                      tray_slots=derive_slots(tray), conveyor=conveyor, reject_bin=reject_bin,
                      camera=camera, coworker=coworker, distractor_zones=tuple(zones),
                      safety_scanner=scanner)


def load_cell_layout(path: str | Path) -> CellLayout:
    """Read and validate a cell layout YAML file (see config/cells/industrial_cell.yaml)."""
    data = load_yaml_mapping(path, CellLayoutError)
    return parse_cell_layout(data, source=Path(path).name)
