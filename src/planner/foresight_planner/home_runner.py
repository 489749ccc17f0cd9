"""The home-care task as steps: find the object, drive to where the arm reaches it, pick it,
carry it to the target surface (or the person) and set it down (or hand it over); the
geometry is home_plan's. A step that cannot succeed ends the task with a reason and a help
request naming what the robot needs, never a silent loop.

The runner owns the sequence; the planner node owns the wire (`ports`: skill and navigation
goals, the world model's snapshot, the base's pose, events and help requests), so this
module holds no subscriptions and no timers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from foresight_common.home_tasks import HomeTask
from foresight_common.occupancy import OccupancyMap
from foresight_common.planar import Pose2D
from foresight_common.room_layout import RoomLayout, Surface
from foresight_planner.assembly_plan import SkillLibrary
from foresight_planner.decisions import TrackedObject, WorldSnapshot
from foresight_planner.home_plan import (
    HomePlanConfig,
    find_object,
    grasp_point,
    grasp_yaw,
    on_surface,
    release_point,
    set_down_spots,
    stand_poses,
)

#: The robot's own outcomes of a task (the planner node maps them onto SkillOutcome).
DONE, FAILED, CANCELED = "done", "failed", "canceled"
#: Round objects: any grasp yaw suits them.
ROUND_LABELS = ("cup",)


class HomePorts(Protocol):
    """What the runner needs from the node that hosts it."""

    def now(self) -> float: ...
    def world(self) -> WorldSnapshot | None: ...
    def base_pose(self) -> Pose2D | None: ...
    async def sleep(self, seconds: float) -> None: ...
    async def skill(self, step: int, skill: str, object_id: str = "", place_id: str = "",
                    position: np.ndarray | None = None, yaw: float = 0.0,
                    width: float = 0.0, height: float = 0.0, speed: float = 0.0
                    ) -> tuple[bool, str]: ...
    async def navigate(self, step: int, pose: Pose2D, place_id: str, timeout_s: float
                       ) -> tuple[bool, str]: ...
    def help(self, needs: str, reason: str) -> None: ...


@dataclass
class TaskEnd:
    status: str          # DONE, FAILED or CANCELED
    reason: str
    steps: int


class _Abort(Exception):
    def __init__(self, reason: str, needs: str = "") -> None:
        super().__init__(reason)
        self.reason, self.needs = reason, needs


class HomeTaskRunner:
    def __init__(self, ports: HomePorts, layout: RoomLayout, grid: OccupancyMap,
                 library: SkillLibrary, heights: dict[str, float],
                 config: HomePlanConfig | None = None) -> None:
        self.ports = ports
        self.layout = layout
        self.grid = grid
        self.library = library
        self.heights = heights            # nominal object height per class (m)
        self.config = config or HomePlanConfig()
        self.step = 0
        self.cancel_requested = lambda: False

    def _p(self, skill: str, name: str) -> float:
        return float(self.library.parameter(skill, name))

    # --- the task -----------------------------------------------------------------------
    async def run(self, task: HomeTask, cancel_requested, timeout_s: float = math.inf
                  ) -> TaskEnd:
        """Run `task` until done, failed, canceled (`cancel_requested()`) or `timeout_s`
        is used up (checked between steps)."""
        self.step = 0
        deadline = self.ports.now() + timeout_s
        self.cancel_requested = lambda: cancel_requested() or self.ports.now() > deadline
        self._timeout_s = timeout_s
        name = task.object.replace("_", " ")
        try:
            obj, surface = await self._find(task, name)
            held_yaw, height = await self._fetch(obj, surface, name)
            if task.is_handover:
                raise _Abort("handing over is not implemented yet",
                             f"someone to take the {name} from the gripper")
            await self._put_down(task, name, held_yaw, height)
        except _Abort as stop:
            if stop.reason == CANCELED:
                if cancel_requested():
                    return TaskEnd(CANCELED, "canceled", self.step)
                stop = _Abort(f"gave up after {self._timeout_s:.0f} s",
                              f"more time for the {name}, or help with it")
            if stop.needs:
                self.ports.help(stop.needs, stop.reason)
            return TaskEnd(FAILED, stop.reason, self.step)
        return TaskEnd(DONE, f"the {name} is on the {task.target.replace('_', ' ')}",
                       self.step)

    def _check_cancel(self) -> None:
        if self.cancel_requested():
            raise _Abort(CANCELED)

    def _height(self, obj: TrackedObject) -> float:
        nominal = self.heights.get(obj.label, 0.0)
        measured = float(obj.size[2]) if obj.size is not None else 0.0
        # the track's height when it is plausible (perception measures the top)
        if nominal > 0 and not 0.5 * nominal <= measured <= 1.5 * nominal:
            return nominal
        return measured or nominal

    def _surface_of(self, obj: TrackedObject) -> Surface | None:
        height = self._height(obj)
        return next((s for s in self.layout.surfaces()
                     if on_surface(obj, s, height, self.config)), None)

    # --- steps ----------------------------------------------------------------------------
    async def _find(self, task: HomeTask, name: str) -> tuple[TrackedObject, Surface]:
        """The object's track and the surface it lies on: from what the world model already
        tracks, else by driving to look at the surface the task names."""
        world = self.ports.world()
        obj = find_object(world.objects, task.object) if world is not None else None
        start = self.layout.surface(task.start_surface)
        if obj is None:
            view = stand_poses(self.layout, self.grid, start, start.center, self.config)
            if not view:
                view = stand_poses(self.layout, self.grid, start, start.center,
                                   HomePlanConfig(reach_m=2.0))
            if not view:
                raise _Abort(f"no free place to look at the {start.name} from",
                             f"the way to the {start.name} cleared")
            await self._drive(view[0].pose, f"view:{start.name}")
            obj = await self._look(task.object, None, name)
            if obj is None:
                raise _Abort(f"no {name} seen on or near the {start.name}",
                             f"the {name} put where the robot can see it")
        surface = self._surface_of(obj)
        if surface is None:
            raise _Abort(f"the {name} at ({obj.position[0]:.2f}, {obj.position[1]:.2f}, "
                         f"{obj.position[2]:.2f}) is on no known surface",
                         f"the {name} put on a table or shelf")
        return obj, surface

    async def _look(self, label: str, near: np.ndarray | None, name: str
                    ) -> TrackedObject | None:
        """Watch for a track of `label` updated after the base stopped (the world model's
        pose from images taken at the stop), near `near` when given."""
        arrived = self.ports.now()
        settle, wait = self._p("look_for", "settle_s"), self._p("look_for", "wait_s")
        self.step += 1
        while self.ports.now() - arrived < settle + wait:
            self._check_cancel()
            world = self.ports.world()
            if world is not None and world.stamp > arrived + settle:
                fresh = [o for o in world.objects if o.label == label and
                         (near is None or math.dist(o.position[:2], near[:2]) < 0.3)]
                obj = find_object(fresh, label, near)
                if obj is not None:
                    return obj
            await self.ports.sleep(0.2)
        return None

    async def _drive(self, pose: Pose2D, place_id: str) -> None:
        reason = ""
        for _ in range(int(self._p("navigate_to", "attempts"))):
            self._check_cancel()
            self.step += 1
            ok, reason = await self.ports.navigate(self.step, pose, place_id,
                                                   self._p("navigate_to", "timeout_s"))
            if ok:
                return
        raise _Abort(f"could not drive to {place_id}: {reason}",
                     f"the way to {place_id.split(':')[-1]} cleared")

    async def _arm(self, skill: str, **goal) -> tuple[bool, str]:
        self._check_cancel()
        self.step += 1
        speed = self._p(skill, "speed_scale") if skill in self.library.skills else 0.5
        return await self.ports.skill(self.step, skill, speed=speed, **goal)

    async def _fetch(self, obj: TrackedObject, surface: Surface, name: str
                     ) -> tuple[float, float]:
        """Stand where the arm reaches the object, look again from there, pick it and carry
        it in the ready pose; the gripper's yaw it was picked with (relative to the base)
        and the object's height."""
        stands = stand_poses(self.layout, self.grid, surface, obj.position[:2], self.config)
        if not stands:
            raise _Abort(f"the {name} on the {surface.name} is out of the arm's reach from "
                         "every free side", f"the {name} moved nearer the edge")
        object_id = f"{obj.label}#{obj.id}"
        reason = ""
        for stand in stands[:2]:
            await self._drive(stand.pose, f"pick:{surface.name}")
            seen = await self._look(obj.label, obj.position, name)
            if seen is None:
                reason = f"the {name} was not seen again from the stand pose"
                continue
            height = self._height(seen)
            yaw = grasp_yaw(seen.yaw, stand.pose[2], seen.label in ROUND_LABELS)
            ok, reason = await self._arm("go_home")
            if not ok:
                continue
            ok, reason = await self._arm(
                "pick", object_id=object_id, position=grasp_point(seen, height, self.config),
                yaw=yaw, width=self._p("pick", "gripper_width_m"), height=height)
            if ok:
                ok, reason = await self._arm("stow", height=height)
                if not ok:
                    raise _Abort(f"holding the {name}, the arm cannot fold for driving: "
                                 f"{reason}", f"someone to take the {name}")
                return math.remainder(yaw - stand.pose[2], 2.0 * math.pi), height
            await self._arm("open_gripper")
        raise _Abort(f"could not pick the {name}: {reason}",
                     f"the {name} handed to the robot or moved within reach")

    async def _put_down(self, task: HomeTask, name: str, held_yaw: float,
                        height: float) -> None:
        surface = self.layout.surface(task.target)
        world = self.ports.world()
        others = [o.position for o in (world.objects if world else [])
                  if o.label != task.object]
        here = self.ports.base_pose()
        robot_xy = here[:2] if here is not None else surface.center
        spots = set_down_spots(self.layout, self.grid, surface, robot_xy, others, self.config)
        if not spots:
            raise _Abort(f"no free spot within reach on the {surface.name}",
                         f"room made on the {surface.name}")
        reason = ""
        for spot in spots[:2]:
            await self._drive(spot.pose, f"place:{surface.name}")
            pose = self.ports.base_pose() or spot.pose
            ok, reason = await self._arm(
                "place", object_id=task.object, place_id=surface.name,
                position=release_point(spot.target_xy, surface, height, self.config),
                yaw=pose[2] + held_yaw, width=self._p("pick", "gripper_width_m"),
                height=height)
            if ok:
                await self._arm("stow")
                return
        raise _Abort(f"could not set the {name} down on the {surface.name}: {reason}",
                     f"someone to take the {name} from the gripper")
