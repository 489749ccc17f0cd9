"""Checks a joint trajectory before anyone executes it: the simulation's controller (as
ros2_control's joint_trajectory_controller does) and the executor both reject malformed ones
with the reasons this returns. No rclpy here: plain sequences in, list of reasons out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def validate_trajectory(joint_names: Sequence[str], times: Sequence[float],
                        positions: Sequence[Sequence[float]],
                        velocities: Sequence[Sequence[float]] | None,
                        known_joints: Sequence[str], lower: Sequence[float],
                        upper: Sequence[float], max_velocity: Sequence[float],
                        start_positions: Sequence[float] | None = None,
                        tolerance: float = 1e-3) -> list[str]:
    """Reasons why the trajectory must be rejected (empty list = acceptable).

    `known_joints` with `lower`/`upper`/`max_velocity` describe the controlled joints; the
    trajectory must name each of them exactly once (any order). With `start_positions`
    (current joint positions, in `known_joints` order) the move from there to the first point
    is checked too, so a far first point at time ~0 (a jump) is rejected.
    """
    reasons: list[str] = []
    names = list(joint_names)
    unknown = [n for n in names if n not in known_joints]
    if unknown:
        reasons.append("unknown joints: " + ", ".join(unknown))
    missing = [n for n in known_joints if n not in names]
    if missing:
        reasons.append("missing joints: " + ", ".join(missing))
    if len(set(names)) != len(names):
        reasons.append("duplicate joint names")
    if not len(times):
        reasons.append("no points")
    if reasons:
        return reasons
    t = np.asarray(times, dtype=float)
    if not np.all(np.isfinite(t)):
        return ["time_from_start contains NaN or infinity"]
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        reasons.append("time_from_start is not strictly increasing from >= 0")
    try:
        q = np.asarray(positions, dtype=float)
    except ValueError:
        return reasons + ["points have different numbers of positions"]
    if q.ndim != 2 or q.shape != (len(t), len(names)):
        return reasons + [f"positions must be {len(t)} x {len(names)}, got {q.shape}"]
    if not np.all(np.isfinite(q)):
        return reasons + ["positions contain NaN or infinity"]
    order = [names.index(n) for n in known_joints]
    q = q[:, order]
    low = np.asarray(lower) - tolerance
    high = np.asarray(upper) + tolerance
    beyond = np.where(np.any((q < low) | (q > high), axis=0))[0]
    if len(beyond):
        reasons.append("positions beyond limits for " +
                       ", ".join(known_joints[i] for i in beyond))
    limit = np.asarray(max_velocity) * 1.05 + tolerance
    path_q, path_t = q, t
    if start_positions is not None:
        path_q = np.vstack([np.asarray(start_positions, dtype=float), q])
        path_t = np.concatenate([[0.0], t])
    steps = np.diff(path_t)
    if len(steps) and np.all(steps > 0):
        mean_speed = np.abs(np.diff(path_q, axis=0)) / steps[:, None]
        jumps = np.where(np.any(mean_speed > limit, axis=0))[0]
        if len(jumps):
            reasons.append("points too far apart in time for the velocity limits of " +
                           ", ".join(known_joints[i] for i in jumps))
    if velocities is not None and len(velocities):
        try:
            v = np.asarray(velocities, dtype=float)
        except ValueError:
            return reasons + ["points have different numbers of velocities"]
        if v.shape != q.shape:
            return reasons + [f"velocities must be {q.shape}, got {v.shape}"]
        if not np.all(np.isfinite(v)):
            return reasons + ["velocities contain NaN or infinity"]
        v = v[:, order]
        too_fast = np.where(np.any(np.abs(v) > limit, axis=0))[0]
        if len(too_fast):
            reasons.append("velocities beyond limits for " +
                           ", ".join(known_joints[i] for i in too_fast))
    return reasons
