"""Perception from the home robot's head camera, per variation family: each task object
seen from 1.0 and 1.4 m and the person from 1.4, 2.0 and 2.6 m (free poses facing them) in
seeded rooms, rendered with the family's lighting, colours and camera noise, run through a
detector back end and judged by the simulation's ground truth (recall, false detections,
error across and in height; person found with the torso within 10 cm, head error). Offline
tool: it reads ground truth, no online node does. Held-out families are for reporting,
never for tuning.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mujoco
import numpy as np

from foresight_perception.detector import Frame, load_class_catalog, make_detector
from foresight_perception.geometry import Intrinsics
from foresight_simulation.home_views import ViewStats, measure_views
from foresight_simulation.world import build_world

CONFIG = Path(__file__).resolve().parent.parent / "config"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", nargs="+", default=["home_train", "home_heldout"])
    parser.add_argument("--seeds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1, help="first scene seed")
    parser.add_argument("--backend", default="upright")
    parser.add_argument("--classes", type=Path,
                        default=CONFIG / "perception" / "home_classes.yaml")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    detector = make_detector(args.backend, load_class_catalog(args.classes))

    def detect(view):
        fx, fy, cx, cy = view.intrinsics
        height, width = view.depth.shape
        result = detector.detect(Frame(view.rgb, view.depth,
                                       Intrinsics(fx, fy, cx, cy, width, height),
                                       view.world_from_optical, 1.0))
        return ([(d.label, d.position) for d in result.objects],
                [{k: kp.position for k, kp in p.keypoints.items()} for p in result.people])

    results = []
    for family in args.families:
        stats = ViewStats()
        for seed in range(args.seed, args.seed + args.seeds):
            room = build_world("", family, "", str(CONFIG), seed, "home_care").cell
            mujoco.mj_forward(room.model, room.data)
            measure_views(room, detect, np.random.default_rng(seed), stats)
        results.append({"family": family, "seeds": [args.seed, args.seed + args.seeds - 1],
                        "backend": args.backend, **stats.summary(),
                        "missed": [[name, list(pose)] for name, pose in stats.missed]})
    print(f"{'family':14} {'views':>5} {'found':>5} {'missed':>6} {'recall':>6} {'false':>5} "
          f"{'p50 cm':>6} {'p95 cm':>6} {'max cm':>6} {'person':>7} {'head p50':>8}")
    for r in results:
        e = r["error_across_m"] or {"p50": float("nan"), "p95": float("nan"),
                                    "max": float("nan")}
        head = r["head_error_p50_m"]
        print(f"{r['family']:14} {r['views']:5d} {r['objects_found']:5d} "
              f"{r['objects_missed']:6d} {r['recall'] or 0.0:6.2f} {r['false']:5d} "
              f"{100 * e['p50']:6.1f} {100 * e['p95']:6.1f} {100 * e['max']:6.1f} "
              f"{r['person_found']:3d}/{r['person_views']:<3d} "
              f"{'-' if head is None else f'{100 * head:.1f} cm':>8}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
