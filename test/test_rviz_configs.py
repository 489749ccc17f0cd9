"""Every topic an RViz config under config/rviz displays exists in the contract
(foresight_common.contract) with the message type the display expects and a QoS the display
can match (a reliable subscriber never hears a best-effort publisher; a transient-local one
hears only a latched publisher). Fails for a display class it does not know, so a new kind
of display is checked on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nav_msgs.msg import OccupancyGrid, Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from sensor_msgs.msg import Image, LaserScan
from std_msgs.msg import String
from visualization_msgs.msg import Marker, MarkerArray

from foresight_common import contract

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "config" / "rviz").glob("*.rviz"))
DISPLAY_TYPES = {
    "rviz_default_plugins/Image": Image,
    "rviz_default_plugins/LaserScan": LaserScan,
    "rviz_default_plugins/MarkerArray": MarkerArray,
    "rviz_default_plugins/Marker": Marker,
    "rviz_default_plugins/RobotModel": String,
    "rviz_default_plugins/Path": PathMsg,
    "rviz_default_plugins/Map": OccupancyGrid,
    "rviz_default_plugins/Odometry": Odometry,
}
NO_TOPIC = {"rviz_default_plugins/Grid", "rviz_default_plugins/TF"}
TOPICS = {("/" + t.name.lstrip("/")): t for t in vars(contract).values()
          if isinstance(t, contract.Topic)}


def displays(path: Path) -> list[dict]:
    config = yaml.safe_load(path.read_text())
    return config["Visualization Manager"]["Displays"]


def test_there_is_a_config_per_scenario_launch_file():
    launch = Path(__file__).resolve().parent.parent / "launch"
    scenarios = {p.name.removesuffix(".launch.xml") for p in launch.glob("*.launch.xml")}
    assert scenarios and scenarios <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_displayed_topic_is_in_the_contract_with_a_matching_type_and_qos(path):
    config = yaml.safe_load(path.read_text())
    assert config["Visualization Manager"]["Global Options"]["Fixed Frame"] in (
        contract.WORLD_FRAME, contract.MAP_FRAME, contract.ODOM_FRAME)
    shown = 0
    for display in displays(path):
        kind = display["Class"]
        if kind in NO_TOPIC:
            continue
        assert kind in DISPLAY_TYPES, f"{path.name}: display class {kind} is not checked yet"
        topic_settings = display.get("Description Topic") or display["Topic"]
        name = topic_settings["Value"]
        assert name in TOPICS, f"{path.name}: '{display['Name']}' shows {name}, not in the " \
            "contract"
        topic = TOPICS[name]
        assert topic.type is DISPLAY_TYPES[kind], \
            f"{name} is {topic.type.__name__}, {kind} needs {DISPLAY_TYPES[kind].__name__}"
        assert not contract.is_ground_truth(name), f"{name}: RViz shows what the stack sees"
        reliable = topic_settings.get("Reliability Policy", "Reliable") == "Reliable"
        if topic.qos.reliability == ReliabilityPolicy.BEST_EFFORT:
            assert not reliable, f"{name} is best effort: a reliable display gets nothing"
        latched = topic_settings.get("Durability Policy", "Volatile") == "Transient Local"
        if latched:
            assert topic.qos.durability == DurabilityPolicy.TRANSIENT_LOCAL, \
                f"{name} is not latched: a transient-local display gets nothing"
        shown += 1
    assert shown >= 5
