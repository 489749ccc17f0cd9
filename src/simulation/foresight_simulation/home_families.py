"""Variation families of the home-care room (DESIGN section 6) and the seeded sampler that
turns (room layout, family, seed) into one concrete scene: furniture poses, object sizes,
colours and places, clutter on the floor, lighting, camera noise and the person's day (which
places, how long, how fast). Same conventions as the industrial families
(`foresight_simulation.families`): one child random stream per aspect, a scene is a pure
function of its three inputs. No rclpy, no MuJoCo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from foresight_common.cell_layout import YamlSection, load_yaml_mapping, rotate_xy
from foresight_common.room_layout import Furniture, ObjectSpec, RoomLayout
from foresight_simulation.families import (
    SPLITS,
    CameraNoise,
    CameraRange,
    FamilyError,
    LightingRange,
    LightParams,
    PoseJitter,
    Range,
    _int_range,
    _names,
    _pose_jitter,
    _range,
    _uniform,
    family_path,
    footprints_overlap,
    layout_path,
    read_camera,
    read_lighting,
    sample_camera_noise,
    sample_lights,
)
from foresight_simulation.person import plan_route

#: Furniture that stands against a wall keeps its place; the others move by the jitter.
WALL_FURNITURE = ("shelf", "bed")
#: Free floor (m) every piece of furniture and clutter keeps from the others, so the robot's
#: base (0.5 m wide) can still pass where the nominal room lets it.
FURNITURE_GAP = 0.05


@dataclass(frozen=True)
class ObjectsRange:
    colour_jitter: float
    size_scale: Range
    offset_jitter: float            # m on its surface, per axis
    yaw_jitter: float               # rad


@dataclass(frozen=True)
class ClutterRange:
    count: tuple[int, int]
    size: Range                     # m, box edges
    height: Range


@dataclass(frozen=True)
class PersonRange:
    start: tuple[str, ...]          # places the person may start at (empty: any)
    places: tuple[str, ...]         # places visited (empty: all)
    dwell_s: Range
    walk_speed: Range               # m/s
    handover_reach_speed: Range     # m/s, peak hand speed


@dataclass(frozen=True)
class HomeFamily:
    name: str
    split: str
    description: str
    room: str
    horizon_s: float
    furniture_jitter: PoseJitter
    objects: ObjectsRange
    lighting: LightingRange
    camera: CameraRange
    clutter: ClutterRange
    person: PersonRange
    source: str = ""


@dataclass(frozen=True)
class ObjectParams:
    spec: ObjectSpec                # size and colour as sampled
    position: tuple[float, float, float]   # centre at the start
    yaw: float


@dataclass(frozen=True)
class ClutterParams:
    name: str
    center: tuple[float, float, float]
    half_size: tuple[float, float, float]
    yaw: float
    colour: tuple[float, float, float, float]


@dataclass(frozen=True)
class PersonVisit:
    place: str
    dwell_s: float


@dataclass(frozen=True)
class HomeSceneParams:
    seed: int
    family: str
    split: str
    layout: RoomLayout                      # the nominal room with this scene's furniture
    objects: tuple[ObjectParams, ...]
    clutter: tuple[ClutterParams, ...]
    lights: tuple[LightParams, ...]
    ambient: float
    camera_noise: CameraNoise
    camera_width: int
    camera_height: int
    camera_rate_hz: float
    person_start: str
    person_visits: tuple[PersonVisit, ...]
    walk_speed: float
    handover_reach_speed: float
    horizon_s: float


def parse_home_family(data: dict[str, Any], source: str = "<family>") -> HomeFamily:
    top = YamlSection(data, "", Path(source).name, FamilyError)
    obj_sec = top.section("objects")
    objects = ObjectsRange(
        colour_jitter=obj_sec.number("colour_jitter", 0.0, 0.5, default=0.0),
        size_scale=_range(obj_sec, "size_scale", 0.7, 1.3, default=1.0),
        offset_jitter=obj_sec.number("offset_jitter", 0.0, 0.3, default=0.0),
        yaw_jitter=math.radians(obj_sec.number("yaw_jitter_deg", 0.0, 180.0, default=0.0)))
    obj_sec.done()
    clutter_sec = top.section("clutter", default={"count": 0})
    clutter = ClutterRange(count=_int_range(clutter_sec, "count", 0, 10),
                           size=_range(clutter_sec, "size", 0.1, 0.6, default=[0.2, 0.4]),
                           height=_range(clutter_sec, "height", 0.05, 0.6,
                                         default=[0.1, 0.3]))
    clutter_sec.done()
    person_sec = top.section("person")
    person = PersonRange(
        start=_names(person_sec, "start", default=[]),
        places=_names(person_sec, "places", default=[]),
        dwell_s=_range(person_sec, "dwell_s", 1.0, 3600.0),
        walk_speed=_range(person_sec, "walk_speed", 0.2, 2.0),
        handover_reach_speed=_range(person_sec, "handover_reach_speed", 0.1, 2.0))
    person_sec.done()
    family = HomeFamily(
        name=top.string("name"), split=top.string("split", SPLITS),
        description=str(top.raw("description", default="")),
        room=top.string("room"),
        horizon_s=top.number("horizon_s", 10.0, 7200.0, default=600.0),
        furniture_jitter=_pose_jitter(top, "furniture_jitter", 0.5, 45.0),
        objects=objects, lighting=read_lighting(top.section("lighting")),
        camera=read_camera(top.section("camera")), clutter=clutter, person=person,
        source=str(source))
    top.done()
    return family


def load_home_family(name_or_path: str | Path,
                     config_dir: str | Path | None = None) -> HomeFamily:
    path = family_path(name_or_path, config_dir)
    return parse_home_family(load_yaml_mapping(path, FamilyError), source=str(path))


def room_layout_path(family: HomeFamily, config_dir: str | Path | None = None) -> Path:
    """Where the family's room layout lives (config/rooms/ or a path in the family)."""
    return layout_path(family.room, "room", "rooms", family.source, family.name, config_dir)


def _fail(family: HomeFamily, key: str, value: Any, allowed: str) -> FamilyError:
    return FamilyError(f"{Path(family.source).name or family.name}: invalid '{key}': got "
                       f"{value!r}, allowed: {allowed}")


def _overlaps(a: Furniture, b: Furniture, gap: float) -> bool:
    """Whether two footprints come closer than `gap` (each grown by half of it)."""
    return footprints_overlap(a.footprint(gap / 2.0), b.footprint(gap / 2.0))


def _inside_room(item: Furniture, layout: RoomLayout) -> bool:
    margin = layout.wall_thickness / 2.0
    return all(margin <= x <= layout.size[0] - margin and margin <= y <= layout.size[1] - margin
               for x, y in item.footprint())


def _jitter_furniture(layout: RoomLayout, family: HomeFamily,
                      rng: np.random.Generator) -> tuple[Furniture, ...]:
    j = family.furniture_jitter
    moved: list[Furniture] = []
    for item in layout.furniture:
        if item.kind in WALL_FURNITURE or (j.xy == 0.0 and j.yaw == 0.0):
            moved.append(item)
            continue
        for _attempt in range(50):
            dx, dy = rng.uniform(-j.xy, j.xy, 2)
            candidate = replace(item, center=(item.center[0] + float(dx),
                                              item.center[1] + float(dy)),
                                yaw=item.yaw + float(rng.uniform(-j.yaw, j.yaw)))
            if _inside_room(candidate, layout) and not any(
                    _overlaps(candidate, other, FURNITURE_GAP) for other in moved):
                moved.append(candidate)
                break
        else:
            raise _fail(family, "furniture_jitter", {"xy": j.xy},
                        f"a jitter that keeps '{item.name}' inside the room and clear of the "
                        "others")
    return tuple(moved)


def _follow_furniture(layout: RoomLayout, moved: tuple[Furniture, ...]) -> RoomLayout:
    """The room with the moved furniture; a person place named after a piece of furniture
    (the chair) moves with it."""
    before = {f.name: f for f in layout.furniture}
    places = []
    for place in layout.person_places:
        old = before.get(place.name)
        new = next((f for f in moved if f.name == place.name), None)
        if old is None or new is None:
            places.append(place)
            continue
        dx, dy = rotate_xy(place.xy[0] - old.center[0], place.xy[1] - old.center[1],
                           new.yaw - old.yaw)
        places.append(replace(place, xy=(new.center[0] + dx, new.center[1] + dy),
                              yaw=place.yaw + new.yaw - old.yaw))
    return replace(layout, furniture=moved, person_places=tuple(places))


def _walkable(room: RoomLayout) -> bool:
    """Whether the person can walk between every two places of the room."""
    places = room.person_places
    for i, a in enumerate(places):
        for b in places[i + 1:]:
            try:
                plan_route(a.xy, b.xy, room.waypoints, room.furniture)
            except ValueError:
                return False
    return True


def _sample_objects(layout: RoomLayout, family: HomeFamily,
                    rng: np.random.Generator) -> tuple[ObjectParams, ...]:
    r = family.objects
    out: list[ObjectParams] = []
    for obj in layout.objects:
        scale = _uniform(rng, r.size_scale)
        size = (obj.size[0] * scale, obj.size[1] * scale, obj.size[2] * scale)
        shift = rng.uniform(-r.colour_jitter, r.colour_jitter, 3)
        colour = tuple(float(np.clip(c + s, 0.0, 1.0)) for c, s in zip(obj.colour[:3], shift,
                                                                         strict=True))
        surface = layout.surface(obj.surface)
        for _attempt in range(50):
            offset = (obj.offset[0] + float(rng.uniform(-r.offset_jitter, r.offset_jitter)),
                      obj.offset[1] + float(rng.uniform(-r.offset_jitter, r.offset_jitter)))
            x, y = surface.point(offset)
            clear = all(math.hypot(x - o.position[0], y - o.position[1])
                        > (max(size[:2]) + max(o.spec.size[:2])) / 2.0 + 0.03 for o in out)
            if surface.contains_xy(x, y, margin=max(size[:2]) / 2.0 + 0.02) and clear:
                break
        else:
            raise _fail(family, "objects.offset_jitter", r.offset_jitter,
                        f"a jitter that keeps '{obj.name}' on {obj.surface}, clear of others")
        spec = replace(obj, size=size, colour=(*colour, obj.colour[3]), offset=offset)
        out.append(ObjectParams(spec=spec, position=(x, y, surface.height + size[2] / 2.0),
                                yaw=surface.yaw + float(rng.uniform(-r.yaw_jitter,
                                                                    r.yaw_jitter))))
    return tuple(out)


def _sample_clutter(layout: RoomLayout, family: HomeFamily,
                    rng: np.random.Generator) -> tuple[ClutterParams, ...]:
    """Boxes on the floor (laundry basket, bag, stool), kept clear of furniture, person
    places, walking routes' corners and the robot's start."""
    c = family.clutter
    count = int(rng.integers(c.count[0], c.count[1] + 1))
    keep_clear = [p.xy for p in layout.person_places] + list(layout.waypoints) + [
        layout.robot_start[:2]]
    out: list[ClutterParams] = []
    placed: list[Furniture] = list(layout.furniture)
    for k in range(count):
        for _attempt in range(100):
            sx, sy = (_uniform(rng, c.size) for _ in range(2))
            height = _uniform(rng, c.height)
            x = float(rng.uniform(0.3, layout.size[0] - 0.3))
            y = float(rng.uniform(0.3, layout.size[1] - 0.3))
            item = Furniture(f"clutter_{k}", "clutter", (x, y), float(rng.uniform(0, math.pi)),
                             (sx, sy, height), (0.5, 0.5, 0.5, 1.0))
            if (_inside_room(item, layout)
                    and not any(_overlaps(item, other, 0.6) for other in placed)
                    and all(math.hypot(x - px, y - py) > 0.9 for px, py in keep_clear)):
                break
        else:
            break          # a crowded room takes fewer pieces of clutter
        placed.append(item)
        grey = float(rng.uniform(0.25, 0.75))
        tint = rng.uniform(-0.1, 0.1, 3)
        out.append(ClutterParams(item.name, (x, y, height / 2.0), (sx / 2, sy / 2, height / 2),
                                 item.yaw, tuple(float(np.clip(grey + t, 0, 1)) for t in tint)
                                 + (1.0,)))
    return tuple(out)


def _sample_person(layout: RoomLayout, family: HomeFamily, rng: np.random.Generator
                   ) -> tuple[str, tuple[PersonVisit, ...], float, float]:
    p = family.person
    names = [pl.name for pl in layout.person_places]
    for key, listed in (("person.start", p.start), ("person.places", p.places)):
        unknown = [n for n in listed if n not in names]
        if unknown:
            raise _fail(family, key, unknown[0], "one of the room's places: " + ", ".join(names))
    places = list(p.places) or names
    start = str(rng.choice(list(p.start) or places))
    visits: list[PersonVisit] = [PersonVisit(start, _uniform(rng, p.dwell_s))]
    t = visits[0].dwell_s
    while t < family.horizon_s:
        options = [n for n in places if n != visits[-1].place]
        if not options:
            break
        visit = PersonVisit(str(rng.choice(options)), _uniform(rng, p.dwell_s))
        visits.append(visit)
        t += visit.dwell_s + 5.0
    return start, tuple(visits), _uniform(rng, p.walk_speed), _uniform(
        rng, p.handover_reach_speed)


def sample_home_scene(layout: RoomLayout, family: HomeFamily, seed: int) -> HomeSceneParams:
    """One concrete home scene, a pure function of (layout, family, seed)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FamilyError(f"invalid seed {seed!r}: allowed: an integer >= 0")
    rng = np.random.default_rng(int(seed))
    (furniture_rng, objects_rng, clutter_rng, light_rng, camera_rng,
     person_rng) = rng.spawn(6)
    for _attempt in range(50):
        room = _follow_furniture(layout, _jitter_furniture(layout, family, furniture_rng))
        if _walkable(room):
            break
    else:
        raise _fail(family, "furniture_jitter", family.furniture_jitter.xy,
                    "a jitter that leaves a walking route between every two person places")
    lights, ambient = sample_lights(family.lighting, light_rng)
    cr = family.camera
    start, visits, walk_speed, reach_speed = _sample_person(room, family, person_rng)
    return HomeSceneParams(
        seed=int(seed), family=family.name, split=family.split, layout=room,
        objects=_sample_objects(room, family, objects_rng),
        clutter=_sample_clutter(room, family, clutter_rng), lights=lights, ambient=ambient,
        camera_noise=sample_camera_noise(cr, camera_rng),
        camera_width=cr.width if cr.width is not None else layout.camera_size[0],
        camera_height=cr.height if cr.height is not None else layout.camera_size[1],
        camera_rate_hz=cr.rate_hz if cr.rate_hz is not None else layout.camera_rate_hz,
        person_start=start, person_visits=visits, walk_speed=walk_speed,
        handover_reach_speed=reach_speed, horizon_s=family.horizon_s)
