"""The layering rules of the project, checked on the source itself.

Only the Teams edge (``bot/teams/``) and ``app.py`` may import botbuilder, so a later move to
the Microsoft 365 Agents SDK or Teams SDK v2 touches nothing else; the domain packages do no
I/O and import no web, database or Bot Framework code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOTBUILDER = ("botbuilder", "botframework")
PURE_PACKAGES = ("policy_rules", "cards", "wg")
IMPURE_MODULES = (
    *BOTBUILDER,
    "aiohttp",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "msal",
    "requests",
    "socket",
    "urllib.request",
    "http.client",
    "bot",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources() -> list[Path]:
    skip = {".venv", "tests", "bench", ".git", "node_modules"}
    return [p for p in ROOT.rglob("*.py") if not skip.intersection(p.relative_to(ROOT).parts)]


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_sources_found() -> None:
    """Guard against the scan silently finding nothing."""
    found = {p.relative_to(ROOT).parts[0] for p in _sources()}
    assert {"bot", "policy_rules", "cards", "wg", "app.py"} <= found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_botbuilder_only_in_the_teams_edge(path: Path) -> None:
    """botbuilder/botframework imports appear only in bot/teams/ and app.py."""
    rel = path.relative_to(ROOT)
    if rel.parts[:2] == ("bot", "teams") or rel == Path("app.py"):
        return
    offending = sorted(n for n in _imports(path) if _matches(n, BOTBUILDER))
    assert not offending, f"{rel} imports {offending}; only bot/teams/ and app.py may"


@pytest.mark.parametrize(
    "path",
    [p for p in _sources() if p.relative_to(ROOT).parts[0] in PURE_PACKAGES],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_domain_packages_are_pure(path: Path) -> None:
    """policy_rules/, cards/ and wg/ import no web, database, network or bot code."""
    offending = sorted(n for n in _imports(path) if _matches(n, IMPURE_MODULES))
    assert not offending, f"{path.relative_to(ROOT)} imports {offending}"
