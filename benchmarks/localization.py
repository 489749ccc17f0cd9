"""Localisation accuracy of the home robot against the known (nominal) room, per variation
family: the simulation renders the head camera's depth at random free poses of a seeded
scene (furniture moved as the family moves it, clutter, the person where the schedule puts
them at t = 0), the matcher starts from a prior off by a drift draw (sigma 10 cm, 3 deg;
`--prior-sigma`), as the first match or `--driven` metres after the last one, and the
result is compared with the true pose. Also the match time. `--near table` takes the
poses where a pick from the table stands instead (0.5-0.8 m from a side of the scene's
table, facing it), and each pose is matched with the scan of the lower band alone and with
the wall band above the furniture added (`--upper-min-z`). Offline tool: it reads the
simulation's ground truth (the true pose), no online node does.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from foresight_common.conversions import homogeneous
from foresight_common.depth_scan import ScanConfig, virtual_scan
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


@dataclass
class Tally:
    """One scan's matches over a family's poses."""
    errors: list[float] = field(default_factory=list)       # accepted matches (m)
    yaw_errors: list[float] = field(default_factory=list)   # ... their heading (rad)
    kept: list[float] = field(default_factory=list)   # what the node goes on with (m): a
    #                                                   refused match keeps the prior's
    times: list[float] = field(default_factory=list)        # scan + match (s)
    refused: int = 0


def random_pose(room, free, rng: np.random.Generator) -> tuple[float, float, float] | None:
    """A free pose anywhere in the room, facing anywhere (None: drawn on furniture)."""
    x, y = rng.uniform(0.5, room.layout.size[0] - 0.5), rng.uniform(
        0.5, room.layout.size[1] - 0.5)
    if free.clearance(x, y) < 0.5:
        return None
    return x, y, rng.uniform(-math.pi, math.pi)


def pose_at_table(room, free, rng: np.random.Generator) -> tuple[float, float, float] | None:
    """A free pose 0.5-0.8 m from a side of the scene's table, facing it (sigma 5 deg): where
    the base stands for a pick from the table (None: that side is blocked)."""
    table = next(f for f in room.layout.furniture if f.kind == "table")
    side = int(rng.integers(4))
    half = (table.size[0] / 2, table.size[1] / 2)
    along = rng.uniform(-0.8, 0.8) * half[1 - side % 2]
    off = half[side % 2] + rng.uniform(0.5, 0.8)
    sign = 1.0 if side < 2 else -1.0
    local = (sign * off, along) if side % 2 == 0 else (along, sign * off)
    c, s = math.cos(table.yaw), math.sin(table.yaw)
    x = table.center[0] + c * local[0] - s * local[1]
    y = table.center[1] + s * local[0] + c * local[1]
    if free.clearance(x, y) < 0.4:
        return None
    yaw = math.atan2(table.center[1] - y, table.center[0] - x)
    return x, y, yaw + rng.normal(0.0, math.radians(5.0))


def run_family(family: str, seeds: range, poses: int, rng: np.random.Generator,
               near: str, upper_min_z: float, prior_sigma: float,
               driven: float | None) -> list[dict]:
    """One result per scan: the lower band alone, and with the upper (wall) band."""
    room_file = CONFIG / "rooms" / "home_room.yaml"
    nominal = load_room_layout(room_file)
    matcher = ScanMatcher(map_outline(nominal))
    scans = {"lower band": ScanConfig(), f"+ above {upper_min_z:.2f} m":
             ScanConfig(upper_min_z=upper_min_z)}
    found = {name: Tally() for name in scans}
    mount = camera_in_base()
    draw = pose_at_table if near == "table" else random_pose
    for seed in seeds:
        room = build_world("", family, "", str(CONFIG), seed, "home_care").cell
        free = room_map(room.layout)           # where this scene's base can stand
        renderer = mujoco.Renderer(room.model, 240, 320)
        done = 0
        while done < poses:
            pose = draw(room, free, rng)
            if pose is None:
                continue
            x, y, yaw = pose
            room.data.qpos[room.base_qpos] = (x, y, yaw)
            mujoco.mj_forward(room.model, room.data)
            _, depth = room.render_rgbd(renderer)
            prior = (x + rng.normal(0, prior_sigma), y + rng.normal(0, prior_sigma),
                     yaw + rng.normal(0, math.radians(30 * prior_sigma)))
            done += 1
            for name, config in scans.items():
                tally = found[name]
                start = time.perf_counter()
                scan = virtual_scan(depth, room.camera_intrinsics(320, 240), mount, config)
                match = matcher.match(scan, prior, None if driven is None else
                                      (driven, 0.3 * driven))
                tally.times.append(time.perf_counter() - start)
                if not match.accepted:
                    tally.refused += 1
                    tally.kept.append(math.dist(prior[:2], (x, y)))
                    continue
                tally.errors.append(math.dist(match.pose[:2], (x, y)))
                tally.kept.append(tally.errors[-1])
                tally.yaw_errors.append(abs(math.remainder(match.pose[2] - yaw, 2 * math.pi)))
        renderer.close()
    return [summary(family, seeds, near, name, found[name]) for name in scans]


def summary(family: str, seeds: range, near: str, scan: str, tally: Tally) -> dict:
    e = np.array(tally.errors) if tally.errors else np.array([math.nan])
    k = np.array(tally.kept)
    return {"family": family, "seeds": [seeds.start, seeds.stop - 1],
            "poses": len(tally.times),
            "near": near, "scan": scan,
            "accepted": len(tally.errors), "refused": tally.refused,
            "error_m": {"p50": float(np.median(e)), "p95": float(np.percentile(e, 95)),
                        "max": float(e.max())},
            "within_5cm": float(np.mean(e < 0.05)),
            "kept_error_m": {"p50": float(np.median(k)), "p90": float(np.percentile(k, 90))},
            "yaw_error_deg_p95": float(np.degrees(np.percentile(tally.yaw_errors, 95))),
            "match_ms_p50": 1000 * float(np.median(tally.times)),
            "match_ms_p99": 1000 * float(np.percentile(tally.times, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", nargs="+",
                        default=["home_smoke", "home_train", "home_heldout"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1, help="first scene seed")
    parser.add_argument("--poses", type=int, default=20, help="poses per scene")
    parser.add_argument("--near", choices=("anywhere", "table"), default="anywhere",
                        help="where the poses are drawn")
    parser.add_argument("--upper-min-z", type=float, default=1.0,
                        help="the wall band's lower edge (m) for the second scan")
    parser.add_argument("--prior-sigma", type=float, default=0.10,
                        help="the prior's error (m; and 30x as many degrees of heading)")
    parser.add_argument("--driven", type=float, default=None,
                        help="metres driven since the last accepted match, as the node "
                             "passes it (default: none, the first match)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(12345)
    results = [r for f in args.families
               for r in run_family(f, range(args.seed, args.seed + args.seeds), args.poses,
                                   rng, args.near, args.upper_min_z, args.prior_sigma,
                                   args.driven)]
    print(f"poses {args.near}, prior off by {100 * args.prior_sigma:.0f} cm, "
          f"{'first match' if args.driven is None else f'{args.driven} m driven since one'}")
    print(f"{'family':14} {'scan':16} {'poses':>5} {'refused':>7} {'p50 cm':>7} {'p95 cm':>7} "
          f"{'max cm':>7} {'<5cm':>5} {'yaw p95':>7} {'ms p50/p99':>11} {'kept p50/p90':>12}")
    for r in results:
        e = r["error_m"]
        print(f"{r['family']:14} {r['scan']:16} {r['poses']:5d} {r['refused']:7d} "
              f"{100 * e['p50']:7.1f} "
              f"{100 * e['p95']:7.1f} {100 * e['max']:7.1f} {r['within_5cm']:5.2f} "
              f"{r['yaw_error_deg_p95']:6.1f}d {r['match_ms_p50']:5.1f}/{r['match_ms_p99']:4.1f}"
              f" {100 * r['kept_error_m']['p50']:6.1f}/{100 * r['kept_error_m']['p90']:4.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
