"""The Query root."""

from __future__ import annotations

import strawberry

from resolvers import availability as stock
from resolvers import catalog, pricing, status
from schema.availability_types import AvailabilityLine
from schema.catalog_types import Currency, Customer, Item, PriceList, Salesperson, Unit
from schema.pagination import Connection
from schema.pricing_types import PriceResult, PricesResult
from schema.types import Caller, UpstreamStatus


@strawberry.type
class Upstreams:
    erp = strawberry.field(
        resolver=status.erp_status, graphql_type=UpstreamStatus, description="Business Central."
    )
    crm = strawberry.field(
        resolver=status.crm_status, graphql_type=UpstreamStatus, description="Dataverse (Sales)."
    )


def _upstreams() -> Upstreams:
    return Upstreams()


@strawberry.type
class Query:
    upstreams = strawberry.field(
        resolver=_upstreams, description="The two upstream services and whether they answer."
    )
    me = strawberry.field(resolver=status.caller, graphql_type=Caller, description="Who is asking.")

    # --- the unified catalog, served from the store (never an upstream call)
    customer = strawberry.field(
        resolver=catalog.customer,
        graphql_type=Customer | None,
        description="One customer by exactly one of number, erpId, crmId; null when unknown or not yours.",
    )
    customers = strawberry.field(
        resolver=catalog.customers,
        graphql_type=Connection[Customer],
        description="Customers, ERP and CRM-only, in a stable order; `first` at most 200.",
    )
    item = strawberry.field(
        resolver=catalog.item, graphql_type=Item | None, description="One item by number, erpId or crmId."
    )
    items = strawberry.field(resolver=catalog.items, graphql_type=Connection[Item], description="Items.")
    price_list = strawberry.field(
        resolver=catalog.price_list,
        graphql_type=PriceList | None,
        description="One price list by code, erpId or crmId.",
    )
    price_lists = strawberry.field(
        resolver=catalog.price_lists, graphql_type=Connection[PriceList], description="Price lists."
    )
    salesperson = strawberry.field(
        resolver=catalog.salesperson,
        graphql_type=Salesperson | None,
        description="One salesperson by code, erpId or crmId.",
    )
    salespeople = strawberry.field(
        resolver=catalog.salespeople, graphql_type=Connection[Salesperson], description="Salespeople."
    )
    currencies = strawberry.field(
        resolver=catalog.currencies, graphql_type=list[Currency], description="Every currency."
    )
    units = strawberry.field(
        resolver=catalog.units, graphql_type=list[Unit], description="Every unit of measure."
    )

    # --- best prices (read model + price engine) and live availability (ERP, cached for seconds)
    price = strawberry.field(
        resolver=pricing.price,
        graphql_type=PriceResult,
        description="The best price for one line (Business Central's lowest-price rules); "
        "admin and sales keys.",
    )
    prices = strawberry.field(
        resolver=pricing.prices,
        graphql_type=PricesResult,
        description="Best prices for a basket of 1 to 200 lines, with the total (the REST quote).",
    )
    availability = strawberry.field(
        resolver=stock.availability,
        graphql_type=list[AvailabilityLine],
        description="Live availability per item and location (at most 500 items), with its age.",
    )
