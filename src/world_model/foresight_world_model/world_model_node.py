"""World model node (v1): tracks what perception sees, predicts where it will be, scores
its own past predictions.

Thin ROS wrapper around the pure modules: `tracker` (multi-object and person tracking with
occlusion by the arm), `prediction` (a motion model per class behind one interface) and
`scoring` (self-scoring). Callbacks validate and queue; a timer runs the tracker over the
queued frames in stamp order, publishes tracks and predictions stamped with the source
image's stamp, and keeps the self-scores; slower timers draw markers and put the scores on
/diagnostics.

Subscribes: perception/detections (foresight_interfaces/DetectionArray),
            joint_states (sensor_msgs/JointState) -- the arm's pose at each image stamp, for
            occlusion and for parts held by the gripper,
            /tf, /tf_static (tf2_msgs/TFMessage; with `arm_base_frame` or `camera_frame`) --
            where a moving robot's arm base and camera were at each image stamp
Publishes:  world_model/objects (foresight_interfaces/ObjectTrackArray),
            world_model/people (foresight_interfaces/PersonTrackArray),
            world_model/predictions (foresight_interfaces/TrackPredictionArray: one per object
            track and per person keypoint),
            world_model/markers (visualization_msgs/MarkerArray),
            /diagnostics (rejections, tracker cost, `score.<class>.<horizon>.<metric>`)
Parameters: see WorldModelParams (all have defaults; the cell's launch file gives
`cell_file`; the home robot runs without one, its arm and head camera placed by TF)
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from foresight_common import contract
from foresight_common.cell_layout import CellLayout, load_cell_layout
from foresight_common.conversions import (
    matrix_to_quat_wxyz,
    msg_to_vector,
    point_to_msg,
    quat_wxyz_to_msg,
    sec_to_time,
    store_tf_message,
    time_to_sec,
    vector_to_msg,
    yaw_to_quat_wxyz,
)
from foresight_common.node_support import (
    DiagnosticsReporter,
    create_publisher,
    create_subscription,
    declare_parameters,
    load_file_parameter,
    run_node,
)
from foresight_common.params import ParameterError, param
from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS, RobotKinematics
from foresight_common.tf_buffer import TransformBuffer, TransformLookupError
from foresight_interfaces.msg import (
    DetectionArray,
    ObjectTrack,
    ObjectTrackArray,
    PersonTrack,
    PersonTrackArray,
    TrackPrediction,
    TrackPredictionArray,
)
from foresight_world_model.prediction import (
    DEFAULT_HORIZONS,
    PredictionConfig,
    baseline_model,
    default_models,
)
from foresight_world_model.scoring import PredictionScorer
from foresight_world_model.tracker import (
    CHI2_3DOF_95,
    PERSON_LABEL,
    ArmGeometry,
    ArmState,
    DetectionFrame,
    InvalidInput,
    MotionClass,
    MultiObjectTracker,
    ObjectDetection,
    PersonObservation,
    SceneGeometry,
    StampGate,
    TrackerConfig,
    TrackEstimate,
    UpdateResult,
    check_detection,
    check_person,
)

JOINT_NAMES = ARM_JOINTS + FINGER_JOINTS
#: Finite-difference interval (s) of the TCP velocity from buffered joint states.
TCP_VELOCITY_DT = 0.04


@dataclass(frozen=True)
class WorldModelParams:
    cell_file: str = field(default="", metadata=param(
        "Cell layout YAML: part types, the belt, the camera and the arm's base. Empty: a "
        "scene without them (the home robot: labels from `labels`; its arm and camera "
        "from arm_base_frame and camera_frame)"))
    arm_base_frame: str = field(default="", metadata=param(
        "TF frame of the arm's base (panda_link0) on a robot that moves: the arm's links "
        "for the occlusion test come from its pose at each image stamp and the joint "
        "states. Empty: the cell file's fixed mounting (no cell file: no arm)"))
    camera_frame: str = field(default="", metadata=param(
        "TF frame of a camera that moves (a head camera): the occlusion test's lines of "
        "sight start at its origin at each image stamp. Empty: the cell file's camera"))
    tf_children: tuple[str, ...] = field(default=(), metadata=param(
        "Child frames taken from /tf (those on the way to arm_base_frame and camera_frame; "
        "empty: all)"))
    tf_cache_s: float = field(default=10.0, metadata=param(
        "How long moving transforms are kept for lookups at image stamps (s)", low=0.5,
        high=300.0))
    arm_interaction: bool = field(default=TrackerConfig.arm_interaction, metadata=param(
        "Objects at the TCP interact with the gripper and ride with it while it holds "
        "them (false: the arm only hides things)"))
    keypoint_max_hidden_s: float = field(default=TrackerConfig.keypoint_max_hidden_s,
                                         metadata=param(
        "A person keypoint the arm hides is kept this long after its last measurement (s; "
        "a person it hides entirely, too)", low=0.0, high=600.0))
    labels: tuple[str, ...] = field(default=(), metadata=param(
        "Object labels accepted from perception; empty: the layout's part and hole types "
        "plus extra_labels"))
    round_labels: tuple[str, ...] = field(default=(), metadata=param(
        "Labels drawn as cylinders without a cell file (with one: its round part types)"))
    extra_labels: tuple[str, ...] = field(default=("tray",), metadata=param(
        "Labels accepted in addition to the layout's part and hole types"))
    horizons: tuple[float, ...] = field(default=DEFAULT_HORIZONS, metadata=param(
        "Prediction horizons (s)", low=0.0, high=10.0, min_len=1))
    score_horizons: tuple[float, ...] = field(default=(0.5, 1.0), metadata=param(
        "Horizons (s) whose self-scores go to /diagnostics (must be among horizons)",
        low=0.0, high=10.0, min_len=1))
    update_rate_hz: float = field(default=50.0, metadata=param(
        "Rate of the timer that runs queued frames through the tracker", low=1.0,
        high=500.0))
    marker_rate_hz: float = field(default=5.0, metadata=param(
        "Marker publication rate (0: none)", low=0.0, high=60.0))
    score_period_s: float = field(default=1.0, metadata=param(
        "Period of the self-scores on /diagnostics", low=0.1, high=60.0))
    queue_size: int = field(default=10, metadata=param(
        "Frames waiting for the tracker at most (older ones are dropped and counted)",
        low=1, high=1000))
    frame_id: str = field(default=contract.WORLD_FRAME, metadata=param(
        "Frame every detection must be in", non_empty=True))
    future_tolerance_s: float = field(default=0.5, metadata=param(
        "Detections stamped further in the future than this are rejected", low=0.0,
        high=60.0))
    max_age_s: float = field(default=5.0, metadata=param(
        "Detections older than this (vs the node clock) are rejected", low=0.1,
        high=3600.0))
    joint_state_max_gap_s: float = field(default=0.2, metadata=param(
        "Joint states further than this from an image stamp are not used for it", low=0.0,
        high=10.0))
    score_tolerance_s: float = field(default=1.0 / 30.0, metadata=param(
        "Half an update period: how far an observation may be from a prediction's due "
        "time when it cannot be interpolated", low=0.001, high=1.0))
    # --- tracker ---
    gate_chi2: float = field(default=TrackerConfig.gate_chi2, metadata=param(
        "Association gate: squared Mahalanobis distance", low=1.0, high=1000.0))
    gate_min_m: float = field(default=TrackerConfig.gate_min_m, metadata=param(
        "Detections this close to a track always pass its gate (m)", low=0.0, high=1.0))
    gate_max_m: float = field(default=TrackerConfig.gate_max_m, metadata=param(
        "No association beyond this distance (m)", low=0.0, high=5.0))
    gate_max_static_m: float = field(default=TrackerConfig.gate_max_static_m, metadata=param(
        "No association of a static track beyond this distance (m)", low=0.0, high=5.0))
    birth_hits: int = field(default=TrackerConfig.birth_hits, metadata=param(
        "Hits before a track is confirmed (published)", low=1, high=100))
    person_birth_hits: int = field(default=TrackerConfig.person_birth_hits, metadata=param(
        "Hits before a person is published (1: at first sight, for the safety supervisor)",
        low=1, high=100))
    death_misses: int = field(default=TrackerConfig.death_misses, metadata=param(
        "Consecutive misses (not occluded) before a track is dropped", low=1, high=10000))
    person_death_misses: int = field(default=TrackerConfig.person_death_misses,
                                     metadata=param("Misses before a person is dropped",
                                                    low=1, high=10000))
    max_occluded_s: float = field(default=TrackerConfig.max_occluded_s, metadata=param(
        "A track hidden by the arm longer than this ages again (s)", low=0.0, high=3600.0))
    occlusion_margin_m: float = field(default=TrackerConfig.occlusion_margin_m,
                                      metadata=param(
        "Margin around the arm's link capsules in the occlusion test (m)", low=0.0,
        high=0.5))
    interact_radius_m: float = field(default=TrackerConfig.interact_radius_m, metadata=param(
        "A track this close to the TCP interacts with the gripper (m)", low=0.0, high=0.5))
    static_speed_mps: float = field(default=TrackerConfig.static_speed_mps, metadata=param(
        "Slower than this for static_hold_s = static (m/s)", low=0.0, high=1.0))
    static_hold_s: float = field(default=TrackerConfig.static_hold_s, metadata=param(
        "How long a track must be slow to be static (s)", low=0.0, high=60.0))
    conveyor_min_speed_mps: float = field(default=TrackerConfig.conveyor_min_speed_mps,
                                          metadata=param(
        "Along-belt speed above which a track on the belt is a conveyor part (m/s)",
        low=0.0, high=2.0))
    q_static: float = field(default=TrackerConfig.q_static, metadata=param(
        "Process noise of static tracks (m^2/s^3)", low=0.0, high=1000.0))
    q_conveyor: float = field(default=TrackerConfig.q_conveyor, metadata=param(
        "Process noise of conveyor tracks (m^2/s^3)", low=0.0, high=1000.0))
    q_interacting: float = field(default=TrackerConfig.q_interacting, metadata=param(
        "Process noise of interacting tracks (m^2/s^3)", low=0.0, high=1000.0))
    q_unknown: float = field(default=TrackerConfig.q_unknown, metadata=param(
        "Process noise of unclassified tracks (m^2/s^3)", low=0.0, high=1000.0))
    q_person_rest: float = field(default=TrackerConfig.q_person_rest, metadata=param(
        "Process noise of a resting person keypoint (m^2/s^3)", low=0.0, high=1000.0))
    q_person_moving: float = field(default=TrackerConfig.q_person_moving, metadata=param(
        "Process noise of a moving person keypoint (m^2/s^3)", low=0.0, high=1000.0))
    # --- prediction ---
    person_tau_s: float = field(default=PredictionConfig.person_tau_s, metadata=param(
        "Time constant of a person keypoint's velocity decaying to rest (s)", low=0.01,
        high=10.0))
    person_growth_std_per_s: float = field(default=PredictionConfig.person_growth_std_per_s,
                                           metadata=param(
        "Person prediction std growth per second of horizon (m/s)", low=0.0, high=10.0))
    person_speed_std_per_s: float = field(default=PredictionConfig.person_speed_std_per_s,
                                          metadata=param(
        "Person prediction std growth per second and per m/s of speed", low=0.0,
        high=10.0))
    static_drift_var_per_s: float = field(default=PredictionConfig.static_drift_var_per_s,
                                          metadata=param(
        "Growth of a static prediction's variance (m^2/s)", low=0.0, high=1.0))
    conveyor_exit_std_m: float = field(default=PredictionConfig.conveyor_exit_std_m,
                                       metadata=param(
        "Extra std of a part predicted past the belt's end (m)", low=0.0, high=1.0))
    baseline_q: float = field(default=PredictionConfig.baseline_q, metadata=param(
        "Process noise of the constant-velocity baseline (m^2/s^3)", low=0.0, high=1000.0))


def allowed_labels(params: WorldModelParams, layout: CellLayout | None) -> frozenset[str]:
    if params.labels or layout is None:
        return frozenset(params.labels)
    names = set(layout.part_types) | {p.hole_type for p in layout.part_types.values()}
    return frozenset(names | set(params.extra_labels))


def tracker_config(p: WorldModelParams) -> TrackerConfig:
    return TrackerConfig(
        gate_chi2=p.gate_chi2, gate_min_m=p.gate_min_m, gate_max_m=p.gate_max_m,
        gate_max_static_m=p.gate_max_static_m, birth_hits=p.birth_hits,
        person_birth_hits=p.person_birth_hits,
        death_misses=p.death_misses, person_death_misses=p.person_death_misses,
        max_occluded_s=p.max_occluded_s, occlusion_margin_m=p.occlusion_margin_m,
        interact_radius_m=p.interact_radius_m, static_speed_mps=p.static_speed_mps,
        static_hold_s=p.static_hold_s, conveyor_min_speed_mps=p.conveyor_min_speed_mps,
        q_static=p.q_static, q_conveyor=p.q_conveyor, q_interacting=p.q_interacting,
        q_unknown=p.q_unknown, q_person_rest=p.q_person_rest,
        q_person_moving=p.q_person_moving, arm_interaction=p.arm_interaction,
        keypoint_max_hidden_s=p.keypoint_max_hidden_s)


def prediction_config(p: WorldModelParams) -> PredictionConfig:
    return PredictionConfig(
        static_drift_var_per_s=p.static_drift_var_per_s,
        conveyor_exit_std_m=p.conveyor_exit_std_m, person_tau_s=p.person_tau_s,
        person_growth_std_per_s=p.person_growth_std_per_s,
        person_speed_std_per_s=p.person_speed_std_per_s, baseline_q=p.baseline_q)


# --- messages -> core ---------------------------------------------------------------------------
def frame_from_msg(msg: DetectionArray, labels: Iterable[str]
                   ) -> tuple[DetectionFrame, list[tuple[str, str]]]:
    """The usable part of a DetectionArray and the rejected items as (kind, reason).
    A bad detection or person is left out; the rest of the frame is kept."""
    rejected: list[tuple[str, str]] = []
    objects = []
    for det in msg.detections:
        if det.label == PERSON_LABEL:
            continue  # people come as PersonDetection with keypoints
        try:
            p, q = det.pose.position, det.pose.orientation
            yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
            size = msg_to_vector(det.size)
            cov = np.array(det.position_covariance, dtype=float).reshape(3, 3)
            obj = ObjectDetection(
                label=det.label, position=np.array([p.x, p.y, p.z], dtype=float),
                covariance=cov, yaw=yaw, yaw_variance=float(det.yaw_variance),
                size=size if np.all(np.isfinite(size)) else None,
                confidence=float(det.confidence))
            check_detection(obj, labels)
            objects.append(obj)
        except (InvalidInput, ValueError) as exc:
            rejected.append(("detection", str(exc)))
    people = []
    for person in msg.people:
        try:
            names = list(person.keypoint_names)
            if len(names) != len(person.keypoints) or (
                    person.keypoint_variances and
                    len(person.keypoint_variances) != len(names)):
                raise InvalidInput(f"person with {len(names)} keypoint names, "
                                   f"{len(person.keypoints)} keypoints and "
                                   f"{len(person.keypoint_variances)} variances")
            if len(set(names)) != len(names):
                raise InvalidInput(f"person with repeated keypoint names {names}")
            points = {n: msg_to_vector(k) for n, k in zip(names, person.keypoints, strict=True)}
            variances = {n: float(v) for n, v in zip(names, person.keypoint_variances,
                                                     strict=False)}
            obs = PersonObservation(points, variances, float(person.confidence))
            check_person(obs)
            people.append(obs)
        except InvalidInput as exc:
            rejected.append(("person", str(exc)))
    return DetectionFrame(time_to_sec(msg.header.stamp), objects, people), rejected


def joint_vector(names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
    """Arm + finger positions in JOINT_NAMES order; InvalidInput if unusable."""
    if len(names) != len(positions):
        raise InvalidInput(f"{len(names)} joint names but {len(positions)} positions")
    lookup = dict(zip(names, positions, strict=True))
    missing = [n for n in JOINT_NAMES if n not in lookup]
    if missing:
        raise InvalidInput("joint_states lacks " + ", ".join(missing))
    values = np.array([lookup[n] for n in JOINT_NAMES], dtype=float)
    if not np.all(np.isfinite(values)):
        raise InvalidInput("joint_states contains NaN or infinity")
    return values


class JointHistory:
    """Recent joint states, to look the arm up at an image's stamp (linear interpolation)."""

    def __init__(self, keep_s: float = 2.0) -> None:
        self.keep_s = keep_s
        self._stamps: list[float] = []
        self._values: list[np.ndarray] = []

    def add(self, stamp: float, values: np.ndarray) -> None:
        if self._stamps and stamp <= self._stamps[-1]:
            if stamp < self._stamps[-1] - self.keep_s:
                self._stamps.clear()   # time jumped back (simulation restarted)
                self._values.clear()
            else:
                return
        self._stamps.append(stamp)
        self._values.append(values)
        cut = bisect.bisect_left(self._stamps, stamp - self.keep_s)
        if cut > 0:
            del self._stamps[:cut]
            del self._values[:cut]

    def at(self, stamp: float, max_gap: float) -> np.ndarray | None:
        if not self._stamps:
            return None
        i = bisect.bisect_left(self._stamps, stamp)
        if i < len(self._stamps) and self._stamps[i] == stamp:
            return self._values[i]
        if 0 < i < len(self._stamps):
            t0, t1 = self._stamps[i - 1], self._stamps[i]
            if t1 - t0 <= 2.0 * max_gap:
                w = (stamp - t0) / (t1 - t0)
                return self._values[i - 1] + w * (self._values[i] - self._values[i - 1])
        nearest = min((j for j in (i - 1, i) if 0 <= j < len(self._stamps)),
                      key=lambda j: abs(self._stamps[j] - stamp))
        if abs(self._stamps[nearest] - stamp) <= max_gap:
            return self._values[nearest]
        return None


# --- core -> messages ---------------------------------------------------------------------------
def _header(stamp: float, frame_id: str) -> Header:
    return Header(stamp=sec_to_time(stamp), frame_id=frame_id)


def track_to_msg(est: TrackEstimate, header: Header) -> ObjectTrack:
    msg = ObjectTrack(header=header, id=est.id, label=est.label,
                      confidence=float(est.confidence), motion_class=int(est.motion_class))
    yaw = est.yaw if math.isfinite(est.yaw_variance) else 0.0
    msg.pose.position = point_to_msg(est.position)
    msg.pose.orientation = quat_wxyz_to_msg(yaw_to_quat_wxyz(yaw))
    msg.velocity = vector_to_msg(est.velocity)
    msg.size = vector_to_msg(est.size)
    msg.position_covariance = est.position_covariance.reshape(-1).tolist()
    msg.velocity_covariance = est.velocity_covariance.reshape(-1).tolist()
    msg.yaw_variance = float(est.yaw_variance) if math.isfinite(est.yaw_variance) else 1e6
    msg.first_seen = sec_to_time(est.first_seen)
    msg.missed_updates = int(est.missed)
    return msg


def person_to_msg(person, header: Header) -> PersonTrack:
    names = sorted(person.keypoints)
    kps = [person.keypoints[n] for n in names]
    return PersonTrack(
        header=header, id=person.id, confidence=float(person.confidence),
        keypoint_names=names, keypoints=[point_to_msg(k.position) for k in kps],
        keypoint_velocities=[vector_to_msg(k.velocity) for k in kps],
        keypoint_variances=[float(np.trace(k.position_covariance) / 3.0) for k in kps],
        keypoint_stamps=[sec_to_time(k.measured_at if math.isfinite(k.measured_at)
                                     else person.stamp) for k in kps],
        first_seen=sec_to_time(person.first_seen), missed_updates=int(person.missed))


def prediction_to_msg(est: TrackEstimate, horizons: Sequence[float], positions: np.ndarray,
                      covariances: np.ndarray, header: Header) -> TrackPrediction:
    return TrackPrediction(
        header=header, track_id=est.id, label=est.label, keypoint=est.keypoint,
        motion_class=int(est.motion_class), horizons_s=[float(h) for h in horizons],
        positions=[point_to_msg(p) for p in positions],
        covariances=np.asarray(covariances, float).reshape(-1).tolist())


MOTION_COLOURS = {
    MotionClass.UNKNOWN: (0.9, 0.9, 0.2), MotionClass.STATIC: (0.4, 0.6, 0.9),
    MotionClass.CONVEYOR: (1.0, 0.55, 0.1), MotionClass.INTERACTING: (0.9, 0.2, 0.9),
    MotionClass.PERSON: (0.2, 0.85, 0.3)}


def _colour(motion: MotionClass, alpha: float) -> ColorRGBA:
    r, g, b = MOTION_COLOURS.get(motion, (1.0, 1.0, 1.0))
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha))


def ellipsoid_marker(marker: Marker, centre: np.ndarray, covariance: np.ndarray) -> Marker:
    """Shape `marker` as the 95 % ellipsoid of N(centre, covariance)."""
    values, vectors = np.linalg.eigh(np.asarray(covariance, float))
    if np.linalg.det(vectors) < 0:
        vectors[:, 0] = -vectors[:, 0]
    marker.type = Marker.SPHERE
    marker.pose.position = point_to_msg(centre)
    marker.pose.orientation = quat_wxyz_to_msg(matrix_to_quat_wxyz(vectors))
    axes = 2.0 * np.sqrt(np.maximum(values, 1e-8) * CHI2_3DOF_95)
    marker.scale = vector_to_msg(np.maximum(axes, 0.002))
    return marker


def build_markers(header: Header, estimates: Sequence[TrackEstimate],
                  predictions: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]],
                  round_labels: frozenset[str]) -> MarkerArray:
    """Tracks as labelled shapes, predictions as fading spheres joined by a line, and 95 %
    covariance ellipsoids now and at each horizon (RViz: world_model/markers)."""
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for n, est in enumerate(estimates):
        base = n * 100
        colour = _colour(est.motion_class, 0.9)
        shape = Marker(header=header, ns="tracks", id=base, action=Marker.ADD, color=colour)
        shape.pose.position = point_to_msg(est.position)
        yaw = est.yaw if math.isfinite(est.yaw_variance) else 0.0
        shape.pose.orientation = quat_wxyz_to_msg(yaw_to_quat_wxyz(yaw))
        if est.keypoint:
            shape.type = Marker.SPHERE
            shape.scale = vector_to_msg(np.full(3, 0.06))
        else:
            shape.type = Marker.CYLINDER if est.label in round_labels else Marker.CUBE
            shape.scale = vector_to_msg(np.where(est.size > 0.0, est.size, 0.03))
        text = Marker(header=header, ns="labels", id=base, type=Marker.TEXT_VIEW_FACING,
                      action=Marker.ADD, color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=0.9),
                      text=f"#{est.id} {est.keypoint or est.label} "
                           f"{est.motion_class.key}")
        text.pose.position = point_to_msg(est.position + np.array([0.0, 0.0, 0.06]))
        text.pose.orientation.w = 1.0
        text.scale.z = 0.025
        now = ellipsoid_marker(Marker(header=header, ns="covariance", id=base,
                                      action=Marker.ADD, color=_colour(est.motion_class, 0.3)),
                               est.position, est.position_covariance)
        markers += [shape, text, now]
        predicted = predictions.get(est.key)
        if predicted is None:
            continue
        positions, covariances = predicted
        count = len(positions)
        line = Marker(header=header, ns="predicted_path", id=base, type=Marker.LINE_STRIP,
                      action=Marker.ADD, color=_colour(est.motion_class, 0.6))
        line.scale.x = 0.004
        line.pose.orientation.w = 1.0
        line.points = [point_to_msg(est.position)] + [point_to_msg(p) for p in positions]
        markers.append(line)
        for k, (p, c) in enumerate(zip(positions, covariances, strict=True)):
            alpha = 0.8 - 0.6 * k / max(count - 1, 1)
            dot = Marker(header=header, ns="predicted", id=base + 1 + k, type=Marker.SPHERE,
                         action=Marker.ADD, color=_colour(est.motion_class, alpha))
            dot.pose.position = point_to_msg(p)
            dot.pose.orientation.w = 1.0
            dot.scale = vector_to_msg(np.full(3, 0.05 if est.keypoint else 0.015))
            region = ellipsoid_marker(
                Marker(header=header, ns="predicted_covariance", id=base + 1 + k,
                       action=Marker.ADD, color=_colour(est.motion_class, 0.25 * alpha)),
                p, c)
            markers += [dot, region]
    return MarkerArray(markers=markers)


# --- the node ---------------------------------------------------------------------------------
class WorldModelNode(Node):
    def __init__(self, **kwargs) -> None:
        """`kwargs` go to rclpy's Node (a context or parameter overrides in tests)."""
        super().__init__("world_model", **kwargs)
        p = declare_parameters(self, WorldModelParams)
        self.params = p
        missing = [h for h in p.score_horizons if not any(abs(h - k) < 1e-9
                                                           for k in p.horizons)]
        if missing:
            raise ParameterError("score_horizons", list(p.score_horizons),
                                 f"values among horizons {list(p.horizons)}")
        layout = load_file_parameter("cell_file", p.cell_file, load_cell_layout) \
            if p.cell_file else None
        self.labels = allowed_labels(p, layout)
        self.round_labels = frozenset(p.round_labels) if layout is None else frozenset(
            [n for n, t in layout.part_types.items() if t.shape == "cylinder"]
            + [t.hole_type for t in layout.part_types.values() if t.shape == "cylinder"])
        scene = SceneGeometry() if layout is None else SceneGeometry.from_layout(layout)
        self.tracker = MultiObjectTracker(tracker_config(p), scene)
        self.models = default_models(prediction_config(p), scene.belt)
        self.baseline = baseline_model(prediction_config(p))
        self.horizons = np.array(p.horizons, dtype=float)
        # only the horizons that reach /diagnostics are scored (the tracker runs at camera
        # rate; scoring all six horizons took 15 % of this node's CPU, py-spy)
        self.score_horizons = np.array(p.score_horizons, dtype=float)
        self._score_index = [int(np.argmin(np.abs(self.horizons - h)))
                             for h in p.score_horizons]
        self.scorer = PredictionScorer(p.score_horizons, tolerance_s=p.score_tolerance_s)
        # the arm's links in this frame need its base there: fixed in a cell; on a mobile
        # base it moves (TF at each image stamp, arm_base_frame)
        if layout is not None:
            self.arm_model = ArmGeometry(RobotKinematics(), layout.robot_base,
                                         layout.robot_yaw)
        elif p.arm_base_frame:
            self.arm_model = ArmGeometry(RobotKinematics(), (0.0, 0.0, 0.0))
        else:
            self.arm_model = None
        self._tf = TransformBuffer(cache_s=p.tf_cache_s)
        self._tf_children = frozenset(p.tf_children) or None
        self.joints = JointHistory()
        self.stamp_gate = StampGate(p.future_tolerance_s, p.max_age_s)
        self._queue: deque[DetectionFrame] = deque()
        self._latest: tuple[UpdateResult, list[TrackEstimate], dict] | None = None
        self._update_ms: deque[float] = deque(maxlen=200)
        self._no_arm_logged = False

        self.diagnostics = DiagnosticsReporter(self, "tracking and prediction")
        self.pub_objects = create_publisher(self, contract.OBJECT_TRACKS)
        self.pub_people = create_publisher(self, contract.PERSON_TRACKS)
        self.pub_predictions = create_publisher(self, contract.PREDICTIONS)
        self.pub_markers = create_publisher(self, contract.WORLD_MODEL_MARKERS)
        create_subscription(self, contract.DETECTIONS, self.on_detections)
        if self.arm_model is not None:
            create_subscription(self, contract.JOINT_STATES, self.on_joint_states)
        if p.arm_base_frame or p.camera_frame:
            create_subscription(self, contract.TF_TOPIC, lambda m: self.on_tf(m, static=False))
            create_subscription(self, contract.TF_STATIC_TOPIC,
                                lambda m: self.on_tf(m, static=True))
        # Wall-clock timers: they must run before simulated time starts, too.
        wall = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0 / p.update_rate_hz, self.process, clock=wall)
        self.create_timer(p.score_period_s, self.publish_scores, clock=wall)
        if p.marker_rate_hz > 0.0:
            self.create_timer(1.0 / p.marker_rate_hz, self.publish_markers, clock=wall)
        self.get_logger().info(
            f"tracking labels {', '.join(sorted(self.labels)) or '(none)'} + people in "
            f"'{p.frame_id}'; horizons {list(p.horizons)} s"
            + ("" if self.arm_model else "; no cell file: no belt, no arm (occlusion by the "
               "arm and held objects not modelled)")
            + (f"; the arm on '{p.arm_base_frame}'" if p.arm_base_frame else "")
            + (f"; lines of sight from '{p.camera_frame}'" if p.camera_frame else ""))

    # --- callbacks store ----------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_detections(self, msg: DetectionArray) -> None:
        if msg.header.frame_id != self.params.frame_id:
            self.diagnostics.reject("detections", f"frame '{msg.header.frame_id}' is not "
                                                  f"'{self.params.frame_id}'")
            return
        try:
            self.stamp_gate.check(time_to_sec(msg.header.stamp), self._now())
        except InvalidInput as exc:
            self.diagnostics.reject("detections", str(exc))
            return
        frame, rejected = frame_from_msg(msg, self.labels)
        for kind, reason in rejected:
            self.diagnostics.reject(kind, reason)
        if len(self._queue) >= self.params.queue_size:
            self._queue.popleft()
            self.diagnostics.count("dropped.queue_full")
        self._queue.append(frame)
        self.diagnostics.count("received.frames")

    def on_tf(self, msg, static: bool) -> None:
        for reason in store_tf_message(self._tf, msg, static, self._tf_children):
            self.diagnostics.reject("tf", reason)

    def _pose_at(self, frame: str, stamp: float) -> np.ndarray | None:
        """`frame` in the world frame at `stamp` (4x4); None, counted, when TF lacks it."""
        try:
            return self._tf.lookup(self.params.frame_id, frame, stamp)
        except TransformLookupError as exc:
            self.diagnostics.count("frames_without_tf")
            self.diagnostics.set_value("last_tf_problem", str(exc))
            return None

    def on_joint_states(self, msg) -> None:
        try:
            values = joint_vector(msg.name, msg.position)
        except InvalidInput as exc:
            self.diagnostics.reject("joint_states", str(exc))
            return
        self.joints.add(time_to_sec(msg.header.stamp), values)

    # --- timers decide ------------------------------------------------------------------------
    def arm_at(self, stamp: float) -> ArmState | None:
        if self.arm_model is None:
            return None
        base = None
        if self.params.arm_base_frame:
            base = self._pose_at(self.params.arm_base_frame, stamp)
            if base is None:
                return None
        gap = self.params.joint_state_max_gap_s
        q = self.joints.at(stamp, gap)
        if q is None:
            if not self._no_arm_logged:
                self.get_logger().warning(
                    "no joint states near the image stamps: tracking without the arm "
                    "(no occlusion handling, no held parts)")
                self._no_arm_logged = True
            self.diagnostics.count("frames_without_arm")
            return None
        self._no_arm_logged = False
        q_before = self.joints.at(stamp - TCP_VELOCITY_DT, gap)
        before = None if q_before is None else \
            self.arm_model.state(q_before[:7], float(q_before[7]), base=base).tcp
        arm = self.arm_model.state(q[:7], float(q[7]), gripper_width=float(q[7] - q[8]),
                                   base=base)
        if before is not None:
            arm = replace(arm, tcp_velocity=(arm.tcp - before) / TCP_VELOCITY_DT)
        return arm

    def process(self) -> None:
        while self._queue:
            frame = self._queue.popleft()
            started = time.perf_counter()
            if self.params.camera_frame:
                camera = self._pose_at(self.params.camera_frame, frame.stamp)
                if camera is not None:
                    frame = replace(frame, camera_position=tuple(camera[:3, 3].tolist()))
            result = self.tracker.update(frame, self.arm_at(frame.stamp))
            estimates = list(result.tracks) + [kp for person in result.people
                                               for name, kp in sorted(person.keypoints.items())]
            predictions = {}
            for est in estimates:
                predictions[est.key] = self.models.predict(est, self.horizons)
            self._score(frame.stamp, estimates, predictions)
            self._update_ms.append((time.perf_counter() - started) * 1e3)
            self._publish(frame.stamp, result, estimates, predictions)
            self._latest = (result, estimates, predictions)

    def _score(self, stamp: float, estimates: list[TrackEstimate],
               predictions: dict) -> None:
        self.scorer.observe_tracks(stamp, estimates)
        index = self._score_index
        for est in estimates:
            positions, covariances = predictions[est.key]
            cv_positions, cv_covariances = self.baseline.predict(est, self.score_horizons)
            self.scorer.record(est.key, est.motion_class.key, stamp, positions[index],
                               None if covariances is None else covariances[index],
                               cv_positions, cv_covariances)

    def _publish(self, stamp: float, result: UpdateResult, estimates: list[TrackEstimate],
                 predictions: dict) -> None:
        header = _header(stamp, self.params.frame_id)
        self.pub_objects.publish(ObjectTrackArray(
            header=header, tracks=[track_to_msg(t, header) for t in result.tracks]))
        self.pub_people.publish(PersonTrackArray(
            header=header, people=[person_to_msg(p, header) for p in result.people]))
        self.pub_predictions.publish(TrackPredictionArray(header=header, predictions=[
            prediction_to_msg(est, self.params.horizons, *predictions[est.key], header)
            for est in estimates]))
        for track_id in result.born:
            self.get_logger().debug(f"track #{track_id} confirmed")
        self.diagnostics.count("tracks.born", len(result.born))
        self.diagnostics.count("tracks.lost", len(result.lost))

    def publish_markers(self) -> None:
        # built only for a viewer (RViz): they cost a third of this node's CPU (measured)
        if self._latest is None or self.pub_markers.get_subscription_count() == 0:
            return
        result, estimates, predictions = self._latest
        header = _header(result.stamp, self.params.frame_id)
        self.pub_markers.publish(build_markers(header, estimates, predictions,
                                               self.round_labels))

    def publish_scores(self) -> None:
        for key, value in self.scorer.diagnostics(self.params.score_horizons).items():
            self.diagnostics.set_value(key, value)
        if self._update_ms:
            samples = np.array(self._update_ms)
            self.diagnostics.set_value("tracker.update_ms.p50", f"{np.median(samples):.3f}")
            self.diagnostics.set_value("tracker.update_ms.max", f"{samples.max():.3f}")
        latest = self._latest
        if latest is not None:
            self.diagnostics.set_value("tracks.objects", len(latest[0].tracks))
            self.diagnostics.set_value("tracks.people", len(latest[0].people))


def main(args: list[str] | None = None) -> int:
    return run_node(WorldModelNode, "world_model", args, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
