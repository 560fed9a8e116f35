"""What the two upstreams hold as the sync engine moves it: generic records, deletions, `$batch`
results and webhook subscriptions; who we are connected to, and whether each upstream answered."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Side(enum.StrEnum):
    ERP = "erp"
    CRM = "crm"


# --------------------------------------------------------------------------------------------
# Generic upstream records (what the sync engine moves around)


@dataclass(frozen=True, slots=True)
class UpstreamRecord:
    """One entity as an upstream returned it: its key, concurrency token and properties."""

    entity_set: str
    id: str
    values: Mapping[str, Any]
    etag: str | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeletedRecord:
    """A Dataverse change-tracking `$deletedEntity` row (or a BC `deleted` notification)."""

    entity_set: str
    id: str


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    """A Business Central webhook subscription as BC lists it (`api/v2.0/subscriptions`)."""

    id: str
    resource: str
    """`api/v2.0/companies(<id>)/customers`: the collection whose changes are notified."""
    notification_url: str
    client_state: str
    expires_at: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one operation inside a `$batch`."""

    index: int
    status: int
    body: Mapping[str, Any] | None = None
    etag: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


# --------------------------------------------------------------------------------------------
# Who we are connected to


@dataclass(frozen=True, slots=True)
class Company:
    """A Business Central company (from `companies` and `companyInformation`)."""

    id: str
    name: str
    display_name: str
    currency_code: str = ""


@dataclass(frozen=True, slots=True)
class Organisation:
    """A Dataverse organisation, as `WhoAmI` and the base currency tell it."""

    url: str
    organization_id: str
    user_id: str
    base_currency_code: str = ""


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """Whether one upstream answered, and who it is, as of `checked_at`."""

    service: Side
    reachable: bool
    checked_at: datetime
    error: str | None = None
    company: Company | None = None
    organisation: Organisation | None = None
