"""The simulated RGB-D camera, checked on the wire: rate, encodings, intrinsics and depth."""

from __future__ import annotations

import numpy as np
import pytest
from trajectory_msgs.msg import JointTrajectory

from foresight_common import contract
from foresight_common.conversions import homogeneous, image_to_numpy, msg_to_vector, time_to_sec

pytestmark = pytest.mark.slow

# The nominal bench of config/cells/industrial_cell.yaml (centre (0.30, 0.20), 1.30 x 1.10).
BENCH_TOP_Z = 0.75
BENCH_X = (0.30 - 0.65, 0.30 + 0.65)
BENCH_Y = (0.20 - 0.55, 0.20 + 0.55)


def start_camera(launch_stack, probe, width: int, height: int, rate: float):
    stack = launch_stack(nodes=("simulation",), camera_width=width, camera_height=height,
                         camera_rate_hz=rate)
    for topic in (contract.COLOR_IMAGE, contract.DEPTH_IMAGE, contract.DEPTH_INFO,
                  contract.TF_STATIC_TOPIC):
        probe.subscribe(topic)
    # The simulation holds time at 0 until a controller client publishes arm commands.
    probe.node.create_publisher(JointTrajectory, contract.ARM_TRAJECTORY.name,
                                contract.ARM_TRAJECTORY.qos)
    return stack


def test_camera_rate_encodings_and_depth_of_the_bench_plane(launch_stack, probe):
    stack = start_camera(launch_stack, probe, 320, 240, 15.0)
    probe.wait_for(lambda: len(probe.messages(contract.DEPTH_IMAGE.name)) >= 40, 90,
                   "40 depth images", stack)
    colour = probe.messages(contract.COLOR_IMAGE.name)
    depth_msgs = probe.messages(contract.DEPTH_IMAGE.name)
    assert colour[-1].encoding == "rgb8" and depth_msgs[-1].encoding == "32FC1"
    assert (colour[-1].width, colour[-1].height) == (320, 240)
    assert depth_msgs[-1].header.frame_id == contract.CAMERA_OPTICAL_FRAME
    # Rate in simulated time: consecutive stamps 1/15 s apart; few frames lost on the way.
    stamps = np.array([time_to_sec(m.header.stamp) for m in depth_msgs])
    gaps = np.diff(stamps)
    assert np.median(gaps) == pytest.approx(1 / 15, abs=0.003)
    span_frames = (stamps[-1] - stamps[0]) * 15 + 1
    assert len(stamps) >= 0.6 * span_frames  # best-effort sensor QoS may drop some

    # Depth: deproject every pixel with the published intrinsics, move it to the world with
    # the published camera mounting: the bench top must come out flat at its known height.
    info = probe.messages(contract.DEPTH_INFO.name)[-1]
    fx, fy, cx, cy = info.k[0], info.k[4], info.k[2], info.k[5]
    depth = image_to_numpy(depth_msgs[-1])
    v, u = np.nonzero(np.isfinite(depth))
    z = depth[v, u]
    points = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z, np.ones_like(z)])
    transforms = {t.child_frame_id: t for m in probe.messages(contract.TF_STATIC_TOPIC.name)
                  for t in m.transforms}
    link = transforms[contract.CAMERA_FRAME].transform
    optical = transforms[contract.CAMERA_OPTICAL_FRAME].transform

    def matrix(t):
        q = t.rotation
        return homogeneous(msg_to_vector(t.translation), np.array([q.w, q.x, q.y, q.z]))

    world = matrix(link) @ matrix(optical) @ points
    # Inside the bench's footprint everything is on or above its top; the bench top itself is
    # flat at its height. Outside, the floor (z = 0) is flat too. A wrong focal length,
    # principal point or mounting tilts or scales these planes.
    (x0, x1), (y0, y1) = BENCH_X, BENCH_Y
    inside = (world[0] > x0 + 0.02) & (world[0] < x1 - 0.02) & (world[1] > y0 + 0.02) & \
        (world[1] < y1 - 0.02)
    outside = (world[0] < x0 - 0.05) | (world[0] > x1 + 0.05) | (world[1] < y0 - 0.05) | \
        (world[1] > y1 + 0.05)
    assert inside.mean() > 0.5
    on_bench = np.abs(world[2][inside] - BENCH_TOP_Z) < 0.003
    assert on_bench.mean() > 0.25, "the bench plane is not where the intrinsics put it"
    assert np.percentile(world[2][inside], 0.5) > BENCH_TOP_Z - 0.005
    # The bench top ends at its edges: lateral positions check the focal length and the
    # principal point (a 2 % error moves an edge 0.5 m off-axis by 1 cm).
    # Bands away from the co-worker, the conveyor and the bin.
    bench_level = np.abs(world[2] - BENCH_TOP_Z) < 0.003
    band_y = bench_level & (world[1] > -0.30) & (world[1] < -0.15)
    band_x = bench_level & (world[0] > 0.60) & (world[0] < 0.90)
    assert np.max(world[0][band_y]) == pytest.approx(x1, abs=0.006)
    assert np.min(world[1][band_x]) == pytest.approx(y0, abs=0.006)
    assert outside.sum() > 100
    # (the conveyor and the co-worker stand outside the bench too)
    assert (np.abs(world[2][outside]) < 0.003).mean() > 0.5, "floor not flat at z = 0"


def test_small_camera_resolution_is_honoured(launch_stack, probe):
    stack = start_camera(launch_stack, probe, 160, 120, 10.0)
    probe.wait_for(lambda: len(probe.messages(contract.COLOR_IMAGE.name)) >= 5, 90,
                   "5 colour images", stack)
    msg = probe.messages(contract.COLOR_IMAGE.name)[-1]
    assert (msg.width, msg.height) == (160, 120)
    info = probe.messages(contract.DEPTH_INFO.name)[-1]
    assert info.k[2] == pytest.approx((160 - 1) / 2) and info.k[5] == pytest.approx(59.5)
