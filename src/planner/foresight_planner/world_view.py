"""The planner's view of the world: the latest tracks, people and predictions from the world
model, turned into plain snapshots for the decision code. Callbacks store; the task decides.
No rclpy here (messages are read by duck typing)."""

from __future__ import annotations

import math
import threading

import numpy as np

from foresight_common.conversions import msg_to_vector, time_to_sec
from foresight_planner.decisions import (
    SEATED_Z_TOLERANCE_M,
    PredictedPath,
    TrackedObject,
    WorldSnapshot,
)

#: A torso prediction belongs to the last torso seen when stamped this near it (s).
PREDICTION_MATCH_S = 0.5


def yaw_of(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class WorldView:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects = None
        self._people = None
        self._predictions = None
        self._last_torso: tuple[float, np.ndarray] | None = None
        self._last_torso_path: tuple[float, np.ndarray, np.ndarray] | None = None

    def on_objects(self, msg) -> None:
        with self._lock:
            self._objects = msg

    def on_people(self, msg) -> None:
        torso = next((msg_to_vector(point) for person in msg.people
                      for name, point in zip(person.keypoint_names, person.keypoints,
                                             strict=False) if name == "torso"), None)
        with self._lock:
            self._people = msg
            if torso is not None and np.all(np.isfinite(torso)):
                self._last_torso = (time_to_sec(msg.header.stamp), torso)

    def on_predictions(self, msg) -> None:
        torso = next((p for p in msg.predictions if p.keypoint == "torso" and p.positions
                      and len(p.positions) == len(p.horizons_s)), None)
        with self._lock:
            self._predictions = msg
            if torso is not None:
                self._last_torso_path = (time_to_sec(torso.header.stamp),
                                         np.array(torso.horizons_s, dtype=float),
                                         np.array([msg_to_vector(q) for q in torso.positions]))

    def last_person(self, ahead_s: float) -> tuple[float, np.ndarray] | None:
        """Where a person was last seen heading: the stamp of the last torso the world
        model tracked and where it was predicted `ahead_s` later (by the prediction made
        from that frame; where it was without one). None if nobody was ever seen. The
        planner looks there first for a person who left the camera's view."""
        with self._lock:
            last, path = self._last_torso, self._last_torso_path
        if last is None:
            return None
        stamp, torso = last
        if path is None or abs(path[0] - stamp) > PREDICTION_MATCH_S:
            return stamp, torso
        predicted = PredictedPath(stamp + np.concatenate([[0.0], path[1]]),
                                  np.vstack([torso, path[2]]))
        return stamp, predicted.at(min(stamp + ahead_s, float(predicted.times[-1])))

    def snapshot(self, now: float, max_age_s: float) -> WorldSnapshot | None:
        """The newest tracks as a snapshot; None if there are none or they are too old."""
        with self._lock:
            objects, people, predictions = self._objects, self._people, self._predictions
        if objects is None:
            return None
        stamp = time_to_sec(objects.header.stamp)
        if now - stamp > max_age_s:
            return None
        world = WorldSnapshot(stamp=stamp)
        for track in objects.tracks:
            position = msg_to_vector(track.pose.position)
            if not np.all(np.isfinite(position)):
                continue
            world.objects.append(TrackedObject(
                id=int(track.id), label=track.label, motion=int(track.motion_class),
                position=position, yaw=yaw_of(track.pose.orientation),
                velocity=msg_to_vector(track.velocity),
                age_s=stamp - time_to_sec(track.first_seen),
                size=msg_to_vector(track.size), missed=int(track.missed_updates)))
        if people is not None and now - time_to_sec(people.header.stamp) <= max_age_s:
            for person in people.people:
                for name, point in zip(person.keypoint_names, person.keypoints, strict=False):
                    world.people[f"{person.id}/{name}"] = msg_to_vector(point)
        if predictions is not None:
            for prediction in predictions.predictions:
                base = time_to_sec(prediction.header.stamp)
                times = np.array([base] + [base + h for h in prediction.horizons_s])
                if len(prediction.positions) != len(prediction.horizons_s):
                    continue
                points = [msg_to_vector(p) for p in prediction.positions]
                if prediction.keypoint:
                    key = f"{prediction.track_id}/{prediction.keypoint}"
                    start = world.people.get(key)
                    if start is None:
                        continue
                    world.people_paths[key] = PredictedPath(times, np.array([start, *points]))
                else:
                    start = next((o.position for o in world.objects
                                  if o.id == prediction.track_id), None)
                    if start is None:
                        continue
                    world.object_paths[int(prediction.track_id)] = PredictedPath(
                        times, np.array([start, *points]))
        return world

    def part_near(self, hole_top: np.ndarray, part_height: float, hole_depth: float,
                  tolerance: float = 0.012) -> bool:
        """Perception's verdict on an insert: some part is centred on the hole and sunk in."""
        with self._lock:
            objects = self._objects
        if objects is None:
            return False
        seated_centre = hole_top[2] - hole_depth + part_height / 2
        for track in objects.tracks:
            position = msg_to_vector(track.pose.position)
            if np.linalg.norm(position[:2] - hole_top[:2]) < tolerance and \
                    position[2] < seated_centre + SEATED_Z_TOLERANCE_M:
                return True
        return False
