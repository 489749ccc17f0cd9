"""Simulation node: the MuJoCo industrial cell standing in for the robot, its controllers and
its sensors, publishing exactly what real drivers would (plus ground truth in its own
namespace for offline tools).

Subscribes: arm_controller/joint_trajectory (trajectory_msgs/JointTrajectory),
            gripper_controller/commands (std_msgs/Float64MultiArray, [width m]),
            cmd_vel (geometry_msgs/TwistStamped; home_care's mobile base)
Publishes:  /clock, joint_states, wrist_wrench, camera/color/{image_raw,camera_info},
            camera/depth/{image_raw,camera_info}, safety_scan (sensor_msgs/LaserScan: the
            cell's bench scanner, or the mobile base's scanners merged into one 360 degree
            scan), /tf_static (camera and scanner mountings), /diagnostics,
            /sim/ground_truth/{objects,safety,status}; home_care also odom
            (nav_msgs/Odometry, drifting wheel odometry), /tf odom -> base_link and
            /sim/ground_truth/robot_odom (the true base pose in map)
Parameters: see SimulationParams
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field

import mujoco
import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy._rclpy_pybind11 import RCLError
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState, LaserScan
from std_msgs.msg import Float64MultiArray
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory

from foresight_common import contract
from foresight_common.cell_layout import CellLayoutError
from foresight_common.conversions import (
    camera_info,
    depth_to_image,
    duration_to_sec,
    matrix_to_quat_wxyz,
    odometry_msg,
    quat_wxyz_to_matrix,
    rgb_to_image,
    sec_to_time,
    time_to_sec,
    transform_to_msg,
    yaw_to_quat_wxyz,
)
from foresight_common.mobile_manipulator import (
    BASE_SCANNER,
    BASE_SCANNER_NOISE_M,
    camera_mount_in_base,
)
from foresight_common.node_support import (
    DiagnosticsReporter,
    create_publisher,
    create_subscription,
    declare_parameters,
    run_node,
)
from foresight_common.params import ParameterError, param
from foresight_common.room_layout import RoomLayoutError
from foresight_simulation import ground_truth_msgs
from foresight_simulation.camera_pipeline import CameraPipeline
from foresight_simulation.families import FamilyError
from foresight_simulation.runtime import (
    FailureStreak,
    RealTimePacer,
    SimulatedCell,
    SimulatedMobileManipulator,
)
from foresight_simulation.scanner import SCENE_GROUPS, SafetyScanner
from foresight_simulation.world import SCENARIOS, build_world

#: The optical frame (z forward, x right, y down) in camera_link (x forward, y left, z up).
#: Publishing may fail this long in a row (s, wall) before the simulation gives up.
PUBLISH_FAILURE_LIMIT_S = 2.0
OPTICAL_IN_LINK = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class SimulationParams:
    scenario: str = field(default="industrial_assembly", metadata=param(
        "Scenario to simulate", choices=SCENARIOS))
    cell_file: str = field(default="", metadata=param(
        "Nominal cell layout YAML (config/cells/...); industrial_assembly only (home_care's "
        "room comes from its family)"))
    family: str = field(default="default", metadata=param(
        "Variation family name, looked up in config_dir/families/", non_empty=True))
    families_file: str = field(default="", metadata=param(
        "Variation family YAML path; overrides `family` when set"))
    config_dir: str = field(default="", metadata=param(
        "Folder with families/ (default: the installed foresight_bringup config)"))
    seed: int = field(default=0, metadata=param("Scene seed", low=0, high=2**31 - 1))
    rtf: float = field(default=1.0, metadata=param(
        "Real-time-factor target; 0 runs as fast as possible", low=0.0, high=50.0))
    camera_width: int = field(default=0, metadata=param(
        "Image width (px); 0: the family's", low=0, high=1920))
    camera_height: int = field(default=0, metadata=param(
        "Image height (px); 0: the family's", low=0, high=1080))
    camera_rate_hz: float = field(default=-1.0, metadata=param(
        "Camera rate (Hz, sim time); 0 switches the camera off, -1: the family's",
        low=-1.0, high=60.0))
    clock_rate_hz: float = field(default=200.0, metadata=param("/clock rate (Hz, sim time)",
                                                               low=100.0, high=250.0))
    joint_state_rate_hz: float = field(default=100.0, metadata=param(
        "joint_states and wrist_wrench rate (Hz, sim time)", low=10.0, high=500.0))
    ground_truth_rate_hz: float = field(default=50.0, metadata=param(
        "Ground-truth rate (Hz, sim time)", low=1.0, high=500.0))
    odom_rate_hz: float = field(default=50.0, metadata=param(
        "odom and odom -> base_link rate of a mobile base (Hz, sim time)", low=1.0,
        high=500.0))
    wait_for_controller_s: float = field(default=60.0, metadata=param(
        "Hold simulated time at 0 until a node publishes arm commands, at most this long "
        "(wall s); 0 starts at once", low=0.0, high=600.0))
    gui: bool = field(default=False, metadata=param("Open the MuJoCo viewer (needs a display)"))
    niceness: int = field(default=0, metadata=param(
        "Added to the simulator process's niceness: on a loaded machine the stack under test "
        "gets the CPU first and simulated time slows, instead of the stack falling behind "
        "simulated time (its watchdogs, track ages and timeouts run on it)", low=0, high=19))


class SimulationNode(Node):
    def __init__(self) -> None:
        super().__init__("simulation")
        self.params = declare_parameters(self, SimulationParams)
        p = self.params
        if p.niceness:
            os.nice(p.niceness)
        if p.gui and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise ValueError("gui requested but no display is available (DISPLAY is not set);"
                             " run without --gui, or on a machine with a screen")
        if p.scenario == "industrial_assembly" and not p.cell_file:
            raise ParameterError("cell_file", p.cell_file,
                                 "a cell layout YAML (config/cells/...) for industrial_assembly")
        try:
            self.world = build_world(p.cell_file, p.family, p.families_file, p.config_dir,
                                     p.seed, p.scenario)
        except (CellLayoutError, RoomLayoutError) as exc:
            raise ParameterError("cell_file", p.cell_file, f"a valid cell layout ({exc})") \
                from exc
        except FamilyError as exc:
            key = "families_file" if p.families_file else "family"
            raise ParameterError(key, p.families_file or p.family,
                                 f"a valid variation family ({exc})") from exc
        if self.world.mobile:
            self.sim = SimulatedMobileManipulator(
                self.world.cell, np.random.default_rng([p.seed, 104729]))
        else:
            self.sim = SimulatedCell(self.world.cell)
        self.diagnostics = DiagnosticsReporter(self, "simulation")
        self.pub_clock = create_publisher(self, contract.CLOCK_TOPIC)
        self.pub_joints = create_publisher(self, contract.JOINT_STATES)
        self.pub_wrench = create_publisher(self, contract.WRIST_WRENCH)
        self.pub_rgb = create_publisher(self, contract.COLOR_IMAGE)
        self.pub_rgb_info = create_publisher(self, contract.COLOR_INFO)
        self.pub_depth = create_publisher(self, contract.DEPTH_IMAGE)
        self.pub_depth_info = create_publisher(self, contract.DEPTH_INFO)
        self.pub_tf_static = create_publisher(self, contract.TF_STATIC_TOPIC)
        self.pub_gt_objects = create_publisher(self, contract.GT_OBJECTS)
        self.pub_gt_safety = create_publisher(self, contract.GT_SAFETY)
        self.pub_gt_status = create_publisher(self, contract.GT_STATUS)
        self.pub_gt_frames = create_publisher(self, contract.GT_FRAMES)
        self.pub_scan = create_publisher(self, contract.SAFETY_SCAN)
        self.pub_tf = create_publisher(self, contract.TF_TOPIC)
        self.pub_odom = create_publisher(self, contract.ODOM)
        self.pub_gt_odom = create_publisher(self, contract.GT_ROBOT_ODOM)
        if self.world.mobile:
            self.scanner = SafetyScanner(self.sim.model, BASE_SCANNER, SCENE_GROUPS,
                                         BASE_SCANNER_NOISE_M,
                                         np.random.default_rng([p.seed, 7919]))
        else:
            spec = getattr(self.world.cell.layout, "safety_scanner", None)
            self.scanner = SafetyScanner(self.sim.model, spec) if spec is not None else None
        self._commands: queue.Queue = queue.Queue()
        create_subscription(self, contract.ARM_TRAJECTORY, self.on_trajectory)
        create_subscription(self, contract.GRIPPER_COMMAND, self.on_gripper)
        if self.world.mobile:
            create_subscription(self, contract.CMD_VEL, self.on_cmd_vel)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-loop", daemon=True)
        self._thread.start()
        width, height, rate = self._camera_settings()
        self.get_logger().info(
            f"{p.scenario}: family '{self.world.family_name}' ({self.world.split}), seed "
            f"{p.seed}, camera {width}x{height}@{rate:g} Hz, RTF target {p.rtf:g}")

    # --- callbacks: validate shape, queue for the loop thread (MjData is not thread-safe) ---
    def on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            times = [duration_to_sec(pt.time_from_start) for pt in msg.points]
            positions = [list(pt.positions) for pt in msg.points]
            velocities = [list(pt.velocities) for pt in msg.points]
        except (TypeError, ValueError) as exc:
            self.diagnostics.reject("joint_trajectory", f"unreadable points: {exc}")
            return
        if any(len(v) == 0 for v in velocities):
            velocities = []
        start = time_to_sec(msg.header.stamp)
        self._commands.put(("trajectory", list(msg.joint_names), times, positions, velocities,
                            start if start > 0 else None))

    def on_gripper(self, msg: Float64MultiArray) -> None:
        self._commands.put(("gripper", list(msg.data)))

    def on_cmd_vel(self, msg: TwistStamped) -> None:
        if msg.header.frame_id not in ("", contract.BASE_FRAME):
            self.diagnostics.reject("cmd_vel", f"frame '{msg.header.frame_id}' is not "
                                    f"{contract.BASE_FRAME} (base velocities are in it)")
            return
        t = msg.twist
        self._commands.put(("base", t.linear.x, t.linear.y, t.angular.z))

    def _apply_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if command[0] == "trajectory":
                reasons = self.sim.command_trajectory(*command[1:])
                if reasons:
                    self.diagnostics.reject("joint_trajectory", "; ".join(reasons) +
                                            " (arm holds its position)")
                    self.sim.hold_position()
                else:
                    self.diagnostics.count("joint_trajectory.accepted")
            elif command[0] == "base":
                reason = self.sim.command_base(*command[1:])
                if reason:
                    self.diagnostics.reject("cmd_vel", reason + " (the base keeps its command)")
            else:
                reason = self.sim.command_gripper(command[1])
                if reason:
                    self.diagnostics.reject("gripper_command", reason)

    # --- the simulation loop ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - report, then end the process cleanly
            if self._stop.is_set() or not self.context.ok():
                return  # shutting down: publishers are gone, nothing to report
            self.get_logger().fatal(f"simulation loop failed: {type(exc).__name__}: {exc}")
            self.diagnostics.set_status(b"\x02", f"simulation loop failed: {exc}")
            os.kill(os.getpid(), signal.SIGINT)

    def _loop(self) -> None:
        p = self.params
        model = self.sim.model
        dt = float(model.opt.timestep)
        width, height, rate = self._camera_settings()
        camera = CameraPipeline(model, width, height, self._render, self._publish_frame) \
            if rate > 0 else None
        viewer = self._open_viewer() if p.gui else None
        mujoco.mj_forward(model, self.sim.data)
        # one /tf_static message with every mounting: it is latched with depth 1 (as
        # tf2's static broadcaster does), so a second message would hide the first
        mounts = self._camera_mount() if camera is not None else []
        if self.scanner is not None:
            mounts += self._scanner_mount()
        if mounts:
            self.pub_tf_static.publish(TFMessage(transforms=mounts))
        pacer = RealTimePacer(p.rtf)
        every = {
            "clock": max(1, round(1.0 / (p.clock_rate_hz * dt))),
            "joints": max(1, round(1.0 / (p.joint_state_rate_hz * dt))),
            "truth": max(1, round(1.0 / (p.ground_truth_rate_hz * dt))),
            "scan": max(1, round(1.0 / (self.scanner.spec.rate_hz * dt)))
            if self.scanner else 0,
            "status": max(1, round(1.0 / dt)),
            "odom": max(1, round(1.0 / (p.odom_rate_hz * dt))) if self.world.mobile else 0,
        }
        frame_period = 1.0 / rate if rate > 0 else float("inf")
        next_frame = 0.0
        steps = 0
        waited_since = time.monotonic()
        safety = ground_truth_msgs.SafetyTracker(self.world.cell)
        offer_kind = ""
        publish_failures = FailureStreak(PUBLISH_FAILURE_LIMIT_S)
        while not self._stop.is_set() and self.context.ok():
            if not pacer.started:
                if self._controller_ready() or \
                        time.monotonic() - waited_since > p.wait_for_controller_s:
                    pacer.start(self.sim.sim_time)
                    self.get_logger().info("simulation running")
                else:
                    self._publish_clock()
                    self._publish_joints()
                    time.sleep(0.02)
                    continue
            self._apply_commands()
            self.sim.step()
            steps += 1
            now = self.sim.sim_time
            if camera is not None and now + 1e-9 >= next_frame:
                camera.submit(now, self.sim.data)
                next_frame += frame_period
            try:
                self._publish_due(steps, every, safety)
                publish_failures.ok()
            except RCLError as exc:
                if publish_failures.failed(time.monotonic()):
                    raise
                self.diagnostics.count("publish_failed")
                self.get_logger().warning(
                    f"publishing failed ({exc}); {publish_failures.count} so far, going on "
                    f"for up to {PUBLISH_FAILURE_LIMIT_S:.0f} s of failures in a row",
                    throttle_duration_sec=1.0)
            if steps % every["status"] == 0:
                self._publish_status(pacer, camera.frames if camera else 0)
                offer_kind = self._log_offer(offer_kind)
                if viewer is not None:
                    viewer.sync()
            if viewer is not None and steps % 16 == 0:
                viewer.sync()
            pacer.wait(now)
        if camera is not None:
            camera.close()

    def _publish_due(self, steps: int, every: dict[str, int],
                     safety: ground_truth_msgs.SafetyTracker) -> None:
        """The topics whose rate says publish at this step."""
        now = self.sim.sim_time
        if steps % every["clock"] == 0:
            self._publish_clock()
        if steps % every["joints"] == 0:
            self._publish_joints()
        if every["scan"] and steps % every["scan"] == 0:
            self._publish_scan()
        if every["odom"] and steps % every["odom"] == 0:
            self._publish_odometry()
        if steps % every["truth"] == 0:
            self.pub_gt_objects.publish(ground_truth_msgs.objects_msg(
                self.world.cell, sec_to_time(now), self._camera_settings()[:2]))
            self.pub_gt_safety.publish(safety.sample(sec_to_time(now)))

    def _log_offer(self, last_kind: str) -> str:
        """Log why the simulated person does or does not reach for an object the robot
        holds, when that changes (the truth behind a hand-over that never came)."""
        kind, text = getattr(self.world.cell, "offer_note", ("", ""))
        if kind != last_kind and kind:
            self.get_logger().info(f"hand-over: {text}")
        return kind

    def _controller_ready(self) -> bool:
        return self.count_publishers(contract.ARM_TRAJECTORY.name) > 0 or (
            self.world.mobile and self.count_publishers(contract.CMD_VEL.name) > 0)

    def _open_viewer(self):
        import mujoco.viewer  # imported here: only --gui needs it

        return mujoco.viewer.launch_passive(self.sim.model, self.sim.data)

    # --- publishing --------------------------------------------------------------------------
    def _publish_clock(self) -> None:
        self.pub_clock.publish(Clock(clock=sec_to_time(self.sim.sim_time)))

    def _publish_joints(self) -> None:
        stamp = sec_to_time(self.sim.sim_time)
        sample = self.sim.joint_state()
        msg = JointState(name=list(sample.names), position=sample.position.tolist(),
                         velocity=sample.velocity.tolist(), effort=sample.effort.tolist())
        msg.header.stamp = stamp
        self.pub_joints.publish(msg)
        force, torque = self.sim.wrist_wrench()
        wrench = contract.WRIST_WRENCH.type()
        wrench.header.stamp = stamp
        wrench.header.frame_id = "panda_hand"
        wrench.wrench.force.x, wrench.wrench.force.y, wrench.wrench.force.z = map(float, force)
        wrench.wrench.torque.x, wrench.wrench.torque.y, wrench.wrench.torque.z = \
            map(float, torque)
        self.pub_wrench.publish(wrench)

    def _publish_scan(self) -> None:
        spec = self.scanner.spec
        mount = self.world.cell.base_pose() if self.world.mobile else None
        ranges = self.scanner.scan(self.sim.data, mount)
        msg = LaserScan(angle_min=-spec.fov / 2.0, angle_max=spec.fov / 2.0,
                        angle_increment=spec.fov / (spec.rays - 1), time_increment=0.0,
                        scan_time=1.0 / spec.rate_hz, range_min=0.05,
                        range_max=spec.range_max, ranges=ranges.astype(np.float32).tolist())
        msg.header.stamp = sec_to_time(self.sim.sim_time)
        msg.header.frame_id = contract.SAFETY_SCANNER_FRAME
        self.pub_scan.publish(msg)

    def _scanner_mount(self) -> list:
        spec = self.scanner.spec
        parent = contract.BASE_FRAME if self.world.mobile else contract.WORLD_FRAME
        return [transform_to_msg(parent, contract.SAFETY_SCANNER_FRAME,
                                 sec_to_time(0.0), np.asarray(spec.position),
                                 np.array([np.cos(spec.yaw / 2), 0.0, 0.0,
                                           np.sin(spec.yaw / 2)]))]

    def _camera_settings(self) -> tuple[int, int, float]:
        """Node parameters win; 0 means the scene family's setting."""
        p, scene = self.params, self.world.cell.params
        return (p.camera_width or scene.camera_width, p.camera_height or scene.camera_height,
                p.camera_rate_hz if p.camera_rate_hz >= 0 else scene.camera_rate_hz)

    def _camera_mount(self) -> list:
        """camera_link (the camera body: x forward, z up, REP 103) where it is mounted (the
        cell's world, or the mobile base's base_link), the optical frame below it."""
        stamp = sec_to_time(0.0)
        if self.world.mobile:
            parent = contract.BASE_FRAME
            position, link_quat = camera_mount_in_base()
        else:
            parent = contract.WORLD_FRAME
            position, quat = self.world.cell.camera_pose(optical=True)
            link_quat = matrix_to_quat_wxyz(quat_wxyz_to_matrix(quat) @ OPTICAL_IN_LINK.T)
        link = transform_to_msg(parent, contract.CAMERA_FRAME, stamp, position, link_quat)
        optical = transform_to_msg(contract.CAMERA_FRAME, contract.CAMERA_OPTICAL_FRAME, stamp,
                                   np.zeros(3), matrix_to_quat_wxyz(OPTICAL_IN_LINK))
        return [link, optical]

    def _publish_odometry(self) -> None:
        """What a base driver publishes (wheel odometry: odom and odom -> base_link), and
        the true pose for offline tools."""
        stamp = sec_to_time(self.sim.sim_time)
        odom = self.sim.odometry
        quat = yaw_to_quat_wxyz(odom.yaw)
        position = np.array([odom.x, odom.y, 0.0])
        self.pub_tf.publish(TFMessage(transforms=[transform_to_msg(
            contract.ODOM_FRAME, contract.BASE_FRAME, stamp, position, quat)]))
        self.pub_odom.publish(odometry_msg(stamp, contract.ODOM_FRAME, contract.BASE_FRAME,
                                           position, quat, odom.velocity, odom.covariance()))
        x, y, yaw = self.world.cell.base_pose()
        self.pub_gt_odom.publish(odometry_msg(
            stamp, contract.MAP_FRAME, contract.BASE_FRAME, np.array([x, y, 0.0]),
            yaw_to_quat_wxyz(yaw), np.array(self.world.cell.base_velocity()),
            (0.0, 0.0, 0.0)))

    def _render(self, renderer: mujoco.Renderer, data: mujoco.MjData
                ) -> tuple[np.ndarray, np.ndarray]:
        """Runs in the camera thread: render a state snapshot and add the sensor noise."""
        rgb, depth = self.world.cell.render_rgbd(renderer, data)
        return self.world.add_camera_noise(rgb, depth)

    def _publish_frame(self, sim_time: float, rgb: np.ndarray, depth: np.ndarray) -> None:
        stamp = sec_to_time(sim_time)
        frame = contract.CAMERA_OPTICAL_FRAME
        height, width = depth.shape
        fx, fy, cx, cy = self.world.cell.camera_intrinsics(width, height)
        info = camera_info(width, height, fx, fy, cx, cy, stamp, frame)
        self.pub_rgb.publish(rgb_to_image(rgb, stamp, frame))
        self.pub_rgb_info.publish(info)
        self.pub_depth.publish(depth_to_image(depth, stamp, frame))
        self.pub_depth_info.publish(info)
        timing = contract.GT_FRAMES.type(wall_time_s=time.time())
        timing.header.stamp = stamp
        self.pub_gt_frames.publish(timing)

    def _publish_status(self, pacer: RealTimePacer, frames: int) -> None:
        p = self.params
        now = self.sim.sim_time
        achieved = pacer.achieved(now)
        msg = contract.GT_STATUS.type(
            scenario=p.scenario, family=self.world.family_name, split=self.world.split,
            seed=p.seed, sim_time_s=now, wall_time_s=pacer.wall_elapsed(), rtf_target=p.rtf,
            rtf_achieved=achieved, camera_width=self._camera_settings()[0],
            camera_height=self._camera_settings()[1],
            camera_rate_hz=self._camera_settings()[2],
            frames_published=frames)
        msg.header.stamp = sec_to_time(now)
        self.pub_gt_status.publish(msg)
        self.diagnostics.set_value("rtf_achieved", f"{achieved:.3f}")
        self.diagnostics.set_value("sim_time_s", f"{now:.2f}")
        if p.rtf > 0 and pacer.wall_elapsed() > 5.0 and achieved < 0.9 * p.rtf:
            self.diagnostics.set_status(b"\x01", f"RTF {achieved:.2f} below target {p.rtf:g}")
        else:
            self.diagnostics.set_status(b"\x00", "running")

    def on_shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


def main(args: list[str] | None = None) -> int:
    return run_node(SimulationNode, "simulation", args)


if __name__ == "__main__":
    raise SystemExit(main())

