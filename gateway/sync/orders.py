"""Sales orders (DOMAIN §8): submitted CRM orders become open ERP sales orders — customer from the
coupled account, lines from coupled products by sequence, prices as entered, line discount =
quantity * volume discount + manual discount, requested delivery date, the CRM order number as
external document number — created once (intent + lookup by that number); the ERP order number and
the fulfilled status flow back."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.domain import BatchResult, Side, UpstreamRecord
from gateway.errors import MissingDependency, RecordError
from gateway.store import couplings as couplings_store
from gateway.store import intents, jobs, mirror, sync_state
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import ErrorAction
from gateway.store.types import utcnow
from gateway.sync.erp_polls import erp_poll_due, record_polled
from gateway.sync.model import MappingDirection, TableMapping
from gateway.sync.runstate import is_transient
from gateway.upstream.odata import in_filter
from gateway.upstream.writes import Write

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from gateway.sync.engine import SyncEngine
    from gateway.sync.mirroring import ReadResult
    from gateway.sync.runstate import RunState

ACTIVE, SUBMITTED = 0, 1
OPEN = (ACTIVE, SUBMITTED)
"""CRM order states that may still become fulfilled (not canceled, fulfilled or invoiced)."""
FULFILLED_STATUS = 100001  # statuscode Complete
FULFILL_ACTION = "FulfillSalesOrder"
LOOKUP_MAPPINGS = ("CUSTOMER", "ITEM-PRODUCT", "ITEM UOM")


def order_lines_table() -> TableMapping:
    """The CRM order lines, read alongside the orders (their own watermark, no couplings)."""
    return TableMapping(
        name="SALES ORDER:lines",
        erp_entity="salesOrderLines",
        crm_entity="salesorderdetails",
        direction=MappingDirection.CRM_TO_ERP,
        fields=(),
    )


@dataclass
class _Lookups:
    customers: dict[str, str]
    items: dict[str, str]
    item_numbers: dict[str, str]
    units: dict[str, str]


def _date(value: Any) -> str | None:
    return str(value)[:10] if value else None


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


def build_order(
    order: Mapping[str, Any], lines: list[Mapping[str, Any]], lookups: _Lookups
) -> dict[str, Any]:
    """The ERP sales order (with its lines, deep-inserted) for a submitted CRM order."""
    account = str(order.get("_customerid_value") or "")
    customer = lookups.customers.get(account)
    if customer is None:
        raise MissingDependency("customer", f"account {account or '(none)'} is not coupled to a customer")
    body_lines = []
    for line in sorted(lines, key=lambda row: int(row.get("sequencenumber") or 0)):
        product = str(line.get("_productid_value") or "")
        item = lookups.items.get(product)
        sequence = int(line.get("sequencenumber") or 0)
        if item is None:
            raise MissingDependency(
                f"line {sequence}", f"product {product or '(none)'} is not coupled to an item"
            )
        quantity = float(line.get("quantity") or 0)
        discount = quantity * float(line.get("volumediscountamount") or 0) + float(
            line.get("manualdiscountamount") or 0
        )
        row: dict[str, Any] = {
            "sequence": sequence * 10000,
            "lineType": "Item",
            "itemId": item,
            "lineObjectNumber": lookups.item_numbers.get(product, ""),
            "quantity": quantity,
            "unitPrice": _money(line.get("priceperunit")),  # as entered in Sales: no re-pricing
            "discountAmount": round(discount, 2),
        }
        unit = lookups.units.get(str(line.get("_uomid_value") or ""))
        if unit:
            row["unitOfMeasureCode"] = unit.split("|", 1)[-1]
        body_lines.append(row)
    return {
        "externalDocumentNumber": str(order.get("ordernumber") or "")[:35],
        "customerId": customer,
        "orderDate": _date(order.get("submitdate") or order.get("modifiedon")),
        "requestedDeliveryDate": _date(order.get("requestdeliveryby")),
        "salesOrderLines": body_lines,
    }


async def sync_orders(
    engine: SyncEngine,
    run: RunState,
    *,
    full: bool,
    read_cache: dict[tuple[Side, str], ReadResult] | None = None,
) -> None:
    """Read orders, their lines and the ERP orders, transfer the submitted ones, report back."""
    table = run.mapping
    lines_table = order_lines_table()
    # A transfer depends on the customer's, the products' and the units' couplings.
    dependencies = await engine._dependencies(table, also=LOOKUP_MAPPINGS)
    if full:
        for source, side in ((table, Side.CRM), (lines_table, Side.CRM), (table, Side.ERP)):
            await engine._read_fully(source, side, run.fence, read_cache)
    elif not await _read_changes(engine, run) and not engine.retries.due(table, dependencies):
        # Nothing changed: orders that failed to transfer (or to report back) wait for a change, the
        # retry backoff, or an admin run (gateway.sync.retries), so an idle run loads nothing more.
        return
    async with engine.reads() as session:
        orders = await mirror.load_records(session, side=Side.CRM, entity_set=table.crm_entity)
        details = await mirror.load_records(session, side=Side.CRM, entity_set=lines_table.crm_entity)
        erp_orders = await mirror.load_records(session, side=Side.ERP, entity_set=table.erp_entity)
        couplings = {c.crm_id: c for c in await sync_state.mapping_couplings(session, mapping=table.name)}
        lookups = _Lookups({}, {}, {}, {})
        for c in await sync_state.mapping_couplings(session, mapping="CUSTOMER"):
            lookups.customers[c.crm_id] = c.erp_id
        for c in await sync_state.mapping_couplings(session, mapping="ITEM-PRODUCT"):
            lookups.items[c.crm_id] = c.erp_id
            lookups.item_numbers[c.crm_id] = c.erp_key or ""
        for c in await sync_state.mapping_couplings(session, mapping="ITEM UOM"):
            if c.erp_key:
                lookups.units[c.crm_id] = c.erp_key
    lines_of: dict[str, list[Mapping[str, Any]]] = {}
    for detail in details.values():
        lines_of.setdefault(str(detail.values.get("_salesorderid_value")), []).append(detail.values)
    pending = [o for o in orders.values() if o.values.get("statecode") == SUBMITTED and o.id not in couplings]
    if pending:  # the job's total, known before the transfer counts each of them done
        async with engine.sessions.begin() as session:
            await jobs.update_job(session, job_id=run.jobs[run.primary], total=len(pending))
    await _transfer(engine, run, pending, lines_of, lookups)
    await _report_back(engine, run, orders, erp_orders, couplings)
    engine.retries.tried(table, dependencies)
    engine.retries.settle(table, transient=run.transient, retried=True)


async def _read_changes(engine: SyncEngine, run: RunState) -> bool:
    """An incremental run reads the CRM orders' changes and only what they make necessary: the
    lines' changes when an order changed (a submitted order's lines can no longer change, and the
    lines' delta link keeps every change until it is next used), and the ERP orders' changes while
    a transferred order still waits for its fulfilled status and that poll is due (every run
    unless BC notifies us of the ERP orders, see gateway.sync.erp_polls). Idle with nothing awaiting
    fulfilment, or with BC's notifications covering it, that is one request. True when anything
    changed."""
    table, reader = run.mapping, engine.reader
    read = await reader.changes(mapping=table, side=Side.CRM, fence=run.fence, generation=uuid.uuid4().hex)
    changed = bool(read.changed or read.deleted)
    if changed:
        await reader.changes(
            mapping=order_lines_table(), side=Side.CRM, fence=run.fence, generation=uuid.uuid4().hex
        )
    due = await erp_poll_due(engine.sessions, mapping=table.name, entity_set=table.erp_entity)
    if due and await _awaiting_fulfilment(engine, table):
        started = utcnow()
        erp = await reader.changes(mapping=table, side=Side.ERP, fence=run.fence, generation=uuid.uuid4().hex)
        await record_polled(engine.sessions, mappings=[table.name], at=started, fence=run.fence)
        changed = changed or bool(erp.changed or erp.deleted)
    return changed


async def _awaiting_fulfilment(engine: SyncEngine, table: TableMapping) -> bool:
    """Whether a transferred order is still open (may yet become fulfilled)."""
    async with engine.reads() as session:
        coupled = [c.crm_id for c in await sync_state.mapping_couplings(session, mapping=table.name)]
        orders = await mirror.load_records(session, side=Side.CRM, entity_set=table.crm_entity, ids=coupled)
    return any(o.values.get("statecode") in OPEN for o in orders.values())


async def _transfer(
    engine: SyncEngine,
    run: RunState,
    pending: list[MirrorRecord],
    lines_of: Mapping[str, list[Mapping[str, Any]]],
    lookups: _Lookups,
) -> None:
    table = run.mapping
    planned: list[tuple[MirrorRecord, dict[str, Any]]] = []
    for order in pending:
        try:
            planned.append((order, build_order(order.values, list(lines_of.get(order.id, [])), lookups)))
        except RecordError as exc:
            engine._fail(
                run,
                reason=str(exc),
                crm_id=order.id,
                crm_key=order.key,
                field=getattr(exc, "field", None),
                cause=[str(exc), f"order {order.values.get('ordernumber')} was not transferred"],
                actions=(ErrorAction.RETRY, ErrorAction.IGNORE),
            )
    async with engine.sessions.begin() as session:
        earlier = await intents.intents_for(session, mapping=table.name, crm_ids=[o.id for o, _ in planned])
        for order, body in planned:
            if order.id not in earlier:
                await intents.record_intent(
                    session, mapping=table.name, crm_id=order.id, erp_number=body["externalDocumentNumber"]
                )
        await run.fence.check(session)
    found: dict[str, UpstreamRecord] = {}
    numbers = [i.erp_number for i in earlier.values()]
    for start in range(0, len(numbers), 50):
        condition = in_filter("externalDocumentNumber", numbers[start : start + 50])
        async for page in engine.erp.pages(table.erp_entity, filter=condition):
            for row in page:
                found[str(row.values.get("externalDocumentNumber"))] = row
    done: list[tuple[MirrorRecord, UpstreamRecord]] = []
    to_post: list[tuple[MirrorRecord, Write]] = []
    for order, body in planned:
        existing = found.get(body["externalDocumentNumber"]) if order.id in earlier else None
        if existing is not None:
            done.append((order, existing))
        else:
            to_post.append((order, Write.create(table.erp_entity, body)))
    results = await engine._send(run, Side.ERP, [w for _, w in to_post])
    for (order, _), result in zip(to_post, results, strict=True):
        if isinstance(result, BaseException) or result.status >= 300 or not result.body:
            reason = (
                str(result)
                if isinstance(result, BaseException)
                else f"ERP refused the order ({result.status}): {result.error_message}"
            )
            transient = is_transient(result)
            engine._fail(run, reason=reason, crm_id=order.id, crm_key=order.key, transient=transient)
            continue
        values = {k: v for k, v in result.body.items() if not k.startswith("@")}
        done.append(
            (order, UpstreamRecord(table.erp_entity, str(values.get("id")), values, result.etag, None))
        )
    back = [
        (
            order,
            Write.update(table.crm_entity, uuid.UUID(order.id), {"description": _number_note(erp)}, etag="*"),
        )
        for order, erp in done
    ]
    await engine._send(run, Side.CRM, [w for _, w in back])
    async with engine.sessions.begin() as session:
        for order, erp in done:
            await couplings_store.create_coupling(
                session,
                mapping=table.name,
                erp_id=erp.id,
                crm_id=order.id,
                erp_key=str(erp.values.get("number") or "") or None,
                crm_key=order.key,
                last_synced={"erp": {"number": erp.values.get("number")}, "crm": {}},
            )
            run.resolved.add((None, order.id))
        if done:
            await mirror.upsert_records(
                session, side=Side.ERP, entity_set=table.erp_entity, records=[e for _, e in done]
            )
        await intents.drop_intents(session, mapping=table.name, crm_ids=[o.id for o, _ in done])
        run.count("inserted", len(done))
        run.count("done", len(pending))
        await engine._flush(session, run)
        await run.fence.check(session)


def _describe(result: BatchResult | BaseException) -> str:
    if isinstance(result, BaseException):
        return f"{type(result).__name__}: {result}"
    return f"{result.status} {result.error_code or ''} {result.error_message or ''}".strip()


def _number_note(erp: UpstreamRecord | MirrorRecord) -> str:
    return f"Business Central order {erp.values.get('number')}"


async def _report_back(
    engine: SyncEngine,
    run: RunState,
    orders: Mapping[str, MirrorRecord],
    erp_orders: Mapping[str, MirrorRecord],
    couplings: Mapping[str, Any],
) -> None:
    """Shipped ERP orders mark their open CRM orders fulfilled: the shipping date is written first,
    then Dataverse's FulfillSalesOrder action closes the order as Fulfilled / Complete (an update may
    not set that state, and a fulfilled order takes no more updates)."""
    table = run.mapping
    writes: list[Write] = []
    numbers: list[str] = []
    for crm_id, coupling in couplings.items():
        crm, erp = orders.get(crm_id), erp_orders.get(coupling.erp_id)
        if crm is None or erp is None:
            continue
        if erp.values.get("fullyShipped") and crm.values.get("statecode") in OPEN:
            shipped = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            writes.append(
                Write.update(table.crm_entity, uuid.UUID(crm_id), {"datefulfilled": shipped}, etag="*")
            )
            close = {
                "subject": f"{_number_note(erp)} shipped",
                "salesorderid@odata.bind": f"/{table.crm_entity}({crm_id})",
            }
            writes.append(Write.action(FULFILL_ACTION, {"OrderClose": close, "Status": FULFILLED_STATUS}))
            numbers.append(str(crm.values.get("ordernumber") or crm_id))
    results = await engine._send(run, Side.CRM, writes)
    modified = 0
    for number, result in zip(numbers, results[1::2], strict=True):  # the actions' results
        if not isinstance(result, BaseException) and result.status < 300:
            modified += 1
        else:  # the next run tries again: the ERP order stays shipped and the CRM order open
            log.warning("order %s could not be marked fulfilled: %s", number, _describe(result))
    if modified:
        async with engine.sessions.begin() as session:
            run.count("modified", modified)
            await engine._flush(session, run)
            await run.fence.check(session)
