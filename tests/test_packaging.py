"""The top-level `schema` package is ours, not PyPI's unrelated `schema` distribution."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_package_is_ours() -> None:
    assert Path(schema.__file__).resolve().parent == ROOT / "schema"


def test_no_schema_distribution_installed() -> None:
    names = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert "schema" not in names
