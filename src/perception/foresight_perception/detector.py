"""The detector back-end interface of perception: what a back end receives (`Frame`), what it
returns (`DetectionResult` of plain dataclasses), the class catalogue every back end shares,
input validation with named reasons, and the registry that picks a back end by name.

A back end is any object with `detect(frame) -> DetectionResult` (the `Detector` protocol).
`make_detector("classical", config)` builds the OpenCV one; another back end (an ONNX model
trained by the data loop) registers under its own name in `BACKENDS`, or is named directly as
"package.module:ClassName", so swapping detectors is a parameter change, not a code change.

No rclpy here: the node converts ROS messages to a `Frame` and results to messages.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from foresight_common.cell_layout import YamlSection, load_yaml_mapping
from foresight_perception.geometry import Intrinsics, is_rigid_transform

#: Kinds of object classes. Parts are graspable; holes are places a part goes into;
#: containers hold parts (the tray).
OBJECT_KINDS = ("part", "hole", "container")
SHAPES = ("cylinder", "box")
#: Where a detection's position sits on the object (the same reference the rest of the stack
#: uses for that kind): parts their centre, holes the centre of the opening at the rim,
#: containers the centre of their base.
POSITION_REFERENCES = ("centre", "top", "bottom")
#: Person keypoints a back end may report. `*_arm` is a point on the forearm (near the
#: elbow end of the visible forearm), for separation monitoring of the whole arm.
KEYPOINT_NAMES = ("head", "torso", "left_hand", "right_hand", "left_arm", "right_arm")


class ConfigError(ValueError):
    """The class configuration file is missing, malformed or inconsistent (one line)."""


class InvalidFrame(ValueError):
    """A frame cannot be processed. `kind` is a short counter name for /diagnostics
    (`rejected.<kind>`), the message is the reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


# --- what a back end receives ------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One registered RGB-D frame. `depth` is z-depth in metres (NaN = no reading) aligned
    pixel for pixel with `rgb`; `world_from_optical` is the camera pose at `stamp` (s)."""

    rgb: np.ndarray                  # (H, W, 3) uint8, RGB order
    depth: np.ndarray                # (H, W) float32, metres, NaN invalid
    intrinsics: Intrinsics
    world_from_optical: np.ndarray   # (4, 4)
    stamp: float

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.depth.shape[1]), int(self.depth.shape[0])


# --- what a back end returns --------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectDetection:
    """One object in one frame, world frame. `position` follows the class's
    `position_reference`; `yaw` is about world z, folded into the class's symmetry (0 with a
    large `yaw_variance` where it is not observable, e.g. round pegs); `size` = extents (m),
    the class prior where not measured."""

    label: str
    kind: str
    confidence: float
    position: np.ndarray             # (3,)
    yaw: float
    size: tuple[float, float, float]
    position_covariance: np.ndarray  # (3, 3), m^2
    yaw_variance: float              # rad^2
    pixel_count: int


@dataclass(frozen=True)
class Keypoint:
    position: np.ndarray             # (3,) world
    variance: float                  # isotropic, m^2


@dataclass(frozen=True)
class PersonObservation:
    confidence: float
    keypoints: dict[str, Keypoint]


@dataclass(frozen=True)
class DetectionResult:
    objects: tuple[ObjectDetection, ...] = ()
    people: tuple[PersonObservation, ...] = ()


@runtime_checkable
class Detector(Protocol):
    """A perception back end: stateless per frame (tracking is the world model's job)."""

    name: str

    def detect(self, frame: Frame) -> DetectionResult:
        """Objects and people in `frame`; raises `InvalidFrame` for unusable input."""
        ...


# --- the class catalogue ------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectClass:
    """One object class of the catalogue. `size` = x, y, z extents (m) at yaw 0 (for a
    cylinder x = y = diameter); for holes x, y are the opening and z the depth, and `rim` the
    outer extents of the coloured rim around the opening. `yaw_period_deg`: the yaw is
    reported modulo this (90 square, 180 slot or tray, 360 no symmetry); 0 means the yaw is
    not observable (round)."""

    label: str
    kind: str
    shape: str
    size: tuple[float, float, float]
    colour: str
    yaw_period_deg: float
    position_reference: str
    rim: tuple[float, float] | None = None

    @property
    def footprint(self) -> tuple[float, float]:
        return self.size[0], self.size[1]

    @property
    def footprint_area(self) -> float:
        if self.shape == "cylinder":
            return math.pi * self.size[0] * self.size[1] / 4.0
        return self.size[0] * self.size[1]

    @property
    def yaw_observable(self) -> bool:
        return self.yaw_period_deg > 0


@dataclass(frozen=True)
class ClassCatalog:
    """Every class perception may report plus the back-end sections of the file (each back
    end validates its own section)."""

    classes: dict[str, ObjectClass]
    surface_z: float
    backends: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def of_kind(self, kind: str) -> list[ObjectClass]:
        return [c for c in self.classes.values() if c.kind == kind]


def load_class_catalog(path: str | Path) -> ClassCatalog:
    """Read and validate a class configuration YAML (config/perception/*.yaml)."""
    data = load_yaml_mapping(path, ConfigError)
    return parse_class_catalog(data, str(path))


def parse_class_catalog(data: Mapping[str, Any], source: str = "<config>") -> ClassCatalog:
    root = YamlSection(data, "", source, ConfigError)
    surface_z = root.number("surface_z", -10.0, 10.0)
    classes: dict[str, ObjectClass] = {}
    section = root.section("classes")
    if not section.data:
        raise section.fail_at("classes", section.data, "at least one class")
    for label in list(section.data):
        sec = section.section(label)
        kind = sec.string("kind", OBJECT_KINDS)
        shape = sec.string("shape", SHAPES)
        size = sec.vector("size", 3, 0.001, 5.0)
        rim = None
        if kind == "hole":
            rim_values = sec.vector("rim", 2, 0.001, 5.0)
            if rim_values[0] < size[0] or rim_values[1] < size[1]:
                raise sec.fail("rim", list(rim_values), "outer extents >= the opening (size)")
            rim = (rim_values[0], rim_values[1])
        default_reference = {"part": "centre", "hole": "top", "container": "bottom"}[kind]
        classes[label] = ObjectClass(
            label=label, kind=kind, shape=shape, size=(size[0], size[1], size[2]),
            colour=sec.string("colour"),
            yaw_period_deg=sec.number("yaw_period_deg", 0.0, 360.0),
            position_reference=sec.string("position_reference", POSITION_REFERENCES,
                                          default=default_reference),
            rim=rim)
        sec.done()
    section.done()
    backends = dict(root.section("backends", default={}).data)
    root.done()
    return ClassCatalog(classes=classes, surface_z=surface_z, backends=backends, source=source)


# --- input validation (bad input is rejected with a reason, never crashes a back end) -----------
def validate_frame(frame: Frame, min_valid_depth_fraction: float = 0.05) -> None:
    """Raise `InvalidFrame` naming what is wrong with `frame`: kinds `size` (shapes, dtypes,
    intrinsics that do not match the image), `depth` (too few valid readings: all NaN or
    zeros), `camera_info` (impossible intrinsics), `pose` (not a rigid transform)."""
    rgb, depth = frame.rgb, frame.depth
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidFrame("size", f"colour image must be H x W x 3 uint8, got {rgb.shape} "
                                   f"{rgb.dtype}")
    if depth.ndim != 2 or depth.dtype != np.float32:
        raise InvalidFrame("size", f"depth image must be H x W float32, got {depth.shape} "
                                   f"{depth.dtype}")
    if rgb.shape[:2] != depth.shape:
        raise InvalidFrame("size", f"colour {rgb.shape[1]}x{rgb.shape[0]} and depth "
                                   f"{depth.shape[1]}x{depth.shape[0]} differ in size")
    if min(depth.shape) < 8:
        raise InvalidFrame("size", f"image {depth.shape[1]}x{depth.shape[0]} is too small")
    intr = frame.intrinsics
    if not intr.valid():
        raise InvalidFrame("camera_info", f"impossible intrinsics fx={intr.fx} fy={intr.fy} "
                                          f"cx={intr.cx} cy={intr.cy}")
    if (intr.width, intr.height) != frame.size:
        raise InvalidFrame("size", f"camera_info is {intr.width}x{intr.height} but the images "
                                   f"are {frame.size[0]}x{frame.size[1]}")
    if not is_rigid_transform(frame.world_from_optical):
        raise InvalidFrame("pose", "camera pose is not a rigid transform")
    valid = np.isfinite(depth) & (depth > 0.0)
    fraction = float(valid.mean())
    if fraction < min_valid_depth_fraction:
        raise InvalidFrame("depth", f"only {100 * fraction:.1f} % of depth pixels are valid "
                                    f"(NaN or zero elsewhere; need "
                                    f"{100 * min_valid_depth_fraction:.0f} %)")


def check_stamp(stamp: float, last_processed: float | None, now: float, max_age_s: float,
                max_future_s: float) -> str | None:
    """Why a frame stamped `stamp` must not be used (None when it may): not newer than the
    last processed frame (out of order or repeated), older than `max_age_s` at `now`, or more
    than `max_future_s` ahead of `now`. With simulated time `now` is the /clock time."""
    if not math.isfinite(stamp) or stamp <= 0.0:
        return f"stamp {stamp} is not a valid time"
    if last_processed is not None and stamp <= last_processed:
        return (f"stamp {stamp:.3f} s is not newer than the last processed frame "
                f"({last_processed:.3f} s)")
    if stamp > now + max_future_s:
        return f"stamp {stamp:.3f} s is {stamp - now:.3f} s in the future (now {now:.3f} s)"
    if now - stamp > max_age_s:
        return f"stamp {stamp:.3f} s is {now - stamp:.3f} s old (limit {max_age_s:.3f} s)"
    return None


# --- the registry --------------------------------------------------------------------------------
#: Back ends by name -> "module:factory". A factory takes the ClassCatalog and returns a
#: Detector. Kept as import paths so a back end's dependencies (OpenCV, onnxruntime) load
#: only when it is chosen.
BACKENDS: Mapping[str, str] = MappingProxyType({
    "classical": "foresight_perception.classical:ClassicalDetector",
    "upright": "foresight_perception.upright:UprightDetector",
})


def backend_section(catalog: ClassCatalog, name: str) -> Mapping[str, Any]:
    """The `backends.<name>` section of the class file; ConfigError when it has none."""
    section = catalog.backends.get(name)
    if section is None:
        raise ConfigError(f"{catalog.source}: no 'backends.{name}' section for the {name} "
                          "detector")
    return section


def make_detector(name: str, catalog: ClassCatalog) -> Detector:
    """Build the back end `name` (a key of BACKENDS or "package.module:ClassName") from the
    class catalogue; the back end reads its own section (`backends: {classical: ...}`).
    Raises ConfigError naming the known back ends for an unknown name."""
    target = BACKENDS.get(name, name)
    if ":" not in target:
        raise ConfigError(f"unknown detector back end '{name}': known "
                          + ", ".join(sorted(BACKENDS)) + " (or 'package.module:ClassName')")
    module_name, _, attribute = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"detector back end '{name}' cannot be loaded from {target}: "
                          f"{exc}") from exc
    detector = factory(catalog)
    if not isinstance(detector, Detector):
        raise ConfigError(f"detector back end '{name}' ({target}) has no detect(frame)")
    return detector
