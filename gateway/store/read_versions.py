"""Versions of groups of read-model tables: every write to a group raises its version in the same
transaction, so a reader that saw version V and then read the tables holds data at least as new as V.

A process keeps what it read with the version it saw first and re-reads when the version moved;
one primary-key lookup per use instead of re-reading the tables. Shared by every gateway process
on one database, since the version lives there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.read_model import RmCompany, RmCurrency, RmExchangeRate, RmVersion

CURRENCIES = "currencies"
"""Currencies, their exchange rates and the company's local currency, which every quote needs."""

GROUP_OF: Mapping[type, str] = {RmCurrency: CURRENCIES, RmExchangeRate: CURRENCIES, RmCompany: CURRENCIES}
"""Which version a write to each versioned table raises."""

Version = tuple[str, int]
"""(epoch, version): equal only if nothing was written in between."""


def _table() -> Table:
    table = RmVersion.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


async def bump(session: AsyncSession, name: str) -> None:
    """Raise `name`'s version (create it on first write); call in the transaction that writes."""
    table = _table()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(name=name, version=1, epoch=uuid.uuid4().hex)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.name], set_={"version": table.c.version + 1}
    )
    await session.exec(statement)


_CURRENT = select(_table().c.epoch, _table().c.version).where(_table().c.name == bindparam("name"))


async def current(session: AsyncSession, name: str) -> Version | None:
    """`name`'s version, or None when nothing has written the group through `bump` yet (then a
    reader must not keep what it reads: it cannot tell when it changes)."""
    row = (await session.exec(_CURRENT, params={"name": name})).first()  # type: ignore[call-overload]
    return None if row is None else (str(row.epoch), int(row.version))
