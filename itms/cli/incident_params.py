"""``itms incident-params``: the incident detector's effective thresholds."""

from __future__ import annotations

import argparse

from itms.cli._common import add_incident_params, current_settings, incident_params


def cmd_incident_params(args: argparse.Namespace) -> int:
    from analytics.incidents.params_file import to_toml

    print(to_toml(incident_params(args, current_settings())), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``itms incident-params`` to the parser."""
    s = sub.add_parser(
        "incident-params",
        help="print the incident detector's effective thresholds as a TOML parameters file",
    )
    add_incident_params(s, "")
    s.set_defaults(func=cmd_incident_params)
