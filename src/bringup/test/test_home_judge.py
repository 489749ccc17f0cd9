"""The home-care episode judge on hand-made ground-truth sequences: what counts as a
placement and as a hand-over, the hand-over window, comfort violations outside it, drops and
wrong placements; and the task texts."""

from __future__ import annotations

import math

import pytest

from foresight_bringup.home_judge import HomeJudge, ObjectSample, tilt_deg
from foresight_common.error_kinds import ErrorKind
from foresight_common.home_tasks import HOME_TASKS, PERSON, find_home_task

CUP, BOX, REMOTE = HOME_TASKS


def _run(judge: HomeJudge, frames) -> dict:
    """frames: (t, {name: ObjectSample}) every 0.1 s, then the record."""
    for t, objects in frames:
        judge.on_objects(t, objects)
        judge.on_safety(t, math.inf, [])
    return judge.record()


def _quat_tilted(deg: float) -> tuple[float, float, float, float]:
    half = math.radians(deg) / 2.0
    return (math.cos(half), math.sin(half), 0.0, 0.0)


def test_task_texts_are_found_whatever_the_case_and_spacing():
    assert find_home_task("Bring the cup to the person.") is CUP
    assert find_home_task("  put the medicine box on   the bedside table") is BOX
    assert find_home_task("fetch the remote from the shelf and put it on the table") is REMOTE
    assert find_home_task("make coffee") is None
    assert CUP.target == PERSON and CUP.is_handover and not BOX.is_handover


def test_a_placement_counts_once_the_object_rests_upright_and_still_for_a_second():
    judge = HomeJudge(BOX, "world_model", 60.0)
    on_table = ObjectSample("on:table", (3.3, 2.4, 0.775))
    held = ObjectSample("held", (3.0, 2.0, 1.0))
    placed = ObjectSample("on:bedside_table", (3.55, 0.30, 0.575))
    frames = [(0.1 * k, {"medicine_box": on_table}) for k in range(5)]
    frames += [(0.5 + 0.1 * k, {"medicine_box": held}) for k in range(10)]
    frames += [(1.5 + 0.1 * k, {"medicine_box": placed}) for k in range(9)]   # 0.8 s
    record = _run(judge, frames)
    assert not record["success"] and record["task_errors"] >= 1
    judge.on_objects(2.6, {"medicine_box": placed})                         # 1.1 s
    record = judge.record()
    assert record["success"] and record["items_done"] == 1
    assert record["placement"]["still_s"] == pytest.approx(1.1)
    assert record["task_errors"] == record["errors"][ErrorKind.TIMEOUT.value]


def test_a_tilted_or_moving_object_is_not_placed():
    judge = HomeJudge(BOX, "world_model", 60.0)
    tilted = ObjectSample("on:bedside_table", (3.55, 0.30, 0.575), _quat_tilted(20.0))
    assert tilt_deg(tilted.quat_wxyz) == pytest.approx(20.0)
    _run(judge, [(0.1 * k, {"medicine_box": tilted}) for k in range(30)])
    assert not judge.success
    assert judge.record()["placement"] == {"tilt_deg": 20.0, "still_s": 0.0}  # says why
    sliding = HomeJudge(BOX, "world_model", 60.0)
    _run(sliding, [(0.1 * k, {"medicine_box": ObjectSample(
        "on:bedside_table", (3.55 + 0.005 * k, 0.30, 0.575))}) for k in range(30)])
    assert not sliding.success                     # 5 cm/s: never still for 1 s


def test_a_wrong_surface_and_a_drop_are_errors():
    judge = HomeJudge(REMOTE, "reactive", 60.0)
    frames = [(0.0, {"remote": ObjectSample("on:shelf/1", (0.22, 1.42, 0.91))}),
              (0.5, {"remote": ObjectSample("held", (0.8, 1.4, 1.0))}),
              (1.0, {"remote": ObjectSample("on_floor", (0.9, 1.4, 0.02))}),
              (1.5, {"remote": ObjectSample("held", (0.9, 1.4, 0.5))})]
    frames += [(2.0 + 0.1 * k, {"remote": ObjectSample("on:bedside_table", (3.5, 0.3, 0.57))})
               for k in range(20)]
    record = _run(judge, frames)
    assert not record["success"]
    assert record["errors"][ErrorKind.DROPPED.value] == 1
    assert record["errors"][ErrorKind.WRONG_PLACEMENT.value] == 1


def _handover_frames(release_gap: float, reaching: bool, keep_s: float):
    """The cup carried to a reaching right hand, released `release_gap` m from it, then
    kept (handed_over) for `keep_s`."""
    hand = (3.0, 2.0, 1.0)
    hand_status = "reaching" if reaching else "rest"
    frames = []
    for k in range(10):                            # approach: 0.5 m -> 0.05 m from the hand
        cup = (3.0, 2.0 - 0.5 + 0.045 * k, 1.0)
        frames.append((0.1 * k, {"cup": ObjectSample("held", cup),
                                 "person/right_hand": ObjectSample(hand_status, hand)}))
    released = (3.0, 2.0 - release_gap, 1.0)
    for k in range(int(keep_s / 0.1) + 1):
        frames.append((1.0 + 0.1 * k, {"cup": ObjectSample("handed_over", released),
                                       "person/right_hand": ObjectSample(hand_status, hand)}))
    return frames


def test_a_handover_needs_a_reaching_hand_within_10_cm_and_2_s_without_a_drop():
    good = HomeJudge(CUP, "world_model", 60.0)
    assert _run(good, _handover_frames(0.05, True, 2.1))["success"]
    short = HomeJudge(CUP, "world_model", 60.0)
    record = _run(short, _handover_frames(0.05, True, 1.5))
    assert not record["success"] and record["errors"][ErrorKind.HANDOVER_FAILURE.value] == 1
    far = HomeJudge(CUP, "world_model", 60.0)
    assert not _run(far, _handover_frames(0.15, True, 2.5))["success"]
    not_reaching = HomeJudge(CUP, "world_model", 60.0)
    record = _run(not_reaching, _handover_frames(0.05, False, 2.5))
    assert not record["success"] and record["errors"][ErrorKind.HANDOVER_FAILURE.value] == 0


def test_coming_close_to_the_person_is_a_comfort_violation_only_outside_the_window():
    """0.2 m from the person while moving: a violation while carrying the cup past, none
    while the person reaches for it (the window), and a new one once the window's 5 s are
    over."""
    judge = HomeJudge(CUP, "world_model", 60.0)
    hand = (3.0, 2.0, 1.0)
    for k in range(10):                                       # passing by, no reach: 1 event
        t = 0.1 * k
        judge.on_objects(t, {"cup": ObjectSample("held", (2.0, 2.0, 1.0)),
                             "person/right_hand": ObjectSample("rest", hand)})
        judge.on_safety(t, 0.2, [], 0.3, "person/torso")
    for k in range(80):                                       # in the window for 5 s, then not
        t = 1.0 + 0.1 * k
        judge.on_objects(t, {"cup": ObjectSample("held", (3.0, 1.8, 1.0)),
                             "person/right_hand": ObjectSample("reaching", hand)})
        judge.on_safety(t, 0.2, [], 0.3, "person/right_hand")
    record = judge.record()
    assert record["comfort"]["violation_events"] == 2
    assert record["errors"][ErrorKind.COMFORT_VIOLATION.value] == 2
    assert record["comfort"]["violation_s"] == pytest.approx(0.9 + 2.9, abs=0.15)
    assert [(v["t"], v["person_part"]) for v in record["comfort"]["violations"]] == [
        (0.0, "person/torso"), (pytest.approx(6.1, abs=0.05), "person/right_hand")]
    assert record["comfort"]["violations"][0]["separation_m"] == 0.2
    standing = HomeJudge(CUP, "world_model", 60.0)
    standing.on_objects(0.0, {"cup": ObjectSample("held", (2.0, 2.0, 1.0))})
    standing.on_safety(0.0, 0.2, [], 0.0)                     # the robot stands still
    assert standing.record()["comfort"]["violation_events"] == 0


def test_separation_below_the_reference_in_the_window_is_reported_apart():
    """The arm creeping (0.05 m/s) with the reaching hand 2 cm off: inside the judge's
    hand-over window (5 s) reported apart, not a separation violation; after the 5 s, and
    with the hand not reaching, a violation."""
    judge = HomeJudge(CUP, "world_model", 60.0)
    hand = (3.0, 2.0, 1.0)
    for k in range(70):                                       # 5 s in the window, 2 s not
        t = 0.1 * k
        judge.on_objects(t, {"cup": ObjectSample("held", (3.0, 1.9, 1.0)),
                             "person/right_hand": ObjectSample("reaching", hand)})
        judge.on_safety(t, 0.02, [], 0.05, "person/right_hand")
    record = judge.record()
    assert record["separation"]["handover_window_events"] == 1
    assert record["separation"]["handover_window_s"] == pytest.approx(5.0, abs=0.15)
    assert record["separation"]["violation_events"] == 1
    assert record["separation"]["violation_s"] == pytest.approx(1.9, abs=0.15)
    resting = HomeJudge(CUP, "world_model", 60.0)
    resting.on_objects(0.0, {"cup": ObjectSample("held", (3.0, 1.9, 1.0)),
                             "person/right_hand": ObjectSample("rest", hand)})
    resting.on_safety(0.0, 0.02, [], 0.05, "person/right_hand")
    resting.on_safety(0.1, 0.02, [], 0.05, "person/right_hand")
    record = resting.record()
    assert record["separation"]["violation_events"] == 1
    assert record["separation"]["handover_window_events"] == 0


def test_collisions_and_timeouts_come_from_the_shared_safety_judge():
    judge = HomeJudge(BOX, "world_model", 2.0)
    for k in range(30):
        judge.on_safety(0.1 * k, math.inf, ["furniture"] if k < 5 else [], 0.2)
    record = judge.record()
    assert record["errors"][ErrorKind.COLLISION.value] == 1
    assert record["errors"][ErrorKind.TIMEOUT.value] == 1 and not record["success"]


def test_the_time_the_person_waited_for_the_robot_is_reported():
    """The simulated person stands waiting ("yielding" torso) for 1.5 s, walks on, waits
    again 0.5 s: two hold-ups, 2 s, next to the comfort figures (no error kind of its own)."""
    judge = HomeJudge(CUP, "world_model", 60.0)
    waits = [False] * 5 + [True] * 15 + [False] * 10 + [True] * 5 + [False] * 5
    for k, waiting in enumerate(waits):
        judge.on_objects(0.1 * k, {"cup": ObjectSample("on:table", (3.0, 2.6, 0.8)),
                                   "person/torso": ObjectSample(
                                       "yielding" if waiting else "", (4.0, 2.0, 1.0))})
    record = judge.record()
    assert record["comfort"]["person_held_up_events"] == 2
    assert record["comfort"]["person_held_up_s"] == pytest.approx(2.0, abs=1e-6)
    assert record["errors"][ErrorKind.COMFORT_VIOLATION.value] == 0


def test_the_taking_hand_on_the_gripper_counts_only_outside_the_hand_over_window():
    """The simulation reports the reaching hand's touch as HANDOVER_TOUCH: within the
    window (reaching, the cup within 0.3 m) no collision; after it, one with the person."""
    from foresight_common.home_tasks import HANDOVER_TOUCH

    def touched(hand_status: str) -> dict:
        judge = HomeJudge(CUP, "world_model", 60.0)
        for k in range(10):
            t = 0.1 * k
            judge.on_objects(t, {"cup": ObjectSample("held", (3.0, 2.05, 1.0)),
                                 "person/right_hand": ObjectSample(hand_status,
                                                                   (3.0, 2.0, 1.0))})
            judge.on_safety(t, -0.01, [HANDOVER_TOUCH], 0.0, "person/right_hand")
        return judge.record()

    assert touched("reaching")["errors"][ErrorKind.COLLISION.value] == 0
    record = touched("rest")
    assert record["errors"][ErrorKind.COLLISION.value] == 1
    assert record["collision_events"][0]["with"] == "person"
