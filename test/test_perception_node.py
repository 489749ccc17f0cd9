"""The perception node in the running graph: the simulation's camera in, detections out.

Checked on the wire: detections carry the stamps of the images they come from and the world
frame, the smoke family's tray part is found where the simulation's ground truth has it, and a
malformed image is rejected and counted on /diagnostics without stopping the node. Bad start-up
configuration ends the process with one line naming the parameter.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Probe, Stack
from sensor_msgs.msg import Image
from test_bad_config import node_spec, run_until_exit
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from foresight_common import contract
from foresight_common.conversions import (
    msg_to_vector,
    sec_to_duration,
    sec_to_time,
    time_to_sec,
)
from foresight_common.robot_model import ARM_JOINTS, HOME_POSITIONS

pytestmark = pytest.mark.slow

WAIT_S = 120.0


def start(launch_stack, probe: Probe) -> tuple[Stack, object]:
    stack = launch_stack(nodes=("simulation", "perception"), camera_width=320,
                         camera_height=240, camera_rate_hz=10)
    for topic in (contract.DETECTIONS, contract.COLOR_IMAGE, contract.GT_OBJECTS,
                  contract.DIAGNOSTICS, contract.PERCEPTION_MARKERS):
        probe.subscribe(topic)
    # The simulation holds time at 0 until a controller client publishes arm commands.
    arm = probe.node.create_publisher(JointTrajectory, contract.ARM_TRAJECTORY.name,
                                      contract.ARM_TRAJECTORY.qos)
    return stack, arm


def swing_arm_aside(probe: Probe, arm, stack: Stack) -> None:
    """At home the arm hides the smoke family's tray slot from the overhead camera (as it
    would a real camera): turn the base joint so the tray is in view."""
    probe.wait_for(lambda: arm.get_subscription_count() > 0, 60, "the simulation to listen "
                   "to arm commands", stack)
    target = list(HOME_POSITIONS)
    target[0] -= 0.9
    msg = JointTrajectory(joint_names=list(ARM_JOINTS))
    msg.points.append(JointTrajectoryPoint(positions=target,
                                           time_from_start=sec_to_duration(3.0)))
    arm.publish(msg)


def perception_counts(probe: Probe) -> dict[str, int]:
    """Latest counters the perception node published on /diagnostics."""
    counts: dict[str, int] = {}
    for msg in probe.messages(contract.DIAGNOSTICS.name):
        for status in msg.status:
            if status.name.startswith("perception"):
                for kv in status.values:
                    if kv.value.isdigit():
                        counts[kv.key] = int(kv.value)
    return counts


def test_detections_carry_image_stamps_and_find_the_tray_part(launch_stack, probe):
    stack, arm = start(launch_stack, probe)
    swing_arm_aside(probe, arm, stack)
    probe.wait_for(lambda: len(probe.messages(contract.DETECTIONS.name)) >= 10, WAIT_S,
                   "10 detection arrays", stack)
    probe.wait_for(lambda: time_to_sec(probe.messages(contract.DETECTIONS.name)[-1].header
                                       .stamp) > 4.0, WAIT_S, "detections after the arm "
                   "moved aside (4 s of simulated time)", stack)
    detections = probe.messages(contract.DETECTIONS.name)
    image_stamps = {time_to_sec(m.header.stamp)
                    for m in probe.messages(contract.COLOR_IMAGE.name)}
    stamps = [time_to_sec(m.header.stamp) for m in detections]
    assert all(m.header.frame_id == contract.WORLD_FRAME for m in detections)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # every detection array comes from one camera frame: its stamp is an image stamp
    seen = [s for s in stamps if min(image_stamps, default=s) <= s <= max(image_stamps,
                                                                         default=s)]
    assert seen and sum(s in image_stamps for s in seen) >= 0.8 * len(seen)
    assert all(0.0 < m.processing_time_s < 0.5 for m in detections)

    # the smoke family's tray part (kitted peg_round in slot_0) where ground truth has it
    truth = probe.messages(contract.GT_OBJECTS.name)[-1]
    tray_part = next(o for o in truth.objects if o.kind == "part" and o.status == "in_tray")
    expected = msg_to_vector(tray_part.pose.position)
    last = detections[-1]
    found = [msg_to_vector(d.pose.position) for d in last.detections
             if d.label == tray_part.type]
    assert found, f"no {tray_part.type} in {[d.label for d in last.detections]}"
    error = min(float(np.linalg.norm(p - expected)) for p in found)
    assert error < 0.01, f"{tray_part.type} detected {error * 1e3:.1f} mm from ground truth"
    labels = {d.label for d in last.detections}
    assert {"tray", "hole_round", "hole_square", "hole_slot"} <= labels
    best = min(last.detections, key=lambda d: float(np.linalg.norm(
        msg_to_vector(d.pose.position) - expected)))
    covariance = np.array(best.position_covariance).reshape(3, 3)
    assert np.all(np.linalg.eigvalsh(covariance) > 0)
    probe.wait_for(lambda: len(probe.messages(contract.PERCEPTION_MARKERS.name)) > 0, 10,
                   "perception markers", stack)


def test_malformed_image_is_rejected_and_counted(launch_stack, probe):
    stack, _arm = start(launch_stack, probe)
    probe.wait_for(lambda: len(probe.messages(contract.DETECTIONS.name)) >= 2, WAIT_S,
                   "first detections", stack)
    publisher = probe.node.create_publisher(Image, contract.COLOR_IMAGE.name,
                                            contract.COLOR_IMAGE.qos)
    bad = Image(height=240, width=320, encoding="mono16", step=640,
                data=bytes(320 * 240 * 2))
    bad.header.stamp = sec_to_time(1.0)
    bad.header.frame_id = contract.CAMERA_OPTICAL_FRAME
    probe.wait_for(lambda: publisher.get_subscription_count() > 0, 10, "perception to "
                   "subscribe to our publisher", stack)
    for _ in range(3):
        publisher.publish(bad)
    probe.wait_for(lambda: perception_counts(probe).get("rejected.color_image", 0) >= 1, 20,
                   "rejected.color_image on /diagnostics", stack)
    before = len(probe.messages(contract.DETECTIONS.name))
    probe.wait_for(lambda: len(probe.messages(contract.DETECTIONS.name)) >= before + 3, 30,
                   "detections after the malformed image", stack)
    stack.runner.check()


def test_missing_class_config_exits_with_one_line(domain_id):
    spec = node_spec("perception", class_config_file="/nonexistent/classes.yaml")
    code, lines = run_until_exit(spec, domain_id)
    output = "\n".join(lines)
    assert code == 2, output
    assert "Traceback" not in output
    assert sum("class_config_file" in line and "/nonexistent/classes.yaml" in line
               for line in lines) == 1, output


def test_unknown_backend_exits_with_one_line(domain_id):
    spec = node_spec("perception", detector_backend="no_such_backend")
    code, lines = run_until_exit(spec, domain_id)
    output = "\n".join(lines)
    assert code == 2, output
    assert "Traceback" not in output
    assert any("detector_backend" in line and "classical" in line for line in lines), output

