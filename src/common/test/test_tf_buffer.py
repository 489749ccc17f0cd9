import numpy as np
import pytest

from foresight_common.conversions import homogeneous, yaw_to_quat_wxyz
from foresight_common.tf_buffer import TransformBuffer, TransformLookupError


def translation(x, y, z):
    matrix = np.eye(4)
    matrix[:3, 3] = (x, y, z)
    return matrix


def test_chain_static_and_interpolated():
    buffer = TransformBuffer()
    buffer.set_transform("world", "base", 0.0, translation(0, 0, 1), static=True)
    buffer.set_transform("base", "tool", 1.0, translation(1, 0, 0))
    buffer.set_transform("base", "tool", 2.0, translation(3, 0, 0))
    buffer.set_transform("world", "camera", 0.0,
                         homogeneous(np.array([0, 0, 2.0]), yaw_to_quat_wxyz(np.pi / 2)),
                         static=True)
    world_from_tool = buffer.lookup("world", "tool", 1.5)
    np.testing.assert_allclose(world_from_tool[:3, 3], [2, 0, 1])
    camera_from_tool = buffer.lookup("camera", "tool", 1.5)
    # tool at world (2,0,1); camera at (0,0,2) rotated +90 deg about z
    np.testing.assert_allclose(camera_from_tool[:3, 3], [0, -2, -1], atol=1e-9)


def test_lookup_errors_say_why():
    buffer = TransformBuffer(cache_s=1.0, tolerance_s=0.01)
    buffer.set_transform("world", "tool", 5.0, translation(0, 0, 0))
    buffer.set_transform("world", "tool", 6.0, translation(1, 0, 0))
    with pytest.raises(TransformLookupError, match="future"):
        buffer.lookup("world", "tool", 7.0)
    with pytest.raises(TransformLookupError, match="older"):
        buffer.lookup("world", "tool", 4.0)
    with pytest.raises(TransformLookupError, match="unknown frame"):
        buffer.lookup("world", "nowhere", 5.5)
    buffer.set_transform("map", "odom", 0.0, translation(0, 0, 0), static=True)
    with pytest.raises(TransformLookupError, match="no path"):
        buffer.lookup("world", "odom", 5.5)
