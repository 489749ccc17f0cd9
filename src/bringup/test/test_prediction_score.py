"""The judge's prediction accuracy on hand-made tracks and ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from foresight_bringup.prediction_score import PredictionScorer, TrackedPoint

HORIZONS = (0.25, 0.5, 0.75, 1.0)
COV = np.eye(3) * 0.01 ** 2  # 1 cm standard deviation per axis


def point(label, position, velocity, predicted_velocity, cov=COV) -> TrackedPoint:
    position, velocity = np.array(position, float), np.array(velocity, float)
    predicted = np.array([position + np.array(predicted_velocity) * h for h in HORIZONS])
    return TrackedPoint(label, position, velocity, HORIZONS, predicted,
                        np.array([cov] * len(HORIZONS)))


def run(scorer, truth_of, predictions_at, until=3.0, dt=0.02):
    """Ground truth every dt from truth_of(t); predictions_at(t) at 0.0, 0.1, ... 1.0 s."""
    for k in range(int(until / dt) + 1):
        t = round(k * dt, 4)
        scorer.on_truth(t, truth_of(t))
        if k % 5 == 0 and t <= 1.0:
            scorer.on_predictions(t, predictions_at(t))
    return scorer.record()


def test_a_belt_part_predicted_along_the_belt_beats_constant_position():
    """True motion 0.1 m/s along y. The world model predicts it exactly, the baseline's
    velocity estimate is 0 (a just-born track): at 0.5 s it is 5 cm off."""
    def truth(t):
        return {"part_4": ("part", "peg_slot", "on_conveyor",
                           np.array([0.4, -0.9 + 0.1 * t, 0.83]), True)}

    def predictions(t):
        return [point("peg_slot", [0.4, -0.9 + 0.1 * t, 0.83], [0, 0, 0], [0, 0.1, 0])]

    record = run(PredictionScorer(), truth, predictions)
    half = record["conveyor"]["0.5"]
    assert half["n"] == 11 and half["within_tol"] == 1.0
    assert half["fde_m"] == pytest.approx(0.0, abs=1e-6)
    assert half["cv_fde_m"] == pytest.approx(0.05, abs=1e-6)
    assert half["cv_ade_m"] == pytest.approx((0.025 + 0.05) / 2, abs=1e-6)  # 0.25 and 0.5 s
    assert half["coverage95"] == 1.0
    assert record["conveyor"]["1.0"]["cv_fde_m"] == pytest.approx(0.1, abs=1e-6)


def test_a_lost_track_is_a_miss_and_a_wrong_region_shows_in_coverage():
    def truth(t):
        return {"part_0": ("part", "peg_round", "in_tray", np.array([0.3, 0.4, 0.8]), True),
                "part_1": ("part", "peg_square", "in_tray", np.array([0.3, 0.5, 0.8]), True),
                "hole_round_0": ("hole", "hole_round", "", np.array([0.5, 0.0, 0.8]), True)}

    def predictions(t):  # part_0 tracked 1.5 cm off with a 1 mm region; part_1 not at all
        tiny = np.eye(3) * 0.001 ** 2
        return [point("peg_round", [0.315, 0.4, 0.8], [0, 0, 0], [0, 0, 0], cov=tiny)]

    static = run(PredictionScorer(), truth, predictions)["static"]["0.5"]
    assert static["n"] == 22 and static["matched"] == 11      # holes are not scored
    assert static["within_tol"] == pytest.approx(0.5)          # misses count as outside
    assert static["fde_m"] == pytest.approx(0.015, abs=1e-6)
    assert static["coverage95"] == 0.0                          # over-confident


def test_hands_match_either_hand_keypoint_and_only_visible_objects_count():
    def truth(t):
        return {"coworker/right_hand": ("person", "right_hand", "",
                                        np.array([1.0 - 0.5 * t, 0.3, 0.95]), True),
                "coworker/torso": ("person", "torso", "", np.array([1.2, 0.1, 1.2]), True),
                "part_2": ("part", "peg_slot", "in_tray", np.array([0.3, 0.3, 0.8]), False)}

    def predictions(t):  # the camera calls it the left hand; constant velocity is right
        return [point("left_hand", [1.0 - 0.5 * t, 0.3, 0.95], [-0.5, 0, 0], [-0.5, 0, 0])]

    record = run(PredictionScorer(), truth, predictions)
    assert set(record) == {"person"}                            # unseen part, torso: no
    assert record["person"]["1.0"]["within_tol"] == 1.0
    assert record["person"]["1.0"]["cv_fde_m"] == pytest.approx(0.0, abs=1e-6)
    assert PredictionScorer().record() is None                  # nothing scored: null


def test_predictions_that_come_after_later_ground_truth_are_scored_at_their_stamp():
    """The world model publishes ~0.1 s after the image: the ground truth has moved on."""
    scorer = PredictionScorer()

    def truth(t):
        return {"part_4": ("part", "peg_slot", "on_conveyor",
                           np.array([0.4, -0.9 + 0.1 * t, 0.83]), True)}

    for k in range(151):
        t = round(k * 0.02, 4)
        scorer.on_truth(t, truth(t))
        t0 = round(t - 0.1, 4)
        if k % 5 == 0 and 0.0 <= t0 <= 1.0:
            scorer.on_predictions(t0, [point("peg_slot", [0.4, -0.9 + 0.1 * t0, 0.83],
                                             [0, 0.1, 0], [0, 0.1, 0])])
    half = scorer.record()["conveyor"]["0.5"]
    assert half["matched"] == half["n"] == 11 and half["fde_m"] == pytest.approx(0, abs=1e-6)
