"""The nominal home-care room (DESIGN section 6): walls, furniture, the objects of the tasks,
the places a person walks between and where the robot starts, read from a YAML file in
`config/rooms/`. Shared by the simulation (which jitters it per variation family) and the
online nodes (the known layout a map starts from). No rclpy, no MuJoCo.

Frame: `map`, x along the room's length from its corner, z up, metres; yaw in radians here
(degrees in the file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from foresight_common.cell_layout import (
    YamlSection,
    check_vector,
    load_yaml_mapping,
    rotate_xy,
)

FURNITURE_KINDS = ("table", "chair", "shelf", "bed", "bedside_table", "clutter")
#: Furniture whose top (and, for shelves, boards) holds objects.
SURFACE_KINDS = ("table", "shelf", "bedside_table")
OBJECT_SHAPES = ("box", "cylinder")
POSTURES = ("stand", "sit")


class RoomLayoutError(ValueError):
    """A room layout file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Furniture:
    name: str
    kind: str
    center: tuple[float, float]
    yaw: float
    size: tuple[float, float, float]        # x, y in its own frame; height
    colour: tuple[float, float, float, float]
    levels: tuple[float, ...] = ()           # shelf boards' top heights (m), below the top

    def footprint(self, margin: float = 0.0) -> list[tuple[float, float]]:
        """Corners of the footprint grown by `margin` (m), counter-clockwise."""
        hx, hy = self.size[0] / 2.0 + margin, self.size[1] / 2.0 + margin
        return [(self.center[0] + dx, self.center[1] + dy)
                for dx, dy in (rotate_xy(sx * hx, sy * hy, self.yaw)
                               for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)))]

    def contains_xy(self, x: float, y: float, margin: float = 0.0) -> bool:
        lx, ly = rotate_xy(x - self.center[0], y - self.center[1], -self.yaw)
        return (abs(lx) <= self.size[0] / 2.0 + margin
                and abs(ly) <= self.size[1] / 2.0 + margin)


@dataclass(frozen=True)
class Surface:
    """Where objects rest: a furniture top or a shelf board."""
    name: str                 # "table", "shelf/1", ...
    furniture: str
    height: float
    center: tuple[float, float]
    yaw: float
    size: tuple[float, float]

    def point(self, offset: Sequence[float]) -> tuple[float, float]:
        dx, dy = rotate_xy(offset[0], offset[1], self.yaw)
        return (self.center[0] + dx, self.center[1] + dy)

    def contains_xy(self, x: float, y: float, margin: float = 0.0) -> bool:
        lx, ly = rotate_xy(x - self.center[0], y - self.center[1], -self.yaw)
        return (abs(lx) <= self.size[0] / 2.0 - margin
                and abs(ly) <= self.size[1] / 2.0 - margin)


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    type: str
    shape: str
    size: tuple[float, float, float]        # box: x, y, z; cylinder: diameter, diameter, height
    mass: float
    colour: tuple[float, float, float, float]
    surface: str                            # where it starts
    offset: tuple[float, float]             # from the surface's centre, in its frame


@dataclass(frozen=True)
class PersonPlace:
    name: str
    xy: tuple[float, float]
    yaw: float
    posture: str
    seat_height: float = 0.0


@dataclass(frozen=True)
class RoomLayout:
    source: str
    size: tuple[float, float]
    wall_height: float
    wall_thickness: float
    floor_colour: tuple[float, float, float, float]
    wall_colour: tuple[float, float, float, float]
    furniture: tuple[Furniture, ...]
    objects: tuple[ObjectSpec, ...]
    person_places: tuple[PersonPlace, ...]
    waypoints: tuple[tuple[float, float], ...]
    robot_start: tuple[float, float, float]  # x, y, yaw
    camera_size: tuple[int, int]
    camera_rate_hz: float

    def furniture_named(self, name: str) -> Furniture:
        for item in self.furniture:
            if item.name == name:
                return item
        raise KeyError(f"no furniture '{name}' (known: "
                       + ", ".join(f.name for f in self.furniture) + ")")

    def place(self, name: str) -> PersonPlace:
        for place in self.person_places:
            if place.name == name:
                return place
        raise KeyError(f"no person place '{name}' (known: "
                       + ", ".join(p.name for p in self.person_places) + ")")

    def surfaces(self) -> tuple[Surface, ...]:
        """Every surface: each table-like top, each shelf board (`shelf/<i>`, lowest = 0)
        and the shelf's top (`shelf/top`)."""
        out: list[Surface] = []
        for f in self.furniture:
            if f.kind not in SURFACE_KINDS:
                continue
            if f.kind == "shelf":
                inner = (f.size[0] - 2 * SHELF_PANEL, f.size[1] - 2 * SHELF_PANEL)
                # boards sit in front of the back panel: centre shifted forward by half of it
                cx, cy = f.center[0], f.center[1]
                dx, dy = rotate_xy(SHELF_PANEL / 2.0, 0.0, f.yaw)
                for i, level in enumerate(f.levels):
                    out.append(Surface(f"{f.name}/{i}", f.name, level, (cx + dx, cy + dy),
                                       f.yaw, inner))
                out.append(Surface(f"{f.name}/top", f.name, f.size[2], f.center, f.yaw,
                                   (f.size[0], f.size[1])))
            else:
                out.append(Surface(f.name, f.name, f.size[2], f.center, f.yaw,
                                   (f.size[0], f.size[1])))
        return tuple(out)

    def surface(self, name: str) -> Surface:
        for s in self.surfaces():
            if s.name == name:
                return s
        raise KeyError(f"no surface '{name}' (known: "
                       + ", ".join(s.name for s in self.surfaces()) + ")")

    def with_furniture(self, furniture: Sequence[Furniture]) -> RoomLayout:
        return replace(self, furniture=tuple(furniture))


#: Thickness (m) of a shelf's side, back and board panels.
SHELF_PANEL = 0.02


def furniture_parts(f: Furniture) -> list[tuple[str, tuple[float, float, float],
                                                tuple[float, float, float]]]:
    """The boxes a piece of furniture is made of, (part, centre, half extents) in its own
    frame (origin on the floor under its centre): what the simulation builds and what the
    arm plans around. Tables and chairs: a 3 cm top on four legs (a chair's backrest on its
    -x side); a shelf: back, sides, top and boards (SHELF_PANEL thick), open at +x; a bed:
    frame, mattress, headboard; anything else one block."""
    hx, hy, h = f.size[0] / 2, f.size[1] / 2, f.size[2]
    parts: list[tuple[str, tuple[float, float, float], tuple[float, float, float]]] = []
    if f.kind in ("table", "chair"):
        top, leg = 0.03, 0.025
        parts.append(("top", (0.0, 0.0, h - top / 2), (hx, hy, top / 2)))
        for i, (dx, dy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
            parts.append((f"leg{i}", (dx * (hx - leg), dy * (hy - leg), (h - top) / 2),
                          (leg, leg, (h - top) / 2)))
        if f.kind == "chair":
            parts.append(("back", (-hx + 0.015, 0.0, h + 0.2), (0.015, hy, 0.2)))
    elif f.kind == "shelf":
        panel = SHELF_PANEL / 2
        parts.append(("back", (-hx + panel, 0.0, h / 2), (panel, hy, h / 2)))
        parts.append(("side_l", (0.0, hy - panel, h / 2), (hx, panel, h / 2)))
        parts.append(("side_r", (0.0, -hy + panel, h / 2), (hx, panel, h / 2)))
        parts.append(("top", (0.0, 0.0, h - panel), (hx, hy, panel)))
        for i, level in enumerate(f.levels):
            parts.append((f"board{i}", (panel, 0.0, level - panel),
                          (hx - panel, hy - 2 * panel, panel)))
    elif f.kind == "bed":
        parts.append(("frame", (0.0, 0.0, (h - 0.15) / 2), (hx, hy, (h - 0.15) / 2)))
        parts.append(("mattress", (0.0, 0.0, h - 0.075), (hx - 0.02, hy - 0.02, 0.075)))
        parts.append(("headboard", (hx - 0.03, 0.0, 0.45), (0.03, hy, 0.45)))
    else:
        parts.append(("block", (0.0, 0.0, h / 2), (hx, hy, h / 2)))
    return parts


def _colour(sec: YamlSection, key: str, default: Any = ...) -> tuple[float, float, float, float]:
    v = sec.vector(key, 4, 0.0, 1.0, default=default)
    return (v[0], v[1], v[2], v[3])


def _read_furniture(sec: YamlSection, room: tuple[float, float]) -> Furniture:
    kind = sec.string("kind", FURNITURE_KINDS)
    size = sec.vector("size", 3, 0.05, 3.0)
    levels: tuple[float, ...] = ()
    if kind == "shelf":
        boards = sec.items("levels", 1)
        levels = tuple(sorted(sec.vector("levels", len(boards), 0.05, size[2] - 0.15)))
    item = Furniture(name=sec.string("name"), kind=kind,
                     center=tuple(sec.vector("center", 2, 0.0, max(room))),
                     yaw=math.radians(sec.number("yaw_deg", -360.0, 360.0, default=0.0)),
                     size=(size[0], size[1], size[2]), colour=_colour(sec, "colour"),
                     levels=levels)
    sec.done()
    for x, y in item.footprint():
        if not (0.0 <= x <= room[0] and 0.0 <= y <= room[1]):
            raise sec.fail("center", list(item.center),
                           f"a pose that keeps '{item.name}' inside the {room[0]} x "
                           f"{room[1]} m room")
    return item


def _read_object(sec: YamlSection) -> ObjectSpec:
    shape = sec.string("shape", OBJECT_SHAPES)
    size = sec.vector("size", 3, 0.01, 0.5)
    obj = ObjectSpec(name=sec.string("name"), type=sec.string("type"), shape=shape,
                     size=(size[0], size[1], size[2]), mass=sec.number("mass", 0.01, 5.0),
                     colour=_colour(sec, "colour"), surface=sec.string("surface"),
                     offset=tuple(sec.vector("at", 2, -2.0, 2.0)))
    sec.done()
    return obj


def _read_place(sec: YamlSection, room: tuple[float, float]) -> PersonPlace:
    posture = sec.string("posture", POSTURES)
    place = PersonPlace(name=sec.string("name"),
                        xy=tuple(sec.vector("xy", 2, 0.0, max(room))),
                        yaw=math.radians(sec.number("yaw_deg", -360.0, 360.0)),
                        posture=posture,
                        seat_height=sec.number("seat_height", 0.3, 0.8, default=0.45)
                        if posture == "sit" else 0.0)
    sec.done()
    return place


def parse_room_layout(data: Mapping[str, Any], source: str = "<room layout>") -> RoomLayout:
    top = YamlSection(data, "", source, RoomLayoutError)
    room_sec = top.section("room")
    size = room_sec.vector("size", 2, 2.0, 30.0)
    room = (size[0], size[1])
    wall_height = room_sec.number("wall_height", 0.3, 4.0)
    wall_thickness = room_sec.number("wall_thickness", 0.02, 0.5)
    floor_colour = _colour(room_sec, "floor_colour")
    wall_colour = _colour(room_sec, "wall_colour")
    room_sec.done()
    furniture = tuple(_read_furniture(s, room) for s in top.sections("furniture", 1))
    names = [f.name for f in furniture]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise top.fail(f"furniture[{i}].name", name, "a name no other furniture uses")
    objects = tuple(_read_object(s) for s in top.sections("objects", 1))
    person_sec = top.section("person")
    places = tuple(_read_place(s, room) for s in person_sec.sections("places", 2))
    waypoints = tuple(
        check_vector(person_sec, f"person.waypoints[{i}]", v, 2, 0.0, max(room),
                     "a list of 2 numbers x, y inside the room")
        for i, v in enumerate(person_sec.items("waypoints", default=[])))
    person_sec.done()
    robot_sec = top.section("robot")
    start = robot_sec.vector("start", 2, 0.0, max(room))
    robot_yaw = math.radians(robot_sec.number("yaw_deg", -360.0, 360.0, default=0.0))
    robot_sec.done()
    cam_sec = top.section("camera")
    camera_size = (cam_sec.integer("width", 16, 1920), cam_sec.integer("height", 16, 1080))
    camera_rate = cam_sec.number("rate_hz", 0.5, 60.0)
    cam_sec.done()
    top.done()
    layout = RoomLayout(source=source, size=room, wall_height=wall_height,
                        wall_thickness=wall_thickness, floor_colour=floor_colour,
                        wall_colour=wall_colour, furniture=furniture, objects=objects,
                        person_places=places,
                        waypoints=tuple((float(w[0]), float(w[1])) for w in waypoints),
                        robot_start=(start[0], start[1], robot_yaw), camera_size=camera_size,
                        camera_rate_hz=camera_rate)
    known = {s.name: s for s in layout.surfaces()}
    for i, obj in enumerate(objects):
        surface = known.get(obj.surface)
        if surface is None:
            raise top.fail(f"objects[{i}].surface", obj.surface, "one of " + ", ".join(known))
        x, y = surface.point(obj.offset)
        if not surface.contains_xy(x, y, margin=max(obj.size[:2]) / 2.0):
            raise top.fail(f"objects[{i}].at", list(obj.offset),
                           f"an offset that keeps '{obj.name}' on {obj.surface}")
    return layout


def load_room_layout(path: str | Path) -> RoomLayout:
    """Read and validate a room layout YAML file (see config/rooms/home_room.yaml)."""
    data = load_yaml_mapping(path, RoomLayoutError)
    return parse_room_layout(data, source=Path(path).name)
