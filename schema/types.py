"""GraphQL object types for connection status and callers; resolvers hand back domain objects."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.domain import Role as DomainRole

Role = strawberry.enum(DomainRole, name="Role", description="What an API key may do.")


@strawberry.type(description="A Business Central company the gateway works for.")
class Company:
    id: strawberry.ID
    name: str
    display_name: str
    currency_code: str = strawberry.field(description="The company's local currency.")


@strawberry.type(description="The Dataverse organisation behind Dynamics 365 Sales.")
class Organisation:
    url: str
    organization_id: strawberry.ID
    user_id: strawberry.ID = strawberry.field(description="The user the gateway acts as.")
    base_currency_code: str


@strawberry.type(description="Whether an upstream answered at `checkedAt`, and who it is.")
class UpstreamStatus:
    reachable: bool
    checked_at: datetime
    error: str | None
    company: Company | None = strawberry.field(description="Set for Business Central.")
    organisation: Organisation | None = strawberry.field(description="Set for Dataverse.")


@strawberry.type(description="The caller, as its API key describes it.")
class Caller:
    role: Role  # type: ignore[valid-type]
    name: str
    salesperson_code: str | None
