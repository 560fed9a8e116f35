"""GraphQL enums of the catalog: coupling states and list orderings (resolvers may import these)."""

from __future__ import annotations

import enum

import strawberry

from gateway.domain import CouplingStatus

CouplingState = strawberry.enum(
    CouplingStatus,
    name="CouplingState",
    description="Whether a record exists on both sides and is coupled, on one side only, or failed to sync.",
)


@strawberry.enum(
    description="The order of a list; every ordering is stable (ties broken by side and id). By number "
    "or name, records where that field is blank (an account created in Sales has no number until the "
    "ERP has it) come last in either direction."
)
class CatalogOrder(enum.Enum):
    NUMBER = "number"
    NUMBER_DESC = "-number"
    NAME = "name"
    NAME_DESC = "-name"
    CHANGED = "changed"
    CHANGED_DESC = "-changed"
