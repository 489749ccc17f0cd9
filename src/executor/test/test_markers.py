"""The executor's RViz markers from plain values."""

import math

from builtin_interfaces.msg import Time
from visualization_msgs.msg import Marker

from foresight_executor.markers import STATE_COLOURS, executor_markers


def by_ns(array) -> dict:
    return {m.ns: m for m in array.markers}


def test_the_ring_is_s_p_wide_coloured_by_state_and_the_skill_is_named():
    markers = by_ns(executor_markers("world", Time(), 2, 0.31, (0.5, 0.0, 1.0),
                                     (0.9, 0.1, 1.0), (0.5, 0.05, 0.8), "insert a -> b: align",
                                     (0.5, 0.0, 0.9), [(0.4, 0.0, 1.0), (0.5, 0.05, 0.9)]))
    ring = markers["safety_zone"]
    assert ring.action == Marker.ADD and ring.type == Marker.CYLINDER
    assert math.isclose(ring.scale.x, 0.62) and math.isclose(ring.scale.y, 0.62)
    assert (ring.color.r, ring.color.g, ring.color.b) == STATE_COLOURS[2]   # stopped: red
    assert (ring.pose.position.x, ring.pose.position.z) == (0.5, 1.0)
    line = markers["closest"]
    assert [(p.x, p.y) for p in line.points] == [(0.5, 0.0), (0.9, 0.1)]
    assert markers["target"].pose.position.y == 0.05
    assert markers["skill"].text == "insert a -> b: align"
    assert math.isclose(markers["skill"].pose.position.z, 1.05)
    assert ring.lifetime.nanosec > 0     # gone when the executor stops publishing
    assert [p.z for p in markers["path"].points] == [1.0, 0.9]


def test_parts_without_data_are_deleted_not_left_stale():
    markers = by_ns(executor_markers("world", Time(), 0, math.nan, None, None, None, "",
                                     None))
    assert {ns: m.action for ns, m in markers.items()} == {
        "safety_zone": Marker.DELETE, "closest": Marker.DELETE, "target": Marker.DELETE,
        "skill": Marker.DELETE, "path": Marker.DELETE}
