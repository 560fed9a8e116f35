"""What Dataverse already holds about products and orders: unit groups, products matching items by
number, by name only, ambiguously or not at all, one price list, and salespeople's orders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from gateway.simulators.demo.catalog import Catalog
from gateway.simulators.demo.common import REFERENCE_DATE, Row, Stream, day, money, pick, quota
from gateway.simulators.demo.crm_accounts import CrmParties

EXISTING_SHARE = 0.4
"""Share of the items that Sales already knows as products."""
MATCH_SHARES = {"name": 0.4, "ambiguous": 0.08}
SALES_INVENTORY, SERVICES = 1, 3  # producttypecode option values
# statecode -> statuscode of a sales order, and how many orders are in each state.
ORDER_STATES = {0: 1, 1: 3, 2: 4, 3: 100001}
ORDER_STATE_SHARES = {1: 0.4, 2: 0.1, 3: 0.1}


@dataclass(slots=True)
class CrmCatalog:
    schedules: list[Row] = field(default_factory=list)
    uoms: list[Row] = field(default_factory=list)
    products: list[Row] = field(default_factory=list)
    price_levels: list[Row] = field(default_factory=list)
    product_price_levels: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    order_lines: list[Row] = field(default_factory=list)


def _row(s: Stream, key: str, modified: str, state: int = 0, status: int = 1) -> Row:
    return {
        key: s.guid(),
        "modifiedon": modified,
        "statecode": state,
        "statuscode": status,
        "versionnumber": 0,
    }


def price_level_id(*, seed: int) -> str:
    """The id of the one price list Sales has before coupling (accounts point at it)."""
    return Stream(seed, "crm-pricelevel").guid()


def build_crm_catalog(*, seed: int, catalog: Catalog, crm: CrmParties, order_count: int) -> CrmCatalog:
    """Unit groups, products, the existing price list with its prices, and `order_count` orders."""
    s = Stream(seed, "crm-catalog")
    rng = s.rng
    r = rng.random
    out = CrmCatalog()
    usd = crm.currency_ids["USD"]
    setup = (date(2024, 6, 1), date(2024, 9, 1))
    # Sales ships the "Default Unit" group; someone added a furniture group with boxes and pallets.
    uom_of: dict[str, tuple[str, str]] = {}  # unit name -> (uomid, uomscheduleid)
    for group, units in (
        ("Default Unit", (("Primary Unit", 1.0),)),
        ("Furniture Units", (("PCS", 1.0), ("BOX", 12.0), ("PALLET", 480.0))),
    ):
        schedule = _row(s, "uomscheduleid", s.stamp(*setup))
        schedule.update(name=group, baseuomname=units[0][0], description=None)
        out.schedules.append(schedule)
        base_id = ""
        for name, quantity in units:
            uom = _row(s, "uomid", s.stamp(*setup))
            base_id = base_id or uom["uomid"]
            uom.update(
                name=name,
                quantity=quantity,
                _uomscheduleid_value=schedule["uomscheduleid"],
                _baseuom_value=None if quantity == 1.0 else base_id,
                isschedulebaseuom=quantity == 1.0,
            )
            out.uoms.append(uom)
            uom_of[name] = (uom["uomid"], schedule["uomscheduleid"])
    level = _row(s, "pricelevelid", s.stamp(*setup), 0, 100001)
    level.update(
        pricelevelid=price_level_id(seed=seed),
        name="Standard USD",
        description="Sales' own price list, kept by hand",
        _transactioncurrencyid_value=usd,
        begindate=None,
        enddate=None,
    )
    out.price_levels.append(level)

    items = catalog.items
    existing = sorted(pick(rng, len(items), EXISTING_SHARE))
    kinds = quota(rng, len(existing), MATCH_SHARES, "number")
    stamps = iter(
        s.stamps(
            3 * len(existing) + 2 * len(catalog.spare_names),
            date(2024, 9, 1),
            date(2026, 11, 15),
        )
    )
    numbered: list[tuple[Row, Row]] = []  # (item, product) pairs that match by number

    def product(name: str, number: str, item: Row | None, price: float) -> Row:
        goods = item is None or item["type"] != "Service"
        unit = "PCS" if goods and (item is None or item["baseUnitOfMeasureCode"] == "PCS") else "Primary Unit"
        row = _row(s, "productid", next(stamps))
        cost = item["unitCost"] if item else money(price * 0.6)
        row.update(
            productnumber=number,
            name=name,
            description=None,
            _defaultuomscheduleid_value=uom_of[unit][1],
            _defaultuomid_value=uom_of[unit][0],
            _pricelevelid_value=level["pricelevelid"] if r() < 0.5 else None,
            _transactioncurrencyid_value=usd,
            price=price,
            standardcost=cost,
            currentcost=cost,
            quantityonhand=float(max(0, item["inventory"])) if item and r() < 0.5 else 0.0,
            producttypecode=SALES_INVENTORY if goods else SERVICES,
            quantitydecimal=0,
        )
        out.products.append(row)
        if row["_pricelevelid_value"]:
            ppl = _row(s, "productpricelevelid", next(stamps))
            ppl.update(
                _pricelevelid_value=level["pricelevelid"],
                _productid_value=row["productid"],
                productnumber=number,
                _uomid_value=row["_defaultuomid_value"],
                _uomscheduleid_value=row["_defaultuomscheduleid_value"],
                amount=price,
                pricingmethodcode=1,
                quantitysellingcode=1,
                _transactioncurrencyid_value=usd,
            )
            out.product_price_levels.append(ppl)
        return row

    serial = iter(range(10001, 10**7))
    for i, kind in zip(existing, kinds, strict=True):
        item = items[i]
        # Prices in Sales drift from the ERP's until a synchronization settles them.
        price = item["unitPrice"] if r() < 0.8 else money(item["unitPrice"] * 1.05)
        if kind == "number":
            numbered.append((item, product(item["displayName"], item["number"], item, price)))
        else:  # typed in Sales, which insists on a product number of its own
            product(item["displayName"], f"PRD-{next(serial)}", item, price)
            if kind == "ambiguous":
                product(item["displayName"], f"PRD-{next(serial)}", item, money(price * 0.98))
    crm_only = []
    for k, name in enumerate(catalog.spare_names):
        row = product(name, f"PRD-{next(serial)}", None, money(50 + r() * 900))
        if k == 1:  # retired
            row.update(statecode=1, statuscode=2)
        crm_only.append(row)
    _orders(s, out, crm, numbered, crm_only[0], order_count, stamps)
    return out


def _orders(
    s: Stream,
    out: CrmCatalog,
    crm: CrmParties,
    numbered: list[tuple[Row, Row]],
    stray: Row,
    count: int,
    stamps: Iterator[str],
) -> None:
    """Orders of accounts that match by number, on products that match by number; the last
    submitted one also sells `stray`, a product the ERP does not have (its transfer must fail)."""
    rng = s.rng
    r = rng.random
    buyers = [a for c, a in crm.by_number if c["blocked"] == " "]
    products = [p for item, p in numbered if not item["blocked"]]
    states = quota(rng, count, ORDER_STATE_SHARES, 0)
    last_submitted = max(k for k, state in enumerate(states) if state == 1)
    for k in range(count):
        account = buyers[int(r() * len(buyers))]
        state = states[k]
        currency_id = account["_transactioncurrencyid_value"]
        rate = 1.0 if currency_id == crm.currency_ids["USD"] else 1 / 0.9319
        # Entered in the last month; a fulfilled order was last touched when it was fulfilled.
        order_day = -3 - int(r() * 27)
        fulfilled = f"{REFERENCE_DATE + timedelta(days=order_day + 2)}T12:00:00Z"
        modified = (
            fulfilled if state == 3 else f"{day(order_day)}T{8 + int(r() * 10):02d}:{int(r() * 60):02d}:00Z"
        )
        order = _row(s, "salesorderid", modified, state, ORDER_STATES[state])
        lines = [products[int(r() * len(products))] for _ in range(1 + int(r() * 4))] if products else []
        if k == last_submitted:
            lines.append(stray)
        total = 0.0
        for sequence, p in enumerate(lines, start=1):
            quantity = float(1 + int(r() * 25))
            overridden = r() < 0.2
            price = money(p["price"] / rate * (0.9 if overridden else 1.0))
            volume = money(price * 0.05) if quantity >= 10 else 0.0
            manual = money(quantity * price * 0.02) if r() < 0.3 else 0.0
            base = money(quantity * price)
            extended = money(base - quantity * volume - manual)
            total += extended
            line = _row(s, "salesorderdetailid", order["modifiedon"])
            line.update(
                _salesorderid_value=order["salesorderid"],
                _productid_value=p["productid"],
                _uomid_value=p["_defaultuomid_value"],
                _transactioncurrencyid_value=currency_id,
                quantity=quantity,
                priceperunit=price,
                ispriceoverridden=overridden,
                isproductoverridden=False,
                manualdiscountamount=manual,
                volumediscountamount=volume,
                baseamount=base,
                extendedamount=extended,
                sequencenumber=sequence,
            )
            out.order_lines.append(line)
        percent = 2.0 if r() < 0.2 else 0.0
        discount = money(total * percent / 100)
        freight = 50.0 if r() < 0.3 else 0.0
        order.update(
            name=f"{account['name'][:60]} - order {k + 1}",
            ordernumber=f"ORD-{1001 + k:05d}-{s.guid()[:6].upper()}",
            _customerid_value=account["accountid"],
            _pricelevelid_value=out.price_levels[0]["pricelevelid"],
            _transactioncurrencyid_value=currency_id,
            _ownerid_value=account["_ownerid_value"],
            totallineitemamount=money(total),
            discountpercentage=percent,
            discountamount=discount,
            freightamount=freight,
            totalamount=money(total - discount + freight),
            requestdeliveryby=day(order_day + 14),
            datefulfilled=f"{REFERENCE_DATE + timedelta(days=order_day + 7)}T12:00:00Z"
            if state == 3
            else None,
        )
        out.orders.append(order)
