"""Offline measurement of the perception detector against simulation ground truth.

Renders RGB-D frames of seeded scenes of a variation family (with the family's camera noise)
at several moments — parts in the tray, a part on the conveyor, a part seated in its hole, the
co-worker reaching — each with the robot at home and moved over the work (IK to a pose above a
part or hole, so that the arm hides things as it does in operation), runs the detector on
every frame and reports per class: recall, false positives per frame, 3-D error p50/p95,
coverage of the stated 95 % region (calibration), yaw error for the classes whose yaw is
observable, hand keypoint errors, and the detector's processing time p50/p99 per resolution.

Visibility: an object counts (recall denominator) when enough of it is in view, measured
from a segmentation render: >= 60 % of a part's top face, >= 60 % of a hole's rim ring,
>= 50 % of the tray, >= 40 % of a hand's silhouette. Detections of objects less visible than
that are neither hits nor false positives.

    ./foresight python tools/measure_perception.py --seeds 0-9 --json /tmp/perception.json

Seeds >= 100000 are reserved for evaluation and refused here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from scipy.optimize import linear_sum_assignment

from foresight_common.conversions import homogeneous
from foresight_common.robot_model import HOME_POSITIONS
from foresight_perception.detector import (
    DetectionResult,
    Frame,
    load_class_catalog,
    make_detector,
)
from foresight_perception.geometry import Intrinsics, wrap_angle
from foresight_simulation.runtime import SimulatedCell
from foresight_simulation.scene import IndustrialCell, apply_camera_noise

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
EVALUATION_SEEDS = 100_000
CHI2_3_95 = 7.815              # 95 % quantile of chi-square with 3 degrees of freedom
MATCH_GATE = {"part": 0.03, "hole": 0.03, "container": 0.05}
VISIBLE = {"part": 0.6, "hole": 0.6, "container": 0.5, "hand": 0.4}
HAND_RADIUS = 0.045
VERBOSE = False


@dataclass
class GroundTruthObject:
    name: str
    label: str
    kind: str
    category: str              # static | conveyor | seated | hole | tray
    position: np.ndarray
    yaw: float
    visible: float             # share in view (see module docstring)


@dataclass
class Shot:
    """One rendered frame plus what it shows."""

    family: str
    seed: int
    moment: str
    robot: str
    width: int
    frame: Frame
    objects: list[GroundTruthObject]
    hands: dict[str, tuple[np.ndarray, float]]   # name -> (position, visible share)


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for chunk in text.split(","):
        if "-" in chunk:
            lo, hi = (int(v) for v in chunk.split("-"))
            seeds += list(range(lo, hi + 1))
        elif chunk:
            seeds.append(int(chunk))
    if any(s >= EVALUATION_SEEDS or s < 0 for s in seeds):
        raise SystemExit(f"seeds must lie in 0..{EVALUATION_SEEDS - 1} (>= {EVALUATION_SEEDS}"
                         " are reserved for evaluation)")
    return seeds


# --- scene control --------------------------------------------------------------------------
def yaw_of(quat_wxyz) -> float:
    w, x, y, z = quat_wxyz
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def advance(sim: SimulatedCell, until: float) -> None:
    while sim.sim_time < until:
        sim.step()


def seat_part(cell: IndustrialCell, part: str, hole_name: str, sim: SimulatedCell) -> None:
    """Put a part into a hole of its type (teleport just above the hole bottom, let it
    settle), as the executor leaves it after a successful insertion."""
    hole = next(h for h in cell.layout.holes if h.name == hole_name)
    height = cell.parts[part].part_type.height
    adr = cell._part_qpos[part]
    dof = cell._part_dof[part]
    cell.data.qpos[adr:adr + 3] = (hole.position[0], hole.position[1],
                                   hole.bottom_z + height / 2.0 + 0.0005)
    cell.data.qpos[adr + 3:adr + 7] = (math.cos(hole.yaw / 2), 0.0, 0.0,
                                       math.sin(hole.yaw / 2))
    cell.data.qvel[dof:dof + 6] = 0.0
    mujoco.mj_forward(cell.model, cell.data)
    advance(sim, sim.sim_time + 0.3)


def moved_arm(cell: IndustrialCell, target: np.ndarray, solver) -> np.ndarray | None:
    """Arm joints with the TCP 12 cm above `target`, gripper pointing down (or None)."""
    base = np.array(cell.layout.robot_base)
    goal = np.asarray(target, dtype=float) - base + np.array([0.0, 0.0, 0.12])
    result = solver.solve(goal, (0.0, 1.0, 0.0, 0.0), yaw_free=True,
                          seed_q=np.array(HOME_POSITIONS))
    return np.asarray(result.q) if result.success else None


# --- rendering and ground truth --------------------------------------------------------------
class Renderer:
    def __init__(self, cell: IndustrialCell, width: int, height: int) -> None:
        self.cell = cell
        self.width, self.height = width, height
        self.renderer = mujoco.Renderer(cell.model, height, width)
        fx, fy, cx, cy = cell.camera_intrinsics(width, height)
        self.intrinsics = Intrinsics(fx, fy, cx, cy, width, height)

    def close(self) -> None:
        self.renderer.close()

    def shot(self, data: mujoco.MjData, stamp: float, rng: np.random.Generator
             ) -> tuple[Frame, np.ndarray, np.ndarray]:
        cell = self.cell
        rgb, depth = cell.render_rgbd(self.renderer, data)
        self.renderer.update_scene(data, camera=cell._camera_id)
        self.renderer.enable_segmentation_rendering()
        seg = self.renderer.render()[..., 0].copy()
        self.renderer.disable_segmentation_rendering()
        noisy_rgb, noisy_depth = apply_camera_noise(rgb, depth, cell.params.camera_noise, rng)
        position, quat = cell.camera_pose(optical=True)
        frame = Frame(noisy_rgb, noisy_depth, self.intrinsics, homogeneous(position, quat),
                      stamp)
        return frame, seg, depth


def pixel_area(depth: np.ndarray, intr: Intrinsics, camera_z: float, surface_z: float
               ) -> np.ndarray:
    return depth ** 3 / (intr.fx * intr.fy * max(camera_z - surface_z, 1e-3))


def ground_truth_objects(cell: IndustrialCell, data: mujoco.MjData, frame: Frame,
                         seg: np.ndarray, depth: np.ndarray) -> tuple[
                             list[GroundTruthObject], dict[str, tuple[np.ndarray, float]]]:
    """Objects with their visible share, from the segmentation and noise-free depth."""
    m = cell.model
    intr = frame.intrinsics
    camera_z = float(frame.world_from_optical[2, 3])
    status = cell.part_status()
    out: list[GroundTruthObject] = []
    geom_ids = np.unique(seg)
    by_name = {m.geom(int(g)).name: int(g) for g in geom_ids if g >= 0}
    for obj in cell.ground_truth():
        if obj.kind == "part":
            pt = cell.parts[obj.name].part_type
            top_z = obj.position[2] + pt.height / 2.0
            gid = by_name.get(obj.name)
            visible = 0.0
            if gid is not None:
                rows, cols = np.nonzero(seg == gid)
                z_world = camera_z - depth[rows, cols]
                on_top = np.abs(z_world - top_z) < 0.004
                area = float(pixel_area(depth[rows, cols][on_top], intr, camera_z, top_z).sum())
                footprint = math.pi * pt.size[0] ** 2 / 4 if pt.shape == "cylinder" else \
                    pt.size[0] * pt.size[1]
                visible = area / footprint
            state = status.get(obj.name, "other")
            category = {"in_tray": "static", "on_conveyor": "conveyor",
                        "seated": "seated"}.get(state, "other")
            out.append(GroundTruthObject(obj.name, obj.type, "part", category,
                                         np.array(obj.position), yaw_of(obj.quat), visible))
        elif obj.kind == "hole":
            hole = next(h for h in cell.layout.holes if h.name == obj.name)
            walls = [g for n, g in by_name.items() if n.startswith(f"{obj.name}/wall_")]
            pixels = np.isin(seg, walls)
            z_world = camera_z - depth[pixels]
            at_rim = np.abs(z_world - hole.position[2]) < 0.004
            area = float(pixel_area(depth[pixels][at_rim], intr, camera_z,
                                    hole.position[2]).sum())
            opening = hole.opening if len(hole.opening) == 2 else hole.opening * 2
            rim = [o + 2 * (cell.layout.fixture.chamfer + cell.layout.fixture.rim_margin)
                   for o in opening]
            ring = rim[0] * rim[1] - (math.pi / 4 if len(hole.opening) == 1 else 1.0) * \
                opening[0] * opening[1]
            out.append(GroundTruthObject(obj.name, obj.type, "hole", "hole",
                                         np.array(obj.position), yaw_of(obj.quat),
                                         min(area / ring, 1.0)))
        elif obj.kind == "tray":
            tray_geoms = [g for n, g in by_name.items() if n.startswith("tray")]
            pixels = np.isin(seg, tray_geoms)
            area = float(pixel_area(depth[pixels], intr, camera_z, obj.position[2]).sum())
            out.append(GroundTruthObject(obj.name, "tray", "container", "tray",
                                         np.array(obj.position), yaw_of(obj.quat),
                                         min(area / (obj.size[0] * obj.size[1]), 1.0)))
    hands = {}
    for obj in cell.ground_truth():
        if obj.kind == "person" and obj.type.endswith("hand"):
            gid = by_name.get(f"coworker/{obj.type}")
            count = int((seg == gid).sum()) if gid is not None else 0
            dist = camera_z - obj.position[2]
            expected = math.pi * (HAND_RADIUS * intr.fx / max(dist, 0.1)) ** 2
            hands[obj.type] = (np.array(obj.position), min(count / expected, 1.0))
    return out, hands


# --- scenes of one seed ----------------------------------------------------------------------
def shots_for_seed(family: str, seed: int, widths: list[int], solver) -> list[Shot]:
    cell = IndustrialCell.from_family(family, seed, CONFIG)
    sim = SimulatedCell(cell)
    rng = np.random.default_rng([seed, 2024])
    renderers = {w: Renderer(cell, w, w * 3 // 4) for w in widths}
    moments: list[tuple[str, float]] = [("tray", 1.0)]
    conveyor = sorted((p.spawn_time, p) for p in cell.params.parts if p.location == "conveyor")
    if conveyor:
        spawn, part = conveyor[0]
        # mid-belt: 40 cm after the entry, well inside the view
        moments.append(("conveyor", spawn + 0.40 / max(cell.params.conveyor_speed, 0.01)))
    holds = [p for p in cell.coworker.phases]
    reach_t = (holds[0].t_hold + holds[0].t_back) / 2.0 if holds else None
    shots: list[Shot] = []
    for moment, t in sorted(moments + ([("reach", reach_t)] if reach_t else []),
                            key=lambda m: m[1]):
        advance(sim, t)
        shots += capture(cell, sim, renderers, family, seed, moment, rng, solver)
    # a part seated in a hole of its type (the first tray part into the first free hole)
    tray_parts = [p for p in cell.params.parts if p.location == "tray"]
    if tray_parts:
        part = tray_parts[0]
        hole = next(h for h in cell.layout.holes if h.type == part.part_type.hole_type)
        seat_part(cell, part.name, hole.name, sim)
        shots += capture(cell, sim, renderers, family, seed, "seated", rng, solver)
    for r in renderers.values():
        r.close()
    return shots


def capture(cell: IndustrialCell, sim: SimulatedCell, renderers: dict[int, Renderer],
            family: str, seed: int, moment: str, rng: np.random.Generator, solver
            ) -> list[Shot]:
    """Frames of the current state: robot at home, and moved above a part or a hole."""
    shots = []
    data_moved = mujoco.MjData(cell.model)
    mujoco.mj_copyData(data_moved, cell.model, cell.data)
    targets = [np.array(o.position) for o in cell.ground_truth() if o.kind in ("part", "hole")]
    q = None
    if targets:
        pick = targets[int(rng.integers(len(targets)))]
        q = moved_arm(cell, pick, solver)
    variants = [("home", cell.data)]
    if q is not None:
        data_moved.qpos[cell.arm_qpos] = q
        mujoco.mj_forward(cell.model, data_moved)
        variants.append(("moved", data_moved))
    for robot, data in variants:
        for width, renderer in renderers.items():
            frame, seg, depth = renderer.shot(data, sim.sim_time, rng)
            objects, hands = ground_truth_objects(cell, data, frame, seg, depth)
            shots.append(Shot(family, seed, moment, robot, width, frame, objects, hands))
    return shots


# --- scoring --------------------------------------------------------------------------------
@dataclass
class Tally:
    hits: int = 0
    visible: int = 0
    false_positives: int = 0
    errors: list[float] = None          # type: ignore[assignment]
    nees_inside: int = 0
    yaw_errors: list[float] = None      # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.errors = []
        self.yaw_errors = []


def score(shot: Shot, result: DetectionResult, tallies: dict[str, Tally],
          yaw_periods: dict[str, float], hand_tally: dict[str, list]) -> int:
    """Match detections to objects per label; returns the frame's false positives."""
    false_positives = 0
    labels = {o.label for o in shot.objects} | {d.label for d in result.objects}
    for label in labels:
        truths = [o for o in shot.objects if o.label == label]
        dets = [d for d in result.objects if d.label == label]
        kind = dets[0].kind if dets else truths[0].kind
        gate = MATCH_GATE[kind]
        matched_truth: set[int] = set()
        matched_det: set[int] = set()
        if truths and dets:
            cost = np.array([[float(np.linalg.norm(d.position - t.position)) for t in truths]
                             for d in dets])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] <= gate:
                    matched_det.add(r)
                    matched_truth.add(c)
                    truth, det = truths[c], dets[r]
                    if truth.visible >= VISIBLE[kind]:
                        tally = tallies[f"{truth.category}:{label}"]
                        error = det.position - truth.position
                        tally.errors.append(float(np.linalg.norm(error)))
                        if VERBOSE and tally.errors[-1] > 0.005:
                            print(f"  error {1e3 * tally.errors[-1]:.1f} mm {shot.family} seed "
                                  f"{shot.seed} {shot.moment}/{shot.robot} {shot.width}px: "
                                  f"{truth.name} {label} visible {truth.visible:.2f} "
                                  f"error {np.round(error * 1e3, 1)} mm", file=sys.stderr)
                        nees = float(error @ np.linalg.solve(det.position_covariance, error))
                        tally.nees_inside += int(nees <= CHI2_3_95)
                        period = yaw_periods.get(label, 0.0)
                        if period > 0 and det.yaw_variance < 1.0:
                            tally.yaw_errors.append(abs(wrap_angle(det.yaw - truth.yaw,
                                                                   math.radians(period))))
        for c, truth in enumerate(truths):
            if truth.visible >= VISIBLE[truth.kind]:
                tally = tallies[f"{truth.category}:{label}"]
                tally.visible += 1
                tally.hits += int(c in matched_truth)
                if c not in matched_truth and VERBOSE:
                    print(f"  miss {shot.family} seed {shot.seed} {shot.moment}/{shot.robot} "
                          f"{shot.width}px: {truth.name} {label} visible {truth.visible:.2f}",
                          file=sys.stderr)
        for r, det in enumerate(dets):
            if r in matched_det:
                continue
            # near an object that is mostly hidden: neither hit nor false positive
            near_hidden = any(float(np.linalg.norm(det.position - t.position)) <= gate
                              for t in truths)
            if not near_hidden:
                false_positives += 1
                if VERBOSE:
                    print(f"  false positive {shot.family} seed {shot.seed} {shot.moment}/"
                          f"{shot.robot} {shot.width}px: {label} at "
                          f"{np.round(det.position, 3)}", file=sys.stderr)
                tallies[f"fp:{label}"].false_positives += 1
    keypoints = {}
    for person in result.people:
        keypoints.update(person.keypoints)
    for name, (position, visible) in shot.hands.items():
        if visible < VISIBLE["hand"]:
            continue
        hand_tally["visible"].append(1)
        found = keypoints.get(name)
        other = keypoints.get("left_hand" if name == "right_hand" else "right_hand")
        if found is not None:
            hand_tally["errors"].append(float(np.linalg.norm(found.position - position)))
        if VERBOSE and (found is None or hand_tally["errors"][-1] > 0.05):
            print(f"  hand {shot.family} seed {shot.seed} {shot.moment}/{shot.robot} "
                  f"{shot.width}px: {name} visible {visible:.2f} at {np.round(position, 3)} "
                  f"found {None if found is None else np.round(found.position, 3)}",
                  file=sys.stderr)
        any_hand = [k for k in (found, other) if k is not None]
        if any_hand:
            best = min(float(np.linalg.norm(k.position - position)) for k in any_hand)
            hand_tally["any_errors"].append(best)
    return false_positives


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarise(shots: list[Shot], detector, yaw_periods: dict[str, float]) -> dict:
    tallies: dict[str, Tally] = defaultdict(Tally)
    hand_tally: dict[str, list] = defaultdict(list)
    times: dict[int, list[float]] = defaultdict(list)
    fp_frames = defaultdict(list)
    for shot in shots:
        detector.detect(shot.frame)             # warm the per-resolution caches
        start = time.perf_counter()
        result = detector.detect(shot.frame)
        times[shot.width].append((time.perf_counter() - start) * 1e3)
        fp_frames[shot.width].append(score(shot, result, tallies, yaw_periods, hand_tally))
    per_class = {}
    for key, t in sorted(tallies.items()):
        if key.startswith("fp:"):
            continue
        per_class[key] = {
            "visible": t.visible, "recall": t.hits / t.visible if t.visible else None,
            "error_m": {"p50": percentile(t.errors, 50), "p95": percentile(t.errors, 95),
                        "max": max(t.errors) if t.errors else None, "n": len(t.errors)},
            "coverage95": t.nees_inside / len(t.errors) if t.errors else None,
            "yaw_error_deg": {"p50": percentile(np.degrees(t.yaw_errors).tolist(), 50),
                              "p95": percentile(np.degrees(t.yaw_errors).tolist(), 95)}
            if t.yaw_errors else None}
    fps = {key[3:]: t.false_positives for key, t in tallies.items() if key.startswith("fp:")}

    def group(prefix: str) -> dict:
        chosen = [t for k, t in tallies.items() if k.startswith(prefix)]
        errors = [e for t in chosen for e in t.errors]
        visible = sum(t.visible for t in chosen)
        return {"visible": visible,
                "recall": sum(t.hits for t in chosen) / visible if visible else None,
                "error_m": {"p50": percentile(errors, 50), "p95": percentile(errors, 95),
                            "n": len(errors)},
                "coverage95": (sum(t.nees_inside for t in chosen) / len(errors))
                if errors else None}

    return {
        "frames": len(shots),
        "per_class": per_class,
        "static_parts": group("static:"),
        "conveyor_parts": group("conveyor:"),
        "seated_parts": group("seated:"),
        "holes": group("hole:"),
        "tray": group("tray:"),
        "false_positives_per_frame": {str(w): float(np.mean(v)) for w, v in fp_frames.items()},
        "false_positives_by_label": fps,
        "hands": {"visible": len(hand_tally["visible"]),
                  "found": len(hand_tally["errors"]),
                  "error_m": {"p50": percentile(hand_tally["errors"], 50),
                              "p95": percentile(hand_tally["errors"], 95)},
                  "error_any_label_m": {"p50": percentile(hand_tally["any_errors"], 50),
                                        "p95": percentile(hand_tally["any_errors"], 95)},
                  "within_5cm": (sum(e <= 0.05 for e in hand_tally["errors"])
                                 / len(hand_tally["visible"])) if hand_tally["visible"]
                  else None},
        "processing_ms": {str(w): {"p50": percentile(v, 50), "p99": percentile(v, 99),
                                   "n": len(v)} for w, v in sorted(times.items())},
    }


def fmt(value, scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}{unit}"


def print_report(name: str, summary: dict) -> None:
    print(f"\n== {name}: {summary['frames']} frames")
    print(f"{'class':28s} {'vis':>4s} {'recall':>7s} {'p50 mm':>7s} {'p95 mm':>7s} "
          f"{'max mm':>7s} {'cov95':>6s} {'yaw p50/p95 deg':>16s}")
    for key, c in summary["per_class"].items():
        yaw = c["yaw_error_deg"]
        yaw_text = f"{yaw['p50']:.1f}/{yaw['p95']:.1f}" if yaw else "-"
        print(f"{key:28s} {c['visible']:4d} {fmt(c['recall'], 100, 1, '%'):>7s} "
              f"{fmt(c['error_m']['p50'], 1e3):>7s} {fmt(c['error_m']['p95'], 1e3):>7s} "
              f"{fmt(c['error_m']['max'], 1e3):>7s} {fmt(c['coverage95'], 100, 0, '%'):>6s} "
              f"{yaw_text:>16s}")
    for group in ("static_parts", "conveyor_parts", "seated_parts", "holes", "tray"):
        g = summary[group]
        print(f"{group:28s} {g['visible']:4d} {fmt(g['recall'], 100, 1, '%'):>7s} "
              f"{fmt(g['error_m']['p50'], 1e3):>7s} {fmt(g['error_m']['p95'], 1e3):>7s} "
              f"{'':>7s} {fmt(g['coverage95'], 100, 0, '%'):>6s}")
    print("false positives per frame: " + ", ".join(
        f"{w}px {v:.2f}" for w, v in summary["false_positives_per_frame"].items())
        + f"  by label: {summary['false_positives_by_label']}")
    h = summary["hands"]
    print(f"hands: visible {h['visible']}, found {h['found']}, within 5 cm "
          f"{fmt(h['within_5cm'], 100, 1, '%')}, error p50 {fmt(h['error_m']['p50'], 100)} cm"
          f" p95 {fmt(h['error_m']['p95'], 100)} cm (either label: p95 "
          f"{fmt(h['error_any_label_m']['p95'], 100)} cm)")
    print("processing time per frame: " + ", ".join(
        f"{w}px p50 {v['p50']:.1f} ms p99 {v['p99']:.1f} ms (n={v['n']})"
        for w, v in summary["processing_ms"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="default")
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 1,4,7 (development seeds)")
    parser.add_argument("--heldout", default="heldout_lighting_colours",
                        help="held-out family measured as well ('' skips it)")
    parser.add_argument("--heldout-seeds", default="0-9")
    parser.add_argument("--widths", default="320,640", help="image widths (4:3)")
    parser.add_argument("--backend", default="classical")
    parser.add_argument("--class-config", type=Path,
                        default=CONFIG / "perception" / "industrial_classes.yaml")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--verbose", action="store_true",
                        help="list every miss, false positive, error > 5 mm and bad hand")
    args = parser.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    from foresight_executor.ik import IkSolver  # only the "robot moved" shots need it

    solver = IkSolver()
    catalog = load_class_catalog(args.class_config)
    detector = make_detector(args.backend, catalog)
    yaw_periods = {c.label: c.yaw_period_deg for c in catalog.classes.values()
                   if c.shape == "box"}
    widths = [int(w) for w in args.widths.split(",") if w]
    report: dict = {"backend": args.backend, "class_config": str(args.class_config),
                    "families": {}}
    runs = [(args.family, parse_seeds(args.seeds))]
    if args.heldout:
        runs.append((args.heldout, parse_seeds(args.heldout_seeds)))
    for family, seeds in runs:
        shots: list[Shot] = []
        for seed in seeds:
            shots += shots_for_seed(family, seed, widths, solver)
            print(f"{family} seed {seed}: {len(shots)} frames", file=sys.stderr)
        summary: dict = {"seeds": seeds}
        for width in widths:
            chosen = [s for s in shots if s.width == width]
            summary[f"{width}px"] = summarise(chosen, detector, yaw_periods)
        report["families"][family] = summary
        seed_text = args.seeds if family == args.family else args.heldout_seeds
        for key in [f"{w}px" for w in widths]:
            print_report(f"{family} seeds {seed_text} at {key}", summary[key])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
