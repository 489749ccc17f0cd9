"""Self-scoring of predictions against later observations (pure numpy, no rclpy).

The world model remembers every prediction it published (per track key, motion class and
horizon: predicted position, covariance, due time), and when later observations of the same
track arrive it scores them: error, within tolerance (parts 2 cm, people 15 cm), inside the
95 % region (chi-square, 3 dof: 7.815), negative log-likelihood; the constant-velocity
baseline's prediction of the same track is scored alongside. A prediction whose track is
lost before it comes due is a miss.

Observations come at the camera rate, so a due time usually falls between two of them: the
observed position at the due time is interpolated linearly between the observations that
bracket it (when they are at most `max_gap_s` apart), else the nearest observation within
`tolerance_s` is used, else the prediction is dropped as unobserved (an occluded track is
not a miss: it was not lost).

Results are plain data (`summary()`: class -> horizon -> metrics, the structure of the
benchmark's `prediction` field), so the episode judge and the benchmark can reuse this code
with observations from the simulation instead of the tracker.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from foresight_world_model.prediction import horizon_key
from foresight_world_model.tracker import CHI2_3DOF_95

#: Tolerances of DESIGN section 7: parts 2 cm, people 15 cm.
PART_TOLERANCE_M = 0.02
PERSON_TOLERANCE_M = 0.15
DEFAULT_TOLERANCES: Mapping[str, float] = {
    "static": PART_TOLERANCE_M, "conveyor": PART_TOLERANCE_M,
    "interacting": PART_TOLERANCE_M, "unknown": PART_TOLERANCE_M,
    "person": PERSON_TOLERANCE_M}
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Outcome:
    """One prediction compared with what happened."""
    error: float
    within_tolerance: bool
    inside95: bool
    nll: float


def score_one(predicted: np.ndarray, covariance: np.ndarray | None, actual: np.ndarray,
              tolerance: float) -> Outcome:
    """Error (m), within `tolerance`, inside the 95 % ellipsoid, and the NLL of `actual`
    under N(predicted, covariance) (nan for both without a covariance)."""
    err_vec = np.asarray(actual, float) - np.asarray(predicted, float)
    error = float(np.linalg.norm(err_vec))
    if covariance is None:
        return Outcome(error, error <= tolerance, False, math.nan)
    cov = np.asarray(covariance, float) + np.eye(3) * 1e-12
    d2 = float(err_vec @ np.linalg.solve(cov, err_vec))
    _sign, logdet = np.linalg.slogdet(cov)
    nll = 0.5 * (d2 + logdet + 3.0 * _LOG_2PI)
    return Outcome(error, error <= tolerance, d2 <= CHI2_3DOF_95, nll)


def _plus(covariance: np.ndarray | None, noise: np.ndarray | None) -> np.ndarray | None:
    if covariance is None or noise is None:
        return covariance
    return covariance + noise


@dataclass
class _Sums:
    scored: int = 0
    within: int = 0
    error: float = 0.0
    inside: int = 0
    with_cov: int = 0
    nll: float = 0.0
    ade: float = 0.0
    ade_n: int = 0

    def add(self, outcome: Outcome) -> None:
        self.scored += 1
        self.within += int(outcome.within_tolerance)
        self.error += outcome.error
        if math.isfinite(outcome.nll):
            self.with_cov += 1
            self.inside += int(outcome.inside95)
            self.nll += outcome.nll


@dataclass
class Aggregate:
    """Running aggregate of one (class, horizon): the model and the baseline."""
    misses: int = 0
    unobserved: int = 0
    model: _Sums = field(default_factory=_Sums)
    baseline: _Sums = field(default_factory=_Sums)

    @property
    def n(self) -> int:
        """Predictions that came due and were scored or missed (lost track)."""
        return self.model.scored + self.misses

    def as_dict(self) -> dict[str, float | int | None]:
        """The metrics of DESIGN section 8 (None where nothing was measured)."""
        m, b, n = self.model, self.baseline, self.n

        def ratio(a: float, d: int) -> float | None:
            return a / d if d else None

        return {
            "within_tol": ratio(m.within, n), "ade_m": ratio(m.ade, m.ade_n),
            "fde_m": ratio(m.error, m.scored), "cv_within_tol": ratio(b.within, n),
            "cv_ade_m": ratio(b.ade, b.ade_n), "cv_fde_m": ratio(b.error, b.scored),
            "coverage95": ratio(m.inside, m.with_cov), "nll": ratio(m.nll, m.with_cov),
            "cv_coverage95": ratio(b.inside, b.with_cov), "n": n, "misses": self.misses,
            "unobserved": self.unobserved}


@dataclass
class _Instance:
    """One prediction of one track at one stamp over all horizons."""
    motion_class: str
    errors: list[float | None]
    cv_errors: list[float | None]
    resolved: list[bool]


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    index: int = field(compare=False)
    instance: _Instance = field(compare=False)
    position: np.ndarray = field(compare=False)
    covariance: np.ndarray | None = field(compare=False)
    cv_position: np.ndarray | None = field(compare=False)
    cv_covariance: np.ndarray | None = field(compare=False)


class PredictionScorer:
    """Remembers predictions and scores them as observations arrive (module docstring).

    Keys are any hashable track identity (the node uses (track id, keypoint)); motion
    classes are strings ("static", "conveyor", "interacting", "person", "unknown").
    """

    def __init__(self, horizons: Sequence[float],
                 tolerances: Mapping[str, float] = DEFAULT_TOLERANCES,
                 tolerance_s: float = 1.0 / 30.0, max_gap_s: float = 0.2) -> None:
        self.horizons = tuple(float(h) for h in horizons)
        self.tolerances = dict(tolerances)
        self.tolerance_s = tolerance_s
        self.max_gap_s = max_gap_s
        self._pending: dict[Hashable, list[_Entry]] = {}
        self._last: dict[Hashable, tuple[float, np.ndarray]] = {}
        self._aggregates: dict[tuple[str, float], Aggregate] = {}
        self._seq = itertools.count()
        self._noise: Mapping[Hashable, np.ndarray] = {}

    # --- inputs -------------------------------------------------------------------------------
    def record(self, key: Hashable, motion_class: str, stamp: float,
               positions: np.ndarray, covariances: np.ndarray | None = None,
               cv_positions: np.ndarray | None = None,
               cv_covariances: np.ndarray | None = None) -> None:
        """Remember a prediction made at `stamp` for `self.horizons` (positions (H, 3),
        covariances (H, 3, 3)) and the baseline's for the same horizons."""
        count = len(self.horizons)
        instance = _Instance(motion_class, [None] * count, [None] * count, [False] * count)
        heap = self._pending.setdefault(key, [])
        for k, h in enumerate(self.horizons):
            heapq.heappush(heap, _Entry(
                stamp + h, next(self._seq), k, instance, np.asarray(positions[k], float),
                None if covariances is None else np.asarray(covariances[k], float),
                None if cv_positions is None else np.asarray(cv_positions[k], float),
                None if cv_covariances is None else np.asarray(cv_covariances[k], float)))

    def record_miss(self, motion_class: str, stamp: float) -> None:
        """An object that should have been predicted at `stamp` had no track (seen by an
        evaluator with ground truth): a miss at every horizon."""
        del stamp  # misses count at once; the stamp documents the call
        for k in range(len(self.horizons)):
            self._aggregate(motion_class, k).misses += 1

    def observe_tracks(self, stamp: float, estimates: Sequence) -> None:
        """`observe` with the tracks of one update (TrackEstimate-like: `key`, and
        `measurement` with `measurement_covariance` when the track was measured at `stamp`)."""
        observed = {e.key: e.measurement for e in estimates if e.measurement is not None}
        noise = {e.key: e.measurement_covariance for e in estimates
                 if e.measurement is not None}
        self.observe(stamp, observed, {e.key for e in estimates}, noise)

    def observe(self, stamp: float, observed: Mapping[Hashable, np.ndarray],
                alive: Collection[Hashable],
                noise: Mapping[Hashable, np.ndarray] | None = None) -> None:
        """Observations at `stamp` (key -> measured position) and the keys whose tracks
        still exist (observed or not). Scores every prediction that came due.

        `noise` (key -> 3x3 covariance, m^2) is the observations' own uncertainty: a
        prediction compared with a noisy measurement is judged against its covariance plus
        the measurement's (simulation truth has none)."""
        self._noise = noise or {}
        for key in list(self._pending):
            heap = self._pending[key]
            position = observed.get(key)
            if position is not None:
                self._resolve_observed(key, heap, stamp, np.asarray(position, float))
            elif key not in alive:
                while heap and heap[0].due <= stamp:
                    self._miss(heapq.heappop(heap))
            else:
                self._drop_stale(key, heap, stamp)
            if not heap and key not in alive:
                del self._pending[key]
        for key, position in observed.items():
            self._last[key] = (stamp, np.asarray(position, float))
        for key in [k for k in self._last if k not in alive and k not in self._pending]:
            del self._last[key]

    def _resolve_observed(self, key: Hashable, heap: list[_Entry], stamp: float,
                          position: np.ndarray) -> None:
        prev = self._last.get(key)
        while heap and heap[0].due <= stamp:
            entry = heapq.heappop(heap)
            actual = None
            if prev is not None and prev[0] <= entry.due and stamp - prev[0] <= self.max_gap_s:
                span = stamp - prev[0]
                w = 1.0 if span <= 0.0 else (entry.due - prev[0]) / span
                actual = prev[1] + w * (position - prev[1])
            elif stamp - entry.due <= self.tolerance_s:
                actual = position
            elif prev is not None and abs(entry.due - prev[0]) <= self.tolerance_s:
                actual = prev[1]
            self._score(entry, actual, self._noise.get(key))

    def _drop_stale(self, key: Hashable, heap: list[_Entry], stamp: float) -> None:
        """Alive but unobserved (occluded): entries no later observation can bracket are
        scored with the last observation if it is close enough in time, else dropped."""
        prev = self._last.get(key)
        while heap and heap[0].due < stamp - self.max_gap_s:
            entry = heapq.heappop(heap)
            actual = None
            if prev is not None and abs(entry.due - prev[0]) <= self.tolerance_s:
                actual = prev[1]
            self._score(entry, actual, self._noise.get(key))

    # --- scoring ------------------------------------------------------------------------------
    def _aggregate(self, motion_class: str, index: int) -> Aggregate:
        return self._aggregates.setdefault((motion_class, self.horizons[index]), Aggregate())

    def _miss(self, entry: _Entry) -> None:
        self._aggregate(entry.instance.motion_class, entry.index).misses += 1
        entry.instance.resolved[entry.index] = True

    def _score(self, entry: _Entry, actual: np.ndarray | None,
               noise: np.ndarray | None = None) -> None:
        instance = entry.instance
        agg = self._aggregate(instance.motion_class, entry.index)
        instance.resolved[entry.index] = True
        if actual is None:
            agg.unobserved += 1
            return
        tol = self.tolerances.get(instance.motion_class, PART_TOLERANCE_M)
        outcome = score_one(entry.position, _plus(entry.covariance, noise), actual, tol)
        agg.model.add(outcome)
        instance.errors[entry.index] = outcome.error
        if entry.cv_position is not None:
            cv = score_one(entry.cv_position, _plus(entry.cv_covariance, noise), actual, tol)
            agg.baseline.add(cv)
            instance.cv_errors[entry.index] = cv.error
        # ADE at horizon k = mean error over horizons <= k of one prediction, once all of
        # them are scored (shorter horizons come due first).
        k = entry.index
        if all(instance.resolved[: k + 1]):
            for errors, sums in ((instance.errors, agg.model),
                                 (instance.cv_errors, agg.baseline)):
                head = errors[: k + 1]
                if all(e is not None for e in head):
                    sums.ade += float(np.mean(head))
                    sums.ade_n += 1

    # --- results ------------------------------------------------------------------------------
    def aggregate(self, motion_class: str, horizon: float) -> Aggregate:
        """The running aggregate of one class and horizon (empty if nothing came due)."""
        return self._aggregates.get((motion_class, float(horizon)), Aggregate())

    def summary(self, horizons: Sequence[float] | None = None
                ) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """class -> horizon key ("0.5") -> metrics (`Aggregate.as_dict`)."""
        wanted = self.horizons if horizons is None else tuple(float(h) for h in horizons)
        result: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for (motion_class, h), agg in sorted(self._aggregates.items()):
            if any(abs(h - w) < 1e-9 for w in wanted):
                result.setdefault(motion_class, {})[horizon_key(h)] = agg.as_dict()
        return result

    def diagnostics(self, horizons: Sequence[float] | None = None,
                    metrics: Sequence[str] = ("within_tol", "ade_m", "fde_m", "coverage95",
                                              "nll", "n", "cv_ade_m", "cv_fde_m",
                                              "cv_within_tol")) -> dict[str, str]:
        """Flat "score.<class>.<horizon>.<metric>" -> text for /diagnostics."""
        values = {}
        for motion_class, per_h in self.summary(horizons).items():
            for h, stats in per_h.items():
                for metric in metrics:
                    value = stats.get(metric)
                    text = "nan" if value is None else (
                        str(value) if isinstance(value, int) else f"{value:.4f}")
                    values[f"score.{motion_class}.{h}.{metric}"] = text
        return values

    @property
    def pending(self) -> int:
        """Predictions waiting to come due."""
        return sum(len(h) for h in self._pending.values())
