"""Incident-detection thresholds from a TOML file and ``section.key=value`` overrides.

Every method's thresholds live in a frozen ``*Params`` dataclass with documented defaults.
A control centre changes them without touching code: a TOML file whose tables mirror the
dataclasses (a table per nested dataclass, a key per field) holds only what differs from
the defaults, and single values can be set on the command line as dotted paths::

    availability_lag_s = 45.0          # a field of the top-level dataclass

    [detector.california8]
    t1 = 0.10                          # occupancy fraction 0-1, like the dataclass field

    [detector.probe_overdue]
    min_vehicles = 3

    --set detector.fusion.unusual_z=3.5 --set tracker.confirm_minutes=2

Values are checked against the field types (an integer field refuses 2.5, a float field
takes 2 as 2.0, a tuple field takes an array); an unknown table or key is an error that
lists the known ones, so a typo never silently leaves a default in force. Units are those
of the dataclass fields (see their docstrings).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ParamsError(ValueError):
    """A parameters file or override that does not fit the dataclasses."""


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` → (``["a", "b", "c"]``, value). The value is read as a TOML value
    (``3``, ``2.5``, ``true``, ``[1, 2]``, ``"text"``); anything TOML cannot read is taken
    as a bare string."""
    key, sep, raw = text.partition("=")
    path = [p.strip() for p in key.split(".")]
    if not sep or not all(path):
        raise ParamsError(f"override {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def load_overrides(path: str | Path | None = None, sets: Iterable[str] = ()) -> dict[str, Any]:
    """The nested override mapping of a TOML file (``None``: none) with the dotted
    ``sets`` applied on top, in order."""
    merged: dict[str, Any] = {}
    if path is not None:
        try:
            merged = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ParamsError(f"parameters file {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ParamsError(f"parameters file {path}: not valid TOML: {exc}") from exc
    for text in sets:
        keys, value = parse_assignment(text)
        node = merged
        for k in keys[:-1]:
            nxt = node.setdefault(k, {})
            if not isinstance(nxt, dict):
                raise ParamsError(f"override {text!r}: {k} is a value, not a table")
            node = nxt
        node[keys[-1]] = value
    return merged


def apply_overrides(base: T, overrides: Mapping[str, Any], where: str = "") -> T:
    """A copy of the dataclass instance ``base`` with ``overrides`` applied (nested
    mappings for nested dataclasses), each value checked against its field's type."""
    fields = {f.name: f for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(type(base))
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        name = f"{where}{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ParamsError(f"unknown parameter {name!r} (known here: {known})")
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ParamsError(f"{name} is a table of parameters, got {value!r}")
            changes[key] = apply_overrides(current, value, f"{name}.")
        else:
            changes[key] = _checked(name, value, hints[key])
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]


def _checked(name: str, value: Any, hint: Any) -> Any:
    """``value`` converted to the field type ``hint``, or :class:`ParamsError`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        errors = []
        for a in options:
            try:
                return _checked(name, value, a)
            except ParamsError as exc:
                errors.append(str(exc))
        raise ParamsError(errors[0] if errors else f"{name}: no value allowed")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{name} takes an array, got {value!r}")
        item = args[0] if args else Any
        return tuple(_checked(f"{name}[{i}]", v, item) for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{name} takes true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{name} takes an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsError(f"{name} takes a number, got {value!r}")
        if math.isnan(value):
            raise ParamsError(f"{name} takes a number, got nan")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ParamsError(f"{name} takes a string, got {value!r}")
        return value
    return value


def to_toml(params: Any) -> str:
    """The dataclass instance ``params`` as a TOML document that :func:`load_overrides`
    reads back to the same values (top-level fields first, then a table per nested
    dataclass)."""
    lines: list[str] = []
    _emit(params, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit(obj: Any, path: list[str], lines: list[str]) -> None:
    nested = []
    if path:
        lines.append(f"\n[{'.'.join(path)}]")
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            nested.append((f.name, v))
        elif v is not None:
            lines.append(f"{f.name} = {_value(v)}")
    for name, v in nested:
        _emit(v, [*path, name], lines)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
