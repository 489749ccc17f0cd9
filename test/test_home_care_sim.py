"""The home-care robot as hardware, checked on the wire: the simulation and TF publisher of
launch/home_care.launch.xml as real processes; the base driven by cmd_vel, its wheel
odometry (and odom -> base_link) drifting from the true pose, the head camera mounted on
base_link, the arm's TF under base_link, and bad commands rejected."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
from geometry_msgs.msg import TwistStamped
from rclpy.action import ActionClient

from foresight_common import contract
from foresight_common.conversions import time_to_sec
from foresight_interfaces.action import NavigateToPose

pytestmark = pytest.mark.slow


def _drive(probe, publisher, vx: float, vy: float, wz: float,
           frame: str = "base_link") -> None:
    msg = TwistStamped()
    msg.header.frame_id = frame
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.angular.z = vx, vy, wz
    publisher.publish(msg)


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def test_base_drives_on_cmd_vel_and_odometry_drifts_from_the_truth(launch_stack, probe):
    for topic in (contract.ODOM, contract.GT_ROBOT_ODOM, contract.TF_TOPIC,
                  contract.TF_STATIC_TOPIC, contract.COLOR_IMAGE, contract.DIAGNOSTICS,
                  contract.GT_OBJECTS, contract.GT_SAFETY, contract.ROBOT_DESCRIPTION):
        probe.subscribe(topic)
    cmd = probe.node.create_publisher(TwistStamped, contract.CMD_VEL.name,
                                      contract.CMD_VEL.qos)
    stack = launch_stack(nodes=("simulation", "tf_publisher"), scenario="home_care")
    probe.wait_for(lambda: len(probe.messages(contract.ODOM.name)) >= 5, 90,
                   "odometry from the base driver", stack)
    start = probe.messages(contract.GT_ROBOT_ODOM.name)[-1].pose.pose
    # sideways (the base is holonomic) at 0.3 m/s, turning left at 0.2 rad/s, for ~6 s of
    # simulated time: an arc through the free floor south of the table; then stop
    first = time_to_sec(probe.messages(contract.ODOM.name)[-1].header.stamp)

    def sim_now() -> float:
        return time_to_sec(probe.messages(contract.ODOM.name)[-1].header.stamp)

    while sim_now() - first < 6.0:
        _drive(probe, cmd, 0.0, -0.3, 0.2)
        time.sleep(0.1)
        stack.runner.check()
    _drive(probe, cmd, 0.0, 0.0, 0.0)
    _drive(probe, cmd, 1.0, 0.0, 0.0, frame="map")     # wrong frame: rejected
    moved_at = sim_now()
    probe.wait_for(lambda: sim_now() - moved_at > 2.0, 30, "the base to stop", stack)

    truth = probe.messages(contract.GT_ROBOT_ODOM.name)[-1]
    odom = probe.messages(contract.ODOM.name)[-1]
    assert truth.header.frame_id == "map" and odom.header.frame_id == "odom"
    assert odom.child_frame_id == "base_link"
    travelled = math.dist((truth.pose.pose.position.x, truth.pose.pose.position.y),
                          (start.position.x, start.position.y))
    assert 1.2 < travelled < 2.2                       # ~6 s at 0.3 m/s along an arc
    assert math.hypot(truth.twist.twist.linear.x, truth.twist.twist.linear.y) < 0.02
    turned = _yaw(truth.pose.pose.orientation) - _yaw(start.orientation)
    assert 0.8 < turned < 1.5
    assert not any(m.robot_contacts for m in probe.messages(contract.GT_SAFETY.name))
    # odometry starts at the origin of odom and follows the motion, but not exactly
    odom_dist = math.hypot(odom.pose.pose.position.x, odom.pose.pose.position.y)
    assert odom_dist == pytest.approx(travelled, rel=0.1)
    assert odom_dist != pytest.approx(travelled, rel=1e-4)
    assert odom.pose.covariance[0] > 1e-4              # uncertainty grew with the distance
    # what a base driver broadcasts: odom -> base_link on /tf
    base_tf = [t for m in probe.messages(contract.TF_TOPIC.name) for t in m.transforms
               if t.child_frame_id == "base_link"]
    assert base_tf and base_tf[-1].header.frame_id == "odom"
    # the head camera is mounted on the base; the arm hangs below base_link too
    static = {t.child_frame_id: t.header.frame_id
              for m in probe.messages(contract.TF_STATIC_TOPIC.name) for t in m.transforms}
    assert static[contract.CAMERA_FRAME] == "base_link"
    assert static[contract.CAMERA_OPTICAL_FRAME] == contract.CAMERA_FRAME
    assert static["panda_link0"] == "base_link"
    # RViz draws the whole robot: the description's root is the base
    probe.wait_for(lambda: probe.messages(contract.ROBOT_DESCRIPTION.name), 10,
                   "robot_description", stack)
    assert '<link name="base_link">' in probe.messages(contract.ROBOT_DESCRIPTION.name)[-1].data
    image = probe.messages(contract.COLOR_IMAGE.name)[-1]
    assert (image.width, image.height) == (160, 120)   # home_smoke's camera
    # ground truth: the room's objects in map, resting on their surfaces
    objects = {o.name: o for o in probe.messages(contract.GT_OBJECTS.name)[-1].objects}
    assert objects["cup"].status == "on:table" and objects["remote"].status == "on:shelf/1"
    assert {"table", "bed", "shelf", "person/head", "base_link"} <= set(objects)
    # the command in the wrong frame was refused, with its reason, and counted
    assert "rejected cmd_vel" in stack.output("simulation")
    probe.wait_for(lambda: any(v.key == "rejected.cmd_vel" and int(v.value) >= 1
                               for m in probe.messages(contract.DIAGNOSTICS.name)
                               for st in m.status for v in st.values), 10,
                   "the rejected command on /diagnostics", stack)


def test_the_person_is_seen_and_tracked_in_the_map_frame(launch_stack, probe):
    """Simulation, TF, localisation, perception and the world model as real processes
    (home_smoke: the person sits in the chair): the base turns towards the chair; the
    person's torso and head come out in `map`, where the ground truth has them, and the
    world model tracks and predicts them there; objects in view are where they are."""
    for topic in (contract.DETECTIONS, contract.GT_OBJECTS, contract.ODOM,
                  contract.DIAGNOSTICS, contract.PERSON_TRACKS, contract.PREDICTIONS,
                  contract.OBJECT_TRACKS):
        probe.subscribe(topic, keep=2000)
    cmd = probe.node.create_publisher(TwistStamped, contract.CMD_VEL.name,
                                      contract.CMD_VEL.qos)
    stack = launch_stack(nodes=("simulation", "tf_publisher", "localization", "perception",
                                "world_model"), scenario="home_care")
    probe.wait_for(lambda: probe.messages(contract.DETECTIONS.name), 90,
                   "detections in the map frame", stack)

    def sim_now() -> float:
        return time_to_sec(probe.messages(contract.ODOM.name)[-1].header.stamp)

    # from the start the cup on the table is 1.4 m ahead: seen and tracked where it is
    probe.wait_for(lambda: any(t.label == "cup" for m in probe.messages(
        contract.OBJECT_TRACKS.name) for t in m.tracks), 30, "a cup track", stack)
    cup = next(t for t in probe.messages(contract.OBJECT_TRACKS.name)[-1].tracks
               if t.label == "cup")
    true_cup = next(o.pose.position for o in probe.messages(contract.GT_OBJECTS.name)[-1]
                    .objects if o.name == "cup")
    cup_error = math.dist((cup.pose.position.x, cup.pose.position.y, cup.pose.position.z),
                          (true_cup.x, true_cup.y, true_cup.z))
    print(f"\ncup track {cup_error:.3f} m from the truth")
    assert cup_error < 0.04
    first = sim_now()
    while sim_now() - first < 1.5:                     # ~0.5 rad to the left: the chair
        _drive(probe, cmd, 0.0, 0.0, 0.4)
        time.sleep(0.1)
        stack.runner.check()
    _drive(probe, cmd, 0.0, 0.0, 0.0)
    turned = sim_now()
    probe.wait_for(lambda: sum(time_to_sec(m.header.stamp) > turned + 1.0
                               for m in probe.messages(contract.DETECTIONS.name)) >= 15, 60,
                   "15 frames after the turn", stack)
    truth = {o.name: o.pose.position
             for o in probe.messages(contract.GT_OBJECTS.name)[-1].objects}
    seen = [m for m in probe.messages(contract.DETECTIONS.name)
            if time_to_sec(m.header.stamp) > turned + 1.0]
    assert all(m.header.frame_id == "map" for m in seen)
    for m in seen:                                       # objects in view: where they are
        for d in m.detections:
            t = truth[d.label]
            assert math.dist((d.pose.position.x, d.pose.position.y, d.pose.position.z),
                             (t.x, t.y, t.z)) < 0.05, d
    with_person = [m for m in seen if m.people]
    assert len(with_person) >= 0.8 * len(seen)
    errors = {"torso": [], "head": []}
    for m in with_person:
        assert len(m.people) == 1
        points = dict(zip(m.people[0].keypoint_names, m.people[0].keypoints, strict=True))
        for name in errors:
            if name in points:
                p, t = points[name], truth[f"person/{name}"]
                errors[name].append(math.dist((p.x, p.y), (t.x, t.y)))
    print(f"\nperson in map from {len(with_person)} of {len(seen)} frames: torso error median "
          f"{np.median(errors['torso']):.3f} m, max {max(errors['torso']):.3f} m; head "
          f"median {np.median(errors['head']):.3f} m ({len(errors['head'])} frames)")
    assert len(errors["torso"]) == len(with_person) and max(errors["torso"]) < 0.15
    assert errors["head"] and np.median(errors["head"]) < 0.08
    # the world model: one person track in map near the truth, its body predicted
    tracks = [m for m in probe.messages(contract.PERSON_TRACKS.name)
              if time_to_sec(m.header.stamp) > turned + 1.0 and m.people]
    assert tracks and all(m.header.frame_id == "map" for m in tracks)
    person = tracks[-1].people[0]
    torso = dict(zip(person.keypoint_names, person.keypoints, strict=True))["torso"]
    t = truth["person/torso"]
    assert math.dist((torso.x, torso.y), (t.x, t.y)) < 0.15
    predicted = [p for m in probe.messages(contract.PREDICTIONS.name) for p in m.predictions
                 if p.label == "person" and p.keypoint == "torso"]
    assert predicted and len(predicted[-1].horizons_s) >= 2


def _navigate(probe, stack, client, x: float, y: float, yaw: float, timeout: float):
    goal = NavigateToPose.Goal()
    goal.pose.header.frame_id = "map"
    goal.timeout_s = float(timeout)    # an int here is serialised as garbage (rosidl, Kilted)
    goal.pose.pose.position.x, goal.pose.pose.position.y = x, y
    goal.pose.pose.orientation.w, goal.pose.pose.orientation.z = math.cos(yaw / 2), \
        math.sin(yaw / 2)
    future = client.send_goal_async(goal)
    probe.wait_for(future.done, 10, "the goal to be accepted", stack)
    handle = future.result()
    assert handle.accepted
    result = handle.get_result_async()
    probe.wait_for(result.done, timeout, "the navigation result", stack)
    return result.result().result


#: Scenes driven: the nominal room, and a train room whose table, chair and bedside table
#: stand elsewhere (the robot's map is the nominal room: the obstacle layer must see them).
#: FORESIGHT_NAV_FAMILY=home_heldout:SEED drives a held-out room instead (a measurement,
#: not a CI case: held-out families are not for tuning).
NAV_SCENES = [tuple(os.environ["FORESIGHT_NAV_FAMILY"].split(":"))] if os.environ.get(
    "FORESIGHT_NAV_FAMILY") else [("home_smoke", "0"), ("home_train", "1")]


@pytest.mark.parametrize("family,seed", NAV_SCENES)
def test_base_navigates_to_a_pose_localised_against_the_room(launch_stack, probe, family,
                                                             seed):
    """The home graph up to navigation as real processes (simulation, TF, localisation,
    perception, world model with the person's tracks, navigation): the base drives from its
    start to a pose beside the bedside table and then to the shelf; the judge of where it is
    is ground truth. Localisation must beat the drifting odometry; no contact."""
    for topic in (contract.GT_ROBOT_ODOM, contract.ODOM, contract.LOCALIZATION_POSE,
                  contract.GT_SAFETY, contract.NAVIGATION_PLAN, contract.DIAGNOSTICS):
        probe.subscribe(topic, keep=5000)
    client = ActionClient(probe.node, NavigateToPose, contract.NAVIGATE_TO_POSE.name)
    probe.node.create_publisher(TwistStamped, contract.CMD_VEL.name, contract.CMD_VEL.qos)
    stack = launch_stack(nodes=("simulation", "tf_publisher", "localization", "perception",
                                "world_model", "navigation"),
                         scenario="home_care", family=family, seed=seed)
    probe.wait_for(lambda: client.wait_for_server(timeout_sec=0.1), 90,
                   "the navigate_to_pose server", stack)
    probe.wait_for(lambda: len(probe.messages(contract.LOCALIZATION_POSE.name)) >= 3, 60,
                   "localisation", stack)
    # bad goals first: one on the table is refused with the reason, no motion
    on_table = _navigate(probe, stack, client, 3.0, 2.6, 0.0, 30)
    assert not on_table.success and "of an obstacle" in on_table.reason
    for bad in ({"frame": "odom"}, {"timeout_s": 1e-9}, {"w": 0.0}):
        wrong = NavigateToPose.Goal()
        wrong.pose.header.frame_id = bad.get("frame", "map")
        wrong.pose.pose.orientation.w = bad.get("w", 1.0)
        wrong.timeout_s = bad.get("timeout_s", 0.0)
        future = client.send_goal_async(wrong)
        probe.wait_for(future.done, 10, f"the bad goal {bad} to be answered", stack)
        assert not future.result().accepted, bad
    for x, y, yaw in ((2.72, 0.52, 0.0), (0.97, 1.3, math.pi)):
        result = _navigate(probe, stack, client, x, y, yaw, 120)
        assert result.success, (result.reason, stack.output("navigation")[-2500:])
        truth = probe.messages(contract.GT_ROBOT_ODOM.name)[-1].pose.pose
        assert math.dist((truth.position.x, truth.position.y), (x, y)) < 0.12, {
            v.key: v.value for m in probe.messages(contract.DIAGNOSTICS.name)
            for st in m.status if "localization" in st.name for v in st.values}
        # a heading off by up to ~10 deg has been seen once in ~15 runs (open, see issue 5)
        assert abs(math.remainder(_yaw(truth.orientation) - yaw, 2 * math.pi)) < 0.25
    assert probe.messages(contract.NAVIGATION_PLAN.name)
    touches = [(time_to_sec(m.header.stamp), list(m.robot_contacts))
               for m in probe.messages(contract.GT_SAFETY.name) if m.robot_contacts]
    if touches:
        first = touches[0][0]
        at = min(probe.messages(contract.GT_ROBOT_ODOM.name),
                 key=lambda m: abs(time_to_sec(m.header.stamp) - first)).pose.pose
        trace = [(round(time_to_sec(m.header.stamp), 2),
                  round(m.pose.pose.position.x, 3), round(m.pose.pose.position.y, 3))
                 for m in probe.messages(contract.LOCALIZATION_POSE.name)
                 if abs(time_to_sec(m.header.stamp) - first) < 3.0]
        pytest.fail(f"the base touched {touches[0][1]} at {first:.2f} s ({len(touches)} "
                    f"samples), true pose ({at.position.x:.3f}, {at.position.y:.3f}, "
                    f"{math.degrees(_yaw(at.orientation)):.0f} deg); localised poses "
                    f"within 3 s: {trace}\n" + stack.output("navigation")[-2000:])
    # where localisation and where odometry alone put the base, against the truth (map):
    # every localised pose against the true pose of its stamp, and at the end (standing)
    settled = probe.messages(contract.LOCALIZATION_POSE.name)[-1].header.stamp
    probe.wait_for(lambda: time_to_sec(probe.messages(contract.LOCALIZATION_POSE.name)[-1]
                                       .header.stamp) > time_to_sec(settled) + 1.5, 30,
                   "localisation at rest", stack)
    truths = {time_to_sec(m.header.stamp): m.pose.pose
              for m in probe.messages(contract.GT_ROBOT_ODOM.name)}
    stamps = np.array(sorted(truths))
    errors = []
    for m in probe.messages(contract.LOCALIZATION_POSE.name):
        t = time_to_sec(m.header.stamp)
        nearest = truths[stamps[np.argmin(np.abs(stamps - t))]]
        errors.append(math.dist((m.pose.pose.position.x, m.pose.pose.position.y),
                                (nearest.position.x, nearest.position.y)))
    start = (1.3, 2.4, 0.0)
    truth = probe.messages(contract.GT_ROBOT_ODOM.name)[-1].pose.pose
    odom = probe.messages(contract.ODOM.name)[-1].pose.pose
    c, s = math.cos(start[2]), math.sin(start[2])
    odom_in_map = (start[0] + c * odom.position.x - s * odom.position.y,
                   start[1] + s * odom.position.x + c * odom.position.y)
    truth_xy = (truth.position.x, truth.position.y)
    odom_error = math.dist(odom_in_map, truth_xy)
    values = {v.key: v.value for m in probe.messages(contract.DIAGNOSTICS.name)
              for st in m.status if "localization" in st.name for v in st.values}
    print(f"\nlocalisation diagnostics: {values}")
    navigation = {v.key: v.value for m in probe.messages(contract.DIAGNOSTICS.name)
                  for st in m.status if "navigation" in st.name for v in st.values}
    print(f"navigation diagnostics: {navigation}")
    for name in ("perception", "tracking"):
        print(f"{name} diagnostics: ", {v.key: v.value for m in probe.messages(
            contract.DIAGNOSTICS.name) for st in m.status if name in st.name
            for v in st.values if not v.key.startswith("score.")})
    assert "obstacle_points" in navigation      # depth frames reached the obstacle layer
    print(f"\nlocalisation error over {len(errors)} poses: median {np.median(errors):.3f} m, "
          f"p95 {np.percentile(errors, 95):.3f} m, at rest {errors[-1]:.3f} m; odometry "
          f"alone at the end {odom_error:.3f} m")
    # facing the shelf, the position along it is seen only at its ends: a few cm there
    assert np.median(errors) < 0.04 and np.percentile(errors, 95) < 0.12
    assert errors[-1] < 0.10 and errors[-1] < odom_error
