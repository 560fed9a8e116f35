"""Dataverse's OData behaviour: 5,000-row pages, no $skip, upserts, W/"<versionnumber>" etags, WhoAmI.

POST and PATCH answer 204 with OData-EntityId unless ``Prefer: return=representation``.
"""

from __future__ import annotations

import uuid
from typing import Any

from gateway.simulators.dataverse import orders
from gateway.simulators.odata.errors import ODataError
from gateway.simulators.odata.flavor import Flavor
from gateway.simulators.odata.model import EntitySet
from gateway.simulators.odata.paths import Segment
from gateway.simulators.odata.store import VERSION_COLUMN, Store
from gateway.simulators.odata.wire import ODataRequest, ODataResponse

WHOAMI_CSDL = (
    '<ComplexType Name="WhoAmIResponse">'
    '<Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/>'
    '<Property Name="UserId" Type="Edm.Guid" Nullable="false"/>'
    '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false"/>'
    "</ComplexType>"
    '<Function Name="WhoAmI"><ReturnType Type="Microsoft.Dynamics.CRM.WhoAmIResponse" Nullable="false"/>'
    "</Function>"
)


class DataverseFlavor(Flavor):
    name = "dataverse"
    max_page_size = 5_000
    allow_skip = False
    require_if_match = False
    patch_upsert = True
    always_include_key = True
    datetime_millis = False
    post_returns_entity = False
    patch_returns_entity = False
    client_keys = True
    change_tracking = True
    count_cap = 5_000
    error_codes = {
        "NotFound": "0x8006088a",
        "RecordNotFound": "0x80040217",
        "BadRequest": "0x80060888",
        "EntityChanged": "0x80060882",
        "PreconditionFailed": "0x80060882",
        "PreconditionRequired": "0x80060882",
        "MethodNotAllowed": "0x80060888",
        "DuplicateRecord": "0x80040237",
        "SkipNotSupported": "0x80060888",
        "Unauthorized": "0x80072560",
        "TooManyRequests": "0x80072322",
        "ServiceUnavailable": "0x80040216",
    }

    def __init__(self, *, business_unit_id: str, organization_id: str, users: dict[str, str]) -> None:
        self.business_unit_id = business_unit_id
        self.organization_id = organization_id
        self.users = users  # client id -> application user's systemuserid

    def etag(self, entity_set: EntitySet, row: dict[str, Any]) -> str | None:
        version = row.get("versionnumber") or row.get(VERSION_COLUMN)
        return None if version is None else f'W/"{version}"'

    def stamp(
        self,
        entity_set: EntitySet,
        values: dict[str, Any],
        *,
        store: Store,
        created: bool,
        changed: frozenset[str] = frozenset(),
    ) -> None:
        version = store.next_version()
        values[VERSION_COLUMN] = version
        values["versionnumber"] = version
        now = store.now()
        values["modifiedon"] = now
        if created:
            values["createdon"] = now
            if values.get("statecode") is None:
                values["statecode"] = 0
            if values.get("statuscode") is None:
                values["statuscode"] = 1

    def check_update(self, entity_set: EntitySet, existing: dict[str, Any], values: dict[str, Any]) -> None:
        if entity_set.name == "salesorders":
            orders.refuse_state_writes(values)

    def function(self, segment: Segment, request: ODataRequest, store: Store) -> ODataResponse | None:
        if segment.name == "FulfillSalesOrder":
            return orders.fulfill_sales_order(request, store)
        if segment.name != "WhoAmI":
            return None
        if request.method.upper() != "GET":
            raise ODataError(405, "MethodNotAllowed", "WhoAmI is a function; use GET.")
        user = self.users.get(request.client_id) or str(uuid.uuid5(uuid.NAMESPACE_URL, request.client_id))
        return ODataResponse(
            200,
            payload={
                "@odata.context": f"{request.service_root}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": self.business_unit_id,
                "UserId": user,
                "OrganizationId": self.organization_id,
            },
        )

    def metadata_extra(self) -> str:
        return WHOAMI_CSDL + orders.FULFILL_CSDL
