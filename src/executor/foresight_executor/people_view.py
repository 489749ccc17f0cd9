"""People as the safety supervisor sees them: the world model's person keypoints now and
their predicted positions over the next moments, and what a safety laser scanner adds (the
cell's bench scanner, or the legs the mobile base's scanner finds where the camera does not
look). Callbacks store; the supervisor reads. No rclpy here (messages are read by duck
typing)."""

from __future__ import annotations

import math
import threading

import numpy as np

from foresight_common.cell_layout import ScannerSpec
from foresight_common.conversions import msg_to_vector, time_to_sec
from foresight_common.laser import scan_points, scan_ranges, scan_xy
from foresight_common.occupancy import OccupancyMap
from foresight_common.scan_people import ScanPeople, ScanPeopleConfig, unexplained
from foresight_executor.safety import LEGS_PREFIX

#: Heights (m) of the points standing in for a person found by their legs: their body from
#: the knees to the shoulders (the robot's points are compared with each).
LEGS_HEIGHTS = (0.3, 0.8, 1.3)
#: A person the camera tracks (torso within this, m, of the legs) needs no scanner stand-in.
EXPLAINED_M = 0.6


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
        ranges = scan_ranges(scan, self.scanner) if scan is not None and \
            self.scanner is not None else None
        if ranges is None:
            return np.zeros((0, 3)), -math.inf
        return scan_points(ranges, self.scanner), time_to_sec(scan.header.stamp)

    def latest_scan(self):
        """The latest scan message (None before the first)."""
        with self._lock:
            return self._scan

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


#: A camera person point last measured longer than this before the newest image (one the
#: arm hides: the world model keeps it where it was) is left to the base scanner (s): more
#: than the world model lets an unseen, unhidden keypoint go unmeasured (3 frames at 15 Hz).
HIDDEN_AFTER_S = 0.3


def measured_lately(people: dict[str, np.ndarray], predicted: dict[str, np.ndarray],
                    measured: dict[str, float], stamp: float,
                    max_gap_s: float = HIDDEN_AFTER_S
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """The camera's person points measured within `max_gap_s` of the tracks' `stamp`. On a
    mobile base, a person the arm hides from the head camera is the base scanner's: their
    legs, measured now, stand for them as for anyone the camera does not see, instead of a
    region grown by the age of a point seconds old (which stops a pick at a table where
    someone sits for as long as the arm hides them)."""
    keep = {name for name, seen in measured.items() if stamp - seen <= max_gap_s}
    return ({n: p for n, p in people.items() if n in keep},
            {n: p for n, p in predicted.items() if n in keep},
            {n: t for n, t in measured.items() if n in keep})


def receiving_now(measured: dict[str, float], now: float) -> dict[str, float]:
    """During a hand-over (the offer and the release, at collaborative speed) the camera's
    person keypoints count as measured now: the receiver's hand comes to the object on
    purpose and their body waits where it is, so the allowance for how far they could have
    moved since the image (0.4-0.6 s of tracks' age at 2 m/s: a metre) would keep the arm
    out of their reach and the offer from ever arriving (measured: 90 s timeouts). What
    the base scanner found keeps its age."""
    return {name: (stamp if name.startswith(LEGS_PREFIX) else now)
            for name, stamp in measured.items()}


def tracked_hands(people: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The camera-tracked hand keypoints ("<id>/left_hand", "<id>/right_hand") with a
    finite position; never a point of the base scan's leg columns."""
    return {name: np.asarray(point) for name, point in people.items()
            if name.endswith("_hand") and "/" in name and
            not name.startswith(LEGS_PREFIX) and np.all(np.isfinite(point))}


#: A hand at least this much nearer the held object than its own torso (m) reaches out
#: for it: one hanging at the side of someone facing the arm is at most ~0.2 m nearer.
REACHING_AHEAD_M = 0.3


def taking_hands(people: dict[str, np.ndarray], held_at: np.ndarray | None,
                 within_m: float, reaching_m: float = 0.0) -> set[str]:
    """The tracked hand keypoints ("<id>/left_hand", "<id>/right_hand") within `within_m`
    of the held object at `held_at` (map) during a hand-over, or within `reaching_m` and
    reaching out for it (REACHING_AHEAD_M nearer it than the same person's torso): the
    receiver's hand, which comes to the object on purpose and which power and force
    limiting, not speed and separation monitoring, governs (ISO/TS 15066's hand-over).
    Kept out, the arm held 0.13 m short of the reaching hand until every goal's timeout
    while the hand, at the end of its reach, could not close the gap (home_train cup seed
    0 at b0176d8; seed 3 at bbecb06: both hands 0.35-0.43 m from the cup, the torso
    0.87 m, for 45 s)."""
    if held_at is None or (within_m <= 0.0 and reaching_m <= 0.0):
        return set()

    def distance(point: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(point) - held_at))

    taking = set()
    for name, point in tracked_hands(people).items():
        gap = distance(point)
        torso = people.get(name.rsplit("/", 1)[0] + "/torso")
        reaching = (gap <= reaching_m and torso is not None and
                    np.all(np.isfinite(torso)) and distance(torso) - gap >= REACHING_AHEAD_M)
        if gap <= within_m or reaching:
            taking.add(name)
    return taking


def any_hand_within(people: dict[str, np.ndarray], point: np.ndarray, radius: float,
                    unseen_counts: bool = True) -> bool:
    """Whether a tracked hand keypoint lies within `radius` of `point`, or
    (`unseen_counts`) no hand is tracked at all (then nothing tells a receiver's pull from
    a push)."""
    hands = tracked_hands(people).values()
    return (unseen_counts and not hands) or \
        any(float(np.linalg.norm(h - point)) <= radius for h in hands)


class BaseScanPeople:
    """People the mobile base's scanner finds by their legs (foresight_common.scan_people),
    in the map frame, as person points for the supervisor: a column of points over their
    legs for everyone the camera does not track."""

    def __init__(self, known: OccupancyMap, spec: ScannerSpec,
                 config: ScanPeopleConfig = ScanPeopleConfig()) -> None:
        self.spec = spec
        self.finder = ScanPeople(known, config)
        self.stamp = -math.inf           # of the last scan folded in
        self.found = []

    def update(self, scan, base_pose: tuple[float, float, float] | None) -> float:
        """Fold in `scan` (a LaserScan, base frame) if it is new, taken at `base_pose`
        (map); returns the stamp of the newest scan folded in (-inf if none)."""
        if scan is None or base_pose is None:
            return self.stamp
        stamp = time_to_sec(scan.header.stamp)
        ranges = scan_ranges(scan, self.spec)
        if stamp <= self.stamp or ranges is None:
            return self.stamp
        self.found = self.finder.update(stamp, scan_xy(ranges, self.spec, base_pose))
        self.stamp = stamp
        return stamp

    def points(self, tracked: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """"legs/<i>/<k>" -> point for each found person no tracked torso explains."""
        torsos = [p for key, p in tracked.items() if key.endswith("/torso")]
        out: dict[str, np.ndarray] = {}
        for i, person in enumerate(unexplained(self.found, torsos, EXPLAINED_M)):
            for k, z in enumerate(LEGS_HEIGHTS):
                out[f"{LEGS_PREFIX}{i}/{k}"] = np.array([person.xy[0], person.xy[1], z])
        return out
