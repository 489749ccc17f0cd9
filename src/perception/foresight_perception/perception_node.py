"""Perception node: RGB-D frames in, detected objects and people (world frame) out.

Thin ROS wiring around a detector back end (`foresight_perception.detector`): callbacks decode
and validate images and store them, paired by exact stamp (colour + depth + depth
camera_info); a worker thread takes the newest complete frame, looks up the camera pose at the
image stamp in a TF buffer fed from /tf and /tf_static, runs the detector and publishes. One
frame at a time: frames that arrive while one is processed replace each other, so the node
always works on the newest image and never queues up latency. Bad input (wrong encoding or
size, colour/depth size mismatch, depth without valid pixels, stale, out-of-order or future
stamps, no camera pose) is rejected with a reason and counted on /diagnostics
(`rejected.<kind>`); nothing crashes the node.

Subscribes: camera/color/image_raw, camera/depth/image_raw (sensor_msgs/Image),
            camera/depth/camera_info (sensor_msgs/CameraInfo), /tf, /tf_static
Publishes:  perception/detections (foresight_interfaces/DetectionArray),
            perception/markers (visualization_msgs/MarkerArray), /diagnostics
Parameters: see PerceptionParams (`class_config_file` is required)
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration as DurationMsg
from builtin_interfaces.msg import Time as TimeMsg
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA, Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from foresight_common import contract
from foresight_common.conversions import (
    InvalidMessage,
    image_to_numpy,
    point_to_msg,
    pose_to_msg,
    sec_to_duration,
    store_tf_message,
    time_to_sec,
    vector_to_msg,
    yaw_to_quat_wxyz,
)
from foresight_common.node_support import (
    DiagnosticsReporter,
    create_publisher,
    create_subscription,
    declare_parameters,
    load_file_parameter,
    run_node,
)
from foresight_common.params import ParameterError, param
from foresight_common.tf_buffer import TransformBuffer, TransformLookupError
from foresight_interfaces.msg import Detection, DetectionArray, PersonDetection
from foresight_perception.detector import (
    BACKENDS,
    ConfigError,
    DetectionResult,
    Frame,
    InvalidFrame,
    ObjectDetection,
    check_stamp,
    load_class_catalog,
    make_detector,
    validate_frame,
)
from foresight_perception.geometry import Intrinsics

COLOR_ENCODINGS = ("rgb8", "bgr8")
DEPTH_ENCODINGS = ("32FC1", "16UC1")


@dataclass(frozen=True)
class PerceptionParams:
    class_config_file: str = field(default="", metadata=param(
        "Class list with sizes and the back ends' settings (config/perception/*.yaml)",
        non_empty=True))
    detector_backend: str = field(default="classical", metadata=param(
        "Detector back end: a name of foresight_perception.detector.BACKENDS or "
        "'package.module:ClassName'", non_empty=True))
    world_frame: str = field(default=contract.WORLD_FRAME, metadata=param(
        "Frame of the published poses", non_empty=True))
    max_stamp_age_s: float = field(default=1.0, metadata=param(
        "Frames older than this (node clock) when their turn comes are rejected (s)",
        low=0.01, high=60.0))
    max_future_s: float = field(default=0.1, metadata=param(
        "Frames stamped more than this ahead of the node clock are rejected (s)",
        low=0.0, high=10.0))
    pairing_window: int = field(default=4, metadata=param(
        "Stamps kept while waiting for the matching colour / depth / camera_info", low=1,
        high=100))
    min_valid_depth_fraction: float = field(default=0.05, metadata=param(
        "Share of valid depth pixels below which a frame is rejected", low=0.0, high=1.0))
    tf_children: tuple[str, ...] = field(default=(), metadata=param(
        "Child frames taken from /tf and /tf_static (empty: all). A mobile robot's /tf "
        "carries ~100 arm-link messages/s this node need not convert"))
    tf_wait_s: float = field(default=0.3, metadata=param(
        "How long a frame waits for the camera's transform at its stamp (s, wall time)",
        low=0.0, high=5.0))
    tf_cache_s: float = field(default=10.0, metadata=param(
        "How long moving transforms are kept for lookups at image stamps (s)", low=0.5,
        high=600.0))
    publish_markers: bool = field(default=True, metadata=param(
        "Publish RViz markers of the detections"))
    marker_lifetime_s: float = field(default=0.5, metadata=param(
        "Lifetime of the markers (s); 0 keeps them until replaced", low=0.0, high=60.0))


# --- pairing of the three camera streams (no ROS in here) ---------------------------------------
StampKey = tuple[int, int]


@dataclass
class _Pending:
    received: float = 0.0      # monotonic time the last part arrived
    parts: dict[str, Any] = field(default_factory=dict)


class FrameAssembler:
    """Pairs the colour image, depth image and camera_info of one camera by exact stamp and
    keeps only the newest complete set. Older incomplete sets are dropped when a newer set
    completes; a complete set replaced before anyone took it counts as skipped."""

    STREAMS = ("color", "depth", "info")

    def __init__(self, window: int) -> None:
        self.window = window
        self._pending: dict[StampKey, _Pending] = {}
        self._complete: tuple[StampKey, _Pending] | None = None
        self.skipped = 0
        self.unmatched = 0

    def add(self, stream: str, key: StampKey, payload: Any, received: float) -> bool:
        """Store one part; True when it completed a set (which is now the newest)."""
        if self._complete is not None and key <= self._complete[0]:
            return False          # older than the set waiting to be processed
        entry = self._pending.setdefault(key, _Pending())
        entry.parts[stream] = payload
        entry.received = max(entry.received, received)
        if len(entry.parts) < len(self.STREAMS):
            while len(self._pending) > self.window:
                del self._pending[min(self._pending)]
                self.unmatched += 1
            return False
        del self._pending[key]
        for older in [k for k in self._pending if k < key]:
            del self._pending[older]
            self.unmatched += 1
        if self._complete is not None:
            self.skipped += 1
        self._complete = (key, entry)
        return True

    def take(self) -> tuple[StampKey, dict[str, Any], float] | None:
        """The newest complete set (stamp, parts, receive time), or None."""
        if self._complete is None:
            return None
        key, entry = self._complete
        self._complete = None
        return key, entry.parts, entry.received

    def discard(self, key: StampKey) -> None:
        """Forget everything of one stamp (one of its parts was rejected)."""
        self._pending.pop(key, None)


def stamp_key(stamp: TimeMsg) -> StampKey:
    return int(stamp.sec), int(stamp.nanosec)


# --- results -> messages -------------------------------------------------------------------------
def detection_array(result: DetectionResult, stamp: TimeMsg, frame_id: str,
                    processing_time_s: float) -> DetectionArray:
    """The DetectionArray of one frame (poses in `frame_id`, stamped with the image)."""
    msg = DetectionArray(header=Header(stamp=stamp, frame_id=frame_id),
                         processing_time_s=float(processing_time_s))
    for d in result.objects:
        msg.detections.append(Detection(
            label=d.label, confidence=float(d.confidence),
            pose=pose_to_msg(d.position, yaw_to_quat_wxyz(d.yaw)),
            size=vector_to_msg(np.asarray(d.size, dtype=float)),
            position_covariance=[float(v) for v in np.asarray(d.position_covariance).ravel()],
            yaw_variance=float(d.yaw_variance), pixel_count=int(d.pixel_count)))
    for person in result.people:
        names = sorted(person.keypoints)
        msg.people.append(PersonDetection(
            confidence=float(person.confidence), keypoint_names=names,
            keypoints=[point_to_msg(person.keypoints[n].position) for n in names],
            keypoint_variances=[float(person.keypoints[n].variance) for n in names]))
    return msg


_KIND_COLOURS = {"part": (1.0, 0.55, 0.0, 0.9), "hole": (0.0, 0.8, 1.0, 0.6),
                 "container": (0.2, 0.9, 0.3, 0.35)}


def _marker(header: Header, ns: str, marker_id: int, kind: int, lifetime: DurationMsg,
            rgba: tuple[float, float, float, float]) -> Marker:
    marker = Marker(header=header, ns=ns, id=marker_id, type=kind, action=Marker.ADD,
                    lifetime=lifetime)
    marker.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
    marker.pose.orientation.w = 1.0
    return marker


def _centre(d: ObjectDetection, reference: str) -> np.ndarray:
    offset = {"centre": 0.0, "top": -0.5, "bottom": 0.5}[reference] * d.size[2]
    return d.position + np.array([0.0, 0.0, offset])


def detection_markers(result: DetectionResult, header: Header, lifetime_s: float,
                      references: dict[str, str], shapes: dict[str, str]) -> MarkerArray:
    """RViz markers of one frame: a box or cylinder per object (at its centre, whatever the
    position reference), a text label above it, spheres for people's keypoints and lines
    from each arm point to its hand. The first marker clears the previous frame's."""
    lifetime = sec_to_duration(lifetime_s)
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for i, d in enumerate(result.objects):
        shape = Marker.CYLINDER if shapes.get(d.label) == "cylinder" else Marker.CUBE
        body = _marker(header, f"objects/{d.kind}", i, shape, lifetime,
                       _KIND_COLOURS.get(d.kind, (0.8, 0.8, 0.8, 0.8)))
        body.pose = pose_to_msg(_centre(d, references.get(d.label, "centre")),
                                yaw_to_quat_wxyz(d.yaw))
        body.scale = vector_to_msg(np.maximum(np.asarray(d.size, dtype=float), 0.002))
        markers.append(body)
        text = _marker(header, "labels", i, Marker.TEXT_VIEW_FACING, lifetime,
                       (1.0, 1.0, 1.0, 0.9))
        text.pose.position = point_to_msg(d.position + np.array([0.0, 0.0, 0.06]))
        text.scale.z = 0.025
        text.text = f"{d.label} {d.confidence:.2f}"
        markers.append(text)
    for p, person in enumerate(result.people):
        for k, (name, kp) in enumerate(sorted(person.keypoints.items())):
            sphere = _marker(header, f"people/{p}", k, Marker.SPHERE, lifetime,
                             (1.0, 0.2, 0.6, 0.8) if name.endswith("hand")
                             else (0.9, 0.6, 0.8, 0.5))
            sphere.pose.position = point_to_msg(kp.position)
            radius = 0.09 if name.endswith("hand") else 0.06
            sphere.scale = vector_to_msg(np.full(3, radius))
            markers.append(sphere)
        lines = _marker(header, f"people/{p}/arms", 100, Marker.LINE_LIST, lifetime,
                        (1.0, 0.2, 0.6, 0.8))
        lines.scale.x = 0.02
        for side in ("left", "right"):
            arm, hand = person.keypoints.get(f"{side}_arm"), person.keypoints.get(
                f"{side}_hand")
            if arm is not None and hand is not None:
                lines.points += [point_to_msg(arm.position), point_to_msg(hand.position)]
        if lines.points:
            markers.append(lines)
    return MarkerArray(markers=markers)


# --- the node ------------------------------------------------------------------------------------
class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        p = declare_parameters(self, PerceptionParams)
        self.params = p
        catalog = load_file_parameter("class_config_file", p.class_config_file,
                                      load_class_catalog)
        try:
            self.detector = make_detector(p.detector_backend, catalog)
        except ConfigError as exc:
            key = "detector_backend" if p.detector_backend not in BACKENDS else \
                "class_config_file"
            raise ParameterError(key, getattr(p, key), str(exc)) from exc
        self._references = {c.label: c.position_reference for c in catalog.classes.values()}
        self._shapes = {c.label: c.shape for c in catalog.classes.values()}
        self.diagnostics = DiagnosticsReporter(self, "detection")
        self.pub_detections = create_publisher(self, contract.DETECTIONS)
        self.pub_markers = create_publisher(self, contract.PERCEPTION_MARKERS)
        self._lock = threading.Condition()
        self._assembler = FrameAssembler(p.pairing_window)
        self._tf = TransformBuffer(cache_s=p.tf_cache_s)
        self._tf_children = frozenset(p.tf_children) or None
        self._last_processed: float | None = None
        self._stop = False
        create_subscription(self, contract.COLOR_IMAGE, self.on_color)
        create_subscription(self, contract.DEPTH_IMAGE, self.on_depth)
        create_subscription(self, contract.DEPTH_INFO, self.on_info)
        create_subscription(self, contract.TF_TOPIC, lambda m: self.on_tf(m, static=False))
        create_subscription(self, contract.TF_STATIC_TOPIC, lambda m: self.on_tf(m, static=True))
        self._worker = threading.Thread(target=self._work, name="perception", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"detector '{p.detector_backend}' with {len(catalog.classes)} classes from "
            f"{p.class_config_file}; poses in '{p.world_frame}'")

    # --- callbacks: validate, decode, store ------------------------------------------------
    def on_color(self, msg: Image) -> None:
        self._store("color", msg.header, msg, lambda m: image_to_numpy(m, COLOR_ENCODINGS),
                    "color_image")

    def on_depth(self, msg: Image) -> None:
        self._store("depth", msg.header, msg, lambda m: image_to_numpy(m, DEPTH_ENCODINGS),
                    "depth_image")

    def on_info(self, msg: CameraInfo) -> None:
        self._store("info", msg.header, msg, _intrinsics, "camera_info")

    def _store(self, stream: str, header: Header, msg: Any, decode, kind: str) -> None:
        received = time.monotonic()
        key = stamp_key(header.stamp)
        try:
            payload = (decode(msg), header.frame_id)
        except InvalidMessage as exc:
            self.diagnostics.reject(kind, str(exc))
            with self._lock:
                self._assembler.discard(key)
            return
        with self._lock:
            last = self._last_processed
        now = self.get_clock().now().nanoseconds * 1e-9
        reason = check_stamp(time_to_sec(header.stamp), last, now,
                             self.params.max_stamp_age_s, self.params.max_future_s)
        if reason is not None:      # also keeps bogus future stamps out of the pairing
            self.diagnostics.reject("stamp", f"{kind}: {reason}")
            return
        with self._lock:
            if self._assembler.add(stream, key, payload, received):
                self._lock.notify()

    def on_tf(self, msg: TFMessage, static: bool) -> None:
        with self._lock:
            refused = store_tf_message(self._tf, msg, static, self._tf_children)
        for reason in refused:
            self.diagnostics.reject("tf", reason)

    # --- the worker: newest complete frame -> detector -> publish ----------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._stop and (item := self._assembler.take()) is None:
                    self._lock.wait(timeout=0.5)
                if self._stop:
                    return
            try:
                self._process(*item)
            except Exception as exc:  # noqa: BLE001 - a bug in a back end must not kill us
                self.diagnostics.reject("detector", f"{type(exc).__name__}: {exc}")
                self.get_logger().debug(traceback.format_exc())

    def _process(self, key: StampKey, parts: dict[str, Any], received: float) -> None:
        stamp = TimeMsg(sec=key[0], nanosec=key[1])
        stamp_s = time_to_sec(stamp)
        with self._lock:
            last = self._last_processed
            self.diagnostics.set_value("frames.skipped", self._assembler.skipped)
            self.diagnostics.set_value("frames.unmatched", self._assembler.unmatched)
        now = self.get_clock().now().nanoseconds * 1e-9
        reason = check_stamp(stamp_s, last, now, self.params.max_stamp_age_s,
                             self.params.max_future_s)
        if reason is not None:
            self.diagnostics.reject("stamp", reason)
            return
        (rgb, color_frame), (depth, depth_frame), (intrinsics, _) = (
            parts["color"], parts["depth"], parts["info"])
        if color_frame != depth_frame:
            self.diagnostics.reject("frame", f"colour in '{color_frame}' but depth in "
                                             f"'{depth_frame}' (depth must be registered)")
            return
        pose = self._camera_pose(color_frame, stamp_s)
        if pose is None:
            return
        frame = Frame(rgb=rgb, depth=depth, intrinsics=intrinsics, world_from_optical=pose,
                      stamp=stamp_s)
        try:
            validate_frame(frame, self.params.min_valid_depth_fraction)
            result = self.detector.detect(frame)
        except InvalidFrame as exc:
            self.diagnostics.reject(exc.kind, exc.reason)
            return
        with self._lock:
            if self._last_processed is not None and stamp_s <= self._last_processed:
                return
            self._last_processed = stamp_s
        header = Header(stamp=stamp, frame_id=self.params.world_frame)
        elapsed = time.monotonic() - received
        self.pub_detections.publish(detection_array(result, stamp, self.params.world_frame,
                                                    elapsed))
        if self.params.publish_markers and self.pub_markers.get_subscription_count() > 0:
            self.pub_markers.publish(detection_markers(
                result, header, self.params.marker_lifetime_s, self._references,
                self._shapes))
        self.diagnostics.count("frames.processed")
        self.diagnostics.set_value("last_processing_ms", f"{1e3 * elapsed:.1f}")
        self.diagnostics.set_value("last_objects", len(result.objects))
        self.diagnostics.set_value("last_people", len(result.people))

    def _camera_pose(self, frame_id: str, stamp_s: float) -> np.ndarray | None:
        """The camera pose at the image stamp, waiting up to `tf_wait_s` for transforms
        that have not arrived yet (a moving camera's TF often comes just after its image,
        as tf2's message filter waits); None, counted with the reason, when it never does."""
        waited = 0.0
        while True:
            try:
                with self._lock:
                    return self._tf.lookup(self.params.world_frame, frame_id, stamp_s)
            except TransformLookupError as exc:
                if waited >= self.params.tf_wait_s or self._stop:
                    self.diagnostics.reject("tf", f"no camera pose at {stamp_s:.3f} s after "
                                            f"waiting {waited:.2f} s: {exc}")
                    return None
            time.sleep(0.01)
            waited += 0.01

    def on_shutdown(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        self._worker.join(timeout=2.0)


def _intrinsics(msg: CameraInfo) -> Intrinsics:
    """Pinhole intrinsics of a rectified camera_info; InvalidMessage when unusable."""
    k = list(msg.k)
    if len(k) != 9 or not all(math.isfinite(v) for v in k):
        raise InvalidMessage(f"camera_info K is not 9 finite numbers: {k}")
    intrinsics = Intrinsics(fx=k[0], fy=k[4], cx=k[2], cy=k[5], width=int(msg.width),
                            height=int(msg.height))
    if not intrinsics.valid():
        raise InvalidMessage(f"camera_info describes no camera: {msg.width}x{msg.height}, "
                             f"fx={k[0]} fy={k[4]} cx={k[2]} cy={k[5]}")
    return intrinsics


def main(args: list[str] | None = None) -> int:
    return run_node(PerceptionNode, "perception", args, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
