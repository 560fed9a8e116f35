"""Imports run one way, downward (ARCHITECTURE.md): a layer may import only what it stands on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOT = {
    "gateway",
    "gateway.cli",
    "gateway.cli_admin",
    "gateway.cli_couple",
    "gateway.cli_errors",
    "gateway.cli_output",
    "gateway.cli_run",
    "gateway.cli_simulate",
    "gateway.cli_store",
    "gateway.cli_sync",
    "gateway.cli_worker",
    "gateway.app",
    "gateway.demo",
    "gateway.serving",
    "gateway.__main__",
}
BASE = {"gateway.domain", "gateway.errors", "gateway.config"}

# layer prefix -> prefixes it may import (besides itself and third-party libraries)
ALLOWED: dict[str, set[str]] = {
    "gateway.domain": set(),
    "gateway.errors": set(),
    "gateway.config": {"gateway.errors"},
    "gateway.cache": {"gateway.errors", "gateway.config"},
    "gateway.simulators": set(),
    "gateway.upstream": BASE,
    "gateway.store": BASE,
    "gateway.sync": BASE | {"gateway.upstream", "gateway.store", "gateway.cache"},
    "gateway.services": BASE | {"gateway.sync", "gateway.upstream", "gateway.store", "gateway.cache"},
    "gateway.web": BASE | {"gateway.services", "schema", "resolvers"},
    "resolvers": {"gateway.services", "gateway.domain", "gateway.errors", "schema.inputs", "schema.enums"},
    "schema": {"resolvers", "gateway.domain", "gateway.errors"},
}
# Only the upstream layer speaks HTTP to ERP/CRM, only the store speaks SQL. The simulators stand
# in for Microsoft's servers: they keep their own data in SQLite and call webhook subscribers.
LIBRARY_OWNERS = {
    "httpx": {"gateway.upstream", "gateway.simulators"},
    "sqlalchemy": {"gateway.store", "gateway.simulators"},
    "sqlmodel": {"gateway.store"},
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("gateway", "schema", "resolvers"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((".".join(parts), path))
    return found


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays inside its own package
                continue
            base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> str | None:
    candidates = [layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")]
    return max(candidates, key=len) if candidates else None


def _within(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_follow_the_layers(module: str, path: Path) -> None:
    if module in COMPOSITION_ROOT:
        return
    layer = _layer(module)
    assert layer is not None, f"{module} belongs to no layer: add it to ALLOWED in this test"
    allowed = ALLOWED[layer] | {layer}
    ours = ("gateway", "schema", "resolvers")
    bad = sorted(
        name
        for name in _imports(path, module)
        if name.split(".")[0] in ours
        and name not in ours
        and not _within(name, allowed)
        and not _within(name.rsplit(".", 1)[0], allowed)  # `from gateway.store import api_keys`
    )
    assert not bad, f"{module} ({layer}) may not import {bad}"
    for library, owners in LIBRARY_OWNERS.items():
        uses = [n for n in _imports(path, module) if n == library or n.startswith(library + ".")]
        assert not uses or _within(module, owners), f"{module} imports {library}; only {owners} may"
