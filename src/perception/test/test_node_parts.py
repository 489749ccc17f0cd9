"""The perception node's ROS-free parts: pairing the camera streams by stamp, and turning a
detection result into the DetectionArray and the markers (no ROS graph needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from foresight_common.conversions import InvalidMessage
from foresight_perception.detector import (
    DetectionResult,
    Keypoint,
    ObjectDetection,
    PersonObservation,
)
from foresight_perception.perception_node import (
    FrameAssembler,
    _intrinsics,
    detection_array,
    detection_markers,
    stamp_key,
)


def add_all(assembler: FrameAssembler, key, received: float = 0.0) -> bool:
    done = False
    for stream in FrameAssembler.STREAMS:
        done = assembler.add(stream, key, f"{stream}{key}", received)
    return done


def test_a_frame_completes_when_colour_depth_and_info_share_a_stamp():
    assembler = FrameAssembler(window=4)
    assert not assembler.add("color", (1, 0), "c", 1.0)
    assert not assembler.add("depth", (1, 0), "d", 2.0)
    assert assembler.take() is None
    assert assembler.add("info", (1, 0), "i", 3.0)
    key, parts, received = assembler.take()
    assert key == (1, 0) and parts == {"color": "c", "depth": "d", "info": "i"}
    assert received == 3.0
    assert assembler.take() is None


def test_stamps_must_match_exactly():
    assembler = FrameAssembler(window=4)
    assembler.add("color", (1, 0), "c", 0.0)
    assembler.add("depth", (1, 1), "d", 0.0)
    assert not assembler.add("info", (1, 0), "i", 0.0)
    assert assembler.take() is None


def test_the_newest_complete_frame_wins_and_older_ones_are_counted():
    assembler = FrameAssembler(window=4)
    assembler.add("color", (0, 5), "c", 0.0)          # never completed
    add_all(assembler, (1, 0))
    assert assembler.unmatched == 1                    # the (0, 5) colour image
    add_all(assembler, (2, 0))                         # (1, 0) not taken yet: skipped
    assert assembler.skipped == 1
    key, _, _ = assembler.take()
    assert key == (2, 0)
    # a late part of an older stamp is ignored while a newer frame waits
    add_all(assembler, (3, 0))
    assert not assembler.add("color", (2, 5), "late", 0.0)


def test_the_pairing_window_bounds_memory():
    assembler = FrameAssembler(window=3)
    for k in range(10):
        assembler.add("color", (k, 0), "c", 0.0)
    assert len(assembler._pending) == 3
    assert assembler.unmatched == 7


def test_discard_forgets_a_stamp():
    assembler = FrameAssembler(window=4)
    assembler.add("color", (1, 0), "c", 0.0)
    assembler.discard((1, 0))
    assembler.add("depth", (1, 0), "d", 0.0)
    assert not assembler.add("info", (1, 0), "i", 0.0)


def result() -> DetectionResult:
    part = ObjectDetection(label="peg_slot", kind="part", confidence=0.9,
                           position=np.array([0.3, 0.4, 0.78]), yaw=math.radians(30),
                           size=(0.026, 0.05, 0.055),
                           position_covariance=np.diag([1e-6, 2e-6, 3e-6]),
                           yaw_variance=0.01, pixel_count=42)
    hole = ObjectDetection(label="hole_round", kind="hole", confidence=0.8,
                           position=np.array([0.5, 0.0, 0.8]), yaw=0.0,
                           size=(0.04, 0.04, 0.026),
                           position_covariance=np.eye(3) * 4e-6, yaw_variance=3.3,
                           pixel_count=80)
    person = PersonObservation(confidence=0.9, keypoints={
        "right_hand": Keypoint(np.array([0.7, 0.3, 0.9]), 4e-4),
        "right_arm": Keypoint(np.array([0.9, 0.35, 1.0]), 2.5e-3)})
    return DetectionResult(objects=(part, hole), people=(person,))


def test_detection_array_carries_stamp_frame_and_every_field():
    stamp = Time(sec=12, nanosec=500)
    msg = detection_array(result(), stamp, "world", 0.012)
    assert msg.header.stamp == stamp and msg.header.frame_id == "world"
    assert msg.processing_time_s == pytest.approx(0.012)
    slot = msg.detections[0]
    assert slot.label == "peg_slot" and slot.pixel_count == 42
    assert (slot.pose.position.x, slot.pose.position.y) == (0.3, 0.4)
    assert 2 * math.atan2(slot.pose.orientation.z, slot.pose.orientation.w) == \
        pytest.approx(math.radians(30))
    assert list(slot.position_covariance) == pytest.approx(
        [1e-6, 0, 0, 0, 2e-6, 0, 0, 0, 3e-6])
    assert (slot.size.x, slot.size.y, slot.size.z) == (0.026, 0.05, 0.055)
    person = msg.people[0]
    assert list(person.keypoint_names) == ["right_arm", "right_hand"]
    assert person.keypoints[1].x == pytest.approx(0.7)
    assert list(person.keypoint_variances) == pytest.approx([2.5e-3, 4e-4])


def test_markers_clear_the_last_frame_and_draw_objects_at_their_centres():
    header = Header(stamp=Time(sec=1), frame_id="world")
    markers = detection_markers(result(), header, 0.5,
                                {"peg_slot": "centre", "hole_round": "top"},
                                {"peg_slot": "box", "hole_round": "cylinder"}).markers
    assert markers[0].action == Marker.DELETEALL
    bodies = [m for m in markers if m.ns.startswith("objects/")]
    assert [m.type for m in bodies] == [Marker.CUBE, Marker.CYLINDER]
    # the hole's position is its rim: the drawn cylinder is centred half a depth below
    assert bodies[1].pose.position.z == pytest.approx(0.8 - 0.013)
    texts = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert texts[0].text.startswith("peg_slot")
    spheres = [m for m in markers if m.type == Marker.SPHERE]
    assert len(spheres) == 2
    lines = [m for m in markers if m.type == Marker.LINE_LIST]
    assert len(lines) == 1 and len(lines[0].points) == 2
    assert all(m.header.frame_id == "world" for m in markers[1:])


def test_camera_info_is_validated():
    info = CameraInfo(width=320, height=240)
    info.k = [230.0, 0.0, 159.5, 0.0, 230.0, 119.5, 0.0, 0.0, 1.0]
    intr = _intrinsics(info)
    assert (intr.fx, intr.cy, intr.width) == (230.0, 119.5, 320)
    info.k = [float("nan")] * 9
    with pytest.raises(InvalidMessage, match="finite"):
        _intrinsics(info)
    info.k = [0.0] * 9
    with pytest.raises(InvalidMessage, match="no camera"):
        _intrinsics(info)


def test_stamp_key_is_exact():
    assert stamp_key(Time(sec=3, nanosec=7)) == (3, 7)
    assert stamp_key(Time(sec=3, nanosec=7)) < stamp_key(Time(sec=3, nanosec=8))
