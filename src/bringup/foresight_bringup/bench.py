"""The benchmark matrix of `./foresight bench` (DESIGN sections 7-8): which episodes to run
(scenario x task x family x decision mode x seed), running them as independent jobs behind a
small scheduling interface, keeping each finished episode on disk so an interrupted run
resumes, and folding the episode records into cells (one per scenario x task x split x mode)
and comparisons (world_model against reactive on paired seeds). No rclpy here: the episode
itself is a callable handed in (`foresight_bringup.episode.run_episode` in the CLI).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from foresight_bringup.stats import paired_error_reduction, percentiles, wilson_interval

#: An episode whose achieved RTF falls below this share of the target is flagged: its
#: timing-dependent figures (latency, separation) were measured on a machine too slow for it.
RTF_FLAG_FRACTION = 0.9
MODES = ("reactive", "world_model")
PREDICTION_CLASSES = ("static", "conveyor", "interacting", "person")
PREDICTION_HORIZONS = ("0.5", "1.0")
RESULTS_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BenchJob:
    """One episode of the matrix."""

    scenario: str
    task: str
    family: str
    split: str
    decision_mode: str
    seed: int
    families_file: str = ""  # a family from a file outside config/families

    @property
    def key(self) -> str:
        """File-name-safe identity (the resume key)."""
        raw = f"{self.scenario}__{self.task}__{self.family}__{self.decision_mode}__{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)


@dataclass(frozen=True)
class FamilyRef:
    name: str
    split: str
    families_file: str = ""


def plan_matrix(scenarios: Sequence[str], tasks: dict[str, Sequence[str]],
                families: Sequence[FamilyRef], modes: Sequence[str], seeds: Sequence[int]
                ) -> list[BenchJob]:
    """All jobs, ordered so that both modes of a seed run back to back (an interrupted run
    still has paired episodes)."""
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown decision mode '{mode}' (known: {', '.join(MODES)})")
    jobs = []
    for scenario in scenarios:
        for task in tasks.get(scenario, ("",)):
            for family in families:
                for seed in seeds:
                    for mode in modes:
                        jobs.append(BenchJob(scenario, task, family.name, family.split, mode,
                                             seed, family.families_file))
    return jobs


class Scheduler(Protocol):
    """Runs independent jobs; calls `done(job, record_or_exception)` as each finishes."""

    def run(self, jobs: Sequence[BenchJob], work: Callable[[BenchJob, int], dict],
            done: Callable[[BenchJob, dict | BaseException], None]) -> None: ...


class LocalPool:
    """Jobs on this machine: one at a time in this process (`workers` 1, the default: the
    figures then do not compete for the CPU), or in a pool of worker processes, each job
    with its own ROS domain id (`work` receives the worker slot to derive it from)."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, jobs: Sequence[BenchJob], work: Callable[[BenchJob, int], dict],
            done: Callable[[BenchJob, dict | BaseException], None]) -> None:
        if self.workers == 1:
            for job in jobs:
                try:
                    outcome: dict | BaseException = work(job, 0)
                except Exception as exc:  # noqa: BLE001 - reported per job, the run goes on
                    outcome = exc
                done(job, outcome)
            return
        pending = list(jobs)
        free = list(range(self.workers))
        running: dict[Future, tuple[BenchJob, int]] = {}
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            while pending or running:
                while pending and free:
                    job, slot = pending.pop(0), free.pop(0)
                    running[pool.submit(work, job, slot)] = (job, slot)
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job, slot = running.pop(future)
                    free.append(slot)
                    exc = future.exception()
                    done(job, exc if exc is not None else future.result())


class EpisodeStore:
    """Finished episodes of one bench run as files (episodes/<job key>.json): what resume
    skips, and what results.json is made of."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "episodes"
        self.dir.mkdir(parents=True, exist_ok=True)

    def has(self, job: BenchJob) -> bool:
        return (self.dir / f"{job.key}.json").exists()

    def put(self, job: BenchJob, record: dict) -> None:
        path = self.dir / f"{job.key}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"job": asdict(job), "record": record}, indent=1))
        tmp.replace(path)  # a run killed mid-write leaves no half file behind

    def records(self) -> list[dict]:
        out = []
        for path in sorted(self.dir.glob("*.json")):
            entry = json.loads(path.read_text())
            record = dict(entry["record"])
            record.setdefault("split", entry["job"]["split"])
            out.append(record)
        return out


class Progress:
    """One line per finished job: count, share, elapsed and an ETA from the mean job time."""

    def __init__(self, total: int, already: int, write: Callable[[str], object]) -> None:
        self.total, self.done, self.write = total, already, write
        self.started = time.monotonic()
        self.timed = 0

    def step(self, text: str) -> None:
        self.done += 1
        self.timed += 1
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = elapsed / self.timed * left
        width = 20
        filled = int(width * self.done / max(self.total, 1))
        self.write(f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                   f"{elapsed / 60:.1f} min, ETA {eta / 60:.1f} min: {text}")


def rtf_flagged(record: dict, target: float) -> bool:
    achieved = record.get("rtf_achieved")
    return achieved is not None and achieved < RTF_FLAG_FRACTION * target


# --- figures --------------------------------------------------------------------------------
def _cell_key(record: dict) -> tuple[str, str, str, str]:
    return (record["scenario"], record["task"], record["split"], record["decision_mode"])


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return round(sum(kept) / len(kept), 4) if kept else None


def _prediction_cell(records: Sequence[dict]) -> dict | None:
    """Per class and horizon, the figures of the episodes that measured them, weighted by
    their sample counts (null when no episode did)."""
    out: dict[str, dict] = {}
    for cls in PREDICTION_CLASSES:
        for horizon in PREDICTION_HORIZONS:
            entries = [r["prediction"][cls][horizon] for r in records
                       if isinstance(r.get("prediction"), dict)
                       and isinstance(r["prediction"].get(cls), dict)
                       and isinstance(r["prediction"][cls].get(horizon), dict)
                       and r["prediction"][cls][horizon].get("n")]
            if not entries:
                continue
            total = sum(e["n"] for e in entries)
            figures = {key: round(sum(e[key] * e["n"] for e in entries
                                      if e.get(key) is not None) / total, 4)
                       for key in ("within_tol", "ade_m", "fde_m", "cv_ade_m", "cv_fde_m",
                                   "coverage95", "nll")
                       if any(e.get(key) is not None for e in entries)}
            out.setdefault(cls, {})[horizon] = {**figures, "n": total}
    return out or None


def _perception_cell(records: Sequence[dict]) -> dict | None:
    entries = [r["perception"] for r in records if isinstance(r.get("perception"), dict)]
    if not entries:
        return None
    return {"recall_static_mean": _mean(e.get("recall_static") for e in entries),
            "error_p95_m_max": max((e["error_p95_m"] for e in entries
                                    if e.get("error_p95_m") is not None), default=None),
            "frames": sum(e.get("frames") or 0 for e in entries)}


def cell(records: Sequence[dict], rtf_target: float) -> dict:
    """The figures of one scenario x task x split x mode."""
    first = records[0]
    n = len(records)
    successes = sum(1 for r in records if r["success"])
    low, high = wilson_interval(successes, n)
    kinds = sorted({kind for r in records for kind in r["errors"]})
    samples = [s for r in records for s in (r.get("latency_ms") or {}).get("samples", [])]
    nodes = sorted({node for r in records for node in (r.get("cpu_s") or {})})
    return {
        "scenario": first["scenario"], "task": first["task"], "split": first["split"],
        "decision_mode": first["decision_mode"], "episodes": n,
        "families": sorted({r["family"] for r in records}),
        "success_rate": round(successes / n, 4),
        "success_ci95": [round(low, 4), round(high, 4)],
        "items_done": sum(r["items_done"] for r in records),
        "items_total": sum(r["items_total"] for r in records),
        "task_errors_mean": round(sum(r["task_errors"] for r in records) / n, 4),
        "errors": {kind: round(sum(r["errors"].get(kind, 0) for r in records) / n, 4)
                   for kind in kinds},
        "latency_ms": {k: (round(v, 2) if isinstance(v, float) else v)
                       for k, v in percentiles(samples).items()} if samples else None,
        "prediction": _prediction_cell(records),
        "perception": _perception_cell(records),
        "cpu_s": {node: _mean((r.get("cpu_s") or {}).get(node) for r in records)
                  for node in nodes},
        "rss_mb": {node: max((v for r in records
                              if (v := (r.get("rss_mb") or {}).get(node)) is not None),
                             default=None) for node in nodes},
        "rtf_achieved": {"mean": _mean(r.get("rtf_achieved") for r in records),
                         "min": min((r["rtf_achieved"] for r in records
                                     if r.get("rtf_achieved") is not None), default=None),
                         "target": rtf_target,
                         "flagged": sum(1 for r in records if rtf_flagged(r, rtf_target))},
    }


def comparisons(records: Sequence[dict]) -> list[dict]:
    """world_model against reactive per scenario x task x split, on the seeds (and
    families) both modes ran."""
    out = []
    groups: dict[tuple[str, str, str], dict[str, dict[tuple[str, int], dict]]] = {}
    for r in records:
        group = groups.setdefault((r["scenario"], r["task"], r["split"]), {})
        group.setdefault(r["decision_mode"], {})[(r["family"], r["seed"])] = r
    for (scenario, task, split), by_mode in sorted(groups.items()):
        wm, reactive = by_mode.get("world_model", {}), by_mode.get("reactive", {})
        paired = sorted(wm.keys() & reactive.keys())
        if not paired:
            continue
        errors = [wm[k]["task_errors"] for k in paired]
        baseline = [reactive[k]["task_errors"] for k in paired]
        reduction, low, high = paired_error_reduction(errors, baseline)
        out.append({
            "scenario": scenario, "task": task, "split": split,
            "error_reduction": None if math.isnan(reduction) else round(reduction, 4),
            "error_reduction_ci95": None if math.isnan(low) else [round(low, 4),
                                                                   round(high, 4)],
            "paired_seeds": len(paired), "reactive_errors": int(sum(baseline)),
            "world_model_errors": int(sum(errors)),
        })
    return out


def results(records: Sequence[dict], rtf_target: float, run: dict) -> dict:
    """results.json: the run's settings, every episode, the cells and the comparisons."""
    groups: dict[tuple[str, str, str, str], list[dict]] = {}
    for r in records:
        groups.setdefault(_cell_key(r), []).append(r)
    return {"schema_version": RESULTS_SCHEMA_VERSION, "run": run,
            "episodes": list(records),
            "cells": [cell(group, rtf_target) for _, group in sorted(groups.items())],
            "comparisons": comparisons(records)}
