"""The package arrows of docs/ARCHITECTURE.md, enforced on the source tree.

Every ``import`` between top-level packages must follow an allowed arrow, and SQL is written only
in ``store/`` (tests may query the database directly to check what was stored).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Which project packages each top-level package may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "roadnet": frozenset(),
    "ingest": frozenset({"roadnet"}),
    "store": frozenset({"roadnet"}),
    "analytics": frozenset({"roadnet", "ingest", "store"}),
    "api": frozenset({"roadnet", "store"}),
    "dashboards": frozenset({"roadnet", "api"}),
    "simulators": frozenset({"roadnet", "ingest"}),
    "evaluation": frozenset({"roadnet", "ingest", "store", "analytics", "simulators"}),
    "itms": frozenset(
        {"roadnet", "ingest", "store", "analytics", "api", "dashboards", "simulators", "evaluation"}
    ),
}
#: bench/ (benchmarks and the reliability harness that tests share) may import all but tests/.
ALLOWED["bench"] = frozenset(ALLOWED) - {"bench"} | {"itms"}
PROJECT = frozenset(ALLOWED) | {"tests"}
#: Where SQL may be written.
SQL_HOMES = frozenset({"store", "tests"})
#: A string literal that starts like an SQL statement (the project writes keywords in capitals).
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|DATABASE|INDEX|"
    r"EXTENSION|ROLE|VIEW)|ALTER\s+(TABLE|DATABASE|ROLE)|DROP\s+(TABLE|DATABASE|ROLE)|COPY\s+\w+|"
    r"TRUNCATE|WITH\s+\w+\s+AS\s*\()\b"
)


def _modules() -> Iterator[tuple[str, Path]]:
    for package in sorted(PROJECT):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" not in path.parts:
                yield package, path


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):  # f-string: its literal parts, joined
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            yield node.lineno, text


def _violations() -> tuple[list[str], list[str]]:
    arrows, sql = [], []
    for package, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(ROOT)
        if package != "tests":
            for line, name in _imported(tree):
                top = name.split(".")[0]
                if top in PROJECT and top != package and top not in ALLOWED[package]:
                    arrows.append(f"{where}:{line} imports {name}")
        if package not in SQL_HOMES:
            for line, text in _literals(tree):
                if SQL_START.match(text):
                    sql.append(f"{where}:{line} {text.strip().splitlines()[0][:60]!r}")
    return arrows, sql


def test_every_import_follows_an_allowed_arrow() -> None:
    arrows, _ = _violations()
    assert not arrows, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(arrows)


def test_sql_is_written_only_in_store() -> None:
    _, sql = _violations()
    assert not sql, "SQL outside store/:\n" + "\n".join(sql)


def test_roadnet_is_a_leaf_and_the_table_covers_every_package() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert packages <= PROJECT, f"packages without arrows: {sorted(packages - PROJECT)}"
    assert ALLOWED["roadnet"] == frozenset()


@pytest.mark.parametrize(
    ("package", "source", "expect_arrow", "expect_sql"),
    [
        ("store", "from analytics.traversals import x\n", True, False),
        ("api", "import itms.settings\n", True, False),
        ("analytics", 'Q = "SELECT 1"\n', False, True),
        ("analytics", 'Q = f"  INSERT INTO t VALUES ({v})"\n', False, True),
        ("analytics", 'doc = "Select the best candidate"\n', False, False),
        ("itms", "from evaluation.incident_eval import run\n", False, False),
    ],
)
def test_the_checks_see_what_they_should(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    package: str,
    source: str,
    expect_arrow: bool,
    expect_sql: bool,
) -> None:
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "mod.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    arrows, sql = _violations()
    assert bool(arrows) is expect_arrow
    assert bool(sql) is expect_sql
