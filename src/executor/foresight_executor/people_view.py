"""People as the safety supervisor sees them: the world model's person keypoints now and
their predicted positions over the next moments. Callbacks store; the supervisor reads. No
rclpy here (messages are read by duck typing)."""

from __future__ import annotations

import math
import threading

import numpy as np

from foresight_common.cell_layout import ScannerSpec
from foresight_common.conversions import msg_to_vector, time_to_sec
from foresight_common.laser import scan_points


class PeopleView:
    """`scanner`: the safety laser scanner's mounting (from the cell layout); its hits count
    as person points (it watches the co-worker's station, where nothing else stands)."""

    def __init__(self, prediction_window_s: float, scanner: ScannerSpec | None = None) -> None:
        self.window = prediction_window_s
        self.scanner = scanner
        self._lock = threading.Lock()
        self._people = None
        self._predictions = None
        self._scan = None

    def on_scan(self, msg) -> None:
        with self._lock:
            self._scan = msg

    def scan_points(self) -> tuple[np.ndarray, float]:
        """World points of the latest safety scan and its stamp (-inf if none)."""
        with self._lock:
            scan = self._scan
        if scan is None or self.scanner is None:
            return np.zeros((0, 3)), -math.inf
        ranges = np.asarray(scan.ranges, dtype=float)
        if len(ranges) != self.scanner.rays:
            return np.zeros((0, 3)), -math.inf
        ranges[~np.isfinite(ranges) | (ranges < scan.range_min)] = np.inf
        return scan_points(ranges, self.scanner), time_to_sec(scan.header.stamp)

    def on_people(self, msg) -> None:
        with self._lock:
            self._people = msg

    def on_predictions(self, msg) -> None:
        with self._lock:
            self._predictions = msg

    def current(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float,
                               dict[str, float]]:
        """(keypoint -> position, keypoint -> predicted positions within the window,
        stamp of the person tracks (-inf if none yet), keypoint -> when it was last
        measured (a hand hidden by the arm is older than the tracks' stamp))."""
        with self._lock:
            people, predictions = self._people, self._predictions
        if people is None:
            return {}, {}, -math.inf, {}
        points: dict[str, np.ndarray] = {}
        measured: dict[str, float] = {}
        stamp = time_to_sec(people.header.stamp)
        for person in people.people:
            stamps = list(getattr(person, "keypoint_stamps", []))
            if len(stamps) != len(person.keypoint_names):
                stamps = [None] * len(person.keypoint_names)
            for name, point, seen in zip(person.keypoint_names, person.keypoints, stamps,
                                         strict=False):
                position = msg_to_vector(point)
                if np.all(np.isfinite(position)):
                    key = f"{person.id}/{name}"
                    points[key] = position
                    measured[key] = stamp if seen is None else min(time_to_sec(seen), stamp)
        predicted: dict[str, np.ndarray] = {}
        if predictions is not None and self.window > 0:
            for prediction in predictions.predictions:
                key = f"{prediction.track_id}/{prediction.keypoint}"
                if not prediction.keypoint or key not in points:
                    continue
                ahead = [msg_to_vector(p) for h, p in zip(prediction.horizons_s,
                                                          prediction.positions, strict=False)
                         if h <= self.window]
                ahead = [p for p in ahead if np.all(np.isfinite(p))]
                if ahead:
                    predicted[key] = np.array(ahead)
        return points, predicted, stamp, measured
