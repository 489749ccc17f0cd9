"""An episode from its bag as pictures: the overhead camera's frames with what the stack
believed drawn on them (the world model's object tracks and person keypoints projected
through the camera's recorded mounting and intrinsics, the running skill, the supervisor's
state as a coloured frame and text), written as an animated GIF, an MP4 or a strip of a few
frames (`tools/export_episode.py`). Reads only the bag. No rclpy here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PilImage
from rosbags.highlevel import AnyReader

from foresight_common import contract
from foresight_common.conversions import (
    homogeneous,
    image_to_numpy,
    msg_to_quat_wxyz,
    msg_to_vector,
)

SAFETY_COLOURS = {0: (60, 200, 60), 1: (255, 180, 0), 2: (230, 30, 30), 3: (160, 0, 160)}
SAFETY_NAMES = {0: "clear", 1: "slow", 2: "STOP", 3: "E-STOP"}


@dataclass
class Overlay:
    """What the stack believed at a frame (the latest message of each kind before it)."""

    objects: list[tuple[str, np.ndarray]] = field(default_factory=list)   # label, world xyz
    people: list[np.ndarray] = field(default_factory=list)               # world xyz
    skill: str = ""
    safety: int | None = None
    safety_text: str = ""


def _world_from(frame: str, static: dict[str, tuple[str, np.ndarray]]) -> np.ndarray | None:
    transform = np.eye(4)
    for _ in range(20):
        if frame == contract.WORLD_FRAME:
            return transform
        if frame not in static:
            return None
        parent, parent_from_child = static[frame]
        transform = parent_from_child @ transform
        frame = parent
    return None


def frames(bag: Path, every: int = 1, start_s: float = 0.0, end_s: float | None = None
           ) -> Iterator[tuple[float, np.ndarray]]:
    """(simulated time, RGB frame with overlays) for every `every`-th camera image."""
    colour, info_topic = "/" + contract.COLOR_IMAGE.name, "/" + contract.COLOR_INFO.name
    wanted = {colour, info_topic, "/tf_static", "/" + contract.OBJECT_TRACKS.name,
              "/" + contract.PERSON_TRACKS.name, "/" + contract.TASK_EVENTS.name,
              "/" + contract.SAFETY_STATE.name}
    static: dict[str, tuple[str, np.ndarray]] = {}
    intrinsics: np.ndarray | None = None
    overlay = Overlay()
    count = 0
    with AnyReader([bag]) as reader:
        connections = [c for c in reader.connections if c.topic in wanted]
        for connection, stamp, raw in reader.messages(connections=connections):
            msg = reader.deserialize(raw, connection.msgtype)
            topic, t = connection.topic, stamp * 1e-9
            if topic == "/tf_static":
                for tf in msg.transforms:
                    static[tf.child_frame_id] = (tf.header.frame_id, homogeneous(
                        msg_to_vector(tf.transform.translation),
                        msg_to_quat_wxyz(tf.transform.rotation)))
            elif topic == info_topic:
                intrinsics = np.asarray(msg.k, dtype=float).reshape(3, 3)
            elif topic == "/" + contract.OBJECT_TRACKS.name:
                overlay.objects = [(tr.label, np.array([tr.pose.position.x, tr.pose.position.y,
                                                        tr.pose.position.z]))
                                   for tr in msg.tracks]
            elif topic == "/" + contract.PERSON_TRACKS.name:
                overlay.people = [np.array([k.x, k.y, k.z])
                                  for person in msg.people for k in person.keypoints]
            elif topic == "/" + contract.TASK_EVENTS.name:
                overlay.skill = f"{msg.skill} {msg.object_id} -> {msg.place_id}".strip() \
                    if msg.state == "started" else overlay.skill
            elif topic == "/" + contract.SAFETY_STATE.name:
                overlay.safety = int(msg.state)
                overlay.safety_text = f"{SAFETY_NAMES.get(msg.state, '?')} " \
                    f"{msg.robot_speed_mps:.2f} m/s"
            elif topic == colour:
                count += 1
                if t < start_s or (count - 1) % every or intrinsics is None:
                    continue
                if end_s is not None and t > end_s:
                    break
                image = image_to_numpy(msg, ("rgb8", "bgr8"))
                camera = _world_from(msg.header.frame_id, static)
                yield t, draw(image.copy(), overlay, t, intrinsics,
                              None if camera is None else np.linalg.inv(camera))


def draw(image: np.ndarray, overlay: Overlay, t: float, intrinsics: np.ndarray,
         camera_from_world: np.ndarray | None) -> np.ndarray:
    """The overlays on one RGB image (in place; returned)."""
    h, w = image.shape[:2]
    scale = max(w / 320.0, 0.5)

    def pixel(point: np.ndarray) -> tuple[int, int] | None:
        if camera_from_world is None:
            return None
        p = camera_from_world @ np.append(point, 1.0)
        if p[2] <= 0.05:
            return None
        u, v, _ = intrinsics @ (p[:3] / p[2])
        return (int(round(u)), int(round(v))) if 0 <= u < w and 0 <= v < h else None

    for label, position in overlay.objects:
        at = pixel(position)
        if at is not None:
            cv2.circle(image, at, int(6 * scale), (0, 160, 255), 1, cv2.LINE_AA)
            cv2.putText(image, label.replace("peg_", "").replace("hole_", "h:"),
                        (at[0] + 5, at[1] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.28 * scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
    for position in overlay.people:
        at = pixel(position)
        if at is not None:
            cv2.circle(image, at, int(4 * scale), (255, 40, 40), -1, cv2.LINE_AA)
    if overlay.safety is not None:
        cv2.rectangle(image, (0, 0), (w - 1, h - 1), SAFETY_COLOURS[overlay.safety],
                      max(2, int(3 * scale)))
    cv2.rectangle(image, (0, 0), (w, int(14 * scale)), (0, 0, 0), -1)
    cv2.putText(image, f"t={t:5.1f} s  {overlay.skill}  {overlay.safety_text}",
                (3, int(10 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.3 * scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return image


def write_gif(images: list[np.ndarray], path: Path, fps: float) -> None:
    pil = [PilImage.fromarray(i) for i in images]
    pil[0].save(path, save_all=True, append_images=pil[1:], duration=int(1000 / fps), loop=0,
                optimize=True)


def write_mp4(images: list[np.ndarray], path: Path, fps: float) -> None:
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write MP4 to {path}")
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()


def write_strip(images: list[np.ndarray], path: Path, columns: int = 4) -> None:
    """The frames tiled in rows of `columns` (a README picture)."""
    h, w = images[0].shape[:2]
    rows = (len(images) + columns - 1) // columns
    sheet = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = image
    PilImage.fromarray(sheet).save(path)
