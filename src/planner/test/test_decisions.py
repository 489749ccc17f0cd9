import dataclasses

import numpy as np
import pytest

from foresight_common.params import validate_params
from foresight_planner.decisions import (
    CONVEYOR,
    FAILED,
    HELD,
    PREEMPTED,
    REFUSED,
    SEATED,
    STATIC,
    Choice,
    DecisionMaker,
    Finished,
    GetReady,
    PredictedPath,
    TaskMemory,
    TrackedObject,
    Wait,
    WorldSnapshot,
    grasp_yaw,
)
from foresight_planner.planner_node import PlannerParams, decision_config


def makers(layout, library):
    world_model = decision_config(validate_params(PlannerParams, {
        "cell_file": "x", "skill_library_file": "x"}), layout, library)
    reactive = decision_config(validate_params(PlannerParams, {
        "cell_file": "x", "skill_library_file": "x", "decision_mode": "reactive"}), layout,
        library)
    return DecisionMaker(layout, world_model), DecisionMaker(layout, reactive)


def test_reactive_is_world_model_with_horizon_zero_and_nothing_else(layout, library):
    world_model, reactive = makers(layout, library)
    assert world_model.config.prediction_horizon_s > 0
    assert reactive.config.prediction_horizon_s == 0
    assert dataclasses.replace(world_model.config, prediction_horizon_s=0.0) == reactive.config


def obj(i, label, position, motion=STATIC, yaw=0.0, velocity=(0, 0, 0)):
    return TrackedObject(i, label, motion, np.array(position, float), yaw,
                         np.array(velocity, float))


def hole(layout, i, name):
    spec = layout.hole(name)
    return obj(i, spec.type, spec.position)


def conveyor_world(layout, now, y, speed=0.08):
    part = obj(1, "peg_round", (0.40, y, 0.8275), CONVEYOR, velocity=(0, speed, 0))
    holes = [hole(layout, 10, "hole_round_0")]
    times = now + np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    path = PredictedPath(times, np.array([[0.40, y + speed * (t - now), 0.8275]
                                          for t in times]))
    return WorldSnapshot(stamp=now, objects=[part, *holes], object_paths={1: path})


def test_world_model_intercepts_a_conveyor_part_inside_the_pick_zone(layout, library):
    world_model, _ = makers(layout, library)
    now = 10.0
    choice = world_model.next_step(conveyor_world(layout, now, -0.85), now, {}, set())
    assert isinstance(choice, Choice)
    low, high = layout.conveyor.pick_zone
    assert low <= choice.grasp_position[1] <= high
    assert choice.intercept_time >= now + world_model.config.min_intercept_lead_s
    # where the part will be then, on its predicted path
    expected_y = -0.85 + 0.08 * (choice.intercept_time - now)
    assert choice.grasp_position[1] == pytest.approx(expected_y, abs=1e-6)
    assert choice.velocity[1] == pytest.approx(0.08)


def test_reactive_takes_the_part_where_it_was_seen_and_only_once_in_reach(layout, library):
    _, reactive = makers(layout, library)
    now = 10.0
    upstream = reactive.next_step(conveyor_world(layout, now, -0.85), now, {}, set())
    assert isinstance(upstream, Wait) and "outside the pick zone" in upstream.reason
    inside = reactive.next_step(conveyor_world(layout, now, -0.50), now, {}, set())
    assert isinstance(inside, Choice)
    assert inside.intercept_time == 0.0 and not inside.velocity.any()
    assert inside.grasp_position[1] == pytest.approx(-0.50)


def test_predicted_hand_makes_world_model_wait_but_not_reactive(layout, library):
    world_model, reactive = makers(layout, library)
    now = 5.0
    part = obj(1, "peg_square", layout.slot("slot_1").position[:2] + (0.7825,))
    holes = [hole(layout, 10, "hole_square_0")]
    hand_now = np.array([1.0, 0.0, 0.9])
    target = np.array(layout.hole("hole_square_0").position)
    times = now + np.array([0.0, 1.0, 2.0])
    reach = PredictedPath(times, np.array([hand_now, (hand_now + target) / 2, target]))
    world = WorldSnapshot(stamp=now, objects=[part, *holes], people={"1/right_hand": hand_now},
                          people_paths={"1/right_hand": reach})
    waiting = world_model.next_step(world, now, {}, set())
    assert isinstance(waiting, Wait) and "predicted" in waiting.reason
    assert isinstance(reactive.next_step(world, now, {}, set()), Choice)


def test_seated_parts_are_done_and_wrong_holes_are_not_used(layout, library):
    world_model, _ = makers(layout, library)
    spec = layout.hole("hole_round_0")
    seated_centre = spec.position[2] - layout.fixture.hole_depth + 0.0275
    world = WorldSnapshot(stamp=1.0, objects=[
        obj(1, "peg_round", (spec.position[0], spec.position[1], seated_centre)),
        hole(layout, 10, "hole_round_0"), hole(layout, 11, "hole_square_0")])
    assert isinstance(world_model.next_step(world, 1.0, {}, set()), Finished)
    world.objects.append(obj(2, "peg_round", layout.slot("slot_0").position[:2] + (0.7835,)))
    stuck = world_model.next_step(world, 1.0, {}, set())
    assert isinstance(stuck, Wait) and "no free hole_round" in stuck.reason
    # after too many attempts a part is left alone
    world.objects.append(hole(layout, 12, "hole_round_1"))
    assert isinstance(world_model.next_step(world, 1.0, {}, set()), Choice)
    assert isinstance(world_model.next_step(world, 1.0, {2: 3}, set()), Finished)


def test_filled_holes_stay_done_even_when_perception_loses_the_hole(layout, library):
    world_model, _ = makers(layout, library)
    spec = layout.hole("hole_slot_0")
    seated_part = obj(1, "peg_slot", (spec.position[0] + 0.004, spec.position[1], 0.8015))
    world = WorldSnapshot(stamp=1.0, objects=[seated_part])  # the rim is hidden: no hole
    filled = (np.array(spec.position),)
    assert isinstance(world_model.next_step(world, 1.0, {}, set(), filled), Finished)
    assert not isinstance(world_model.next_step(world, 1.0, {}, set()), Finished)


def test_world_model_waits_above_the_belt_for_an_arriving_part_reactive_starts_the_tray(
        layout, library):
    world_model, reactive = makers(layout, library)
    now = 10.0
    world = conveyor_world(layout, now, -0.98, speed=0.06)  # ~8 s from the pick zone
    world.objects.append(obj(2, "peg_round", layout.slot("slot_0").position[:2] + (0.7835,)))
    world.objects.append(hole(layout, 11, "hole_round_1"))
    waiting = world_model.next_step(world, now, {}, set())
    assert isinstance(waiting, GetReady) and "reaches the pick zone" in waiting.reason
    low, high = layout.conveyor.pick_zone
    assert waiting.position[0] == pytest.approx(layout.conveyor.start[0])
    assert low <= waiting.position[1] <= high
    assert waiting.position[2] > layout.conveyor.belt_top_z + 0.1   # above, clear of parts
    # much later (beyond hold_for_conveyor_s) the tray part is worth starting
    far = conveyor_world(layout, now, -2.5, speed=0.06)
    far.objects.extend(world.objects[2:])
    assert isinstance(world_model.next_step(far, now, {}, set()), Choice)
    chosen = reactive.next_step(world, now, {}, set())
    assert isinstance(chosen, Choice) and chosen.part.id == 2


def test_parts_in_the_reject_bin_are_scrap(layout, library):
    world_model, _ = makers(layout, library)
    centre = layout.reject_bin.center
    world = WorldSnapshot(stamp=1.0, objects=[obj(1, "peg_round", (centre[0], centre[1], 0.78)),
                                              hole(layout, 10, "hole_round_0")])
    assert isinstance(world_model.next_step(world, 1.0, {}, set()), Finished)


def test_task_memory_books_attempts_and_sends_a_refused_intercept_to_the_belt(layout,
                                                                             library):
    world_model, _ = makers(layout, library)
    now = 10.0
    intercept = world_model.next_step(conveyor_world(layout, now, -0.85), now, {}, set())
    assert isinstance(intercept, Choice) and intercept.intercept_time
    memory = TaskMemory()
    # refused before moving, from an arm elsewhere: wait above the belt, not an attempt
    assert memory.record(intercept, REFUSED, arm_was_ready=False) is True
    assert memory.attempts[1] == 0
    # refused again with the arm already above the belt: tried again, not an attempt
    assert memory.record(intercept, REFUSED, arm_was_ready=True) is False
    assert memory.attempts[1] == 0
    assert memory.record(intercept, PREEMPTED, arm_was_ready=False) is False
    assert memory.attempts[1] == 0
    assert memory.record(intercept, FAILED, arm_was_ready=False) is False
    assert memory.attempts[1] == 1
    assert memory.record(intercept, SEATED, arm_was_ready=True) is False
    assert memory.done == {1} and 1 in memory.given_up
    np.testing.assert_allclose(memory.filled[0], intercept.seat_position)
    # a static pick the executor cannot reach is a failed attempt, never a trip to the belt
    static = dataclasses.replace(intercept, intercept_time=0.0)
    assert TaskMemory().record(static, REFUSED, arm_was_ready=False) is False


def test_world_model_sets_off_for_the_belt_as_soon_as_a_part_appears_on_it(layout, library):
    """A part just seen at the belt's start (speed not known yet): the way to the belt may
    take longer than the part needs, so world_model goes now; reactive starts the tray."""
    world_model, reactive = makers(layout, library)
    now = 10.0
    young = dataclasses.replace(obj(1, "peg_slot", (0.40, -0.95, 0.8275), CONVEYOR,
                                    yaw=0.3, velocity=(0, 0.02, 0)), age_s=0.3)
    tray_part = obj(2, "peg_round", layout.slot("slot_0").position[:2] + (0.7835,))
    holes = [hole(layout, 10, "hole_slot_0"), hole(layout, 11, "hole_round_0")]
    world = WorldSnapshot(stamp=now, objects=[young, tray_part, *holes])
    ready = world_model.next_step(world, now, {}, set())
    assert isinstance(ready, GetReady) and "speed not known yet" in ready.reason
    # turned so that the fingers close along the belt, on the part's up- and downstream ends
    assert ready.yaw == pytest.approx(0.3)
    chosen = reactive.next_step(world, now, {}, set())
    assert isinstance(chosen, Choice) and chosen.part.id == 2
    # past the pick zone it is no reason to wait
    gone = dataclasses.replace(young, position=np.array([0.40, -0.36, 0.8275]))
    world = WorldSnapshot(stamp=now, objects=[gone, tray_part, *holes])
    chosen = world_model.next_step(world, now, {}, set())
    assert isinstance(chosen, Choice) and chosen.part.id == 2


def test_world_model_waits_at_the_belt_for_a_part_the_fixture_needs(layout, library):
    """A free hole no part in view fits: world_model expects the conveyor to bring one and
    waits above the belt for `feed_wait_s` after the last feed; reactive starts the tray."""
    world_model, reactive = makers(layout, library)
    wait_s = world_model.config.feed_wait_s
    assert wait_s > 0
    tray_part = obj(2, "peg_round", layout.slot("slot_0").position[:2] + (0.7835,))
    holes = [hole(layout, 10, "hole_round_0"), hole(layout, 11, "hole_slot_0")]
    world = WorldSnapshot(stamp=30.0, objects=[tray_part, *holes])
    ready = world_model.next_step(world, 30.0, {}, set(), (), last_feed=30.0 - wait_s + 1)
    assert isinstance(ready, GetReady) and "bring peg_slot" in ready.reason
    # turned so that the fingers (closing along tool y) close along the belt's travel
    travel = np.arctan2(*layout.conveyor.direction[::-1])
    assert abs(np.sin(ready.yaw + np.pi / 2 - travel)) < 1e-9
    # waited long enough, never fed, or every free hole has its part: the tray part
    for last_feed in (30.0 - wait_s - 1, None):
        chosen = world_model.next_step(world, 30.0, {}, set(), (), last_feed=last_feed)
        assert isinstance(chosen, Choice) and chosen.part.id == 2
    supplied = WorldSnapshot(stamp=30.0, objects=[tray_part, holes[0]])
    chosen = world_model.next_step(supplied, 30.0, {}, set(), (), last_feed=29.0)
    assert isinstance(chosen, Choice) and chosen.part.id == 2
    chosen = reactive.next_step(world, 30.0, {}, set(), (), last_feed=29.0)
    assert isinstance(chosen, Choice) and chosen.part.id == 2
    # the belt brought one and it fell into the reject bin: no second one is awaited
    centre = layout.reject_bin.center
    lost = obj(3, "peg_slot", (centre[0], centre[1], 0.78))
    world = WorldSnapshot(stamp=30.0, objects=[tray_part, lost, *holes])
    chosen = world_model.next_step(world, 30.0, {}, set(), (), last_feed=29.0)
    assert isinstance(chosen, Choice) and chosen.part.id == 2


def test_task_memory_feed_clock_restarts_when_a_new_part_appears_on_the_belt():
    memory = TaskMemory()
    memory.note_belt({}, 5.0)
    assert memory.last_feed == 5.0  # the task's start
    memory.note_belt({7: "peg_slot"}, 12.0)
    memory.note_belt({7: "peg_slot"}, 14.0)  # the same part moving on
    assert memory.last_feed == 12.0
    memory.note_belt({}, 20.0)
    memory.note_belt({9: "peg_square"}, 40.0)
    assert memory.last_feed == 40.0


def test_a_belt_part_gone_unpicked_counts_as_supplied_one_taken_does_not(layout, library):
    """The belt brought a slot peg the arm could not take in time; it rode into the reject
    bin, where perception does not see it. The planner must not wait for another (it
    waited 40 s for one in two of three diagnostic episodes)."""
    world_model, _ = makers(layout, library)
    intercept = world_model.next_step(conveyor_world(layout, 10.0, -0.85), 10.0, {}, set())
    assert isinstance(intercept, Choice) and intercept.intercept_time
    memory = TaskMemory()
    memory.note_belt({16: "peg_slot", intercept.part.id: intercept.part.label}, 40.0)
    assert memory.lost_from_belt({16, intercept.part.id}) == []  # still in view
    assert memory.lost_from_belt({intercept.part.id}) == ["peg_slot"]
    memory.record(intercept, HELD, arm_was_ready=True)  # taken off the belt, not seated
    assert memory.lost_from_belt(set()) == ["peg_slot"]
    assert memory.attempts[intercept.part.id] == 1
    tray_part = obj(2, "peg_round", layout.slot("slot_0").position[:2] + (0.7835,))
    holes = [hole(layout, 10, "hole_round_0"), hole(layout, 11, "hole_slot_0")]
    world = WorldSnapshot(stamp=50.0, objects=[tray_part, *holes])
    waiting = world_model.next_step(world, 50.0, {}, set(), (), last_feed=45.0)
    assert isinstance(waiting, GetReady) and "bring peg_slot" in waiting.reason
    chosen = world_model.next_step(world, 50.0, {}, set(), (), last_feed=45.0,
                                   lost_from_belt=tuple(memory.lost_from_belt(set())))
    assert isinstance(chosen, Choice) and chosen.part.id == 2


def test_belt_grasps_agree_with_the_waiting_pose_across_the_symmetry_boundary(layout,
                                                                             library):
    """A slot peg on the belt at -2 deg and at +2 deg: the same grasp up to 4 deg, next to
    the waiting pose's (closest to 0 would make one of them a half turn of the wrist)."""
    world_model, _ = makers(layout, library)
    slot = layout.part_types["peg_slot"]
    waiting = world_model.belt_grasp_yaw(None, slot)
    yaws = []
    for degrees in (-2.0, 2.0):
        part = obj(1, "peg_slot", (0.40, -0.60, 0.8275), CONVEYOR, yaw=np.radians(degrees))
        yaws.append(world_model.belt_grasp_yaw(part, slot))
        # closest to 0 puts one of them on the other side of the boundary
        assert abs(abs(grasp_yaw(part, slot)) - np.pi / 2) < np.radians(3)
    assert abs(yaws[0] - yaws[1]) == pytest.approx(np.radians(4.0))
    assert all(abs(y - waiting) <= np.radians(2.0) + 1e-9 for y in yaws)
    assert abs(grasp_yaw(obj(1, "peg_slot", (0, 0, 0), yaw=np.radians(-2.0)), slot)
               - grasp_yaw(obj(1, "peg_slot", (0, 0, 0), yaw=np.radians(2.0)), slot)) > 3.0
    now = 10.0
    world = conveyor_world(layout, now, -0.85)
    world.objects[0] = dataclasses.replace(world.objects[0], label="peg_slot",
                                           yaw=np.radians(-2.0))
    world.objects[1] = hole(layout, 10, "hole_slot_0")
    choice = world_model.next_step(world, now, {}, set())
    assert isinstance(choice, Choice) and choice.intercept_time
    assert abs(choice.grasp_yaw - waiting) <= np.radians(2.0) + 1e-9
    # held by its ends (the fingers centre a timing error away), seated along the hole
    assert choice.grasp_span == pytest.approx(slot.size[1])
    assert choice.seat_yaw == pytest.approx(choice.grasp_yaw + np.radians(2.0))
    static = world_model.next_step(WorldSnapshot(now, [
        obj(2, "peg_slot", layout.slot("slot_0").position[:2] + (0.7835,)),
        hole(layout, 10, "hole_slot_0")]), now, {}, set())
    assert isinstance(static, Choice) and static.grasp_span == pytest.approx(slot.size[0])


def test_a_part_against_the_fixture_is_not_picked_where_it_lies(layout, library):
    """The fingers may touch what is around a part they grasp: next to the fixture they
    pressed on it. Such a part waits; one in the tray is taken."""
    world_model, reactive = makers(layout, library)
    fixture = layout.fixture
    beside = (fixture.center[0], fixture.center[1] - fixture.size[1] / 2 - 0.02, 0.7775)
    holes = [hole(layout, 10 + k, spec.name) for k, spec in enumerate(layout.holes)]
    for maker in (world_model, reactive):
        world = WorldSnapshot(stamp=1.0, objects=[obj(1, "peg_slot", beside), *holes])
        waiting = maker.next_step(world, 1.0, {}, set())
        assert isinstance(waiting, Wait) and "against the fixture" in waiting.reason
        world.objects.append(obj(2, "peg_slot", layout.slot("slot_0").position[:2] +
                                 (0.7835,)))
        chosen = maker.next_step(world, 1.0, {}, set())
        assert isinstance(chosen, Choice) and chosen.part.id == 2
    # the fixture is where its holes are seen (a family may shift it)
    shifted = [dataclasses.replace(h, position=h.position + [0.2, 0.0, 0.0]) for h in holes]
    world = WorldSnapshot(stamp=1.0, objects=[obj(1, "peg_slot", beside), *shifted])
    assert isinstance(reactive.next_step(world, 1.0, {}, set()), Choice)
