import math

import pytest

from foresight_bringup.judge import EpisodeJudge
from foresight_bringup.stats import percentiles, wilson_interval


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


def test_drop_wrong_hole_collision_and_timeout_are_counted_once_per_event():
    judge = make_judge(limit=30.0)
    judge.on_parts(1.0, {"part_0": "held"})
    judge.on_parts(1.1, {"part_0": "fell"})
    judge.on_parts(1.2, {"part_0": "fell"})
    judge.on_parts(2.0, {"part_1": "wrong_hole"})
    judge.on_parts(2.1, {"part_1": "wrong_hole"})
    for t in (3.0, 3.02, 3.04, 3.06, 3.08):  # one contact lasting 80 ms
        judge.on_safety(t, 0.8, ["fixture"])
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
    assert record["collision_events"] == [{"t": 3.0, "with": "fixture"}]
    assert judge.done()


def test_wilson_interval_and_percentiles():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.25 < high < 0.35
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and 0.65 < low < 0.75
    assert wilson_interval(5, 10)[0] < 0.5 < wilson_interval(5, 10)[1]
    stats = percentiles(list(range(1, 101)))
    assert stats["n"] == 100 and stats["p50"] == 50.5 and 99 < stats["p99"] < 100
