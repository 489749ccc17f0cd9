"""Localisation accuracy of the home robot against the known (nominal) room, per variation
family: the simulation renders the head camera's depth at random free poses of a seeded
scene (furniture moved as the family moves it, clutter, the person where the schedule puts
them at t = 0), the matcher starts from a prior off by a drift draw (sigma 10 cm, 3 deg) and
the result is compared with the true pose. Also the match time. Offline tool: it reads the
simulation's ground truth (the true pose), no online node does.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import mujoco
import numpy as np

from foresight_common.conversions import homogeneous
from foresight_common.depth_scan import virtual_scan
from foresight_common.mobile_manipulator import camera_mount_in_base
from foresight_common.occupancy import room_map
from foresight_common.room_layout import load_room_layout
from foresight_perception.localization import ScanMatcher, map_outline
from foresight_simulation.world import build_world

CONFIG = Path(__file__).resolve().parent.parent / "config"
OPTICAL_IN_LINK = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def camera_in_base() -> np.ndarray:
    position, quat = camera_mount_in_base()
    optical = np.eye(4)
    optical[:3, :3] = OPTICAL_IN_LINK
    return homogeneous(position, quat) @ optical


def run_family(family: str, seeds: range, poses: int, rng: np.random.Generator) -> dict:
    room_file = CONFIG / "rooms" / "home_room.yaml"
    nominal = load_room_layout(room_file)
    matcher = ScanMatcher(map_outline(nominal))
    errors, yaw_errors, refused, times = [], [], 0, []
    mount = camera_in_base()
    for seed in seeds:
        room = build_world("", family, "", str(CONFIG), seed, "home_care").cell
        free = room_map(room.layout)           # where this scene's base can stand
        renderer = mujoco.Renderer(room.model, 240, 320)
        done = 0
        while done < poses:
            x, y = rng.uniform(0.5, room.layout.size[0] - 0.5), rng.uniform(
                0.5, room.layout.size[1] - 0.5)
            if free.clearance(x, y) < 0.5:
                continue
            yaw = rng.uniform(-math.pi, math.pi)
            room.data.qpos[room.base_qpos] = (x, y, yaw)
            mujoco.mj_forward(room.model, room.data)
            _, depth = room.render_rgbd(renderer)
            start = time.perf_counter()
            scan = virtual_scan(depth, room.camera_intrinsics(320, 240), mount)
            prior = (x + rng.normal(0, 0.1), y + rng.normal(0, 0.1),
                     yaw + rng.normal(0, math.radians(3)))
            match = matcher.match(scan, prior)
            times.append(time.perf_counter() - start)
            done += 1
            if not match.accepted:
                refused += 1
                continue
            errors.append(math.dist(match.pose[:2], (x, y)))
            yaw_errors.append(abs(math.remainder(match.pose[2] - yaw, 2 * math.pi)))
        renderer.close()
    e = np.array(errors)
    return {"family": family, "seeds": [seeds.start, seeds.stop - 1], "poses": len(times),
            "accepted": len(errors), "refused": refused,
            "error_m": {"p50": float(np.median(e)), "p95": float(np.percentile(e, 95)),
                        "max": float(e.max())},
            "within_5cm": float(np.mean(e < 0.05)),
            "yaw_error_deg_p95": float(np.degrees(np.percentile(yaw_errors, 95))),
            "match_ms_p50": 1000 * float(np.median(times)),
            "match_ms_p99": 1000 * float(np.percentile(times, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", nargs="+",
                        default=["home_smoke", "home_train", "home_heldout"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1, help="first scene seed")
    parser.add_argument("--poses", type=int, default=20, help="poses per scene")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(12345)
    results = [run_family(f, range(args.seed, args.seed + args.seeds), args.poses, rng)
               for f in args.families]
    print(f"{'family':14} {'poses':>5} {'refused':>7} {'p50 cm':>7} {'p95 cm':>7} "
          f"{'max cm':>7} {'<5cm':>5} {'yaw p95':>7} {'ms p50/p99':>11}")
    for r in results:
        e = r["error_m"]
        print(f"{r['family']:14} {r['poses']:5d} {r['refused']:7d} {100 * e['p50']:7.1f} "
              f"{100 * e['p95']:7.1f} {100 * e['max']:7.1f} {r['within_5cm']:5.2f} "
              f"{r['yaw_error_deg_p95']:6.1f}d {r['match_ms_p50']:5.1f}/{r['match_ms_p99']:4.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
