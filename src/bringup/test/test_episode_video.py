"""Episode pictures: overlays land where the camera sees the tracked point; GIF, MP4 and
strip files are written."""

from __future__ import annotations

import numpy as np
from PIL import Image as PilImage

from foresight_bringup.episode_video import Overlay, draw, write_gif, write_mp4, write_strip

K = np.array([[100.0, 0.0, 79.5], [0.0, 100.0, 59.5], [0.0, 0.0, 1.0]])


def camera_looking_down(height: float) -> np.ndarray:
    """camera_from_world of an optical frame 'height' above the origin looking down."""
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = np.diag([1.0, -1.0, -1.0])   # z down, y flipped
    world_from_camera[:3, 3] = (0.0, 0.0, height)
    return np.linalg.inv(world_from_camera)


def circled(patch: np.ndarray) -> np.ndarray:
    """Pixels drawn in the track colour (orange-blue (0, 160, 255) over grey 128)."""
    return (patch[..., 2] > 160) & (patch[..., 0] < 100)


def test_a_track_is_circled_where_the_camera_sees_it_and_the_state_frames_the_image():
    image = np.full((120, 160, 3), 128, dtype=np.uint8)
    overlay = Overlay(objects=[("peg_round", np.array([0.1, 0.0, 0.0]))], skill="pick a",
                      safety=2, safety_text="STOP 0.00 m/s")
    out = draw(image, overlay, 12.3, K, camera_looking_down(1.0))
    # (0.1, 0, 0) seen from 1 m: u = 79.5 + 100 * 0.1 = 89.5, v = 59.5; a circle of radius
    # 3 (anti-aliased) around it, nothing of its colour far from it
    assert np.any(circled(out[54:66, 84:96]))
    assert not np.any(circled(out[20:50, 10:70]))
    assert tuple(out[119, 80]) == (230, 30, 30)          # red frame: stopped
    assert np.all(out[3, 100:150] == 0)                   # the text band
    behind = draw(np.full((120, 160, 3), 128, np.uint8), Overlay(
        objects=[("peg_round", np.array([0.1, 0.0, 2.0]))]), 0.0, K, camera_looking_down(1.0))
    assert not np.any(circled(behind[20:110, 10:150]))


def test_gif_mp4_and_strip_are_written(tmp_path):
    images = [np.full((40, 60, 3), v, dtype=np.uint8) for v in (0, 80, 160, 240)]
    write_gif(images, tmp_path / "a.gif", fps=5)
    assert PilImage.open(tmp_path / "a.gif").n_frames == 4
    write_mp4(images, tmp_path / "a.mp4", fps=5)
    assert (tmp_path / "a.mp4").stat().st_size > 0
    write_strip(images, tmp_path / "a.png", columns=2)
    assert PilImage.open(tmp_path / "a.png").size == (120, 80)
