"""Assembly planning without perception: which part to which hole, in which order, with
which skill goals, from the nominal cell layout and a work order (the kitting list of what
each tray slot holds). This is the classic fixed-automation cell; the perception-driven
planner of the industrial slice replaces the work order with what the camera sees.

Grasp convention: the Panda's fingers close along the TCP x axis. `tool_down_quat(yaw)` is
the TCP pointing straight down with its x axis at `yaw + 90 deg` in the world (at yaw 0 the
fingers close along world y, as at the home pose). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from foresight_common.cell_layout import CellLayout, HoleSpec, PartType

UNDERSTOOD_TASKS = ("assemble all",)


class PlanningError(ValueError):
    """The task or the configuration cannot be planned; the message says why."""


@dataclass(frozen=True)
class SkillStep:
    skill: str
    object_id: str = ""
    place_id: str = ""
    position: tuple[float, float, float] | None = None  # TCP target, world
    quat_wxyz: tuple[float, float, float, float] | None = None
    gripper_width: float = 0.0
    object_height: float = 0.0
    speed_scale: float = 0.0


@dataclass(frozen=True)
class WorkItem:
    """One part to assemble: where it is picked and which hole it goes into."""

    object_id: str
    part_type: str
    place_id: str
    steps: tuple[SkillStep, ...]


@dataclass(frozen=True)
class SkillLibrary:
    """The planner's skill library (config/skills/*.yaml): parameters, preconditions,
    effects and success checks per skill."""

    skills: dict[str, dict[str, Any]]

    def parameter(self, skill: str, name: str) -> Any:
        try:
            return self.skills[skill]["parameters"][name]
        except KeyError as exc:
            raise PlanningError(f"skill library: '{skill}.parameters.{name}' is missing") \
                from exc


LIBRARY_KEYS = ("parameters", "preconditions", "effects", "success_checks", "description")


#: The skills each scenario's planner needs from its library.
ASSEMBLY_SKILLS = ("pick", "insert", "move_to_pose", "go_home")
HOME_SKILLS = ("navigate_to", "look_for", "pick", "place", "hand_over", "stow", "go_home")


def load_skill_library(path: str | Path,
                       required: tuple[str, ...] = ASSEMBLY_SKILLS) -> SkillLibrary:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise PlanningError(f"skill library '{path}' cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PlanningError(f"skill library '{path}' is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("skills"), dict):
        raise PlanningError(f"skill library '{path}': top-level key 'skills' (a mapping) "
                            "is required")
    for name, entry in data["skills"].items():
        if not isinstance(entry, dict):
            raise PlanningError(f"skill library: 'skills.{name}' must be a mapping")
        unknown = sorted(set(entry) - set(LIBRARY_KEYS))
        if unknown:
            raise PlanningError(f"skill library: 'skills.{name}.{unknown[0]}' is not a known "
                                f"key (allowed: {', '.join(LIBRARY_KEYS)})")
        for key in ("preconditions", "effects", "success_checks"):
            if not isinstance(entry.get(key, []), list):
                raise PlanningError(f"skill library: 'skills.{name}.{key}' must be a list")
    for name in required:
        if name not in data["skills"]:
            raise PlanningError(f"skill library: skill '{name}' is missing")
    return SkillLibrary(skills=data["skills"])


def tool_down_quat(yaw: float) -> tuple[float, float, float, float]:
    """TCP pointing down (tool z = world -z), rotated by `yaw` about world z from the home
    orientation, where the tool x axis (finger closing direction) is world +y."""
    half = (yaw + math.pi / 2.0) / 2.0
    # Rz(yaw + 90 deg) * Rx(180 deg)
    return (0.0, math.cos(half), math.sin(half), 0.0)


def wrap_half_turn(angle: float) -> float:
    """Equivalent gripper yaw in [-pi/2, pi/2): a parallel gripper is symmetric by 180 deg."""
    return (angle + math.pi / 2.0) % math.pi - math.pi / 2.0


def grasp_yaw_offset(part: PartType) -> float:
    """Tool yaw relative to the part's yaw so the fingers close across its narrow side."""
    if part.shape == "box" and part.size[0] < part.size[1]:
        return -math.pi / 2.0  # narrow along the part's x axis: turn the finger axis onto it
    return 0.0


def parse_work_order(entries: list[str], layout: CellLayout) -> list[tuple[str, str]]:
    """'slot_0:peg_round' entries -> [(slot, part type)], validated against the layout."""
    slots = {s.name for s in layout.tray_slots}
    order = []
    for entry in entries:
        slot, _, part_type = entry.partition(":")
        if slot not in slots:
            raise PlanningError(f"work order entry '{entry}': unknown slot '{slot}' "
                                f"(slots: {', '.join(sorted(slots))})")
        if part_type not in layout.part_types:
            raise PlanningError(f"work order entry '{entry}': unknown part type "
                                f"'{part_type}' (types: {', '.join(layout.part_types)})")
        order.append((slot, part_type))
    return order


def plan_assembly(layout: CellLayout, work_order: list[tuple[str, str]],
                  library: SkillLibrary) -> list[WorkItem]:
    """Pick each listed part from its slot and insert it into the next free matching hole."""
    grasp_depth = float(library.parameter("pick", "grasp_depth_m"))
    margin = float(library.parameter("pick", "pregrasp_margin_m"))
    pick_speed = float(library.parameter("pick", "speed_scale"))
    insert_speed = float(library.parameter("insert", "speed_scale"))
    slots = {s.name: s for s in layout.tray_slots}
    free: list[HoleSpec] = list(layout.holes)
    items = []
    for slot_name, part_type in work_order:
        part = layout.part_types[part_type]
        hole = next((h for h in free if h.type == part.hole_type), None)
        if hole is None:
            raise PlanningError(f"no free '{part.hole_type}' hole left for the part in "
                                f"'{slot_name}'")
        free.remove(hole)
        slot = slots[slot_name]
        offset = grasp_yaw_offset(part)
        grasp_yaw = wrap_half_turn(slot.yaw + offset)
        insert_yaw = wrap_half_turn(hole.yaw + offset)
        top = slot.position[2] + part.height
        grasp = (slot.position[0], slot.position[1], top - grasp_depth)
        seated_top = hole.bottom_z + part.height
        seat = (hole.position[0], hole.position[1], seated_top - grasp_depth)
        width = min(part.grasp_width + 2 * margin, 0.08)
        object_id = f"{slot_name}/{part_type}"
        steps = (
            SkillStep("pick", object_id, slot_name, grasp, tool_down_quat(grasp_yaw),
                      gripper_width=width, object_height=part.height, speed_scale=pick_speed),
            SkillStep("insert", object_id, hole.name, seat, tool_down_quat(insert_yaw),
                      gripper_width=width, object_height=part.height,
                      speed_scale=insert_speed),
        )
        items.append(WorkItem(object_id, part_type, hole.name, steps))
    return items


def understood(task_text: str) -> bool:
    return " ".join(task_text.lower().split()) in UNDERSTOOD_TASKS


def quat_array(quat: tuple[float, float, float, float]) -> np.ndarray:
    return np.asarray(quat, dtype=float)
