"""Self-scoring against hand-computed errors, coverage, misses and ADE/FDE."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight_world_model.scoring import PredictionScorer, score_one


def test_score_one_hand_computed() -> None:
    cov = np.eye(3) * 0.01 ** 2
    out = score_one(np.zeros(3), cov, np.array([0.01, 0.01, 0.01]), tolerance=0.02)
    assert out.error == pytest.approx(math.sqrt(3) * 0.01)
    assert out.within_tolerance                     # 1.73 cm <= 2 cm
    assert out.inside95                             # d^2 = 3 <= 7.815
    assert out.nll == pytest.approx(0.5 * (3.0 + 3 * math.log(1e-4) + 3 * math.log(2 * math.pi)))
    far = score_one(np.zeros(3), cov, np.array([0.03, 0.0, 0.0]), tolerance=0.02)
    assert not far.within_tolerance and not far.inside95     # d^2 = 9 > 7.815
    no_cov = score_one(np.zeros(3), None, np.array([0.0, 0.0, 0.1]), tolerance=0.15)
    assert no_cov.within_tolerance and math.isnan(no_cov.nll)


def pred(*xs: float) -> np.ndarray:
    return np.array([[x, 0.0, 0.0] for x in xs])


def test_due_time_between_observations_is_interpolated() -> None:
    scorer = PredictionScorer([0.5, 1.0], tolerance_s=0.02)
    key = (7, "")
    # predicted: x = 0.05 at 0.5 s, 0.095 at 1.0 s; the object really moves at 0.08 m/s
    scorer.record(key, "conveyor", 0.0, pred(0.05, 0.095), np.repeat(
        np.eye(3)[None] * 1e-4, 2, axis=0))
    for t in np.arange(0.0, 1.2, 1.0 / 15.0):
        scorer.observe(t, {key: np.array([0.08 * t, 0.0, 0.0])}, {key})
    at_half = scorer.aggregate("conveyor", 0.5)
    at_one = scorer.aggregate("conveyor", 1.0)
    assert at_half.model.error == pytest.approx(0.01)       # |0.05 - 0.04|
    assert at_one.model.error == pytest.approx(0.015)       # |0.095 - 0.08|
    summary = scorer.summary()["conveyor"]
    assert summary["0.5"]["within_tol"] == 1.0 and summary["1.0"]["within_tol"] == 1.0
    assert summary["1.0"]["fde_m"] == pytest.approx(0.015)
    assert summary["1.0"]["ade_m"] == pytest.approx(0.0125)  # mean of 0.01 and 0.015
    assert summary["0.5"]["ade_m"] == pytest.approx(0.01)
    # d^2 = (0.01 / 0.01)^2 = 1 inside; (0.015 / 0.01)^2 = 2.25 inside
    assert summary["0.5"]["coverage95"] == 1.0


def test_lost_track_is_a_miss_and_occluded_is_not_scored() -> None:
    scorer = PredictionScorer([0.5], tolerance_s=0.02)
    lost, hidden, seen = (1, ""), (2, ""), (3, "")
    for key in (lost, hidden, seen):
        scorer.record(key, "static", 0.0, pred(0.0))
    scorer.observe(0.0, {lost: np.zeros(3), hidden: np.zeros(3), seen: np.zeros(3)},
                   {lost, hidden, seen})
    for t in (0.3, 0.45, 0.6, 0.9):
        scorer.observe(t, {seen: np.array([0.03, 0.0, 0.0])}, {hidden, seen})
    stats = scorer.summary()["static"]["0.5"]
    assert stats["misses"] == 1 and stats["unobserved"] == 1
    assert stats["n"] == 2                       # the miss and the scored one
    assert stats["within_tol"] == 0.0            # 3 cm off and a miss
    assert stats["fde_m"] == pytest.approx(0.03)


def test_baseline_is_scored_alongside() -> None:
    scorer = PredictionScorer([1.0], tolerance_s=0.02)
    key = (1, "left_hand")
    scorer.record(key, "person", 0.0, pred(0.20), cv_positions=pred(0.50))
    scorer.observe(0.0, {key: np.zeros(3)}, {key})
    scorer.observe(1.0, {key: np.array([0.25, 0.0, 0.0])}, {key})
    stats = scorer.summary()["person"]["1.0"]
    assert stats["fde_m"] == pytest.approx(0.05) and stats["within_tol"] == 1.0
    assert stats["cv_fde_m"] == pytest.approx(0.25) and stats["cv_within_tol"] == 0.0
    assert stats["coverage95"] is None           # no covariance given


def test_coverage_counts_outcomes_inside_the_region() -> None:
    scorer = PredictionScorer([0.5], tolerance_s=0.02)
    cov = np.eye(3)[None] * 0.01 ** 2
    errors = [0.005, 0.02, 0.025, 0.04]          # d^2 = 0.25, 4, 6.25, 16
    for k in range(len(errors)):
        scorer.record((k, ""), "person", 0.0, pred(0.0), cov)
    keys = {(k, "") for k in range(4)}
    scorer.observe(0.0, {(k, ""): np.zeros(3) for k in range(4)}, keys)
    scorer.observe(0.5, {(k, ""): np.array([e, 0.0, 0.0]) for k, e in enumerate(errors)},
                   keys)
    assert scorer.summary()["person"]["0.5"]["coverage95"] == pytest.approx(0.75)


def test_measurement_noise_widens_the_region() -> None:
    scorer = PredictionScorer([0.5], tolerance_s=0.02)
    key = (1, "")
    scorer.record(key, "static", 0.0, pred(0.0), np.eye(3)[None] * 1e-6)
    scorer.observe(0.0, {key: np.zeros(3)}, {key})
    # 5 mm off: outside a 1 mm std prediction, inside once the 3 mm measurement noise counts
    scorer.observe(0.5, {key: np.array([0.005, 0.0, 0.0])}, {key},
                   noise={key: np.eye(3) * 0.003 ** 2})
    assert scorer.summary()["static"]["0.5"]["coverage95"] == 1.0


def test_record_miss_and_diagnostic_keys() -> None:
    scorer = PredictionScorer([0.5, 1.0])
    scorer.record_miss("conveyor", 3.0)
    values = scorer.diagnostics([0.5])
    assert values["score.conveyor.0.5.n"] == "1"
    assert values["score.conveyor.0.5.within_tol"] == "0.0000"
    assert values["score.conveyor.0.5.ade_m"] == "nan"
    assert not any(".1.0." in k for k in values)


def test_nearest_observation_when_no_bracket() -> None:
    """A track seen again after a long gap: the observation within tolerance_s counts."""
    scorer = PredictionScorer([0.5], tolerance_s=0.05, max_gap_s=0.2)
    key = (1, "")
    scorer.record(key, "static", 0.0, pred(0.0))
    scorer.observe(0.0, {key: np.zeros(3)}, {key})
    scorer.observe(0.52, {key: np.array([0.01, 0.0, 0.0])}, {key})
    assert scorer.aggregate("static", 0.5).model.error == pytest.approx(0.01)
    assert scorer.pending == 0
