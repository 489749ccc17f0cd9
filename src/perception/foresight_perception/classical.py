"""The classical (OpenCV) detector back end: colour segmentation checked by geometry from the
depth image. No learning, no rclpy; every threshold comes from the class configuration file
(config/perception/*.yaml, section `backends.classical`).

How it decides, per frame:

1. Every pixel becomes a world point (depth + intrinsics + camera pose). A min filter of the
   height map with a window wider than any part gives the local floor; pixels well above it
   stand out of their surroundings (parts, but also rims beside their holes: shape decides).
2. Parts: in every blob of a part colour, the raised pixels; their top face is the band at
   the top height. Its world-xy centroid is the part's xy, the top height minus half the
   class height its z, the rectangle around it its yaw (folded into the class symmetry). The
   face must stand on something (the surface around it, the rim for a seated part, is lower
   by a part's height or a seated part's protrusion) and its area and extents (metres) must
   fit the class. A face whose outline borders something higher (the robot's arm, a hand) or
   the image edge is partly hidden: the known footprint is completed on the hidden side and
   the covariance grows with what stays uncertain; too little left in view and it is dropped.
3. Holes: in every blob of a hole colour, the pixels of its most populated height level (the
   rim; a seated part above it and the rim's inner walls below are smaller) must form a ring
   of the class's rim size around an opening of the class's size whose height differs (empty:
   deeper; occupied: a seated part, higher). The rectangle around the rim gives the
   opening's centre at rim height and its yaw; a rim cut by the arm is completed as above.
4. Containers (the tray): the colour's pixels minus their mixed edge, the rectangle around
   them, its size checked, completed where the arm hides an edge.
5. People: skin-coloured pixels well above the work surface. Each blob is a forearm with its
   hand; the end away from where the arm enters (image edge or clothing) holds the hand: a
   sphere of the hand's radius is fitted to the distal half of that end. Left and right follow
   from the arms' entry points relative to the direction the person reaches.

Covariances: centroid noise shrinks with the number of pixels and grows with the pixel pitch;
depth noise (sigma at 1 m, growing with z^2) sets z; the constants are calibrated with
tools/measure_perception.py (coverage of the 95 % region is reported there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from foresight_common.cell_layout import YamlSection
from foresight_perception.detector import (
    OBJECT_KINDS,
    ClassCatalog,
    ConfigError,
    DetectionResult,
    Frame,
    Keypoint,
    ObjectClass,
    ObjectDetection,
    PersonObservation,
    backend_section,
    validate_frame,
)
from foresight_perception.geometry import (
    PixelGrid,
    camera_position,
    complete_rectangle,
    depth_noise_sigma,
    pixel_area_on_horizontal,
    rectangle_of_hull,
    rotated_rect_of_points,
    wrap_angle,
)

#: Variance of a yaw that cannot be observed (uniform over a full turn): pi^2 / 3 rad^2.
UNOBSERVABLE_YAW_VARIANCE = math.pi ** 2 / 3.0


# --- configuration -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColourRange:
    """A colour class in HSV: hue intervals in degrees (an interval may wrap through 0 by
    listing two), saturation and value in [0, 1]."""

    hue: tuple[tuple[float, float], ...]
    saturation: tuple[float, float]
    value: tuple[float, float]

    def mask(self, hsv_full: np.ndarray) -> np.ndarray:
        """Boolean mask of an OpenCV HSV_FULL image (H, S, V all 0..255)."""
        s_lo, s_hi = (int(round(x * 255)) for x in self.saturation)
        v_lo, v_hi = (int(round(x * 255)) for x in self.value)
        out = None
        for lo, hi in self.hue:
            h_lo = int(math.ceil(lo * 256.0 / 360.0))
            h_hi = min(int(math.floor(hi * 256.0 / 360.0)), 255)
            part = cv2.inRange(hsv_full, (h_lo, s_lo, v_lo), (h_hi, s_hi, v_hi))
            out = part if out is None else cv2.bitwise_or(out, part)
        return out.astype(bool)


@dataclass(frozen=True)
class PartSettings:
    min_protrusion: float
    top_tolerance: float
    min_height: float
    max_height_margin: float
    footprint_tolerance: float
    min_visible_fraction: float
    occluder_margin: float


@dataclass(frozen=True)
class HoleSettings:
    max_fill_ratio: float
    min_interior_step: float
    rim_tolerance: float
    min_rim_fraction: float
    min_ring_area_fraction: float
    min_opening_fraction: float
    min_flush_fraction: float


@dataclass(frozen=True)
class ContainerSettings:
    min_visible_fraction: float
    size_tolerance: float


@dataclass(frozen=True)
class CovarianceSettings:
    centroid_gain: float
    floor_xy: dict[str, float]      # per object kind
    floor_z: float
    occlusion_gain: float
    yaw_gain: float
    floor_yaw_deg: float


@dataclass(frozen=True)
class PersonSettings:
    skin: str
    clothing: str
    min_height_above_surface: float
    clothing_min_height_above_surface: float
    min_area: float
    hand_radius: float
    forearm_radius: float
    head_radius: float
    head_min_height_above_surface: float
    hand_sigma: float
    arm_sigma: float
    head_sigma: float
    torso_sigma: float
    torso_min_area: float


@dataclass(frozen=True)
class ClassicalConfig:
    colours: dict[str, ColourRange]
    white_balance: bool
    depth_noise_at_1m: float
    floor_window: float
    min_blob_area: float
    parts: PartSettings
    holes: HoleSettings
    containers: ContainerSettings
    covariance: CovarianceSettings
    person: PersonSettings | None


def _fraction_pair(sec: YamlSection, key: str) -> tuple[float, float]:
    lo, hi = sec.vector(key, 2, 0.0, 1.0)
    if lo > hi:
        raise sec.fail(key, [lo, hi], "[low, high] with low <= high")
    return lo, hi


def parse_colour_range(sec: YamlSection) -> ColourRange:
    """One colour class of a back end's `colours` section (hue intervals, saturation, value)."""
    hue_values = sec.items("hue", 1)
    if hue_values and isinstance(hue_values[0], (int, float)):
        hue_values = [hue_values]
    intervals = []
    for k, interval in enumerate(hue_values):
        if not isinstance(interval, (list, tuple)) or len(interval) != 2 or not all(
                isinstance(v, (int, float)) and 0.0 <= v <= 360.0 for v in interval) \
                or interval[0] > interval[1]:
            raise sec.fail_at(f"{sec.key_path('hue')}[{k}]", interval,
                              "[low, high] degrees in [0, 360] with low <= high")
        intervals.append((float(interval[0]), float(interval[1])))
    colour = ColourRange(hue=tuple(intervals), saturation=_fraction_pair(sec, "saturation"),
                         value=_fraction_pair(sec, "value"))
    sec.done()
    return colour


def _per_kind(sec: YamlSection) -> dict[str, float]:
    values = {kind: sec.number(kind, 0.0, 1.0) for kind in OBJECT_KINDS}
    sec.done()
    return values


def parse_colours(root: YamlSection, catalog: ClassCatalog,
                  backend: str) -> dict[str, ColourRange]:
    """A back end's `colours` section; every class colour of the catalogue must be in it."""
    section = root.section("colours")
    colours = {name: parse_colour_range(section.section(name)) for name in list(section.data)}
    section.done()
    for cls in catalog.classes.values():
        if cls.colour not in colours:
            raise ConfigError(f"{catalog.source}: class '{cls.label}' has colour "
                              f"'{cls.colour}', not defined in backends.{backend}.colours "
                              f"(defined: {', '.join(sorted(colours))})")
    return colours


def parse_classical_config(data: Mapping[str, Any], catalog: ClassCatalog) -> ClassicalConfig:
    """Validate the `backends.classical` section against the catalogue (every class colour
    must be defined)."""
    root = YamlSection(data, "backends.classical", catalog.source, ConfigError)
    colours = parse_colours(root, catalog, "classical")
    p = root.section("parts")
    parts = PartSettings(
        min_protrusion=p.number("min_protrusion", 0.0, 0.5),
        top_tolerance=p.number("top_tolerance", 0.0, 0.1),
        min_height=p.number("min_height", 0.0, 1.0),
        max_height_margin=p.number("max_height_margin", 0.0, 1.0),
        footprint_tolerance=p.number("footprint_tolerance", 0.0, 5.0),
        min_visible_fraction=p.number("min_visible_fraction", 0.0, 1.0),
        occluder_margin=p.number("occluder_margin", 0.0, 0.5))
    p.done()
    h = root.section("holes")
    holes = HoleSettings(
        max_fill_ratio=h.number("max_fill_ratio", 0.0, 1.0),
        min_interior_step=h.number("min_interior_step", 0.0, 0.5),
        rim_tolerance=h.number("rim_tolerance", 0.0, 5.0),
        min_rim_fraction=h.number("min_rim_fraction", 0.0, 1.0),
        min_ring_area_fraction=h.number("min_ring_area_fraction", 0.0, 1.0),
        min_opening_fraction=h.number("min_opening_fraction", 0.0, 1.0),
        min_flush_fraction=h.number("min_flush_fraction", 0.0, 1.0))
    h.done()
    c = root.section("containers")
    containers = ContainerSettings(
        min_visible_fraction=c.number("min_visible_fraction", 0.0, 1.0),
        size_tolerance=c.number("size_tolerance", 0.0, 5.0))
    c.done()
    v = root.section("covariance")
    covariance = CovarianceSettings(
        centroid_gain=v.number("centroid_gain", 0.0, 100.0),
        floor_xy=_per_kind(v.section("floor_xy")),
        floor_z=v.number("floor_z", 0.0, 1.0),
        occlusion_gain=v.number("occlusion_gain", 0.0, 100.0),
        yaw_gain=v.number("yaw_gain", 0.0, 100.0),
        floor_yaw_deg=v.number("floor_yaw_deg", 0.0, 180.0))
    v.done()
    person = None
    if root.has("person"):
        s = root.section("person")
        person = PersonSettings(
            skin=s.string("skin", tuple(colours)),
            clothing=s.string("clothing", tuple(colours)),
            min_height_above_surface=s.number("min_height_above_surface", 0.0, 3.0),
            clothing_min_height_above_surface=s.number("clothing_min_height_above_surface",
                                                       0.0, 3.0),
            min_area=s.number("min_area", 0.0, 1.0),
            hand_radius=s.number("hand_radius", 0.005, 0.5),
            forearm_radius=s.number("forearm_radius", 0.005, 0.5),
            head_radius=s.number("head_radius", 0.01, 0.5),
            head_min_height_above_surface=s.number("head_min_height_above_surface", 0.0, 3.0),
            hand_sigma=s.number("hand_sigma", 0.0, 1.0),
            arm_sigma=s.number("arm_sigma", 0.0, 1.0),
            head_sigma=s.number("head_sigma", 0.0, 1.0),
            torso_sigma=s.number("torso_sigma", 0.0, 2.0),
            torso_min_area=s.number("torso_min_area", 0.0, 2.0))
        s.done()
    config = ClassicalConfig(
        colours=colours,
        white_balance=root.boolean("white_balance", default=True),
        depth_noise_at_1m=root.number("depth_noise_at_1m", 0.0, 0.1),
        floor_window=root.number("floor_window", 0.01, 2.0),
        min_blob_area=root.number("min_blob_area", 0.0, 1.0),
        parts=parts, holes=holes, containers=containers, covariance=covariance,
        person=person)
    root.done()
    return config


# --- per-frame scene -----------------------------------------------------------------------------
@dataclass
class _Scene:
    """Everything derived once per frame and shared by the object finders."""

    frame: Frame
    points: np.ndarray        # (H, W, 3) world, NaN where no depth
    z: np.ndarray             # (H, W) world height
    valid: np.ndarray         # (H, W) bool
    protrusion: np.ndarray    # (H, W) height above the local floor, NaN where unknown
    floor: np.ndarray         # (H, W) lowest height nearby
    hsv: np.ndarray
    camera: np.ndarray        # (3,) camera centre, world
    masks: dict[str, np.ndarray]

    @property
    def width(self) -> int:
        return self.z.shape[1]

    @property
    def height(self) -> int:
        return self.z.shape[0]


@dataclass(frozen=True)
class _Top:
    """Measurements of one part top face."""

    rows: np.ndarray
    cols: np.ndarray
    points: np.ndarray         # (N, 3)
    z_top: float
    ground: float              # height of the surface the part stands on (or in)
    depth: float               # mean z-depth (camera) of the face
    outline: np.ndarray        # (N,) bool: on the face's outer outline
    hidden: np.ndarray         # (N,) bool: outline bordering an occluder or the image edge

    @property
    def occluded(self) -> bool:
        return bool(self.hidden.any())


class ClassicalDetector:
    """OpenCV back end: see the module docstring. Stateless between frames except for the
    cached pixel rays of the last camera model."""

    name = "classical"

    def __init__(self, catalog: ClassCatalog, config: ClassicalConfig | None = None) -> None:
        self.catalog = catalog
        if config is None:
            config = parse_classical_config(backend_section(catalog, "classical"), catalog)
        self.config = config
        self._grid: PixelGrid | None = None
        self._parts_by_colour = _group_by_colour(catalog.of_kind("part"))
        self._holes_by_colour = _group_by_colour(catalog.of_kind("hole"))
        self._containers = catalog.of_kind("container")

    # --- entry point -----------------------------------------------------------------------------
    def detect(self, frame: Frame) -> DetectionResult:
        validate_frame(frame)
        scene = self._prepare(frame)
        objects: list[ObjectDetection] = []
        for colour in dict.fromkeys([*self._parts_by_colour, *self._holes_by_colour]):
            objects += self._find_parts_and_holes(scene, colour)
        for cls in self._containers:
            objects += self._find_containers(scene, cls)
        people = self._find_people(scene) if self.config.person is not None else []
        return DetectionResult(objects=tuple(objects), people=tuple(people))

    # --- shared per-frame work ---------------------------------------------------------------
    def _prepare(self, frame: Frame) -> _Scene:
        intr = frame.intrinsics
        if self._grid is None or self._grid.intrinsics != intr:
            self._grid = PixelGrid(intr)
        depth = np.where(frame.depth > 0.0, frame.depth, np.float32(np.nan)).astype(np.float32)
        points = self._grid.world_points(depth, frame.world_from_optical)
        z = points[..., 2]
        valid = np.isfinite(z)
        camera = camera_position(frame.world_from_optical)
        height_above_surface = max(float(camera[2]) - self.catalog.surface_z, 0.1)
        window_px = int(math.ceil(self.config.floor_window * math.sqrt(intr.fx * intr.fy)
                                  / height_above_surface)) | 1
        floor = local_floor(z, valid, max(window_px, 3))
        protrusion = z - floor
        rgb = white_balanced(frame.rgb) if self.config.white_balance else frame.rgb
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
        return _Scene(frame=frame, points=points, z=z, valid=valid, protrusion=protrusion,
                      floor=floor, hsv=hsv, camera=camera, masks={})

    def _mask(self, scene: _Scene, colour: str) -> np.ndarray:
        mask = scene.masks.get(colour)
        if mask is None:
            mask = self.config.colours[colour].mask(scene.hsv)
            scene.masks[colour] = mask
        return mask

    def _pixel_area(self, scene: _Scene, depth: float, surface_z: float) -> float:
        """World area (m^2) of one pixel on a horizontal surface at height `surface_z`."""
        return float(pixel_area_on_horizontal(depth, scene.frame.intrinsics,
                                              max(float(scene.camera[2]) - surface_z, 1e-3)))

    def _pitch(self, scene: _Scene, depth: float) -> float:
        intr = scene.frame.intrinsics
        return depth / math.sqrt(intr.fx * intr.fy)

    def _depth_sigma(self, depth: float) -> float:
        return float(depth_noise_sigma(depth, self.config.depth_noise_at_1m))

    # --- parts and holes ---------------------------------------------------------------------
    def _find_parts_and_holes(self, scene: _Scene, colour: str) -> list[ObjectDetection]:
        """Every blob of one colour: the parts standing in it (its raised pixels) and the
        hole whose rim it may be (a seated part and its rim form one blob)."""
        part_classes = self._parts_by_colour.get(colour, [])
        hole_classes = self._holes_by_colour.get(colour, [])
        min_protrusion = self.config.parts.min_protrusion
        # blobs too small to hold the smallest visible top face or rim are noise; pixels are
        # largest (fewest per object) high above the surface, so count them there
        pixel = self._pixel_area(scene, float(scene.camera[2]) - self.catalog.surface_z
                                 - 0.3, self.catalog.surface_z + 0.3)
        min_part = max(3, int(0.5 * self.config.parts.min_visible_fraction * min(
            (c.footprint_area for c in part_classes), default=0.0) / pixel))
        min_hole = max(6, int(0.5 * self.config.holes.min_ring_area_fraction * min(
            (c.rim[0] * c.rim[1] - c.footprint_area for c in hole_classes if c.rim),
            default=0.0) / pixel))
        mask = self._mask(scene, colour).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        found: list[ObjectDetection] = []
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            if area < min(min_part, min_hole):
                continue
            roi = (slice(y, y + h), slice(x, x + w))
            blob = labels[roi] == i
            if part_classes and area >= min_part:
                with np.errstate(invalid="ignore"):
                    raised = blob & (scene.protrusion[roi] > min_protrusion)
                found += self._parts_in(scene, roi, raised, part_classes, min_part)
            if hole_classes and area >= min_hole:
                detection = self._hole_in_blob(scene, roi, blob, hole_classes)
                if detection is not None:
                    found.append(detection)
        return found

    def _parts_in(self, scene: _Scene, roi: tuple[slice, slice], raised: np.ndarray,
                  classes: list[ObjectClass], min_pixels: int) -> list[ObjectDetection]:
        """Parts among the raised pixels of a blob (each raised piece, each top face)."""
        if raised.sum() < min_pixels:
            return []
        count, labels, stats, _ = cv2.connectedComponentsWithStats(raised.astype(np.uint8),
                                                                    connectivity=8)
        found: list[ObjectDetection] = []
        for j in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[j])
            if area < min_pixels:
                continue
            sub = (slice(roi[0].start + y, roi[0].start + y + h),
                   slice(roi[1].start + x, roi[1].start + x + w))
            for top in self._top_faces(scene, sub, labels[y:y + h, x:x + w] == j,
                                       min_pixels):
                detection = self._part_from_top(scene, top, classes)
                if detection is not None:
                    found.append(detection)
        return found

    def _top_faces(self, scene: _Scene, roi: tuple[slice, slice], blob: np.ndarray,
                   min_pixels: int) -> list[_Top]:
        """Top faces (flat bands at the local top height) inside one raised blob."""
        ps = self.config.parts
        z_roi = scene.z[roi]
        zs = z_roi[blob]
        z_hi = quantile(zs, 0.9)
        depth_here = float(scene.camera[2]) - z_hi
        tol = max(ps.top_tolerance, 3.0 * self._depth_sigma(depth_here))
        near_top = blob & (z_roi >= z_hi - 2.0 * tol)
        z_top = quantile(z_roi[near_top], 0.5)
        top = blob & (np.abs(z_roi - z_top) <= tol)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            top.astype(np.uint8), connectivity=8)
        faces = []
        for j in range(1, count):
            if stats[j, cv2.CC_STAT_AREA] < min_pixels:
                continue
            face = labels == j
            rows, cols = np.nonzero(face)
            rows = rows + roi[0].start
            cols = cols + roi[1].start
            points = scene.points[rows, cols].astype(float)
            z_face = quantile(points[:, 2], 0.5)
            ground = self._support_level(scene, rows, cols, z_face)
            outline, hidden = self._outline(scene, rows, cols, z_face)
            faces.append(_Top(rows, cols, points, z_face, ground,
                              float(scene.camera[2]) - z_face, outline, hidden))
        return faces

    def _support_level(self, scene: _Scene, rows: np.ndarray, cols: np.ndarray,
                       z_top: float) -> float:
        """Height of the surface around a top face: the most populated level among the
        pixels in a band a few centimetres around it (tray floor, belt, bench; the rim for a
        seated part; the fixture top around a rim, which is therefore no part). Higher
        neighbours (the arm) are left out."""
        h, w = scene.height, scene.width
        depth = float(scene.camera[2]) - z_top
        reach = max(int(math.ceil(0.03 / self._pitch(scene, depth))), 3)
        r0, r1 = max(int(rows.min()) - reach, 0), min(int(rows.max()) + reach + 1, h)
        c0, c1 = max(int(cols.min()) - reach, 0), min(int(cols.max()) + reach + 1, w)
        face = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
        face[rows - r0, cols - c0] = 1
        outer = cv2.dilate(face, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
        inner = cv2.dilate(face, np.ones((5, 5), np.uint8))
        band = (outer > inner) & scene.valid[r0:r1, c0:c1]
        z_band = scene.z[r0:r1, c0:c1][band]
        z_band = z_band[z_band < z_top + self.config.parts.occluder_margin]
        if z_band.size < 5:
            return float(np.nanmin(scene.floor[rows, cols]))
        tol = max(self.config.parts.top_tolerance, 3.0 * self._depth_sigma(depth))
        return dominant_level(z_band, tol)

    def _outline(self, scene: _Scene, rows: np.ndarray, cols: np.ndarray, z_ref: float,
                 exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel of a region: is it on the region's outer outline, and does it border
        something higher than `z_ref` (by occluder_margin; an arm, a hand) or the image edge,
        i.e. may the region continue out of sight there? Things standing inside the region
        (parts in the tray) are not on its outer outline. `exclude` (full-image mask) marks
        higher pixels that belong to the object itself (a seated part inside its rim)."""
        h, w = scene.height, scene.width
        margin = 2
        r0, r1 = max(int(rows.min()) - margin, 0), min(int(rows.max()) + margin + 1, h)
        c0, c1 = max(int(cols.min()) - margin, 0), min(int(cols.max()) + margin + 1, w)
        with np.errstate(invalid="ignore"):
            higher = scene.z[r0:r1, c0:c1] > z_ref + self.config.parts.occluder_margin
        if exclude is not None:
            higher &= ~exclude[r0:r1, c0:c1]
        near = cv2.dilate(higher.astype(np.uint8),
                          np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool)
        region = np.zeros(higher.shape, dtype=np.uint8)
        region[rows - r0, cols - c0] = 1
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        drawn = np.zeros(higher.shape, dtype=np.uint8)
        cv2.drawContours(drawn, contours, -1, 1, thickness=2)
        outline = drawn[rows - r0, cols - c0].astype(bool)
        edge = (rows == 0) | (cols == 0) | (rows == h - 1) | (cols == w - 1)
        hidden = outline & (near[rows - r0, cols - c0] | edge)
        return outline | edge, hidden | edge

    def _part_from_top(self, scene: _Scene, top: _Top, classes: list[ObjectClass]
                       ) -> ObjectDetection | None:
        ps, cov = self.config.parts, self.config.covariance
        n = len(top.points)
        height_above_ground = top.z_top - top.ground
        if not math.isfinite(height_above_ground) or height_above_ground < ps.min_height:
            return None
        pitch = self._pitch(scene, top.depth)
        area = n * self._pixel_area(scene, top.depth, top.z_top)
        xy = top.points[:, :2]
        centre_rect, extents, angle = _rect(xy)
        # pixel centres sample the face: the true extent is about one pixel larger
        extents = extents + pitch
        best: tuple[float, ObjectClass, float] | None = None
        for cls in classes:
            # taller than the class on open view: another object (a lifted part is always
            # partly hidden by the gripper, so it passes as occluded)
            if height_above_ground > cls.size[2] + ps.max_height_margin and not top.occluded:
                continue
            visible = area / cls.footprint_area
            score = _footprint_mismatch(extents, cls.footprint, top.occluded)
            if score is None:
                continue
            if top.occluded:
                if visible < ps.min_visible_fraction or visible > 1.0 + ps.footprint_tolerance:
                    continue
            elif abs(visible - 1.0) > ps.footprint_tolerance:
                continue
            if best is None or score < best[0]:
                best = (score, cls, min(visible, 1.0))
        if best is None:
            return None
        _score, cls, visible = best
        if top.occluded:
            # the face continues under the occluder: complete the known footprint on the
            # hidden side
            centre, angle, unresolved = complete_rectangle(
                xy[top.outline], top.hidden[top.outline], cls.footprint, centre_rect,
                extents, angle, edge_band=1.5 * pitch, min_shortfall=0.5 * pitch)
            extents = np.array(cls.footprint)     # `angle` is now the class's x axis
            # a completed side is good to about half a pixel; an unresolved one leaves the
            # centre anywhere within half the shortfall
            sigma_occ = cov.occlusion_gain * float(unresolved.max()) + 0.5 * pitch
        else:
            centre, sigma_occ = xy.mean(axis=0), 0.0
        z_centre = top.z_top - cls.size[2] / 2.0
        z_ref = {"centre": z_centre, "top": top.z_top, "bottom": top.z_top - cls.size[2]}[
            cls.position_reference]
        position = np.array([centre[0], centre[1], z_ref])
        sigma_xy = cov.centroid_gain * pitch / math.sqrt(n) + cov.floor_xy[cls.kind]
        hidden = 1.0 - visible if top.occluded else 0.0
        sigma_z = self._depth_sigma(top.depth) / math.sqrt(n) + cov.floor_z
        covariance = np.diag([sigma_xy ** 2 + sigma_occ ** 2, sigma_xy ** 2 + sigma_occ ** 2,
                              sigma_z ** 2])
        yaw, yaw_var = self._yaw(cls, extents, angle, pitch, n, hidden)
        # how well the footprint fits the class, times how much of it is in view
        confidence = float(np.clip((1.0 - 0.5 * _score) * visible, 0.05, 1.0))
        return ObjectDetection(label=cls.label, kind=cls.kind, confidence=confidence,
                               position=position, yaw=yaw, size=cls.size,
                               position_covariance=covariance, yaw_variance=yaw_var,
                               pixel_count=n)

    def _yaw(self, cls: ObjectClass, extents: np.ndarray, angle: float, pitch: float, n: int,
             hidden: float) -> tuple[float, float]:
        """Yaw of the class's x axis from the rectangle around its footprint, folded into
        the class symmetry, and its variance (unobservable: uniform over a turn)."""
        cov = self.config.covariance
        if not cls.yaw_observable or cls.shape == "cylinder":
            return 0.0, UNOBSERVABLE_YAW_VARIANCE
        period = math.radians(cls.yaw_period_deg)
        # which rectangle axis is the class's x axis: the one whose extent matches size[0]
        fx, fy = cls.footprint
        if abs(fx - fy) > 1e-6:
            straight = abs(extents[0] - fx) + abs(extents[1] - fy)
            swapped = abs(extents[1] - fx) + abs(extents[0] - fy)
            if swapped < straight:
                angle += math.pi / 2.0
        yaw = wrap_angle(angle, period)
        sigma = cov.yaw_gain * pitch / (min(cls.footprint) * max(n, 1) ** 0.25) \
            + math.radians(cov.floor_yaw_deg) + hidden * math.pi / 4.0
        return yaw, float(min(sigma ** 2, period ** 2 / 12.0))

    # --- holes ---------------------------------------------------------------------------------
    def _hole_in_blob(self, scene: _Scene, roi: tuple[slice, slice], blob: np.ndarray,
                      classes: list[ObjectClass]) -> ObjectDetection | None:
        """The rim is the blob's most populated height level (the rim's inner walls and a
        seated part's top are smaller)."""
        hs, cov = self.config.holes, self.config.covariance
        z_roi, valid_roi = scene.z[roi], scene.valid[roi]
        zs = z_roi[blob & valid_roi]
        if zs.size < 6:
            return None
        tol = max(self.config.parts.top_tolerance,
                  3.0 * self._depth_sigma(float(scene.camera[2]) - quantile(zs, 0.5)))
        z_rim = dominant_level(zs, tol)
        with np.errstate(invalid="ignore"):
            level = np.abs(z_roi - z_rim) <= tol
        rim_measured = blob & valid_roi & level
        if rim_measured.sum() < 6:
            return None
        rim = rim_measured | (blob & ~valid_roi)      # pixels without depth keep the ring shut
        points = scene.points[roi][rim_measured].astype(float)
        z_rim = quantile(points[:, 2], 0.5)
        depth = float(scene.camera[2]) - z_rim
        pitch = self._pitch(scene, depth)
        centre, extents, angle = _rect(points[:, :2])
        extents = extents + pitch
        cls = _best_rim_match(extents, classes, hs.rim_tolerance, hs.min_rim_fraction)
        if cls is None or cls.rim is None:
            return None
        ring_area = cls.rim[0] * cls.rim[1] - cls.footprint_area
        if len(points) * self._pixel_area(scene, depth, z_rim) \
                < hs.min_ring_area_fraction * ring_area:
            return None      # a sliver (the foot of a free part), not a rim
        interior = _interior(rim)
        n_rim = int(rim.sum())
        n_inside = int(interior.sum())
        opening_pixels = cls.footprint_area / self._pixel_area(scene, depth, z_rim)
        if n_inside < hs.min_opening_fraction * opening_pixels \
                or n_rim / float(n_rim + n_inside) > hs.max_fill_ratio:
            return None      # no opening inside: a solid face (a part's top), not a rim
        z_inside = z_roi[interior & valid_roi]
        if z_inside.size == 0 or abs(quantile(z_inside, 0.5) - z_rim) < hs.min_interior_step:
            return None
        if self._flush_share(scene, roi, blob, z_rim, tol) < hs.min_flush_fraction:
            return None      # stands out of its surroundings: a part or box top, not a rim
        short = np.clip(np.sort(np.array(cls.rim)) - np.sort(extents), 0.0, None)
        n = len(points)
        unresolved = np.zeros(2)
        if float(short.max()) > pitch:
            # part of the rim is hidden (the arm above it): complete the known rim size on
            # the side where the rim borders the occluder
            rows, cols = np.nonzero(rim_measured)
            rows, cols = rows + roi[0].start, cols + roi[1].start
            outline, hidden = self._outline(scene, rows, cols, z_rim,
                                            exclude=self._mask(scene, cls.colour))
            centre, _, unresolved = complete_rectangle(
                points[outline, :2], hidden[outline], cls.rim, centre, extents, angle,
                edge_band=1.5 * pitch, min_shortfall=pitch)
        sigma_xy = cov.centroid_gain * pitch / math.sqrt(n) + cov.floor_xy[cls.kind] \
            + cov.occlusion_gain * float(unresolved.max()) + 0.25 * float(short.max())
        sigma_z = self._depth_sigma(depth) / math.sqrt(n) + cov.floor_z
        z_ref = {"top": z_rim, "centre": z_rim - cls.size[2] / 2.0,
                 "bottom": z_rim - cls.size[2]}[cls.position_reference]
        if cls.shape == "cylinder" or not cls.yaw_observable:
            yaw, yaw_var = 0.0, UNOBSERVABLE_YAW_VARIANCE
        else:
            rim_cls = ObjectClass(cls.label, cls.kind, cls.shape,
                                  (cls.rim[0], cls.rim[1], cls.size[2]), cls.colour,
                                  cls.yaw_period_deg, cls.position_reference)
            yaw, yaw_var = self._yaw(rim_cls, extents, angle, pitch, n,
                                     float(short.max()) / max(cls.rim))
        fit = float(np.clip(1.0 - float(short.max()) / max(cls.rim), 0.1, 1.0))
        return ObjectDetection(
            label=cls.label, kind=cls.kind, confidence=fit,
            position=np.array([centre[0], centre[1], z_ref]), yaw=yaw, size=cls.size,
            position_covariance=np.diag([sigma_xy ** 2, sigma_xy ** 2, sigma_z ** 2]),
            yaw_variance=yaw_var, pixel_count=n_rim)

    def _flush_share(self, scene: _Scene, roi: tuple[slice, slice], blob: np.ndarray,
                     z_level: float, tol: float) -> float:
        """Share of the pixels just outside a blob (a 2-pixel band) that lie at `z_level`: a
        rim is flush with the fixture top around it, the top of a part or a box is not."""
        h, w = scene.height, scene.width
        pad = 3
        r0, c0 = max(roi[0].start - pad, 0), max(roi[1].start - pad, 0)
        r1, c1 = min(roi[0].stop + pad, h), min(roi[1].stop + pad, w)
        region = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
        region[roi[0].start - r0:roi[0].stop - r0, roi[1].start - c0:roi[1].stop - c0] = blob
        band = (cv2.dilate(region, np.ones((5, 5), np.uint8)) > region) \
            & scene.valid[r0:r1, c0:c1]
        z_band = scene.z[r0:r1, c0:c1][band]
        if z_band.size == 0:
            return 0.0
        return float(np.mean(np.abs(z_band - z_level) <= tol))

    # --- containers ------------------------------------------------------------------------------
    def _find_containers(self, scene: _Scene, cls: ObjectClass) -> list[ObjectDetection]:
        cs, cov = self.config.containers, self.config.covariance
        # one pixel off the mask's edge: edge pixels mix colours, and their depth may come
        # from the surface behind a wall (a centimetre outside at this viewing angle)
        mask = cv2.erode((self._mask(scene, cls.colour) & scene.valid).astype(np.uint8),
                         cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        groups: list[list[int]] = []
        centres: list[np.ndarray] = []
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            if area < 10:
                continue
            rows, cols = np.nonzero(labels[y:y + h, x:x + w] == i)
            pts = scene.points[rows + y, cols + x]
            z_med = quantile(pts[:, 2], 0.5)
            world_area = area * self._pixel_area(scene, float(scene.camera[2]) - z_med, z_med)
            if world_area < self.config.min_blob_area:
                continue
            centre = pts[:, :2].mean(axis=0)
            for group, c in zip(groups, centres, strict=True):
                if np.linalg.norm(c - centre) < max(cls.footprint):
                    group.append(i)
                    break
            else:
                groups.append([i])
                centres.append(centre)
        found = []
        for group in groups:
            x0 = min(int(stats[i, 0]) for i in group)
            y0 = min(int(stats[i, 1]) for i in group)
            x1 = max(int(stats[i, 0] + stats[i, 2]) for i in group)
            y1 = max(int(stats[i, 1] + stats[i, 3]) for i in group)
            rows, cols = np.nonzero(np.isin(labels[y0:y1, x0:x1], group))
            rows, cols = rows + y0, cols + x0
            points = scene.points[rows, cols].astype(float)
            # colour and depth disagree on a few edge pixels (the depth of what is in
            # front): keep the container's own height band
            z_mid = quantile(points[:, 2], 0.5)
            band = (points[:, 2] > z_mid - 0.02) & (points[:, 2] < z_mid + cls.size[2] + 0.02)
            points, rows, cols = points[band], rows[band], cols[band]
            z_hi = quantile(points[:, 2], 0.95)
            depth = float(scene.camera[2]) - z_hi
            area = len(points) * self._pixel_area(scene, depth, z_hi)
            if area / (cls.size[0] * cls.size[1]) < cs.min_visible_fraction:
                continue
            centre, extents, angle = _rect(points[:, :2])
            pitch = self._pitch(scene, depth)
            extents = extents + 3.0 * pitch      # sampling (1 pixel) + erosion (2 pixels)
            expected = np.array(cls.footprint)
            order = np.argsort(extents)
            if np.any(extents[order] > np.sort(expected) * (1.0 + cs.size_tolerance)):
                continue
            short = np.clip(np.sort(expected) - extents[order], 0.0, None)
            unresolved = np.zeros(2)
            if float(short.max()) > pitch:
                # an edge is hidden (the arm over the tray): complete the known size there
                outline, hidden = self._outline(scene, rows, cols, z_hi)
                centre, _, unresolved = complete_rectangle(
                    points[outline, :2], hidden[outline], cls.footprint, centre, extents,
                    angle, 2.0 * pitch)
            sigma_xy = cov.floor_xy[cls.kind] \
                + cov.centroid_gain * pitch / math.sqrt(len(points)) \
                + cov.occlusion_gain * float(unresolved.max()) + 0.25 * float(short.max())
            sigma_z = self._depth_sigma(depth) / math.sqrt(len(points)) + cov.floor_z
            # the container stands on the surface around it: its base is that level (its
            # rim may be largely hidden by the arm, the surface around it rarely is)
            bottom = self._support_level(scene, rows, cols, z_hi)
            if not math.isfinite(bottom) or abs(z_hi - cls.size[2] - bottom) > cls.size[2]:
                bottom = z_hi - cls.size[2]
            z_ref = {"top": bottom + cls.size[2], "centre": bottom + cls.size[2] / 2.0,
                     "bottom": bottom}[cls.position_reference]
            hidden = float(short.max()) / float(max(expected))
            yaw, yaw_var = self._yaw(cls, extents, angle, pitch, len(points), hidden)
            found.append(ObjectDetection(
                label=cls.label, kind=cls.kind,
                confidence=float(np.clip(1.0 - hidden, 0.1, 1.0)),
                position=np.array([centre[0], centre[1], z_ref]), yaw=yaw, size=cls.size,
                position_covariance=np.diag([sigma_xy ** 2, sigma_xy ** 2, sigma_z ** 2]),
                yaw_variance=yaw_var, pixel_count=len(points)))
        return found

    # --- people ----------------------------------------------------------------------------------
    def _find_people(self, scene: _Scene) -> list[PersonObservation]:
        pc = self.config.person
        assert pc is not None
        surface = self.catalog.surface_z
        with np.errstate(invalid="ignore"):
            high = scene.z > surface + pc.min_height_above_surface
            clothing_high = scene.z > surface + pc.clothing_min_height_above_surface
        skin = (self._mask(scene, pc.skin) & high).astype(np.uint8)
        skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        clothing = (self._mask(scene, pc.clothing) & clothing_high).astype(np.uint8)
        near_clothing = cv2.dilate(clothing, np.ones((5, 5), np.uint8)).astype(bool)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(skin, connectivity=8)
        arms: list[_Arm] = []
        heads: list[Keypoint] = []
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            rows, cols = np.nonzero(labels[y:y + h, x:x + w] == i)
            rows, cols = rows + y, cols + x
            keep = scene.valid[rows, cols]
            rows, cols = rows[keep], cols[keep]
            if len(rows) < 8:
                continue
            points = scene.points[rows, cols].astype(float)
            z_hi = quantile(points[:, 2], 0.95)
            world_area = len(rows) * self._pixel_area(scene, float(scene.camera[2]) - z_hi,
                                                      z_hi)
            if world_area < pc.min_area:
                continue
            head = self._head(points, z_hi, surface)
            if head is not None:
                heads.append(head)
                continue
            arm = self._arm(scene, rows, cols, points, near_clothing)
            if arm is not None:
                arms.append(arm)
        torso = self._torso(scene, clothing.astype(bool))
        if not arms and not heads:
            return []
        return [_assemble_person(arms, heads, torso, pc)]

    def _head(self, points: np.ndarray, z_hi: float, surface: float) -> Keypoint | None:
        pc = self.config.person
        assert pc is not None
        if z_hi < surface + pc.head_min_height_above_surface:
            return None
        xy = points[:, :2]
        spread = np.ptp(xy, axis=0)
        if spread.max() > 3.0 * pc.head_radius or spread.min() < pc.head_radius:
            return None
        centre = fit_sphere(points, pc.head_radius)
        return Keypoint(position=centre, variance=pc.head_sigma ** 2)

    def _arm(self, scene: _Scene, rows: np.ndarray, cols: np.ndarray, points: np.ndarray,
             near_clothing: np.ndarray) -> _Arm | None:
        pc = self.config.person
        assert pc is not None
        h, w = scene.height, scene.width
        border = (rows <= 1) | (cols <= 1) | (rows >= h - 2) | (cols >= w - 2)
        entry = border | near_clothing[rows, cols]
        xy = points[:, :2]
        if entry.any():
            anchor = xy[entry].mean(axis=0)
        else:
            # no entry seen: the elbow end is the higher one when a hand reaches down
            centred = xy - xy.mean(axis=0)
            axis = np.linalg.svd(centred, full_matrices=False)[2][0]
            along = centred @ axis
            ends = (along < np.percentile(along, 15), along > np.percentile(along, 85))
            higher = int(np.argmax([points[e, 2].mean() for e in ends]))
            anchor = xy[ends[higher]].mean(axis=0)
        distance = np.linalg.norm(xy - anchor, axis=1)
        reach = quantile(distance, 0.98)
        if reach < pc.hand_radius:
            return None
        tip_region = distance >= reach - 0.5 * pc.hand_radius
        tip = xy[tip_region].mean(axis=0)
        direction = tip - anchor
        direction /= max(float(np.linalg.norm(direction)), 1e-9)
        # the distal half of the hand's outline is hand only: the forearm joins the hand on
        # the proximal side (and may cover its middle when the hand reaches down)
        along = (xy - anchor) @ direction
        distal = along >= quantile(along, 0.98) - pc.hand_radius
        if distal.sum() < 5:
            return None
        hand_points = points[distal]
        guess_xy = tip - direction * pc.hand_radius
        guess = np.array([guess_xy[0], guess_xy[1],
                          quantile(hand_points[:, 2], 0.5) - 0.3 * pc.hand_radius])
        hand = fit_sphere(hand_points, pc.hand_radius, guess)
        to_camera = scene.camera - hand_points.mean(axis=0)
        if float((hand - hand_points.mean(axis=0)) @ to_camera) > 0.0 \
                or float(np.linalg.norm(hand[:2] - guess_xy)) > pc.hand_radius:
            hand = guess           # the fit ran off (too few hand points): keep the guess
        near = np.linalg.norm(xy - hand[:2], axis=1) <= 1.2 * pc.hand_radius
        forearm = np.linalg.norm(xy - hand[:2], axis=1) > 2.0 * pc.hand_radius
        arm_point = None
        if forearm.sum() >= 5:
            fp = points[forearm]
            surface_mean = fp.mean(axis=0)
            to_camera = scene.camera - surface_mean
            to_camera /= max(float(np.linalg.norm(to_camera)), 1e-9)
            arm_point = surface_mean - to_camera * (2.0 / 3.0) * pc.forearm_radius
        touches_border = bool(border[near].any())
        return _Arm(anchor=anchor, hand=hand, arm=arm_point, cut=touches_border)

    def _torso(self, scene: _Scene, clothing: np.ndarray) -> Keypoint | None:
        """The middle of the visible clothing when a large part of the body is in view (the
        overhead camera mostly sees only arms; then no torso is reported)."""
        pc = self.config.person
        assert pc is not None
        rows, cols = np.nonzero(clothing & scene.valid)
        if len(rows) < 20:
            return None
        points = scene.points[rows, cols].astype(float)
        z_hi = quantile(points[:, 2], 0.95)
        area = len(rows) * self._pixel_area(scene, float(scene.camera[2]) - z_hi, z_hi)
        if area < pc.torso_min_area:
            return None
        return Keypoint(position=np.median(points, axis=0), variance=pc.torso_sigma ** 2)


# --- helpers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Arm:
    anchor: np.ndarray        # xy where the arm enters the view (towards the shoulder)
    hand: np.ndarray          # hand centre, world
    arm: np.ndarray | None    # a point on the forearm
    cut: bool                 # the hand touches the image edge (partly outside the view)


def _assemble_person(arms: list[_Arm], heads: list[Keypoint], torso: Keypoint | None,
                     pc: PersonSettings) -> PersonObservation:
    """One person from the arms seen: left and right from where each arm enters relative to
    the direction the person reaches (the arms point away from the body)."""
    arms = sorted(arms, key=lambda a: -float(np.linalg.norm(a.hand[:2] - a.anchor)))[:2]
    keypoints: dict[str, Keypoint] = {}
    if arms:
        reach = np.mean([a.hand[:2] - a.anchor for a in arms], axis=0)
        if np.linalg.norm(reach) < 1e-6:
            reach = np.array([1.0, 0.0])
        reach = reach / np.linalg.norm(reach)
        left_dir = np.array([-reach[1], reach[0]])
        if len(arms) == 2:
            lateral = [float(left_dir @ a.anchor) for a in arms]
            order = ["left", "right"] if lateral[0] >= lateral[1] else ["right", "left"]
        else:
            body = torso.position[:2] if torso is not None else None
            if body is None:
                side = "left" if float(left_dir @ (arms[0].anchor - arms[0].hand[:2])) >= 0 \
                    else "right"
            else:
                side = "left" if float(left_dir @ (arms[0].anchor - body)) >= 0 else "right"
            order = [side]
        for side, arm in zip(order, arms, strict=False):
            sigma = pc.hand_sigma * (2.0 if arm.cut else 1.0)
            keypoints[f"{side}_hand"] = Keypoint(arm.hand, sigma ** 2)
            if arm.arm is not None:
                keypoints[f"{side}_arm"] = Keypoint(arm.arm, pc.arm_sigma ** 2)
    if heads:
        keypoints["head"] = heads[0]
    if torso is not None:
        keypoints["torso"] = torso
    confidence = min(1.0, 0.5 * len(arms) + (0.25 if heads else 0.0)
                     + (0.25 if torso is not None else 0.0))
    return PersonObservation(confidence=max(confidence, 0.3), keypoints=keypoints)


def fit_sphere(points: np.ndarray, radius: float, guess: np.ndarray | None = None,
               iterations: int = 8) -> np.ndarray:
    """Centre of a sphere of known radius through visible surface points (robust
    Gauss-Newton: points more than a third of the radius off the surface get no weight, so
    the attached forearm does not pull the hand)."""
    pts = np.asarray(points, dtype=float)
    centre = pts.mean(axis=0) if guess is None else np.asarray(guess, dtype=float).copy()
    if guess is None:
        centre[2] -= radius
    cutoff = radius / 3.0
    for _ in range(iterations):
        delta = pts - centre
        dist = np.linalg.norm(delta, axis=1)
        dist = np.maximum(dist, 1e-9)
        residual = dist - radius
        weight = (np.abs(residual) < cutoff).astype(float)
        if weight.sum() < 4:
            break
        jac = -delta / dist[:, None]
        jw = jac * weight[:, None]
        hessian = jw.T @ jac + 1e-6 * np.eye(3)
        step = np.linalg.solve(hessian, -(jw.T @ residual))
        centre += step
        if float(np.linalg.norm(step)) < 1e-5:
            break
    return centre


def white_balanced(rgb: np.ndarray, max_gain: float = 2.0) -> np.ndarray:
    """The image with a tinted light's colour cast removed (white patch): the brightest
    whites of the scene (the robot, the fixture) are scaled to neutral. Leaves an image under
    white light unchanged, so colour ranges measured under white light keep working."""
    sample = rgb.reshape(-1, 3)[::7]
    white = np.percentile(sample, 99.0, axis=0).astype(float)
    if np.any(white < 1.0):
        return rgb
    gains = np.clip(white.max() / white, 1.0, max_gain)
    if float(gains.max()) < 1.03:
        return rgb
    return cv2.multiply(rgb, np.array([*gains, 0.0]), dtype=cv2.CV_8U)


def local_floor(z: np.ndarray, valid: np.ndarray, window_px: int) -> np.ndarray:
    """Lowest height within a square window around every pixel (a grey erosion of the height
    map). Everything that stands out of its neighbourhood is above it: parts, but also rims
    next to their holes and surfaces near a step; which of those is a part is decided per
    blob. A min filter, unlike an opening, is not fooled by a part standing next to something
    taller (the arm right beside it). Pixels without depth do not take part."""
    big = np.float32(1e6)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window_px, window_px))
    floor = cv2.erode(np.where(valid, z, big).astype(np.float32), kernel,
                      borderType=cv2.BORDER_REPLICATE)
    floor[floor >= big / 2] = np.nan
    return floor


def quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile (0..1, nearest rank) of a 1-D array: np.partition, several times
    cheaper than np.percentile on the small arrays of a blob."""
    flat = np.asarray(values).reshape(-1)
    k = min(max(int(round(q * (flat.size - 1))), 0), flat.size - 1)
    return float(np.partition(flat, k)[k])


def dominant_level(values: np.ndarray, tolerance: float) -> float:
    """Centre of the most populated window of width 2 * tolerance among `values` (the
    height of the largest flat surface in a blob)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    ends = np.searchsorted(ordered, ordered + 2.0 * tolerance, side="right")
    start = int(np.argmax(ends - np.arange(len(ordered))))
    return quantile(ordered[start:ends[start]], 0.5)


def _rect(points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Minimum-area rectangle of world points (OpenCV hull first: fast for large blobs)."""
    pts = np.ascontiguousarray(points_xy, dtype=np.float32)
    if len(pts) < 3:
        return rotated_rect_of_points(pts)
    return rectangle_of_hull(cv2.convexHull(pts).reshape(-1, 2).astype(float))


def _interior(rim: np.ndarray) -> np.ndarray:
    """Pixels inside the convex hull of a rim blob that are not the rim: the opening (the
    hull, not the contour, so that a rim partly hidden by the arm still encloses it)."""
    rows, cols = np.nonzero(rim)
    hull = cv2.convexHull(np.stack([cols, rows], axis=1).astype(np.int32))
    filled = np.zeros(rim.shape, dtype=np.uint8)
    cv2.fillConvexPoly(filled, hull, 1)
    return filled.astype(bool) & ~rim


def _footprint_mismatch(extents: np.ndarray, footprint: tuple[float, float],
                        occluded: bool) -> float | None:
    """Relative mismatch of measured extents to a class footprint (sorted, so yaw does not
    matter); None when impossible. A partly hidden face may be smaller, never larger."""
    measured = np.sort(extents)
    expected = np.sort(np.array(footprint, dtype=float))
    ratio = measured / expected
    if np.any(ratio > 1.45):
        return None
    if occluded:
        return float(np.max(np.clip(ratio - 1.0, 0.0, None)))
    if np.any(ratio < 0.55):
        return None
    return float(np.max(np.abs(ratio - 1.0)))


def _best_rim_match(extents: np.ndarray, classes: list[ObjectClass], tolerance: float,
                    min_fraction: float) -> ObjectClass | None:
    best = None
    for cls in classes:
        if cls.rim is None:
            continue
        ratio = np.sort(extents) / np.sort(np.array(cls.rim))
        if np.any(ratio > 1.0 + tolerance) or np.any(ratio < min_fraction):
            continue
        score = float(np.max(np.abs(ratio - 1.0)))
        if best is None or score < best[0]:
            best = (score, cls)
    return None if best is None else best[1]


def _group_by_colour(classes: list[ObjectClass]) -> dict[str, list[ObjectClass]]:
    groups: dict[str, list[ObjectClass]] = {}
    for cls in classes:
        groups.setdefault(cls.colour, []).append(cls)
    return groups
