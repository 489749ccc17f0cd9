"""Which part next, into which hole, when and where: the planner's choices from what the
world model says (tracks and their predictions). No rclpy here.

One `prediction_horizon_s` separates the decision modes and nothing else:
- `world_model` (horizon > 0): a conveyor part is intercepted where it is predicted to be
  inside the robot's pick zone (the arm waits above the zone for a part predicted to arrive
  soon, rather than starting work it would have to abandon, and for a while for one the
  fixture still needs and nothing in view supplies), and the robot waits for (or
  works around) a co-worker whose hands are predicted to enter the target area while it
  would work there;
- `reactive` (horizon 0, the classic perceive-decide-act chain): everything is taken where
  it was last seen, as if it stood still, and only where people are now counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from foresight_common.cell_layout import CellLayout, PartType

STATIC, CONVEYOR, INTERACTING, PERSON = 1, 2, 3, 4  # ObjectTrack.MOTION_*
# A seated part's centre is at most this far above where it would be fully down (a part
# lying on its side on the fixture is ~1 cm higher, one standing on it ~2.5 cm).
SEATED_Z_TOLERANCE_M = 0.006
# Room the open fingers need around a part on the bench (half the widest opening).
FINGER_CLEARANCE_M = 0.04


@dataclass(frozen=True)
class TrackedObject:
    id: int
    label: str
    motion: int
    position: np.ndarray
    yaw: float
    velocity: np.ndarray
    age_s: float = math.inf  # how long the world model has tracked it
    size: np.ndarray | None = None  # bounding box extents (m) when perception measured them
    missed: int = 0  # camera frames since a detection last matched it (0: measured just now)


@dataclass(frozen=True)
class PredictedPath:
    """Predicted positions of one track (or person keypoint) at `times` (absolute, s)."""

    times: np.ndarray
    positions: np.ndarray  # (n, 3)

    def at(self, t: float) -> np.ndarray:
        """Position at `t`: interpolated, held before the first time, extrapolated linearly
        from the last two samples after the last one (a conveyor keeps its speed)."""
        if t <= self.times[0] or len(self.times) == 1:
            return self.positions[0].copy()
        if t <= self.times[-1]:
            return np.array([np.interp(t, self.times, self.positions[:, k]) for k in range(3)])
        velocity = (self.positions[-1] - self.positions[-2]) / (self.times[-1] - self.times[-2])
        return self.positions[-1] + velocity * (t - self.times[-1])


@dataclass
class WorldSnapshot:
    """What the planner knows at one moment: tracks of the same source image."""

    stamp: float  # source image stamp of the tracks (s)
    objects: list[TrackedObject] = field(default_factory=list)
    people: dict[str, np.ndarray] = field(default_factory=dict)  # keypoint -> position
    object_paths: dict[int, PredictedPath] = field(default_factory=dict)
    people_paths: dict[str, PredictedPath] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionConfig:
    prediction_horizon_s: float  # 0 = reactive
    pick_zone_y: tuple[float, float]  # along the conveyor (world y) where the arm can pick
    conveyor_x: float
    conveyor_end_y: float
    min_intercept_lead_s: float = 2.0  # s the arm needs to be ready above a moving part
    person_keepout_m: float = 0.30  # hands this close to a work target block it
    person_window_s: float = 4.0  # s ahead the target area must stay clear
    grasp_depth_m: float = 0.012
    pregrasp_margin_m: float = 0.012
    seated_xy_tolerance_m: float = 0.010
    max_attempts: int = 3
    min_conveyor_track_s: float = 1.0  # a moving part's speed is trusted after this long
    max_intercept_wait_s: float = 2.5  # intercepts further ahead are decided later
    hold_for_conveyor_s: float = 20.0  # wait for a part arriving this soon, not start another
    ready_height_m: float = 0.15  # the arm waits this far above the belt for a part
    # a part the fixture needs that nothing in view supplies is expected from the conveyor:
    # the arm waits above the belt for it this long after the task started or the last
    # conveyor part appeared (0: never). A part seen only on arrival is 3-9 s from the end of
    # the pick zone, while the way to the belt from the tray takes 7-12 s near a co-worker.
    # Waiting costs tray work when the part then is missed (seeds 1-3 at 50 s, before
    # refused intercepts were retried: worse than not waiting); the planner's default, 45 s,
    # spans the default family's gaps between conveyor parts.
    feed_wait_s: float = 0.0


@dataclass(frozen=True)
class Choice:
    """Pick `part` (where and when) and insert it into `hole`."""

    part: TrackedObject
    hole: TrackedObject
    grasp_position: np.ndarray
    grasp_yaw: float
    grasp_span: float  # m of the part between the fingers
    velocity: np.ndarray  # zero for a static pick
    intercept_time: float  # 0 for a static pick
    seat_position: np.ndarray
    seat_yaw: float
    yaw_free: bool
    reason: str


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class GetReady:
    """Nothing to do before a conveyor part arrives: wait with the gripper above the pick
    zone, turned the way the part will be grasped, so the intercept is a short move."""

    position: np.ndarray
    yaw: float
    reason: str


@dataclass(frozen=True)
class Finished:
    reason: str


# what became of one chosen part
SEATED, FAILED, PREEMPTED, REFUSED = "seated", "failed", "preempted", "refused"
HELD = "held"  # picked, but not seated (the insertion failed)


@dataclass
class TaskMemory:
    """What one assembly task has done so far: attempts per part, parts given up (seated
    ones included: never picked again, wherever their track is), holes filled."""

    attempts: dict[int, int] = field(default_factory=dict)
    given_up: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    filled: list[np.ndarray] = field(default_factory=list)
    last_feed: float | None = None  # when the task started or a conveyor part last appeared
    _on_belt: dict[int, str] = field(default_factory=dict)  # id -> label, ever on the belt
    _taken: set[int] = field(default_factory=set)  # parts the arm picked up

    def note_belt(self, parts: dict[int, str], now: float) -> None:
        """Parts now on the belt (id -> label): one not seen there before resets the feed
        clock."""
        if self.last_feed is None or parts.keys() - self._on_belt.keys():
            self.last_feed = now
        self._on_belt.update(parts)

    def lost_from_belt(self, visible: set[int]) -> list[str]:
        """Labels of the parts the belt brought that the arm never took and that are gone
        from view (ridden into the reject bin, where perception may not see them): the
        feeder sends one per hole, so they count as supplied, never as still to come."""
        return sorted(label for part, label in self._on_belt.items()
                      if part not in visible and part not in self._taken)

    def record(self, choice: Choice, result: str, arm_was_ready: bool) -> bool:
        """Book the result of working on `choice`; True when the arm should now wait above
        the belt: an intercept the executor refused before moving, from an arm that was
        elsewhere (slowed near the co-worker), is planned again from there. A refused
        intercept is never a failed attempt (nothing moved: from above the belt it is tried
        again while the part is still coming, a co-worker's reach that slowed it may be
        over), and neither is a pick that gave way to a conveyor part."""
        part = choice.part.id
        self.attempts[part] = self.attempts.get(part, 0) + 1
        if result in (SEATED, HELD):
            self._taken.add(part)
        if result == SEATED:
            self.done.add(part)
            self.given_up.add(part)
            self.filled.append(choice.seat_position.copy())
            return False
        refused_intercept = result == REFUSED and bool(choice.intercept_time)
        get_ready = refused_intercept and not arm_was_ready
        if result == PREEMPTED or refused_intercept:
            self.attempts[part] -= 1
        return get_ready


def part_type_of(layout: CellLayout, label: str) -> PartType | None:
    return layout.part_types.get(label)


def grasp_yaw_offset(part: PartType) -> float:
    """Tool yaw relative to the part's yaw so the fingers close across its narrow side
    (the fingers close along the tool x axis, which is world +y at tool yaw 0)."""
    if part.shape == "box" and part.size[0] < part.size[1]:
        return -math.pi / 2.0
    return 0.0


def grasp_yaw(part: TrackedObject, ptype: PartType) -> float:
    """Tool yaw that grasps `part` across its narrow side (0 for a round part, which any
    yaw grasps), the equivalent within its symmetry closest to 0."""
    if ptype.shape == "cylinder":
        return 0.0
    return wrap(part.yaw + grasp_yaw_offset(ptype), min(symmetry(ptype), math.pi))


def grasp_span(part: PartType, offset: float) -> float:
    """How much of the part lies between the fingers at tool yaw `offset` relative to it:
    its extent along its own y at 0, along x at -90 deg (a round part: its diameter)."""
    if part.shape == "cylinder":
        return part.size[0]
    return part.size[1] if abs(wrap(offset, math.pi)) < math.pi / 4 else part.size[0]


def symmetry(part: PartType) -> float:
    """Rotation (rad) that maps the part's footprint onto itself."""
    if part.shape == "cylinder":
        return 2 * math.pi
    return math.pi / 2 if abs(part.size[0] - part.size[1]) < 1e-6 else math.pi


def wrap(angle: float, period: float) -> float:
    """Equivalent angle in [-period/2, period/2)."""
    return (angle + period / 2) % period - period / 2


def seated(part: TrackedObject, holes: list[TrackedObject], layout: CellLayout,
           config: DecisionConfig) -> TrackedObject | None:
    """The hole a part sits in (by position: centred on it and sunk into it), else None."""
    ptype = part_type_of(layout, part.label)
    if ptype is None:
        return None
    for hole in holes:
        if np.linalg.norm(part.position[:2] - hole.position[:2]) > config.seated_xy_tolerance_m:
            continue
        sunk_centre = hole.position[2] - layout.fixture.hole_depth + ptype.height / 2
        if part.position[2] < sunk_centre + SEATED_Z_TOLERANCE_M:
            return hole
    return None


class DecisionMaker:
    """Stateless choices; the attempt counts live with the caller (`attempts` by part id)."""

    def __init__(self, layout: CellLayout, config: DecisionConfig) -> None:
        self.layout = layout
        self.config = config

    # --- predictions (horizon 0: where things are now) -----------------------------------
    def object_at(self, world: WorldSnapshot, obj: TrackedObject, t: float) -> np.ndarray:
        path = world.object_paths.get(obj.id)
        if self.config.prediction_horizon_s <= 0.0 or path is None:
            return obj.position.copy()
        return path.at(t)

    def people_near(self, world: WorldSnapshot, target: np.ndarray, now: float) -> str | None:
        """Name of a person keypoint that is (or, with a horizon, is predicted to be) within
        the keep-out distance of `target` during the work window; None if clear."""
        config = self.config
        for name, position in world.people.items():
            if np.linalg.norm(position[:2] - target[:2]) < config.person_keepout_m:
                return f"{name} is at the target now"
            path = world.people_paths.get(name)
            if config.prediction_horizon_s <= 0.0 or path is None:
                continue
            window = min(config.person_window_s, config.prediction_horizon_s)
            for t in np.linspace(now, now + window, 9):
                if np.linalg.norm(path.at(t)[:2] - target[:2]) < config.person_keepout_m:
                    return f"{name} predicted at the target in {t - now:.1f} s"
        return None

    # --- the choice -------------------------------------------------------------------------
    def next_step(self, world: WorldSnapshot, now: float, attempts: dict[int, int],
                  given_up: set[int], filled: tuple[np.ndarray, ...] = (),
                  last_feed: float | None = None, lost_from_belt: tuple[str, ...] = ()
                  ) -> Choice | Wait | GetReady | Finished:
        """`filled`: hole positions this task has put a part into (a seated part may hide
        its hole's rim from the camera, so perception alone cannot be trusted with it);
        `last_feed`: when the task started or a conveyor part last appeared;
        `lost_from_belt`: labels of belt parts gone unpicked (both from TaskMemory)."""
        layout, config = self.layout, self.config
        holes = [o for o in world.objects if o.label.startswith("hole_")]
        parts = [o for o in world.objects if part_type_of(layout, o.label) is not None]
        occupied = {}
        for part in parts:
            hole = seated(part, holes, layout, config)
            if hole is not None:
                occupied[hole.id] = part.id
        for place in filled:
            for hole in holes:
                if np.linalg.norm(hole.position[:2] - place[:2]) < 0.015:
                    occupied.setdefault(hole.id, -1)
            for part in parts:  # the part standing there is done
                if np.linalg.norm(part.position[:2] - place[:2]) < 0.015:
                    given_up = given_up | {part.id}
        todo = [p for p in parts if p.id not in occupied.values() and p.id not in given_up
                and attempts.get(p.id, 0) < config.max_attempts
                and p.motion != INTERACTING and not self._in_reject_bin(p.position)]
        if not todo:
            return Finished(f"{len(occupied)} parts seated, nothing left to do")
        candidates: list[Choice] = []
        waits: list[str] = []
        arriving: list[Choice] = []
        new_on_belt: list[TrackedObject] = []
        for part in todo:
            ptype = part_type_of(layout, part.label)
            free = [h for h in holes if h.label == ptype.hole_type and h.id not in occupied]
            if not free:
                waits.append(f"no free {ptype.hole_type} for part {part.id}")
                continue
            hole = min(free, key=lambda h: np.linalg.norm(h.position[:2] - part.position[:2]))
            choice = self._pick_plan(world, part, ptype, hole, now)
            if isinstance(choice, str):
                waits.append(choice)
                if self._coming_down_the_belt(part):
                    new_on_belt.append(part)
                continue
            if choice.intercept_time and \
                    choice.intercept_time - now > config.min_intercept_lead_s + \
                    config.max_intercept_wait_s:
                arriving.append(choice)
                waits.append(f"part {part.id} reaches the pick zone in "
                             f"{choice.intercept_time - now:.1f} s")
                continue
            blocker = self.people_near(world, choice.grasp_position, now) or \
                self.people_near(world, choice.seat_position, now)
            if blocker:
                waits.append(f"part {part.id}: {blocker}")
                continue
            candidates.append(choice)
        moving = [c for c in candidates if c.intercept_time]
        if moving:  # a moving part will not wait
            return min(moving, key=lambda c: c.intercept_time)
        first = min(arriving, key=lambda c: c.intercept_time, default=None)
        if first is not None and first.intercept_time - now < config.hold_for_conveyor_s:
            # a part on its way: starting a long task now would let it fall off the belt
            return self.ready_above_belt(first.grasp_yaw, "; ".join(waits))
        if new_on_belt and config.prediction_horizon_s > 0.0:
            # just seen, its speed not known yet: the way to the belt may take longer than
            # the part needs to reach the pick zone, so the arm sets off now
            part = min(new_on_belt, key=lambda p: -p.position[1])
            return self.ready_above_belt(
                self.belt_grasp_yaw(part, part_type_of(layout, part.label)), "; ".join(waits))
        scrap = [p.label for p in parts if self._in_reject_bin(p.position)]
        expected = self.expected_from_belt(
            holes, [p.label for p in todo] + scrap + list(lost_from_belt), occupied)
        if expected and config.prediction_horizon_s > 0.0 and config.feed_wait_s > 0.0 \
                and last_feed is not None and now - last_feed < config.feed_wait_s \
                and not new_on_belt and not arriving:
            return self.ready_above_belt(
                self.belt_grasp_yaw(None, layout.part_types[expected[0]]),
                f"waiting for the conveyor to bring {', '.join(expected)} (until "
                f"t={last_feed + config.feed_wait_s:.0f} s)")
        if not candidates:
            return Wait("; ".join(waits) or "nothing reachable now")
        return min(candidates, key=lambda c: float(np.linalg.norm(c.part.position[:2] -
                                                                  c.hole.position[:2])))

    def expected_from_belt(self, holes: list[TrackedObject], supplied: list[str],
                           occupied: dict[int, int]) -> list[str]:
        """Part types the free holes need more of than the `supplied` parts (labels: still
        to do, or already brought by the belt and lost into the reject bin: the feeder
        sends one per hole) provide; the conveyor is the cell's only other source.
        Sorted."""
        needed: dict[str, int] = {}
        for hole in holes:
            if hole.id not in occupied:
                needed[hole.label] = needed.get(hole.label, 0) + 1
        for label in supplied:
            ptype = part_type_of(self.layout, label)
            if ptype.hole_type in needed:
                needed[ptype.hole_type] -= 1
        return sorted(name for name, ptype in self.layout.part_types.items()
                      if needed.get(ptype.hole_type, 0) > 0)

    def belt_grasp_offset(self, part_yaw: float, ptype: PartType) -> float:
        """Tool yaw relative to a part on the belt: the fingers close along the belt's
        travel, on the part's sides facing up- and downstream. The part's timing error
        (where along the belt it is when the fingers close) is then centred away by the
        fingers; across the belt they would keep it as an offset in the hand, and a slot
        peg held 1 cm off along its length tilts into its hole and jams (simulated: 10 mm
        off fails, 5 mm is found by the search; closing along the belt seats it at 10 mm)."""
        if ptype.shape == "cylinder":
            return 0.0
        dx, dy = self.layout.conveyor.direction
        travel = math.atan2(dy, dx)
        # the fingers close along tool +y at tool yaw 0, i.e. along the part's own y at
        # offset 0 and its x at -90 deg: take the one nearer the belt's direction
        return min((0.0, -math.pi / 2),
                   key=lambda offset: abs(math.sin(part_yaw + offset + math.pi / 2 - travel)))

    def belt_grasp_yaw(self, part: TrackedObject | None, ptype: PartType) -> float:
        """Tool yaw that grasps a part on the belt (None: one lying along the belt, as the
        feeder lays them), the equivalent closest to the one for a part lying along the
        belt: the waiting pose and the intercept then agree. (Closest to 0 flipped a slot
        peg at yaw -2 deg to +88 deg while the arm waited at -90: a half turn of the wrist
        the intercept had no time for.)"""
        along_yaw = self.layout.conveyor.yaw
        along = along_yaw + self.belt_grasp_offset(along_yaw, ptype)
        if part is None or ptype.shape == "cylinder":
            return along
        tool = part.yaw + self.belt_grasp_offset(part.yaw, ptype)
        return along + wrap(tool - along, min(symmetry(ptype), math.pi))

    def on_belt(self, world: WorldSnapshot) -> dict[int, str]:
        """Parts on the belt upstream of the pick zone's end: id -> label."""
        return {o.id: o.label for o in world.objects
                if part_type_of(self.layout, o.label) is not None and self._on_the_belt(o)}

    def ready_above_belt(self, yaw: float, reason: str) -> GetReady:
        """Where the arm waits for a conveyor part: above the middle of the pick zone."""
        config = self.config
        low, high = config.pick_zone_y
        above = np.array([config.conveyor_x, (low + high) / 2,
                          self.layout.conveyor.belt_top_z + config.ready_height_m])
        return GetReady(above, yaw, reason)

    def _pick_plan(self, world: WorldSnapshot, part: TrackedObject, ptype: PartType,
                   hole: TrackedObject, now: float) -> Choice | str:
        config = self.config
        sym = symmetry(ptype)
        yaw_free = ptype.shape == "cylinder"
        if part.motion == CONVEYOR:
            offset = self.belt_grasp_offset(part.yaw, ptype)
            tool_yaw = self.belt_grasp_yaw(part, ptype)
        else:
            offset = grasp_yaw_offset(ptype)
            tool_yaw = grasp_yaw(part, ptype)
        span = grasp_span(ptype, offset)
        velocity = np.zeros(3)
        intercept = 0.0
        position = self.object_at(world, part, now)
        if part.motion == CONVEYOR:
            if part.age_s < config.min_conveyor_track_s:
                return f"part {part.id} on the conveyor: speed not known yet"
            if config.prediction_horizon_s > 0.0:
                t = self._intercept_time(world, part, now)
                if t is None:
                    return f"part {part.id} on the conveyor: no intercept in the pick zone"
                position = self.object_at(world, part, t)
                path = world.object_paths.get(part.id)
                velocity = (self.object_at(world, part, t + 0.1) - position) / 0.1 \
                    if path is not None else part.velocity.copy()
                velocity[2] = 0.0
                intercept = t
            elif not self._in_pick_zone(position):
                return f"part {part.id} on the conveyor is outside the pick zone"
        elif not self._reachable_place(position):
            return f"part {part.id} lies where the arm cannot pick it"
        elif self._against_fixture(position, world):
            # a pick lets the fingers touch what is around the part: next to the fixture
            # they pressed on it and the arm stuck there (3 of 10 episodes, measured)
            return f"part {part.id} lies on or against the fixture: not picked there"
        grasp = position + np.array([0.0, 0.0, ptype.height / 2 - config.grasp_depth_m])
        seat_yaw = 0.0
        if not yaw_free:
            # the same part-to-tool relation in the hole; the equivalent closest to the grasp
            seat_yaw = hole.yaw + offset
            seat_yaw = tool_yaw + wrap(seat_yaw - tool_yaw, min(sym, math.pi))
            seat_yaw = wrap(seat_yaw, 2 * math.pi)
        seat = np.array([hole.position[0], hole.position[1],
                         hole.position[2] - self.layout.fixture.hole_depth + ptype.height
                         - config.grasp_depth_m])
        how = (f"intercept on the conveyor at t={intercept:.1f} s" if intercept
               else "pick where it lies")
        return Choice(part=part, hole=hole, grasp_position=grasp, grasp_yaw=tool_yaw,
                      grasp_span=span, velocity=velocity, intercept_time=intercept,
                      seat_position=seat, seat_yaw=seat_yaw, yaw_free=yaw_free,
                      reason=f"{ptype.name} #{part.id} -> {hole.label} #{hole.id}: {how} "
                             f"(grasp yaw {math.degrees(tool_yaw):.0f} deg, part "
                             f"{math.degrees(part.yaw):.0f}, hole {math.degrees(hole.yaw):.0f})")

    def _coming_down_the_belt(self, part: TrackedObject) -> bool:
        """A part on the belt before the end of the pick zone whose arrival is not known
        yet (tracked too briefly, or not yet seen to move)."""
        return self._on_the_belt(part) and \
            (part.motion != CONVEYOR or part.age_s < self.config.min_conveyor_track_s)

    def _on_the_belt(self, part: TrackedObject) -> bool:
        belt = self.layout.conveyor
        low, high = self.config.pick_zone_y
        return (abs(part.position[0] - self.config.conveyor_x) <= belt.width / 2 and
                min(belt.start[1], low) <= part.position[1] <= high and
                part.position[2] >= belt.belt_top_z)

    def _against_fixture(self, position: np.ndarray, world: WorldSnapshot,
                         margin: float = FINGER_CLEARANCE_M) -> bool:
        """On the fixture or closer to it than the open fingers need (the fixture where
        its holes are seen, else where the layout puts it)."""
        fixture = self.layout.fixture
        centre = np.asarray(fixture.center[:2], dtype=float)
        holes = [o.position[:2] for o in world.objects if o.label.startswith("hole_")]
        if len(holes) == len(self.layout.holes):  # all seen: their centroid is the block's
            nominal = np.mean([h.position[:2] for h in self.layout.holes], axis=0)
            centre = centre + np.mean(holes, axis=0) - nominal
        c, s = math.cos(fixture.yaw), math.sin(fixture.yaw)
        dx, dy = position[:2] - centre
        along_x, along_y = c * dx + s * dy, -s * dx + c * dy
        return (abs(along_x) <= fixture.size[0] / 2 + margin and
                abs(along_y) <= fixture.size[1] / 2 + margin)

    def _in_reject_bin(self, position: np.ndarray) -> bool:
        """Parts that fell into the reject bin are scrap: not picked again."""
        bin_ = self.layout.reject_bin
        return (abs(position[0] - bin_.center[0]) <= bin_.size[0] / 2 and
                abs(position[1] - bin_.center[1]) <= bin_.size[1] / 2)

    def _in_pick_zone(self, position: np.ndarray) -> bool:
        low, high = self.config.pick_zone_y
        return low <= position[1] <= high

    def _reachable_place(self, position: np.ndarray) -> bool:
        base = np.asarray(self.layout.robot_base)
        reach = float(np.linalg.norm(position[:2] - base[:2]))
        return 0.25 <= reach <= 0.75

    def _intercept_time(self, world: WorldSnapshot, part: TrackedObject, now: float
                        ) -> float | None:
        """Earliest time after the arm's lead time at which the part is predicted in the
        middle of the pick zone (None: it leaves the zone before the arm can be there)."""
        low, high = self.config.pick_zone_y
        earliest = now + self.config.min_intercept_lead_s
        middle = (low + high) / 2
        for t in np.arange(earliest, earliest + 20.0, 0.1):
            y = self.object_at(world, part, t)[1]
            if y >= middle - 0.03:
                return float(t) if y <= high else None
        return None
