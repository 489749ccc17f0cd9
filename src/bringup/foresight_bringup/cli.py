"""./foresight command line (run after the bootstrap has set up the environment).

  run SCENARIO [options]   run N episodes end to end, print a summary, write JSON
  test [pytest args]       the whole test suite (what CI runs)
  python SCRIPT [args]     run a Python script in the workspace environment (benchmarks/)
  bench [options]          the benchmark matrix: bench/<run-id>/results.json, report.md, plots
  replay BAG               a recorded episode's sensors into perception and the world model
  train                    a later issue (the data loop)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from foresight_bringup.bench_cli import add_bench_parser, command_bench
from foresight_bringup.cli_common import REPO, default_domain_id, log_sink, parse_camera
from foresight_bringup.episode import EpisodeConfig, EpisodeError, check_runnable, run_episode
from foresight_bringup.launch_xml import LaunchFileError
from foresight_bringup.process_runner import stop_on_sigterm
from foresight_bringup.stats import wilson_interval
from foresight_common.home_tasks import HOME_TASKS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./foresight", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario end to end")
    run.add_argument("scenario", help="e.g. industrial_assembly")
    run.add_argument("--episodes", type=int, default=1)
    run.add_argument("--seed", type=int, default=0, help="first seed (episodes use S..S+N-1)")
    run.add_argument("--mode", choices=("world_model", "reactive"), default="world_model",
                     help="planner decision mode")
    family = run.add_mutually_exclusive_group()
    family.add_argument("--family", default=None,
                        help="variation family name (default: the scenario's training "
                             "family: default, home_train)")
    family.add_argument("--families", metavar="FILE", help="variation family YAML file")
    run.add_argument("--task", default=None,
                     help="task text (default: 'assemble all'; home_care cycles through its "
                          "three tasks, one per episode)")
    run.add_argument("--camera", type=parse_camera, default=(320, 240, 15.0),
                     help="WIDTHxHEIGHT@HZ (default 320x240@15)")
    run.add_argument("--rtf", type=float, default=1.0, help="real-time-factor target")
    run.add_argument("--json", metavar="PATH", help="results file (default runs/<id>.json)")
    run.add_argument("--record", metavar="DIR",
                     help="record each episode as a rosbag2 MCAP bag in a new folder under DIR")
    run.add_argument("--gui", action="store_true", help="open the MuJoCo viewer")
    run.add_argument("--time-limit", type=float, default=None,
                     help="simulated seconds before the judge stops the episode "
                          "(default: the scenario's reference, 180 s)")
    run.add_argument("--domain-id", type=int, default=None,
                     help="ROS_DOMAIN_ID for the episode (default: derived from the pid)")
    run.add_argument("--quiet", action="store_true",
                     help="node output only to the log file, not the terminal")
    test = sub.add_parser("test", help="run the test suite (pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    script = sub.add_parser("python", help="run a Python script in the workspace environment")
    script.add_argument("script_args", nargs=argparse.REMAINDER)
    add_bench_parser(sub)
    replay = sub.add_parser("replay", help="play a recorded bag into perception and the "
                            "world model (no simulator) and compare with its ground truth")
    replay.add_argument("bag", help="a bag folder written by --record")
    replay.add_argument("--rtf", type=float, default=1.0)
    replay.add_argument("--until", type=float, default=None,
                        help="stop at this simulated time (s)")
    replay.add_argument("--json", metavar="PATH", help="write the summary here")
    replay.add_argument("--domain-id", type=int, default=None)
    replay.add_argument("--quiet", action="store_true")
    later = sub.add_parser("train", help="not yet available: the data loop (issue #7)")
    later.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


#: The family an episode uses when none is given.
DEFAULT_FAMILY = {"industrial_assembly": "default", "home_care": "home_train"}


def episode_task(scenario: str, task: str | None, index: int) -> str:
    """The task of episode `index`: the one given, else the scenario's (home_care cycles
    through its tasks)."""
    if task is not None:
        return task
    if scenario == "home_care":
        return HOME_TASKS[index % len(HOME_TASKS)].text
    return "assemble all"


def summarize(records: list[dict]) -> dict:
    n = len(records)
    successes = sum(1 for r in records if r["success"])
    low, high = wilson_interval(successes, n)
    rtfs = [r["rtf_achieved"] for r in records if r.get("rtf_achieved") is not None]
    return {
        "episodes": n,
        "success_rate": successes / n if n else None,
        "success_ci95": [round(low, 3), round(high, 3)],
        "items_done": sum(r["items_done"] for r in records),
        "items_total": sum(r["items_total"] for r in records),
        "task_errors_mean": sum(r["task_errors"] for r in records) / n if n else None,
        "rtf_achieved_mean": round(sum(rtfs) / len(rtfs), 3) if rtfs else None,
    }


def command_run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        print("--episodes must be >= 1", file=sys.stderr)
        return 2
    try:
        check_runnable(args.scenario)
    except EpisodeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{args.scenario}"
    out_dir = REPO / "runs" / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out_dir / "results.json"
    log_path = out_dir / "nodes.log"
    records: list[dict] = []
    failed: list[dict] = []       # episodes that did not run to the end: not judged
    with log_path.open("w") as log:
        for index in range(args.episodes):
            seed = args.seed + index
            config = EpisodeConfig(
                scenario=args.scenario, seed=seed, decision_mode=args.mode,
                task=episode_task(args.scenario, args.task, index),
                family="" if args.families else args.family or DEFAULT_FAMILY.get(
                    args.scenario, "default"),
                families_file=str(Path(args.families).resolve()) if args.families else "",
                camera=args.camera, rtf=args.rtf, gui=args.gui,
                time_limit_s=args.time_limit,
                domain_id=args.domain_id if args.domain_id is not None
                else default_domain_id(),
                record_path=str(Path(args.record) / f"{run_id}-seed{seed}-{args.mode}")
                if args.record else "")
            print(f"== episode {index + 1}/{args.episodes}: {args.scenario} seed {seed} "
                  f"({args.mode}); node output in {log_path}", flush=True)
            try:
                record = run_episode(config, sink=log_sink(log, args.quiet))
            except (EpisodeError, LaunchFileError) as exc:
                # the next seeds still run (a simulator that crashed in one episode cost
                # the rest of a 10-seed run, cup seed 8 at 474414d); the failure is kept
                print(f"episode failed: {exc}", file=sys.stderr)
                failed.append({"seed": seed, "reason": str(exc)})
                _write(json_path, records, failed)
                continue
            records.append(record)
            print(_episode_line(record), flush=True)
    summary = _write(json_path, records, failed)
    if records:
        print(f"== {summary['episodes']} episode(s): success {summary['success_rate']:.0%} "
              f"(95 % CI {summary['success_ci95'][0]:.2f}-{summary['success_ci95'][1]:.2f}), "
              f"items {summary['items_done']}/{summary['items_total']}, "
              f"RTF {summary['rtf_achieved_mean']}; results: {json_path}")
    if failed:
        print(f"== {len(failed)} episode(s) did not run to the end and are not judged "
              f"(seeds {', '.join(str(f['seed']) for f in failed)}): see "
              f"failed_episodes in {json_path}", file=sys.stderr)
        return 1
    return 0


def _episode_line(record: dict) -> str:
    errors = {k: v for k, v in record["errors"].items() if v}
    held_up = (record.get("comfort") or {}).get("person_held_up_s")
    return (f"   seed {record['seed']}: success={record['success']} items "
            f"{record['items_done']}/{record['items_total']} errors={errors or 'none'} "
            + (f"person held up {held_up} s, " if held_up else "")
            + f"sim {record['duration_sim_s']} s, RTF {record['rtf_achieved']}, "
            f"wall {record['wall_time_s']} s")


def _write(path: Path, records: list[dict], failed: list[dict]) -> dict:
    """The judged episodes, their aggregate, and the episodes that did not run to the end
    (seed, reason), which the aggregate leaves out."""
    summary = summarize(records) if records else {"episodes": 0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"episodes": records, "aggregate": summary,
                                "failed_episodes": failed}, indent=2))
    return summary


def command_replay(args: argparse.Namespace) -> int:
    from foresight_bringup.replay import ReplayError, replay
    try:
        summary = replay(Path(args.bag), args.domain_id if args.domain_id is not None
                         else default_domain_id(), sink=print if not args.quiet
                         else (lambda _line: None), rtf=args.rtf, until_s=args.until)
    except (ReplayError, EpisodeError, LaunchFileError) as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(f"== replayed {summary['played']} messages; {summary['track_messages']} track "
          f"messages; tray parts, distance to the nearest track of their type: "
          f"{summary['parts']}")
    return 0


def command_test(pytest_args: list[str]) -> int:
    result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=REPO)
    if result.returncode == 5:
        print("no tests were collected: that is a failure", file=sys.stderr)
        return 1
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "test":  # everything after `test` belongs to pytest
        return command_test([a for a in argv[1:] if a != "--"])
    if argv and argv[0] == "python":  # a script in the workspace environment
        return subprocess.run([sys.executable, *argv[1:]], cwd=REPO).returncode
    args = build_parser().parse_args(argv)
    stop_on_sigterm()
    if args.command == "run":
        return command_run(args)
    if args.command == "bench":
        return command_bench(args, argv)
    if args.command == "replay":
        return command_replay(args)
    print(f"'{args.command}' is not available yet (issue #7).", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
