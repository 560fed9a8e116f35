"""Couplings: uniqueness on both sides, lookups by id or key, filters, keyset pages, updates, uncoupling."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side
from gateway.errors import DuplicateCoupling, InvalidInput, NotFound
from gateway.store.couplings import (
    NewCoupling,
    count_couplings,
    couplings_by_ids,
    create_coupling,
    create_couplings,
    delete_coupling,
    delete_couplings,
    find_coupling,
    get_coupling,
    list_couplings,
    update_coupling,
)
from gateway.store.engine import count_queries
from gateway.store.tables import Coupling, CouplingState, SyncResult


def guid() -> str:
    return str(uuid.uuid4())


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.exec(text("SELECT count(*) FROM coupling"))).scalar_one())  # type: ignore[call-overload]


async def test_create_and_read_back(sessions: async_sessionmaker[AsyncSession]) -> None:
    erp, crm = guid(), guid()
    modified = datetime(2026, 11, 25, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2)))
    async with sessions.begin() as session:
        created = await create_coupling(
            session,
            mapping="CUSTOMER",
            erp_id=erp.upper(),  # ids are stored in canonical lowercase form
            crm_id=crm,
            erp_key="10000",
            crm_key="10000",
            last_synced={"name": "Adatum", "creditLimit": 1500.5, "tags": ["a"], "blocked": None},
            erp_modified_at=modified,
        )
    async with sessions() as session:
        coupling = await get_coupling(session, coupling_id=created.id or 0)
    assert (coupling.mapping, coupling.erp_id, coupling.crm_id) == ("CUSTOMER", erp, crm)
    assert coupling.state == CouplingState.COUPLED and coupling.skipped is False
    assert coupling.last_synced == {"name": "Adatum", "creditLimit": 1500.5, "tags": ["a"], "blocked": None}
    assert coupling.erp_modified_at == modified and coupling.erp_modified_at.tzinfo is UTC
    assert coupling.crm_modified_at is None
    assert coupling.created_at.tzinfo is UTC and coupling.updated_at.tzinfo is UTC


@pytest.mark.parametrize("clash", ["erp", "crm", "both"])
async def test_a_record_is_never_coupled_twice(
    sessions: async_sessionmaker[AsyncSession], clash: str
) -> None:
    erp, crm = guid(), guid()
    async with sessions.begin() as session:
        original = await create_coupling(session, mapping="CUSTOMER", erp_id=erp, crm_id=crm)
    again_erp = erp if clash in ("erp", "both") else guid()
    again_crm = crm if clash in ("crm", "both") else guid()
    other_erp, other_crm = guid(), guid()
    async with sessions() as session:
        with pytest.raises(DuplicateCoupling) as caught:
            await create_coupling(session, mapping="CUSTOMER", erp_id=again_erp, crm_id=again_crm)
        # The failed insert left nothing behind and the transaction is still usable.
        await create_coupling(session, mapping="CUSTOMER", erp_id=other_erp, crm_id=other_crm)
        await session.commit()
    error = caught.value
    assert error.mapping == "CUSTOMER"
    assert error.side == ("crm" if clash == "crm" else "erp")
    assert error.record_id == (crm if clash == "crm" else erp)
    assert str(original.id) in str(error)
    assert await _rows(sessions) == 2
    async with sessions() as session:
        assert [c.erp_id for c in await list_couplings(session)] == [erp, other_erp]


async def test_many_couplings_are_made_in_a_few_statements(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """A sync run couples up to 1,000 pairs per commit: one by one (a savepoint and an INSERT each)
    they held SQLite's write lock for 9 s under load; batched, the statements do not grow with them."""
    pairs = [(guid(), guid()) for _ in range(300)]
    async with sessions.begin() as session:
        with count_queries(engine) as counter:
            made = await create_couplings(
                session,
                mapping="CUSTOMER",
                new=[
                    NewCoupling(erp_id=e.upper(), crm_id=c, erp_key=f"K{i}") for i, (e, c) in enumerate(pairs)
                ],
            )
    assert len(counter.statements) <= 3  # the batched INSERTs (savepoint statements not counted)
    assert [(c.erp_id, c.crm_id) for c in made] == pairs and all(c.id for c in made)
    assert await _rows(sessions) == 300
    async with sessions() as session:
        found = await find_coupling(session, mapping="CUSTOMER", crm_id=pairs[7][1])
    assert found is not None and found.erp_key == "K7"


async def test_a_clash_among_many_names_the_pair_and_writes_none_of_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erp, crm = guid(), guid()
    async with sessions.begin() as session:
        await create_coupling(session, mapping="CUSTOMER", erp_id=erp, crm_id=crm)
    async with sessions() as session:
        with pytest.raises(DuplicateCoupling) as caught:
            await create_couplings(
                session,
                mapping="CUSTOMER",
                new=[NewCoupling(erp_id=guid(), crm_id=guid()), NewCoupling(erp_id=guid(), crm_id=crm)],
            )
        await session.commit()  # the transaction is still usable; the probe's inserts were undone
    assert caught.value.side == "crm" and caught.value.record_id == crm
    assert await _rows(sessions) == 1


async def test_ids_differing_only_in_case_are_the_same_record(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erp = guid()
    async with sessions.begin() as session:
        await create_coupling(session, mapping="ITEM-PRODUCT", erp_id=erp, crm_id=guid())
    async with sessions() as session:
        with pytest.raises(DuplicateCoupling):
            await create_coupling(session, mapping="ITEM-PRODUCT", erp_id=erp.upper(), crm_id=guid())
        assert (await find_coupling(session, mapping="ITEM-PRODUCT", erp_id=erp.upper())) is not None


async def test_the_same_record_may_be_coupled_in_another_mapping(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erp, crm = guid(), guid()
    async with sessions.begin() as session:
        await create_coupling(session, mapping="CUSTOMER", erp_id=erp, crm_id=crm)
        await create_coupling(session, mapping="CUSTOMER-ARCHIVE", erp_id=erp, crm_id=crm)
    assert await _rows(sessions) == 2


async def test_concurrent_couplings_of_one_record_leave_exactly_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erp = guid()

    async def couple() -> str:
        async with sessions() as session:
            try:
                await create_coupling(session, mapping="CUSTOMER", erp_id=erp, crm_id=guid())
                await session.commit()
            except DuplicateCoupling:
                return "duplicate"
        return "created"

    outcomes = await asyncio.gather(*(couple() for _ in range(4)))
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    assert await _rows(sessions) == 1


async def test_invalid_input_writes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        for kwargs in (
            {"mapping": "", "erp_id": guid(), "crm_id": guid()},
            {"mapping": "CUSTOMER", "erp_id": " ", "crm_id": guid()},
            {"mapping": "CUSTOMER", "erp_id": guid(), "crm_id": guid(), "state": "happy"},
        ):
            with pytest.raises(InvalidInput):
                await create_coupling(session, **kwargs)  # type: ignore[arg-type]
        await session.commit()
    assert await _rows(sessions) == 0


async def test_find_by_id_or_key_on_either_side(sessions: async_sessionmaker[AsyncSession]) -> None:
    erp, crm = guid(), guid()
    async with sessions.begin() as session:
        created = await create_coupling(
            session, mapping="CUSTOMER", erp_id=erp, crm_id=crm, erp_key="C-10000", crm_key="ACC-1"
        )
        await create_coupling(session, mapping="CUSTOMER", erp_id=guid(), crm_id=guid(), erp_key="C-20000")
    async with sessions() as session:
        for criterion in ({"erp_id": erp}, {"crm_id": crm}, {"erp_key": "C-10000"}, {"crm_key": "ACC-1"}):
            found = await find_coupling(session, mapping="CUSTOMER", **criterion)
            assert found is not None and found.id == created.id, criterion
        assert await find_coupling(session, mapping="CUSTOMER", erp_key="C-99999") is None
        assert await find_coupling(session, mapping="ITEM-PRODUCT", erp_id=erp) is None
        with pytest.raises(InvalidInput):
            await find_coupling(session, mapping="CUSTOMER")
        with pytest.raises(InvalidInput):
            await find_coupling(session, mapping="CUSTOMER", erp_id=erp, crm_id=crm)


async def test_couplings_by_ids_batches_lookups(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    pairs = [(guid(), guid()) for _ in range(1200)]
    async with sessions.begin() as session:
        session.add_all(Coupling(mapping="ITEM-PRODUCT", erp_id=e, crm_id=c) for e, c in pairs)
    wanted = [c for _, c in pairs[:1100]] + [guid()]  # 1100 known, one unknown
    async with sessions() as session:
        with count_queries(engine) as counter:
            found = await couplings_by_ids(session, mapping="ITEM-PRODUCT", side=Side.CRM, ids=wanted)
    # One statement on PostgreSQL (an unnest array), chunks of 500 ids on SQLite.
    assert counter.count == (1 if engine.dialect.name == "postgresql" else 3)
    assert len(found) == 1100
    assert all(found[c].erp_id == e for e, c in pairs[:1100])
    async with sessions() as session:
        by_erp = await couplings_by_ids(
            session, mapping="ITEM-PRODUCT", side="erp", ids=[pairs[0][0].upper()]
        )
        assert list(by_erp) == [pairs[0][0]]
        assert await couplings_by_ids(session, mapping="ITEM-PRODUCT", side="erp", ids=[]) == {}
        with pytest.raises(InvalidInput):
            await couplings_by_ids(session, mapping="ITEM-PRODUCT", side="sap", ids=[])


async def test_list_filters_and_keyset_pages(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        for n in range(25):
            await create_coupling(
                session,
                mapping="CUSTOMER" if n % 5 else "CURRENCY",
                erp_id=f"erp-{n}",
                crm_id=f"crm-{n}",
                erp_key=f"K{n}",
                crm_key=f"A{n}",
                state=CouplingState.ERROR if n % 4 == 0 else CouplingState.COUPLED,
            )
    async with sessions() as session:
        customers = await list_couplings(session, mapping="CUSTOMER", limit=1000)
        assert len(customers) == 20
        errors = await list_couplings(session, mapping="CUSTOMER", state="error")
        assert [c.erp_id for c in errors] == ["erp-4", "erp-8", "erp-12", "erp-16", "erp-24"]
        assert [c.crm_id for c in await list_couplings(session, record_id="erp-7")] == ["crm-7"]
        assert [c.erp_id for c in await list_couplings(session, record_id="crm-7")] == ["erp-7"]
        assert [c.erp_id for c in await list_couplings(session, key="A3")] == ["erp-3"]
        assert [c.erp_id for c in await list_couplings(session, key="K3")] == ["erp-3"]
        assert [c.erp_id for c in await list_couplings(session, crm_key="A9", mapping="CUSTOMER")] == [
            "erp-9"
        ]
        assert await list_couplings(session, erp_key="K9", mapping="CURRENCY") == []
        assert len(await list_couplings(session, skipped=False, limit=1000)) == 25

        seen: list[str] = []
        after: int | None = None
        while True:
            page = await list_couplings(session, mapping="CUSTOMER", limit=6, after_id=after)
            seen.extend(c.erp_id for c in page)
            if len(page) < 6:
                break
            after = page[-1].id
        assert seen == [c.erp_id for c in customers]
        assert len(set(seen)) == 20

        assert await count_couplings(session) == 25
        assert await count_couplings(session, mapping="CUSTOMER", state=CouplingState.ERROR) == 5
        with pytest.raises(InvalidInput):
            await list_couplings(session, limit=0)
        with pytest.raises(InvalidInput):
            await list_couplings(session, state="bogus")


async def test_update_changes_only_what_is_given(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        created = await create_coupling(
            session,
            mapping="CUSTOMER",
            erp_id=guid(),
            crm_id=guid(),
            erp_key="10000",
            last_synced={"name": "A"},
        )
    coupling_id = created.id or 0
    crm_time = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        await update_coupling(
            session,
            coupling_id=coupling_id,
            last_synced={"name": "B", "phone": "+49"},
            crm_modified_at=crm_time,
            crm_last_result=SyncResult.FAILED,
            crm_last_message="412 Precondition Failed",
            state=CouplingState.ERROR,
        )
    async with sessions() as session:
        stored = await get_coupling(session, coupling_id=coupling_id)
    assert stored.last_synced == {"name": "B", "phone": "+49"}
    assert stored.crm_modified_at == crm_time and stored.erp_modified_at is None
    assert (stored.crm_last_result, stored.crm_last_message) == ("failed", "412 Precondition Failed")
    assert stored.erp_last_result is None and stored.erp_key == "10000" and stored.state == "error"
    assert stored.updated_at > created.updated_at

    async with sessions.begin() as session:
        await update_coupling(
            session, coupling_id=coupling_id, erp_key=None, skipped=True, crm_last_message=None
        )
    async with sessions() as session:
        stored = await get_coupling(session, coupling_id=coupling_id)
        assert stored.erp_key is None and stored.skipped is True and stored.crm_last_message is None
        assert stored.crm_last_result == "failed" and stored.last_synced == {"name": "B", "phone": "+49"}
        with pytest.raises(NotFound):
            await update_coupling(session, coupling_id=coupling_id + 1000, skipped=False)
        with pytest.raises(InvalidInput):
            await update_coupling(session, coupling_id=coupling_id, erp_last_result="meh")
        with pytest.raises(NotFound):
            await get_coupling(session, coupling_id=coupling_id + 1000)


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    from sqlalchemy.exc import StatementError

    async with sessions() as session:
        with pytest.raises(StatementError):
            await create_coupling(
                session,
                mapping="CUSTOMER",
                erp_id=guid(),
                crm_id=guid(),
                erp_modified_at=datetime(2026, 1, 1),
            )
    assert await _rows(sessions) == 0


async def test_uncouple_one_and_all_of_a_mapping(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        first = await create_coupling(session, mapping="CUSTOMER", erp_id=guid(), crm_id=guid())
        for _ in range(3):
            await create_coupling(session, mapping="CUSTOMER", erp_id=guid(), crm_id=guid())
        kept = await create_coupling(session, mapping="CURRENCY", erp_id=guid(), crm_id=guid())
    async with sessions.begin() as session:
        loaded = await get_coupling(session, coupling_id=first.id or 0)
        assert await delete_coupling(session, coupling_id=loaded.id or 0) is True
        assert await delete_coupling(session, coupling_id=loaded.id or 0) is False
        with pytest.raises(NotFound):
            await get_coupling(session, coupling_id=loaded.id or 0)
    async with sessions.begin() as session:
        # Uncoupled records can be coupled again.
        await create_coupling(session, mapping="CUSTOMER", erp_id=first.erp_id, crm_id=first.crm_id)
    async with sessions.begin() as session:
        assert await delete_couplings(session, mapping="CUSTOMER") == 4
        assert await delete_couplings(session, mapping="CUSTOMER") == 0
    async with sessions() as session:
        assert [c.id for c in await list_couplings(session)] == [kept.id]
