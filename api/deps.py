"""Typed dependencies shared by the routes (``Annotated`` aliases).

Authentication for the operator API: an API key (``X-API-Key: itms_…`` or
``Authorization: Bearer itms_…``) or a bearer token from ``POST /v1/auth/token``. The user is
looked up on every request; a key acts with the lower of its own and its owner's role.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from psycopg_pool import ConnectionPool

from api.config import ApiConfig
from api.network_view import NetworkView
from api.security import (
    KEY_PREFIX,
    ROLE_RANK,
    InvalidCredentials,
    key_hash,
    lower_role,
    split_api_key,
    verify_token,
)
from store import accounts
from store.audit import Actor


async def get_config(request: Request) -> ApiConfig:
    """The configuration the app was built with."""
    return request.app.state.config


def get_db(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled database connection for one request (committed when the request succeeds)."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


async def get_network(request: Request) -> NetworkView:
    """The process's in-memory view of the network and its current state."""
    return request.app.state.network


ConfigDep = Annotated[ApiConfig, Depends(get_config)]
DbDep = Annotated[psycopg.Connection, Depends(get_db)]
NetworkDep = Annotated[NetworkView, Depends(get_network)]

_oauth2 = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token", auto_error=False, description="Bearer token or API key."
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (itms_…).")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def _key_actor(db: psycopg.Connection, config: ApiConfig, key: str, client: str | None) -> Actor:
    try:
        key_id, secret = split_api_key(key)
    except InvalidCredentials as exc:
        raise _unauthorized(str(exc)) from exc
    row = accounts.get_key(db, key_id)
    if row is None or not _same(row["key_hash"], key_hash(config.secret_key, secret)):
        raise _unauthorized("invalid API key")
    if row["revoked_at"] is not None:
        raise _unauthorized("API key revoked")
    if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
        raise _unauthorized("API key expired")
    if not row["user_active"]:
        raise _unauthorized("user is deactivated")
    accounts.touch_key(db, key_id)
    role = lower_role(row["role"], row["user_role"])
    return Actor(row["username"], role, f"key:{key_id}", client)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def get_actor(
    request: Request,
    db: DbDep,
    config: ConfigDep,
    token: Annotated[str | None, Depends(_oauth2)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Actor:
    """The authenticated caller; 401 without valid credentials."""
    client = request.client.host if request.client else None
    if api_key:
        return _key_actor(db, config, api_key, client)
    if not token:
        raise _unauthorized("authentication required: a bearer token or an X-API-Key")
    if token.startswith(KEY_PREFIX):
        return _key_actor(db, config, token, client)
    try:
        claims = verify_token(config.secret_key, token)
    except InvalidCredentials as exc:
        raise _unauthorized(str(exc)) from exc
    user = accounts.get_user(db, claims.sub)
    if user is None or not user["active"]:
        raise _unauthorized("user is unknown or deactivated")
    return Actor(user["username"], lower_role(claims.role, user["role"]), "token", client)


def require_role(role: str) -> Callable[..., Actor]:
    """A dependency admitting callers with at least ``role`` (403 otherwise)."""

    def check(actor: Annotated[Actor, Depends(get_actor)]) -> Actor:
        if ROLE_RANK[actor.role] < ROLE_RANK[role]:
            raise HTTPException(403, f"this needs the {role} role (you are {actor.role})")
        return actor

    return check


CurrentViewer = Annotated[Actor, Depends(require_role("viewer"))]
CurrentOperator = Annotated[Actor, Depends(require_role("operator"))]
CurrentAdmin = Annotated[Actor, Depends(require_role("admin"))]
