"""ROS message <-> numpy conversions, in one place (STYLE rule 2).

Quaternion convention: ROS messages are (x, y, z, w); MuJoCo and our numpy code use
(w, x, y, z). Functions say which they take. Image decoding validates encoding, size and
step and raises `InvalidMessage` with a reason the node logs and counts.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Duration as DurationMsg
from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, TransformStamped, Vector3
from nav_msgs.msg import Odometry
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image


class InvalidMessage(ValueError):
    """A received message cannot be used; the message says why."""


# --- time -------------------------------------------------------------------------------------
def time_to_sec(stamp: TimeMsg) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_time(seconds: float) -> TimeMsg:
    nanos = int(round(seconds * 1e9))
    return TimeMsg(sec=nanos // 1_000_000_000, nanosec=nanos % 1_000_000_000)


def sec_to_duration(seconds: float) -> DurationMsg:
    nanos = int(round(seconds * 1e9))
    return DurationMsg(sec=nanos // 1_000_000_000, nanosec=nanos % 1_000_000_000)


def duration_to_sec(duration: DurationMsg) -> float:
    return duration.sec + duration.nanosec * 1e-9


# --- geometry ---------------------------------------------------------------------------------
def quat_wxyz_to_msg(q: np.ndarray) -> Quaternion:
    return Quaternion(w=float(q[0]), x=float(q[1]), y=float(q[2]), z=float(q[3]))


def msg_to_quat_wxyz(q: Quaternion) -> np.ndarray:
    return np.array([q.w, q.x, q.y, q.z], dtype=float)


def point_to_msg(p: np.ndarray) -> Point:
    return Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))


def vector_to_msg(v: np.ndarray) -> Vector3:
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def msg_to_vector(v: Point | Vector3) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=float)


def pose_to_msg(position: np.ndarray, quat_wxyz: np.ndarray) -> Pose:
    return Pose(position=point_to_msg(position), orientation=quat_wxyz_to_msg(quat_wxyz))


def msg_to_pose(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """(position, quaternion wxyz) of a Pose; raises InvalidMessage on NaN or a zero quat."""
    position = msg_to_vector(pose.position)
    quat = msg_to_quat_wxyz(pose.orientation)
    if not (np.all(np.isfinite(position)) and np.all(np.isfinite(quat))):
        raise InvalidMessage("pose contains NaN or infinity")
    norm = float(np.linalg.norm(quat))
    if abs(norm - 1.0) > 1e-3:
        raise InvalidMessage(f"pose quaternion is not unit length (|q| = {norm:.4f})")
    return position, quat / norm


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    return Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()


def matrix_to_quat_wxyz(rotation: np.ndarray) -> np.ndarray:
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    return np.array([w, x, y, z])


def homogeneous(position: np.ndarray, quat_wxyz: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = quat_wxyz_to_matrix(quat_wxyz)
    matrix[:3, 3] = position
    return matrix


def transform_to_msg(parent: str, child: str, stamp: TimeMsg, position: np.ndarray,
                     quat_wxyz: np.ndarray) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = parent
    msg.child_frame_id = child
    msg.transform = Transform(translation=vector_to_msg(position),
                              rotation=quat_wxyz_to_msg(quat_wxyz))
    return msg


def odometry_msg(stamp: TimeMsg, frame: str, child: str, position: np.ndarray,
                 quat_wxyz: np.ndarray, velocity: np.ndarray,
                 variances: tuple[float, float, float]) -> Odometry:
    """nav_msgs/Odometry of a planar base: pose in `frame`, velocity (vx, vy, wz) in
    `child`, diagonal covariances (x, y, yaw) with z, roll and pitch fixed (tiny)."""
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame
    msg.child_frame_id = child
    msg.pose.pose.position = point_to_msg(position)
    msg.pose.pose.orientation = quat_wxyz_to_msg(quat_wxyz)
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = float(velocity[0]), float(velocity[1])
    msg.twist.twist.angular.z = float(velocity[2])
    fixed = 1e-6
    var_x, var_y, var_yaw = variances
    diagonal = [var_x, var_y, fixed, fixed, fixed, var_yaw]
    msg.pose.covariance = [float(diagonal[i // 6]) if i % 7 == 0 else 0.0 for i in range(36)]
    msg.twist.covariance = [0.01 if i % 7 == 0 else 0.0 for i in range(36)]
    return msg


def yaw_to_quat_wxyz(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2.0), 0.0, 0.0, math.sin(yaw / 2.0)])


# --- images -----------------------------------------------------------------------------------
def rgb_to_image(rgb: np.ndarray, stamp: TimeMsg, frame_id: str) -> Image:
    height, width = rgb.shape[:2]
    msg = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def depth_to_image(depth_m: np.ndarray, stamp: TimeMsg, frame_id: str) -> Image:
    """32FC1 z-depth in metres, invalid = NaN (REP 118)."""
    height, width = depth_m.shape
    msg = Image(height=height, width=width, encoding="32FC1", is_bigendian=0, step=width * 4)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(depth_m, dtype="<f4").tobytes()
    return msg


def image_to_numpy(msg: Image, expected: tuple[str, ...] = ("rgb8", "32FC1", "16UC1")
                   ) -> np.ndarray:
    """Decode and validate an Image; 16UC1 depth (mm) is returned in metres (0 -> NaN)."""
    layouts = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "32FC1": (np.float32, 1),
               "16UC1": (np.uint16, 1), "mono8": (np.uint8, 1)}
    if msg.encoding not in expected or msg.encoding not in layouts:
        raise InvalidMessage(f"image encoding '{msg.encoding}' not accepted "
                             f"(expected one of {', '.join(expected)})")
    dtype, channels = layouts[msg.encoding]
    itemsize = np.dtype(dtype).itemsize
    if msg.width == 0 or msg.height == 0:
        raise InvalidMessage(f"image is empty ({msg.width}x{msg.height})")
    row = msg.width * channels * itemsize
    if msg.step < row or len(msg.data) != msg.step * msg.height:
        raise InvalidMessage(f"image {msg.width}x{msg.height} {msg.encoding}: step {msg.step}"
                             f" and {len(msg.data)} bytes do not match")
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)
    pixels = buffer[:, :row].copy().view(np.dtype(dtype).newbyteorder(
        ">" if msg.is_bigendian else "<"))
    pixels = pixels.reshape(msg.height, msg.width, channels) if channels > 1 else \
        pixels.reshape(msg.height, msg.width)
    if msg.encoding == "16UC1":
        depth = pixels.astype(np.float32) / 1000.0
        depth[pixels == 0] = np.nan
        return depth
    if msg.encoding == "32FC1":
        return pixels.astype(np.float32)
    if msg.encoding == "bgr8":
        return pixels[..., ::-1].copy()
    return pixels


def camera_info(width: int, height: int, fx: float, fy: float, cx: float, cy: float,
                stamp: TimeMsg, frame_id: str) -> CameraInfo:
    """Pinhole CameraInfo without distortion (what a rectified driver publishes)."""
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def store_tf_message(buffer, msg, static: bool,
                     children: frozenset[str] | None = None) -> list[str]:
    """Put the transforms of a tf2_msgs/TFMessage into a `TransformBuffer` (only those whose
    child frame is in `children`, when given: /tf carries ~100 messages/s of arm links that
    a base node need not convert); returns the reasons of the ones refused (NaN, a frame as
    its own parent)."""
    refused = []
    for t in msg.transforms:
        if children is not None and t.child_frame_id not in children:
            continue
        try:
            matrix = homogeneous(msg_to_vector(t.transform.translation),
                                 msg_to_quat_wxyz(t.transform.rotation))
            if not np.all(np.isfinite(matrix)):
                raise ValueError("NaN in transform")
            buffer.set_transform(t.header.frame_id, t.child_frame_id,
                                 time_to_sec(t.header.stamp), matrix, static=static)
        except ValueError as exc:
            refused.append(f"{t.header.frame_id}->{t.child_frame_id}: {exc}")
    return refused
