"""Authentication: OAuth2 password flow for bearer tokens; who am I."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import ConfigDep, CurrentViewer, DbDep
from api.schemas.accounts import Me, TokenPublic
from api.schemas.common import AUTH_ERRORS
from api.security import hash_password, issue_token, verify_password
from store import accounts

router = APIRouter(prefix="/v1/auth", tags=["auth"])
# compared against when the user does not exist, so timing does not reveal user names
_DUMMY_HASH = hash_password("not-a-real-password")


@router.post("/token", response_model=TokenPublic, responses=AUTH_ERRORS)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbDep, config: ConfigDep
) -> TokenPublic:
    """Exchange a user name and password (form fields) for a bearer token."""
    user = accounts.get_user(db, form.username)
    ok = verify_password(form.password, user["password_hash"] if user else _DUMMY_HASH)
    if not ok or user is None or not user["active"]:
        raise HTTPException(
            401, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"}
        )
    value, exp = issue_token(config.secret_key, user["username"], user["role"],
                             config.token_ttl_s)  # fmt: skip
    return TokenPublic(
        access_token=value, expires_at=datetime.fromtimestamp(exp, UTC), role=user["role"]
    )


@router.get("/me", response_model=Me, responses=AUTH_ERRORS)
def me(actor: CurrentViewer) -> Me:
    """The authenticated caller and their effective role."""
    return Me(username=actor.username, role=actor.role, auth=actor.auth)
