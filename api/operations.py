"""Operator writes: each change and its audit-log entry in one transaction.

Domain errors of the stores become HTTP errors here: not found → 404, a transition not
allowed in the current status or a stale ``expected_version`` → 409, a bad value → 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from fastapi import HTTPException

from store import audit
from store import incidents as inc
from store.audit import Actor


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map store exceptions to HTTP errors."""
    try:
        yield
    except (inc.IncidentNotFound, LookupError) as exc:
        raise HTTPException(404, str(exc)) from exc
    except (inc.InvalidTransition, inc.VersionConflict, inc.DuplicateIncident) as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


def audited(
    db: psycopg.Connection,
    actor: Actor,
    *,
    action: str,
    resource_type: str,
    resource_id: str | Callable[[dict[str, Any]], str],
    change: Callable[[], tuple[dict[str, Any] | None, dict[str, Any]]],
) -> dict[str, Any]:
    """Run ``change`` (returning ``(before, after)``) and record it, atomically; returns
    ``after``. ``resource_id`` may be a function of ``after`` (for ids made by the change)."""
    with domain_errors(), db.transaction():
        before, after = change()
        rid = resource_id(after) if callable(resource_id) else resource_id
        audit.record(db, actor, action=action, resource_type=resource_type,
                     resource_id=rid, before=before, after=after)  # fmt: skip
    return after


def incident_action(
    db: psycopg.Connection,
    actor: Actor,
    incident_id: str,
    *,
    action: str,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Apply a lifecycle action to an incident, audited."""

    def change() -> tuple[dict[str, Any], dict[str, Any]]:
        before = inc.get_incident(db, incident_id, for_update=True)
        after = inc.apply_action(
            db, incident_id, action=action, actor=actor.username, note=note,
            changes=changes, expected_version=expected_version,
        )  # fmt: skip
        return before, after

    return audited(db, actor, action=f"incident.{action}", resource_type="incident",
                   resource_id=incident_id, change=change)  # fmt: skip
