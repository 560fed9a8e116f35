"""Which ERP entity sets get a deletion check (gateway.sync.deletion_check), the schedule entry each
check runs as, and asking for one: kept apart from the check itself so the subscription manager and
the webhook receiver's service can ask without importing the check's dependencies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from gateway.store.engine import StoreSession
from gateway.store.leases import request_run
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.model import TableMapping
from gateway.sync.scheduler import Scheduled, lease_name

PREFIX = "ERP DELETIONS "
DIRECTION = "erp_to_crm"


def check_name(entity_set: str) -> str:
    """The schedule entry (and job mapping) of `entity_set`'s deletion check: "ERP DELETIONS customers"."""
    return f"{PREFIX}{entity_set}"


def checked_set(name: str) -> str | None:
    """ "customers" from "ERP DELETIONS customers"; None for any other name."""
    return (name.removeprefix(PREFIX) or None) if name.startswith(PREFIX) else None


def checked_sets(mappings: Iterable[TableMapping]) -> dict[str, list[TableMapping]]:
    """ERP entity set -> the enabled mappings whose erp_to_crm runs read it (their couplings are what a
    check of the set looks for; deletion hints reach the policy through those runs)."""
    found: dict[str, list[TableMapping]] = {}
    for mapping in mappings:
        if mapping.enabled and catalog.erp_reader(mapping) == DIRECTION:
            found.setdefault(mapping.erp_entity, []).append(mapping)
    return found


def check_entries(mappings: Iterable[TableMapping], *, interval_seconds: float) -> list[Scheduled]:
    """One schedule entry per checked set, every `interval_seconds` (a round reads only when due)."""
    return [
        Scheduled(check_name(entity_set), DIRECTION, interval_seconds)
        for entity_set in checked_sets(mappings)
    ]


async def request_check(
    session: StoreSession, *, entity_sets: Iterable[str], now: datetime | None = None
) -> list[str]:
    """Ask for a deletion check of each of `entity_sets` that is checked (caller's transaction) as
    soon as a worker is free: a `collection` notice, or a subscription (re)created, means deletions
    may have gone unannounced. Returns the sets asked for."""
    wanted = set(entity_sets)
    if not wanted:
        return []
    asked = sorted(wanted & set(checked_sets(await catalog.load_mappings(session))))
    for entity_set in asked:
        await request_run(session, name=lease_name(check_name(entity_set), DIRECTION), now=now or utcnow())
    return asked


__all__ = [
    "DIRECTION",
    "PREFIX",
    "check_entries",
    "check_name",
    "checked_set",
    "checked_sets",
    "request_check",
]
