"""Fixtures of the sync suite: the store suite's databases (each test on SQLite and on PostgreSQL).

Re-exported from tests/store/conftest.py so both suites share one template and one cleanup.
"""

from __future__ import annotations

from tests.store.conftest import (  # noqa: F401  (pytest finds fixtures by name in a conftest)
    backend,
    database_url,
    databases,
    empty_database_url,
    engine,
    session,
    sessions,
)
