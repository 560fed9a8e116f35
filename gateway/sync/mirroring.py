"""Reading upstream changes into the mirror, page by page, each page committed (fence checked)
before the watermark moves: full reads (tagging rows to find deletions), ERP polling by
`lastModifiedDateTime` under a signpost, and Dataverse change tracking with stored delta links."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.domain import DeletedRecord, Side, UpstreamRecord
from gateway.errors import UpstreamNotFound
from gateway.store import deletion_hints, mirror, watermarks
from gateway.store.couplings import normalize_id
from gateway.store.engine import SessionFactory, read_sessions_of
from gateway.store.types import utcnow
from gateway.sync.fencing import Fence
from gateway.sync.model import TableMapping
from gateway.upstream.client import Page
from gateway.upstream.crm import CrmConnector, primary_key
from gateway.upstream.erp import ErpApi, ErpConnector, ErpRead
from gateway.upstream.odata import Query, in_filter, is_guid, odata_literal
from gateway.upstream.records import as_str, to_record

ERP_STAMP = "lastModifiedDateTime"
READ_DIRECTION = {Side.ERP: "erp_to_crm", Side.CRM: "crm_to_erp"}
# Hinted ERP deletions confirmed per read: `id in (…)` of 50 GUIDs keeps the URL near 2,000 characters.
CONFIRM_CHUNK = 50
"""The watermark of the direction whose source a side is."""
PAGE_SLICE = 2_000
"""Rows of an upstream page mirrored per write transaction (pages hold up to 20,000)."""


def erp_api(mapping: TableMapping) -> ErpApi:
    """Which BC API serves the mapping's ERP entity set (v2.0 or our integration API)."""
    return "integration" if mapping.erp_api == "integration" else "v2.0"


@dataclass
class ReadResult:
    """What one read brought. The mirror is shared by the mappings of one entity set (UNIT GROUP and
    ITEM-PRODUCT both read `items`), so `changed` (new to the mirror) depends on which of them read
    a row first; a run's scope is `records` and `deleted`: what changed upstream since this
    mapping-direction's own watermark or delta link."""

    records: set[str] = field(default_factory=set)
    """Every record the read returned, whether or not the mirror already held its values."""
    changed: set[str] = field(default_factory=set)
    """Those whose values were new or changed in the mirror."""
    deleted: set[str] = field(default_factory=set)
    """Deletions the read reported (or a full read found), also those already marked in the mirror."""
    pages: int = 0
    watermark: datetime | None = None
    signpost: datetime | None = None
    delta_link: str | None = None


def _keys(
    mapping: TableMapping | None, side: Side, records: list[UpstreamRecord]
) -> dict[str, str | None] | None:
    if mapping is None:
        return None
    return {normalize_id(r.id): mapping.key_of(side, r.values) for r in records}


class MirrorReader:
    """Reads one mapping's entity sets into the mirror (see module docstring)."""

    def __init__(self, *, sessions: SessionFactory, erp: ErpConnector, crm: CrmConnector) -> None:
        self.sessions = sessions
        self.reads = read_sessions_of(sessions)  # watermark reads take no write lock
        self.erp = erp
        self.crm = crm

    async def _commit_page(
        self,
        *,
        side: Side,
        entity_set: str,
        records: list[UpstreamRecord],
        deleted: list[str],
        fence: Fence,
        mapping: TableMapping | None,
        generation: str | None,
        result: ReadResult,
        watermark: tuple[str, str, datetime | None, datetime | None, str | None] | None = None,
    ) -> None:
        """Mirror one page in transactions of at most PAGE_SLICE rows, each fenced; the deletions and
        the watermark go with the last, so the watermark moves only once the whole page is in. A
        page of 20,000 rows in one transaction held SQLite's only write lock for up to 9 s under
        load, and the lease renewal waited behind it. A crash between slices re-reads the page."""
        slices = [records[start : start + PAGE_SLICE] for start in range(0, len(records), PAGE_SLICE)]
        for position, part in enumerate(slices or [[]]):
            last = position == len(slices or [[]]) - 1
            async with self.sessions.begin() as session:
                changed = await mirror.upsert_records(
                    session,
                    side=side,
                    entity_set=entity_set,
                    records=part,
                    keys=_keys(mapping, side, part),
                    generation=generation,
                )
                gone = (
                    await mirror.mark_deleted(session, side=side, entity_set=entity_set, ids=deleted)
                    if last
                    else []
                )
                if last and watermark is not None:
                    name, direction, mark, signpost, delta = watermark
                    await watermarks.set_watermark(
                        session,
                        mapping=name,
                        direction=direction,
                        watermark=mark,
                        signpost=signpost,
                        delta_link=delta,
                    )
                await fence.check(session)
            result.records.update(normalize_id(r.id) for r in part if r.id)
            result.changed.update(changed)
            # Reported deletions another mapping of the same set marked first are this read's too.
            result.deleted.update(gone, (normalize_id(i) for i in deleted if i) if last else ())
        result.pages += 1

    # ------------------------------------------------------------------------------ full reads

    async def full_read(
        self, *, mapping: TableMapping, side: Side, fence: Fence, generation: str
    ) -> ReadResult:
        """Every row of the mapping's entity set on `side`; rows not seen are marked deleted. Also
        starts incremental reading: the ERP watermark (capped by the signpost) or a CRM delta link."""
        result = ReadResult()
        signpost = utcnow()
        highest: datetime | None = None
        entity_set = mapping.erp_entity if side is Side.ERP else mapping.crm_entity
        delta_link: str | None = None
        async for records, deleted, delta in self._full_pages(mapping, side):
            for r in records:
                if (
                    r.modified_at is not None
                    and r.modified_at <= signpost
                    and (highest is None or r.modified_at > highest)
                ):
                    highest = r.modified_at
            delta_link = delta or delta_link
            await self._commit_page(
                side=side,
                entity_set=entity_set,
                records=records,
                deleted=deleted,
                fence=fence,
                mapping=mapping,
                generation=generation,
                result=result,
            )
        async with self.sessions.begin() as session:
            unseen = await mirror.unseen_ids(session, side=side, entity_set=entity_set, generation=generation)
            gone = await mirror.mark_deleted(session, side=side, entity_set=entity_set, ids=unseen)
            await watermarks.set_watermark(
                session,
                mapping=mapping.name,
                direction=READ_DIRECTION[side],
                watermark=highest,
                signpost=signpost,
                delta_link=delta_link,
            )
            await fence.check(session)
        result.deleted.update(gone)
        result.watermark, result.signpost, result.delta_link = highest, signpost, delta_link
        return result

    async def adopt(self, *, mapping: TableMapping, side: Side, read: ReadResult, fence: Fence) -> None:
        """Start `mapping`'s incremental reading where another mapping's full read of the same
        entity set (in the same full run) ended, instead of reading it again."""
        async with self.sessions.begin() as session:
            await watermarks.set_watermark(
                session,
                mapping=mapping.name,
                direction=READ_DIRECTION[side],
                watermark=read.watermark,
                signpost=read.signpost,
                delta_link=read.delta_link,
            )
            await fence.check(session)

    async def _full_pages(
        self, mapping: TableMapping, side: Side
    ) -> AsyncIterator[tuple[list[UpstreamRecord], list[str], str | None]]:
        if side is Side.ERP:
            async for page in self.erp.pages(mapping.erp_entity, api=erp_api(mapping)):
                yield page, [], None
            return
        async for tracked in self._crm_tracked(mapping.crm_entity, None):
            yield tracked

    async def _crm_tracked(
        self, entity_set: str, delta_link: str | None
    ) -> AsyncIterator[tuple[list[UpstreamRecord], list[str], str | None]]:
        """Dataverse change tracking one page at a time: (changed rows, deleted ids, delta link or None)."""
        target = delta_link or entity_set
        pk = primary_key(entity_set)
        async for page in self.crm.client.page_stream(
            target, query=None if delta_link else Query(), prefer=("odata.track-changes",)
        ):
            changed: list[UpstreamRecord] = []
            deleted: list[str] = []
            for row in page.rows:
                if _is_deletion(row):
                    deleted.append(DeletedRecord(entity_set=entity_set, id=as_str(row.get("id"))).id)
                else:
                    changed.append(
                        to_record(row, entity_set=entity_set, key=pk, modified="modifiedon", service="crm")
                    )
            yield changed, deleted, page.delta_link

    # ----------------------------------------------------------------------- incremental reads

    async def changes(
        self, *, mapping: TableMapping, side: Side, fence: Fence, generation: str
    ) -> ReadResult:
        """What changed on `side` since the last read (a full read when there is no watermark yet)."""
        direction = READ_DIRECTION[side]
        async with self.reads() as session:
            mark = await watermarks.get_watermark(session, mapping=mapping.name, direction=direction)
        if side is Side.CRM:
            if mark is None or not mark.delta_link:
                return await self.full_read(mapping=mapping, side=side, fence=fence, generation=generation)
            result = ReadResult()
            pending: tuple[list[UpstreamRecord], list[str]] | None = None
            async for records, deleted, delta in self._crm_tracked(mapping.crm_entity, mark.delta_link):
                await self._commit_page(
                    side=side,
                    entity_set=mapping.crm_entity,
                    records=records,
                    deleted=deleted,
                    fence=fence,
                    mapping=mapping,
                    generation=None,
                    result=result,
                    # The delta link moves only with the page that carries it (the last one).
                    watermark=(mapping.name, direction, None, None, delta) if delta else None,
                )
                pending = (records, deleted)
            del pending
            return result
        if mark is None or mark.watermark is None:
            return await self.full_read(mapping=mapping, side=side, fence=fence, generation=generation)
        signpost = utcnow()
        pages = self.erp.pages(
            mapping.erp_entity,
            api=erp_api(mapping),
            filter=_erp_since(mark.watermark, signpost),
            orderby=[ERP_STAMP],
        )
        return await self._erp_polled(mapping, pages, signpost=signpost, fence=fence)

    async def erp_changes(
        self, *, mappings: Sequence[TableMapping], fence: Fence, generation: str
    ) -> list[ReadResult]:
        """`changes` on the ERP side of several mappings, their first pages asked for together (one
        JSON `$batch` per BC API) and any further pages read one by one. A mapping with no watermark
        yet, or whose read the batch did not answer, is read on its own."""
        async with self.reads() as session:
            marks = {
                m.name: await watermarks.get_watermark(
                    session, mapping=m.name, direction=READ_DIRECTION[Side.ERP]
                )
                for m in mappings
            }
        since = {name: mark.watermark for name, mark in marks.items() if mark and mark.watermark}
        polled = [m for m in mappings if m.name in since]
        signpost = utcnow()
        reads = [
            ErpRead(
                m.erp_entity,
                erp_api(m),
                Query(filter=_erp_since(since[m.name], signpost), orderby=[ERP_STAMP]),
            )
            for m in polled
        ]
        firsts = await self.erp.first_pages(reads) if reads else []
        first_of = dict(zip((m.name for m in polled), firsts, strict=True))
        results = []
        for m in mappings:
            first = first_of.get(m.name)
            if first is None:
                results.append(
                    await self.changes(mapping=m, side=Side.ERP, fence=fence, generation=generation)
                )
            else:
                pages = self._continued(m.erp_entity, first)
                results.append(await self._erp_polled(m, pages, signpost=signpost, fence=fence))
        return results

    async def _continued(self, entity_set: str, first: Page) -> AsyncIterator[list[UpstreamRecord]]:
        if first.rows:
            yield self.erp.records(entity_set, first)
        async for page in self.erp.more_pages(entity_set, first):
            yield page

    async def _erp_polled(
        self,
        mapping: TableMapping,
        pages: AsyncIterator[list[UpstreamRecord]],
        *,
        signpost: datetime,
        fence: Fence,
    ) -> ReadResult:
        """Commit each page of an ERP poll (rows modified after the watermark, up to the signpost),
        moving the watermark with it; deletions a BC webhook announced come first."""
        result = ReadResult()
        await self._hinted_deletions(mapping, fence, result)
        direction = READ_DIRECTION[Side.ERP]
        async for page in pages:
            stamps = [r.modified_at for r in page if r.modified_at is not None]
            await self._commit_page(
                side=Side.ERP,
                entity_set=mapping.erp_entity,
                records=page,
                deleted=[],
                fence=fence,
                mapping=mapping,
                generation=None,
                result=result,
                watermark=(mapping.name, direction, max(stamps) if stamps else None, signpost, None),
            )
        return result

    async def _hinted_deletions(self, mapping: TableMapping, fence: Fence, result: ReadResult) -> None:
        """ERP deletions a BC webhook announced (or a deletion check found, gateway.sync.deletion_check)
        for this mapping: each is confirmed by BC (a read of the hinted ids, `id in (…)` of up to
        CONFIRM_CHUNK at a time, not listing it: a hint is never trusted alone), marked deleted in the
        mirror, and put in the run's scope, so the deletion policy applies now rather than at the next
        full sync."""
        async with self.reads() as session:
            hinted = await deletion_hints.hinted_ids(session, mapping=mapping.name)
        if not hinted:
            return
        gone: list[str] = []
        for start in range(0, len(hinted), CONFIRM_CHUNK):
            gone += await self._unlisted(mapping, hinted[start : start + CONFIRM_CHUNK])
        async with self.sessions.begin() as session:
            await mirror.mark_deleted(session, side=Side.ERP, entity_set=mapping.erp_entity, ids=gone)
            await deletion_hints.drop_hints(session, mapping=mapping.name, erp_ids=hinted)
            await fence.check(session)
        # Every confirmed one, also those another mapping of the same entity set marked deleted first.
        result.deleted.update(gone)

    async def _unlisted(self, mapping: TableMapping, ids: Sequence[str]) -> list[str]:
        """Which of `ids` BC no longer has: one filtered read for the GUIDs (BC's ids), a GET each
        for anything else a notice may have named (a 404 confirms it)."""
        guids = [i for i in ids if is_guid(i)]
        gone: list[str] = []
        if guids:
            listed: set[str] = set()
            wanted = in_filter("id", [uuid.UUID(i) for i in guids])
            async for page in self.erp.pages(
                mapping.erp_entity, api=erp_api(mapping), filter=wanted, select=["id"]
            ):
                listed.update(normalize_id(r.id) for r in page)
            gone += [i for i in guids if normalize_id(i) not in listed]
        for erp_id in (i for i in ids if not is_guid(i)):
            try:
                await self.erp.get(mapping.erp_entity, erp_id, api=erp_api(mapping), select=["id"])
            except UpstreamNotFound:
                gone.append(erp_id)
        return gone

    async def refetch(
        self, *, mapping: TableMapping, side: Side, record_id: str, fence: Fence
    ) -> UpstreamRecord:
        """One record read again (after a 412), also written to the mirror."""
        if side is Side.ERP:
            record = await self.erp.get(mapping.erp_entity, record_id, api=erp_api(mapping))
        else:
            record = await self.crm.get(mapping.crm_entity, record_id)
        async with self.sessions.begin() as session:
            await mirror.upsert_records(
                session,
                side=side,
                entity_set=record.entity_set,
                records=[record],
                keys=_keys(mapping, side, [record]),
            )
            await fence.check(session)
        return record


def _erp_since(watermark: datetime, signpost: datetime) -> str:
    return f"{ERP_STAMP} gt {odata_literal(watermark)} and {ERP_STAMP} le {odata_literal(signpost)}"


def _is_deletion(row: dict[str, Any]) -> bool:
    context = row.get("@odata.context")
    return (isinstance(context, str) and context.endswith("$deletedEntity")) or row.get("reason") == "deleted"
