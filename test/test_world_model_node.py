"""The world model node on the wire: synthetic detections in, tracks and predictions out with
the source stamps, bad detections counted on /diagnostics, self-scores published."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from geometry_msgs.msg import Point
from sensor_msgs.msg import JointState

from foresight_common import contract
from foresight_common.conversions import sec_to_time, time_to_sec
from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS, HOME_POSITIONS
from foresight_interfaces.msg import Detection, DetectionArray, ObjectTrack, PersonDetection

pytestmark = pytest.mark.slow

RATE_HZ = 15.0
PARTS = {"peg_round": (0.25, 0.60, 0.7775), "peg_square": (0.35, 0.55, 0.7775)}


def detection(label: str, position, rng) -> Detection:
    d = Detection(label=label, confidence=0.95)
    p = np.asarray(position) + rng.normal(0.0, 0.003, 3)
    d.pose.position = Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
    d.pose.orientation.w = 1.0
    d.size.x = d.size.y = 0.035
    d.size.z = 0.055
    d.position_covariance = (np.eye(3) * 0.003 ** 2).reshape(-1).tolist()
    d.yaw_variance = 0.01
    return d


def frame(stamp: float, t: float, rng, extra=()) -> DetectionArray:
    msg = DetectionArray(detections=[detection(k, p, rng) for k, p in PARTS.items()])
    msg.detections += list(extra)
    hand = (0.85 - 0.1 * math.sin(t), 0.15, 0.95)
    msg.people = [PersonDetection(confidence=0.9, keypoint_names=["torso", "right_hand"],
                                  keypoints=[Point(x=1.05, y=0.1, z=1.2),
                                             Point(x=hand[0], y=hand[1], z=hand[2])],
                                  keypoint_variances=[1e-4, 1e-4])]
    msg.header.stamp = sec_to_time(stamp)
    msg.header.frame_id = contract.WORLD_FRAME
    return msg


def diagnostics_values(probe) -> dict[str, str]:
    values: dict[str, str] = {}
    for msg in probe.messages(contract.DIAGNOSTICS.name):
        for status in msg.status:
            if status.name.startswith("world_model"):
                values.update({kv.key: kv.value for kv in status.values})
    return values


def test_tracks_and_predictions_carry_the_source_stamps(launch_stack, probe):
    stack = launch_stack(nodes=("world_model",), use_sim="false")
    for topic in (contract.OBJECT_TRACKS, contract.PERSON_TRACKS, contract.PREDICTIONS,
                  contract.WORLD_MODEL_MARKERS, contract.DIAGNOSTICS):
        probe.subscribe(topic)
    node = probe.node
    pub_det = node.create_publisher(DetectionArray, contract.DETECTIONS.name,
                                    contract.DETECTIONS.qos)
    pub_joints = node.create_publisher(JointState, contract.JOINT_STATES.name,
                                       contract.JOINT_STATES.qos)
    probe.wait_for(lambda: pub_det.get_subscription_count() >= 1
                   and pub_joints.get_subscription_count() >= 1, 60,
                   "the world model to subscribe", stack)
    rng = np.random.default_rng(0)
    sent: list[float] = []
    start = time.monotonic()
    while time.monotonic() - start < 4.0:
        now = node.get_clock().now().nanoseconds * 1e-9
        joints = JointState(name=list(ARM_JOINTS + FINGER_JOINTS),
                            position=list(HOME_POSITIONS) + [0.04, -0.04])
        joints.header.stamp = sec_to_time(now - 0.01)
        pub_joints.publish(joints)
        bad = []
        if len(sent) == 20:   # one malformed detection inside a good frame
            nan = detection("peg_round", PARTS["peg_round"], rng)
            nan.pose.position.x = math.nan
            bad = [nan, detection("hole_hexagon", (0.5, 0.0, 0.8), rng)]
        pub_det.publish(frame(now, time.monotonic() - start, rng, bad))
        sent.append(now)
        if len(sent) == 30:   # a frame older than the last one: refused as out of order
            pub_det.publish(frame(sent[-5], 0.0, rng))
        time.sleep(1.0 / RATE_HZ)

    def scored() -> bool:
        values = diagnostics_values(probe)
        return int(values.get("score.static.0.5.n", "0")) > 0 and \
            int(values.get("rejected.detections", "0")) >= 1
    probe.wait_for(scored, 20, "self-scores and rejections on /diagnostics", stack)

    def key(stamp) -> tuple[int, int]:
        return (stamp.sec, stamp.nanosec)

    objects = probe.messages(contract.OBJECT_TRACKS.name)
    sent_stamps = {key(sec_to_time(s)) for s in sent}
    assert len(objects) >= 0.8 * len(sent)
    assert all(key(m.header.stamp) in sent_stamps for m in objects)
    last = objects[-1]
    assert sorted(t.label for t in last.tracks) == ["peg_round", "peg_square"]
    for track in last.tracks:
        truth = np.array(PARTS[track.label])
        p = track.pose.position
        assert np.linalg.norm([p.x - truth[0], p.y - truth[1], p.z - truth[2]]) < 0.006
        assert track.motion_class == ObjectTrack.MOTION_STATIC
        assert time_to_sec(track.first_seen) < time_to_sec(last.header.stamp)
    ids = {t.label: t.id for t in objects[-1].tracks}
    for msg in objects[len(objects) // 2:]:
        assert {t.label: t.id for t in msg.tracks} == ids, "ids changed"

    people = probe.messages(contract.PERSON_TRACKS.name)[-1]
    assert len(people.people) == 1
    assert set(people.people[0].keypoint_names) == {"torso", "right_hand"}
    # every keypoint says when it was measured: here, seen in every frame
    assert [key(s) for s in people.people[0].keypoint_stamps] == [key(people.header.stamp)] * 2

    predictions = probe.messages(contract.PREDICTIONS.name)
    by_stamp = {key(m.header.stamp): m for m in predictions}
    newest = by_stamp[key(last.header.stamp)]
    assert len(newest.predictions) == len(last.tracks) + 2   # objects + two keypoints
    for pred in newest.predictions:
        assert 0.5 in pred.horizons_s and 1.0 in pred.horizons_s
        assert len(pred.positions) == len(pred.horizons_s)
        assert len(pred.covariances) == 9 * len(pred.horizons_s)
        assert pred.header.stamp == last.header.stamp
    keypoints = {p.keypoint for p in newest.predictions if p.keypoint}
    assert keypoints == {"torso", "right_hand"}

    values = diagnostics_values(probe)
    assert int(values["rejected.detection"]) >= 2          # NaN and unknown label
    assert int(values["rejected.detections"]) >= 1         # out of order
    assert float(values["score.static.0.5.within_tol"]) == pytest.approx(1.0)
    assert float(values["tracker.update_ms.p50"]) < 20.0
    assert probe.messages(contract.WORLD_MODEL_MARKERS.name), "no markers"
    assert "rejected detection" in stack.output("world_model")
