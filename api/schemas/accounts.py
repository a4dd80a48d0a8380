"""Account, key, token and audit models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RoleName = Literal["viewer", "operator", "admin"]
USERNAME = r"^[A-Za-z0-9_.@-]{1,64}$"


class TokenPublic(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    role: RoleName


class Me(BaseModel):
    """Who the caller is."""

    username: str
    role: RoleName
    auth: str = Field(description="token or key:<key_id>")


class UserCreate(BaseModel):
    """A new user."""

    username: str = Field(pattern=USERNAME, examples=["lan.nguyen"])
    password: str = Field(min_length=10, max_length=256, examples=["a long passphrase"])
    role: RoleName = "viewer"


class UserUpdate(BaseModel):
    """Changes to a user (only the fields given)."""

    role: RoleName | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=256)


class UserPublic(BaseModel):
    """A user (never the password hash)."""

    username: str
    role: RoleName
    active: bool
    created_at: datetime
    updated_at: datetime


class KeyCreate(BaseModel):
    """A new API key for a user (a tool or integration)."""

    username: str = Field(pattern=USERNAME)
    role: RoleName = "viewer"
    name: str = Field("", max_length=200, examples=["dashboard wall screen"])
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class KeyPublic(BaseModel):
    """An API key's metadata (the secret is never shown again)."""

    key_id: str
    username: str
    role: RoleName
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyPublic):
    """A new key: ``api_key`` is shown this once."""

    api_key: str = Field(description="Send as X-API-Key or Authorization: Bearer.")


class AuditEntry(BaseModel):
    """One audit-log entry."""

    audit_id: int
    at: datetime
    actor: str
    actor_role: str
    auth: str
    client: str | None
    action: str = Field(examples=["incident.confirm"])
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    """Audit entries newest first."""

    entries: list[AuditEntry]
    next_cursor: str | None
