"""Fixtures of the planner tests: the cell layout and the assembly skill library from
config/."""

from pathlib import Path

import pytest

from foresight_common.cell_layout import load_cell_layout
from foresight_planner.assembly_plan import load_skill_library

CONFIG = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def layout():
    return load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")


@pytest.fixture(scope="module")
def library():
    return load_skill_library(CONFIG / "skills" / "industrial_assembly.yaml")
