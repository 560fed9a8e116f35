"""The set of services one app instance offers to the web layer, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.services.access import AccessService
from gateway.services.availability import AvailabilityService
from gateway.services.catalog import CatalogService
from gateway.services.orders import OrderService
from gateway.services.pricing import PricingService
from gateway.services.readiness import ReadinessService
from gateway.services.status import StatusService
from gateway.services.sync_control import SyncControl


@dataclass(frozen=True, slots=True)
class Services:
    access: AccessService
    status: StatusService
    readiness: ReadinessService
    catalog: CatalogService
    availability: AvailabilityService
    pricing: PricingService
    orders: OrderService
    sync: SyncControl | None = None
    """The admin's sync use cases (the admin endpoints); None only in apps built without a syncer."""
