"""Ground-truth messages of the simulation (published only under /sim/ground_truth/)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Twist, Vector3

from foresight_interfaces.msg import GroundTruthObject, GroundTruthObjectArray, GroundTruthSafety
from foresight_simulation.home_scene import HomeRoom
from foresight_simulation.scene import IndustrialCell


def _vector(v) -> Vector3:
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def objects_msg(cell: IndustrialCell | HomeRoom, stamp: Time,
                image_size: tuple[int, int] | None = None) -> GroundTruthObjectArray:
    """All objects; `visible` for parts and task objects (the camera sees their top centre)
    and, given the camera's `image_size`, for the person's parts and the home's objects
    (also inside the image: the co-worker's resting hands lie just outside it, the home
    robot's camera looks one way)."""
    status = cell.part_status()
    msg = GroundTruthObjectArray()
    msg.header.stamp = stamp
    msg.header.frame_id = cell.FRAME
    for obj in cell.ground_truth():
        top = (obj.position[0], obj.position[1], obj.position[2] + obj.size[2] / 2)
        framed = image_size is not None and cell.in_camera_view(top, *image_size)
        visible = (obj.kind == "part" or (obj.kind in ("person", "object") and framed)) \
            and cell.visible_from_camera(top, obj.name)
        pose = Pose(position=Point(x=obj.position[0], y=obj.position[1], z=obj.position[2]),
                    orientation=Quaternion(w=obj.quat[0], x=obj.quat[1], y=obj.quat[2],
                                           z=obj.quat[3]))
        msg.objects.append(GroundTruthObject(
            name=obj.name, kind=obj.kind, type=obj.type, matches=obj.matches, pose=pose,
            twist=Twist(linear=_vector(obj.linear_velocity),
                        angular=_vector(obj.angular_velocity)),
            size=_vector(obj.size), status=status.get(obj.name, ""), visible=visible))
    return msg


class SafetyTracker:
    """Samples the ground-truth safety quantities of the cell."""

    def __init__(self, cell: IndustrialCell | HomeRoom) -> None:
        self.cell = cell

    def sample(self, stamp: Time) -> GroundTruthSafety:
        distance, part = self.cell.separation()
        person_speed = 0.0
        if part:
            person_speed = float(sum(v * v for v in self.cell.person_velocity(part)) ** 0.5)
        msg = GroundTruthSafety(min_separation_m=float(distance), closest_person_part=part,
                                robot_speed_mps=float(self.cell.robot_speed()),
                                person_speed_mps=person_speed,
                                robot_contacts=list(self.cell.robot_contacts()))
        msg.header.stamp = stamp
        msg.header.frame_id = self.cell.FRAME
        return msg
