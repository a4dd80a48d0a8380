"""Exceptions of the store."""

from __future__ import annotations

from roadnet.errors import ITMSError


class CheckpointConflict(ITMSError, RuntimeError):
    """Another consumer moved a partition's checkpoint: this one lost the partition (fenced)."""
