"""People seen by a camera that looks across a room (a mobile robot's head camera), without
rclpy: the clothing colour anchors a person (in a home the skin colour is shared by the
wooden floor, the table and the shelf, so skin alone finds furniture); the head is the skin
just above the clothing, a hand is a small skin blob within arm's reach of it. Depth edges
cut blobs apart, so a hand held in front of the table is not the table.

The overhead cell camera has its own finder in foresight_perception.classical (there the
arms enter the view from its edge and the body is mostly out of view).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from foresight_perception.detector import Keypoint, PersonObservation


@dataclass(frozen=True)
class UprightPersonSettings:
    floor_z: float = 0.0             # m, the floor of the room (world frame)
    min_height: float = 0.30         # m above the floor: lower pixels are floor or clutter
    depth_edge: float = 0.06         # m between neighbouring pixels cuts a blob
    torso_min_area: float = 0.02     # m^2 of clothing (seen side) before a person counts
    person_radius: float = 0.5       # m: clothing blobs this close in xy are one person
    torso_depth: float = 0.10        # m: the body's centre behind its seen surface
    head_radius: float = 0.10        # m
    head_above: float = 0.45         # m: the head's skin lies up to this above the clothing
    head_reach_xy: float = 0.25      # m from the torso's axis
    hand_radius: float = 0.045       # m
    max_part_extent: float = 0.55    # m: a skin blob larger than this is furniture
    arm_reach: float = 0.90          # m: hands lie within this of the torso centre (3-D)
    min_part_pixels: int = 6
    torso_sigma: float = 0.08        # m, keypoint standard deviations
    head_sigma: float = 0.05
    hand_sigma: float = 0.10         # the far end of the arm in view: a hand resting in
                                     # a lap or hidden is off by up to ~0.2 m (rendered views)


def depth_edges(depth: np.ndarray, jump: float) -> np.ndarray:
    """Pixels on the far side of a depth step larger than `jump` (m): a neighbour is that
    much nearer. Removing them cuts a near object from a surface of its colour behind it
    and leaves the object whole (a thin one, a few pixels tall, would vanish if both sides
    went); pixels without depth neither cut nor are cut."""
    near = np.where(np.isfinite(depth), depth, np.float32(1e6)).astype(np.float32)
    nearest = cv2.erode(near, np.ones((3, 3), np.uint8))
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth - nearest > jump)


def _components(mask: np.ndarray, min_pixels: int) -> list[np.ndarray]:
    """Index arrays (rows, cols) of the 8-connected components of `mask` with enough pixels."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, count):
        rows, cols = np.nonzero(labels == i)
        if len(rows) >= min_pixels:
            out.append((rows, cols))
    return out


def find_upright_people(points: np.ndarray, depth: np.ndarray, skin: np.ndarray,
                        clothing: np.ndarray, camera: np.ndarray, pixel_area: np.ndarray,
                        settings: UprightPersonSettings = UprightPersonSettings()
                        ) -> list[PersonObservation]:
    """People in one frame. `points` (H, W, 3) world points (NaN without depth), `depth`
    (H, W) z-depth, `skin` / `clothing` (H, W) colour masks, `camera` the optical centre in
    the world, `pixel_area` (H, W) m^2 each pixel covers facing the camera."""
    s = settings
    valid = np.isfinite(points[..., 2])
    with np.errstate(invalid="ignore"):
        high = valid & (points[..., 2] > s.floor_z + s.min_height)
    solid = high & ~depth_edges(depth, s.depth_edge)
    bodies: list[tuple[np.ndarray, float]] = []     # clothing points and area per person
    for rows, cols in _components(clothing & solid, s.min_part_pixels):
        blob, area = points[rows, cols], float(pixel_area[rows, cols].sum())
        centre = np.median(blob[:, :2], axis=0)
        for k, (body, total) in enumerate(bodies):
            if np.linalg.norm(np.median(body[:, :2], axis=0) - centre) < s.person_radius:
                bodies[k] = (np.vstack([body, blob]), total + area)
                break
        else:
            bodies.append((blob, area))
    skin_parts = [points[rows, cols] for rows, cols in
                  _components(skin & solid, s.min_part_pixels)]
    skin_parts = [p for p in skin_parts if float(np.max(np.ptp(p, axis=0))) <= s.max_part_extent]
    return [_person(body, skin_parts, camera, s) for body, area in bodies
            if area >= s.torso_min_area]


def _person(body: np.ndarray, skin_parts: list[np.ndarray], camera: np.ndarray,
            s: UprightPersonSettings) -> PersonObservation:
    seen = np.median(body, axis=0)
    away = seen[:2] - camera[:2]
    away /= max(float(np.linalg.norm(away)), 1e-9)
    torso = seen.copy()
    torso[:2] += s.torso_depth * away               # the body's axis behind its front
    top = float(np.percentile(body[:, 2], 97))
    keypoints = {"torso": Keypoint(torso, s.torso_sigma ** 2)}
    head_points, hands = [], []
    for part in skin_parts:
        centre = part.mean(axis=0)
        off_axis = float(np.linalg.norm(centre[:2] - torso[:2]))
        if off_axis < s.head_reach_xy and top - 0.05 < centre[2] < top + s.head_above:
            head_points.append(part)
        elif float(np.linalg.norm(centre - torso)) < s.arm_reach:
            hands.append(part)
    if head_points:
        head = np.vstack(head_points)
        centre = head.mean(axis=0)
        to_camera = camera - centre
        to_camera /= max(float(np.linalg.norm(to_camera)), 1e-9)
        # the seen cap of the sphere: its centre lies one radius behind, away from the camera
        keypoints["head"] = Keypoint(centre - 0.7 * s.head_radius * to_camera,
                                     s.head_sigma ** 2)
    # hands: the far end of each arm blob (from the torso), the two that reach furthest
    tips = []
    for part in hands:
        reach = np.linalg.norm(part - torso, axis=1)
        tip = part[reach >= np.max(reach) - s.hand_radius].mean(axis=0)
        to_camera = camera - tip
        to_camera /= max(float(np.linalg.norm(to_camera)), 1e-9)
        tips.append((float(np.max(reach)), tip - 0.5 * s.hand_radius * to_camera))
    tips = sorted(tips, key=lambda t: -t[0])[:2]
    # left and right from the camera's side of the body (the person faces the camera more
    # often than not when a hand matters: a hand-over)
    side = np.array([-away[1], away[0]])            # the camera's left, seen from it
    for _, tip in tips:
        name = "right_hand" if float((tip[:2] - torso[:2]) @ side) > 0 else "left_hand"
        if name in keypoints:
            name = "left_hand" if name == "right_hand" else "right_hand"
        keypoints[name] = Keypoint(tip, s.hand_sigma ** 2)
    confidence = min(1.0, 0.5 + (0.3 if "head" in keypoints else 0.0) + 0.1 * len(tips))
    return PersonObservation(confidence=confidence, keypoints=keypoints)
