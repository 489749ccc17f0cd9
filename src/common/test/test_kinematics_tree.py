import numpy as np

from foresight_common.conversions import homogeneous
from foresight_common.kinematics_tree import KinematicTree
from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_common.tf_buffer import TransformBuffer


def test_tf_chain_reproduces_forward_kinematics():
    tree = KinematicTree()
    buffer = TransformBuffer()
    for parent, child, pos, quat in tree.fixed_transforms():
        buffer.set_transform(parent, child, 0.0, homogeneous(pos, quat), static=True)
    q = np.array(HOME_POSITIONS) + 0.2
    for parent, child, pos, quat in tree.moving_transforms(np.concatenate([q, [0.02, -0.02]])):
        buffer.set_transform(parent, child, 1.0, homogeneous(pos, quat))
    base_from_tcp_body = buffer.lookup("panda_link0", "panda_hand_tcp", 1.0)
    position, rotation = RobotKinematics().tcp_pose(q)
    np.testing.assert_allclose(base_from_tcp_body[:3, 3], position, atol=1e-6)
    np.testing.assert_allclose(base_from_tcp_body[:3, :3], rotation, atol=1e-6)


def test_positions_from_rejects_bad_joint_states():
    tree = KinematicTree()
    names = list(tree.joint_names)
    values = [0.0] * len(names)
    assert tree.positions_from(names, values).shape == (9,)
    for bad_names, bad_values, fragment in [
        (names[:-1], values[:-1], "lacks"),
        (names, values[:-1], "positions"),
        (names, [float("nan")] + values[1:], "NaN"),
    ]:
        try:
            tree.positions_from(bad_names, bad_values)
        except ValueError as exc:
            assert fragment in str(exc)
        else:
            raise AssertionError("bad joint state accepted")
