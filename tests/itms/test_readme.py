"""The README stays the front door: short, its command table in step with the ``itms`` parser,
its links into ``docs/`` pointing at pages (and headings) that exist."""

from __future__ import annotations

import argparse
import re
import unicodedata
from pathlib import Path

import pytest

from itms.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
MAX_LINES = 300


_ROW = re.compile(r"^\|\s*`itms(?P<words>(?: [a-z][a-z0-9-]*)*)`\s*\|")
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def _subcommand_choices(parser: argparse.ArgumentParser) -> list[tuple[str, object]]:
    """The (name, sub-parser or None) pairs one level below ``parser``.

    Real sub-parsers (``add_subparsers``) are walked; a command whose first positional argument
    takes a fixed set of words (``itms stack up|down|status``) has those words as subcommands.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            out: list[tuple[str, object]] = []
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases share the parser of the name before them
                    seen.add(id(sub))
                    out.append((name, sub))
            return out
    positionals = [a for a in parser._actions if not a.option_strings]
    if positionals and positionals[0].choices:
        return [(str(c), None) for c in positionals[0].choices]
    return []


def parser_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every complete command the parser accepts, as ``"itms stack up"``-style strings."""
    found: set[str] = set()
    for name, sub in _subcommand_choices(parser):
        path = (*prefix, name)
        if isinstance(sub, argparse.ArgumentParser) and _subcommand_choices(sub):
            found |= parser_commands(sub, path)
        else:
            found.add(" ".join(("itms", *path)))
    return found


def readme_commands(text: str) -> set[str]:
    """The commands named in the first cell of the README's command-table rows."""
    found: set[str] = set()
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            found.add("itms" + m["words"])
    return found


def _slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule)."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {
        _slug(line.lstrip("#"))
        for line in page.read_text(encoding="utf-8").splitlines()
        if re.match(r"^#{1,6} ", line)
    }


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_command_table_matches_the_parser(readme: str) -> None:
    in_parser = parser_commands(build_parser())
    in_readme = readme_commands(readme)
    assert in_parser, "no commands found in the parser"
    missing = sorted(in_parser - in_readme)
    unknown = sorted(in_readme - in_parser)
    assert not missing, f"commands missing from the README's command table: {missing}"
    assert not unknown, f"README's command table names commands the parser lacks: {unknown}"


def test_parser_walk_sees_subcommands() -> None:
    commands = parser_commands(build_parser())
    assert {"itms stack up", "itms worker incidents", "itms keys revoke", "itms api"} <= commands
    assert "itms stack" not in commands


def test_readme_is_short(readme: str) -> None:
    n = len(readme.splitlines())
    assert n <= MAX_LINES, f"README.md has {n} lines; depth belongs in docs/ (at most {MAX_LINES})"


def test_docs_links_point_at_existing_pages(readme: str) -> None:
    broken = []
    for m in _LINK.finditer(readme):
        target = m["target"]
        path, _, anchor = target.partition("#")
        if not path.startswith("docs/"):
            continue
        page = REPO_ROOT / path
        if not page.exists():
            broken.append(target)
            continue
        if anchor and page.suffix == ".md" and anchor not in _anchors(page):
            broken.append(target)
    assert not broken, f"README links into docs/ that lead nowhere: {broken}"


def test_every_docs_page_is_linked_from_the_readme(readme: str) -> None:
    linked = {m["target"].partition("#")[0] for m in _LINK.finditer(readme)}
    pages = {f"docs/{p.name}" for p in (REPO_ROOT / "docs").glob("*.md")}
    assert not sorted(pages - linked), f"docs pages not reachable from the README: {pages - linked}"


def test_readme_own_anchors_exist(readme: str) -> None:
    own = {_slug(line.lstrip("#")) for line in readme.splitlines() if re.match(r"^#{1,6} ", line)}
    wanted = {m["target"][1:] for m in _LINK.finditer(readme) if m["target"].startswith("#")}
    assert wanted <= own, f"README links to headings it does not have: {sorted(wanted - own)}"
