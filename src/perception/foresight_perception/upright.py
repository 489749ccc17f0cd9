"""Detector back end `upright`: a camera that looks across a room (a mobile robot's head
camera) rather than down on a bench. No learning, no rclpy; every threshold comes from the
`backends.upright` section of the class file.

Objects are colour blobs cut apart at depth steps, sized against their class (a blob much
larger than the class is furniture or a wall of the same colour; the robot's own arm is
nearer than `min_range`); the camera sees an object's top from above, so the top's height
gives the centre's height, and the visible faces' centroid moved back from the camera gives
its position. People: foresight_perception.upright_people.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np

from foresight_common.cell_layout import YamlSection
from foresight_perception.classical import ColourRange, parse_colours, white_balanced
from foresight_perception.detector import (
    ClassCatalog,
    ConfigError,
    DetectionResult,
    Frame,
    ObjectClass,
    ObjectDetection,
    backend_section,
    validate_frame,
)
from foresight_perception.geometry import PixelGrid, camera_position
from foresight_perception.upright_people import (
    UprightPersonSettings,
    depth_edges,
    find_upright_people,
)


@dataclass(frozen=True)
class UprightObjectSettings:
    min_height: float = 0.20         # m above the floor: lower blobs are floor clutter
    depth_edge: float = 0.04         # m between neighbouring pixels cuts a blob
    min_range: float = 0.55          # m from the camera: nearer is the robot's own arm
    max_range: float = 2.0           # m: further, a small object is a few pixels (320 x 240)
                                     # and slivers of larger surfaces look alike
    min_fill: float = 0.15           # share of the pixels the class's side would cover
    size_tolerance: float = 0.6      # relative: extents up to (1 + this) x the class's
    min_visible: float = 0.35        # share of the class's largest extent that must show
    min_pixels: int = 6
    max_same_colour_around: float = 0.5   # share of a blob's 2-pixel ring in its colour:
                                          # more is a piece of a larger surface (the bed)
    min_support: float = 0.25        # share of the ring at the object's bottom height (the
                                     # surface it stands on; a table's dark edge has none)
    support_tolerance: float = 0.012     # m (a table's dark edge, 2.5 cm under its top, must
                                         # not pass as a remote lying on it)
    person_clearance: float = 0.45   # m (xy) from a person's torso: their clothes, not objects
    top_band: float = 0.2            # share of a box's height counted as its top face
    top_seen: float = 0.6            # share of its extent along the line of sight the top
                                     # face must show to stand for the box (else its front)
    sigma_xy: float = 0.015          # m, position standard deviations
    sigma_z: float = 0.008


@dataclass(frozen=True)
class UprightPeople:
    skin: str
    clothing: str
    settings: UprightPersonSettings


@dataclass(frozen=True)
class UprightConfig:
    colours: dict[str, ColourRange]
    white_balance: bool
    objects: UprightObjectSettings
    people: UprightPeople | None


def _settings(sec: YamlSection, defaults: Any, **fixed: Any):
    """A settings dataclass from a YAML section: every field optional (its default), range
    checked, unknown keys refused."""
    values = dict(fixed)
    for f in fields(defaults):
        if f.name in fixed:
            continue
        value = getattr(defaults, f.name)
        values[f.name] = sec.integer(f.name, 1, 100000, default=value) if isinstance(
            value, int) else sec.number(f.name, 0.0, 5.0, default=value)
    return type(defaults)(**values)


def parse_upright_config(data: Mapping[str, Any], catalog: ClassCatalog) -> UprightConfig:
    """Validate the `backends.upright` section against the catalogue (every class colour
    must be defined; only parts: the room has no holes or containers yet)."""
    root = YamlSection(data, "backends.upright", catalog.source, ConfigError)
    for cls in catalog.classes.values():
        if cls.kind != "part":
            raise ConfigError(f"{catalog.source}: class '{cls.label}' is a {cls.kind}; the "
                              "upright back end finds parts only")
    colours = parse_colours(root, catalog, "upright")
    objects_sec = root.section("objects", default={})
    objects = _settings(objects_sec, UprightObjectSettings())
    objects_sec.done()
    people = None
    if root.has("person"):
        s = root.section("person")
        people = UprightPeople(
            skin=s.string("skin", tuple(colours)), clothing=s.string("clothing", tuple(colours)),
            settings=_settings(s, UprightPersonSettings(), floor_z=catalog.surface_z))
        s.done()
    config = UprightConfig(colours=colours,
                           white_balance=root.boolean("white_balance", default=True),
                           objects=objects, people=people)
    root.done()
    return config


class UprightDetector:
    """The `upright` back end (see the module docstring). Stateless between frames except
    for the cached pixel rays of the last camera model."""

    name = "upright"

    def __init__(self, catalog: ClassCatalog, config: UprightConfig | None = None) -> None:
        self.catalog = catalog
        if config is None:
            config = parse_upright_config(backend_section(catalog, "upright"), catalog)
        self.config = config
        self._grid: PixelGrid | None = None

    def detect(self, frame: Frame) -> DetectionResult:
        validate_frame(frame)
        intr = frame.intrinsics
        if self._grid is None or self._grid.intrinsics != intr:
            self._grid = PixelGrid(intr)
        depth = np.where(frame.depth > 0.0, frame.depth, np.float32(np.nan)).astype(np.float32)
        points = self._grid.world_points(depth, frame.world_from_optical)
        camera = camera_position(frame.world_from_optical)
        rgb = white_balanced(frame.rgb) if self.config.white_balance else frame.rgb
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
        masks = {name: colour.mask(hsv) for name, colour in self.config.colours.items()}
        people = []
        if self.config.people is not None:
            up = self.config.people
            people = find_upright_people(points, depth, masks[up.skin], masks[up.clothing],
                                         camera, (depth / intr.fx) * (depth / intr.fy),
                                         up.settings)
        torsos = [p.keypoints["torso"].position for p in people if "torso" in p.keypoints]
        objects = find_upright_objects(points, depth, masks, camera,
                                       math.sqrt(intr.fx * intr.fy),
                                       list(self.catalog.classes.values()),
                                       self.catalog.surface_z, self.config.objects, torsos)
        return DetectionResult(objects=tuple(objects), people=tuple(people))


def find_upright_objects(points: np.ndarray, depth: np.ndarray, masks: Mapping[str, np.ndarray],
                         camera: np.ndarray, pitch: float, classes: list[ObjectClass],
                         floor_z: float, s: UprightObjectSettings,
                         torsos: Sequence[np.ndarray] = ()) -> list[ObjectDetection]:
    """Objects of the given classes in one frame: for each class, the blobs of its colour
    (above the floor, within `min_range`..`max_range`, cut at depth steps) whose extents fit
    it, that are not a piece of a larger surface of their colour, that stand on something
    (part of their surroundings lies at their bottom's height) and are not on a person
    (`torsos`: the torso positions of the people found)."""
    with np.errstate(invalid="ignore"):
        reach = np.linalg.norm(points - camera, axis=2)
        usable = np.isfinite(points[..., 2]) & (points[..., 2] > floor_z + s.min_height) & (
            reach > s.min_range) & (reach < s.max_range)
    inner = usable & ~depth_edges(depth, s.depth_edge)
    found = []
    ring_kernel = np.ones((5, 5), np.uint8)
    for cls in classes:
        colour = masks[cls.colour]
        count, labels = cv2.connectedComponents((colour & inner).astype(np.uint8),
                                                connectivity=8)
        for i in range(1, count):
            blob_mask = labels == i
            rows, cols = np.nonzero(blob_mask)
            if len(rows) < s.min_pixels:
                continue
            ring = cv2.dilate(blob_mask.astype(np.uint8), ring_kernel).astype(bool) & ~blob_mask
            if ring.any() and float(colour[ring].mean()) > s.max_same_colour_around:
                continue
            detection = _object(cls, points[rows, cols].astype(float), camera,
                                float(np.median(depth[rows, cols])) / pitch, s)
            if detection is None or any(
                    np.linalg.norm(detection.position[:2] - t[:2]) < s.person_clearance
                    for t in torsos):
                continue
            if _stands_on_something(points[ring & ~colour & np.isfinite(points[..., 2])],
                                    detection, cls, s):
                found.append(detection)
    return found


def _stands_on_something(around: np.ndarray, detection: ObjectDetection,
                         cls: ObjectClass, s: UprightObjectSettings) -> bool:
    """Whether the points around a blob (its ring, other colours) show a surface at the
    object's bottom (a table's dark rim, level with the table top, has none there)."""
    if len(around) == 0:
        return False
    bottom = detection.position[2] - cls.size[2] / 2.0
    return float(np.mean(np.abs(around[:, 2] - bottom) < s.support_tolerance)) >= \
        s.min_support


def _object(cls: ObjectClass, blob: np.ndarray, camera: np.ndarray, pixel_m: float,
            s: UprightObjectSettings) -> ObjectDetection | None:
    """The object of class `cls` a blob's points show, or None when the blob does not fit."""
    width, depth_extent, height = cls.size
    if len(blob) < s.min_fill * max(width, depth_extent) * height / pixel_m ** 2:
        return None                                    # a sliver of something larger
    centred = blob[:, :2] - blob[:, :2].mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2] if len(blob) >= 3 else np.eye(2)
    along = centred @ axes.T
    horizontal = np.ptp(along, axis=0)                 # extents along the blob's own axes
    vertical = float(np.ptp(blob[:, 2]))
    slack = 1.0 + s.size_tolerance
    longest = max(width, depth_extent)
    if horizontal[0] > longest * slack + 2 * pixel_m or vertical > height * slack + 2 * pixel_m:
        return None
    if max(float(horizontal[0]), vertical) < s.min_visible * max(longest, height):
        return None
    top = float(np.quantile(blob[:, 2], 0.95))
    yaw, yaw_variance = 0.0, math.pi ** 2 / 3.0        # unobservable: uniform over a turn
    top_face = blob[blob[:, 2] > top - 0.3 * height, :2]
    if cls.yaw_period_deg > 0 and len(top_face) >= 8:
        # the top face's long axis (the sides in view would tilt it towards the camera)
        period = math.radians(cls.yaw_period_deg)
        major = np.linalg.svd(top_face - top_face.mean(axis=0), full_matrices=False)[2][0]
        yaw = math.atan2(major[1], major[0])
        if width < depth_extent:                       # the class's long side is along y
            yaw -= math.pi / 2.0
        yaw = (yaw + period / 2.0) % period - period / 2.0
        yaw_variance = math.radians(15.0) ** 2
    # along the line of sight the nearest visible face is the front: the centre lies half
    # the object's extent in that direction behind it; across, the blob's middle
    mean = blob[:, :2].mean(axis=0)
    away = mean - camera[:2]
    away /= max(float(np.linalg.norm(away)), 1e-9)
    distance = (blob[:, :2] - camera[:2]) @ away
    if cls.shape == "cylinder":
        extent = width
    elif yaw_variance < 1.0:
        extent = width * abs(math.cos(yaw) * away[0] + math.sin(yaw) * away[1]) + \
            depth_extent * abs(-math.sin(yaw) * away[0] + math.cos(yaw) * away[1])
    else:
        extent = 0.5 * (width + depth_extent)
    behind = float(np.quantile(distance, 0.05)) + 0.5 * extent - float(np.mean(distance))
    xy = mean + away * behind
    if cls.shape == "box":
        # a box's top face seen whole (from above) has its centre right over the box's:
        # the nearest 5 % of the points lie behind a corner seen obliquely (+0.5 to +1.9 cm
        # along the line of sight, measured on rendered frames; the fingers have 1 cm a
        # side)
        lid = blob[blob[:, 2] > top - s.top_band * height, :2]
        seen = (lid - camera[:2]) @ away if len(lid) >= s.min_pixels else np.zeros(1)
        if np.quantile(seen, 0.95) - np.quantile(seen, 0.05) >= s.top_seen * extent:
            xy = lid.mean(axis=0)
    position = np.array([xy[0], xy[1], top - height / 2.0])
    covariance = np.diag([s.sigma_xy ** 2, s.sigma_xy ** 2, s.sigma_z ** 2])
    return ObjectDetection(label=cls.label, kind=cls.kind, confidence=min(1.0, len(blob) / 50),
                           position=position, yaw=yaw, size=cls.size,
                           position_covariance=covariance, yaw_variance=yaw_variance,
                           pixel_count=len(blob))
