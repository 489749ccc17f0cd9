from dataclasses import dataclass, field

import pytest

from foresight_common.params import ParameterError, param, validate_params


@dataclass(frozen=True)
class Example:
    rate_hz: float = field(default=15.0, metadata=param("rate", low=1.0, high=60.0))
    mode: str = field(default="world_model", metadata=param(
        "mode", choices=("world_model", "reactive")))
    size: tuple[float, ...] = field(default=(1.0, 2.0, 3.0), metadata=param("size", length=3))
    count: int = field(default=3, metadata=param("count", low=0, high=10))
    enabled: bool = field(default=True, metadata=param("flag"))


def test_defaults_and_coercion():
    cfg = validate_params(Example, {"rate_hz": 30, "size": [0, 1, 2]})
    assert cfg.rate_hz == 30.0 and isinstance(cfg.rate_hz, float)
    assert cfg.size == (0.0, 1.0, 2.0)
    assert cfg.mode == "world_model" and cfg.count == 3 and cfg.enabled


@pytest.mark.parametrize("values, key, fragment", [
    ({"rate_hz": 0.5}, "rate_hz", "in [1.0, 60.0]"),
    ({"rate_hz": float("nan")}, "rate_hz", "float"),
    ({"mode": "psychic"}, "mode", "'world_model', 'reactive'"),
    ({"size": [1.0, 2.0]}, "size", "exactly 3 values"),
    ({"count": 2.5}, "count", "int"),
    ({"enabled": "yes"}, "enabled", "bool"),
    ({"rate_hx": 3.0}, "rate_hx", "declared parameters"),
])
def test_invalid_values_name_key_value_and_allowed(values, key, fragment):
    with pytest.raises(ParameterError) as info:
        validate_params(Example, values)
    message = str(info.value)
    assert f"'{key}'" in message and fragment in message
    assert "\n" not in message
