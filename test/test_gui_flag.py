"""`--gui` without a display fails at once with a clear message instead of a GL traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_gui_without_display_is_a_clear_error(tmp_path, domain_id):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["ROS_DOMAIN_ID"] = str(domain_id)
    result = subprocess.run(
        [sys.executable, "-m", "foresight_bringup.cli", "run", "industrial_assembly",
         "--family", "smoke", "--gui", "--json", str(tmp_path / "r.json"), "--quiet",
         "--domain-id", str(domain_id)],
        env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no display is available" in output
    assert "Traceback" not in output
