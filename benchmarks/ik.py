"""IK solve time and success rate of the executor's solver on random reachable poses, and the
cost of a collision-checked Cartesian approach (what a pick plans)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from foresight_common.cell_layout import load_cell_layout
from foresight_common.robot_model import HOME_POSITIONS, RobotKinematics
from foresight_executor.cartesian import linear_path
from foresight_executor.collision import CollisionChecker
from foresight_executor.ik import IkSolver

CONFIG = Path(__file__).resolve().parent.parent / "config"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--poses", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    kinematics = RobotKinematics()
    solver = IkSolver(kinematics)
    rng = np.random.default_rng(args.seed)
    limits = kinematics.limits
    times, nearby_times, successes = [], [], 0
    for _ in range(args.poses):
        q = rng.uniform(limits.lower, limits.upper)
        position, quat = solver.forward(q)
        result = solver.solve(position, quat, seed_q=np.array(HOME_POSITIONS))
        times.append(result.time_ms)
        successes += int(result.success)
        nearby = solver.solve(position, quat, seed_q=q + rng.normal(0, 0.05, 7))
        nearby_times.append(nearby.time_ms)
    layout = load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")
    checker = CollisionChecker(layout.static_obstacles(), base_pos=layout.robot_base)
    home = np.array(HOME_POSITIONS)
    start = time.perf_counter()
    for _ in range(20):
        path = linear_path(solver, home, solver.forward(home)[0] - np.array([0, 0, 0.15]))
        checker.check_path(path.qs)
    approach_ms = (time.perf_counter() - start) / 20 * 1e3
    report = {
        "poses": args.poses,
        "success_rate": successes / args.poses,
        "solve_ms_from_home": {"p50": float(np.percentile(times, 50)),
                               "p99": float(np.percentile(times, 99))},
        "solve_ms_from_nearby_seed": {"p50": float(np.percentile(nearby_times, 50)),
                                      "p99": float(np.percentile(nearby_times, 99))},
        "cartesian_15cm_with_collision_check_ms": approach_ms,
    }
    print(f"IK over {args.poses} random reachable poses: success {report['success_rate']:.1%},"
          f" from home p50 {report['solve_ms_from_home']['p50']:.2f} ms / p99 "
          f"{report['solve_ms_from_home']['p99']:.2f} ms; from a nearby seed p50 "
          f"{report['solve_ms_from_nearby_seed']['p50']:.2f} ms / p99 "
          f"{report['solve_ms_from_nearby_seed']['p99']:.2f} ms; 15 cm approach planned and "
          f"collision-checked in {approach_ms:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
