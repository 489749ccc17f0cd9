"""The episode judge's prediction accuracy (DESIGN section 7), from ground truth: for every
ground-truth object the camera sees when the world model predicts (parts, and the
co-worker's hands), the track the world model has for it (nearest of its type within a
gate; none: a miss) and that track's prediction at 0.5 s and 1.0 s, compared with where the
object really is then; next to a constant-velocity baseline from the same track's position
and velocity. Per motion class (static, conveyor, interacting, person) and horizon: the
share within tolerance (parts 2 cm, people 15 cm; a miss counts as outside), ADE and FDE
(the mean error over the horizons up to h, the error at h), the same for the baseline, the
share of outcomes inside the stated 95 % region and the Gaussian NLL. No rclpy here.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

HORIZONS = (0.5, 1.0)
TOLERANCE_M = {"static": 0.02, "conveyor": 0.02, "interacting": 0.02, "person": 0.15}
MATCH_GATE_M = {"static": 0.05, "conveyor": 0.05, "interacting": 0.08, "person": 0.20}
CHI2_3D_95 = 7.814727903251178  # 95 % quantile of chi-square with 3 degrees of freedom
HISTORY_S = 3.0  # ground truth kept this long (the longest horizon plus slack)
TRUTH_MATCH_S = 0.05  # a ground-truth sample this close in time stands for the moment


@dataclass(frozen=True)
class TrackedPoint:
    """A world-model track (or person keypoint) at the predictions' stamp."""

    label: str                 # part type, or the keypoint name for people
    position: np.ndarray
    velocity: np.ndarray
    horizons: tuple[float, ...]
    predicted: np.ndarray      # (len(horizons), 3)
    covariances: np.ndarray    # (len(horizons), 3, 3)


@dataclass
class _Pending:
    cls: str
    name: str
    t0: float
    point: TrackedPoint | None  # None: no track for the object (a miss)


@dataclass
class _Sums:
    n: int = 0
    within: int = 0
    errors: list[float] = field(default_factory=list)      # ADE per sample
    finals: list[float] = field(default_factory=list)      # FDE per sample
    cv_errors: list[float] = field(default_factory=list)
    cv_finals: list[float] = field(default_factory=list)
    inside95: int = 0
    scored_regions: int = 0
    nll: list[float] = field(default_factory=list)


def truth_class(kind: str, status: str) -> str | None:
    """Motion class of a ground-truth object (None: not scored)."""
    if kind == "person":
        return "person"
    if kind != "part":
        return None
    return {"on_conveyor": "conveyor", "held": "interacting"}.get(status, "static")


class PredictionScorer:
    def __init__(self, horizons: Sequence[float] = HORIZONS) -> None:
        self.horizons = tuple(horizons)
        self._history: dict[str, deque[tuple[float, np.ndarray]]] = {}
        # per object and ground-truth sample: (t, class, type, visible)
        self._states: dict[str, deque[tuple[float, str, str, bool]]] = {}
        self._pending: list[_Pending] = []
        self._sums: dict[tuple[str, float], _Sums] = {}

    # --- inputs ---------------------------------------------------------------------------
    def on_truth(self, t: float, objects: dict[str, tuple[str, str, str, np.ndarray, bool]]
                 ) -> None:
        """Ground truth at `t`: name -> (kind, type, status, position, visible). Scores the
        predictions whose horizons have now passed."""
        for name, (kind, otype, status, position, visible) in objects.items():
            cls = truth_class(kind, status)
            if cls is None or (kind == "person" and not otype.endswith("hand")):
                continue
            history = self._history.setdefault(name, deque())
            states = self._states.setdefault(name, deque())
            history.append((t, np.asarray(position, dtype=float)))
            states.append((t, cls, otype, bool(visible)))
            while history and t - history[0][0] > HISTORY_S:
                history.popleft()
                states.popleft()
        still = []
        for pending in self._pending:
            if t >= pending.t0 + max(self.horizons):
                self._score(pending)
            else:
                still.append(pending)
        self._pending = still

    def on_predictions(self, t0: float, points: Sequence[TrackedPoint]) -> None:
        """The world model's tracks with their predictions, all stamped `t0` (they come
        later than the ground truth of t0: it is looked up in the history)."""
        used: set[int] = set()
        for name, states in self._states.items():
            nearest = min(states, key=lambda state: abs(state[0] - t0))
            t, cls, otype, visible = nearest
            position = self._truth_at(name, t0)
            if not visible or abs(t - t0) > TRUTH_MATCH_S or position is None:
                continue
            best, best_k = MATCH_GATE_M[cls], None
            for k, point in enumerate(points):
                compatible = point.label.endswith("hand") if cls == "person" \
                    else point.label == otype
                if not compatible or k in used:
                    continue
                gap = float(np.linalg.norm(point.position - position))
                if gap <= best:
                    best, best_k = gap, k
            if best_k is not None:
                used.add(best_k)
            self._pending.append(_Pending(cls, name, t0, None if best_k is None
                                          else points[best_k]))

    # --- scoring --------------------------------------------------------------------------
    def _truth_at(self, name: str, t: float) -> np.ndarray | None:
        history = self._history.get(name)
        if not history:
            return None
        times = np.array([s[0] for s in history])
        k = int(np.searchsorted(times, t))
        if k == 0 or k >= len(times):
            near = 0 if k == 0 else len(times) - 1
            return history[near][1] if abs(times[near] - t) <= TRUTH_MATCH_S else None
        (ta, pa), (tb, pb) = history[k - 1], history[k]
        return pa + (pb - pa) * (t - ta) / max(tb - ta, 1e-9)

    def _score(self, pending: _Pending) -> None:
        point = pending.point
        for horizon in self.horizons:
            sums = self._sums.setdefault((pending.cls, horizon), _Sums())
            truth = self._truth_at(pending.name, pending.t0 + horizon)
            if truth is None:
                continue  # the object left the ground truth (never here in practice)
            sums.n += 1
            if point is None:
                continue  # a miss: counted, outside tolerance, no error figures
            upto = [k for k, h in enumerate(point.horizons) if h <= horizon + 1e-9]
            at = next((k for k in upto if abs(point.horizons[k] - horizon) < 1e-9), None)
            if at is None:
                continue
            errors, cv_errors = [], []
            for k in upto:
                seen = self._truth_at(pending.name, pending.t0 + point.horizons[k])
                if seen is None:
                    continue
                errors.append(float(np.linalg.norm(point.predicted[k] - seen)))
                cv = point.position + point.velocity * point.horizons[k]
                cv_errors.append(float(np.linalg.norm(cv - seen)))
            final = float(np.linalg.norm(point.predicted[at] - truth))
            sums.within += final <= TOLERANCE_M[pending.cls]
            sums.errors.append(float(np.mean(errors)) if errors else final)
            sums.finals.append(final)
            sums.cv_errors.append(float(np.mean(cv_errors)) if cv_errors else math.nan)
            cv_final = point.position + point.velocity * horizon
            sums.cv_finals.append(float(np.linalg.norm(cv_final - truth)))
            covariance = point.covariances[at]
            try:
                inverse = np.linalg.inv(covariance)
                sign, logdet = np.linalg.slogdet(2.0 * math.pi * covariance)
            except np.linalg.LinAlgError:
                continue
            if sign <= 0:
                continue
            residual = truth - point.predicted[at]
            d2 = float(residual @ inverse @ residual)
            sums.scored_regions += 1
            sums.inside95 += d2 <= CHI2_3D_95
            sums.nll.append(0.5 * (d2 + logdet))

    def record(self) -> dict | None:
        """prediction[class][horizon] as DESIGN section 8 has it (None: nothing scored)."""
        out: dict[str, dict] = {}
        for (cls, horizon), s in sorted(self._sums.items()):
            if not s.n:
                continue

            def mean(values: list[float]) -> float | None:
                kept = [v for v in values if not math.isnan(v)]
                return round(float(np.mean(kept)), 4) if kept else None

            out.setdefault(cls, {})[f"{horizon:.1f}"] = {
                "within_tol": round(s.within / s.n, 4), "ade_m": mean(s.errors),
                "fde_m": mean(s.finals), "cv_ade_m": mean(s.cv_errors),
                "cv_fde_m": mean(s.cv_finals),
                "coverage95": round(s.inside95 / s.scored_regions, 4)
                if s.scored_regions else None,
                "nll": mean(s.nll), "n": s.n, "matched": len(s.finals)}
        return out or None
