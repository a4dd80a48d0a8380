"""Where the SUMO programs are: the ``eclipse-sumo`` wheel brings ``sumo`` and
``netconvert``; ``SUMO_HOME`` points at another installation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class SumoNotFound(RuntimeError):
    """SUMO is not installed where the project looks for it."""


def sumo_home() -> Path:
    """The SUMO installation: ``SUMO_HOME``, else the one of the ``eclipse-sumo`` package."""
    env = os.environ.get("SUMO_HOME")
    if env:
        return Path(env)
    try:
        import sumo
    except ImportError as exc:
        hint = "install the eclipse-sumo package, or set SUMO_HOME"
        raise SumoNotFound(f"SUMO is not installed: {hint}") from exc
    return Path(sumo.SUMO_HOME)


def binary(name: str) -> str:
    """Path of a SUMO program (``sumo``, ``netconvert``, ``duarouter``, ...)."""
    path = sumo_home() / "bin" / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise SumoNotFound(f"{name} not found in {sumo_home() / 'bin'} nor on PATH")
    return found
