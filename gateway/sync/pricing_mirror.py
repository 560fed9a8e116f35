"""The ERP-only pricing data the API's price quotes need (DOMAIN §2.1, §5): mirrored like a
mapping's ERP side, each entity set with its own watermark, but with no CRM side and no couplings."""

from __future__ import annotations

from gateway.sync.model import MappingDirection, TableMapping

ERP_PRICING = "ERP PRICING"
"""The name the engine, the scheduler and the job rows use for this mirror."""

PRICING_SETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("customerPriceGroups", "integration", ("code",)),
    ("customerDiscountGroups", "integration", ("code",)),
    ("itemDiscountGroups", "integration", ("code",)),
    ("customerPricing", "integration", ("customerNumber",)),
    ("itemPricing", "integration", ("itemNumber",)),
    ("itemUnitsOfMeasure", "integration", ("itemNumber", "code")),
    ("priceListHeaders", "integration", ("code",)),
    ("priceListLines", "integration", ("priceListCode", "lineNo")),
    ("currencyExchangeRates", "integration", ("currencyCode", "startingDate")),
    ("locations", "v2.0", ("code",)),
    ("unitsOfMeasure", "v2.0", ("code",)),
)


COMPANY_SET: tuple[str, str, tuple[str, ...]] = ("companyInformation", "v2.0", ("id",))
"""BC's company information, for the local currency every quote needs (the read model's
rm_company). Read by full runs; a poll reads it only while it never was (a store older than it):
BC's local currency is set up once, before anything is posted, so polling it every run would cost
the standard API's `$batch` on runs that otherwise skip it (gateway.sync.erp_polls)."""


def _table(entity_set: str, api: str, keys: tuple[str, ...]) -> TableMapping:
    return TableMapping(
        name=f"{ERP_PRICING}:{entity_set}",
        erp_entity=entity_set,
        erp_api=api,
        crm_entity="",
        direction=MappingDirection.ERP_TO_CRM,
        fields=(),
        erp_key_fields=keys,
    )


def pricing_tables() -> list[TableMapping]:
    """One read-only pseudo-mapping per entity set (its name keys the set's watermark)."""
    return [_table(*spec) for spec in PRICING_SETS]


def company_table() -> TableMapping:
    """The pseudo-mapping of COMPANY_SET (not among pricing_tables: no poll asks for it)."""
    return _table(*COMPANY_SET)


def notified_tables() -> list[TableMapping]:
    """The sets an incremental run polls only when due (gateway.sync.erp_polls), BC subscriptions
    covering them: those outside our integration API. The integration API's 9 sets are asked for in
    one `$batch` every run anyway; the standard API's 2 would cost a second request."""
    return [table for table in pricing_tables() if table.erp_api != "integration"]
