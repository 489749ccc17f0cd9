"""`./foresight run` over several seeds: an episode that does not run to the end (a node
died, the launch failed) is reported and kept, and the next seeds still run."""

from __future__ import annotations

import json

import pytest

from foresight_bringup import cli
from foresight_bringup.episode import EpisodeError


def _record(seed: int) -> dict:
    """The judge's fields the run's summary and per-episode line read."""
    return {"seed": seed, "success": True, "items_done": 1, "items_total": 1,
            "task_errors": 0, "errors": {}, "duration_sim_s": 100.0,
            "rtf_achieved": 1.0, "wall_time_s": 110.0, "comfort": None}


def _run(tmp_path, monkeypatch, run_episode, *options: str) -> tuple[int, dict]:
    """`./foresight run home_care OPTIONS` with `run_episode` for the episodes: the exit
    code and the results file."""
    monkeypatch.setattr(cli, "REPO", tmp_path)
    monkeypatch.setattr(cli, "check_runnable", lambda scenario: None)
    monkeypatch.setattr(cli, "run_episode", run_episode)
    results = tmp_path / "out.json"
    args = cli.build_parser().parse_args(
        ["run", "home_care", *options, "--json", str(results), "--domain-id", "5"])
    code = cli.command_run(args)
    return code, json.loads(results.read_text())


def test_a_failed_episode_is_kept_and_the_next_seeds_still_run(tmp_path, monkeypatch, capsys):
    ran: list[int] = []

    def run_episode(config, sink):
        ran.append(config.seed)
        if config.seed == 8:
            raise EpisodeError("required node 'simulation' exited with code -11")
        return _record(config.seed)

    code, written = _run(tmp_path, monkeypatch, run_episode, "--task",
                         "bring the cup to the person", "--seed", "7", "--episodes", "3")
    assert code == 1
    assert ran == [7, 8, 9]
    assert [e["seed"] for e in written["episodes"]] == [7, 9]
    assert written["aggregate"]["episodes"] == 2
    assert written["failed_episodes"] == [
        {"seed": 8, "reason": "required node 'simulation' exited with code -11"}]
    err = capsys.readouterr().err
    assert "episode failed: required node 'simulation'" in err and "seeds 8" in err


@pytest.mark.parametrize("fail_all", [True, False])
def test_the_exit_code_says_whether_every_episode_ran(tmp_path, monkeypatch, fail_all):
    def run_episode(config, sink):
        if fail_all:
            raise EpisodeError("cannot record")
        return _record(config.seed)

    code, written = _run(tmp_path, monkeypatch, run_episode, "--episodes", "2")
    assert code == (1 if fail_all else 0)
    assert len(written["episodes"]) == (0 if fail_all else 2)
    assert len(written["failed_episodes"]) == (2 if fail_all else 0)
