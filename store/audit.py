"""The audit log: one row per write through the operator API (who, what, when, before/after)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: user name, effective role, how they authenticated, from where."""

    username: str
    role: str
    auth: str
    client: str | None = None


def record(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> int:
    """Append one entry (call it inside the transaction of the change); returns its id."""
    row = conn.execute(
        "INSERT INTO audit_log (actor, actor_role, auth, client, action, resource_type,"
        " resource_id, before, after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING audit_id",
        (
            actor.username, actor.role, actor.auth, actor.client, action, resource_type,
            resource_id, None if before is None else Jsonb(before, dumps=_dumps),
            None if after is None else Jsonb(after, dumps=_dumps),
        ),
    ).fetchone()  # fmt: skip
    assert row is not None  # INSERT … RETURNING yields its row
    return int(row[0])


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


def entries(
    conn: psycopg.Connection,
    *,
    actor: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Entries newest first, filtered; ``before_id`` is the paging cursor."""
    where: list[str] = ["true"]
    params: dict[str, Any] = {"limit": limit}
    for col, val in (("actor", actor), ("resource_type", resource_type),
                     ("resource_id", resource_id)):  # fmt: skip
        if val is not None:
            where.append(f"{col} = %({col})s")
            params[col] = val
    if since is not None:
        where.append("at >= %(since)s")
        params["since"] = since
    if before_id is not None:
        where.append("audit_id < %(before_id)s")
        params["before_id"] = before_id
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT audit_id, at, actor, actor_role, auth, client, action, resource_type,"
            f" resource_id, before, after FROM audit_log WHERE {' AND '.join(where)}"
            " ORDER BY audit_id DESC LIMIT %(limit)s",
            params,
        ).fetchall()
