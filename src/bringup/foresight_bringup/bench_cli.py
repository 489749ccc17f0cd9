"""`./foresight bench`: the benchmark matrix (scenario x task x family x mode x seed), one
episode at a time by default, each finished episode kept under bench/<run-id>/episodes so
`--resume RUN_ID` continues an interrupted run; then results.json, report.md and the plots
(DESIGN section 8; the schema is in docs/bench-results.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from foresight_bringup.bench import (
    MODES,
    BenchJob,
    EpisodeStore,
    FamilyRef,
    LocalPool,
    Progress,
    plan_matrix,
    results,
    rtf_flagged,
)
from foresight_bringup.cli_common import REPO, default_domain_id, log_sink, parse_camera
from foresight_bringup.episode import (
    TASK_TIME_LIMIT_S,
    EpisodeConfig,
    EpisodeError,
    check_runnable,
    run_episode,
)

#: The task each scenario runs when the matrix names none.
DEFAULT_TASKS = {"industrial_assembly": ("assemble all",)}
#: Evaluation seeds (DESIGN: seeds >= 100000 are reserved for evaluation, never tuned on).
EVALUATION_SEED = 100000
QUICK = {"family": "smoke", "episodes": 1, "camera": (160, 120, 10.0), "time_limit_s": 30.0}


def add_bench_parser(sub) -> None:
    bench = sub.add_parser("bench", help="the benchmark matrix, report and plots")
    bench.add_argument("--scenario", action="append", default=None,
                       help="scenario (repeatable; default industrial_assembly)")
    bench.add_argument("--task", action="append", default=None,
                       help="task text (repeatable; default: the scenario's tasks)")
    bench.add_argument("--split", choices=("train", "heldout", "all"), default="all",
                       help="families of this split under config/families (default all)")
    bench.add_argument("--families", metavar="FILE", action="append", default=[],
                       help="add a family from a YAML file (repeatable)")
    bench.add_argument("--mode", choices=(*MODES, "both"), default="both")
    bench.add_argument("--episodes", type=int, default=10, help="seeds per family and mode")
    bench.add_argument("--seed", type=int, default=EVALUATION_SEED,
                       help=f"first seed (default {EVALUATION_SEED}: evaluation seeds)")
    bench.add_argument("--camera", type=parse_camera, default=(320, 240, 15.0),
                       help="WIDTHxHEIGHT@HZ (default 320x240@15)")
    bench.add_argument("--rtf", type=float, default=1.0, help="real-time-factor target")
    bench.add_argument("--time-limit", type=float, default=None,
                       help="cap on simulated seconds per episode (default: the scenario's)")
    bench.add_argument("--jobs", type=int, default=1,
                       help="episodes at once, each on its own ROS domain id (default 1: "
                            "figures do not compete for the CPU)")
    bench.add_argument("--quick", action="store_true",
                       help="pipeline check: the smoke family, 1 seed, both modes, 160x120@10, "
                            "60 s cap, recorded (checks the outputs, not the numbers)")
    bench.add_argument("--record", action="store_true",
                       help="record each episode as an MCAP bag under bench/<run-id>/bags "
                            "(--quick always does)")
    bench.add_argument("--resume", metavar="RUN_ID", help="continue bench/RUN_ID")
    bench.add_argument("--out", default="bench", help="directory of bench runs (default bench)")
    bench.add_argument("--quiet", action="store_true", help="node output only to the logs")


def family_refs(split: str, files: list[str], config_dir: Path) -> list[FamilyRef]:
    """Families of `split` from config/families (never the `test` split) plus the files
    given; each file must name its family and split."""
    refs = []
    for path in sorted((config_dir / "families").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        family_split = data.get("split")
        if family_split in ("train", "heldout") and split in (family_split, "all"):
            refs.append(FamilyRef(str(data.get("name", path.stem)), family_split))
    for text in files:
        path = Path(text).resolve()
        if not path.is_file():
            raise SystemExit(f"--families {text}: no such file")
        data = yaml.safe_load(path.read_text()) or {}
        if not data.get("name") or data.get("split") not in ("train", "heldout", "test"):
            raise SystemExit(f"--families {text}: a family file needs 'name' and 'split' "
                             "(train, heldout or test)")
        refs.append(FamilyRef(str(data["name"]), str(data["split"]), str(path)))
    return refs


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_job(job: BenchJob, slot: int, settings: dict) -> dict:
    """One episode (in this process or a pool worker): its record; node output to the
    run's logs/<job key>.log."""
    config = EpisodeConfig(
        scenario=job.scenario, seed=job.seed, decision_mode=job.decision_mode, task=job.task,
        family="" if job.families_file else job.family, families_file=job.families_file,
        camera=tuple(settings["camera"]), rtf=settings["rtf"],
        time_limit_s=settings["time_limit_s"], domain_id=settings["domain_id"] + slot,
        record_path=str(Path(settings["run_dir"]) / "bags" / job.key)
        if settings["record"] else "")
    log_path = Path(settings["run_dir"]) / "logs" / f"{job.key}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        record = run_episode(config, sink=log_sink(log, settings["quiet"]))
    record["split"] = job.split
    record["rtf_target"] = settings["rtf"]
    record["rtf_flagged"] = rtf_flagged(record, settings["rtf"])
    return record


def command_bench(args: argparse.Namespace, argv: list[str]) -> int:
    """`argv`: the command line as given (recorded in results.json)."""
    out_root = Path(args.out) if Path(args.out).is_absolute() else REPO / args.out
    if args.resume:
        run_dir = out_root / args.resume
        settings_path = run_dir / "run.json"
        if not settings_path.is_file():
            print(f"--resume {args.resume}: no run at {run_dir}", file=sys.stderr)
            return 2
        run = json.loads(settings_path.read_text())
        jobs = [BenchJob(**job) for job in run.pop("jobs")]
    else:
        if args.episodes < 1 or args.jobs < 1 or args.rtf <= 0:
            print("--episodes and --jobs must be >= 1 and --rtf > 0", file=sys.stderr)
            return 2
        scenarios = args.scenario or ["industrial_assembly"]
        for scenario in scenarios:  # an unknown one fails now, not once per episode
            try:
                check_runnable(scenario)
            except EpisodeError as exc:
                print(str(exc), file=sys.stderr)
                return 2
        tasks = {s: tuple(args.task) if args.task else DEFAULT_TASKS.get(s, ("",))
                 for s in scenarios}
        if args.quick:
            families = [FamilyRef(QUICK["family"], "test")]
            episodes, camera = QUICK["episodes"], QUICK["camera"]
            time_limit = args.time_limit or QUICK["time_limit_s"]
        else:
            families = family_refs(args.split, args.families, REPO / "config")
            episodes, camera, time_limit = args.episodes, args.camera, args.time_limit
        if not families:
            print(f"no families of split '{args.split}'", file=sys.stderr)
            return 2
        modes = MODES if args.mode == "both" else (args.mode,)
        jobs = plan_matrix(scenarios, tasks, families, modes,
                           range(args.seed, args.seed + episodes))
        run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
        run_dir = out_root / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        run = {"run_id": run_id, "command": "./foresight " + shlex.join(argv),
               "commit": _commit(), "camera": list(camera), "rtf": args.rtf,
               "time_limit_s": time_limit or {s: TASK_TIME_LIMIT_S.get(s) for s in scenarios},
               "workers": args.jobs, "record": bool(args.record or args.quick),
               "started": dt.datetime.now().isoformat(timespec="seconds")}
        (run_dir / "run.json").write_text(json.dumps(
            {**run, "jobs": [job.__dict__ for job in jobs]}, indent=1))
    store = EpisodeStore(run_dir)
    todo = [job for job in jobs if not store.has(job)]
    print(f"== bench {run['run_id']}: {len(jobs)} episodes ({len(jobs) - len(todo)} done "
          f"already), results in {run_dir}", flush=True)
    settings = {"camera": run["camera"], "rtf": run["rtf"],
                "time_limit_s": run["time_limit_s"] if isinstance(run["time_limit_s"], float)
                else None, "domain_id": default_domain_id(), "run_dir": str(run_dir),
                "quiet": args.quiet or args.jobs > 1, "record": run.get("record", False)}
    progress = Progress(len(jobs), len(jobs) - len(todo), lambda line: print(line, flush=True))
    failures: list[str] = []

    def done(job: BenchJob, outcome: dict | BaseException) -> None:
        if isinstance(outcome, BaseException):
            failures.append(f"{job.key}: {outcome}")
            (run_dir / "failures.txt").write_text("\n".join(failures) + "\n")
            progress.step(f"{job.key} FAILED: {outcome}")
            return
        store.put(job, outcome)
        flag = " (RTF below 0.9 x target: flagged)" if outcome.get("rtf_flagged") else ""
        progress.step(f"{job.family} seed {job.seed} {job.decision_mode}: success="
                      f"{outcome['success']} items {outcome['items_done']}/"
                      f"{outcome['items_total']} errors {outcome['task_errors']}{flag}")

    started = time.monotonic()
    LocalPool(args.jobs).run(todo, functools.partial(run_job, settings=settings), done)
    run["wall_time_min"] = round((time.monotonic() - started) / 60.0, 2)
    summary = results(store.records(), run["rtf"], run)
    (run_dir / "results.json").write_text(json.dumps(summary, indent=1))
    from foresight_bringup.report import write_report  # matplotlib only when reporting
    written = write_report(summary, run_dir)
    for c in summary["cells"]:
        print(f"   {c['split']:8s} {c['decision_mode']:12s} episodes {c['episodes']:3d} "
              f"success {c['success_rate']:.2f} ({c['success_ci95'][0]:.2f}-"
              f"{c['success_ci95'][1]:.2f}) task errors/ep. {c['task_errors_mean']:.2f}")
    for comp in summary["comparisons"]:
        print(f"   {comp['split']}: error reduction world_model vs reactive "
              f"{comp['error_reduction']} (95 % CI {comp['error_reduction_ci95']}, "
              f"{comp['paired_seeds']} paired seeds)")
    print(f"== {len(written)} files in {run_dir} (report.md); wall "
          f"{run['wall_time_min']:.1f} min" + (f"; {len(failures)} episode(s) failed, see "
                                              f"failures.txt (--resume {run['run_id']} "
                                              "retries them)" if failures else ""))
    return 1 if failures else 0
