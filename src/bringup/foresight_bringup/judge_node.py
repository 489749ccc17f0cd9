"""ROS side of the episode judge: subscribes to the simulation's ground truth and the
planner's task events and feeds the plain `EpisodeJudge`. Runs inside the runner process
(an offline tool, allowed to read ground truth), never as part of the online stack.

Subscribes: /sim/ground_truth/{objects,safety,status,frames}, task_events,
            perception/detections, executor/command_events, executor/safety_state (what the
            supervisor believed at each violation: a diagnostic, not part of the verdict),
            world_model/{objects,people,predictions} (prediction accuracy against ground
            truth)
"""

from __future__ import annotations

import numpy as np
from rclpy.context import Context
from rclpy.node import Node

from foresight_bringup.home_judge import HomeJudge, ObjectSample
from foresight_bringup.judge import EpisodeJudge
from foresight_bringup.prediction_score import TrackedPoint
from foresight_common import contract
from foresight_common.conversions import msg_to_vector, time_to_sec
from foresight_interfaces.msg import (
    CommandEvent,
    DetectionArray,
    FrameTiming,
    GroundTruthObjectArray,
    GroundTruthSafety,
    ObjectTrackArray,
    PersonTrackArray,
    SafetyState,
    SimulationStatus,
    TaskEvent,
    TrackPredictionArray,
)

# Seconds of simulated time the judge waits after the stack says it is finished, so a part
# released in the last step has settled before the verdict.
SETTLE_AFTER_FINISH_S = 1.0


class JudgeNode(Node):
    def __init__(self, judge: EpisodeJudge | HomeJudge, context: Context | None = None) -> None:
        super().__init__("episode_judge", context=context)
        self.judge = judge
        self.finished_at: float | None = None
        self.events: list[dict] = []
        self.create_subscription(GroundTruthObjectArray, contract.GT_OBJECTS.name,
                                 self.on_objects, contract.GT_OBJECTS.qos)
        self.create_subscription(GroundTruthSafety, contract.GT_SAFETY.name, self.on_safety,
                                 contract.GT_SAFETY.qos)
        self.create_subscription(SimulationStatus, contract.GT_STATUS.name, self.on_status,
                                 contract.GT_STATUS.qos)
        self.create_subscription(TaskEvent, contract.TASK_EVENTS.name, self.on_task_event,
                                 contract.TASK_EVENTS.qos)
        self.create_subscription(FrameTiming, contract.GT_FRAMES.name, self.on_frame,
                                 contract.GT_FRAMES.qos)
        self.create_subscription(CommandEvent, contract.COMMAND_EVENTS.name, self.on_command,
                                 contract.COMMAND_EVENTS.qos)
        self.create_subscription(DetectionArray, contract.DETECTIONS.name, self.on_detections,
                                 contract.DETECTIONS.qos)
        self.create_subscription(SafetyState, contract.SAFETY_STATE.name, self.on_supervisor,
                                 contract.SAFETY_STATE.qos)
        self.create_subscription(ObjectTrackArray, contract.OBJECT_TRACKS.name,
                                 self.on_object_tracks, contract.OBJECT_TRACKS.qos)
        self.create_subscription(PersonTrackArray, contract.PERSON_TRACKS.name,
                                 self.on_person_tracks, contract.PERSON_TRACKS.qos)
        self.create_subscription(TrackPredictionArray, contract.PREDICTIONS.name,
                                 self.on_predictions, contract.PREDICTIONS.qos)
        # the world model's tracks by stamp: (track id, keypoint) -> (label, pos, velocity);
        # which of the two track topics have come for a stamp; predictions whose tracks
        # have not all come yet (the topics may arrive in any order)
        self._tracks_at: dict[float, dict[tuple[int, str], tuple]] = {}
        self._kinds_at: dict[float, set[str]] = {}
        self._deferred: dict[float, TrackPredictionArray] = {}

    def on_objects(self, msg: GroundTruthObjectArray) -> None:
        self.judge.prediction.on_truth(time_to_sec(msg.header.stamp), {
            o.name: (o.kind, o.type, o.status, msg_to_vector(o.pose.position), o.visible)
            for o in msg.objects if o.kind in ("part", "person")})
        if isinstance(self.judge, HomeJudge):
            self.judge.on_objects(time_to_sec(msg.header.stamp), {
                o.name: ObjectSample(o.status, tuple(msg_to_vector(o.pose.position)),
                                     (o.pose.orientation.w, o.pose.orientation.x,
                                      o.pose.orientation.y, o.pose.orientation.z))
                for o in msg.objects})
            return
        parts = [o for o in msg.objects if o.kind == "part"]
        self.judge.on_parts(time_to_sec(msg.header.stamp), {o.name: o.status for o in parts})
        self.judge.on_static_parts({
            o.name: (o.type, (o.pose.position.x, o.pose.position.y, o.pose.position.z))
            for o in parts if o.visible and o.status == "in_tray"})

    def on_safety(self, msg: GroundTruthSafety) -> None:
        self.judge.on_safety(time_to_sec(msg.header.stamp), msg.min_separation_m,
                             list(msg.robot_contacts), msg.robot_speed_mps,
                             msg.closest_person_part)

    def on_supervisor(self, msg: SafetyState) -> None:
        self.judge.on_supervisor(time_to_sec(msg.header.stamp), msg.state, msg.separation_m,
                                 msg.robot_speed_mps, msg.reason)

    def on_frame(self, msg: FrameTiming) -> None:
        self.judge.on_frame(time_to_sec(msg.header.stamp), msg.wall_time_s)

    def on_command(self, msg: CommandEvent) -> None:
        self.judge.on_command(time_to_sec(msg.source_stamp), msg.wall_time_s, msg.skill)

    def on_detections(self, msg: DetectionArray) -> None:
        self.judge.on_detections([(d.label, (d.pose.position.x, d.pose.position.y,
                                             d.pose.position.z)) for d in msg.detections])

    def _tracks(self, stamp: float, kind: str) -> dict[tuple[int, str], tuple]:
        key = round(stamp, 6)
        while len(self._tracks_at) > 30:  # a few frames back is all a prediction needs
            oldest = min(self._tracks_at)
            del self._tracks_at[oldest]
            self._kinds_at.pop(oldest, None)
        self._kinds_at.setdefault(key, set()).add(kind)
        return self._tracks_at.setdefault(key, {})

    def on_object_tracks(self, msg: ObjectTrackArray) -> None:
        stamp = time_to_sec(msg.header.stamp)
        tracks = self._tracks(stamp, "objects")
        for t in msg.tracks:
            tracks[(t.id, "")] = (t.label, msg_to_vector(t.pose.position),
                                  msg_to_vector(t.velocity))
        self._flush(stamp)

    def on_person_tracks(self, msg: PersonTrackArray) -> None:
        stamp = time_to_sec(msg.header.stamp)
        tracks = self._tracks(stamp, "people")
        for person in msg.people:
            velocities = list(person.keypoint_velocities)
            for k, (name, position) in enumerate(zip(person.keypoint_names, person.keypoints,
                                                     strict=True)):
                velocity = msg_to_vector(velocities[k]) if k < len(velocities) else np.zeros(3)
                tracks[(person.id, name)] = (name, msg_to_vector(position), velocity)
        self._flush(stamp)

    def on_predictions(self, msg: TrackPredictionArray) -> None:
        self._deferred[round(time_to_sec(msg.header.stamp), 6)] = msg
        self._flush(time_to_sec(msg.header.stamp))

    def _flush(self, stamp: float) -> None:
        """Score the deferred predictions whose tracks have all come (or never will: a
        newer stamp's tracks are here)."""
        key = round(stamp, 6)
        for when in sorted(self._deferred):
            complete = self._kinds_at.get(when, set()) >= {"objects", "people"}
            if not complete and when >= key:
                continue
            self._score(self._deferred.pop(when))

    def _score(self, msg: TrackPredictionArray) -> None:
        stamp = time_to_sec(msg.header.stamp)
        tracks = self._tracks_at.get(round(stamp, 6), {})
        points = []
        for p in msg.predictions:
            track = tracks.get((p.track_id, p.keypoint))
            if track is None or len(p.covariances) != 9 * len(p.positions):
                continue
            label, position, velocity = track
            points.append(TrackedPoint(
                label, position, velocity, tuple(p.horizons_s),
                np.array([msg_to_vector(q) for q in p.positions]),
                np.asarray(p.covariances, dtype=float).reshape(-1, 3, 3)))
        self.judge.prediction.on_predictions(stamp, points)

    def on_status(self, msg: SimulationStatus) -> None:
        self.judge.on_status({
            "seed": msg.seed, "family": msg.family, "split": msg.split,
            "sim_time_s": msg.sim_time_s, "rtf_achieved": round(msg.rtf_achieved, 3),
            "camera_width": msg.camera_width, "camera_height": msg.camera_height,
            "camera_rate_hz": msg.camera_rate_hz})

    def on_task_event(self, msg: TaskEvent) -> None:
        self.events.append({"t": round(time_to_sec(msg.header.stamp), 3), "step": msg.step,
                            "skill": msg.skill, "object": msg.object_id,
                            "place": msg.place_id, "state": msg.state,
                            "outcome": msg.outcome.value, "reason": msg.reason})
        if msg.state == "finished" and self.finished_at is None:
            self.finished_at = time_to_sec(msg.header.stamp)
            self.finished_reason = msg.reason

    def episode_over(self) -> bool:
        if self.finished_at is not None and \
                self.judge.sim_time_s >= self.finished_at + SETTLE_AFTER_FINISH_S:
            self.judge.on_task_finished(self.finished_reason)
        return self.judge.done()
