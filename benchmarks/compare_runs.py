"""The issue-4 figures of one or more `./foresight run` result files, side by side: parts
seated split into tray and conveyor parts (which parts rode the conveyor comes from the
family and seed, as the simulation sampled them), success with its Wilson interval, task
errors by kind, separation violations, perception, pooled decision latency, cycle time per
part, RTF, CPU and RSS. With two files of the same seeds in different decision modes, the
error reduction of the first against the second with a paired bootstrap interval.
An offline tool: it reads the run files and the family definitions, never a running stack.

    ./foresight python benchmarks/compare_runs.py runs/A/results.json runs/B/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from foresight_bringup.stats import paired_error_reduction, percentiles, wilson_interval
from foresight_common.cell_layout import load_cell_layout
from foresight_simulation.families import load_family, sample_scene

CONFIG = Path(__file__).resolve().parent.parent / "config"


def conveyor_parts(family: str, seed: int) -> set[str]:
    layout = load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")
    scene = sample_scene(layout, load_family(family, CONFIG), seed)
    return {p.name for p in scene.parts if p.location == "conveyor"}


def figures(run: dict) -> dict:
    episodes = run["episodes"]
    seated = {"tray": [0, 0], "conveyor": [0, 0]}
    errors: dict[str, int] = {}
    latency: list[float] = []
    cycles = []
    for episode in episodes:
        on_belt = conveyor_parts(episode["family"], episode["seed"])
        for name, status in episode["part_status"].items():
            where = "conveyor" if name in on_belt else "tray"
            seated[where][0] += status == "seated"
            seated[where][1] += 1
        for kind, count in episode["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
        if episode.get("latency_ms"):
            latency += episode["latency_ms"]["samples"]
        inserted = [e["t"] for e in episode["events"]
                    if e["skill"] == "insert" and e["state"] == "succeeded"]
        if inserted:
            cycles.append(max(inserted) / len(inserted))
    successes = sum(e["success"] for e in episodes)
    perception = [e["perception"] for e in episodes if e.get("perception")]
    return {
        "mode": episodes[0]["decision_mode"], "family": episodes[0]["family"],
        "seeds": [e["seed"] for e in episodes],
        "tray": seated["tray"], "conveyor": seated["conveyor"],
        "success": [successes, len(episodes), *wilson_interval(successes, len(episodes))],
        "task_errors": [e["task_errors"] for e in episodes],
        "errors": {k: v for k, v in errors.items() if v},
        "violations": [e["separation"]["violation_events"] for e in episodes],
        "min_separation_m": [e["separation"]["min_m"] for e in episodes],
        "recall_static": [p["recall_static"] for p in perception],
        "error_p95_m": [p["error_p95_m"] for p in perception],
        "latency_ms": percentiles(latency),
        "cycle_s": cycles,
        "rtf": [e["rtf_achieved"] for e in episodes],
    }


def span(values: list) -> str:
    finite = [v for v in values if v is not None]
    return f"{min(finite):.3g}-{max(finite):.3g}" if finite else "-"


def report(results: list[dict]) -> str:
    lines = []
    for r in results:
        s_done, s_n, s_low, s_high = r["success"]
        lat = r["latency_ms"]
        lines += [
            f"{r['family']} / {r['mode']} (seeds {r['seeds'][0]}-{r['seeds'][-1]}, "
            f"n={len(r['seeds'])})",
            f"  tray {r['tray'][0]}/{r['tray'][1]}   conveyor {r['conveyor'][0]}/"
            f"{r['conveyor'][1]}   success {s_done}/{s_n} (95 % CI {s_low:.2f}-{s_high:.2f})",
            f"  task errors {r['task_errors']} total {sum(r['task_errors'])}: {r['errors']}",
            f"  separation violations {r['violations']}; min separation "
            f"{span(r['min_separation_m'])} m",
            f"  recall static {span(r['recall_static'])}; 3D error p95 "
            f"{span(r['error_p95_m'])} m",
            f"  decision latency p50 {lat['p50']:.0f} ms p99 {lat['p99']:.0f} ms "
            f"(n={lat['n']}); cycle {span(r['cycle_s'])} s/part; RTF {span(r['rtf'])}",
        ]
    if len(results) == 2 and results[0]["seeds"] == results[1]["seeds"] and \
            results[0]["mode"] != results[1]["mode"]:
        reduction, low, high = paired_error_reduction(results[0]["task_errors"],
                                                      results[1]["task_errors"])
        lines.append(f"error reduction {results[0]['mode']} vs {results[1]['mode']}: "
                     f"{reduction:.1%} (paired bootstrap 95 % CI {low:.1%}..{high:.1%})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="result files of ./foresight run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = []
    for path in args.runs:
        try:
            results.append(figures(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError) as exc:
            print(f"{path}: not a readable run result ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
            return 2
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
