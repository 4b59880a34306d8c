"""`hubforce.sync` stays pure: no HTTP, SQL, asyncio, connectors, store or emulators."""

from __future__ import annotations

import ast
from pathlib import Path

import hubforce.sync

FORBIDDEN = (
    "httpx",
    "sqlalchemy",
    "asyncio",
    "hubforce.connectors",
    "hubforce.store",
    "hubforce.emulators",
)
SYNC_DIR = Path(hubforce.sync.__file__).parent


def imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden_in(source: str) -> list[str]:
    found = []
    for name in imported_modules(ast.parse(source)):
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
            found.append(name)
    return found


def test_sync_modules_import_nothing_impure() -> None:
    modules = sorted(SYNC_DIR.glob("*.py"))
    assert len(modules) >= 8  # the walk really sees the package
    offenders = {
        path.name: bad for path in modules if (bad := forbidden_in(path.read_text("utf-8")))
    }
    assert offenders == {}


def test_the_check_catches_each_forbidden_import() -> None:
    assert forbidden_in("import httpx") == ["httpx"]
    assert forbidden_in("from sqlalchemy import select") == ["sqlalchemy", "sqlalchemy.select"]
    assert forbidden_in("def f():\n    import asyncio\n") == ["asyncio"]
    assert forbidden_in("from hubforce import store") == ["hubforce.store"]
    assert forbidden_in("from hubforce.connectors.records import RemoteRecord") != []
    assert forbidden_in("from hubforce.sync import values") == []
