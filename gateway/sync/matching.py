"""Match-based coupling: for each uncoupled record, exactly one match on the other side couples;
several are an ambiguity listing the candidates; none leaves the record for creation. Fields are
compared after the field mapping (lookups, transformations), by priority group, case as configured."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import Side
from gateway.errors import MissingDependency
from gateway.sync.core import RECORDS_PER_TURN
from gateway.sync.model import FieldMapping, TableMapping
from gateway.sync.values import SKIP, LookupTable, map_field, source_value

Values = Mapping[str, Any]


@dataclass
class MatchResult:
    pairs: list[tuple[str, str]] = field(default_factory=list)
    """(erp_id, crm_id) pairs to couple."""
    ambiguous: list[tuple[Side, str, list[str]]] = field(default_factory=list)
    """(side of the record, its id, ids of the candidates on the other side)."""
    unmatched_erp: list[str] = field(default_factory=list)
    unmatched_crm: list[str] = field(default_factory=list)


def _field_for(mapping: TableMapping, erp_field: str, crm_field: str) -> FieldMapping | None:
    for fm in mapping.fields:
        if fm.erp_field == erp_field and fm.crm_field == crm_field:
            return fm
    return None


def unknown_field(
    mapping: TableMapping,
    pairs: Sequence[tuple[str, str]],
    *,
    erp: Mapping[str, Values],
    crm: Mapping[str, Values],
) -> tuple[int, Side, str] | None:
    """The first (index, side, name) of `pairs` that names a field its side does not have: neither
    a field of the mapping's field mappings or match groups on that side nor a field of any of that
    side's records (what BC / Dataverse returned, as the mirror holds it). A side without records
    proves nothing and is not checked. ERP composite keys ("a+b") are checked part by part."""
    known: dict[Side, set[str] | None] = {}
    for side, records in ((Side.ERP, erp), (Side.CRM, crm)):
        if not records:
            known[side] = None
            continue
        names = {n for values in records.values() for n in values}
        names.update(n for fm in mapping.fields if (n := fm.erp_field if side is Side.ERP else fm.crm_field))
        names.update(p[0 if side is Side.ERP else 1] for group in mapping.match_groups for p in group)
        known[side] = {part for n in names for part in n.split("+")} | names
    for index, (erp_field, crm_field) in enumerate(pairs):
        for side, name in ((Side.ERP, erp_field), (Side.CRM, crm_field)):
            have = known[side]
            parts = name.split("+") if side is Side.ERP else [name]
            if have is not None and any(part not in have for part in parts):
                return index, side, name
    return None


def _norm(value: Any, case_sensitive: bool) -> str | None:
    if value is None or value is SKIP:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text if case_sensitive else text.casefold()


def _pair_values(
    mapping: TableMapping, pair: tuple[str, str], erp: Values | None, crm: Values | None, lookups: LookupTable
) -> Any:
    """The value compared for one side of a pair: the ERP value translated into CRM terms (or the
    CRM value into ERP terms for a mapping that flows CRM → ERP), the other side raw."""
    erp_field, crm_field = pair
    fm = _field_for(mapping, erp_field, crm_field)
    try:
        if erp is not None:
            if fm is not None and fm.flows_from(Side.ERP):
                return map_field(fm, source=Side.ERP, values=erp, lookups=lookups)
            return source_value(erp, erp_field)
        assert crm is not None
        if fm is not None and not fm.flows_from(Side.ERP) and fm.flows_from(Side.CRM):
            return map_field(fm, source=Side.CRM, values=crm, lookups=lookups)
        return crm.get(crm_field)
    except MissingDependency:
        return None


async def match_records(
    mapping: TableMapping,
    *,
    erp: Mapping[str, Values],
    crm: Mapping[str, Values],
    lookups: LookupTable,
    groups: Sequence[Sequence[tuple[str, str]]] | None = None,
    case_sensitive: bool | None = None,
) -> MatchResult:
    """Match uncoupled `erp` records (id → values) against uncoupled `crm` records.

    A coroutine only to give the event loop a turn every RECORDS_PER_TURN records: matching a full
    sync's thousands of uncoupled customers held it for seconds on a loaded machine."""
    groups = groups if groups is not None else mapping.match_groups
    sensitive = mapping.match_case_sensitive if case_sensitive is None else case_sensitive
    result = MatchResult()
    if not groups:
        result.unmatched_erp = sorted(erp)
        result.unmatched_crm = sorted(crm)
        return result
    indexes: list[dict[tuple[str, ...], list[str]]] = []
    for group in groups:
        index: dict[tuple[str, ...], list[str]] = {}
        for n, crm_id in enumerate(sorted(crm), 1):
            if n % RECORDS_PER_TURN == 0:
                await asyncio.sleep(0)
            key = tuple(_norm(_pair_values(mapping, p, None, crm[crm_id], lookups), sensitive) for p in group)
            if all(k is not None for k in key):
                index.setdefault(key, []).append(crm_id)  # type: ignore[arg-type]
        indexes.append(index)
    claimed: set[str] = set()
    contested: set[str] = set()
    for n, erp_id in enumerate(sorted(erp), 1):
        if n % RECORDS_PER_TURN == 0:
            await asyncio.sleep(0)
        candidates: list[str] = []
        for group, index in zip(groups, indexes, strict=True):
            key = tuple(_norm(_pair_values(mapping, p, erp[erp_id], None, lookups), sensitive) for p in group)
            if any(k is None for k in key):
                continue
            candidates = index.get(key, [])  # type: ignore[arg-type]
            if candidates:
                break
        if not candidates:
            result.unmatched_erp.append(erp_id)
        elif len(candidates) == 1 and candidates[0] not in claimed:
            claimed.add(candidates[0])
            result.pairs.append((erp_id, candidates[0]))
        else:
            contested.update(candidates)
            result.ambiguous.append((Side.ERP, erp_id, list(candidates)))
    result.unmatched_crm = [c for c in sorted(crm) if c not in claimed and c not in contested]
    return result
