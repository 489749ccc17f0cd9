"""Prediction of tracks over a list of horizons, one motion model per motion class, behind
one interface (pure numpy, no rclpy).

A `Predictor` maps a track state (position, velocity, their joint 6x6 covariance, motion
class, size) and horizons (s) to predicted positions (H, 3) and covariances (H, 3, 3).
`MotionModels` picks the predictor by motion class; later predictors (a physics rollout, a
learned residual, a goal-directed human model: issue 7) register themselves for a class
without touching the node. The constant-velocity baseline the benchmark compares against is
a predictor like any other.

Models of this version:
- static: stays where it is; the covariance grows slowly (it might be nudged).
- conveyor: constant speed along the belt at the estimated speed (lateral velocity is noise
  and ignored); past the belt's end the part tips into the reject bin and lies there.
- interacting: constant velocity -- the tracker sets a held part's velocity to the TCP's.
- person: velocity decaying exponentially toward rest (a reach ends at a target: the
  co-worker's minimum-jerk reaches decelerate over their second half), covariance growing
  with the horizon and with the current speed (calibrated on simulated reaches).
- unknown (moving, e.g. falling or pushed): damped constant velocity with wide covariance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from foresight_world_model.tracker import BeltRegion, MotionClass

DEFAULT_HORIZONS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


class MotionState(Protocol):
    """What a predictor reads from a track (`tracker.TrackEstimate` satisfies it)."""
    position: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray          # 6x6, (position, velocity)
    motion_class: MotionClass
    size: np.ndarray


@runtime_checkable
class Predictor(Protocol):
    """One motion model: positions (H, 3) and covariances (H, 3, 3) at `horizons` (s)."""

    def predict(self, track: MotionState, horizons: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        ...


def _horizons(horizons: Sequence[float] | np.ndarray) -> np.ndarray:
    h = np.asarray(horizons, dtype=float).reshape(-1)
    if np.any(h < 0.0) or not np.all(np.isfinite(h)):
        raise ValueError(f"horizons must be finite and >= 0, got {h.tolist()}")
    return h


def propagate(covariance: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Position covariances (H, 3, 3) of p + G_k v for velocity gain matrices G (H, 3, 3):
    J_k P J_k^T with J_k = [I, G_k]."""
    p = np.asarray(covariance, dtype=float)
    pp, pv, vv = p[:3, :3], p[:3, 3:], p[3:, 3:]
    cross = gains @ pv.T                              # G P_vp
    return pp[None] + cross + np.swapaxes(cross, 1, 2) + gains @ vv[None] @ np.swapaxes(
        gains, 1, 2)


def _isotropic(variances: np.ndarray) -> np.ndarray:
    return variances[:, None, None] * np.eye(3)[None]


@dataclass(frozen=True)
class StaticPredictor:
    """Stays put; variance grows by `drift_var_per_s` (m^2/s) on every axis."""
    drift_var_per_s: float = 2e-6

    def predict(self, track: MotionState, horizons: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        h = _horizons(horizons)
        positions = np.repeat(np.asarray(track.position, float)[None], len(h), axis=0)
        cov = np.asarray(track.covariance, float)[:3, :3][None] + _isotropic(
            self.drift_var_per_s * h)
        return positions, cov


@dataclass(frozen=True)
class ConstantVelocityPredictor:
    """p + v h, covariance from the filter plus white-acceleration noise of density `q`
    (m^2/s^3): the classic baseline."""
    q: float = 0.5

    def predict(self, track: MotionState, horizons: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        h = _horizons(horizons)
        p, v = np.asarray(track.position, float), np.asarray(track.velocity, float)
        positions = p[None] + h[:, None] * v[None]
        gains = h[:, None, None] * np.eye(3)[None]
        cov = propagate(track.covariance, gains) + _isotropic(self.q * h ** 3 / 3.0)
        return positions, cov


@dataclass(frozen=True)
class DampedVelocityPredictor:
    """Velocity decays toward rest with time constant `tau` (s): p + v tau (1 - e^(-h/tau)).

    The covariance adds to the propagated filter covariance a floor `base_std` and growth
    terms linear in the horizon: `growth_std_per_s` (any motion may start) and
    `speed_std_per_s` times the current speed (a moving hand may stop early or late or turn).
    Calibrated for the co-worker's minimum-jerk reaches (see the world model tests).

    With `min_significance` > 0 a velocity the filter cannot tell from zero (squared
    Mahalanobis norm below it) is not extrapolated: a freshly born track's velocity is
    mostly noise."""
    tau: float = 0.15
    base_std: float = 0.0
    growth_std_per_s: float = 0.03
    speed_std_per_s: float = 1.0
    min_significance: float = 0.0

    def displacement_gain(self, h: np.ndarray) -> np.ndarray:
        return self.tau * (1.0 - np.exp(-h / self.tau))

    def predict(self, track: MotionState, horizons: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        h = _horizons(horizons)
        p, v = np.asarray(track.position, float), np.asarray(track.velocity, float)
        if self.min_significance > 0.0:
            pvv = np.asarray(track.covariance, float)[3:, 3:] + np.eye(3) * 1e-12
            if float(v @ np.linalg.solve(pvv, v)) < self.min_significance:
                v = np.zeros(3)
        g = self.displacement_gain(h)
        positions = p[None] + g[:, None] * v[None]
        gains = g[:, None, None] * np.eye(3)[None]
        speed = float(np.linalg.norm(v))
        extra = self.base_std ** 2 + (self.growth_std_per_s * h) ** 2 + (
            self.speed_std_per_s * speed * h) ** 2
        return positions, propagate(track.covariance, gains) + _isotropic(extra)


@dataclass(frozen=True)
class ConveyorPredictor:
    """Constant speed along the belt, then into the bin.

    The speed is the track's velocity projected on the belt direction (never negative); the
    lateral offset and height stay. When the part's centre passes the belt's end it tips over
    and lands at `belt.landing` (measured in the cell: about 5 cm past the end, within
    `fall_time_s`), keeping its lateral offset; there it stays. Without a landing point the
    part stops at the end. Covariance: filter covariance propagated along the belt axis, a
    small along-belt drift (`q_along`), and `exit_std_m` once the part has left the belt
    (how a part falls is not predictable to the millimetre)."""
    belt: BeltRegion
    q_along: float = 1e-4
    fall_time_s: float = 0.3
    exit_std_m: float = 0.02

    def predict(self, track: MotionState, horizons: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        h = _horizons(horizons)
        belt = self.belt
        d = belt.direction
        p, v = np.asarray(track.position, float), np.asarray(track.velocity, float)
        speed = max(float(v @ d), 0.0)
        along0 = belt.along(p)
        remaining = max(belt.length - along0, 0.0)
        travel = np.minimum(speed * h, remaining)
        positions = p[None] + travel[:, None] * d[None]
        # While on the belt only the along-belt speed moves the part: gain h d d^T.
        on_belt_time = np.where(speed * h < remaining, h, remaining / max(speed, 1e-9))
        gains = on_belt_time[:, None, None] * np.outer(d, d)[None]
        cov = propagate(track.covariance, gains)
        cov += (self.q_along * h ** 3 / 3.0)[:, None, None] * np.outer(d, d)[None]
        if speed > 1e-6:
            t_end = remaining / speed
            after = h - t_end
            off = after > 1e-9
            if np.any(off):
                if belt.landing is not None:
                    lateral = p - belt.start3 - along0 * d
                    lateral[2] = 0.0
                    landing = np.asarray(belt.landing, float) + lateral
                    at_end = p + remaining * d
                    frac = np.clip(after[off] / self.fall_time_s, 0.0, 1.0)[:, None]
                    positions[off] = at_end[None] + frac * (landing - at_end)[None]
                cov[off] += np.eye(3)[None] * self.exit_std_m ** 2
        return positions, cov


@dataclass(frozen=True)
class PredictionConfig:
    """Knobs of the default motion models (the node fills this from its parameters)."""
    static_drift_var_per_s: float = 2e-6
    conveyor_q_along: float = 1e-4
    conveyor_fall_time_s: float = 0.3
    conveyor_exit_std_m: float = 0.02
    interacting_q: float = 1.0
    unknown_tau_s: float = 0.5
    unknown_growth_std_per_s: float = 0.05
    unknown_speed_std_per_s: float = 0.5
    unknown_min_significance: float = 7.815
    person_tau_s: float = 0.15
    person_base_std_m: float = 0.0
    person_growth_std_per_s: float = 0.03
    person_speed_std_per_s: float = 1.0
    baseline_q: float = 0.5


class MotionModels:
    """Predictor per motion class, with a fallback for classes without one.

    `register` swaps the model of one class (a physics rollout for conveyor parts, a learned
    human model): callers keep calling `predict(track, horizons)`."""

    def __init__(self, models: Mapping[MotionClass, Predictor], fallback: Predictor) -> None:
        self._models = dict(models)
        self.fallback = fallback

    def register(self, motion_class: MotionClass, predictor: Predictor) -> None:
        if not isinstance(predictor, Predictor):
            raise TypeError(f"{predictor!r} has no predict(track, horizons) method")
        self._models[MotionClass(motion_class)] = predictor

    def model_for(self, motion_class: MotionClass) -> Predictor:
        return self._models.get(MotionClass(motion_class), self.fallback)

    def predict(self, track: MotionState, horizons: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        return self.model_for(track.motion_class).predict(track, horizons)


def default_models(config: PredictionConfig | None = None,
                   belt: BeltRegion | None = None) -> MotionModels:
    """The motion models of this version (see the module docstring). Without a belt the
    conveyor class falls back to constant velocity."""
    c = config or PredictionConfig()
    unknown = DampedVelocityPredictor(tau=c.unknown_tau_s,
                                      growth_std_per_s=c.unknown_growth_std_per_s,
                                      speed_std_per_s=c.unknown_speed_std_per_s,
                                      min_significance=c.unknown_min_significance)
    models: dict[MotionClass, Predictor] = {
        MotionClass.STATIC: StaticPredictor(c.static_drift_var_per_s),
        MotionClass.INTERACTING: ConstantVelocityPredictor(c.interacting_q),
        MotionClass.PERSON: DampedVelocityPredictor(
            tau=c.person_tau_s, base_std=c.person_base_std_m,
            growth_std_per_s=c.person_growth_std_per_s,
            speed_std_per_s=c.person_speed_std_per_s),
        MotionClass.UNKNOWN: unknown,
    }
    models[MotionClass.CONVEYOR] = (
        ConveyorPredictor(belt, c.conveyor_q_along, c.conveyor_fall_time_s,
                          c.conveyor_exit_std_m)
        if belt is not None else ConstantVelocityPredictor(c.conveyor_q_along))
    return MotionModels(models, fallback=unknown)


def baseline_model(config: PredictionConfig | None = None) -> ConstantVelocityPredictor:
    """The constant-velocity baseline every class is compared against."""
    return ConstantVelocityPredictor((config or PredictionConfig()).baseline_q)


def horizon_key(horizon: float) -> str:
    """Horizon as a key: "0.5", "1.0", "0.25" (as in the benchmark's JSON)."""
    return repr(float(round(horizon, 3)))


def chi2_scale_3dof(probability: float) -> float:
    """Squared Mahalanobis radius of a 3D Gaussian's `probability` region (0.95 -> 7.815)."""
    table = {0.5: 2.366, 0.9: 6.251, 0.95: 7.815, 0.99: 11.345}
    if probability in table:
        return table[probability]
    raise ValueError(f"no chi-square value for probability {probability}")


def sigma_radius(covariance: np.ndarray, probability: float = 0.95) -> float:
    """Radius (m) of the sphere around the mean that the largest axis of the `probability`
    ellipsoid reaches: a conservative, easily drawn size of a predicted region."""
    largest = float(np.max(np.linalg.eigvalsh(np.asarray(covariance, float))))
    return math.sqrt(max(largest, 0.0) * chi2_scale_3dof(probability))
