"""Business Central webhooks: ``api/v2.0/subscriptions`` with the validation handshake, 3-day expiry,
change notifications after a delay, ``collection`` above 1,000 changes, retries and removal rules.

Changes are logged inside the writing transaction, so a rolled-back batch notifies nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.simulators.odata.store import Store
from gateway.simulators.odata.values import format_datetime

CHANGES_TABLE = "sim_changes"
LIFETIME = timedelta(days=3)
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass
class Subscription:
    subscription_id: str
    notification_url: str
    resource: str  # "api/v2.0/companies(<id>)/customers"
    set_name: str
    company: str
    client_state: str
    expiration: datetime
    modified: datetime
    version: int

    def as_json(self) -> dict[str, Any]:
        return {
            "@odata.etag": f'W/"{self.version}"',
            "subscriptionId": self.subscription_id,
            "notificationUrl": self.notification_url,
            "resource": self.resource,
            "userId": "00000000-0000-0000-0000-000000000001",
            "lastModifiedDateTime": format_datetime(self.modified, millis=True),
            "clientState": self.client_state,
            "expirationDateTime": format_datetime(self.expiration, millis=True),
        }


def install(store: Store) -> None:
    """Create the change log table in a fresh store."""
    table = sa.Table(
        CHANGES_TABLE,
        store.metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String, nullable=False),
        sa.Column("entity_id", sa.String, nullable=False),
        sa.Column("change", sa.String, nullable=False),
        sa.Column("stamp", sa.DateTime, nullable=False),
    )
    with store.transaction() as conn:
        table.create(conn)


class WebhookHub:
    """Subscriptions of one ERP simulator and the delivery of their notifications."""

    def __init__(
        self,
        *,
        store_ref: Any,
        api_root: str,
        companies: set[str],
        sets: dict[str, set[str]],
        delay_seconds: float,
        transport: httpx.AsyncBaseTransport | None,
        collection_threshold: int = 1_000,
    ) -> None:
        self.store_ref = store_ref
        self.api_root = api_root  # "/v2.0/{tenant}/{environment}/api/v2.0"
        self.companies = companies
        self.sets = sets  # API path below /api/ ("v2.0", "bcgateway/integration/v1.0") -> entity sets
        self.delay_seconds = delay_seconds
        self.transport = transport
        self.collection_threshold = collection_threshold
        self.subscriptions: dict[str, Subscription] = {}
        self.counters: dict[str, int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None

    # -- change log (called from the BC flavour inside the write transaction) ---------------------

    def log(self, store: Store, set_name: str, company: Any, entity_id: str, change: str) -> None:
        table = store.metadata.tables[CHANGES_TABLE]
        now = store.now()
        rows = [
            {"subscription_id": s.subscription_id, "entity_id": entity_id, "change": change, "stamp": now}
            for s in self.subscriptions.values()
            if s.set_name == set_name and s.company == company
        ]
        if rows:
            store.conn.execute(table.insert(), rows)

    def reset(self) -> None:
        self.subscriptions.clear()
        self.counters.clear()

    # -- HTTP: api/v2.0/subscriptions -----------------------------------------------------------

    def _resource(self, text: str) -> tuple[str, str, str]:
        """'/api/v2.0/companies(<id>)/customers' (absolute URLs too; custom API pages such as
        'api/bcgateway/integration/v1.0/companies(<id>)/priceListLines' as well, as in BC)
        -> (resource, company, set)."""
        path = text.split("://", 1)[-1]
        markers = [api for api in self.sets if f"api/{api}/" in path]
        if not markers:
            raise ValueError("resource must be a collection of " + " or ".join(f"api/{a}" for a in self.sets))
        api = max(markers, key=len)
        rest = path.split(f"api/{api}/", 1)[1].strip("/")
        head, _, set_name = rest.partition("/")
        if not head.startswith("companies(") or not head.endswith(")") or "/" in set_name:
            raise ValueError(f"resource must look like api/{api}/companies(<id>)/<entitySet>")
        company = str(uuid.UUID(head[len("companies(") : -1]))
        if company not in self.companies or set_name not in self.sets[api]:
            raise ValueError(f"unknown company or entity set in resource '{text}'")
        return f"api/{api}/companies({company})/{set_name}", company, set_name

    async def _handshake(self, url: str) -> bool:
        token = secrets.token_urlsafe(16)
        self.counters["handshakes"] += 1
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=5) as client:
                response = await client.post(url, params={"validationToken": token})
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip().strip('"') == token

    @staticmethod
    def _error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    async def endpoint(self, request: Request) -> Response:
        """Collection and entity requests on subscriptions (auth is checked by the caller)."""
        key = request.path_params.get("key")
        store: Store = self.store_ref.store
        if key is None:
            if request.method == "GET":
                value = [s.as_json() for s in self.subscriptions.values()]
                return JSONResponse(
                    {"@odata.context": f"{request.base_url}$metadata#subscriptions", "value": value}
                )
            if request.method != "POST":
                return self._error(405, "BadRequest_MethodNotAllowed", "Use GET or POST on subscriptions.")
            try:
                body = json.loads(await request.body())
                resource, company, set_name = self._resource(str(body["resource"]))
                url = str(body["notificationUrl"])
            except (ValueError, KeyError, TypeError) as exc:
                return self._error(400, "BadRequest", f"Invalid subscription: {exc}")
            if not await self._handshake(url):
                return self._error(
                    400, "BadRequest", "The notification URL did not echo the validation token."
                )
            now = store.now()
            created = Subscription(
                subscription_id=uuid.uuid4().hex,
                notification_url=url,
                resource=resource,
                set_name=set_name,
                company=company,
                client_state=str(body.get("clientState", "")),
                expiration=now + LIFETIME,
                modified=now,
                version=store.next_version(),
            )
            self.subscriptions[created.subscription_id] = created
            self._ensure_task()
            return JSONResponse(created.as_json(), status_code=201)
        subscription = self.subscriptions.get(key.strip("'"))
        if subscription is None:
            return self._error(404, "BadRequest_NotFound", f"The subscription '{key}' does not exist.")
        if request.method == "GET":
            return JSONResponse(subscription.as_json())
        if_match = request.headers.get("if-match")
        if if_match is None:
            return self._error(428, "Internal_RequestPreconditionRequired", "The If-Match header is missing.")
        if if_match != "*" and if_match != subscription.as_json()["@odata.etag"]:
            return self._error(412, "Request_EntityChanged", "The subscription was changed.")
        if request.method == "DELETE":
            del self.subscriptions[subscription.subscription_id]
            return Response(status_code=204)
        if request.method != "PATCH":
            return self._error(405, "BadRequest_MethodNotAllowed", "Use PATCH to renew a subscription.")
        # Renewal: BC repeats the handshake and pushes the expiry out by three days.
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return self._error(400, "BadRequest", "The request body is not valid JSON.")
        url = str(body.get("notificationUrl", subscription.notification_url))
        if not await self._handshake(url):
            return self._error(400, "BadRequest", "The notification URL did not echo the validation token.")
        now = store.now()
        subscription.notification_url = url
        subscription.client_state = str(body.get("clientState", subscription.client_state))
        subscription.expiration = now + LIFETIME
        subscription.modified = now
        subscription.version = store.next_version()
        return JSONResponse(subscription.as_json())

    # -- delivery -------------------------------------------------------------------------------

    def _ensure_task(self) -> None:
        if self.delay_seconds > 0 and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self.subscriptions:
            await asyncio.sleep(min(1.0, self.delay_seconds))
            with contextlib.suppress(Exception):
                await self.deliver(older_than=self.delay_seconds)

    async def deliver(self, *, older_than: float = 0.0) -> dict[str, int]:
        """Send every logged change at least ``older_than`` seconds old, one POST per subscription."""
        store: Store = self.store_ref.store
        table = store.metadata.tables[CHANGES_TABLE]
        now = datetime.fromtimestamp(store.clock(), UTC).replace(tzinfo=None)
        cutoff = now - timedelta(seconds=older_than)
        expired = [s for s in self.subscriptions.values() if s.expiration <= now]
        for gone in expired:
            del self.subscriptions[gone.subscription_id]
        # older_than=0 takes everything: change stamps may run a few ms ahead of the clock.
        due = [table.c.stamp <= cutoff] if older_than > 0 else []
        with store.transaction() as conn:
            rows = conn.execute(sa.select(table).where(*due).order_by(table.c.seq)).all()
            if rows:
                conn.execute(table.delete().where(table.c.seq <= rows[-1].seq, *due))
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[row.subscription_id].append(row)
        result = {"sent": 0, "failed": 0, "removed": len(expired)}
        for subscription_id, changes in grouped.items():
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None:
                continue
            outcome = await self._post(subscription, self._payload(subscription, changes))
            result[outcome] += 1
            if outcome == "removed":
                del self.subscriptions[subscription_id]
            elif outcome == "failed":
                self._requeue(store, changes)
        for name, count in result.items():
            self.counters[name] += count
        return result

    @staticmethod
    def _requeue(store: Store, changes: list[Any]) -> None:
        """Put undelivered changes back with their own times, so the next delivery retries them."""
        table = store.metadata.tables[CHANGES_TABLE]
        rows = [
            {
                "subscription_id": c.subscription_id,
                "entity_id": c.entity_id,
                "change": c.change,
                "stamp": c.stamp,
            }
            for c in changes
        ]
        with store.transaction() as conn:
            conn.execute(table.insert(), rows)

    def _payload(self, subscription: Subscription, changes: list[Any]) -> dict[str, Any]:
        expiration = format_datetime(subscription.expiration, millis=True)
        base = {"subscriptionId": subscription.subscription_id, "clientState": subscription.client_state}
        if len(changes) > self.collection_threshold:
            last = max(change.stamp for change in changes)
            return {
                "value": [
                    {
                        **base,
                        "expirationDateTime": expiration,
                        "resource": subscription.resource,
                        "changeType": "collection",
                        "lastModifiedDateTime": format_datetime(last, millis=True),
                    }
                ]
            }
        return {
            "value": [
                {
                    **base,
                    "expirationDateTime": expiration,
                    "resource": f"{subscription.resource}({change.entity_id})",
                    "changeType": change.change,
                    "lastModifiedDateTime": format_datetime(change.stamp, millis=True),
                }
                for change in changes
            ]
        }

    async def _post(self, subscription: Subscription, payload: dict[str, Any]) -> str:
        """'sent'; 'failed' (408/429/5xx or no answer: kept, BC retries); 'removed' (other errors)."""
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
                response = await client.post(subscription.notification_url, json=payload)
        except httpx.HTTPError:
            return "failed"
        if response.status_code < 300:
            return "sent"
        return "failed" if response.status_code in RETRY_STATUSES else "removed"


__all__ = ["WebhookHub", "install"]
