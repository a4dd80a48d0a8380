"""Operator-API accounts and API keys (hashes only; hashing lives in :mod:`api.security`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_USER_COLS = "username, role, active, created_at, updated_at"
_KEY_COLS = "key_id, username, role, name, created_at, expires_at, revoked_at, last_used_at"


class AccountExists(ValueError):
    """A user of that name exists already."""


class AccountNotFound(LookupError):
    """No such user or key."""


def _returned(row: dict[str, Any] | None) -> dict[str, Any]:
    """The row of an ``INSERT``/``UPDATE … RETURNING`` that matched (never ``None``)."""
    assert row is not None
    return row


def create_user(
    conn: psycopg.Connection, *, username: str, password_hash: str, role: str
) -> dict[str, Any]:
    """Insert a user; raises :class:`AccountExists` when the name is taken."""
    with conn.cursor(row_factory=dict_row) as cur:
        try:
            with conn.transaction():
                return _returned(cur.execute(
                    "INSERT INTO api_user (username, password_hash, role) VALUES (%s, %s, %s)"
                    f" RETURNING {_USER_COLS}",
                    (username, password_hash, role),
                ).fetchone())  # fmt: skip
        except psycopg.errors.UniqueViolation as exc:
            raise AccountExists(f"user {username!r} exists") from exc


def get_user(conn: psycopg.Connection, username: str) -> dict[str, Any] | None:
    """A user with its password hash, or ``None``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_USER_COLS}, password_hash FROM api_user WHERE username = %s", (username,)
        ).fetchone()


def list_users(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every user (no hashes), by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_USER_COLS} FROM api_user ORDER BY username").fetchall()


def update_user(
    conn: psycopg.Connection,
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    password_hash: str | None = None,
) -> dict[str, Any]:
    """Change role, active flag and/or password; raises :class:`AccountNotFound`."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "UPDATE api_user SET role = coalesce(%s, role), active = coalesce(%s, active),"
            " password_hash = coalesce(%s, password_hash), updated_at = now()"
            f" WHERE username = %s RETURNING {_USER_COLS}",
            (role, active, password_hash, username),
        ).fetchone()
    if row is None:
        raise AccountNotFound(f"no user {username!r}")
    return row


def create_key(
    conn: psycopg.Connection,
    *,
    key_id: str,
    key_hash: str,
    username: str,
    role: str,
    name: str,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """Store a new API key (its hash)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return _returned(cur.execute(
            "INSERT INTO api_key (key_id, key_hash, username, role, name, expires_at)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_KEY_COLS}",
            (key_id, key_hash, username, role, name, expires_at),
        ).fetchone())  # fmt: skip


def get_key(conn: psycopg.Connection, key_id: str) -> dict[str, Any] | None:
    """A key with its hash and its owner's role and active flag, or ``None``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT k.key_id, k.key_hash, k.username, k.role, k.expires_at, k.revoked_at,"
            " u.role AS user_role, u.active AS user_active"
            " FROM api_key k JOIN api_user u USING (username) WHERE k.key_id = %s",
            (key_id,),
        ).fetchone()


def list_keys(conn: psycopg.Connection, username: str | None = None) -> list[dict[str, Any]]:
    """Keys (no hashes), newest first; of one user when ``username`` is given."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_KEY_COLS} FROM api_key WHERE %(u)s::text IS NULL OR username = %(u)s"
            " ORDER BY created_at DESC, key_id",
            {"u": username},
        ).fetchall()


def revoke_key(conn: psycopg.Connection, key_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Revoke a key (idempotent); returns (before, after); raises :class:`AccountNotFound`."""
    with conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute(
            f"SELECT {_KEY_COLS} FROM api_key WHERE key_id = %s FOR UPDATE", (key_id,)
        ).fetchone()
        if before is None:
            raise AccountNotFound(f"no key {key_id!r}")
        after = cur.execute(
            "UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s"
            f" RETURNING {_KEY_COLS}",
            (key_id,),
        ).fetchone()
    return before, _returned(after)


def touch_key(conn: psycopg.Connection, key_id: str) -> None:
    """Record a key's use (at most once a minute, to keep writes rare)."""
    conn.execute(
        "UPDATE api_key SET last_used_at = now() WHERE key_id = %s"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        (key_id,),
    )
