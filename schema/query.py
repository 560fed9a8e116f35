"""The Query root."""

from __future__ import annotations

import strawberry

from resolvers import status
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
