"""ERP polls that runs make only when due, because BC webhook subscriptions cover the polled set:
SALES ORDER's ERP orders (their fulfilled status flows back, gateway.sync.orders) and ERP PRICING's
standard-API sets (gateway.sync.pricing_mirror). The subscription manager records which sets have
our subscription in place and the receiver when BC notified one (gateway.store.erp_watch); the run
records when its gated poll last started (sync_watermark.polled_at of the polled mapping's
erp_to_crm watermark)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from gateway.domain import Side
from gateway.store import erp_watch, watermarks
from gateway.store.engine import SessionFactory
from gateway.store.types import utcnow
from gateway.sync.fencing import Fence
from gateway.sync.mirroring import READ_DIRECTION
from gateway.sync.subscriptions import RECHECK_SECONDS

ERP_READ = READ_DIRECTION[Side.ERP]
# With a BC subscription to a set, a change's notification wakes the run that reads it, so idle runs
# need not poll BC. But BC drops a subscription silently after failed deliveries (and a notification
# can be lost on its way): the set is still polled every five minutes, so a missed change arrives
# within that, not never.
ERP_POLL_FALLBACK = timedelta(minutes=5)
# The subscription manager sees every subscription in place every RECHECK_SECONDS; a check older
# than two of those means it stopped (or fails), and the subscription is no longer relied on.
SUBSCRIPTION_TRUSTED = timedelta(seconds=2 * RECHECK_SECONDS)


async def erp_poll_due(sessions: SessionFactory, *, mapping: str, entity_set: str) -> bool:
    """Whether a run polls `entity_set` (read under `mapping`'s watermark) now: always, unless BC
    notifies us of the set (our subscription to it was seen in place lately); then only when BC
    notified a change since the last poll started, or when ERP_POLL_FALLBACK passed since then."""
    now = utcnow()
    async with sessions() as session:
        mark = await watermarks.get_watermark(session, mapping=mapping, direction=ERP_READ)
        watch = await erp_watch.get_watch(session, entity_set=entity_set)
    polled = mark.polled_at if mark is not None else None
    if polled is None or now - polled >= ERP_POLL_FALLBACK:
        return True
    if watch is None or watch.verified_at is None or now - watch.verified_at > SUBSCRIPTION_TRUSTED:
        return True  # no subscription, it failed, or nobody has checked it lately
    return watch.notified_at is not None and watch.notified_at >= polled


async def record_polled(
    sessions: SessionFactory, *, mappings: Iterable[str], at: datetime, fence: Fence
) -> None:
    """The gated polls of `mappings` (watermark names) started at `at`."""
    async with sessions.begin() as session:
        for mapping in mappings:
            await watermarks.set_polled(session, mapping=mapping, direction=ERP_READ, at=at)
        await fence.check(session)
