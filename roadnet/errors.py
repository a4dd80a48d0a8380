"""The project's root exception."""

from __future__ import annotations


class ITMSError(Exception):
    """Root of every error the project raises on purpose."""
