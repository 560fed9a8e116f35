"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from tests.servers import POSTGRES_URL, REDIS_URL, require_server

# Scheduling of the xdist workers (see the module); a plugin, so its hook runs in every worker.
pytest_plugins = ["tests.xdist_scheduling"]


@pytest.fixture
def postgres_url() -> str:
    require_server("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return REDIS_URL
