import dataclasses
import math

import numpy as np
import pytest

from foresight_executor.safety import (
    ReachWatch,
    SafetyLevel,
    SpeedSeparationMonitor,
    SsmConfig,
    allowed_speed,
    collaborative_cap,
    finger_hold_width,
    on_body_outline,
    protective_distance,
)

CONFIG = SsmConfig(reaction_time_s=0.2, deceleration_mps2=2.5, intrusion_m=0.05,
                   sensor_uncertainty_m=0.03, robot_uncertainty_m=0.01, nominal_speed_mps=1.0,
                   robot_radius_m=0.0, hand_radius_m=0.0, body_radius_m=0.0)


def test_protective_distance_hand_computed():
    # v_r = 0.5: 1.6 (0.2 + 0.2) + 0.5 * 0.2 + 0.25 / 5 + 0.05 + 0.03 + 0.01
    #          = 0.64 + 0.1 + 0.05 + 0.09 = 0.88
    assert protective_distance(0.5, 1.6, CONFIG) == pytest.approx(0.88)
    # at rest: 1.6 * 0.2 + 0.09 = 0.41
    assert protective_distance(0.0, 1.6, CONFIG) == pytest.approx(0.41)


def test_allowed_speed_is_where_the_protective_distance_meets_the_separation():
    for separation in (0.5, 0.7, 1.2):
        v = allowed_speed(separation, 1.6, CONFIG)
        assert v > 0
        assert protective_distance(v, 1.6, CONFIG) == pytest.approx(separation)
    assert allowed_speed(0.40, 1.6, CONFIG) == 0.0  # closer than S_p at rest


def test_monitor_slows_stops_and_resumes_only_after_staying_clear():
    monitor = SpeedSeparationMonitor(CONFIG)
    robot = np.array([[0.0, 0.0, 1.0]])
    far = {"1/torso": np.array([3.0, 0.0, 1.0])}
    assert monitor.evaluate(0.0, robot, 0.5, far).level == SafetyLevel.OK
    near = {"1/torso": np.array([0.7, 0.0, 1.0])}
    verdict = monitor.evaluate(0.1, robot, 0.1, near)
    assert verdict.level == SafetyLevel.SLOW
    assert 0.0 < verdict.speed_scale < 1.0
    assert math.isclose(verdict.speed_scale, allowed_speed(0.7, 1.6, CONFIG))
    # moving fast at that distance is inside S_p: stop
    assert monitor.evaluate(0.2, robot, 0.8, near).level == SafetyLevel.STOP
    # clear again, but only for 0.3 s: still stopped; after 0.5 s: going
    assert monitor.evaluate(0.3, robot, 0.0, far).level == SafetyLevel.STOP
    assert monitor.evaluate(0.6, robot, 0.0, far).level == SafetyLevel.STOP
    assert monitor.evaluate(0.85, robot, 0.0, far).level == SafetyLevel.OK


def test_a_predicted_hand_counts_and_hands_are_faster():
    monitor = SpeedSeparationMonitor(CONFIG)
    robot = np.array([[0.0, 0.0, 1.0]])
    hand_now = {"1/right_hand": np.array([1.5, 0.0, 1.0])}
    coming = {"1/right_hand": np.array([[0.45, 0.0, 1.0]])}
    assert monitor.evaluate(0.0, robot, 0.0, hand_now).level == SafetyLevel.OK
    verdict = monitor.evaluate(0.1, robot, 0.0, hand_now, coming)
    # 0.45 m < 0.5 m: a hand at 2.0 m/s: S_p(0) = 2.0 * 0.2 + 0.09 = 0.49 > 0.45
    assert verdict.level == SafetyLevel.STOP
    assert verdict.protective_distance_m == pytest.approx(0.49)


def test_stale_inputs_stop():
    monitor = SpeedSeparationMonitor(CONFIG)
    verdict = monitor.stale(1.0, "person tracks")
    assert verdict.level == SafetyLevel.STOP and "stale" in verdict.reason


def test_the_unseen_body_behind_a_forearm_counts():
    from foresight_executor.safety import with_unseen_body

    people = {"3/right_hand": np.array([0.6, 0.0, 1.0]), "3/right_arm": np.array([0.8, 0.0, 1.0])}
    points = with_unseen_body(people, SsmConfig())
    body = [p for n, p in points.items() if "body" in n]
    assert len(body) == 3
    assert max(p[0] for p in body) == pytest.approx(0.8 + SsmConfig().body_extent_m)
    assert all(abs(p[1]) < 1e-9 for p in body)  # on the line hand -> forearm, beyond it


def test_allowed_speed_along_a_path_is_set_by_its_closest_point():
    monitor = SpeedSeparationMonitor(CONFIG)
    people = {"1/torso": np.array([1.0, 0.0, 1.0])}
    path = [np.array([[0.0, 0.0, 1.0]]), np.array([[0.4, 0.0, 1.0]]),
            np.array([[0.2, 0.0, 1.0]])]
    limits, _closest, _gaps = monitor.allowed_each(path, people)
    assert np.min(limits) == pytest.approx(allowed_speed(0.6, 1.6, CONFIG))
    assert np.all(monitor.allowed_each(path, {})[0] == math.inf)


def test_allowed_speed_per_sample_and_scan_points_count_as_hands_with_their_margin():
    config = SsmConfig(**{**CONFIG.__dict__, "scan_radius_m": 0.05, "reaction_time_s": 0.05})
    monitor = SpeedSeparationMonitor(config)
    people = {"scan/3": np.array([1.0, 0.0, 1.0])}
    path = [np.array([[0.0, 0.0, 1.0]]), np.array([[0.5, 0.0, 1.0]])]
    limits, closest, gaps = monitor.allowed_each(path, people)
    # 1.0 m - 0.05 m: farther than hand_near_m, body speed; 0.5 - 0.05 = 0.45 m: a hand
    assert limits[0] == pytest.approx(allowed_speed(0.95, 1.6, config))
    assert 0.0 < limits[1] == pytest.approx(allowed_speed(0.45, 2.0, config))
    assert limits[1] < allowed_speed(0.5, 2.0, config)
    assert closest[1].startswith("scan/3") and closest[1].endswith("0.45 m")
    assert gaps == pytest.approx([0.95, 0.45])


def test_the_hand_over_speed_cap_holds_only_near_the_person():
    """Power and force limiting where a hand may touch the robot; farther off (and where the
    separation is unknown) speed and separation monitoring alone."""
    gaps = np.array([0.2, 0.49, 0.5, 1.2, math.nan])
    assert collaborative_cap(gaps, 0.25, 0.5).tolist() == [0.25, 0.25, math.inf, math.inf,
                                                           0.25]
    assert collaborative_cap(0.8, 0.25, 0.5) == math.inf
    assert collaborative_cap(math.nan, 0.25, 0.5) == 0.25


def test_old_person_data_counts_as_a_hand_that_came_closer():
    """Positions measured 0.2 s ago: the hand may have moved 2.0 m/s * 0.2 s = 0.4 m closer
    since (the supervisor knows the image stamp of every track)."""
    monitor = SpeedSeparationMonitor(CONFIG)
    robot = np.array([[0.0, 0.0, 1.0]])
    hand = {"1/right_hand": np.array([0.8, 0.0, 1.0])}
    fresh = monitor.evaluate(0.0, robot, 0.0, hand, people_age_s=0.0)
    assert fresh.level != SafetyLevel.STOP and fresh.separation_m == pytest.approx(0.8)
    old = SpeedSeparationMonitor(CONFIG).evaluate(0.0, robot, 0.0, hand, people_age_s=0.2)
    assert old.separation_m == pytest.approx(0.4)
    assert old.level == SafetyLevel.STOP            # 0.4 m < S_p(0) = 0.49 m for a hand
    # a scanned point ages with the scan, not with the camera
    scanned = {"scan/7": np.array([0.8, 0.0, 1.0])}
    assert SpeedSeparationMonitor(CONFIG).evaluate(
        0.0, robot, 0.0, scanned, people_age_s=0.2, scan_age_s=0.0).separation_m == \
        pytest.approx(0.8 - CONFIG.scan_radius_m)


def test_a_hand_hidden_since_earlier_counts_as_older_than_the_track_message():
    """The world model keeps a hand the arm hides where it was last seen: the supervisor
    ages it from that measurement, so the region it may have reached grows while hidden;
    points added behind a forearm are as old as the forearm."""
    robot = np.array([[0.0, 0.0, 1.0]])
    people = {"1/right_hand": np.array([0.9, 0.0, 1.0]), "1/left_hand": np.array([0.0, 2.0, 1.0])}
    fresh = SpeedSeparationMonitor(CONFIG).evaluate(0.0, robot, 0.0, people, people_age_s=0.1)
    assert fresh.separation_m == pytest.approx(0.9 - 0.2)
    hidden = SpeedSeparationMonitor(CONFIG).evaluate(
        0.0, robot, 0.0, people, people_age_s=0.1, point_ages={"1/right_hand": 0.3})
    assert hidden.separation_m == pytest.approx(0.9 - 0.6)
    caps, _, _ = SpeedSeparationMonitor(CONFIG).allowed_each(
        [robot], people, people_age_s=0.1, point_ages={"1/right_hand": 0.3})
    assert caps[0] == pytest.approx(allowed_speed(0.3, CONFIG.hand_speed_mps, CONFIG))
    # a forearm 0.25 s old, its hand fresh in front of it: the body behind the forearm
    # (from 0.15 m on) counts as old as the forearm
    arm = {"1/right_hand": np.array([0.9, 0.0, 1.0]), "1/right_arm": np.array([1.2, 0.0, 1.0])}
    behind = SpeedSeparationMonitor(CONFIG).evaluate(
        0.0, robot, 0.0, arm, point_ages={"1/right_arm": 0.25, "1/right_hand": 0.0})
    assert behind.closest == "1/right_arm" and behind.separation_m == pytest.approx(1.2 - 0.5)
    # a hand beyond its forearm (reaching away): the body points lie towards the robot,
    # at 1.55 m the nearest, 0.25 s old like the forearm -> 1.05 m (fresh it would be 1.55)
    away = SpeedSeparationMonitor(CONFIG).evaluate(
        0.0, robot, 0.0, {"1/right_hand": np.array([3.0, 0.0, 1.0]),
                          "1/right_arm": np.array([2.0, 0.0, 1.0])},
        point_ages={"1/right_arm": 0.25, "1/right_hand": 0.0})
    assert away.closest == "1/right_body_2" and away.separation_m == pytest.approx(1.05)


def arc(centre_y: float, half_width: float, x: float, step: float = 0.02) -> np.ndarray:
    """Scan points along a body's front (a line at `x`), in ray order."""
    ys = np.arange(centre_y - half_width, centre_y + half_width + 1e-9, step)
    return np.stack([np.full_like(ys, x), ys, np.ones_like(ys)], axis=1)


def test_scan_points_on_a_torso_are_body_what_stands_out_or_stands_alone_may_be_a_hand():
    """The scanner at x = 0.97 looks along +x at a person whose torso front is at x = 1.25:
    the torso's points are body; a forearm held out 12 cm towards the scanner is not, nor
    is a lone narrow cluster (an arm or a hand by itself)."""
    origin, yaw = np.array([0.97, 0.10, 1.0]), 0.0
    config = SsmConfig()
    torso = arc(0.10, 0.14, 1.25)
    assert on_body_outline(torso, origin, yaw, config).all()
    held_out = torso.copy()
    held_out[6:9, 0] -= 0.12                  # three rays hit a forearm in front of the torso
    body = on_body_outline(held_out, origin, yaw, config)
    assert not body[6:9].any() and body[:6].all() and body[9:].all()
    lone = arc(-0.30, 0.04, 1.10)            # 8 cm wide: a hand or an arm
    points = np.vstack([lone, torso])
    body = on_body_outline(points, origin, yaw, config)
    assert not body[:len(lone)].any() and body[len(lone):].all()
    # the same scene turned by -90 degrees about the scanner: it faces -y, same answer
    offset = held_out - origin
    turned = origin + np.stack([offset[:, 1], -offset[:, 0], offset[:, 2]], axis=1)
    body = on_body_outline(turned, origin, -math.pi / 2, config)
    assert not body[6:9].any() and body[:6].all() and body[9:].all()
    assert on_body_outline(np.zeros((0, 3)), origin, yaw, config).shape == (0,)


def test_a_body_scan_point_counts_at_body_speed_a_possible_hand_at_hand_speed():
    config = dataclasses.replace(CONFIG, hand_near_m=1.0)
    robot = np.array([[0.0, 0.0, 1.0]])
    body = SpeedSeparationMonitor(config).evaluate(
        0.0, robot, 0.1, {"scan_body/0": np.array([0.8, 0.0, 1.0])})
    hand = SpeedSeparationMonitor(config).evaluate(
        0.0, robot, 0.1, {"scan/0": np.array([0.8, 0.0, 1.0])})
    assert body.protective_distance_m == pytest.approx(protective_distance(0.1, 1.6, config))
    assert hand.protective_distance_m == pytest.approx(protective_distance(0.1, 2.0, config))
    assert body.allowed_speed_mps > hand.allowed_speed_mps
    # a torso's outline is its surface; a hand may stand out of an arm's cut
    assert body.separation_m == pytest.approx(0.8 - config.body_scan_radius_m)
    assert hand.separation_m == pytest.approx(0.8 - config.scan_radius_m)
    assert config.body_scan_radius_m < config.scan_radius_m


def arm_cut(x: float, y: float) -> np.ndarray:
    """Scan points of a forearm cut 6 cm wide whose nearest point to the robot is at x."""
    return np.array([[x + 0.01, y - 0.03, 1.0], [x, y, 1.0], [x + 0.01, y + 0.03, 1.0]])


def test_an_arm_cut_advancing_towards_the_robot_marks_a_reach_start_for_a_while():
    """Scanner at x=0.97 looking along +x (away from the robot) at the co-worker: a cut
    moving to smaller x at >= 0.2 m/s is a hand setting off; it counts for 0.4 s, and up to
    1 s until the camera has measured a hand after it."""
    watch = ReachWatch(SsmConfig())
    origin, yaw = np.array([0.97, 0.10, 1.0]), 0.0
    rest = np.concatenate([arm_cut(1.02, -0.12), arm_cut(1.02, 0.32)])
    for k in range(5):  # resting arms: nothing
        assert watch.update(rest, 1.0 + 0.04 * k, origin, yaw) == []
    moving = np.concatenate([arm_cut(1.005, -0.12), arm_cut(1.02, 0.32)])  # 0.375 m/s
    starts = watch.update(moving, 1.20, origin, yaw)
    assert len(starts) == 1
    where, when = starts[0]
    np.testing.assert_allclose(where, [1.005, -0.12, 1.0])
    assert when == 1.20
    # the hand has dipped below the plane: the scan shows only the other arm
    assert len(watch.update(arm_cut(1.02, 0.32), 1.24, origin, yaw)) == 1
    # after 0.4 s it still counts while the camera has not measured a hand since 1.20 ...
    assert len(watch.update(arm_cut(1.02, 0.32), 1.64, origin, yaw, 1.10)) == 1
    # ... and is forgotten once it has (a hand measured at 1.35), or after 1 s anyway
    assert watch.update(arm_cut(1.02, 0.32), 1.68, origin, yaw, 1.35) == []
    blind = ReachWatch(SsmConfig())
    blind.update(rest, 1.16, origin, yaw)
    assert len(blind.update(moving, 1.20, origin, yaw)) == 1
    assert len(blind.update(arm_cut(1.02, 0.32), 2.16, origin, yaw)) == 1
    assert blind.update(arm_cut(1.02, 0.32), 2.24, origin, yaw) == []
    # an arm moving away from the robot, or an old scan, starts nothing
    away = ReachWatch(SsmConfig())
    # an arm next to the torso merges with its outline: its advance counts all the same
    merged = ReachWatch(SsmConfig())
    torso = arc(0.10, 0.08, 1.05)
    merged.update(np.vstack([arm_cut(1.04, -0.02), torso]), 3.0, origin, yaw)
    assert len(merged.update(np.vstack([arm_cut(1.02, -0.02), torso]), 3.04, origin,
                             yaw)) == 1
    away.update(arm_cut(1.00, 0.0), 2.0, origin, yaw)
    assert away.update(arm_cut(1.03, 0.0), 2.04, origin, yaw) == []
    assert away.update(arm_cut(0.99, 0.0), 2.04, origin, yaw) == []


def test_a_reach_start_grows_at_hand_speed_in_the_monitor():
    monitor = SpeedSeparationMonitor(CONFIG)
    robot = np.array([[0.60, -0.12, 1.0]])
    start = {"scan/reach_0": np.array([1.0, -0.12, 1.0])}
    fresh = monitor.evaluate(0.0, robot, 0.1, start, point_ages={"scan/reach_0": 0.0})
    later = monitor.evaluate(0.0, robot, 0.1, start, point_ages={"scan/reach_0": 0.15})
    # a scan point: the hand stands out of the cut by scan_radius_m
    assert fresh.separation_m == pytest.approx(0.40 - CONFIG.scan_radius_m)
    assert later.separation_m == pytest.approx(0.40 - CONFIG.scan_radius_m - 2.0 * 0.15)


def test_a_stop_holds_opening_fingers_and_never_loosens_a_grip():
    """Fingers squeezing a 61 mm box (commanded to 0) keep their command however they
    jiggle while the arm brakes; fingers opening to 80 mm stop where they are; fingers at
    rest or with no command are left alone."""
    assert finger_hold_width(0.0, 0.061, 0.02, 0.005) is None          # squeezing, jiggling
    assert finger_hold_width(0.0, 0.07, 0.05, 0.005) is None           # closing onto it
    assert finger_hold_width(0.08, 0.065, 0.02, 0.005) == 0.065        # opening: held there
    assert finger_hold_width(0.08, 0.065, 0.001, 0.005) is None        # at rest
    assert finger_hold_width(None, 0.065, 0.02, 0.005) is None         # nothing commanded
