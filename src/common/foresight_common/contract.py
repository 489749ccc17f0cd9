"""The one place that names every topic, service and action of the stack, with its type and
QoS profile. Nodes create endpoints only through these entries; names are relative (so
namespaces and remaps work) except the few global ones ROS itself defines and the
simulation's ground truth, which lives under `/sim/ground_truth/` where no online node looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from action_msgs.msg import (
    GoalStatus,  # noqa: F401  (re-exported for callers)
    GoalStatusArray,
)
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped, TwistStamped, WrenchStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState, LaserScan
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from foresight_common.error_kinds import ErrorKind  # noqa: F401  (part of the contract)
from foresight_interfaces.action import ExecuteSkill, NavigateToPose, RunTask
from foresight_interfaces.msg import (
    CommandEvent,
    DetectionArray,
    FrameTiming,
    GroundTruthObjectArray,
    GroundTruthSafety,
    HelpRequest,
    ObjectTrackArray,
    PersonTrackArray,
    SafetyState,
    SimulationStatus,
    TaskEvent,
    TrackPredictionArray,
)

# --- QoS profiles -----------------------------------------------------------------------------
SENSOR = qos_profile_sensor_data  # best effort, keep last 5: small sensor streams (wrench)
# Camera streams are reliable, keep last 2: with Fast DDS here a best-effort 640x480 rgb8
# image (921 kB, fragmented) is lost almost always (1 of 150 arrived, measured), while
# reliable delivers all. Keep-last 2 bounds the queue so a slow reader never stalls the
# driver for long. Best-effort subscribers (e.g. RViz defaults) stay compatible.
CAMERA = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE,
                    history=HistoryPolicy.KEEP_LAST)
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                   history=HistoryPolicy.KEEP_LAST)
COMMAND = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     history=HistoryPolicy.KEEP_LAST)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     history=HistoryPolicy.KEEP_LAST)
EVENTS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                    history=HistoryPolicy.KEEP_LAST)
CLOCK = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                   history=HistoryPolicy.KEEP_LAST)
TF = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                history=HistoryPolicy.KEEP_LAST)
# /tf_static has several latched publishers (the simulation's sensor mountings, the robot's
# fixed links; tf2_ros listens the same way): a reader that matches them while busy must
# keep all their messages, not only the last one (measured: a reader of depth 1 lost the
# camera's mounting and perception rejected every frame of an episode).
TF_STATIC = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL,
                       history=HistoryPolicy.KEEP_LAST)


@dataclass(frozen=True)
class Topic:
    name: str
    type: Any
    qos: QoSProfile


@dataclass(frozen=True)
class Service:
    name: str
    type: Any


@dataclass(frozen=True)
class Action:
    name: str
    type: Any


# --- Global (ROS-defined) ---------------------------------------------------------------------
CLOCK_TOPIC = Topic("/clock", Clock, CLOCK)
TF_TOPIC = Topic("/tf", TFMessage, TF)
TF_STATIC_TOPIC = Topic("/tf_static", TFMessage, TF_STATIC)
# the robot model as URDF for RViz (latched: a late RViz still gets it)
ROBOT_DESCRIPTION = Topic("/robot_description", String, LATCHED)
DIAGNOSTICS = Topic("/diagnostics", DiagnosticArray, STATE)

# --- Robot hardware interface (what ros2_control / drivers provide) ---------------------------
JOINT_STATES = Topic("joint_states", JointState, STATE)
WRIST_WRENCH = Topic("wrist_wrench", WrenchStamped, SENSOR)
COLOR_IMAGE = Topic("camera/color/image_raw", Image, CAMERA)
COLOR_INFO = Topic("camera/color/camera_info", CameraInfo, CAMERA)
DEPTH_IMAGE = Topic("camera/depth/image_raw", Image, CAMERA)
DEPTH_INFO = Topic("camera/depth/camera_info", CameraInfo, CAMERA)
ARM_TRAJECTORY = Topic("arm_controller/joint_trajectory", JointTrajectory, COMMAND)
GRIPPER_COMMAND = Topic("gripper_controller/commands", Float64MultiArray, COMMAND)
SAFETY_SCAN = Topic("safety_scan", LaserScan, SENSOR)
# Mobile base (home care): stamped velocity commands (the Jazzy+ default of Nav2 and
# ros2_control's base controllers) and the wheel odometry of the base driver, which also
# broadcasts odom -> base_link on /tf
CMD_VEL = Topic("cmd_vel", TwistStamped, COMMAND)
ODOM = Topic("odom", Odometry, STATE)
LOCALIZATION_POSE = Topic("localization/pose", PoseWithCovarianceStamped, STATE)
NAVIGATE_TO_POSE = Action("navigate_to_pose", NavigateToPose)
NAVIGATION_PLAN = Topic("navigation/plan", PathMsg, STATE)
NAVIGATION_MAP = Topic("navigation/map", OccupancyGrid, LATCHED)   # the map it plans on

# --- Stack interfaces -------------------------------------------------------------------------
EXECUTE_SKILL = Action("execute_skill", ExecuteSkill)
# the executor's goals as its action server reports them (rclpy's status topic of the
# action, latched as rclpy publishes it): the base gives way only while no arm goal runs
EXECUTE_SKILL_STATUS = Topic(f"{EXECUTE_SKILL.name}/_action/status", GoalStatusArray, LATCHED)
RUN_TASK = Action("run_task", RunTask)
ESTOP = Topic("safety/estop", Bool, LATCHED)  # True engages; latched until reset
RESET_ESTOP = Service("safety/reset_estop", Trigger)
TASK_EVENTS = Topic("task_events", TaskEvent, EVENTS)
# latched: a user interface started after the planner gave up still sees what it needs
HELP_REQUESTS = Topic("planner/help_request", HelpRequest, LATCHED)
EXECUTOR_MARKERS = Topic("executor/markers", MarkerArray, STATE)
COMMAND_EVENTS = Topic("executor/command_events", CommandEvent, EVENTS)
SAFETY_STATE = Topic("executor/safety_state", SafetyState, STATE)
DETECTIONS = Topic("perception/detections", DetectionArray, STATE)
PERCEPTION_MARKERS = Topic("perception/markers", MarkerArray, STATE)
OBJECT_TRACKS = Topic("world_model/objects", ObjectTrackArray, STATE)
PERSON_TRACKS = Topic("world_model/people", PersonTrackArray, STATE)
PREDICTIONS = Topic("world_model/predictions", TrackPredictionArray, STATE)
WORLD_MODEL_MARKERS = Topic("world_model/markers", MarkerArray, STATE)

# --- Simulation ground truth: offline tools only (judge, benchmark, dataset builder) ---------
GROUND_TRUTH_PREFIX = "/sim/ground_truth"
GT_OBJECTS = Topic(f"{GROUND_TRUTH_PREFIX}/objects", GroundTruthObjectArray, STATE)
GT_SAFETY = Topic(f"{GROUND_TRUTH_PREFIX}/safety", GroundTruthSafety, STATE)
GT_STATUS = Topic(f"{GROUND_TRUTH_PREFIX}/status", SimulationStatus, STATE)
GT_FRAMES = Topic(f"{GROUND_TRUTH_PREFIX}/frames", FrameTiming, EVENTS)
GT_ROBOT_ODOM = Topic(f"{GROUND_TRUTH_PREFIX}/robot_odom", Odometry, STATE)  # true base pose

# --- Frames (REP 103/105) ---------------------------------------------------------------------
WORLD_FRAME = "world"
MAP_FRAME = "map"
ODOM_FRAME = "odom"
BASE_FRAME = "base_link"
ROBOT_BASE_FRAME = "panda_link0"
TCP_FRAME = "tcp"
CAMERA_FRAME = "camera_link"
CAMERA_OPTICAL_FRAME = "camera_color_optical_frame"
SAFETY_SCANNER_FRAME = "safety_scanner"


def is_ground_truth(name: str) -> bool:
    """True for names in the simulation's ground-truth namespace."""
    return name.lstrip("/").startswith(GROUND_TRUTH_PREFIX.lstrip("/"))
