"""The Query root."""

from __future__ import annotations

import strawberry

from resolvers import catalog, status
from schema.catalog_types import Currency, Customer, Item, PriceList, Salesperson, Unit
from schema.pagination import Connection
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
