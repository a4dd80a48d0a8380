"""Admin API: users, API keys and the audit log (admin role; every write audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import ConfigDep, CurrentAdmin, DbDep
from api.http import decode_cursor, encode_cursor
from api.operations import audited
from api.schemas.accounts import (
    AuditPage,
    KeyCreate,
    KeyCreated,
    KeyPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from api.schemas.common import AUTH_ERRORS
from api.security import check_password_strength, hash_password, new_api_key
from api.timeparams import aware
from store import accounts, audit

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=AUTH_ERRORS)
ERR = {404: {"description": "Not found"}, 409: {"description": "Exists already"}}


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k != "password_hash"}


def _strong(password: str) -> None:
    try:
        check_password_strength(password)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.get("/users", response_model=list[UserPublic])
def list_users(db: DbDep, actor: CurrentAdmin) -> list[dict[str, Any]]:
    """Every user."""
    return accounts.list_users(db)


@router.post("/users", response_model=UserPublic, status_code=201, responses=ERR)
def create_user(db: DbDep, actor: CurrentAdmin, body: UserCreate) -> dict[str, Any]:
    """Create a user (the password is stored as a salted scrypt hash)."""
    _strong(body.password)

    def change() -> tuple[None, dict[str, Any]]:
        try:
            row = accounts.create_user(db, username=body.username, role=body.role,
                                       password_hash=hash_password(body.password))  # fmt: skip
            return None, row
        except accounts.AccountExists as exc:
            raise HTTPException(409, str(exc)) from exc

    return audited(db, actor, action="user.create", resource_type="user",
                   resource_id=body.username, change=change)  # fmt: skip


@router.patch("/users/{username}", response_model=UserPublic, responses=ERR)
def update_user(db: DbDep, actor: CurrentAdmin, username: str, body: UserUpdate) -> dict[str, Any]:
    """Change a user's role, deactivate / reactivate them, or set a new password."""
    if body.password is not None:
        _strong(body.password)
    if username == actor.username and (body.active is False or body.role not in (None, "admin")):
        raise HTTPException(400, "admins cannot demote or deactivate themselves")

    def change() -> tuple[dict[str, Any], dict[str, Any]]:
        before = accounts.get_user(db, username)
        if before is None:
            raise HTTPException(404, f"no user {username!r}")
        after = accounts.update_user(
            db, username, role=body.role, active=body.active,
            password_hash=None if body.password is None else hash_password(body.password),
        )  # fmt: skip
        b = _public(before)
        if body.password is not None:
            b["password"], after = "(old)", {**after, "password": "(changed)"}
        return b, after

    return audited(db, actor, action="user.update", resource_type="user", resource_id=username,
                   change=change)  # fmt: skip


@router.get("/keys", response_model=list[KeyPublic])
def list_keys(db: DbDep, actor: CurrentAdmin, username: str | None = None) -> list[dict]:
    """API keys (metadata only), newest first."""
    return accounts.list_keys(db, username)


@router.post("/keys", response_model=KeyCreated, status_code=201, responses=ERR)
def create_key(
    db: DbDep, config: ConfigDep, actor: CurrentAdmin, body: KeyCreate
) -> dict[str, Any]:
    """Issue an API key for a user; the key is in this reply only (store it safely)."""
    user = accounts.get_user(db, body.username)
    if user is None:
        raise HTTPException(404, f"no user {body.username!r}")
    key, key_id, digest = new_api_key(config.secret_key)
    expires = None
    if body.expires_in_days:
        expires = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    row = audited(
        db, actor, action="key.create", resource_type="api_key", resource_id=key_id,
        change=lambda: (None, accounts.create_key(
            db, key_id=key_id, key_hash=digest, username=body.username, role=body.role,
            name=body.name, expires_at=expires)),
    )  # fmt: skip
    return {**row, "api_key": key}


@router.delete("/keys/{key_id}", response_model=KeyPublic, responses=ERR)
def revoke_key(db: DbDep, actor: CurrentAdmin, key_id: str) -> dict[str, Any]:
    """Revoke an API key (at once, for every API process)."""
    return audited(db, actor, action="key.revoke", resource_type="api_key", resource_id=key_id,
                   change=lambda: accounts.revoke_key(db, key_id))  # fmt: skip


@router.get("/audit", response_model=AuditPage)
def audit_log(
    db: DbDep,
    actor: CurrentAdmin,
    user: str | None = Query(None, max_length=64, description="Entries by this actor."),
    resource_type: str | None = Query(None, max_length=64, examples=["incident"]),
    resource_id: str | None = Query(None, max_length=200),
    since: Annotated[datetime | None, Query(description="RFC 3339")] = None,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The audit log newest first: who changed what, when, before and after."""
    before_id = None
    if cursor:
        raw = decode_cursor(cursor, 1)[0]
        if not raw.isdigit() or len(raw) > 18:
            raise HTTPException(400, "cursor is not valid")
        before_id = int(raw)
    rows = audit.entries(db, actor=user, resource_type=resource_type, resource_id=resource_id,
                         since=aware(since), before_id=before_id, limit=limit + 1)  # fmt: skip
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor(str(rows[-1]["audit_id"]))
    return {"entries": rows, "next_cursor": nxt}
