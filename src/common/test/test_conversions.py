import numpy as np
import pytest
from geometry_msgs.msg import Pose

from foresight_common.conversions import (
    InvalidMessage,
    depth_to_image,
    image_to_numpy,
    matrix_to_quat_wxyz,
    msg_to_pose,
    pose_to_msg,
    quat_wxyz_to_matrix,
    rgb_to_image,
    sec_to_time,
    time_to_sec,
)


def test_round_trips():
    rgb = np.random.default_rng(0).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_to_numpy(rgb_to_image(rgb, sec_to_time(1.5), "c")), rgb)
    depth = np.array([[1.0, np.nan], [0.5, 2.25]], dtype=np.float32)
    np.testing.assert_array_equal(image_to_numpy(depth_to_image(depth, sec_to_time(0), "c")),
                                  depth)
    assert time_to_sec(sec_to_time(12.345678901)) == pytest.approx(12.345678901)
    quat = np.array([0.9238795, 0.0, 0.3826834, 0.0])
    np.testing.assert_allclose(matrix_to_quat_wxyz(quat_wxyz_to_matrix(quat)), quat, atol=1e-6)
    position, orientation = msg_to_pose(pose_to_msg(np.array([1.0, 2, 3]), quat))
    np.testing.assert_allclose(position, [1, 2, 3])


def test_bad_images_and_poses_are_rejected_with_reason():
    msg = rgb_to_image(np.zeros((4, 6, 3), np.uint8), sec_to_time(0), "c")
    msg.encoding = "yuv422"
    with pytest.raises(InvalidMessage, match="encoding"):
        image_to_numpy(msg)
    msg = rgb_to_image(np.zeros((4, 6, 3), np.uint8), sec_to_time(0), "c")
    msg.height = 5
    with pytest.raises(InvalidMessage, match="do not match"):
        image_to_numpy(msg)
    pose = Pose()
    pose.orientation.w = 0.5
    with pytest.raises(InvalidMessage, match="unit length"):
        msg_to_pose(pose)
    pose.orientation.w = 1.0
    pose.position.x = float("nan")
    with pytest.raises(InvalidMessage, match="NaN"):
        msg_to_pose(pose)
