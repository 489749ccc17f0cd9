"""MapPose: base_link in map from wheel odometry and localisation arriving in any order,
against hand-computed poses; and the reasons it gives when it cannot say."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from foresight_common.planar import MapPose, localized_pose


def _stamped(frame: str, t: float, x: float, y: float, yaw: float) -> SimpleNamespace:
    stamp = SimpleNamespace(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))
    q = SimpleNamespace(w=math.cos(yaw / 2), x=0.0, y=0.0, z=math.sin(yaw / 2))
    pose = SimpleNamespace(position=SimpleNamespace(x=x, y=y, z=0.0), orientation=q)
    return SimpleNamespace(header=SimpleNamespace(frame_id=frame, stamp=stamp),
                           pose=SimpleNamespace(pose=pose))


def test_localisation_is_joined_with_the_odometry_of_its_stamp_in_either_order():
    poses = MapPose()
    assert poses.pose(0.0, 0.5) == (None, "no odometry")
    poses.add_odom(0.0, (0.0, 0.0, 0.0))
    assert poses.pose(0.1, 0.5) == (None, "no localisation")
    # localised at t=1 as (2, 1, 90 deg) while odometry said (1, 0, 0): it comes first
    assert poses.add_localized(1.0, (2.0, 1.0, math.pi / 2)) is None
    assert poses.map_to_odom() is None                       # odometry of t=1 not here yet
    poses.add_odom(1.0, (1.0, 0.0, 0.0))
    # map -> odom = (2, 1, 90) * inverse(1, 0, 0) = (2, 0, 90 deg)
    assert poses.map_to_odom() == pytest.approx((2.0, 0.0, math.pi / 2))
    # odometry drives 0.5 m on along its x: in map that is +y
    poses.add_odom(1.5, (1.5, 0.0, 0.0))
    pose, why = poses.pose(1.6, 0.5)
    assert why == "" and pose == pytest.approx((2.0, 1.5, math.pi / 2))


def test_stale_inputs_and_foreign_frames_are_refused_with_the_reason():
    poses = MapPose()
    poses.add_odom(0.0, (0.0, 0.0, 0.0))
    poses.add_localized(0.0, (1.0, 1.0, 0.0))
    assert poses.pose(0.2, 0.5)[0] is not None
    assert poses.pose(2.0, 0.5) == (None, "odometry 2.00 s old (limit 0.5 s)")
    poses.add_odom(6.0, (0.0, 0.0, 0.0))
    assert poses.pose(6.0, 0.5) == (None, "localisation 6.0 s old (limit 5 s)")
    assert "not map" in poses.add_localized_msg(_stamped("odom", 6.0, 0, 0, 0), "map")
    with pytest.raises(ValueError, match="is not map"):
        localized_pose(_stamped("world", 0.0, 0, 0, 0), "map")
    stamp, pose = localized_pose(_stamped("map", 2.5, 1.0, 2.0, 0.3), "map")
    assert stamp == pytest.approx(2.5) and pose == pytest.approx((1.0, 2.0, 0.3))
