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


def pricing_tables() -> list[TableMapping]:
    """One read-only pseudo-mapping per entity set (its name keys the set's watermark)."""
    return [
        TableMapping(
            name=f"{ERP_PRICING}:{entity_set}",
            erp_entity=entity_set,
            erp_api=api,
            crm_entity="",
            direction=MappingDirection.ERP_TO_CRM,
            fields=(),
            erp_key_fields=keys,
        )
        for entity_set, api, keys in PRICING_SETS
    ]


def notified_tables() -> list[TableMapping]:
    """The sets an incremental run polls only when due (gateway.sync.erp_polls), BC subscriptions
    covering them: those outside our integration API. The integration API's 9 sets are asked for in
    one `$batch` every run anyway; the standard API's 2 would cost a second request."""
    return [table for table in pricing_tables() if table.erp_api != "integration"]
