"""People in a base laser scan: where the head camera cannot look (beside and behind the
base), the base scanner still sees a person's legs. A leg finder in the spirit of ROS's
leg_detector, kept simple: what the scan hits away from the room's known obstacles is
grouped into leg-sized clusters, legs within a stride into one person's centre; a centre
that keeps moving for a moment is a person, who stays one while followed from scan to scan
(someone who walked up and stopped beside the robot is still there, for a while). What
never moved (a chair pushed aside, floor clutter, a seated person's legs) is left to the
camera and the map. No rclpy here: the executor's safety supervisor and navigation use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from foresight_common.occupancy import OccupancyMap


@dataclass(frozen=True)
class ScanPeopleConfig:
    known_margin_m: float = 0.20   # points this near the known room are the room (furniture
    #                                may stand up to ~0.18 m off its mapped place, DESIGN
    #                                section 6's home_train jitter)
    cluster_gap_m: float = 0.15    # neighbouring points farther apart: different things
    max_width_m: float = 0.35      # a cluster wider than two legs side by side is no leg
    pair_m: float = 0.60           # leg clusters this near each other are one person's (a
    #                                stride's length apart at most)
    min_points: int = 2            # a single point is noise
    moving_m: float = 0.05         # a cluster this far from every cluster of the reference
    reference_age_s: float = 0.25  # ... scan (at least this old) moved: >= 0.2 m/s
    follow_m: float = 0.35         # a cluster this near a person's last place is them
    keep_s: float = 1.0            # a person not seen for this long is forgotten ...
    confirm_s: float = 0.4         # moving this long in a row makes a cluster a person
    still_keep_s: float = 20.0     # ... and one who has not moved for this long (a track
    #                                left on clutter a person walked past must end)
    velocity_tau_s: float = 0.4    # s: the walking velocity is the legs' centre's, smoothed
    #                                over about this long (the centre sways with each step)


@dataclass
class ScannedPerson:
    xy: np.ndarray                 # map frame, centre of their legs' cluster (m)
    seen_s: float                  # last scan that saw them
    moved_s: float                 # last scan in which they moved
    since_s: float                 # first scan of the unbroken motion that found them
    confirmed: bool = False        # moved for confirm_s in a row (not a thing that came
    #                                into view: that "moves" only until the reference
    #                                scan has it too)
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))   # m/s, map frame


def clusters(points: np.ndarray, gap: float) -> list[np.ndarray]:
    """Points (n, 2) in scan order split where neighbours are more than `gap` apart (the
    first and last joined when they are near: the scan goes all round)."""
    if not len(points):
        return []
    step = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cuts = np.flatnonzero(step > gap) + 1
    parts = np.split(points, cuts)
    if len(parts) > 1 and float(np.linalg.norm(points[0] - points[-1])) <= gap:
        parts[0] = np.vstack([parts.pop(), parts[0]])
    return parts


class ScanPeople:
    """Feed every scan (map frame) to `update`; it returns the people near the robot."""

    def __init__(self, known: OccupancyMap, config: ScanPeopleConfig = ScanPeopleConfig()
                 ) -> None:
        self.known = known
        self.config = config
        self.people: list[ScannedPerson] = []
        self._history: list[tuple[float, np.ndarray]] = []   # (stamp, cluster centres)

    def candidates(self, points: np.ndarray) -> np.ndarray:
        """Centres (m, 2) of the person-sized clusters of points (n, 2, map frame, scan
        order) that the known room does not explain."""
        c = self.config
        if not len(points):
            return np.zeros((0, 2))
        unknown = points[self.known.clearance_at(points) > c.known_margin_m]
        legs = []
        for part in clusters(unknown, c.cluster_gap_m):
            if len(part) < c.min_points:
                continue
            width = float(np.max(np.linalg.norm(part - part[0], axis=1)))
            if width <= c.max_width_m:
                legs.append(part.mean(axis=0))
        # pair legs: each leg joins the nearest person centre within a stride, else starts one
        # (the centre, not a single leg, moves smoothly while the stance leg stands still)
        groups: list[list[np.ndarray]] = []
        for leg in legs:
            near = [g for g in groups if math.dist(np.mean(g, axis=0), leg) <= c.pair_m]
            if near:
                min(near, key=lambda g: math.dist(np.mean(g, axis=0), leg)).append(leg)
            else:
                groups.append([leg])
        return np.array([np.mean(g, axis=0) for g in groups]).reshape(-1, 2)

    def update(self, stamp: float, points: np.ndarray) -> list[ScannedPerson]:
        """One scan: `points` (n, 2) where its rays hit, map frame, in scan order."""
        c = self.config
        centres = self.candidates(np.asarray(points, dtype=float).reshape(-1, 2))
        reference = self._reference(stamp)
        self._history.append((stamp, centres))
        self._history = [h for h in self._history if stamp - h[0] <= 4 * c.reference_age_s]
        moved = np.zeros(len(centres), dtype=bool)       # nothing to compare with yet
        if reference is not None:
            moved = np.array([not len(reference) or
                              float(np.min(np.linalg.norm(reference - x, axis=1))) > c.moving_m
                              for x in centres], dtype=bool).reshape(-1)
        taken = np.zeros(len(centres), dtype=bool)
        for person in self.people:
            if not len(centres):
                break
            distance = np.linalg.norm(centres - person.xy, axis=1)
            distance[taken] = math.inf
            nearest = int(np.argmin(distance))
            if distance[nearest] > c.follow_m:
                continue
            taken[nearest] = True
            dt = stamp - person.seen_s
            if 0.0 < dt < c.keep_s:
                # exponential smoothing of the step's velocity, weighted by the time it spans
                weight = 1.0 - math.exp(-dt / c.velocity_tau_s)
                person.velocity = person.velocity + weight * (
                    (centres[nearest] - person.xy) / dt - person.velocity)
            person.xy = centres[nearest].copy()
            person.seen_s = stamp
            if moved[nearest]:
                person.moved_s = stamp
                person.confirmed |= stamp - person.since_s >= c.confirm_s
            elif not person.confirmed:
                person.seen_s = -math.inf        # stopped before it was confirmed: drop
        for index in np.flatnonzero(moved & ~taken):
            self.people.append(ScannedPerson(centres[index].copy(), stamp, stamp, stamp))
        self.people = [p for p in self.people
                       if stamp - p.seen_s <= c.keep_s and stamp - p.moved_s <= c.still_keep_s]
        return [p for p in self.people if p.confirmed]

    def _reference(self, stamp: float) -> np.ndarray | None:
        """Cluster centres of the newest scan at least `reference_age_s` old."""
        old = [centres for t, centres in self._history
               if stamp - t >= self.config.reference_age_s]
        return old[-1] if old else None


def unexplained(people: list[ScannedPerson], tracked_xy: list[np.ndarray],
                radius: float) -> list[ScannedPerson]:
    """The scanned people no camera-tracked person (torso xy) stands within `radius` of."""
    return [p for p in people
            if all(math.dist(p.xy, t[:2]) > radius for t in tracked_xy)]
