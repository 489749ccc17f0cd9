"""Parameters -> frozen dataclass, validated once at start (STYLE rule 4).

A node's parameters are a frozen dataclass whose fields carry their description and allowed
range in `field(metadata=...)` (built with `param()`). `validate_params` checks a dict of
values against it without ROS, so the core and the tests never need a node; the node side
(`foresight_common.node_support.declare_parameters`) declares them with descriptors and
calls this.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class ParameterError(ValueError):
    """A parameter is missing or invalid; the message is one line: key, value, allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"invalid parameter '{key}': got {value!r}, allowed: {allowed}")
        self.key = key
        self.value = value
        self.allowed = allowed


def param(description: str, *, low: float | None = None, high: float | None = None,
          choices: Sequence[Any] | None = None, min_len: int | None = None,
          length: int | None = None, non_empty: bool = False) -> dict[str, Any]:
    """Metadata for a parameter field: what it means and what is allowed."""
    return {"description": description, "low": low, "high": high,
            "choices": tuple(choices) if choices is not None else None,
            "min_len": min_len, "length": length, "non_empty": non_empty}


def describe_allowed(meta: Mapping[str, Any], kind: type) -> str:
    parts = [kind.__name__]
    if meta.get("choices"):
        parts = ["one of " + ", ".join(repr(c) for c in meta["choices"])]
    if meta.get("low") is not None or meta.get("high") is not None:
        low = meta.get("low")
        high = meta.get("high")
        parts.append(f"in [{'-inf' if low is None else low}, {'inf' if high is None else high}]")
    if meta.get("length") is not None:
        parts.append(f"exactly {meta['length']} values")
    if meta.get("min_len") is not None:
        parts.append(f"at least {meta['min_len']} values")
    if meta.get("non_empty"):
        parts.append("non-empty")
    return " ".join(parts)


def _coerce(key: str, value: Any, default: Any, meta: Mapping[str, Any]) -> Any:
    kind = type(default)
    allowed = describe_allowed(meta, kind)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ParameterError(key, value, allowed)
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(key, value, allowed)
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(key, value, allowed)
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(key, value, allowed)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ParameterError(key, value, allowed)
        if meta.get("non_empty") and not value:
            raise ParameterError(key, value, allowed)
    elif isinstance(default, (tuple, list)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ParameterError(key, value, allowed)
        value = tuple(value)
        if meta.get("length") is not None and len(value) != meta["length"]:
            raise ParameterError(key, list(value), allowed)
        if meta.get("min_len") is not None and len(value) < meta["min_len"]:
            raise ParameterError(key, list(value), allowed)
        element = type(default[0]) if default else None
        if element is float:
            if any(isinstance(v, bool) or not isinstance(v, (int, float))
                   or not math.isfinite(v) for v in value):
                raise ParameterError(key, list(value), allowed)
            value = tuple(float(v) for v in value)
        for v in value:
            _check_range(key, v, meta, allowed)
        return value
    _check_range(key, value, meta, allowed)
    if meta.get("choices") and value not in meta["choices"]:
        raise ParameterError(key, value, allowed)
    return value


def _check_range(key: str, value: Any, meta: Mapping[str, Any], allowed: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if meta.get("low") is not None and value < meta["low"]:
        raise ParameterError(key, value, allowed)
    if meta.get("high") is not None and value > meta["high"]:
        raise ParameterError(key, value, allowed)


def validate_params(cls: type[T], values: Mapping[str, Any]) -> T:
    """Build the frozen dataclass `cls` from `values`, checking type, range and choices.

    Missing keys take the field default; unknown keys are an error (a typo in a YAML file
    must not pass silently).
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ParameterError(unknown[0], values[unknown[0]],
                             "one of the declared parameters: " + ", ".join(sorted(fields)))
    kwargs = {}
    for name, field in fields.items():
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        if name not in values:
            kwargs[name] = default
            continue
        kwargs[name] = _coerce(name, values[name], default, field.metadata or {})
    return cls(**kwargs)


def field_defaults(cls: type) -> dict[str, tuple[Any, Mapping[str, Any]]]:
    """name -> (default, metadata) of every parameter field, for declaring them on a node."""
    result = {}
    for field in dataclasses.fields(cls):
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        result[field.name] = (default, field.metadata or {})
    return result
