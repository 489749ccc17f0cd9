"""The planner's snapshot of the world model's messages (world_view): what a track carries
into the decision code."""

from __future__ import annotations

import pytest

from foresight_interfaces.msg import ObjectTrack, ObjectTrackArray
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
