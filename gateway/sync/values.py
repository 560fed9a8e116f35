"""Applying field mappings to a record's values: canonical comparison, transformations, value
maps, constants and lookups through other mappings' couplings (resolved from a batch-loaded table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import Side
from gateway.errors import MissingDependency
from gateway.sync.model import FieldMapping, TableMapping

SKIP = object()
"""A field with no opinion this time (a lookup of an empty value): neither compared nor written."""


def canon(value: Any) -> Any:
    """The form values are compared and remembered in: "" is None, numbers compare by value."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        number = round(float(value), 8)
        return int(number) if number.is_integer() else number
    return value


def same(a: Any, b: Any) -> bool:
    return bool(canon(a) == canon(b))


def _transform(value: Any, transforms: tuple[str, ...]) -> Any:
    for name in transforms:
        if value is None:
            return None
        if name == "trim" and isinstance(value, str):
            value = value.strip()
        elif name == "upper" and isinstance(value, str):
            value = value.upper()
        elif name == "lower" and isinstance(value, str):
            value = value.lower()
        elif name == "non_negative" and isinstance(value, int | float) and not isinstance(value, bool):
            value = max(value, 0)
        elif name.startswith("truncate:") and isinstance(value, str):
            value = value[: int(name[9:])]
    return value


def source_value(values: Mapping[str, Any], name: str) -> Any:
    """One field, or several joined by "+" into a composite key ("A|B")."""
    if "+" not in name:
        return values.get(name)
    parts = [values.get(part) for part in name.split("+")]
    if any(p in (None, "") for p in parts):
        return None  # a composite key with a blank part names nothing
    return "|".join("" if p is None else str(p) for p in parts)


@dataclass
class LookupTable:
    """Couplings of the mappings that lookups go through, loaded once per run (one query each).

    `erp_to_crm[mapping]` maps an ERP key and an ERP id to the CRM id; `crm_to_erp[mapping]` maps a
    CRM id to the ERP key (or id, per the lookup's `erp_by`). `crm_natural[mapping]` maps a value
    of a lookup's `crm_fallback` column to CRM ids, for records no coupling names.
    """

    erp_key_to_crm: dict[str, dict[str, str]] = field(default_factory=dict)
    erp_id_to_crm: dict[str, dict[str, str]] = field(default_factory=dict)
    crm_to_erp_key: dict[str, dict[str, str]] = field(default_factory=dict)
    crm_to_erp_id: dict[str, dict[str, str]] = field(default_factory=dict)
    crm_natural: dict[str, dict[str, str]] = field(default_factory=dict)
    crm_natural_reverse: dict[str, dict[str, str]] = field(default_factory=dict)
    local_currency: str = ""

    def to_crm(self, fm: FieldMapping, value: Any) -> Any:
        lookup = fm.lookup
        assert lookup is not None
        if value in (None, "") and lookup.empty_is_local_currency and self.local_currency:
            value = self.local_currency
        if value in (None, ""):
            return SKIP
        text = str(value)
        table = self.erp_id_to_crm if lookup.erp_by == "id" else self.erp_key_to_crm
        found = table.get(lookup.mapping, {}).get(text)
        if found is None and lookup.crm_fallback:
            found = self.crm_natural.get(lookup.mapping, {}).get(text.upper())
        if found is None:
            if fm.required:
                raise MissingDependency(
                    fm.name, f"{_noun(lookup.mapping)} {text} is not coupled to {_crm_noun(lookup.mapping)}"
                )
            return SKIP
        return found

    def to_erp(self, fm: FieldMapping, value: Any) -> Any:
        lookup = fm.lookup
        assert lookup is not None
        if value in (None, ""):
            return SKIP
        text = str(value)
        table = self.crm_to_erp_id if lookup.erp_by == "id" else self.crm_to_erp_key
        found = table.get(lookup.mapping, {}).get(text)
        if found is None and lookup.crm_fallback:
            found = self.crm_natural_reverse.get(lookup.mapping, {}).get(text)
        if found is None:
            if fm.required:
                raise MissingDependency(
                    fm.name,
                    f"{_crm_noun(lookup.mapping)} {text} is not coupled to {_article(_noun(lookup.mapping))}",
                )
            return SKIP
        return found


_NOUNS = {
    "SALESPEOPLE": "salesperson",
    "CURRENCY": "currency",
    "UNIT GROUP": "unit group of item",
    "ITEM UOM": "unit",
    "PRICE LIST": "price list",
    "ITEM-PRODUCT": "item",
    "CUSTOMER": "customer",
}
_CRM_NOUNS = {
    "SALESPEOPLE": "a user",
    "CURRENCY": "a transaction currency",
    "UNIT GROUP": "a unit group",
    "ITEM UOM": "a unit",
    "PRICE LIST": "a price list",
    "ITEM-PRODUCT": "a product",
    "CUSTOMER": "an account",
}


def _noun(mapping: str) -> str:
    return _NOUNS.get(mapping, mapping.lower())


def _crm_noun(mapping: str) -> str:
    return _CRM_NOUNS.get(mapping, "a CRM record")


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def map_field(fm: FieldMapping, *, source: Side, values: Mapping[str, Any], lookups: LookupTable) -> Any:
    """The value `fm` gives its target field from a `source` record (SKIP: no opinion).

    Raises MissingDependency when a required lookup has no coupling.
    """
    source_field = fm.erp_field if source is Side.ERP else fm.crm_field
    if source_field is None:
        return fm.constant
    value = source_value(values, source_field)
    if fm.value_map is not None:
        if source is Side.ERP:
            value = fm.value_map.get(str(value), value) if value is not None else None
        else:
            reverse = {canon(v): k for k, v in fm.value_map.items()}
            value = reverse.get(canon(value), value)
    if fm.lookup is not None:
        value = lookups.to_crm(fm, value) if source is Side.ERP else lookups.to_erp(fm, value)
        if value is SKIP:
            return SKIP
    return _transform(value, fm.transforms)


def map_record(
    mapping: TableMapping,
    *,
    source: Side,
    values: Mapping[str, Any],
    lookups: LookupTable,
    strict: bool = True,
) -> dict[str, Any]:
    """Every field `mapping` sends from `source` to the other side: target field → value.

    `strict=False` leaves out fields whose lookup fails instead of raising (used for matching).
    """
    result: dict[str, Any] = {}
    for fm in mapping.fields:
        if not fm.flows_from(source):
            continue
        target = fm.crm_field if source is Side.ERP else fm.erp_field
        assert target is not None
        try:
            value = map_field(fm, source=source, values=values, lookups=lookups)
        except MissingDependency:
            if strict:
                raise
            continue
        if value is not SKIP:
            result[target] = value
    return result


def crm_payload(mapping: TableMapping, values: Mapping[str, Any]) -> dict[str, Any]:
    """CRM values as Dataverse accepts them: lookup columns become `nav@odata.bind` references."""
    navs = {fm.crm_field: fm for fm in mapping.fields if fm.crm_field and fm.crm_nav}
    payload: dict[str, Any] = {}
    for name, value in values.items():
        fm = navs.get(name)
        if fm is None:
            payload[name] = value
        elif value is not None:
            payload[f"{fm.crm_nav}@odata.bind"] = f"/{fm.crm_nav_set}({value})"
    return payload
