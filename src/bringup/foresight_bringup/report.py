"""report.md and its PNG plots from a bench run's results.json (DESIGN sections 7-8):
success by family and mode, the decision-latency histogram, prediction error against the
constant-velocity baseline by horizon, and the separation over one episode. A figure that
was not measured is said to be missing, never drawn from made-up numbers. No rclpy here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen here, none needed
import matplotlib.pyplot as plt  # noqa: E402

from foresight_bringup.bench import MODES, PREDICTION_CLASSES, PREDICTION_HORIZONS  # noqa: E402
from foresight_bringup.stats import wilson_interval  # noqa: E402

MODE_COLOURS = {"reactive": "#888888", "world_model": "#1f77b4"}


def write_report(results: dict, out_dir: Path) -> list[Path]:
    """Write report.md and the plots into `out_dir`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    episodes = results["episodes"]
    plots = {
        "success": plot_success(episodes, out_dir / "success_by_family.png"),
        "latency": plot_latency(episodes, out_dir / "latency_histogram.png"),
        "prediction": plot_prediction(results["cells"], out_dir / "prediction_error.png"),
        "separation": plot_separation(episodes, out_dir / "separation_episode.png"),
    }
    report = out_dir / "report.md"
    report.write_text(markdown(results, {k: v.name if v else None for k, v in plots.items()}))
    return [report, *(p for p in plots.values() if p is not None)]


# --- plots ------------------------------------------------------------------------------------
def _save(fig, ax, path: Path, xlabel: str, ylabel: str, legend_size: int = 8) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_success(episodes: Sequence[dict], path: Path) -> Path | None:
    """Success rate per family and mode with Wilson 95 % intervals."""
    families = sorted({e["family"] for e in episodes})
    modes = [m for m in MODES if any(e["decision_mode"] == m for e in episodes)]
    if not families or not modes:
        return None
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(families), 3.2))
    width = 0.8 / len(modes)
    for k, mode in enumerate(modes):
        rates, lows, highs = [], [], []
        for family in families:
            runs = [e for e in episodes if e["family"] == family and e["decision_mode"] == mode]
            wins = sum(1 for e in runs if e["success"])
            rate = wins / len(runs) if runs else math.nan
            low, high = wilson_interval(wins, len(runs)) if runs else (math.nan, math.nan)
            rates.append(rate)
            lows.append(rate - low)
            highs.append(high - rate)
        xs = [i + (k - (len(modes) - 1) / 2) * width for i in range(len(families))]
        ax.bar(xs, rates, width, yerr=[lows, highs], capsize=3, label=mode,
               color=MODE_COLOURS.get(mode))
    ax.set_xticks(range(len(families)), families, rotation=15)
    ax.set_ylim(0, 1.05)
    return _save(fig, ax, path, "", "success rate (Wilson 95 %)")


def plot_latency(episodes: Sequence[dict], path: Path) -> Path | None:
    """Decision latency (wall ms) pooled over episodes, one histogram per mode."""
    pooled = {mode: [s for e in episodes if e["decision_mode"] == mode
                     for s in (e.get("latency_ms") or {}).get("samples", [])] for mode in MODES}
    if not any(pooled.values()):
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    top = max(max(v) for v in pooled.values() if v)
    bins = [10 ** (k / 10) for k in range(0, int(10 * math.log10(max(top, 10))) + 2)]
    for mode, samples in pooled.items():
        if samples:
            ax.hist(samples, bins=bins, alpha=0.6, label=f"{mode} (n={len(samples)})",
                    color=MODE_COLOURS.get(mode))
    ax.set_xscale("log")
    return _save(fig, ax, path, "decision latency (ms, wall clock)", "decisions")


def plot_prediction(cells: Sequence[dict], path: Path) -> Path | None:
    """ADE by horizon per class next to the constant-velocity baseline (world_model cells);
    None when no episode measured prediction accuracy."""
    rows = []
    for c in cells:
        if c["decision_mode"] != "world_model":
            continue
        for cls, horizons in (c.get("prediction") or {}).items():
            for horizon, figures in horizons.items():
                if figures.get("ade_m") is not None:
                    rows.append((f"{c['split']}/{cls}", float(horizon), figures["ade_m"],
                                 figures.get("cv_ade_m")))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for name in sorted({r[0] for r in rows}):
        mine = sorted((r for r in rows if r[0] == name), key=lambda r: r[1])
        line, = ax.plot([r[1] for r in mine], [r[2] for r in mine], marker="o", label=name)
        if all(r[3] is not None for r in mine):
            ax.plot([r[1] for r in mine], [r[3] for r in mine], linestyle="--",
                    color=line.get_color(), label=f"{name} CV baseline")
    return _save(fig, ax, path, "horizon (s)", "ADE (m)", legend_size=7)


def plot_separation(episodes: Sequence[dict], path: Path) -> Path | None:
    """Separation and the reference S_p over the episode that came closest to a person."""
    withseries = [e for e in episodes if (e.get("separation") or {}).get("series")]
    if not withseries:
        return None
    episode = min(withseries, key=lambda e: e["separation"].get("min_m") or math.inf)
    series = [row for row in episode["separation"]["series"] if row[1] is not None]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot([r[0] for r in series], [r[1] for r in series], label="separation (truth)")
    ax.plot([r[0] for r in series], [r[3] for r in series], label="reference S_p",
            linestyle="--")
    for v in episode["separation"].get("violations", []):
        ax.axvline(v["t"], color="red", alpha=0.4)
    ax.set_title(f"{episode['family']} seed {episode['seed']} ({episode['decision_mode']}); "
                 "red: violations", fontsize=9)
    return _save(fig, ax, path, "simulated time (s)", "m")


# --- text -------------------------------------------------------------------------------------
def _fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(results: dict, plots: dict[str, str | None]) -> str:
    run, cells = results["run"], results["cells"]
    lines = [f"# Benchmark {run.get('run_id', '')}", "",
             f"Command: `{run.get('command', '')}`  ",
             f"Commit: `{run.get('commit', 'unknown')}`, RTF target {run.get('rtf')}, camera "
             f"{run.get('camera')}, {len(results['episodes'])} episodes, wall time "
             f"{_fmt(run.get('wall_time_min'), 1)} min.", "",
             "## Cells (scenario x task x split x mode)", "",
             "| scenario | task | split | mode | episodes | success (95 % CI) | items | "
             "task errors / ep. | latency p50 / p99 ms (n) | RTF mean (min; flagged) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        latency = c.get("latency_ms") or {}
        rtf = c["rtf_achieved"]
        lines.append(
            f"| {c['scenario']} | {c['task']} | {c['split']} | {c['decision_mode']} | "
            f"{c['episodes']} | {_fmt(c['success_rate'])} ({_fmt(c['success_ci95'][0])}-"
            f"{_fmt(c['success_ci95'][1])}) | {c['items_done']}/{c['items_total']} | "
            f"{_fmt(c['task_errors_mean'])} | {_fmt(latency.get('p50'), 0)} / "
            f"{_fmt(latency.get('p99'), 0)} ({latency.get('n', 0)}) | {_fmt(rtf['mean'])} "
            f"({_fmt(rtf['min'])}; {rtf['flagged']}) |")
    lines += ["", "## Task errors by kind (mean per episode)", ""]
    kinds = sorted({k for c in cells for k, v in c["errors"].items() if v})
    if kinds:
        lines += ["| split | mode | " + " | ".join(kinds) + " |",
                  "|---|---|" + "---|" * len(kinds)]
        for c in cells:
            lines.append(f"| {c['split']} | {c['decision_mode']} | " + " | ".join(
                _fmt(c["errors"].get(k, 0.0)) for k in kinds) + " |")
    else:
        lines.append("No errors.")
    lines += ["", "## world_model against reactive (paired seeds)", ""]
    if results["comparisons"]:
        lines += ["| scenario | task | split | error reduction (95 % CI) | paired seeds | "
                  "errors world_model / reactive |", "|---|---|---|---|---|---|"]
        for comp in results["comparisons"]:
            ci = comp["error_reduction_ci95"]
            lines.append(
                f"| {comp['scenario']} | {comp['task']} | {comp['split']} | "
                f"{_fmt(comp['error_reduction'])} ({_fmt(ci[0]) if ci else 'n/a'}.."
                f"{_fmt(ci[1]) if ci else 'n/a'}) | {comp['paired_seeds']} | "
                f"{comp['world_model_errors']} / {comp['reactive_errors']} |")
    else:
        lines.append("No paired seeds in both modes.")
    lines += ["", "## Held-out against train", ""]
    for mode in MODES:
        by_split = {c["split"]: c for c in cells if c["decision_mode"] == mode}
        if "train" in by_split and "heldout" in by_split:
            lines.append(f"- {mode}: success {_fmt(by_split['train']['success_rate'])} "
                         f"(train) vs {_fmt(by_split['heldout']['success_rate'])} (held-out); "
                         f"task errors {_fmt(by_split['train']['task_errors_mean'])} vs "
                         f"{_fmt(by_split['heldout']['task_errors_mean'])} per episode")
    if not any(line.startswith("- ") for line in lines[-3:]):
        lines.append("Not measured: the run did not hold both splits in one mode.")
    lines += ["", "## Perception and prediction", ""]
    for c in cells:
        perception = c.get("perception") or {}
        lines.append(f"- {c['split']}/{c['decision_mode']}: static-part recall "
                     f"{_fmt(perception.get('recall_static_mean'), 3)}, 3D error p95 "
                     f"(worst episode) {_fmt(perception.get('error_p95_m_max'), 4)} m")
    prediction_rows = [(c, cls, h, c["prediction"][cls][h]) for c in cells
                       if c.get("prediction") for cls in PREDICTION_CLASSES
                       for h in PREDICTION_HORIZONS if h in c["prediction"].get(cls, {})]
    if prediction_rows:
        lines += ["", "| split | mode | class | horizon s | within tol | ADE m | CV ADE m | "
                  "FDE m | CV FDE m | 95 % coverage | n |", "|---|---|---|---|---|---|---|---|"
                  "---|---|---|"]
        for c, cls, h, f in prediction_rows:
            lines.append(f"| {c['split']} | {c['decision_mode']} | {cls} | {h} | "
                         f"{_fmt(f.get('within_tol'))} | {_fmt(f.get('ade_m'), 3)} | "
                         f"{_fmt(f.get('cv_ade_m'), 3)} | {_fmt(f.get('fde_m'), 3)} | "
                         f"{_fmt(f.get('cv_fde_m'), 3)} | {_fmt(f.get('coverage95'))} | "
                         f"{f['n']} |")
    else:
        lines.append("- Prediction accuracy: not measured by the episode judge yet (null in "
                     "every episode record).")
    lines += ["", "## CPU seconds and peak RSS per node (mean CPU s, max RSS MB)", ""]
    for c in cells:
        nodes = ", ".join(f"{n} {_fmt(c['cpu_s'].get(n), 0)} s / {_fmt(c['rss_mb'].get(n), 0)}"
                          f" MB" for n in sorted(c["cpu_s"]))
        lines.append(f"- {c['split']}/{c['decision_mode']}: {nodes or 'n/a'}")
    lines += ["", "## Plots", ""]
    captions = {"success": "Success by family and mode", "latency": "Decision latency",
                "prediction": "Prediction error by horizon against constant velocity",
                "separation": "Separation over the closest episode"}
    for key, caption in captions.items():
        name = plots.get(key)
        lines.append(f"![{caption}]({name})" if name else f"- {caption}: not measured.")
    return "\n".join(lines) + "\n"
