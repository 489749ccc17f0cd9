"""Predictor unit tests against hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from foresight_world_model.prediction import (
    ConstantVelocityPredictor,
    ConveyorPredictor,
    DampedVelocityPredictor,
    MotionModels,
    Predictor,
    StaticPredictor,
    default_models,
    horizon_key,
    propagate,
    sigma_radius,
)
from foresight_world_model.tracker import BeltRegion, MotionClass

BELT = BeltRegion(start=(0.40, -1.0), end=(0.40, -0.33), width=0.12, top_z=0.80,
                  landing=(0.40, -0.28, 0.783))


@dataclass
class State:
    position: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray = field(default_factory=lambda: np.zeros((6, 6)))
    motion_class: MotionClass = MotionClass.UNKNOWN
    size: np.ndarray = field(default_factory=lambda: np.zeros(3))


def state(p, v, cov=None, motion=MotionClass.UNKNOWN) -> State:
    return State(np.array(p, float), np.array(v, float),
                 np.zeros((6, 6)) if cov is None else cov, motion)


def test_static_stays_with_small_growth() -> None:
    cov = np.eye(6) * 1e-6
    pos, c = StaticPredictor(drift_var_per_s=2e-6).predict(
        state([0.3, 0.2, 0.78], [0.05, 0.0, 0.0], cov), np.array([0.5, 1.0]))
    assert pos == pytest.approx(np.array([[0.3, 0.2, 0.78]] * 2))
    assert c[0] == pytest.approx(np.eye(3) * (1e-6 + 1e-6))
    assert c[1] == pytest.approx(np.eye(3) * (1e-6 + 2e-6))


def test_constant_velocity_hand_computed() -> None:
    cov = np.diag([1e-4, 1e-4, 1e-4, 0.01, 0.01, 0.01])
    pos, c = ConstantVelocityPredictor(q=0.3).predict(
        state([0.0, 0.0, 1.0], [1.0, -0.5, 0.0], cov), np.array([0.5, 2.0]))
    assert pos[0] == pytest.approx([0.5, -0.25, 1.0])
    assert pos[1] == pytest.approx([2.0, -1.0, 1.0])
    # J P J^T = P_pp + h^2 P_vv, plus q h^3 / 3
    assert c[0, 0, 0] == pytest.approx(1e-4 + 0.25 * 0.01 + 0.3 * 0.125 / 3)
    assert c[1, 2, 2] == pytest.approx(1e-4 + 4.0 * 0.01 + 0.3 * 8.0 / 3)
    assert c[0, 0, 1] == pytest.approx(0.0)


def test_propagate_includes_cross_terms() -> None:
    p = np.zeros((6, 6))
    p[:3, :3] = np.eye(3) * 1.0
    p[3:, 3:] = np.eye(3) * 4.0
    p[0, 3] = p[3, 0] = 1.5      # position x and velocity x correlated
    gains = np.array([2.0 * np.eye(3)])
    out = propagate(p, gains)[0]
    assert out[0, 0] == pytest.approx(1.0 + 2 * 2.0 * 1.5 + 4.0 * 4.0)
    assert out[1, 1] == pytest.approx(1.0 + 16.0)


def test_conveyor_rides_to_the_end_then_lands_in_the_bin() -> None:
    predictor = ConveyorPredictor(BELT, q_along=0.0, fall_time_s=0.3, exit_std_m=0.02)
    # 0.1 m before the end, 1 cm left of the belt's axis, 10 cm/s along, lateral noise
    start = [0.41, -0.43, 0.8275]
    pos, cov = predictor.predict(state(start, [0.004, 0.1, 0.0]),
                                 np.array([0.5, 1.0, 1.15, 1.5]))
    assert pos[0] == pytest.approx([0.41, -0.38, 0.8275])     # lateral velocity ignored
    assert pos[1] == pytest.approx([0.41, -0.33, 0.8275])     # at the end after 1.0 s
    # halfway through the fall (0.15 of 0.3 s): between the end and the landing point
    assert pos[2] == pytest.approx([0.41, -0.305, (0.8275 + 0.783) / 2])
    assert pos[3] == pytest.approx([0.41, -0.28, 0.783])      # landed, lateral offset kept
    assert cov[1] == pytest.approx(np.zeros((3, 3)), abs=1e-12)
    assert cov[3] == pytest.approx(np.eye(3) * 0.02 ** 2)


def test_conveyor_covariance_grows_along_the_belt_only() -> None:
    cov = np.zeros((6, 6))
    cov[3:, 3:] = np.eye(3) * 0.01 ** 2
    _pos, c = ConveyorPredictor(BELT, q_along=0.0).predict(
        state([0.40, -0.9, 0.8275], [0.0, 0.08, 0.0], cov), np.array([1.0]))
    assert c[0, 1, 1] == pytest.approx(1e-4)
    assert c[0, 0, 0] == pytest.approx(0.0)


def test_conveyor_without_landing_stops_at_the_end() -> None:
    belt = BeltRegion((0.40, -1.0), (0.40, -0.33), 0.12, 0.80)
    pos, _ = ConveyorPredictor(belt).predict(state([0.40, -0.40, 0.8275], [0.0, 0.1, 0.0]),
                                            np.array([2.0]))
    assert pos[0] == pytest.approx([0.40, -0.33, 0.8275])


def test_person_damped_velocity_hand_computed() -> None:
    predictor = DampedVelocityPredictor(tau=0.2, growth_std_per_s=0.05, speed_std_per_s=0.5)
    pos, cov = predictor.predict(state([0.9, 0.1, 0.9], [-1.0, 0.0, 0.0]),
                                 np.array([0.5, 1.0]))
    gain = 0.2 * (1.0 - math.exp(-2.5))                        # 0.18358
    assert pos[0] == pytest.approx([0.9 - gain, 0.1, 0.9])
    assert pos[1] == pytest.approx([0.9 - 0.2 * (1.0 - math.exp(-5.0)), 0.1, 0.9])
    # extra variance: (0.05 h)^2 + (0.5 |v| h)^2
    assert cov[0] == pytest.approx(np.eye(3) * (0.025 ** 2 + 0.25 ** 2))
    # a resting hand: only the slow growth
    _pos, cov_rest = predictor.predict(state([0.9, 0.1, 0.9], [0.0, 0.0, 0.0]),
                                       np.array([1.0]))
    assert cov_rest[0] == pytest.approx(np.eye(3) * 0.05 ** 2)


def test_damped_beats_constant_velocity_on_a_minimum_jerk_reach() -> None:
    """Halfway through a 0.5 m, 1 s minimum-jerk reach (peak speed 0.94 m/s), the hand
    stops 0.25 m further on: constant velocity overshoots, the damped model does not."""
    v_peak = 1.875 * 0.5 / 1.0
    truth_end = np.array([0.25, 0.0, 0.0])
    s = state([0.0, 0.0, 0.0], [v_peak, 0.0, 0.0])
    damped, _ = DampedVelocityPredictor(tau=0.15).predict(s, np.array([1.0]))
    cv, _ = ConstantVelocityPredictor().predict(s, np.array([1.0]))
    assert np.linalg.norm(damped[0] - truth_end) < 0.15
    assert np.linalg.norm(cv[0] - truth_end) > 0.6


def test_motion_models_dispatch_and_register() -> None:
    models = default_models(belt=BELT)
    s = state([0.40, -0.9, 0.8275], [0.0, 0.1, 0.0], motion=MotionClass.CONVEYOR)
    assert isinstance(models.model_for(MotionClass.CONVEYOR), ConveyorPredictor)
    assert isinstance(models.model_for(MotionClass.STATIC), StaticPredictor)
    assert isinstance(models.model_for(MotionClass.PERSON), DampedVelocityPredictor)
    pos, _ = models.predict(s, np.array([1.0]))
    assert pos[0] == pytest.approx([0.40, -0.8, 0.8275])

    class Frozen:
        def predict(self, track, horizons):
            h = np.asarray(horizons)
            return np.zeros((len(h), 3)), np.zeros((len(h), 3, 3))

    assert isinstance(Frozen(), Predictor)
    models.register(MotionClass.CONVEYOR, Frozen())
    assert models.predict(s, np.array([1.0]))[0][0] == pytest.approx([0.0, 0.0, 0.0])
    with pytest.raises(TypeError):
        models.register(MotionClass.STATIC, object())
    assert isinstance(MotionModels({}, StaticPredictor()).model_for(MotionClass.PERSON),
                      StaticPredictor)


def test_negative_horizons_are_refused() -> None:
    with pytest.raises(ValueError):
        StaticPredictor().predict(state([0, 0, 0], [0, 0, 0]), np.array([-0.5]))


def test_horizon_keys_and_radius() -> None:
    assert [horizon_key(h) for h in (0.25, 0.5, 1, 1.5, 2.0)] == [
        "0.25", "0.5", "1.0", "1.5", "2.0"]
    assert sigma_radius(np.diag([1e-4, 4e-4, 1e-4])) == pytest.approx(0.02 * math.sqrt(7.815))
