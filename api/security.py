"""Credentials: password hashing (scrypt), API keys and signed bearer tokens (stdlib only).

* Passwords: ``hashlib.scrypt`` (N=2**14, r=8, p=1) with a 16-byte random salt per user,
  stored as ``scrypt$N$r$p$salt$hash`` (base64url); compared with ``hmac.compare_digest``.
* API keys: ``itms_<key_id>_<secret>``; ``key_id`` is public (12 hex chars), the 32-byte
  secret is stored as HMAC-SHA-256 under the server's ``secret_key`` (keys carry 256 bits of
  entropy, so a slow hash is not needed and every request stays fast).
* Bearer tokens: ``base64url(payload).base64url(HMAC-SHA-256(secret_key, payload))`` with
  ``sub``, ``role`` and ``exp`` (epoch seconds); the user is still looked up on every request,
  so deactivating a user or lowering a role takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
KEY_PREFIX = "itms_"
MIN_PASSWORD_LEN = 10


class InvalidCredentials(ValueError):
    """A password, key or token that does not check out."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """scrypt hash of ``password`` with a fresh salt, as one self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored scrypt hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def check_password_strength(password: str) -> None:
    """Refuse short or trivially weak passwords (``ValueError`` with the reason)."""
    if len(password) < MIN_PASSWORD_LEN:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LEN} characters")
    if len(set(password)) < 4:
        raise ValueError("password is too repetitive")


def key_hash(secret_key: str, secret: str) -> str:
    """HMAC-SHA-256 of an API key's secret part under the server secret."""
    return hmac.new(secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def new_api_key(secret_key: str) -> tuple[str, str, str]:
    """A new key: (full key to hand out once, key_id, hash to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{key_id}_{secret}", key_id, key_hash(secret_key, secret)


def split_api_key(key: str) -> tuple[str, str]:
    """(key_id, secret) of a key; ``InvalidCredentials`` when it is not shaped like one."""
    if not key.startswith(KEY_PREFIX):
        raise InvalidCredentials("not an ITMS API key")
    key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
    if len(key_id) != 12 or not secret:
        raise InvalidCredentials("malformed API key")
    return key_id, secret


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a bearer token says: user, role at issue time, expiry (epoch seconds)."""

    sub: str
    role: str
    exp: int


def issue_token(secret_key: str, username: str, role: str, ttl_s: int) -> tuple[str, int]:
    """A signed bearer token for ``username``; returns (token, expiry epoch seconds)."""
    exp = int(time.time()) + ttl_s
    payload = _b64(json.dumps({"sub": username, "role": role, "exp": exp}).encode())
    sig = hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(sig)}", exp


def verify_token(secret_key: str, token: str, *, now: float | None = None) -> TokenClaims:
    """Claims of a valid, unexpired token; raises :class:`InvalidCredentials` otherwise."""
    payload, _, sig = token.partition(".")
    want = hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(sig)
    except ValueError as exc:
        raise InvalidCredentials("malformed token") from exc
    if not hmac.compare_digest(want, given):
        raise InvalidCredentials("bad token signature")
    try:
        data = json.loads(_unb64(payload))
        claims = TokenClaims(str(data["sub"]), str(data["role"]), int(data["exp"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCredentials("malformed token") from exc
    if claims.exp <= (time.time() if now is None else now):
        raise InvalidCredentials("token expired")
    return claims


def lower_role(a: str, b: str) -> str:
    """The less privileged of two roles."""
    return a if ROLE_RANK[a] <= ROLE_RANK[b] else b
