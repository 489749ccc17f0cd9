"""Renders camera frames in a thread of their own, so rendering (tens of ms per RGB-D frame on
a CPU) overlaps with physics instead of stalling it.

The physics loop hands over a snapshot of the simulation state at each frame time; the render
thread draws it, adds the family's sensor noise and passes the images to a sink (the node's
publishers). Frames keep their exact simulated stamps and their order. If rendering falls
behind by more than `max_pending` frames, `submit` blocks: simulated time then slows down
(the achieved real-time factor shows it) instead of frames being dropped. Every pending frame
adds a frame period of latency (an image stamped t reaches perception later), so the queue is
short: one frame waits while the next renders. No rclpy here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import mujoco
import numpy as np

FrameSink = Callable[[float, np.ndarray, np.ndarray], None]


class CameraPipeline:
    def __init__(self, model: mujoco.MjModel, width: int, height: int,
                 render: Callable[[mujoco.Renderer, mujoco.MjData], tuple[np.ndarray,
                                                                          np.ndarray]],
                 sink: FrameSink, max_pending: int = 1) -> None:
        self.model = model
        self.width = width
        self.height = height
        self._render = render
        self._sink = sink
        self._free: queue.Queue[mujoco.MjData] = queue.Queue()
        for _ in range(max_pending + 1):
            self._free.put(mujoco.MjData(model))
        self._pending: queue.Queue[tuple[float, mujoco.MjData] | None] = \
            queue.Queue(maxsize=max_pending)
        self.error: BaseException | None = None
        self.frames = 0
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self._thread.start()

    def submit(self, sim_time: float, data: mujoco.MjData) -> None:
        """Queue a frame of the current state (copied; blocks if rendering is behind)."""
        if self.error is not None:
            raise RuntimeError(f"camera thread failed: {self.error}") from self.error
        snapshot = self._free.get()
        mujoco.mj_copyData(snapshot, self.model, data)
        self._pending.put((sim_time, snapshot))

    def _run(self) -> None:
        try:
            renderer = mujoco.Renderer(self.model, height=self.height, width=self.width)
        except Exception as exc:  # noqa: BLE001 - reported to the physics loop on submit
            self.error = exc
            return
        try:
            while True:
                item = self._pending.get()
                if item is None:
                    return
                stamp, snapshot = item
                try:
                    rgb, depth = self._render(renderer, snapshot)
                finally:
                    self._free.put(snapshot)
                self._sink(stamp, rgb, depth)
                self.frames += 1
        except Exception as exc:  # noqa: BLE001 - reported to the physics loop on submit
            self.error = exc
        finally:
            renderer.close()

    def close(self, timeout: float = 2.0) -> None:
        try:
            self._pending.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout=timeout)
