"""The mappings the engine runs, read from and written to the store: created from the defaults
on first start (idempotent), patched by admins, restorable to the defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain import Side
from gateway.errors import InvalidInput, NotFound
from gateway.store import mappings as rows
from gateway.store.engine import SessionFactory, StoreSession
from gateway.sync.defaults import default_mappings
from gateway.sync.model import TableMapping, mapping_from_dict, mapping_to_dict, patch_mapping
from gateway.sync.pricing_mirror import ERP_PRICING, notified_tables
from gateway.sync.runstate import SALES_ORDER


def erp_reader(mapping: TableMapping) -> str | None:
    """The direction whose runs read `mapping`'s ERP entity set for changes bound for the CRM (so a BC
    notification for the set wakes it): erp_to_crm where values flow out of the ERP; SALES ORDER's
    crm_to_erp runs, which bring the ERP orders' fulfilled status back; None otherwise."""
    if mapping.direction.allows(Side.ERP):
        return "erp_to_crm"
    return "crm_to_erp" if mapping.name == SALES_ORDER else None


@dataclass(frozen=True)
class ErpReader:
    """A run that reads an ERP entity set towards the CRM: `run` and `direction` name the run (what
    a BC notification for the set wakes), `table` the set and the watermark it is read under."""

    run: str
    direction: str
    table: TableMapping


def erp_readers(mappings: Sequence[TableMapping]) -> list[ErpReader]:
    """Every run that reads an ERP entity set towards the CRM: the enabled mappings' (erp_reader)
    and ERP PRICING's for the sets it polls only when due (pricing_mirror.notified_tables)."""
    found = [
        ErpReader(m.name, direction, m)
        for m in mappings
        if m.enabled and (direction := erp_reader(m)) is not None
    ]
    return found + [ErpReader(ERP_PRICING, "erp_to_crm", table) for table in notified_tables()]


async def load_mappings(session: StoreSession) -> list[TableMapping]:
    result = []
    for row, fields in await rows.mapping_rows(session):
        data: dict[str, Any] = dict(row.definition)
        data["fields"] = [f.definition for f in fields]
        result.append(mapping_from_dict(data))
    return result


async def get_mapping(session: StoreSession, name: str) -> TableMapping:
    mappings = await load_mappings(session)
    for mapping in mappings:
        if mapping.name == name:
            return mapping
    raise _no_mapping(name, mappings)


def _no_mapping(name: str, mappings: Sequence[TableMapping]) -> NotFound:
    """Names are upper case (`customer` is a typo of CUSTOMER): the error lists them."""
    return NotFound(f"no mapping named {name!r}; the mappings are {', '.join(m.name for m in mappings)}")


async def save_mapping(session: StoreSession, mapping: TableMapping, *, position: int) -> None:
    data = mapping_to_dict(mapping)
    fields = data.pop("fields")
    await rows.put_mapping(session, name=mapping.name, position=position, definition=data, fields=fields)


async def ensure_default_mappings(sessions: SessionFactory) -> list[str]:
    """Create the default mappings that do not exist yet; returns the names this call created.

    Safe when several processes start at once on one store: each mapping is inserted with
    INSERT … ON CONFLICT DO NOTHING, so exactly one of them creates it and the others skip it."""
    async with sessions.begin() as session:
        existing = await rows.mapping_names(session)
        created = []
        for position, mapping in enumerate(default_mappings()):
            if mapping.name in existing:
                continue
            data = mapping_to_dict(mapping)
            fields = data.pop("fields")
            if await rows.insert_mapping_if_missing(
                session, name=mapping.name, position=position, definition=data, fields=fields
            ):
                created.append(mapping.name)
        return created


async def reset_mappings(sessions: SessionFactory) -> list[TableMapping]:
    """Throw away every change to the mappings and restore the defaults (couplings stay)."""
    async with sessions.begin() as session:
        await rows.delete_all_mappings(session)
        defaults = default_mappings()
        for position, mapping in enumerate(defaults):
            await save_mapping(session, mapping, position=position)
    return defaults


async def update_mapping(sessions: SessionFactory, name: str, changes: Mapping[str, Any]) -> TableMapping:
    async with sessions.begin() as session:
        mappings = await load_mappings(session)
        names = {m.name for m in mappings}
        for position, mapping in enumerate(mappings):
            if mapping.name == name:
                updated = patch_mapping(mapping, changes)
                for fm in updated.fields:
                    if fm.lookup is not None and fm.lookup.mapping not in names:
                        raise InvalidInput(
                            f"lookup through unknown mapping {fm.lookup.mapping!r}", field="fields"
                        )
                await save_mapping(session, updated, position=position)
                return updated
    raise _no_mapping(name, mappings)


async def schedule_entries(sessions: SessionFactory) -> list[tuple[str, str, float]]:
    """(mapping, direction, interval seconds) of every enabled mapping the engine runs, for the
    scheduler (`gateway.sync.scheduler.Scheduled` accepts these tuples)."""
    async with sessions() as session:
        mappings = await load_mappings(session)
    entries = [(ERP_PRICING, "erp_to_crm", 30.0)]
    return entries + [
        (m.name, direction, float(m.interval_seconds))
        for m in mappings
        if m.enabled
        for direction in m.directions()
    ]
