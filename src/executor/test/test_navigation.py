"""Base navigation on the home room's map: the grid, the global planner, the local
controller's respect for obstacles and for people's predicted positions, and a goal that a
standing person blocks (plan around them) or that cannot be reached (a clear reason)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foresight_common.occupancy import room_map
from foresight_common.room_layout import load_room_layout
from foresight_executor.navigation import (
    BLIND_RANGE,
    ROBOT_RADIUS,
    Command,
    ControllerConfig,
    GiveWayConfig,
    Navigator,
    NoPathError,
    ObstacleLayer,
    PredictedPerson,
    ScanMemory,
    SideStep,
    admissible_goal,
    control,
    footprint_distance,
    from_now,
    give_way,
    monitor,
    person_speed_limit,
    plan_path,
    ramped_offsets,
    step_towards,
    walking_into,
    walking_path,
)

ROOM = Path(__file__).resolve().parents[3] / "config" / "rooms" / "home_room.yaml"
START = (1.3, 2.4, 0.0)


@pytest.fixture(scope="module")
def grid():
    return room_map(load_room_layout(ROOM))


def _drive(grid, navigator: Navigator, people=(), seconds: float = 90.0):
    """Integrate the commands of a perfectly tracking holonomic base at 10 Hz."""
    pose = np.array(START, dtype=float)
    navigator.start(pose)
    trace = [pose.copy()]
    for k in range(int(seconds / 0.1)):
        command = navigator.step(k * 0.1, pose, people)
        if navigator.done is not None:
            break
        c, s = math.cos(pose[2]), math.sin(pose[2])
        pose = pose + 0.1 * np.array([c * command.vx - s * command.vy,
                                      s * command.vx + c * command.vy, command.wz])
        trace.append(pose.copy())
    return pose, np.array(trace)


def test_room_map_marks_walls_and_furniture(grid):
    assert grid.occupied(3.0, 2.6)           # the table
    assert grid.occupied(-0.05, 2.0)         # the west wall
    assert not grid.occupied(1.3, 2.4)       # the robot's start
    assert grid.clearance(1.3, 2.4) == pytest.approx(1.1, abs=0.06)  # to the table's edge


def test_planned_route_keeps_the_robot_off_the_furniture(grid):
    path = plan_path(grid, START[:2], (5.0, 3.5))
    assert path[0] == START[:2] and path[-1] == (5.0, 3.5)
    for a, b in zip(path, path[1:], strict=False):
        points = np.linspace(a, b, 40)
        assert np.min(grid.clearance_at(points)) >= ROBOT_RADIUS - 1e-6


def test_unreachable_goals_say_why(grid):
    with pytest.raises(NoPathError, match="of an obstacle"):
        plan_path(grid, START[:2], (3.0, 2.6))          # on the table
    with pytest.raises(NoPathError, match="outside the map"):
        plan_path(grid, START[:2], (9.0, 1.0))


def test_robot_reaches_the_goal_pose_without_touching_anything(grid):
    navigator = Navigator(grid, (2.72, 0.52, 0.0))
    pose, trace = _drive(grid, navigator)
    assert navigator.done == ""
    assert math.dist(pose[:2], (2.72, 0.52)) < 0.06 and abs(pose[2]) < 0.06
    assert np.min(grid.clearance_at(trace[:, :2])) > ROBOT_RADIUS - 0.03


def test_controller_keeps_the_comfort_distance_from_a_predicted_position(grid):
    """A person predicted to step onto the robot's line in 1 s: the straight command would
    bring the robot within the comfort distance then; the controller picks another."""
    path = [(1.3, 2.4), (1.3, 0.8)]                     # straight south
    free = control(grid, (1.3, 2.4, -math.pi / 2), path, -math.pi / 2, [])
    assert free.reason == "following the path"
    person = [PredictedPerson(0.0, 2.3, 1.9), PredictedPerson(1.0, 1.3, 1.55)]
    dodged = control(grid, (1.3, 2.4, -math.pi / 2), path, -math.pi / 2, person)
    assert dodged.reason != "following the path"
    # its rollout (from rest: 0.3 s latency, then 0.5 m/s^2) keeps 0.8 m from the
    # predicted position at 1 s
    c, s = math.cos(-math.pi / 2), math.sin(-math.pi / 2)
    world = np.array([c * dodged.vx - s * dodged.vy, s * dodged.vx + c * dodged.vy])
    at_one_second = np.array([1.3, 2.4]) + ramped_offsets(np.zeros(2), world, [1.0], 0.5,
                                                          0.3)[0]
    assert math.dist(at_one_second, (1.3, 1.55)) >= 0.8 - 1e-6


def test_person_standing_in_a_passage_is_planned_around(grid):
    """The short way to the window runs north of the table; a person stands in it. The
    robot waits, plans around them and arrives, never within the comfort distance."""
    person = [PredictedPerson(0.0, 3.0, 3.9), PredictedPerson(1.0, 3.0, 3.9)]
    navigator = Navigator(grid, (5.0, 3.5, 0.0))
    pose, trace = _drive(grid, navigator, person)
    assert navigator.done == "" and navigator.replans >= 1
    assert np.min(np.linalg.norm(trace[:, :2] - np.array([3.0, 3.9]), axis=1)) >= 0.8 - 0.02


def test_a_stand_near_a_still_person_is_reached_at_the_distance_chosen(grid):
    """A hand-over's stand 1.35 m from a person standing still whose predicted position
    grows uncertain with the horizon (0.6 m at 1.5 s: comfort plus that is 1.4 m): the base
    arrives, never nearer to them than the stand."""
    person_xy = (4.07, 0.52)
    person = [PredictedPerson(t, *person_xy, r)
              for t, r in ((0.0, 0.25), (0.5, 0.35), (1.0, 0.5), (1.5, 0.6), (2.0, 0.66))]
    navigator = Navigator(grid, (2.72, 0.52, 0.0))
    pose, trace = _drive(grid, navigator, person)
    assert navigator.done == ""
    assert math.dist(pose[:2], (2.72, 0.52)) < 0.06
    assert np.min(np.linalg.norm(trace[:, :2] - np.array(person_xy), axis=1)) >= 1.35 - 0.02


def test_goal_behind_a_person_who_never_moves_fails_with_a_reason(grid):
    """Every way to the door passes the person standing in it: navigation gives up."""
    person = [PredictedPerson(0.0, 0.9, 3.9, 0.3), PredictedPerson(1.0, 0.9, 3.9, 0.3)]
    navigator = Navigator(grid, (0.9, 4.45, math.pi / 2))
    _drive(grid, navigator, person, seconds=60.0)
    assert navigator.done and "blocked for 30 s" in navigator.done


def test_goal_by_a_wall_is_reached_with_a_noisy_pose(grid):
    """Localisation jitters by centimetres; a goal 0.52 m from the wall (5 cm beyond the
    robot's radius) must still be reached, not end 'blocked' because a noisy pose put the
    robot a hair inside its radius."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        navigator = Navigator(grid, (2.72, 0.52, 0.0))
        pose = np.array(START, dtype=float)
        navigator.start(pose)
        for k in range(900):
            noisy = pose + np.r_[rng.normal(0.0, 0.02, 2), rng.normal(0.0, 0.01)]
            command = navigator.step(k * 0.1, noisy, [])
            if navigator.done is not None:
                break
            c, s = math.cos(pose[2]), math.sin(pose[2])
            pose = pose + 0.1 * np.array([c * command.vx - s * command.vy,
                                          s * command.vx + c * command.vy, command.wz])
        assert navigator.done == "", navigator.done
        assert math.dist(pose[:2], (2.72, 0.52)) < 0.1


def test_base_never_creeps_closer_than_its_radius(grid):
    """Standing 0.40 m from the shelf's front (inside the robot's radius), with the route's
    end beside the shelf: no command may take it further in; moving out is allowed."""
    pose = (0.82, 1.6, math.pi)                 # the shelf's front is at x = 0.42
    here = grid.clearance(*pose[:2])
    assert here < ROBOT_RADIUS
    command = control(grid, pose, [(0.82, 1.6), (0.6, 1.1)], math.pi, [])
    c, s = math.cos(pose[2]), math.sin(pose[2])
    world = np.array([c * command.vx - s * command.vy, s * command.vx + c * command.vy])
    ahead = np.array(pose[:2]) + world * np.linspace(0.25, 1.5, 6)[:, None]
    assert grid.clearance_at(ahead)[-1] > here or np.allclose(world, 0.0)


def test_seen_clutter_is_planned_around_and_cleared_when_gone(grid):
    """A box on the floor that the map lacks, seen by the camera, blocks the straight way
    to the bedside table; once the camera sees the spot empty, it is forgotten."""
    layer = ObstacleLayer(grid)
    box = np.array([[x, y] for x in np.linspace(1.8, 2.2, 9) for y in np.linspace(1.3, 1.7, 9)
                    if x in (1.8, 2.2) or y in (1.3, 1.7)])  # its outline
    pose = (1.3, 2.4, -0.7)                            # looking towards it
    c, s = math.cos(pose[2]), math.sin(pose[2])
    in_base = (box - np.array(pose[:2])) @ np.array([[c, -s], [s, c]])
    walls = np.array([[3.0, -2.5]])                    # something far behind the box
    layer.add_scan(0.0, pose, np.vstack([in_base, walls]), math.radians(72))
    with_box = layer.grid()
    assert with_box.occupied(2.0, 1.3) and not grid.occupied(2.0, 1.3)
    path = plan_path(with_box, pose[:2], (2.72, 0.52))
    for a, b in zip(path, path[1:], strict=False):
        assert np.min(with_box.clearance_at(np.linspace(a, b, 40))) >= ROBOT_RADIUS - 1e-6
    # the box was taken away: the next scan sees the wall behind it
    layer.add_scan(1.0, pose, walls, math.radians(72))
    assert not layer.grid().occupied(2.0, 1.3)
    # what the map already has (the table's edge) is not added again
    layer.add_scan(2.0, (1.3, 2.4, 0.0), np.array([[1.1, 0.0]]), math.radians(72))
    assert len(layer.points) == 0


def test_an_obstacle_below_the_cameras_view_is_not_cleared_by_a_later_scan():
    """Seen 1.2 m ahead, then the base drives up to it: the next scan (of the wall beyond)
    cannot see 0.5 m ahead, so it keeps the point; a scan from further back clears it."""
    memory = ScanMemory(keep_s=10.0, max_points=100, blind_range=BLIND_RANGE)
    memory.keep(0.0, memory.add(0.0, (0.0, 0.0, 0.0), np.array([[1.2, 0.0]]), 1.0))
    memory.add(1.0, (0.7, 0.0, 0.0), np.array([[3.0, 0.0]]), 1.0)
    assert len(memory.points) == 1
    assert memory.in_base((0.7, 0.0, math.pi / 2)) == pytest.approx(np.array([[0.0, -0.5]]))
    memory.add(2.0, (0.0, 0.0, 0.0), np.array([[3.0, 0.0]]), 1.0)
    assert len(memory.points) == 0


def _wall(x: float) -> np.ndarray:
    """Points of a wall across the base's path, `x` m ahead of its centre (base frame)."""
    return np.array([[x, y] for y in np.linspace(-1.0, 1.0, 41)])


def test_the_monitor_slows_then_stops_a_base_heading_into_what_it_saw():
    """Hand-computed cases: footprint 0.70 x 0.50 m, margin 3 cm, 0.3 s latency, 0.5 m/s^2.
    From rest a command u moves the base u^2/2a while it speeds up and u^2/2a while it
    brakes: 0.50 m at 0.5 m/s, 0.125 at 0.25, 0.031 at 0.125. A wall 0.60 m ahead of the
    front (0.95 from the centre) is clear; 0.30 m ahead slows to 50 %, 0.12 m to 25 %, 0.04 m
    stops the translation. Sideways and backwards stay free; a point already inside the
    margin may only be left, and the monitor leaves it by itself."""
    ahead = Command(0.5, 0.0, 0.0, "following the path")
    assert monitor(ahead, _wall(0.95)) is ahead
    half = monitor(ahead, _wall(0.65))
    assert half.vx == pytest.approx(0.25) and half.reason.startswith("slowed to 50%")
    slowed = monitor(ahead, _wall(0.47))
    assert slowed.vx == pytest.approx(0.125) and slowed.reason.startswith("slowed to 25%")
    stopped = monitor(ahead, _wall(0.39))
    assert (stopped.vx, stopped.vy) == (0.0, 0.0) and stopped.reason.startswith("blocked")
    backwards = Command(-0.3, 0.0, 0.0, "")
    assert monitor(backwards, _wall(0.39)) is backwards
    sideways = Command(0.0, 0.4, 0.0, "")
    assert monitor(sideways, _wall(0.39)) is sideways
    inside = _wall(0.36)                               # 1 cm from the front edge
    assert monitor(backwards, inside) is backwards
    # the way ahead blocked there, the base backs straight away at 5 cm/s (not trapped)
    escape = monitor(ahead, inside)
    assert (escape.vx, escape.vy, escape.wz) == pytest.approx((-0.05, 0.0, 0.0))
    assert escape.reason.startswith("backing away")
    # turning on the spot sweeps the corners (0.43 m from the centre) forward
    turn = Command(0.0, 0.0, 1.0, "")
    assert monitor(turn, _wall(0.40)).wz == 0.0
    assert monitor(turn, _wall(0.50)) is turn
    # nothing seen: nothing changes
    assert monitor(ahead, np.zeros((0, 2))) is ahead


def test_a_turn_into_what_was_seen_waits_for_the_way_on_where_the_base_can_turn():
    """A table edge 4 cm beside the base's left side (0.29 m from its centre): going on
    while turning left swings the front-left corner into it. Towards a goal 0.59 m from
    the edge (the corners' circle, 0.43 m, and the 3 cm margin fit round it) the way on
    without the turn is taken, the turn held; towards a goal where the base could not
    turn either, or with no goal given, it stops as before (arriving turned where it
    cannot turn, it stayed there: home_train box seeds 3 and 6)."""
    edge = np.array([[x, 0.29] for x in np.linspace(-1.0, 1.0, 41)])
    turning = Command(0.2, -0.05, 0.8, "following the path")
    on = monitor(turning, edge, goal=(0.18, -0.3))
    assert (on.vx, on.vy, on.wz) == pytest.approx((0.2, -0.05, 0.0))
    assert on.reason.startswith("turn held, 100% of the way on")
    for goal in ((0.18, 0.0), None):
        stopped = monitor(turning, edge, goal=goal)
        assert (stopped.vx, stopped.vy) == (0.0, 0.0) and stopped.reason.startswith("blocked")


def test_the_monitor_counts_the_speed_the_base_still_has():
    """Driving at 0.5 m/s the base needs 0.15 m (latency) + 0.25 m (braking) to stop: with a
    wall 0.60 m ahead of the front a stop is fine; 0.30 m ahead nothing avoids the wall, the
    answer is to stop now, saying so; a slow command is no better than a stop."""
    stop = Command(0.0, 0.0, 0.0, "arrived")
    assert monitor(stop, _wall(0.95), current=(0.5, 0.0)) is stop
    late = monitor(Command(0.1, 0.0, 0.0, ""), _wall(0.65), current=(0.5, 0.0))
    assert (late.vx, late.vy) == (0.0, 0.0) and late.reason.startswith("blocked")
    assert monitor(Command(0.1, 0.0, 0.0, ""), _wall(0.65)).vx == 0.1     # from rest: fine


def test_ramped_rollout_holds_then_ramps_then_cruises():
    """Hand-computed: at 0.5 m/s along x told to go 0.5 m/s along y, latency 0.3 s, 0.5
    m/s^2: the change (0.707 m/s) takes 1.414 s; at 0.3 s it is 0.15 m along x, at the end
    of the ramp (1.714 s) 0.15 + 0.354 m along x and 0.354 m along y, then y grows at 0.5."""
    out = ramped_offsets(np.array([0.5, 0.0]), np.array([0.0, 0.5]), [0.3, 1.714, 2.714],
                         0.5, 0.3)
    assert out[0] == pytest.approx([0.15, 0.0], abs=1e-6)
    assert out[1] == pytest.approx([0.15 + 0.3536, 0.3536], abs=2e-3)
    assert out[2] == pytest.approx([0.15 + 0.3536, 0.8536], abs=2e-3)


def test_footprint_distance_is_zero_inside_and_euclidean_outside():
    points = np.array([[0.0, 0.0], [0.45, 0.0], [0.0, -0.35], [0.38, 0.29]])
    assert footprint_distance(points, 0.35, 0.25) == pytest.approx([0.0, 0.1, 0.1, 0.05])


class _LaggingBase:
    """A holonomic base as the simulation drives it: commands act after `latency` s, the
    velocity (base frame) follows them at 0.5 m/s^2 and 1.5 rad/s^2."""

    def __init__(self, pose, latency: float = 0.3, dt: float = 0.02) -> None:
        self.pose = np.array(pose, dtype=float)
        self.velocity = np.zeros(3)               # vx, vy, wz in base_link
        self.queue: list[tuple[float, np.ndarray]] = []
        self.target = np.zeros(3)
        self.latency, self.dt, self.t = latency, dt, 0.0

    def command(self, vx: float, vy: float, wz: float) -> None:
        self.queue.append((self.t + self.latency, np.array([vx, vy, wz])))

    def run(self, seconds: float) -> None:
        for _ in range(int(round(seconds / self.dt))):
            while self.queue and self.queue[0][0] <= self.t:
                self.target = self.queue.pop(0)[1]
            delta = self.target - self.velocity
            linear = math.hypot(delta[0], delta[1])
            if linear > 0.5 * self.dt:
                delta[:2] *= 0.5 * self.dt / linear
            delta[2] = float(np.clip(delta[2], -1.5 * self.dt, 1.5 * self.dt))
            self.velocity = self.velocity + delta
            c, s = math.cos(self.pose[2]), math.sin(self.pose[2])
            vx, vy, wz = self.velocity
            self.pose += self.dt * np.array([c * vx - s * vy, s * vx + c * vy, wz])
            self.t += self.dt

    def world_velocity(self) -> tuple[float, float]:
        c, s = math.cos(self.pose[2]), math.sin(self.pose[2])
        vx, vy, _ = self.velocity
        return (c * vx - s * vy, s * vx + c * vy)


@pytest.mark.parametrize("start,goal", [((2.71, 0.55, 0.0), (0.97, 1.30, math.pi)),
                                        ((1.3, 2.4, 0.0), (2.72, 0.52, 0.0))])
def test_a_base_that_lags_its_commands_stops_at_the_goal_not_past_it(grid, start, goal):
    """The overshoot CI and a clean clone saw: driving to a goal 0.55 m from the shelf, a
    base with 0.3 s of command latency and 0.5 m/s^2 ramps ran 0.3 m past it into the
    shelf's clearance. The controller knows the base's velocity (odometry) and rolls out
    what the base will really do: it arrives, and never comes closer to anything than its
    radius less 2 cm."""
    base = _LaggingBase(start)
    navigator = Navigator(grid, goal)
    navigator.start(base.pose)
    closest = math.inf
    for k in range(600):
        command = navigator.step(k * 0.1, base.pose, [], velocity=base.world_velocity())
        if navigator.done is not None:
            break
        base.command(command.vx, command.vy, command.wz)
        base.run(0.1)
        closest = min(closest, grid.clearance(*base.pose[:2]))
    assert navigator.done == "", navigator.done
    assert math.dist(base.pose[:2], goal[:2]) < 0.08
    assert closest >= ROBOT_RADIUS - 0.02, closest


def test_predictions_made_at_the_image_stamp_count_from_now():
    """Predicted 0.3 s ago at horizons 0, 0.5 and 1 s: now they are 0.2 and 0.7 s ahead (the
    0 s one is past); predictions older than their last horizon stand for now."""
    made = [PredictedPerson(t, 1.0 + t, 2.0) for t in (0.0, 0.5, 1.0)]
    shifted = from_now(made, 0.3)
    assert [p.t for p in shifted] == pytest.approx([0.2, 0.7])
    assert [p.x for p in shifted] == pytest.approx([1.5, 2.0])
    assert [(p.t, p.x) for p in from_now(made, 1.5)] == [(0.0, 2.0)]
    assert from_now([], 0.3) == []


def test_speed_near_a_person_lets_the_base_stop_before_they_could_reach_it():
    """Hand-computed: a person 2.0 m from the base's centre leaves a gap of
    2.0 - 0.47 (robot) - 0.30 (limbs) = 1.23 m; v^2/(2 * 0.5) + v (1.6 / 0.5 + 0.2)
    + 1.6 * 0.2 + 0.05 - 1.23 = 0 gives v = (-3.4 + sqrt(3.4^2 + 4 * 0.86)) / 2."""
    config = ControllerConfig()
    at = np.array([0.0, 0.0])
    expected = (-3.4 + math.sqrt(3.4 ** 2 + 4 * 0.86)) / 2
    assert person_speed_limit(at, [PredictedPerson(0.0, 2.0, 0.0)], config) == \
        pytest.approx(expected)
    assert expected == pytest.approx(0.2365, abs=1e-3)
    # the position's uncertainty counts as nearer; later predictions do not count
    assert person_speed_limit(at, [PredictedPerson(0.0, 2.1, 0.0, 0.1),
                                   PredictedPerson(1.0, 0.5, 0.0)], config) == \
        pytest.approx(expected)
    assert person_speed_limit(at, [], config) == math.inf
    assert person_speed_limit(at, [PredictedPerson(0.0, 1.0, 0.0)], config) == 0.0


def test_the_controller_drives_slowly_past_a_person_off_its_path(grid):
    path = [(1.3, 2.4), (1.3, 0.8)]                     # straight south
    person = [PredictedPerson(0.0, 3.3, 2.4)]           # 2 m east, not in the way
    command = control(grid, (1.3, 2.4, -math.pi / 2), path, -math.pi / 2, person)
    assert command.reason == "slowed near a person"
    assert math.hypot(command.vx, command.vy) == pytest.approx(
        person_speed_limit(np.array([1.3, 2.4]), person, ControllerConfig()))


def test_a_person_only_the_base_scanner_found_limits_the_speed_as_a_tracked_one(grid):
    path = [(1.3, 2.4), (1.3, 0.8)]                     # straight south
    scanned = [PredictedPerson(0.0, 3.3, 2.4)]          # legs 2 m east, the camera blind
    tracked_far = [PredictedPerson(0.0, 5.0, 4.0)]
    command = control(grid, (1.3, 2.4, -math.pi / 2), path, -math.pi / 2, tracked_far,
                      scanned=scanned)
    assert command.reason == "slowed near a person"
    assert math.hypot(command.vx, command.vy) == pytest.approx(
        person_speed_limit(np.array([1.3, 2.4]), scanned, ControllerConfig()))
    # without it the base would drive at its full speed here
    free = control(grid, (1.3, 2.4, -math.pi / 2), path, -math.pi / 2, tracked_far)
    assert math.hypot(free.vx, free.vy) > 2 * math.hypot(command.vx, command.vy)


def test_a_goal_too_close_to_the_table_is_moved_back_along_its_heading(grid):
    """The table's south edge is at y = 2.2: a goal 0.40 m from it, facing it (+90 deg),
    leaves less than the robot's 0.47 m; 1 cm steps back (-y) find room within 0.15 m."""
    goal = (2.65, 1.80, math.pi / 2)
    assert grid.clearance(2.65, 1.80) < ROBOT_RADIUS
    fitted, moved = admissible_goal(grid, goal, ROBOT_RADIUS, 0.15)
    assert 0.0 < moved <= 0.15
    assert fitted[0] == pytest.approx(2.65) and fitted[1] == pytest.approx(1.80 - moved)
    assert grid.clearance(*fitted[:2]) >= ROBOT_RADIUS
    assert admissible_goal(grid, (2.65, 1.60, math.pi / 2), ROBOT_RADIUS, 0.15) == (
        (2.65, 1.60, math.pi / 2), 0.0)
    # inside the table: nothing within 0.15 m behind it fits
    assert admissible_goal(grid, (3.0, 2.6, math.pi / 2), ROBOT_RADIUS, 0.15) is None


def test_a_goal_that_turns_out_too_close_is_moved_back_when_the_base_is_blocked(grid):
    """The map had the goal free; the camera then finds the table 5 cm nearer (a live
    obstacle): the navigator, blocked, moves the goal back along its heading and goes on."""
    goal = (2.65, 1.70, math.pi / 2)
    navigator = Navigator(grid, goal)
    navigator.start(START)
    assert navigator.moved_back_m == 0.0
    nearer = grid.with_obstacles(np.array([[x, 2.17] for x in np.arange(2.4, 2.95, 0.05)]),
                                 0.02)
    navigator.grid = nearer
    navigator._replan_around(START, [])
    assert 0.0 < navigator.moved_back_m <= 0.15
    assert navigator.goal[1] < 1.70 and nearer.clearance(*navigator.goal[:2]) >= ROBOT_RADIUS


def test_a_blocked_base_asks_for_a_cell_more_room_at_its_goal(grid):
    """Blocked near its goal, the navigator moves a goal whose grid clearance is just the
    robot's radius back until it has half a cell's diagonal more."""
    goal = (2.65, 1.70, math.pi / 2)
    navigator = Navigator(grid, goal)
    navigator.start(START)
    room = ROBOT_RADIUS + 0.71 * grid.geometry.resolution
    navigator._replan_around(START, [])
    assert grid.clearance(*navigator.goal[:2]) >= room
    assert navigator.moved_back_m <= 0.15


HORIZONS = (0.0, 0.5, 1.0, 1.5, 2.0)


def _walk_by(grid, side: SideStep, start_xy, velocity, idle=lambda t: True,
             seconds: float = 12.0):
    """A person walks a straight line past the base standing at START while `side`
    decides (10 Hz); the base's trace and the nearest the person came to its footprint."""
    pose = np.array(START, dtype=float)
    person = np.array(start_xy, dtype=float)
    trace, nearest = [pose.copy()], math.inf
    for k in range(int(seconds / 0.1)):
        t = k * 0.1
        walks = [walking_path(person, velocity, 0.0, HORIZONS)]
        command = side.step(t, pose, walks, lambda: grid, idle(t))
        if command is not None:
            c, s = math.cos(pose[2]), math.sin(pose[2])
            pose = pose + 0.1 * np.array([c * command.vx - s * command.vy,
                                          s * command.vx + c * command.vy, 0.0])
        person = person + 0.1 * np.asarray(velocity)
        trace.append(pose.copy())
        rel = (person - pose[:2]) @ np.array([[math.cos(pose[2]), -math.sin(pose[2])],
                                              [math.sin(pose[2]), math.cos(pose[2])]])
        nearest = min(nearest, float(footprint_distance(rel[None], 0.35, 0.25)[0]))
    return np.array(trace), nearest


@pytest.mark.parametrize("offset", [0.45, 0.0])
@pytest.mark.parametrize("speed", [0.8, 1.2])
def test_a_person_walking_into_the_standing_base_passes_by_once_it_steps_aside(grid, offset,
                                                                              speed):
    # along a line beside the base's centre (their legs would brush its side) or through it
    start, velocity = (START[0] + 3.0, START[1] + offset), (-speed, 0.0)
    _, standing = _walk_by(grid, SideStep(), start, velocity, idle=lambda t: False)
    assert standing < 0.25
    _, giving_way = _walk_by(grid, SideStep(), start, velocity)
    assert giving_way > GiveWayConfig().contact_m - 0.1


def test_the_side_step_leaves_the_persons_way_instead_of_running_ahead_of_them(grid):
    paths = [walking_path((START[0] + 2.0, START[1]), (-0.8, 0.0), 0.0, HORIZONS)]
    target = give_way(grid, START, paths)
    assert target is not None
    assert abs(target[1] - START[1]) > 2.0 * abs(target[0] - START[0])


def test_nobody_walking_into_the_base_is_no_reason_to_move(grid):
    pose = START
    beside = (START[0] + 0.8, START[1])
    # standing right by the base (a hand-over's receiver): their walk brings them no nearer
    assert walking_into(pose, [walking_path(beside, (0.0, 0.0), 0.0, HORIZONS)]) is None
    # walking away from it, or past it at a distance
    assert walking_into(pose, [walking_path(beside, (0.8, 0.0), 0.0, HORIZONS)]) is None
    assert give_way(grid, pose, [walking_path((START[0] + 3.0, START[1] + 1.5), (-1.2, 0.0),
                                              0.0, HORIZONS)]) is None
    # the same walk 0.45 m beside it is
    assert walking_into(pose, [walking_path((START[0] + 3.0, START[1] + 0.45), (-1.2, 0.0),
                                            0.0, HORIZONS)]) is not None


def test_a_scanned_walk_is_extrapolated_from_when_it_was_seen():
    path = walking_path((1.0, 2.0), (0.5, -1.0), 0.2, (0.0, 1.0))
    assert [v for p in path for v in (p.t, p.x, p.y)] == pytest.approx([0.0, 1.1, 1.8,
                                                                      1.0, 1.6, 0.8])


def test_the_side_step_slows_to_a_stop_at_its_target():
    target = (1.5, 2.0)
    assert step_towards((1.5, 2.01, 0.3), target) is None
    far = step_towards((1.5, 3.0, math.pi / 2.0), target)
    assert math.hypot(far.vx, far.vy) == pytest.approx(GiveWayConfig().speed)
    assert far.vx < 0.0 and abs(far.vy) < 1e-9           # straight back: the base faces +y
    near = step_towards((1.5, 2.05, 0.0), target)
    assert math.hypot(near.vx, near.vy) < 0.2


def test_the_base_steps_aside_for_a_passing_person_and_goes_back_where_it_stood(grid):
    side = SideStep()
    trace, _ = _walk_by(grid, side, (START[0] + 3.0, START[1]), (-1.0, 0.0))
    assert float(np.max(np.linalg.norm(trace[:, :2] - START[:2], axis=1))) > 0.3
    assert math.dist(trace[-1][:2], START[:2]) <= GiveWayConfig().arrive_m + 1e-6
    assert not side.active and side.note.startswith("back at")


def test_no_side_step_while_the_arm_works_and_one_under_way_stops_when_it_starts(grid):
    side = SideStep()
    trace, _ = _walk_by(grid, side, (START[0] + 3.0, START[1]), (-1.0, 0.0),
                        idle=lambda t: False)
    assert np.allclose(trace, trace[0])
    # an arm goal starts half a second into the step: the base stops where it got
    side = SideStep()
    started = []

    def idle(t):
        if side.active and not started:
            started.append(t)
        return not started or t < started[0] + 0.5
    trace, _ = _walk_by(grid, side, (START[0] + 3.0, START[1]), (-1.0, 0.0), idle=idle)
    assert started and not side.active and "arm" in side.note
    assert np.allclose(trace[-1], trace[int(round(started[0] / 0.1)) + 7])
