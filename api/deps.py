"""Typed dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool

from itms.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def get_db(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled database connection for one request."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[psycopg.Connection, Depends(get_db)]
