"""End to end: `./foresight run`'s episode on the smoke family, judged from ground truth."""

from __future__ import annotations

import os

import pytest

from foresight_bringup.episode import EpisodeConfig, run_episode
from foresight_common.error_kinds import ErrorKind

pytestmark = pytest.mark.slow


def test_smoke_episode_assembles_the_tray_part(domain_id):
    lines: list[str] = []
    config = EpisodeConfig(scenario="industrial_assembly", seed=3, decision_mode="reactive",
                           task="assemble all", family="smoke", camera=(160, 120, 10.0),
                           rtf=1.0, time_limit_s=60.0, domain_id=domain_id)
    record = run_episode(config, sink=lines.append)
    log = "\n".join(lines[-40:])
    # Judged from ground truth: the tray part is in its hole. The conveyor part needs
    # perception (industrial slice), so it is honestly not done and the episode not a success.
    statuses = record["part_status"]
    assert len(statuses) == 2, log
    assert record["items_total"] == 2
    assert record["items_done"] == 1, f"{statuses}\n{log}"
    assert record["success"] is False
    assert record["errors"][ErrorKind.COLLISION.value] == 0, record["collision_events"]
    assert record["errors"][ErrorKind.DROPPED.value] == 0
    assert record["task_errors"] == 1  # the conveyor part not done
    # The record is complete (DESIGN section 8) and measured, not invented.
    for key in ("scenario", "task", "seed", "family", "split", "decision_mode", "success",
                "items_total", "items_done", "duration_sim_s", "rtf_achieved", "camera",
                "errors", "separation", "latency_ms", "prediction", "cpu_s", "rss_mb"):
        assert key in record
    assert record["seed"] == 3 and record["family"] == "smoke" and record["split"] == "test"
    assert record["camera"] == {"width": 160, "height": 120, "rate_hz": 10.0}
    assert 0.5 < record["rtf_achieved"] < 1.2
    assert set(record["errors"]) == {k.value for k in ErrorKind}
    assert record["separation"]["min_m"] is not None and record["separation"]["min_m"] > 0
    assert all(v is not None and v > 0 for v in record["cpu_s"].values()), record["cpu_s"]
    assert record["duration_sim_s"] < 60.0  # finished by the planner, not by the time limit
    assert any(e["state"] == "finished" for e in record["events"])
    assert os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE") == "LOCALHOST"
