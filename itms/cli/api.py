"""``itms api``: the HTTP API server."""

from __future__ import annotations

import argparse

from itms.cli._common import current_settings


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from itms.wiring.api import build_app as create_app

    settings = current_settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="warning",
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms api`` to the parser."""
    s = sub.add_parser("api", help="serve the HTTP API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_api)
