"""What ``itms --help`` promises about defaults matches what the commands do."""

from __future__ import annotations

import argparse

from itms.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_network_option_names_the_settings_network_as_its_default() -> None:
    helps = {
        name: action.help
        for name, sub in _subparsers(build_parser()).items()
        for action in sub._actions
        if "--network" in action.option_strings
    }
    assert {"worker", "simulate", "network", "detectors", "mapmatch", "demo"} <= set(helps)
    wrong = {name: text for name, text in helps.items() if "ITMS_NETWORK" not in (text or "")}
    assert not wrong, f"--network help that hides ITMS_NETWORK: {wrong}"
