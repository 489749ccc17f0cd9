"""Navigation node of the mobile base: serves `navigate_to_pose` (drive base_link to a pose
in the map) with foresight_executor.navigation: a route on the known room's grid, followed
by a local controller that keeps the comfort distance from the people's *predicted*
positions (world_model/predictions), replanned around a person who blocks the way.

Subscribes: camera/depth/{image_raw,camera_info} and /tf_static (the camera's mounting): a live
            obstacle layer of what the map lacks (clutter, moved furniture),
            odom (the base driver's wheel odometry), localization/pose (the base in map at a
            depth frame's stamp: with the odometry of that stamp it gives map -> odom),
            world_model/predictions, world_model/people, joint_states (the arm, cut
            out of the depth), safety_scan (the base's 360 degree scan: the collision
            monitor all round, and the legs of people the camera does not see, who limit
            the speed as tracked people do), execute_skill/_action/status (no side step
            while an arm goal runs). Not /tf: ~100 messages/s of arm
            links there kept this node a second behind under load (measured), so it reads
            the two poses it needs directly.
Publishes:  cmd_vel (TwistStamped, base_link), navigation/plan (Path), navigation/map
            (OccupancyGrid, latched), /diagnostics
Action:     navigate_to_pose (foresight_interfaces/NavigateToPose)

Between goals the base gives way (`give_way`): a person whose predicted walk (the camera's
tracks, or the scanned legs walking on at their velocity) brings them onto the standing
base makes it step aside, heading kept, through the same collision monitor, and go back
where it stood once they have passed; only while the arm is tucked in and no arm goal runs.

Safety: without fresh person tracks (people_timeout_s) or a fresh base scan
(scan_timeout_s) the base does not move, unless that timeout is 0 (a robot without a
person predictor or scanner, or a test of the base alone).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from foresight_common import contract
from foresight_common.contract import GoalStatus
from foresight_common.conversions import (
    msg_to_pose,
    pose_to_msg,
    store_tf_message,
    time_to_sec,
    yaw_to_quat_wxyz,
)
from foresight_common.depth_scan import scan_from_depth_message
from foresight_common.laser import scan_ranges, scan_xy
from foresight_common.mobile_manipulator import BASE_SCANNER
from foresight_common.node_support import (
    DiagnosticsReporter,
    async_sleep,
    create_publisher,
    create_subscription,
    declare_parameters,
    load_file_parameter,
    run_node,
)
from foresight_common.occupancy import room_map
from foresight_common.params import param
from foresight_common.planar import MapPose, compose
from foresight_common.room_layout import load_room_layout
from foresight_common.scan_people import ScanPeople
from foresight_common.self_filter import ArmSelfFilter
from foresight_common.tf_buffer import TransformBuffer
from foresight_executor.navigation import (
    ControllerConfig,
    GiveWayConfig,
    MonitorConfig,
    Navigator,
    NavigatorConfig,
    NoPathError,
    ObstacleLayer,
    ObstacleLayerConfig,
    PlannerConfig,
    PredictedPerson,
    ScanMemory,
    SideStep,
    from_now,
    in_frame_of,
    monitor,
    walking_path,
)

#: The static transforms this node needs: the camera's mounting on the base.
CAMERA_MOUNT = frozenset({contract.CAMERA_FRAME, contract.CAMERA_OPTICAL_FRAME})
#: A goal that arrives before the base's pose is known waits this long for it (s).
POSE_WAIT_S = 2.0
#: Person keypoints whose predictions the base keeps its distance from (the body, not the
#: hands: a hand-over brings hands close on purpose).
BODY_KEYPOINTS = ("torso", "head")
#: A person the camera tracks (a body keypoint within this, m) needs no scanned stand-in.
EXPLAINED_M = 0.6


@dataclass(frozen=True)
class NavigationParams:
    room_file: str = field(default="", metadata=param(
        "Room layout YAML (config/rooms/...): the known map", non_empty=True))
    map_resolution_m: float = field(default=0.05, metadata=param(
        "Grid cell size (m)", low=0.01, high=0.5))
    control_rate_hz: float = field(default=10.0, metadata=param(
        "cmd_vel rate while driving", low=1.0, high=50.0))
    max_speed_mps: float = field(default=0.5, metadata=param(
        "Top base speed (m/s)", low=0.05, high=1.0))
    comfort_distance_m: float = field(default=0.8, metadata=param(
        "Kept from a person's predicted body position (m)", low=0.3, high=3.0))
    goal_tolerance_m: float = field(default=0.05, metadata=param(
        "Arrived within this of the goal position (m)", low=0.01, high=0.5))
    yaw_tolerance_rad: float = field(default=0.05, metadata=param(
        "Arrived within this of the goal heading (rad)", low=0.01, high=0.5))
    give_up_after_s: float = field(default=30.0, metadata=param(
        "A goal blocked this long in all fails", low=1.0, high=600.0))
    default_timeout_s: float = field(default=120.0, metadata=param(
        "A goal that takes longer fails (s, sim time)", low=1.0, high=3600.0))
    people_timeout_s: float = field(default=0.5, metadata=param(
        "The base stops when person tracks are older than this (s); 0: drive without them",
        low=0.0, high=10.0))
    obstacle_rate_hz: float = field(default=5.0, metadata=param(
        "Depth frames per second folded into the obstacle layer at most", low=0.1,
        high=30.0))
    obstacle_keep_s: float = field(default=10.0, metadata=param(
        "An obstacle out of the camera's view is forgotten after this (s)", low=0.5,
        high=600.0))
    monitor_margin_m: float = field(default=0.03, metadata=param(
        "Kept between the footprint and anything the camera saw, whatever the map pose says "
        "(the collision monitor; m)", low=0.0, high=0.3))
    scan_timeout_s: float = field(default=0.5, metadata=param(
        "The base stops when the base scan is older than this (s); 0: drive without it",
        low=0.0, high=10.0))
    pose_timeout_s: float = field(default=0.5, metadata=param(
        "The base stops when its odometry is older than this, or localisation older than "
        "10 times this (s)", low=0.05, high=5.0))
    give_way: bool = field(default=True, metadata=param(
        "Between goals, step aside from a person predicted to walk into the base"))
    give_way_horizon_s: float = field(default=GiveWayConfig.horizon_s, metadata=param(
        "How far ahead (s) a person's predicted walk is checked for the base", low=0.5,
        high=5.0))
    give_way_contact_m: float = field(default=GiveWayConfig.contact_m, metadata=param(
        "A walk that brings a person's centre this near the footprint touches it (m)",
        low=0.1, high=1.5))
    give_way_step_m: float = field(default=GiveWayConfig.step_m, metadata=param(
        "The base steps aside by up to this much (m)", low=0.1, high=1.5))


class NavigationNode(Node):
    def __init__(self) -> None:
        super().__init__("navigation")
        self.params = p = declare_parameters(self, NavigationParams)
        layout = load_file_parameter("room_file", p.room_file, load_room_layout)
        self.grid = room_map(layout, p.map_resolution_m)
        self.config = NavigatorConfig(
            planner=PlannerConfig(),
            controller=ControllerConfig(max_speed=p.max_speed_mps,
                                        comfort_m=p.comfort_distance_m,
                                        goal_tolerance=p.goal_tolerance_m,
                                        yaw_tolerance=p.yaw_tolerance_rad),
            give_up_after_s=p.give_up_after_s)
        self._lock = threading.Lock()
        self.map_pose = MapPose(span_s=10.0)
        self._velocity = (0.0, 0.0)          # the base's, in base_link (odom's twist)
        self.layer = ObstacleLayer(self.grid, ObstacleLayerConfig(keep_s=p.obstacle_keep_s))
        # what the camera saw near the base, in odom: the collision monitor's input, free
        # of localisation errors
        self.near = ScanMemory(keep_s=3.0, max_points=3000,
                               blind_range=self.layer.config.blind_range)
        self.monitor_config = MonitorConfig(margin=p.monitor_margin_m)
        self._mounts = TransformBuffer()              # static: the camera on the base
        self._depth_info = None
        self._last_depth = -math.inf
        self._pending_scan: tuple[float, np.ndarray, float] | None = None
        self._paths: list[list[PredictedPerson]] = []   # one per tracked body keypoint
        self._people_stamp = -math.inf
        # the base scan: its points in odom (the monitor's, all round) and the people it
        # found by their legs (map)
        self.scan_people = ScanPeople(self.grid)
        self._scan_odom = np.zeros((0, 2))
        self._walkers: list[tuple[np.ndarray, np.ndarray]] = []   # scanned (xy, velocity)
        self._scan_stamp = -math.inf
        self._predicted_at = -math.inf
        self._busy = False
        self._pose_error = ""
        self.give_way_config = GiveWayConfig(horizon_s=p.give_way_horizon_s,
                                             contact_m=p.give_way_contact_m,
                                             step_m=p.give_way_step_m)
        self.side_step = SideStep(self.give_way_config)
        self._side_note = ""
        self.diagnostics = DiagnosticsReporter(self, "navigation")
        self.pub_cmd = create_publisher(self, contract.CMD_VEL)
        self.pub_plan = create_publisher(self, contract.NAVIGATION_PLAN)
        self.pub_map = create_publisher(self, contract.NAVIGATION_MAP)
        self.pub_map.publish(self._map_msg())
        create_subscription(self, contract.ODOM, self.on_odom)
        create_subscription(self, contract.TF_STATIC_TOPIC, self.on_tf_static)
        # the arm's links and what it holds are cut out of the depth (a self filter)
        self.arm = ArmSelfFilter()
        create_subscription(self, contract.JOINT_STATES, self.on_joint_states)
        create_subscription(self, contract.DEPTH_INFO, self.on_depth_info)
        create_subscription(self, contract.DEPTH_IMAGE, self.on_depth)
        create_subscription(self, contract.LOCALIZATION_POSE, self.on_localized)
        create_subscription(self, contract.PREDICTIONS, self.on_predictions)
        create_subscription(self, contract.PERSON_TRACKS, self.on_people)
        create_subscription(self, contract.SAFETY_SCAN, self.on_scan)
        self._arm_busy = False               # an executor goal is accepted or running
        create_subscription(self, contract.EXECUTE_SKILL_STATUS, self.on_arm_goals)
        self._server = ActionServer(
            self, contract.NAVIGATE_TO_POSE.type, contract.NAVIGATE_TO_POSE.name,
            execute_callback=self.execute, goal_callback=self.on_goal,
            cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup())
        if p.give_way:
            self.create_timer(1.0 / p.control_rate_hz, self.give_way_step)
        self.get_logger().info(
            f"navigating in {layout.source}: {self.grid.geometry.width} x "
            f"{self.grid.geometry.height} cells of {p.map_resolution_m} m, comfort distance "
            f"{p.comfort_distance_m} m")

    # --- inputs ------------------------------------------------------------------------------
    def on_odom(self, msg) -> None:
        twist = msg.twist.twist
        velocity = (float(twist.linear.x), float(twist.linear.y))
        if not all(math.isfinite(v) for v in velocity):
            self.diagnostics.reject("odom", f"velocity not finite: {velocity}")
            return
        refused = self.map_pose.add_odom_msg(msg)
        if refused:
            self.diagnostics.reject("odom", refused)
        with self._lock:
            self._velocity = velocity
        self._apply_scan()

    def on_localized(self, msg) -> None:
        """Keep the localised pose until the odometry of its stamp is here (the two topics
        arrive in any order)."""
        refused = self.map_pose.add_localized_msg(msg, contract.MAP_FRAME)
        if refused:
            self.diagnostics.reject("localization", refused)

    def on_joint_states(self, msg) -> None:
        reason = self.arm.on_joint_states(msg)
        if reason:
            self.diagnostics.reject("joint_states", reason)

    def on_arm_goals(self, msg) -> None:
        """The executor's goal states: the base gives way only while none runs."""
        running = (GoalStatus.STATUS_ACCEPTED, GoalStatus.STATUS_EXECUTING,
                   GoalStatus.STATUS_CANCELING)
        self._arm_busy = any(s.status in running for s in msg.status_list)

    def on_tf_static(self, msg) -> None:
        with self._lock:
            refused = store_tf_message(self._mounts, msg, True, CAMERA_MOUNT)
        for reason in refused:
            self.diagnostics.reject("tf", reason)

    def on_depth_info(self, msg) -> None:
        self._depth_info = msg

    def on_depth(self, msg) -> None:
        """Turn a depth frame into a scan (base_link); it joins the obstacle layer once the
        odometry of its stamp is here (the image often arrives first)."""
        stamp = time_to_sec(msg.header.stamp)
        info = self._depth_info
        if stamp - self._last_depth < 1.0 / self.params.obstacle_rate_hz or info is None:
            return
        try:
            with self._lock:
                scan, fov, _ = scan_from_depth_message(msg, info, self._mounts,
                                                       arm=self.arm.capsules())
        except ValueError as exc:
            self.diagnostics.reject("depth", str(exc))
            return
        self._last_depth = stamp
        with self._lock:
            self._pending_scan = (stamp, scan, fov)
        self._apply_scan()

    def _apply_scan(self) -> None:
        """The pending scan into the collision monitor's memory (odom) and the obstacle
        layer (map) at the base's pose of its stamp."""
        with self._lock:
            newest = self.map_pose.latest_odom()
            if self._pending_scan is None or newest is None or newest[0] < self._pending_scan[0]:
                return
            stamp, scan, fov = self._pending_scan
            self._pending_scan = None
            try:
                in_odom = self.map_pose.odom.at(stamp)
            except LookupError as exc:
                self.diagnostics.reject("depth", f"no odometry at its stamp: {exc}")
                return
            self.near.keep(stamp, self.near.add(stamp, in_odom, scan, fov))
            map_to_odom = self.map_pose.map_to_odom()
            if map_to_odom is None:
                return
            self.layer.add_scan(stamp, compose(map_to_odom, in_odom), scan, fov)
            points = len(self.layer.points)
        self.diagnostics.set_value("obstacle_points", str(points))

    def on_scan(self, msg) -> None:
        """The base scan: kept in odom for the collision monitor, and searched for the legs
        of people (map) at the base's pose of its stamp (the newest odometry if that stamp's
        has not arrived yet: they are published together)."""
        ranges = scan_ranges(msg, BASE_SCANNER)
        if ranges is None:
            self.diagnostics.reject("scan", f"{len(msg.ranges)} ranges, the base scanner "
                                    f"has {BASE_SCANNER.rays}")
            return
        stamp = time_to_sec(msg.header.stamp)
        with self._lock:
            try:
                in_odom = self.map_pose.odom.at(stamp)
            except LookupError:
                newest = self.map_pose.latest_odom()
                if newest is None:
                    return
                in_odom = newest[1]
            self._scan_odom = scan_xy(ranges, BASE_SCANNER, in_odom)
            self._scan_stamp = stamp
            map_to_odom = self.map_pose.map_to_odom()
            if map_to_odom is None:
                return
            found = self.scan_people.update(
                stamp, scan_xy(ranges, BASE_SCANNER, compose(map_to_odom, in_odom)))
            self._walkers = [(f.xy.copy(), f.velocity.copy()) for f in found]
        self.diagnostics.set_value("scanned_people", str(len(found)))

    def _scanned_now(self, people: list[PredictedPerson]) -> list[PredictedPerson]:
        """The people the scan found that no tracked body keypoint explains."""
        with self._lock:
            scanned = [PredictedPerson(0.0, float(xy[0]), float(xy[1]))
                       for xy, _velocity in self._walkers]
        if not scanned:
            return []
        seen = [np.array([p.x, p.y]) for p in people if p.t <= 1e-6] or \
            [np.array([p.x, p.y]) for p in people]
        return [s for s in scanned
                if all(math.dist((s.x, s.y), xy) > EXPLAINED_M for xy in seen)]

    def on_people(self, msg) -> None:
        with self._lock:
            self._people_stamp = time_to_sec(msg.header.stamp)
            if not msg.people:
                self._paths = []

    def on_predictions(self, msg) -> None:
        """The body keypoints' predicted positions (map frame), with their 95 % radius."""
        if msg.header.frame_id not in ("", contract.MAP_FRAME):
            self.diagnostics.reject("predictions", f"frame '{msg.header.frame_id}' is not "
                                    f"{contract.MAP_FRAME}")
            return
        paths = []
        for pred in msg.predictions:
            if pred.label != "person" or pred.keypoint not in BODY_KEYPOINTS:
                continue
            path = []
            for k, (t, point) in enumerate(zip(pred.horizons_s, pred.positions, strict=False)):
                cov = pred.covariances[9 * k:9 * k + 9]
                sigma = math.sqrt(max(cov[0], cov[4], 0.0)) if len(cov) == 9 else 0.0
                if all(math.isfinite(v) for v in (t, point.x, point.y, sigma)):
                    path.append(PredictedPerson(float(t), point.x, point.y, 2.0 * sigma))
            paths.append(path)
        with self._lock:
            self._paths = paths
            self._predicted_at = time_to_sec(msg.header.stamp)

    def _people_now(self, now: float) -> list[PredictedPerson]:
        with self._lock:
            return from_now([p for path in self._paths for p in path],
                            now - self._predicted_at)

    def _walks_now(self, now: float) -> list[list[PredictedPerson]]:
        """Each person's predicted walk, times from now: the camera-tracked body keypoints'
        predictions and the scanned legs walking on at their velocity."""
        with self._lock:
            paths, predicted_at = list(self._paths), self._predicted_at
            walkers, scanned_at = list(self._walkers), self._scan_stamp
        walks = [from_now(path, now - predicted_at) for path in paths]
        horizons = np.linspace(0.0, self.give_way_config.horizon_s, 5)
        walks += [walking_path(xy, velocity, now - scanned_at, horizons)
                  for xy, velocity in walkers]
        return [w for w in walks if w]

    def give_way_step(self) -> None:
        """Between goals (timer): the side step (`navigation.SideStep`) when a person is
        predicted to walk into the standing base, through the collision monitor; a goal
        that starts ends it."""
        if self._busy:
            self.side_step.cancel("stopped the side step: a goal started")
            self._log_side_step()
            return
        p = self.params
        now = time_to_sec(self.get_clock().now().to_msg())
        with self._lock:
            people_age = now - self._people_stamp
            scan_age = now - self._scan_stamp
        # a step is started on fresh person tracks; once decided, it goes on while the
        # collision monitor has a fresh scan (the tracks lag under load)
        stale = (p.scan_timeout_s > 0 and scan_age > p.scan_timeout_s) or (
            not self.side_step.active and p.people_timeout_s > 0 and
            people_age > p.people_timeout_s)
        pose = None if stale else self._pose()
        if pose is None:
            if self.side_step.active:
                self.side_step.cancel("stopped the side step: no fresh pose or scan")
                self._stop_base()
                self._log_side_step()
            return
        was_active = self.side_step.active

        def live_grid():
            with self._lock:
                return self.layer.grid()

        command = self.side_step.step(now, pose, self._walks_now(now), live_grid,
                                      arm_idle=not (self._arm_out() or self._arm_busy))
        if self.side_step.active and not was_active:
            self.diagnostics.count("give_way.steps")
        self._log_side_step()
        if command is None:
            if was_active:
                self._stop_base()
            return
        command = self._guard(command)
        if not self._busy:
            self._command(command.vx, command.vy, command.wz)

    def _log_side_step(self) -> None:
        note = self.side_step.note
        if note and note != self._side_note:
            self._side_note = note
            self.get_logger().info(f"giving way: {note}")
            self.diagnostics.set_value("give_way.last", note)

    def _arm_out(self) -> bool:
        """Whether the hand reaches beyond the footprint (by more than 10 cm; unknown
        counts as out)."""
        tcp = self.arm.tcp_in_base()
        if tcp is None:
            return True
        c = self.give_way_config
        return abs(float(tcp[0])) > c.half_length + 0.1 or abs(float(tcp[1])) > \
            c.half_width + 0.1

    def _pose(self) -> tuple[float, float, float] | None:
        """base_link in map now: the newest odometry through the newest map -> odom."""
        now = time_to_sec(self.get_clock().now().to_msg())
        pose, self._pose_error = self.map_pose.pose(now, self.params.pose_timeout_s)
        if pose is not None:
            return pose
        self.diagnostics.set_value("pose", f"unavailable: {self._pose_error}")
        return None

    # --- the action ----------------------------------------------------------------------------
    def on_goal(self, goal) -> GoalResponse:
        pose = goal.pose
        if pose.header.frame_id not in ("", contract.MAP_FRAME):
            self.get_logger().warning(f"refused goal in frame '{pose.header.frame_id}' "
                                      f"(goals are in {contract.MAP_FRAME})")
            self.diagnostics.count("goals.refused")
            return GoalResponse.REJECT
        timeout = goal.timeout_s
        if not (timeout == 0.0 or (math.isfinite(timeout) and 1.0 <= timeout <= 3600.0)):
            self.get_logger().warning(f"refused goal: timeout_s {timeout!r} is neither 0 (the "
                                      "default) nor in [1, 3600] s")
            self.diagnostics.count("goals.refused")
            return GoalResponse.REJECT
        p = pose.pose.position
        q = pose.pose.orientation
        if not all(math.isfinite(v) for v in (p.x, p.y, q.w, q.x, q.y, q.z)) or \
                abs(q.w * q.w + q.x * q.x + q.y * q.y + q.z * q.z - 1.0) > 0.01:
            self.get_logger().warning("refused goal: pose not finite or not a unit quaternion")
            self.diagnostics.count("goals.refused")
            return GoalResponse.REJECT
        if self._busy:
            self.get_logger().warning("refused goal: another goal is running")
            self.diagnostics.count("goals.refused")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    async def execute(self, handle):
        self._busy = True
        try:
            return await self._drive(handle)
        finally:
            self._busy = False
            self._stop_base()

    async def _drive(self, handle):
        p = self.params
        result = contract.NAVIGATE_TO_POSE.type.Result()
        position, quat = msg_to_pose(handle.request.pose.pose)
        goal = (float(position[0]), float(position[1]),
                2.0 * math.atan2(float(quat[3]), float(quat[0])))
        timeout = handle.request.timeout_s or p.default_timeout_s
        started = time_to_sec(self.get_clock().now().to_msg())
        pose = self._pose()
        waited = 0.0
        while pose is None and waited < POSE_WAIT_S:      # e.g. right after start-up
            await async_sleep(self, 0.1)
            waited += 0.1
            pose = self._pose()
        if pose is None:
            return self._finish(handle, result, False, "no pose of base_link in map after "
                                f"{POSE_WAIT_S:.0f} s ({self._pose_error}; is localisation "
                                "running?)", None, started)
        with self._lock:
            live = self.layer.grid()
        navigator = Navigator(live, goal, self.config)
        try:
            navigator.start(pose)
        except NoPathError as exc:
            return self._finish(handle, result, False, str(exc), pose, started)
        if navigator.moved_back_m > 0:
            self.diagnostics.count("goals.moved_back")
            self.get_logger().info(
                f"goal ({goal[0]:.2f}, {goal[1]:.2f}) is within the robot's radius of "
                f"something on the live map: moved back {navigator.moved_back_m * 100:.0f} cm "
                "along its heading")
            goal = navigator.goal
        self.get_logger().info(
            f"navigating to ({goal[0]:.2f}, {goal[1]:.2f}, {math.degrees(goal[2]):.0f} deg): "
            f"{len(navigator.path)} waypoints")
        self._publish_plan(navigator.path)
        feedback = contract.NAVIGATE_TO_POSE.type.Feedback()
        period = 1.0 / p.control_rate_hz
        replans = 0
        last_log = -math.inf
        while True:
            now = time_to_sec(self.get_clock().now().to_msg())
            if handle.is_cancel_requested:
                handle.canceled()
                result.reason = "canceled"
                result.final_pose = self._pose_msg(self._pose())
                return result
            if now - started > timeout:
                return self._finish(handle, result, False, f"timed out after {timeout:.0f} s",
                                    self._pose(), started, navigator.replans)
            pose = self._pose()
            with self._lock:
                people_age = now - self._people_stamp
                scan_age = now - self._scan_stamp
            people = self._people_now(now)
            if pose is None:
                self._stop_base()
                self.diagnostics.count("stopped_steps.no_pose")
                feedback.state = f"stopped: no pose of base_link in map ({self._pose_error})"
            elif p.people_timeout_s > 0 and people_age > p.people_timeout_s:
                self._stop_base()
                self.diagnostics.count("stopped_steps.people_stale")
                feedback.state = (f"stopped: person tracks {people_age:.1f} s old "
                                  f"(limit {p.people_timeout_s} s)")
            elif p.scan_timeout_s > 0 and scan_age > p.scan_timeout_s:
                self._stop_base()
                self.diagnostics.count("stopped_steps.scan_stale")
                feedback.state = (f"stopped: base scan {scan_age:.1f} s old "
                                  f"(limit {p.scan_timeout_s} s)")
            else:
                with self._lock:
                    navigator.grid = self.layer.grid()
                with self._lock:
                    vx, vy = self._velocity
                c, s = math.cos(pose[2]), math.sin(pose[2])
                command = navigator.step(now, pose, people, (c * vx - s * vy, s * vx + c * vy),
                                         self._scanned_now(people))
                if navigator.done is not None:
                    return self._finish(handle, result, navigator.done == "", navigator.done,
                                        pose, started, navigator.replans)
                command = self._guard(command, goal=navigator.goal)
                if navigator.replans != replans:
                    replans = navigator.replans
                    self.get_logger().info(f"planned around {len(people)} predicted person "
                                           "positions")
                    self._publish_plan(navigator.path)
                self._command(command.vx, command.vy, command.wz)
                feedback.distance_remaining_m = math.dist(pose[:2], goal[:2])
                where = f"at ({pose[0]:.2f}, {pose[1]:.2f}, {math.degrees(pose[2]):.0f} deg), " \
                    f"{feedback.distance_remaining_m:.2f} m to go: "
                feedback.state = where + command.reason
            if now - last_log >= 2.0:
                last_log = now
                self.get_logger().info(feedback.state)
            handle.publish_feedback(feedback)
            await async_sleep(self, period)

    def _finish(self, handle, result, success: bool, reason: str, pose, started: float,
                replans: int = 0):
        self._stop_base()
        result.success, result.reason = success, reason
        result.final_pose = self._pose_msg(pose)
        result.duration_s = time_to_sec(self.get_clock().now().to_msg()) - started
        result.replans = replans
        if success:
            handle.succeed()
            self.get_logger().info(f"arrived in {result.duration_s:.1f} s")
        else:
            handle.abort()
            self.diagnostics.count("goals.failed")
            self.get_logger().warning(f"navigation failed: {reason}")
        return result

    def _guard(self, command, goal=None):
        """The collision monitor: the command slowed or stopped by what the camera saw
        near the footprint (odom frame, so a wrong map pose cannot hide it); `goal` (map
        x, y): where the base goes, to hold a blocked turn until there (monitor)."""
        with self._lock:
            newest, velocity = self.map_pose.latest_odom(), self._velocity
            near = self.near.in_base(newest[1]) if newest is not None else np.zeros((0, 2))
            if newest is not None and len(self._scan_odom):
                near = np.vstack([near, in_frame_of(self._scan_odom, newest[1])])
        pose = self._pose() if goal is not None else None
        goal_base = None if pose is None else in_frame_of(np.array([goal[:2]]), pose)[0]
        guarded = monitor(command, near, self.monitor_config, velocity, goal=goal_base)
        if guarded is not command:
            kind = "stopped" if guarded.reason.startswith("blocked") else "slowed"
            self.diagnostics.count(f"monitor.{kind}")
            self.diagnostics.set_value("monitor.last", guarded.reason)
        return guarded

    # --- outputs -------------------------------------------------------------------------------
    def _command(self, vx: float, vy: float, wz: float) -> None:
        msg = contract.CMD_VEL.type()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = contract.BASE_FRAME
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.angular.z = vx, vy, wz
        self.pub_cmd.publish(msg)

    def _stop_base(self) -> None:
        self._command(0.0, 0.0, 0.0)

    @staticmethod
    def _pose_msg(pose):
        if pose is None:
            return pose_to_msg(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))
        return pose_to_msg(np.array([pose[0], pose[1], 0.0]), yaw_to_quat_wxyz(pose[2]))

    def _publish_plan(self, path) -> None:
        msg = contract.NAVIGATION_PLAN.type()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = contract.MAP_FRAME
        for x, y in path:
            stamped = PoseStamped()
            stamped.header = msg.header
            stamped.pose = pose_to_msg(np.array([x, y, 0.0]), np.array([1.0, 0.0, 0.0, 0.0]))
            msg.poses.append(stamped)
        self.pub_plan.publish(msg)

    def _map_msg(self) -> OccupancyGrid:
        g = self.grid.geometry
        msg = OccupancyGrid()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = contract.MAP_FRAME
        msg.info.resolution = float(g.resolution)
        msg.info.width, msg.info.height = g.width, g.height
        msg.info.origin = pose_to_msg(np.array([g.origin[0], g.origin[1], 0.0]),
                                      np.array([1.0, 0.0, 0.0, 0.0]))
        msg.data = self.grid.cells.reshape(-1).astype(int).tolist()
        return msg


def main(args: list[str] | None = None) -> int:
    return run_node(NavigationNode, "navigation", args)


if __name__ == "__main__":
    raise SystemExit(main())
