"""Checks a joint trajectory before anyone executes it: the simulation's controller rejects
malformed ones (as ros2_control's joint_trajectory_controller does) and the executor checks
its own plans with the same rules. No rclpy here: plain sequences in, reasons out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from foresight_common.robot_model import ARM_JOINTS, JointLimits


def _first(items: list[str], what: str) -> list[str]:
    """One line per kind of problem: the first occurrence and how many there are."""
    if not items:
        return []
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return [f"{what}: {items[0]}{more}"]


def validate_trajectory(joint_names: Sequence[str], times: Sequence[float],
                        positions: Sequence[Sequence[float]],
                        velocities: Sequence[Sequence[float]], limits: JointLimits, *,
                        limit_joint_names: Sequence[str] = ARM_JOINTS,
                        require_all_joints: bool = True, position_tolerance: float = 1e-6,
                        velocity_tolerance: float = 1e-3,
                        start_positions: Sequence[float] | None = None,
                        start_tolerance: float = 0.05) -> list[str]:
    """Reasons why a joint trajectory must be rejected (empty list = acceptable).

    Checks: joint names (unknown, duplicate, missing), shapes, NaN/inf, times (>= 0, strictly
    increasing), positions within limits, velocities within limits (each point's
    `velocities` may be empty, as in a JointTrajectoryPoint without velocities), and the
    average velocity between consecutive points, which catches a jump hidden between points
    declared at rest. `velocity_tolerance` is relative (1e-3 = 0.1 %). With
    `start_positions` (the arm now, in `limit_joint_names` order), the move from there to the
    first point, due at its time_from_start, is checked the same way; a first point at t=0
    may differ from the current position by `start_tolerance` (rad: the arm moves a little
    between planning and the controller receiving the trajectory). Never raises.
    """
    reasons: list[str] = []
    names = list(joint_names)
    known = list(limit_joint_names)
    if len(set(names)) != len(names):
        reasons.append(f"duplicate joint names in {names}")
    unknown = [n for n in names if n not in known]
    if unknown:
        reasons.append(f"unknown joints {unknown} (known: {known})")
    missing = [n for n in known if n not in names]
    if require_all_joints and missing:
        reasons.append(f"missing joints {missing}")
    t_list = list(times)
    p_list = list(positions)
    v_list = list(velocities)
    if not t_list:
        return [*reasons, "trajectory has no points"]
    if len(p_list) != len(t_list):
        return [*reasons, f"{len(t_list)} times but {len(p_list)} position rows"]
    if v_list and len(v_list) != len(t_list):
        return [*reasons, f"{len(t_list)} times but {len(v_list)} velocity rows"]
    n_j = len(names)
    bad_rows = [f"point {k} has {len(row)} positions for {n_j} joints"
                for k, row in enumerate(p_list) if len(row) != n_j]
    bad_rows += [f"point {k} has {len(row)} velocities for {n_j} joints"
                 for k, row in enumerate(v_list) if len(row) not in (0, n_j)]
    if bad_rows:
        return reasons + _first(bad_rows, "malformed points")
    try:
        t = np.asarray(t_list, dtype=float)
        p = np.asarray(p_list, dtype=float).reshape(len(t_list), n_j)
        v_rows = [np.asarray(row, dtype=float) for row in v_list]
    except (TypeError, ValueError) as err:
        return [*reasons, f"non-numeric values: {err}"]
    if not np.all(np.isfinite(t)):
        reasons.append(f"non-finite time at point {int(np.argmin(np.isfinite(t)))}")
    bad = np.argwhere(~np.isfinite(p))
    reasons += _first([f"point {k}, {names[j]}" for k, j in bad], "non-finite positions")
    bad_v = [f"point {k}" for k, row in enumerate(v_rows)
             if row.size and not np.all(np.isfinite(row))]
    reasons += _first(bad_v, "non-finite velocities")
    if reasons and (bad.size or bad_v or not np.all(np.isfinite(t))):
        return reasons
    if t[0] < 0:
        reasons.append(f"first time {t[0]} s is negative")
    steps = np.diff(t)
    reasons += _first([f"point {k + 1} (t={t[k + 1]:.4f} s after {t[k]:.4f} s)"
                       for k in np.flatnonzero(steps <= 0)], "times not strictly increasing")
    index = {n: i for i, n in enumerate(known)}
    cols = [(j, index[n]) for j, n in enumerate(names) if n in index]
    lower = np.asarray(limits.lower, dtype=float)
    upper = np.asarray(limits.upper, dtype=float)
    vel_lim = np.asarray(limits.velocity, dtype=float) * (1.0 + velocity_tolerance)
    out_pos, out_vel, out_avg = [], [], []
    for j, li in cols:
        for k in np.flatnonzero((p[:, j] < lower[li] - position_tolerance)
                                | (p[:, j] > upper[li] + position_tolerance)):
            out_pos.append(f"point {k}, {names[j]} = {p[k, j]:.4f} rad outside "
                           f"[{lower[li]:.4f}, {upper[li]:.4f}]")
        for k, row in enumerate(v_rows):
            if row.size and abs(row[j]) > vel_lim[li]:
                out_vel.append(f"point {k}, {names[j]} = {row[j]:.3f} rad/s beyond "
                               f"{limits.velocity[li]:.3f}")
        if len(t) > 1 and np.all(steps > 0):
            avg = np.abs(np.diff(p[:, j])) / steps
            for k in np.flatnonzero(avg > vel_lim[li]):
                out_avg.append(f"points {k}->{k + 1}, {names[j]} moves {avg[k]:.3f} rad/s "
                               f"on average, beyond {limits.velocity[li]:.3f}")
    if start_positions is not None and np.all(np.isfinite(t)) and t[0] > 0:
        start = np.asarray(start_positions, dtype=float)
        for j, li in cols:
            speed = abs(p[0, j] - start[li]) / t[0]
            if speed > vel_lim[li]:
                out_avg.append(f"current -> point 0, {names[j]} moves {speed:.3f} rad/s on "
                               f"average, beyond {limits.velocity[li]:.3f}")
    elif start_positions is not None and np.all(np.isfinite(t)) and t[0] == 0:
        start = np.asarray(start_positions, dtype=float)
        jumps = [names[j] for j, li in cols if abs(p[0, j] - start[li]) > start_tolerance]
        if jumps:
            out_avg.append(f"point 0 at t=0 is away from the current position for {jumps}")
    reasons += _first(out_pos, "positions beyond the joint limits")
    reasons += _first(out_vel, "velocities beyond the joint limits")
    reasons += _first(out_avg, "jumps between points")
    return reasons
