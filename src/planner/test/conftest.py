"""Fixtures of the planner tests: the cell layout, the assembly skill library and the home
room from config/."""

from pathlib import Path

import pytest

from foresight_common.cell_layout import load_cell_layout
from foresight_common.room_layout import load_room_layout
from foresight_planner.assembly_plan import load_skill_library

CONFIG = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def layout():
    return load_cell_layout(CONFIG / "cells" / "industrial_cell.yaml")


@pytest.fixture(scope="module")
def library():
    return load_skill_library(CONFIG / "skills" / "industrial_assembly.yaml")


@pytest.fixture(scope="module")
def room():
    """The nominal home-care room."""
    return load_room_layout(CONFIG / "rooms" / "home_room.yaml")
