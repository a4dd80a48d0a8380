"""``itms stack``: the local Kafka broker and PostgreSQL cluster."""

from __future__ import annotations

import argparse
import json
import time

from itms.cli._common import current_settings


def cmd_stack(args: argparse.Namespace) -> int:
    from itms import stack

    settings = current_settings()
    if args.action == "up":
        t0 = time.monotonic()
        stack.up(settings)
        print(f"stack up in {time.monotonic() - t0:.1f} s")
        args.action = "status"
    if args.action == "down":
        stack.down(settings)
        print("stack down")
        return 0
    rows = stack.status(settings)
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        for row in rows:
            state = "running" if row.get("running") else "stopped"
            where = "external" if row.get("external") else "local"
            extra = {
                k: v for k, v in row.items() if k not in {"name", "running", "external", "address"}
            }
            print(f"{row['name']:<11} {state:<8} {where:<8} {row.get('address', '')}")
            for k, v in extra.items():
                print(f"    {k}: {v}")
    return 0 if all(r.get("running") for r in rows) or args.action == "status" else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms stack`` to the parser."""
    s = sub.add_parser("stack", help="start, stop or inspect the local Kafka and PostgreSQL")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument("--json", action="store_true", help="status as JSON")
    s.set_defaults(func=cmd_stack)
