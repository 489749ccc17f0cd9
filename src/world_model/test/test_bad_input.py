"""Bad input: every malformed detection, person, stamp or joint state is refused with a
reason and counted, and the tracker keeps running. The validators and converters are tested
directly, then the node itself in-process (no spinning: its callbacks are called)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Point
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState

from foresight_common.conversions import sec_to_time
from foresight_common.params import ParameterError
from foresight_interfaces.msg import Detection, DetectionArray, PersonDetection
from foresight_world_model.tracker import (
    DetectionFrame,
    InvalidInput,
    MultiObjectTracker,
    ObjectDetection,
    PersonObservation,
    StampGate,
    check_detection,
    check_person,
)
from foresight_world_model.world_model_node import (
    JOINT_NAMES,
    JointHistory,
    WorldModelNode,
    frame_from_msg,
    joint_vector,
)

CELL = Path(__file__).resolve().parents[3] / "config" / "cells" / "industrial_cell.yaml"
LABELS = {"peg_round", "hole_round", "tray"}


def good(**kwargs) -> ObjectDetection:
    values = {"label": "peg_round", "position": np.array([0.3, 0.2, 0.78]),
              "covariance": np.eye(3) * 1e-5}
    values.update(kwargs)
    return ObjectDetection(**values)


@pytest.mark.parametrize("bad, why", [
    (good(label="banana"), "unknown label 'banana'"),
    (good(position=np.array([0.3, math.nan, 0.78])), "position"),
    (good(position=np.array([0.3, 0.2])), "position"),
    (good(covariance=np.array([[1e-5, 1e-6, 0], [0, 1e-5, 0], [0, 0, 1e-5]])), "symmetric"),
    (good(covariance=np.diag([1e-5, -1e-3, 1e-5])), "positive semi-definite"),
    (good(covariance=np.diag([math.inf] * 3)), "finite"),
    (good(yaw=math.nan), "yaw"),
    (good(yaw_variance=-1.0), "yaw"),
    (good(confidence=1.5), "confidence"),
])
def test_bad_detections_are_refused_with_a_reason(bad: ObjectDetection, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        check_detection(bad, LABELS)
    check_detection(good(), LABELS)


def test_bad_people_are_refused() -> None:
    with pytest.raises(InvalidInput, match="without keypoints"):
        check_person(PersonObservation({}))
    with pytest.raises(InvalidInput, match="left_hand"):
        check_person(PersonObservation({"left_hand": np.array([0.1, math.inf, 0.2])}))
    with pytest.raises(InvalidInput, match="variance"):
        check_person(PersonObservation({"head": np.zeros(3)}, {"head": -1.0}))


def test_stamp_gate() -> None:
    gate = StampGate(future_tolerance_s=0.5, max_age_s=5.0)
    gate.check(10.0, now=10.1)
    with pytest.raises(InvalidInput, match="not newer"):
        gate.check(10.0, now=10.1)                  # duplicate
    with pytest.raises(InvalidInput, match="not newer"):
        gate.check(9.9, now=10.1)                   # out of order
    with pytest.raises(InvalidInput, match="future"):
        gate.check(11.0, now=10.1)
    with pytest.raises(InvalidInput, match="old"):
        gate.check(10.05, now=16.0)
    with pytest.raises(InvalidInput, match="valid time"):
        gate.check(math.nan, now=10.1)
    gate.check(10.2, now=10.1)                      # within the future tolerance
    gate.check(10.3, now=0.0)                       # no clock yet: ordering only
    assert gate.last == 10.3


def _detection(label: str, x: float, y: float, z: float, cov: float = 1e-5) -> Detection:
    d = Detection(label=label, confidence=0.9)
    d.pose.position = Point(x=x, y=y, z=z)
    d.pose.orientation.w = 1.0
    d.position_covariance = (np.eye(3) * cov).reshape(-1).tolist()
    return d


def _array(stamp: float, detections=(), people=()) -> DetectionArray:
    msg = DetectionArray(detections=list(detections), people=list(people))
    msg.header.stamp = sec_to_time(stamp)
    msg.header.frame_id = "world"
    return msg


def test_frame_from_msg_keeps_the_good_and_names_the_bad() -> None:
    person_ok = PersonDetection(confidence=0.8, keypoint_names=["torso", "right_hand"],
                                keypoints=[Point(x=1.0, y=0.1, z=1.2),
                                           Point(x=0.8, y=0.2, z=0.9)],
                                keypoint_variances=[1e-4, 1e-4])
    person_bad = PersonDetection(keypoint_names=["torso", "left_hand"],
                                 keypoints=[Point(x=1.0, y=0.1, z=1.2)])
    person_dup = PersonDetection(keypoint_names=["torso", "torso"],
                                 keypoints=[Point(), Point()])
    msg = _array(3.0, [
        _detection("peg_round", 0.3, 0.2, 0.78),
        _detection("peg_round", math.nan, 0.2, 0.78),
        _detection("unicorn", 0.3, 0.2, 0.78),
        _detection("person", 1.0, 0.1, 1.2),          # people come as PersonDetection
    ], [person_ok, person_bad, person_dup])
    frame, rejected = frame_from_msg(msg, LABELS)
    assert frame.stamp == pytest.approx(3.0)
    assert [d.label for d in frame.objects] == ["peg_round"]
    assert set(frame.people[0].keypoints) == {"torso", "right_hand"}
    kinds = [k for k, _ in rejected]
    assert kinds.count("detection") == 2 and kinds.count("person") == 2
    assert any("unicorn" in reason for _, reason in rejected)


def test_joint_vector_and_history() -> None:
    names = list(JOINT_NAMES)
    values = list(np.arange(9) * 0.1)
    assert joint_vector(names[::-1], values[::-1]) == pytest.approx(values)
    with pytest.raises(InvalidInput, match="lacks panda_joint7"):
        joint_vector(names[:6] + names[7:], values[:8])
    with pytest.raises(InvalidInput, match="NaN"):
        joint_vector(names, values[:8] + [math.nan])
    with pytest.raises(InvalidInput, match="positions"):
        joint_vector(names, values[:3])
    history = JointHistory(keep_s=1.0)
    history.add(1.0, np.zeros(9))
    history.add(1.01, np.ones(9))
    assert history.at(1.005, max_gap=0.1) == pytest.approx(np.full(9, 0.5))
    assert history.at(1.05, max_gap=0.1) == pytest.approx(np.ones(9))
    assert history.at(2.0, max_gap=0.1) is None
    history.add(1.005, np.full(9, 7.0))             # out of order: ignored
    assert history.at(1.005, max_gap=0.1) == pytest.approx(np.full(9, 0.5))


def test_tracker_survives_odd_but_valid_frames() -> None:
    tracker = MultiObjectTracker()
    tracker.update(DetectionFrame(1.0))
    tracker.update(DetectionFrame(1.1, people=[PersonObservation({"head": np.zeros(3)})]))
    tracker.update(DetectionFrame(1.2, people=[PersonObservation({"left_hand": np.ones(3)})]))
    many = [good(position=np.array([0.3, 0.2, 0.78])) for _ in range(5)]
    result = tracker.update(DetectionFrame(1.3, many))
    assert result.stamp == 1.3


# --- the node, in-process ----------------------------------------------------------------------
@pytest.fixture
def node():
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=100 + os.getpid() % 100)
    n = WorldModelNode(context=context, parameter_overrides=[
        Parameter("cell_file", value=str(CELL)), Parameter("birth_hits", value=2)])
    yield n
    n.destroy_node()
    rclpy.try_shutdown(context=context)


def test_node_counts_every_rejection_and_keeps_tracking(node: WorldModelNode) -> None:
    t0 = node.get_clock().now().nanoseconds * 1e-9    # wall clock: no simulated time here
    node.on_joint_states(JointState(name=["panda_joint1"], position=[0.0]))
    state = JointState(name=list(JOINT_NAMES), position=[0.0] * 9)
    state.header.stamp = sec_to_time(t0 - 0.05)
    node.on_joint_states(state)
    node.on_detections(_array(t0, [_detection("peg_round", 0.3, 0.2, 0.78),
                                   _detection("peg_round", math.inf, 0.2, 0.78)]))
    node.on_detections(_array(t0, [_detection("peg_round", 0.3, 0.2, 0.78)]))  # duplicate
    node.on_detections(_array(t0 - 0.5, [_detection("peg_round", 0.3, 0.2, 0.78)]))  # older
    wrong_frame = _array(t0 + 0.2, [_detection("peg_round", 0.3, 0.2, 0.78)])
    wrong_frame.header.frame_id = "camera_link"
    node.on_detections(wrong_frame)
    node.on_detections(_array(t0 + 0.1, [_detection("peg_round", 0.3, 0.2, 0.78),
                                         _detection("hole_hexagon", 0.5, 0.0, 0.8)]))
    node.on_detections(_array(t0 + 3600.0, [_detection("peg_round", 0.3, 0.2, 0.78)]))
    node.on_detections(_array(t0 - 60.0, [_detection("peg_round", 0.3, 0.2, 0.78)]))
    node.process()
    counts = node.diagnostics.counts()
    assert counts["rejected.joint_states"] == 1
    assert counts["rejected.detection"] == 2      # the infinite one and the unknown label
    # duplicate, older, wrong frame, an hour in the future, a minute old
    assert counts["rejected.detections"] == 5
    assert counts["received.frames"] == 2
    result, estimates, predictions = node._latest
    assert [t.label for t in result.tracks] == ["peg_round"]
    assert len(predictions[estimates[0].key][0]) == len(node.params.horizons)


def test_score_horizons_must_be_predicted() -> None:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=100 + os.getpid() % 100)
    try:
        with pytest.raises(ParameterError, match="score_horizons"):
            WorldModelNode(context=context, parameter_overrides=[
                Parameter("cell_file", value=str(CELL)), Parameter("horizons", value=[0.3])])
    finally:
        rclpy.try_shutdown(context=context)


def test_motion_classes_match_the_interface() -> None:
    from foresight_interfaces.msg import ObjectTrack
    from foresight_world_model.tracker import MotionClass

    assert [MotionClass.UNKNOWN, MotionClass.STATIC, MotionClass.CONVEYOR,
            MotionClass.INTERACTING, MotionClass.PERSON] == [
        ObjectTrack.MOTION_UNKNOWN, ObjectTrack.MOTION_STATIC, ObjectTrack.MOTION_CONVEYOR,
        ObjectTrack.MOTION_INTERACTING, ObjectTrack.MOTION_PERSON]


def test_markers_and_messages_from_estimates() -> None:
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from foresight_world_model.prediction import default_models
    from foresight_world_model.tracker import TrackerConfig
    from foresight_world_model.world_model_node import (
        build_markers,
        prediction_to_msg,
        track_to_msg,
    )

    tracker = MultiObjectTracker(TrackerConfig(birth_hits=1))
    result = tracker.update(DetectionFrame(1.0, [good()], [PersonObservation(
        {"left_hand": np.array([0.8, 0.1, 0.9])})]))
    estimates = list(result.tracks) + list(result.people[0].keypoints.values())
    horizons = np.array([0.5, 1.0])
    models = default_models()
    predictions = {e.key: models.predict(e, horizons) for e in estimates}
    header = Header(frame_id="world", stamp=sec_to_time(1.0))
    markers = build_markers(header, estimates, predictions, frozenset({"peg_round"})).markers
    assert markers[0].action == Marker.DELETEALL
    shapes = [m for m in markers if m.ns == "tracks"]
    assert [m.type for m in shapes] == [Marker.CYLINDER, Marker.SPHERE]
    regions = [m for m in markers if m.ns in ("covariance", "predicted_covariance")]
    assert len(regions) == 2 * 3 and all(m.scale.x > 0 for m in regions)
    msg = track_to_msg(estimates[0], header)
    assert msg.label == "peg_round" and len(msg.position_covariance) == 9
    pred = prediction_to_msg(estimates[1], horizons, *predictions[estimates[1].key], header)
    assert pred.keypoint == "left_hand" and len(pred.covariances) == 18
