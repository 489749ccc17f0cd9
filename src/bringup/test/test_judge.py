import math

import pytest

from foresight_bringup.judge import EpisodeJudge
from foresight_bringup.stats import paired_error_reduction, percentiles, wilson_interval


def make_judge(limit: float = 180.0) -> EpisodeJudge:
    return EpisodeJudge(scenario="industrial_assembly", task="assemble all",
                        decision_mode="reactive", time_limit_s=limit)


def test_success_needs_every_part_seated():
    judge = make_judge()
    judge.on_parts(1.0, {"part_0": "in_tray", "part_1": "on_conveyor"})
    judge.on_parts(20.0, {"part_0": "seated", "part_1": "in_bin"})
    judge.on_task_finished("done")
    record = judge.record()
    assert record["items_total"] == 2 and record["items_done"] == 1
    assert record["success"] is False
    assert record["errors"]["dropped"] == 0  # never held: it fell off the belt by itself
    assert record["task_errors"] == 1
    judge.on_parts(21.0, {"part_1": "seated"})
    assert judge.record()["success"] is True


def test_every_part_seated_for_a_while_ends_the_episode_without_a_timeout():
    judge = make_judge(limit=30.0)
    judge.on_parts(1.0, {"part_0": "seated", "part_1": "pending"})
    judge.on_parts(10.0, {"part_0": "seated", "part_1": "seated"})
    judge.on_parts(11.0, {"part_0": "seated", "part_1": "held"})  # taken out again
    judge.on_parts(11.5, {"part_0": "seated", "part_1": "seated"})
    judge.on_parts(13.0, {"part_0": "seated", "part_1": "seated"})
    assert not judge.done()  # seated 1.5 s only
    judge.on_parts(13.6, {"part_0": "seated", "part_1": "seated"})
    assert judge.done()
    record = judge.record()
    assert record["success"] and record["errors"]["timeout"] == 0
    assert record["duration_sim_s"] == 13.6


def test_drop_wrong_hole_collision_and_timeout_are_counted_once_per_event():
    judge = make_judge(limit=30.0)
    judge.on_parts(1.0, {"part_0": "held"})
    judge.on_parts(1.1, {"part_0": "fell"})
    judge.on_parts(1.2, {"part_0": "fell"})
    judge.on_parts(2.0, {"part_1": "wrong_hole"})
    judge.on_parts(2.1, {"part_1": "wrong_hole"})
    for t in (3.0, 3.02, 3.04, 3.06, 3.08):  # one contact lasting 80 ms, the robot braking
        judge.on_safety(t, 0.8, ["fixture"], robot_speed_mps=0.3 - 2.0 * (t - 3.0))
    judge.on_safety(3.2, 0.7, [])
    judge.on_safety(3.3, 0.6, ["fixture"])  # a 0-length touch: not an event
    judge.on_safety(3.4, 0.6, [])
    judge.on_safety(31.0, math.inf, [])
    record = judge.record()
    assert record["errors"]["dropped"] == 1
    assert record["errors"]["wrong_placement"] == 1
    assert record["errors"]["collision"] == 1
    assert record["errors"]["timeout"] == 1
    assert record["separation"]["min_m"] == 0.6
    assert record["collision_events"] == [{"t": 3.0, "with": "fixture", "robot_speed_mps": 0.3}]
    assert judge.done()


def test_paired_error_reduction_with_its_bootstrap_interval():
    # 1 - 6 / 12 = 0.5; every pair halves the errors, so every resample gives 0.5 too
    assert paired_error_reduction([1, 2, 3], [2, 4, 6]) == pytest.approx((0.5, 0.5, 0.5))
    # the pairs disagree: the point estimate lies inside a wide interval that holds 0
    reduction, low, high = paired_error_reduction([0, 9, 1, 8], [5, 5, 5, 5])
    assert reduction == pytest.approx(1 - 18 / 20) and low < 0.0 < high
    assert all(math.isnan(v) for v in paired_error_reduction([1, 2], [0, 0]))
    with pytest.raises(ValueError, match="equally long"):
        paired_error_reduction([1, 2], [1])


def test_wilson_interval_and_percentiles():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.25 < high < 0.35
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and 0.65 < low < 0.75
    assert wilson_interval(5, 10)[0] < 0.5 < wilson_interval(5, 10)[1]
    stats = percentiles(list(range(1, 101)))
    assert stats["n"] == 100 and stats["p50"] == 50.5 and 99 < stats["p99"] < 100


def test_protective_distance_matches_hand_computed_cases():
    from foresight_bringup.judge import protective_distance

    # v_r = 0.5 m/s: T_s = 0.5 / 2.5 = 0.2 s, B = 0.25 / 5 = 0.05 m
    # 1.6 (0.1 + 0.2) + 0.5 * 0.1 + 0.05 + 0.05 = 0.48 + 0.05 + 0.05 + 0.05 = 0.63
    assert protective_distance(0.5, "coworker/torso", 1.0) == pytest.approx(0.63)
    # a hand within 0.5 m moves at 2.0 m/s: 2.0 * 0.3 + 0.05 + 0.05 + 0.05 = 0.75
    assert protective_distance(0.5, "coworker/right_hand", 0.4) == pytest.approx(0.75)
    # the same hand farther than 0.5 m counts at 1.6 m/s
    assert protective_distance(0.5, "coworker/right_hand", 0.6) == pytest.approx(0.63)
    # a robot at rest: 1.6 * 0.1 + 0.05 = 0.21
    assert protective_distance(0.0, "coworker/head", 2.0) == pytest.approx(0.21)


def test_separation_violations_only_while_the_robot_moves():
    judge = make_judge()
    judge.on_safety(0.00, 0.30, [], robot_speed_mps=0.0, closest_part="coworker/right_hand")
    judge.on_safety(0.02, 0.30, [], robot_speed_mps=0.0, closest_part="coworker/right_hand")
    judge.on_safety(0.04, 0.30, [], robot_speed_mps=0.2, closest_part="coworker/right_hand")
    judge.on_safety(0.06, 0.30, [], robot_speed_mps=0.2, closest_part="coworker/right_hand")
    judge.on_safety(0.08, 1.50, [], robot_speed_mps=0.2, closest_part="coworker/right_hand")
    judge.on_safety(0.10, 0.30, [], robot_speed_mps=0.2, closest_part="coworker/right_hand")
    record = judge.record()
    first, second = record["separation"]["violations"]
    # the ground truth around each start: from 0.3 s before to 0.5 s after
    assert [row[0] for row in first["trace"]] == [-0.04, -0.02, 0.0, 0.02, 0.04]
    assert second["trace"][0] == [-0.1, 0.3, 0.0] and second["trace"][-1] == [0.0, 0.3, 0.2]
    assert record["separation"]["violation_events"] == 2
    assert record["separation"]["violation_s"] == pytest.approx(0.04)
    assert record["errors"]["separation_violation"] == 2


def test_a_violation_notes_what_the_supervisor_believed_and_when_it_stopped():
    judge = make_judge()
    judge.on_supervisor(0.95, 1, 0.40, 0.2, "12/left_hand 0.40 m away")
    judge.on_safety(1.00, 0.30, [], robot_speed_mps=0.2, closest_part="coworker/left_hand")
    judge.on_supervisor(1.02, 1, 0.35, 0.2, "still slow")
    judge.on_supervisor(1.08, 2, 0.10, 0.2, "safety stop")
    judge.on_supervisor(1.20, 2, 0.10, 0.0, "holding")
    violation = judge.record()["separation"]["violations"][0]
    assert violation["supervisor"]["state"] == 1
    assert violation["supervisor"]["age_s"] == pytest.approx(0.05)
    assert violation["supervisor"]["separation_m"] == pytest.approx(0.40)
    assert violation["stopped_after_s"] == pytest.approx(0.08)
    assert [row[0] for row in violation["trace"]] == [0.0]


def test_latency_pairs_commands_with_the_frame_they_came_from():
    judge = make_judge()
    judge.on_frame(1.0, 1000.000)
    judge.on_frame(1.0667, 1000.067)
    judge.on_command(1.0, 1000.030, "pick")  # 30 ms after its frame
    judge.on_command(1.0, 1000.500, "pick")  # later command of the same decision: ignored
    judge.on_command(1.0, 1003.000, "insert")  # the same decision's next skill: ignored
    judge.on_command(1.0667, 1000.112, "insert")  # 45 ms
    judge.on_command(0.0, 1001.0, "go_home")  # not from perception: no sample
    latency = judge.record()["latency_ms"]
    assert latency["n"] == 2
    assert sorted(latency["samples"]) == pytest.approx([30.0, 45.0], abs=0.01)


def test_perception_recall_and_error_of_visible_static_parts():
    judge = make_judge()
    judge.on_static_parts({"part_0": ("peg_round", (0.3, 0.3, 0.78)),
                           "part_1": ("peg_square", (0.4, 0.3, 0.78))})
    judge.on_detections([("peg_round", (0.305, 0.3, 0.78)), ("peg_round", (0.4, 0.3, 0.78))])
    perception = judge.record()["perception"]
    assert perception["recall_static"] == 0.5  # the square peg was called round: a miss
    assert perception["error_p50_m"] == pytest.approx(0.005)


def test_the_separation_series_holds_one_sample_per_period():
    judge = make_judge()
    for k in range(51):  # 1 s at 50 Hz; nobody in view for the first 0.1 s
        separation = math.inf if k < 5 else 0.5 - 0.001 * k
        judge.on_safety(k * 0.02, separation, [], robot_speed_mps=0.1,
                        closest_part="coworker/right_hand")
    series = judge.record()["separation"]["series"]
    assert [row[0] for row in series] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert series[0][1] is None and series[0][3] is None   # nobody: no distance, no S_p
    t, separation, speed, s_p = series[1]
    assert separation == pytest.approx(0.49) and speed == pytest.approx(0.1)
    # hand within 0.5 m at 0.1 m/s: 2.0 (0.1 + 0.04) + 0.1 * 0.1 + 0.01 / 5 + 0.05
    assert s_p == pytest.approx(0.342, abs=1e-3)
