"""The back-end interface: class file validation, frame validation with named reasons, stamp
checks and the back-end registry."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from foresight_perception.classical import ClassicalDetector
from foresight_perception.detector import (
    ConfigError,
    DetectionResult,
    Detector,
    Frame,
    InvalidFrame,
    check_stamp,
    load_class_catalog,
    make_detector,
    parse_class_catalog,
    validate_frame,
)
from foresight_perception.geometry import Intrinsics


def frame(width: int = 32, height: int = 24, depth_value: float = 1.2) -> Frame:
    intr = Intrinsics(40.0, 40.0, (width - 1) / 2, (height - 1) / 2, width, height)
    return Frame(rgb=np.zeros((height, width, 3), np.uint8),
                 depth=np.full((height, width), depth_value, np.float32), intrinsics=intr,
                 world_from_optical=np.eye(4), stamp=1.0)


@pytest.fixture
def raw_config(class_file) -> dict:
    return yaml.safe_load(class_file.read_text())


def test_the_cell_class_file_loads_with_every_class(catalog):
    labels = set(catalog.classes)
    assert {"peg_round", "peg_square", "peg_slot", "hole_round", "hole_square", "hole_slot",
            "tray"} <= labels
    assert catalog.classes["peg_slot"].size == (0.026, 0.050, 0.055)
    assert catalog.classes["hole_round"].position_reference == "top"
    assert catalog.classes["tray"].position_reference == "bottom"
    assert not catalog.classes["peg_round"].yaw_observable


@pytest.mark.parametrize("edit, needle", [
    (lambda c: c["classes"]["peg_round"].update(colour="purple"), "purple"),
    (lambda c: c["classes"]["peg_round"].update(kind="gadget"), "kind"),
    (lambda c: c["classes"]["hole_round"].update(rim=[0.01, 0.01]), "rim"),
    (lambda c: c["classes"]["peg_round"].update(sise=[1, 2, 3]), "sise"),
    (lambda c: c["backends"]["classical"]["parts"].update(min_height=-1), "min_height"),
    (lambda c: c.pop("surface_z"), "surface_z"),
])
def test_bad_class_files_fail_with_a_reason(edit, needle, raw_config):
    config = copy.deepcopy(raw_config)
    edit(config)
    with pytest.raises(ConfigError, match=needle):
        ClassicalDetector(parse_class_catalog(config, "test.yaml"))


def test_missing_class_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_class_catalog(tmp_path / "none.yaml")


def test_valid_frame_passes():
    validate_frame(frame())


@pytest.mark.parametrize("change, kind", [
    (lambda f: Frame(f.rgb[:, :-1], f.depth, f.intrinsics, f.world_from_optical, 1.0),
     "size"),
    (lambda f: Frame(f.rgb, f.depth.astype(np.float64), f.intrinsics, f.world_from_optical,
                     1.0), "size"),
    (lambda f: Frame(f.rgb[..., 0], f.depth, f.intrinsics, f.world_from_optical, 1.0), "size"),
    (lambda f: Frame(f.rgb, np.full_like(f.depth, np.nan), f.intrinsics,
                     f.world_from_optical, 1.0), "depth"),
    (lambda f: Frame(f.rgb, np.zeros_like(f.depth), f.intrinsics, f.world_from_optical, 1.0),
     "depth"),
    (lambda f: Frame(f.rgb, f.depth, Intrinsics(-1.0, 40.0, 15.5, 11.5, 32, 24),
                     f.world_from_optical, 1.0), "camera_info"),
    (lambda f: Frame(f.rgb, f.depth, Intrinsics(40.0, 40.0, 15.5, 11.5, 64, 48),
                     f.world_from_optical, 1.0), "size"),
    (lambda f: Frame(f.rgb, f.depth, f.intrinsics, np.eye(4) * 2.0, 1.0), "pose"),
])
def test_bad_frames_are_rejected_with_their_kind(change, kind):
    with pytest.raises(InvalidFrame) as info:
        validate_frame(change(frame()))
    assert info.value.kind == kind
    assert str(info.value)


def test_the_detector_itself_rejects_a_bad_frame(detector):
    with pytest.raises(InvalidFrame) as info:
        detector.detect(frame(depth_value=float("nan")))
    assert info.value.kind == "depth"


def test_stamp_checks():
    assert check_stamp(10.0, 9.9, 10.05, 1.0, 0.1) is None
    assert "not newer" in check_stamp(10.0, 10.0, 10.05, 1.0, 0.1)
    assert "not newer" in check_stamp(9.0, 10.0, 10.05, 1.0, 0.1)
    assert "future" in check_stamp(11.0, None, 10.0, 1.0, 0.1)
    assert "old" in check_stamp(8.0, None, 10.0, 1.0, 0.1)
    assert "not a valid time" in check_stamp(float("nan"), None, 10.0, 1.0, 0.1)
    assert "not a valid time" in check_stamp(0.0, None, 10.0, 1.0, 0.1)


def test_registry_builds_the_classical_back_end(catalog):
    detector = make_detector("classical", catalog)
    assert isinstance(detector, Detector)
    assert detector.name == "classical"
    by_path = make_detector("foresight_perception.classical:ClassicalDetector", catalog)
    assert isinstance(by_path, ClassicalDetector)


def test_registry_names_the_known_back_ends(catalog):
    with pytest.raises(ConfigError, match="classical"):
        make_detector("yolo", catalog)
    with pytest.raises(ConfigError, match="cannot be loaded"):
        make_detector("no_such_module:Thing", catalog)


def test_an_empty_frame_gives_an_empty_result(detector):
    result = detector.detect(frame())
    assert result == DetectionResult()
