"""Business Central webhook subscriptions: one per ERP entity set that an enabled mapping reads
towards the CRM, pointing at our receiver with our clientState, renewed well before BC's 3-day expiry,
recreated when BC dropped one. Exactly one process manages them, under the `bc-subscriptions` lease.

Every pass lists the environment's subscriptions (one request) and then only writes what differs:
an idle pass is that one GET. The lease row doubles as the cluster-wide schedule of the passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.domain import WebhookSubscription
from gateway.errors import GatewayError, UpstreamNotFound
from gateway.store import erp_watch
from gateway.store.engine import SessionFactory
from gateway.store.leases import acquire, is_due, is_free, list_leases, release
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.deletion_requests import request_check
from gateway.sync.mirroring import erp_api
from gateway.upstream.erp import ErpConnector

log = logging.getLogger(__name__)

LEASE = "bc-subscriptions"
# BC subscriptions expire after 3 days. Renewing once less than a day remains costs one PATCH per
# entity set every two days, and still leaves a whole day for an outage (ours or BC's) to end before
# notifications stop; a pass every few minutes has many chances inside that day.
RENEW_MARGIN = timedelta(days=1)
# BC removes a subscription silently after failed deliveries (and on expiry); a listing every five
# minutes (one request) finds it gone and recreates it, while polling covers the gap.
RECHECK_SECONDS = 300.0
# A pass that failed (BC unreachable, or the handshake refused: in demo our own receiver may not listen
# yet) is retried after 1 s, then doubling up to RECHECK_SECONDS.
RETRY_FIRST_SECONDS = 1.0
# A pass holds the lease for at most this long; it makes a handful of requests, each handshake ≤ 5 s.
LEASE_TTL_SECONDS = 120.0


@dataclass
class PassResult:
    """What one pass did, by subscription resource."""

    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _same(resource: str) -> str:
    """Resources compare without the leading slash and case-insensitively (BC answers either way)."""
    return resource.lstrip("/").lower()


class SubscriptionManager:
    """Keeps our BC subscriptions in line with the mappings (see module docstring)."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        erp: ErpConnector,
        notification_url: str,
        client_state: str,
        holder: str,
        clock: Callable[[], datetime] = utcnow,
        recheck_seconds: float = RECHECK_SECONDS,
        tick_seconds: float = 15.0,
    ) -> None:
        if not notification_url or not client_state:
            raise ValueError("a subscription manager needs a notification URL and a clientState")
        self.sessions = sessions
        self.erp = erp
        self.notification_url = notification_url
        self._client_state = client_state
        self.holder = holder
        self.clock = clock
        self.recheck_seconds = recheck_seconds
        self.tick_seconds = tick_seconds
        self.passes = 0
        self._failures = 0

    def __repr__(self) -> str:  # never the clientState
        return f"SubscriptionManager(url={self.notification_url!r}, holder={self.holder!r})"

    async def resources(self) -> list[str]:
        """The resource of every ERP entity set an enabled mapping reads towards the CRM."""
        return list((await self._wanted()).values())

    async def _wanted(self) -> dict[str, str]:
        """Entity set -> resource, for every set an enabled mapping reads towards the CRM (including
        SALES ORDER's ERP orders, whose fulfilled status flows back, and ERP PRICING's standard-API
        sets: catalog.erp_readers)."""
        async with self.sessions() as session:
            mappings = await catalog.load_mappings(session)
        wanted = dict.fromkeys((erp_api(r.table), r.table.erp_entity) for r in catalog.erp_readers(mappings))
        return {entity: await self.erp.subscription_resource(entity, api=api) for api, entity in wanted}

    async def reconcile(self, existing: list[WebhookSubscription]) -> PassResult:
        """Bring the subscriptions BC listed (`existing`) in line: create the missing ones, renew
        those near expiry (or carrying another clientState), recreate those BC answers 404 for,
        delete ours that no mapping needs any more and duplicates. Other URLs' subscriptions stay."""
        result = PassResult()
        now = self.clock()
        sets = await self._wanted()
        wanted = {_same(r): r for r in sets.values()}
        ours: dict[str, list[WebhookSubscription]] = defaultdict(list)
        for subscription in existing:
            if subscription.notification_url == self.notification_url:
                ours[_same(subscription.resource)].append(subscription)
        current: dict[str, WebhookSubscription] = {}
        for key, found in ours.items():
            found.sort(key=lambda s: s.expires_at, reverse=True)
            keep = found[:1] if key in wanted else []
            current.update((key, s) for s in keep)
            for extra in found[len(keep) :]:
                await self._attempt(result, extra.resource, self._delete(result, extra))
        for key, resource in wanted.items():
            await self._attempt(result, resource, self._ensure(result, resource, current.get(key), now))
        # Which sets BC will notify us of: a run may skip its poll of such a set (gateway.sync.orders).
        # A set whose subscription had to be created or recreated may have lost notices (deletions
        # among them) while it had none: its deletion check is asked for.
        fresh = set(result.created) | set(result.recreated)
        async with self.sessions.begin() as session:
            await erp_watch.record_verified(
                session,
                verified=[entity for entity, r in sets.items() if r not in result.failed],
                lost=[entity for entity, r in sets.items() if r in result.failed],
                at=now,
            )
            await request_check(session, entity_sets=[entity for entity, r in sets.items() if r in fresh])
        return result

    async def _attempt(self, result: PassResult, resource: str, step: Awaitable[None]) -> None:
        try:
            await step
        except GatewayError as exc:  # one resource's failure does not stop the others
            result.failed[resource] = str(exc)
            log.warning("BC subscription to %s: %s", resource, exc)

    async def _delete(self, result: PassResult, subscription: WebhookSubscription) -> None:
        with contextlib.suppress(UpstreamNotFound):  # gone already
            await self.erp.delete_subscription(subscription)
        result.deleted.append(subscription.resource)
        log.info(
            "BC subscription to %s deleted (no enabled mapping reads it, or a duplicate)",
            subscription.resource,
        )

    async def _ensure(
        self, result: PassResult, resource: str, subscription: WebhookSubscription | None, now: datetime
    ) -> None:
        if subscription is None:
            await self._create(resource)
            result.created.append(resource)
            return
        stale_state = subscription.client_state != self._client_state
        if not stale_state and subscription.expires_at - now > RENEW_MARGIN:
            result.unchanged.append(resource)
            return
        try:
            renewed = await self.erp.renew_subscription(
                subscription, notification_url=self.notification_url, client_state=self._client_state
            )
        except UpstreamNotFound:
            # BC removed it since it was listed (failed deliveries, or expiry): start over.
            await self._create(resource)
            result.recreated.append(resource)
            return
        result.renewed.append(resource)
        log.info("BC subscription to %s renewed until %s", resource, renewed.expires_at.isoformat())

    async def _create(self, resource: str) -> None:
        created = await self.erp.create_subscription(
            resource=resource, notification_url=self.notification_url, client_state=self._client_state
        )
        log.info("BC subscription to %s created (expires %s)", resource, created.expires_at.isoformat())

    # ---------------------------------------------------------------------------- under the lease

    async def run_once(self) -> PassResult | None:
        """One pass if it is due and nobody else runs it (None otherwise); the lease is released
        with the next pass due in `recheck_seconds`, or sooner after a failure."""
        now = self.clock()
        async with self.sessions() as session:
            rows = await list_leases(session, names=[LEASE])
        if rows and not (is_free(rows[0], now=now) and is_due(rows[0], now=now)):
            return None  # another process runs it, or the next pass is not due yet
        async with self.sessions.begin() as session:
            grant = await acquire(
                session, name=LEASE, holder=self.holder, ttl=LEASE_TTL_SECONDS, now=now, only_if_due=True
            )
        if grant is None:
            return None
        result: PassResult | None = None
        try:
            result = await self.reconcile(await self.erp.subscriptions())
        except GatewayError as exc:
            log.warning("BC subscriptions could not be listed: %s", exc)
        finally:
            self.passes += 1
            ok = result is not None and result.ok
            self._failures = 0 if ok else self._failures + 1
            delay = self.recheck_seconds
            if not ok:
                delay = min(self.recheck_seconds, RETRY_FIRST_SECONDS * 2 ** (self._failures - 1))
            async with self.sessions.begin() as session:
                await release(
                    session,
                    name=LEASE,
                    holder=self.holder,
                    generation=grant.generation,
                    next_due_at=self.clock() + timedelta(seconds=delay),
                    now=self.clock(),
                )
        return result

    async def serve(self) -> None:
        """Pass whenever due, until cancelled; between passes look at the lease row every
        `tick_seconds` (another process may have died holding it) or when the next pass is due."""
        while True:
            try:
                await self.run_once()
            except Exception:  # the store may be down for a moment; try again next tick
                log.exception("BC subscription pass failed")
            await asyncio.sleep(await self._until_due())

    async def _until_due(self) -> float:
        try:
            async with self.sessions() as session:
                rows = await list_leases(session, names=[LEASE])
        except Exception:
            return self.tick_seconds
        now = self.clock()
        if not rows or rows[0].due_at is None:
            return self.tick_seconds
        waits = [(rows[0].due_at - now).total_seconds()]
        if not is_free(rows[0], now=now):
            waits.append((rows[0].expires_at - now).total_seconds())
        return min(self.tick_seconds, max(0.05, min(waits)))


__all__ = ["LEASE", "RECHECK_SECONDS", "RENEW_MARGIN", "PassResult", "SubscriptionManager"]
