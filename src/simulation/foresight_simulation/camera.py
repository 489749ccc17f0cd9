"""RGB-D rendering of a MuJoCo camera as a real RGB-D driver would publish it: rgb8 colour,
32FC1 z-depth in metres with NaN where nothing was measured (REP 118), a pinhole model whose
intrinsics match the rendering, and the optical frame convention of REP 103 (z forward,
x right, y down; MuJoCo cameras look down -z with y up). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

# MuJoCo camera frame -> optical frame: rotate 180 degrees about x.
CAMERA_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float


def intrinsics_for(fovy_deg: float, width: int, height: int) -> Intrinsics:
    """Pinhole intrinsics of MuJoCo's perspective projection (square pixels, centred).

    MuJoCo maps the vertical field of view onto the image height; pixel centres sit at
    integer coordinates in the ROS/OpenCV convention, so the principal point is at
    ((w - 1) / 2, (h - 1) / 2).
    """
    fy = (height / 2.0) / math.tan(math.radians(fovy_deg) / 2.0)
    return Intrinsics(width, height, fy, fy, (width - 1) / 2.0, (height - 1) / 2.0)


class RgbdCamera:
    """Renders one named camera of a model; create and use it in a single thread (GL)."""

    def __init__(self, model: mujoco.MjModel, camera: str, width: int, height: int) -> None:
        self.model = model
        self.camera_id = model.camera(camera).id
        self.camera = camera
        self.renderer = mujoco.Renderer(model, height=height, width=width)
        self.intrinsics = intrinsics_for(float(model.cam_fovy[self.camera_id]), width, height)
        self._far = float(model.vis.map.zfar * model.stat.extent)

    def render(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """(rgb uint8 HxWx3, depth float32 HxW metres with NaN for no return)."""
        renderer = self.renderer
        renderer.update_scene(data, camera=self.camera_id)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        renderer.disable_depth_rendering()
        rgb = renderer.render().copy()
        renderer.enable_depth_rendering()
        depth = renderer.render().astype(np.float32)
        renderer.disable_depth_rendering()
        depth[depth >= self._far * 0.999] = np.nan
        return rgb, depth

    def optical_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation matrix of the optical frame."""
        rotation = data.cam_xmat[self.camera_id].reshape(3, 3) @ CAMERA_TO_OPTICAL
        return data.cam_xpos[self.camera_id].copy(), rotation

    def close(self) -> None:
        self.renderer.close()
