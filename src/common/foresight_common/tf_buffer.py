"""A small TF buffer (tf2_ros is not installable here): time-stamped transforms between named
frames, looked up at a given time with interpolation, chained through the frame tree.

Static transforms hold for all times. Dynamic ones are kept for `cache_s` seconds; a lookup
between two samples interpolates (linear position, slerp rotation); outside the cached span
it raises `LookupError` with the reason (too old, in the future, unknown frame, no path), so
perception never uses a camera pose from the wrong moment silently.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation, Slerp


class TransformLookupError(LookupError):
    """A transform is not available at the requested time; the message says why."""


@dataclass
class _Series:
    parent: str
    static: bool = False
    times: list[float] = field(default_factory=list)
    matrices: list[np.ndarray] = field(default_factory=list)


class TransformBuffer:
    def __init__(self, cache_s: float = 10.0, tolerance_s: float = 0.05) -> None:
        self.cache_s = cache_s
        self.tolerance_s = tolerance_s  # allowed extrapolation past the newest sample
        self._series: dict[str, _Series] = {}  # keyed by child frame (a tree: one parent)

    def set_transform(self, parent: str, child: str, stamp_s: float, matrix: np.ndarray,
                      static: bool = False) -> None:
        if parent == child:
            raise ValueError(f"frame '{child}' cannot be its own parent")
        series = self._series.get(child)
        if series is None or series.parent != parent or series.static != static:
            series = _Series(parent=parent, static=static)
            self._series[child] = series
        if static:
            series.times, series.matrices = [0.0], [matrix.copy()]
            return
        index = bisect.bisect_right(series.times, stamp_s)
        if index > 0 and series.times[index - 1] == stamp_s:
            series.matrices[index - 1] = matrix.copy()
            return
        series.times.insert(index, stamp_s)
        series.matrices.insert(index, matrix.copy())
        horizon = series.times[-1] - self.cache_s
        while len(series.times) > 2 and series.times[0] < horizon:
            series.times.pop(0)
            series.matrices.pop(0)

    def frames(self) -> set[str]:
        names = set(self._series)
        names.update(s.parent for s in self._series.values())
        return names

    def _edge(self, child: str, stamp_s: float) -> np.ndarray:
        series = self._series[child]
        if series.static:
            return series.matrices[0]
        times = series.times
        if stamp_s <= times[0]:
            if times[0] - stamp_s > 1e-9:
                raise TransformLookupError(
                    f"{series.parent}->{child} at {stamp_s:.3f} s is older than the cache "
                    f"(oldest {times[0]:.3f} s)")
            return series.matrices[0]
        if stamp_s >= times[-1]:
            if stamp_s - times[-1] > self.tolerance_s:
                raise TransformLookupError(
                    f"{series.parent}->{child} at {stamp_s:.3f} s is in the future "
                    f"(newest {times[-1]:.3f} s)")
            return series.matrices[-1]
        index = bisect.bisect_right(times, stamp_s)
        t0, t1 = times[index - 1], times[index]
        m0, m1 = series.matrices[index - 1], series.matrices[index]
        alpha = (stamp_s - t0) / (t1 - t0)
        result = np.eye(4)
        result[:3, 3] = (1 - alpha) * m0[:3, 3] + alpha * m1[:3, 3]
        slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([m0[:3, :3], m1[:3, :3]])))
        result[:3, :3] = slerp([alpha]).as_matrix()[0]
        return result

    def _path_to_root(self, frame: str) -> list[str]:
        path = [frame]
        while path[-1] in self._series:
            path.append(self._series[path[-1]].parent)
            if len(path) > 64:
                raise TransformLookupError(f"frame tree has a loop at '{frame}'")
        return path

    def lookup(self, target: str, source: str, stamp_s: float) -> np.ndarray:
        """4x4 transform that maps points in `source` to `target` at time `stamp_s`."""
        for name in (target, source):
            if name not in self.frames():
                raise TransformLookupError(f"unknown frame '{name}'")
        up_source = self._path_to_root(source)
        up_target = self._path_to_root(target)
        common = next((f for f in up_source if f in up_target), None)
        if common is None:
            raise TransformLookupError(f"no path between '{target}' and '{source}'")
        root_from_source = np.eye(4)
        for child in up_source[:up_source.index(common)]:
            root_from_source = self._edge(child, stamp_s) @ root_from_source
        root_from_target = np.eye(4)
        for child in up_target[:up_target.index(common)]:
            root_from_target = self._edge(child, stamp_s) @ root_from_target
        return np.linalg.inv(root_from_target) @ root_from_source
