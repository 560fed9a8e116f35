"""Mappings as data: the nine defaults created once and restorable, admin patches validated, field
mappings applied with lookups, value maps, constants and transformations, and the dependency DAG."""

from __future__ import annotations

import asyncio

import pytest

from gateway.domain import Side
from gateway.errors import InvalidInput, MissingDependency
from gateway.store.engine import create_engine, session_factory
from gateway.sync import catalog
from gateway.sync.defaults import default_mappings
from gateway.sync.model import ConflictPolicy, mapping_from_dict, mapping_to_dict
from gateway.sync.plan import layers
from gateway.sync.values import LookupTable, crm_payload, map_record

NINE = [
    "SALESPEOPLE",
    "CURRENCY",
    "UNIT GROUP",
    "ITEM UOM",
    "PRICE LIST",
    "CUSTOMER",
    "ITEM-PRODUCT",
    "PRICE LIST LINE",
    "SALES ORDER",
]


async def test_defaults_are_created_once_and_restorable(database_url: str) -> None:
    db = create_engine(database_url)
    sessions = session_factory(db)
    try:
        assert await catalog.ensure_default_mappings(sessions) == NINE
        assert await catalog.ensure_default_mappings(sessions) == []
        changed = await catalog.update_mapping(
            sessions, "CUSTOMER", {"conflictPolicy": "manual", "intervalSeconds": 5, "enabled": False}
        )
        assert changed.conflict_policy is ConflictPolicy.MANUAL
        async with sessions() as session:
            stored = await catalog.get_mapping(session, "CUSTOMER")
        assert (stored.conflict_policy, stored.interval_seconds, stored.enabled) == ("manual", 5, False)
        assert stored.fields == changed.fields  # field mappings survive the round trip through rows
        await catalog.reset_mappings(sessions)
        async with sessions() as session:
            restored = await catalog.load_mappings(session)
        assert [m.name for m in restored] == NINE
        assert restored == default_mappings()
    finally:
        await db.dispose()


async def test_processes_starting_together_create_the_defaults_once_without_an_error(
    database_url: str,
) -> None:
    """Four processes (four engines, four connection pools) start on one fresh store at once: each
    default is created by exactly one of them, the others see it there, and nobody fails."""
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        created = await asyncio.gather(
            *(catalog.ensure_default_mappings(session_factory(e)) for e in engines)
        )
        assert sorted(name for names in created for name in names) == sorted(NINE)
        async with session_factory(engines[0])() as session:
            stored = await catalog.load_mappings(session)
        assert stored == default_mappings()  # every mapping once, each with its fields once
    finally:
        for e in engines:
            await e.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_patches_are_validated(database_url: str) -> None:
    db = create_engine(database_url)
    sessions = session_factory(db)
    try:
        await catalog.ensure_default_mappings(sessions)
        with pytest.raises(InvalidInput):
            await catalog.update_mapping(sessions, "CUSTOMER", {"conflictPolicy": "coin_toss"})
        with pytest.raises(InvalidInput):
            await catalog.update_mapping(sessions, "CUSTOMER", {"mergeFallback": "merge"})
        with pytest.raises(InvalidInput):
            await catalog.update_mapping(sessions, "CUSTOMER", {"name": "OTHER"})
        with pytest.raises(InvalidInput):
            await catalog.update_mapping(
                sessions,
                "CUSTOMER",
                {"fields": [{"erpField": "x", "crmField": "y", "lookup": {"mapping": "NOPE"}}]},
            )
    finally:
        await db.dispose()


def test_every_default_mapping_round_trips_through_json() -> None:
    for mapping in default_mappings():
        assert mapping_from_dict(mapping_to_dict(mapping)) == mapping


def _customer() -> object:
    return next(m for m in default_mappings() if m.name == "CUSTOMER")


def test_field_mappings_apply_lookups_constants_and_transformations() -> None:
    mapping = next(m for m in default_mappings() if m.name == "CUSTOMER")
    lookups = LookupTable(
        erp_key_to_crm={"SALESPEOPLE": {"JR": "u-1"}, "CURRENCY": {"EUR": "c-eur"}},
        crm_natural={"CURRENCY": {"USD": "c-usd"}},
        local_currency="USD",
    )
    erp = {
        "number": " C1 ",
        "displayName": "  Acme " + "x" * 200,
        "salespersonCode": "JR",
        "currencyCode": "",
    }
    crm = map_record(mapping, source=Side.ERP, values=erp, lookups=lookups)
    assert crm["accountnumber"] == "C1"
    assert crm["name"].startswith("Acme x") and len(crm["name"]) == 100
    assert crm["_ownerid_value"] == "u-1"
    assert crm["_transactioncurrencyid_value"] == "c-usd"  # local currency, found by its ISO code
    assert crm["customertypecode"] == 3
    assert "_defaultpricelevelid_value" not in crm  # no price group: no opinion, nothing written
    payload = crm_payload(mapping, crm)
    assert payload["ownerid@odata.bind"] == "/systemusers(u-1)"
    assert "_ownerid_value" not in payload


def test_a_missing_dependency_is_named() -> None:
    mapping = next(m for m in default_mappings() if m.name == "CUSTOMER")
    with pytest.raises(MissingDependency) as caught:
        map_record(
            mapping, source=Side.ERP, values={"number": "C1", "salespersonCode": "JR"}, lookups=LookupTable()
        )
    assert str(caught.value) == "owner: salesperson JR is not coupled to a user"
    assert caught.value.field == "owner"


def test_value_maps_work_both_ways() -> None:
    mapping = next(m for m in default_mappings() if m.name == "ITEM-PRODUCT")
    values = map_record(
        mapping,
        source=Side.ERP,
        values={"type": "Service", "inventory": -4},
        lookups=LookupTable(),
        strict=False,
    )
    assert values["producttypecode"] == 3
    assert values["quantityonhand"] == 0  # negative stock is shown as none


def test_dependencies_form_layers() -> None:
    mappings = [m for m in default_mappings() if m.enabled]
    plan = layers(mappings)
    position = {name: i for i, layer in enumerate(plan) for name in layer}
    for mapping in mappings:
        for dependency in mapping.dependencies:
            assert position[dependency] < position[mapping.name]
    assert plan[0] == ["CURRENCY", "SALESPEOPLE", "UNIT GROUP"]
    assert layers(mappings, only=["CUSTOMER"]) == [["CUSTOMER"]]
    with pytest.raises(InvalidInput):
        layers(mappings, only=["NOPE"])
