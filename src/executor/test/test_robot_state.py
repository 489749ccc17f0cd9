"""RobotState: what the executor keeps of each joint state."""

import math

from sensor_msgs.msg import JointState

from foresight_common.robot_model import ARM_JOINTS, FINGER_JOINTS, HOME_POSITIONS
from foresight_executor.robot_io import RobotState

NAMES = list(ARM_JOINTS + FINGER_JOINTS)


def joint_state(finger_velocities: tuple[float, float] | None) -> JointState:
    msg = JointState(name=NAMES, position=[*HOME_POSITIONS, 0.02, -0.02])
    if finger_velocities is not None:
        msg.velocity = [0.0] * len(ARM_JOINTS) + list(finger_velocities)
    return msg


def test_finger_speed_is_the_fastest_finger_and_zero_without_velocities():
    state = RobotState()
    assert state.update_joints(joint_state((0.03, -0.05)), now=1.0) is None
    assert state.finger_speed() == 0.05
    assert state.gripper_width() == 0.04
    assert state.update_joints(joint_state(None), now=2.0) is None
    assert state.finger_speed() == 0.0


def test_a_nan_finger_velocity_is_refused_and_the_last_state_kept():
    state = RobotState()
    state.update_joints(joint_state((0.01, 0.0)), now=1.0)
    reason = state.update_joints(joint_state((math.nan, 0.0)), now=2.0)
    assert reason and "NaN" in reason
    assert state.finger_speed() == 0.01 and state.joint_stamp == 1.0
