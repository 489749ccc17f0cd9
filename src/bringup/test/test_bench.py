"""The bench matrix, its scheduler, resume store, figures and report, on synthetic episode
records (the real episodes are tested end to end in test/test_bench_quick.py)."""

from __future__ import annotations

import json
import math

import pytest

from foresight_bringup.bench import (
    BenchJob,
    EpisodeStore,
    FamilyRef,
    LocalPool,
    cell,
    comparisons,
    plan_matrix,
    results,
)
from foresight_bringup.report import write_report
from foresight_bringup.stats import paired_error_reduction

FAMILIES = [FamilyRef("default", "train"), FamilyRef("heldout_layout_speed", "heldout")]


def record(mode: str, seed: int, family: str = "default", split: str = "train",
           errors: int = 2, success: bool = False, rtf: float = 1.0,
           latency: tuple[float, ...] = (50.0, 80.0)) -> dict:
    return {
        "scenario": "industrial_assembly", "task": "assemble all", "seed": seed,
        "family": family, "split": split, "decision_mode": mode, "success": success,
        "items_total": 6, "items_done": 6 - errors, "task_errors": errors,
        "duration_sim_s": 180.0, "rtf_achieved": rtf, "camera": [320, 240, 15.0],
        "errors": {"timeout": 1, "separation_violation": errors - 1},
        "separation": {"min_m": 0.1 + 0.01 * seed, "violation_s": 0.0,
                       "violations": [{"t": 30.0}],
                       "series": [[t * 0.2, 0.5 - 0.001 * t, 0.1, 0.34] for t in range(50)]},
        "latency_ms": {"p50": 60.0, "p99": 80.0, "n": len(latency), "samples": list(latency)},
        "perception": {"recall_static": 0.99, "error_p95_m": 0.003, "frames": 100},
        "prediction": None, "cpu_s": {"planner": 10.0, "executor": 40.0},
        "rss_mb": {"planner": 100.0, "executor": 350.0 + seed},
    }


def test_the_matrix_runs_both_modes_of_a_seed_back_to_back_and_knows_its_modes():
    jobs = plan_matrix(["industrial_assembly"], {"industrial_assembly": ("assemble all",)},
                       FAMILIES, ("reactive", "world_model"), range(100000, 100002))
    assert len(jobs) == 2 * 2 * 2
    assert [(j.family, j.seed, j.decision_mode) for j in jobs[:4]] == [
        ("default", 100000, "reactive"), ("default", 100000, "world_model"),
        ("default", 100001, "reactive"), ("default", 100001, "world_model")]
    assert jobs[4].split == "heldout"
    assert len({j.key for j in jobs}) == len(jobs)
    with pytest.raises(ValueError, match="unknown decision mode 'chain'"):
        plan_matrix(["industrial_assembly"], {}, FAMILIES, ("chain",), [1])


def _work(job: BenchJob, slot: int) -> dict:
    if job.seed == 2:
        raise RuntimeError("the stack never started")
    return {"seed": job.seed, "slot": slot}


@pytest.mark.parametrize("workers", (1, 2))
def test_the_local_pool_runs_every_job_and_reports_a_failure_per_job(workers):
    jobs = [BenchJob("s", "t", "f", "train", "reactive", seed) for seed in range(4)]
    outcomes: dict[int, object] = {}
    LocalPool(workers).run(jobs, _work, lambda job, out: outcomes.__setitem__(job.seed, out))
    assert sorted(outcomes) == [0, 1, 2, 3]
    assert isinstance(outcomes[2], RuntimeError)
    slots = {out["slot"] for seed, out in outcomes.items() if seed != 2}
    assert slots <= set(range(workers))
    with pytest.raises(ValueError):
        LocalPool(0)


def test_the_store_keeps_finished_episodes_for_resume(tmp_path):
    store = EpisodeStore(tmp_path)
    job = BenchJob("industrial_assembly", "assemble all", "default", "train", "reactive", 7)
    assert not store.has(job)
    store.put(job, record("reactive", 7))
    again = EpisodeStore(tmp_path)          # a resumed run sees it
    assert again.has(job)
    assert again.records()[0]["seed"] == 7
    assert not list(tmp_path.glob("episodes/*.tmp"))


def test_a_cell_pools_samples_and_flags_slow_episodes():
    records = [record("world_model", s, errors=e, success=e == 0, rtf=r,
                      latency=(10.0 * (s + 1),) * 3)
               for s, e, r in ((1, 0, 1.0), (2, 2, 0.85), (3, 4, 0.95))]
    c = cell(records, rtf_target=1.0)
    assert c["episodes"] == 3 and c["success_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert c["success_ci95"][0] < 1 / 3 < c["success_ci95"][1]
    assert c["task_errors_mean"] == pytest.approx(2.0)
    assert c["errors"]["timeout"] == pytest.approx(1.0)
    assert c["latency_ms"]["n"] == 9                     # pooled, not averaged percentiles
    assert c["latency_ms"]["p50"] == pytest.approx(30.0)
    assert c["rtf_achieved"]["flagged"] == 1 and c["rtf_achieved"]["min"] == 0.85
    assert c["rss_mb"]["executor"] == 353.0 and c["cpu_s"]["planner"] == 10.0
    assert c["prediction"] is None                     # not measured: null, not made up


def test_comparisons_pair_seeds_of_the_same_family_only():
    wm = [record("world_model", s, errors=e) for s, e in ((1, 1), (2, 2), (3, 0))]
    re = [record("reactive", s, errors=e) for s, e in ((1, 3), (2, 2), (4, 5))]
    other = [record("reactive", 3, family="other", errors=9)]
    (comp,) = comparisons(wm + re + other)
    assert comp["paired_seeds"] == 2 and comp["reactive_errors"] == 5
    expected, low, high = paired_error_reduction([1, 2], [3, 2])
    assert comp["error_reduction"] == pytest.approx(expected, abs=1e-4)
    assert comp["error_reduction_ci95"] == [pytest.approx(low, abs=1e-4),
                                            pytest.approx(high, abs=1e-4)]


def test_results_and_report_are_written_with_plots(tmp_path):
    records = [record(m, s, family=f.name, split=f.split, errors=1 + s % 3)
               for f in FAMILIES for s in (1, 2, 3) for m in ("reactive", "world_model")]
    summary = results(records, 1.0, {"run_id": "test", "command": "./foresight bench",
                                     "rtf": 1.0, "camera": [320, 240, 15.0]})
    assert {c["split"] for c in summary["cells"]} == {"train", "heldout"}
    assert len(summary["cells"]) == 4 and len(summary["comparisons"]) == 2
    json.dumps(summary)                                   # plain JSON all through
    written = write_report(summary, tmp_path)
    names = {p.name for p in written}
    assert {"report.md", "success_by_family.png", "latency_histogram.png",
            "separation_episode.png"} <= names
    assert "prediction_error.png" not in names           # nothing measured: no plot
    for path in written:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "report.md").read_text()
    assert "| industrial_assembly | assemble all | heldout | world_model | 3 |" in report
    assert "not measured by the episode judge yet" in report
    assert "![Success by family and mode](success_by_family.png)" in report
    assert not math.isnan(summary["comparisons"][0]["error_reduction"])


def test_a_run_picks_its_domain_below_the_tests_range(monkeypatch):
    """A run or bench left running beside `./foresight test` must not share a domain with
    the tests (30-99): its own default lies in 1-20 (plus the bench's worker slot); a
    ROS_DOMAIN_ID given wins."""
    from foresight_bringup.cli_common import RUN_DOMAINS, default_domain_id

    monkeypatch.delenv("ROS_DOMAIN_ID", raising=False)
    assert default_domain_id() in RUN_DOMAINS and max(RUN_DOMAINS) + 8 < 30
    monkeypatch.setenv("ROS_DOMAIN_ID", "42")
    assert default_domain_id() == 42
