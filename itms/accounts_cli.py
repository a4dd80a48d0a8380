"""``itms users`` and ``itms keys``: bootstrap and manage operator-API accounts from a shell.

The first admin has to be created here (``itms users add NAME --role admin``); after that the
admin API does the same. Passwords come from ``ITMS_NEW_PASSWORD`` or an interactive prompt;
new API keys are printed once. Changes are written to the audit log as actor ``cli:<login>``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime, timedelta

import psycopg

from api.security import check_password_strength, hash_password, new_api_key
from itms.settings import Settings
from store import accounts, audit


def _actor() -> audit.Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return audit.Actor(f"cli:{login}", "admin", "cli")


def _password() -> str:
    pw = os.environ.get("ITMS_NEW_PASSWORD")
    if pw is None:
        pw = getpass.getpass("password: ")
        if getpass.getpass("again: ") != pw:
            raise SystemExit("passwords differ")
    check_password_strength(pw)
    return pw


def cmd_users(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """``itms users add|list|set``."""
    settings = settings or Settings()
    with psycopg.connect(settings.dsn) as conn:
        if args.action == "list":
            for u in accounts.list_users(conn):
                state = "active" if u["active"] else "inactive"
                print(f"{u['username']:24} {u['role']:9} {state}")
            return 0
        if not args.username:
            raise SystemExit("give a user name")
        if args.action == "add":
            try:
                pw = _password()
            except ValueError as exc:
                raise SystemExit(str(exc)) from exc
            row = accounts.create_user(conn, username=args.username, role=args.role,
                                       password_hash=hash_password(pw))  # fmt: skip
            audit.record(conn, _actor(), action="user.create", resource_type="user",
                         resource_id=args.username, before=None, after=row)  # fmt: skip
            print(f"created {args.username} ({args.role})")
            return 0
        before = accounts.get_user(conn, args.username)
        if before is None:
            raise SystemExit(f"no user {args.username}")
        after = accounts.update_user(
            conn, args.username, role=args.role,
            active=None if args.active is None else args.active == "yes",
        )  # fmt: skip
        before.pop("password_hash")
        audit.record(conn, _actor(), action="user.update", resource_type="user",
                     resource_id=args.username, before=before, after=after)  # fmt: skip
        print(f"updated {args.username}: {after['role']}, active={after['active']}")
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """``itms keys create|list|revoke``."""
    settings = settings or Settings()
    with psycopg.connect(settings.dsn) as conn:
        if args.action == "list":
            for k in accounts.list_keys(conn):
                state = "revoked" if k["revoked_at"] else "active"
                print(f"{k['key_id']}  {k['username']:20} {k['role']:9} {state:8} {k['name']}")
            return 0
        if args.action == "revoke":
            before, after = accounts.revoke_key(conn, args.target)
            audit.record(conn, _actor(), action="key.revoke", resource_type="api_key",
                         resource_id=args.target, before=before, after=after)  # fmt: skip
            print(f"revoked {args.target}")
            return 0
        if accounts.get_user(conn, args.target) is None:
            raise SystemExit(f"no user {args.target}")
        key, key_id, digest = new_api_key(settings.secret_key)
        expires = datetime.now(UTC) + timedelta(days=args.days) if args.days else None
        row = accounts.create_key(conn, key_id=key_id, key_hash=digest, username=args.target,
                                  role=args.role, name=args.name, expires_at=expires)  # fmt: skip
        audit.record(conn, _actor(), action="key.create", resource_type="api_key",
                     resource_id=key_id, before=None, after=row)  # fmt: skip
        print(f"key {key_id} for {args.target} ({args.role}); shown once:", file=sys.stderr)
        print(key)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``users`` and ``keys`` commands to the ``itms`` parser."""
    s = sub.add_parser("users", help="operator-API users (add the first admin here)")
    s.add_argument("action", choices=["add", "list", "set"])
    s.add_argument("username", nargs="?")
    s.add_argument("--role", choices=["viewer", "operator", "admin"])
    s.add_argument("--active", choices=["yes", "no"], help="set: (de)activate")
    s.set_defaults(func=lambda a: cmd_users(_defaults(a)))

    s = sub.add_parser("keys", help="operator-API keys (printed once)")
    s.add_argument("action", choices=["create", "list", "revoke"])
    s.add_argument("target", nargs="?", help="create: user name; revoke: key id")
    s.add_argument("--role", choices=["viewer", "operator", "admin"], default="viewer")
    s.add_argument("--name", default="", help="what the key is for")
    s.add_argument("--days", type=int, help="expires after this many days")
    s.set_defaults(func=cmd_keys)


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    if args.action == "add" and args.role is None:
        args.role = "viewer"
    return args
