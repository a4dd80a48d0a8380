"""Exceptions of the ingest stage."""

from __future__ import annotations

from roadnet.errors import ITMSError


class InvalidMessage(ITMSError, ValueError):
    """A feed message broke its contract; ``reason`` says how, for the dead-letter topic.

    ``code`` is a short machine-readable class of the problem (``decode``,
    ``schema``, ``range``, ``too_old``, ``future``, ``too_large``, ``duplicate``).
    """

    def __init__(self, reason: str, *, code: str = "schema") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class FeedDecodeError(ITMSError, ValueError):
    """A feed file or response that cannot be read at all (a truncated or corrupt
    GTFS-Realtime message, a broken gzip stream); the message says where it breaks."""
