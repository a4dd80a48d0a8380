"""Models shared by several resources."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorPublic(BaseModel):
    """Every 4xx/5xx reply: a human-readable ``detail`` (a list of problems for 422)."""

    detail: str | list = Field(
        examples=["bbox must be four numbers: min_lon,min_lat,max_lon,max_lat"]
    )


ERRORS = {
    304: {"description": "Not modified (If-None-Match / If-Modified-Since matched)"},
    400: {"model": ErrorPublic, "description": "Bad parameter"},
    404: {"model": ErrorPublic, "description": "Not found"},
    429: {"model": ErrorPublic, "description": "Rate limit exceeded (see Retry-After)"},
}
AUTH_ERRORS = {
    400: {"model": ErrorPublic, "description": "Bad value"},
    401: {"model": ErrorPublic, "description": "Missing or invalid credentials"},
    403: {"model": ErrorPublic, "description": "Role too low"},
    429: {"model": ErrorPublic, "description": "Rate limit exceeded (see Retry-After)"},
}
