"""The planner's snapshot of the world model's messages (world_view): what a track carries
into the decision code."""

from __future__ import annotations

import pytest
from geometry_msgs.msg import Point

from foresight_interfaces.msg import (
    ObjectTrack,
    ObjectTrackArray,
    PersonTrack,
    PersonTrackArray,
    TrackPrediction,
    TrackPredictionArray,
)
from foresight_planner.world_view import WorldView


def _tracks(stamp_s: int, missed: int) -> ObjectTrackArray:
    msg = ObjectTrackArray()
    msg.header.stamp.sec = stamp_s
    track = ObjectTrack(id=4, label="cup", missed_updates=missed)
    track.pose.position.x, track.pose.position.z = 1.5, 0.8
    track.pose.orientation.w = 1.0
    track.first_seen.sec = stamp_s - 3
    msg.tracks.append(track)
    return msg


@pytest.mark.parametrize("missed", [0, 6])
def test_a_track_says_how_many_frames_ago_it_was_measured(missed):
    """The place check trusts only tracks measured in the newest frame (missed 0): one kept
    alive from before must show as such."""
    view = WorldView()
    view.on_objects(_tracks(10, missed))
    world = view.snapshot(now=10.1, max_age_s=1.0)
    (cup,) = world.objects
    assert cup.missed == missed and cup.age_s == pytest.approx(3.0)
    assert cup.position[0] == pytest.approx(1.5)


def test_a_stale_track_message_gives_no_snapshot():
    view = WorldView()
    view.on_objects(_tracks(10, 0))
    assert view.snapshot(now=12.0, max_age_s=1.0) is None


def _people(stamp_s: float, torso: tuple | None) -> PersonTrackArray:
    msg = PersonTrackArray()
    msg.header.stamp.sec = int(stamp_s)
    msg.header.stamp.nanosec = int((stamp_s % 1) * 1e9)
    if torso is not None:
        msg.people.append(PersonTrack(id=3, keypoint_names=["head", "torso"],
                                      keypoints=[Point(x=0.0, y=0.0, z=1.6),
                                                 Point(x=torso[0], y=torso[1], z=1.1)]))
    return msg


def _torso_prediction(stamp_s: float, points) -> TrackPredictionArray:
    msg = TrackPredictionArray()
    prediction = TrackPrediction(track_id=3, keypoint="torso", horizons_s=[1.0, 2.0],
                                 positions=[Point(x=x, y=y, z=1.1) for x, y in points])
    prediction.header.stamp.sec = int(stamp_s)
    msg.predictions.append(prediction)
    return msg


def test_the_last_person_seen_is_remembered_with_where_they_were_heading():
    """After the person left the view (people messages without anyone), the last torso and
    its prediction from that frame stay: the look round for them turns there first."""
    view = WorldView()
    assert view.last_person(2.0) is None
    view.on_people(_people(20.0, (2.0, 1.0)))
    view.on_predictions(_torso_prediction(20.0, [(2.5, 1.0), (3.0, 1.0)]))
    view.on_people(_people(24.0, None))                       # gone from view
    view.on_predictions(TrackPredictionArray())
    stamp, heading = view.last_person(2.0)
    assert stamp == pytest.approx(20.0) and heading[:2] == pytest.approx([3.0, 1.0])
    assert view.last_person(1.5)[1][:2] == pytest.approx([2.75, 1.0])
    # a prediction from another frame is not theirs: where they were
    view.on_people(_people(30.0, (1.0, 1.0)))
    assert view.last_person(2.0)[1][:2] == pytest.approx([1.0, 1.0])
