"""Fixtures of the store suite: every test runs once on SQLite (a temp file) and once on PostgreSQL.

Each PostgreSQL test gets its own database, cloned from a migrated template and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.engine import create_engine, session_factory
from gateway.store.migrate import upgrade_engine


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Creates throw-away databases for one test session and drops them all at its end."""

    def __init__(self, tmp_root: Path) -> None:
        self.tmp_root = tmp_root
        self.prefix = f"gw_store_{uuid.uuid4().hex[:10]}"
        self.server_url: str | None = None
        self.pg_names: list[str] = []
        self.counter = 0
        self.pg_template: str | None = None
        self.sqlite_template: Path | None = None

    async def _admin(self, sql: str) -> None:
        assert self.server_url is not None
        connection = await asyncpg.connect(_asyncpg_dsn(self.server_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def postgres(self, server_url: str, *, migrated: bool) -> str:
        self.server_url = server_url
        self.counter += 1
        name = f"{self.prefix}_{self.counter}"
        self.pg_names.append(name)
        if not migrated:
            await self._admin(f'CREATE DATABASE "{name}"')
            return _with_database(server_url, name)
        if self.pg_template is None:
            template = f"{self.prefix}_template"
            self.pg_names.append(template)
            await self._admin(f'CREATE DATABASE "{template}"')
            engine = create_engine(_with_database(server_url, template))
            try:
                await upgrade_engine(engine)
            finally:
                await engine.dispose()  # a template must have no open connections
            self.pg_template = template
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_template}"')
        return _with_database(server_url, name)

    async def sqlite(self, directory: Path, *, migrated: bool) -> str:
        target = directory / "store.db"
        if migrated:
            if self.sqlite_template is None:
                template = self.tmp_root / "template.db"
                engine = create_engine(f"sqlite+aiosqlite:///{template}")
                try:
                    await upgrade_engine(engine)
                finally:
                    await engine.dispose()  # closing the last connection folds the WAL into the file
                self.sqlite_template = template
            shutil.copyfile(self.sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"

    async def drop(self, url: str) -> None:
        name = make_url(url).database
        if url.startswith("postgresql") and name in self.pg_names:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.pg_names.remove(name)

    async def drop_all(self) -> None:
        if self.server_url is None:
            return
        for name in self.pg_names:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.pg_names.clear()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    registry = Databases(tmp_path_factory.mktemp("store-template"))
    yield registry
    asyncio.run(registry.drop_all())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _url(request: pytest.FixtureRequest, backend: str, databases: Databases, *, migrated: bool) -> str:
    if backend == "postgres":
        server_url = request.getfixturevalue("postgres_url")  # skips, or fails in CI, when the server is down
        return await databases.postgres(server_url, migrated=migrated)
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return await databases.sqlite(tmp_path, migrated=migrated)


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest, backend: str, databases: Databases
) -> AsyncIterator[str]:
    """A fresh database already at the newest migration (dropped after the test)."""
    url = await _url(request, backend, databases, migrated=True)
    yield url
    await databases.drop(url)


@pytest.fixture
async def empty_database_url(
    request: pytest.FixtureRequest, backend: str, databases: Databases
) -> AsyncIterator[str]:
    """A fresh database with no tables at all (dropped after the test)."""
    url = await _url(request, backend, databases, migrated=False)
    yield url
    await databases.drop(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session
