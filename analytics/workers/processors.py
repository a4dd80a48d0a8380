"""What a transactional worker runs: the :class:`Processor` protocol and its no-op base.

A processor turns one feed's valid messages into pending results, writes them inside the
checkpoint transaction and forgets them once committed. Optional capabilities are explicit:
a class sets the flags below and overrides the methods that go with them (the base class
:class:`ProcessorBase` provides no-op defaults), so the worker never probes for methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol

import psycopg

Part = tuple[str, int]
"""A Kafka partition: (topic, partition number)."""


class Results(Protocol):
    """Pending results that can be stored: a processor itself, or what it detached."""

    def prepare(self, conn: psycopg.Connection) -> None:
        """Runs before the write transaction (e.g. to create time partitions)."""

    def store(self, conn: psycopg.Connection) -> None:
        """Writes the results inside the checkpoint transaction."""


class Processor(Results, Protocol):
    """A worker's logic. ``process`` adds a partition's valid messages (in offset order) to
    the pending results, ``store`` writes them inside the checkpoint transaction and
    ``clear`` forgets them once committed (or abandoned); ``pending`` counts them.

    Capabilities (flags, with the methods that go with them):

    * ``maintains``: ``maintain(conn)`` runs every ``maintain_every_s`` seconds;
    * ``detachable``: ``detach()`` hands the pending results over, so checkpoints are
      written by a background thread while processing goes on;
    * ``stamps_known_at``: ``process_known(part, messages, at)`` stamps each result it adds
      with ``at``, when it became known (see :mod:`analytics.workers.event_time`).

    State: ``snapshot(part)`` (``None``: stateless) is saved with the checkpoint,
    ``restore(part, blob | None)`` reloads it when a partition is assigned and
    ``release(part)`` drops it when revoked.
    """

    maintains: ClassVar[bool]
    detachable: ClassVar[bool]
    stamps_known_at: ClassVar[bool]

    def process(self, part: Part, messages: Sequence[Any]) -> None: ...

    def process_known(self, part: Part, messages: Sequence[Any], at: datetime) -> None: ...

    def clear(self) -> None: ...

    def pending(self) -> int: ...

    def maintain(self, conn: psycopg.Connection) -> None: ...

    def detach(self) -> Results: ...

    def snapshot(self, part: Part) -> bytes | None: ...

    def restore(self, part: Part, blob: bytes | None) -> None: ...

    def release(self, part: Part) -> None: ...


class ProcessorBase:
    """No-op defaults of the optional :class:`Processor` methods (no capabilities, no state);
    subclasses define ``process``, ``store``, ``clear`` and ``pending``."""

    maintains: ClassVar[bool] = False
    detachable: ClassVar[bool] = False
    stamps_known_at: ClassVar[bool] = False

    def process(self, part: Part, messages: Sequence[Any]) -> None:
        raise NotImplementedError

    def store(self, conn: psycopg.Connection) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def pending(self) -> int:
        raise NotImplementedError

    def process_known(self, part: Part, messages: Sequence[Any], at: datetime) -> None:
        """Process without stamping (processors whose results carry no ``known_at``)."""
        self.process(part, messages)

    def prepare(self, conn: psycopg.Connection) -> None:
        """Nothing to prepare."""

    def maintain(self, conn: psycopg.Connection) -> None:
        """Nothing to maintain."""

    def detach(self) -> Results:
        raise TypeError(f"{type(self).__name__} cannot detach its results")

    def snapshot(self, part: Part) -> bytes | None:
        """Stateless: nothing to save."""
        return None

    def restore(self, part: Part, blob: bytes | None) -> None:
        """Stateless: nothing to reload."""

    def release(self, part: Part) -> None:
        """Stateless: nothing to drop."""
