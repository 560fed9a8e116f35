"""Sales price lists of the demo company (`priceListHeaders`, `priceListLines`): every case the best-price
calculation weighs, at about ten lines per item (5,000 items give some 50,000 lines)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from gateway.simulators.demo.catalog import Catalog
from gateway.simulators.demo.common import BLANK_DATE, LOCAL_CURRENCY, Row, Stream, day, money, pick
from gateway.simulators.demo.orders import rate_on
from gateway.simulators.demo.reference import ITEM_DISCOUNT_GROUPS

# code, description, sourceType, sourceNo, currencyCode, startingDate, endingDate, status,
# priceIncludesTax, allowLineDiscount.
HEADERS = (
    ("S00001", "Standard prices, all customers", "AllCustomers", "", "", "", "", "Active", False, True),
    ("S00002", "Retail price group", "CustomerPriceGroup", "RETAIL", "", "", "", "Active", False, True),
    ("S00003", "Wholesale price group", "CustomerPriceGroup", "WHOLESALE", "", "", "", "Active", False, True),
    ("S00004", "Export prices in EUR", "CustomerPriceGroup", "EXPORT", "EUR", "", "", "Active", False, False),
    (
        "S00005",
        "Public sector prices incl. tax",
        "CustomerPriceGroup",
        "PUBLIC",
        "",
        "",
        "",
        "Active",
        True,
        True,
    ),
    ("S00006", "Standard discounts, all customers", "AllCustomers", "", "", "", "", "Active", False, True),
    (
        "S00007",
        "Large account discounts",
        "CustomerDiscountGroup",
        "LARGE",
        "",
        "",
        "",
        "Active",
        False,
        True,
    ),
    (
        "S00008",
        "Medium account discounts",
        "CustomerDiscountGroup",
        "MEDIUM",
        "",
        "",
        "",
        "Active",
        False,
        True,
    ),
    ("S00009", "UK prices in GBP", "AllCustomers", "", "GBP", "", "", "Active", False, True),
    (
        "S00010",
        "Prices 2027 (in preparation)",
        "AllCustomers",
        "",
        "",
        "2027-01-01",
        "",
        "Draft",
        False,
        True,
    ),
    (
        "S00011",
        "Summer promotion 2026",
        "AllCustomers",
        "",
        "",
        "2026-06-01",
        "2026-08-31",
        "Active",
        False,
        True,
    ),
    (
        "S00012",
        "Spring promotion 2027",
        "AllCustomers",
        "",
        "",
        "2027-03-01",
        "2027-05-31",
        "Active",
        False,
        True,
    ),
    (
        "S00013",
        "Clearance 2025 (closed)",
        "AllCustomers",
        "",
        "",
        "2025-01-01",
        "2025-12-31",
        "Inactive",
        False,
        True,
    ),
    ("S00014", "Winter campaign", "AllCustomers", "", "", day(-10), day(40), "Active", False, False),
)
# Discount lines by item discount group: list code -> (group, minimum quantity, percent).
GROUP_DISCOUNTS = {
    "S00006": (("FURNITURE", 0.0, 3.0), ("SEATING", 10.0, 5.0), ("LIGHTING", 0.0, 2.0)),
    "S00007": (
        ("FURNITURE", 0.0, 10.0),
        ("SEATING", 0.0, 12.0),
        ("LIGHTING", 0.0, 8.0),
        ("ACCESSORY", 0.0, 5.0),
        ("SERVICE", 0.0, 5.0),
    ),
    "S00008": (("FURNITURE", 0.0, 5.0), ("SEATING", 20.0, 7.0), ("ACCESSORY", 50.0, 4.0)),
}
CUSTOMER_LINES_PER_ITEM = 2.5
"""Lines of the customer-specific lists, per item, spread over all those lists."""


@dataclass(slots=True)
class PriceLists:
    headers: list[Row] = field(default_factory=list)
    lines: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class _Writer:
    """Appends the lines of one list, numbering them and taking the header's defaults."""

    header: Row
    out: list[Row]
    stamp: Callable[[], str]
    guid: Callable[[], str]
    line_no: int = 0

    def add(
        self,
        asset_no: str,
        *,
        amount_type: str = "Price",
        unit_price: float = 0.0,
        discount: float = 0.0,
        unit: str = "",
        minimum: float = 0.0,
        asset_type: str = "Item",
        window: tuple[str, str] | None = None,
        allow_line_discount: bool | None = None,
    ) -> None:
        h = self.header
        self.line_no += 10000
        start, end = window or (h["startingDate"], h["endingDate"])
        self.out.append(
            {
                "id": self.guid(),
                "priceListCode": h["code"],
                "lineNo": self.line_no,
                "sourceType": h["sourceType"],
                "sourceNo": h["sourceNo"],
                "assetType": asset_type,
                "assetNo": asset_no,
                "unitOfMeasureCode": unit,
                "currencyCode": h["currencyCode"],
                "startingDate": start,
                "endingDate": end,
                "minimumQuantity": minimum,
                "amountType": amount_type,
                "unitPrice": unit_price,
                "lineDiscountPercent": discount,
                "allowLineDiscount": h["allowLineDiscount"]
                if allow_line_discount is None
                else allow_line_discount,
                "priceIncludesTax": h["priceIncludesTax"],
                "lastModifiedDateTime": self.stamp(),
            }
        )


def build_price_lists(*, seed: int, catalog: Catalog, customers: list[Row]) -> PriceLists:
    """The fixed lists of HEADERS plus one customer-specific list per tenth customer (at most 500)."""
    s = Stream(seed, "pricelists")
    rng = s.rng
    r = rng.random
    n_items = len(catalog.items)
    # About 14 stamps per item serve the fixed lists; many customer lists over few items can need
    # more, drawn from a stream of their own so the data of every size that fitted stays the same.
    customer_lists = min(max(3, len(customers) // 10), 500)
    extra = Stream(seed, "pricelists-extra").stamps(12 * customer_lists, date(2025, 1, 1), date(2026, 11, 15))
    stamps = itertools.chain(s.stamps(n_items * 14 + 2000, date(2025, 1, 1), date(2026, 11, 15)), extra)
    result = PriceLists()

    def header(
        code: str,
        text: str,
        source: str,
        source_no: str,
        currency: str,
        start: str,
        end: str,
        status: str,
        incl_tax: bool,
        allow: bool,
    ) -> _Writer:
        row = {
            "id": s.guid(),
            "code": code,
            "description": text,
            "sourceType": source,
            "sourceNo": source_no,
            "currencyCode": currency,
            "startingDate": start or BLANK_DATE,
            "endingDate": end or BLANK_DATE,
            "status": status,
            "priceIncludesTax": incl_tax,
            "allowLineDiscount": allow,
            "lastModifiedDateTime": next(stamps),
        }
        result.headers.append(row)
        return _Writer(row, result.lines, stamps.__next__, s.guid)

    writers = {h[0]: header(*h) for h in HEADERS}
    items = catalog.items
    eur = rate_on("EUR", day(0))
    gbp = rate_on("GBP", day(0))

    def chosen(share: float) -> list[Row]:
        return [items[i] for i in sorted(pick(rng, n_items, share))]

    # All customers: a price for every item, quantity breaks at 10 and 100 base units for many, and a
    # per-box price where the item comes in boxes; a few lines carry their own date window.
    w = writers["S00001"]
    breaks = pick(rng, n_items, 0.4)
    for i, item in enumerate(items):
        price, units = item["unitPrice"], catalog.units_of[item["number"]]
        window = (day(-30), day(60)) if r() < 0.03 else None
        w.add(item["number"], unit_price=price, window=window)
        if i in breaks:
            w.add(item["number"], unit_price=money(price * 0.95), minimum=10.0)
            w.add(item["number"], unit_price=money(price * 0.9), minimum=100.0)
        if "BOX" in units:
            w.add(item["number"], unit="BOX", unit_price=money(price * units["BOX"] * 0.97))
    w = writers["S00002"]
    retail_breaks = pick(rng, n_items, 0.2)
    for i, item in enumerate(items):
        if r() < 0.6:
            w.add(item["number"], unit_price=money(item["unitPrice"] * 0.98))
        if i in retail_breaks:
            w.add(item["number"], unit_price=money(item["unitPrice"] * 0.94), minimum=10.0)
            w.add(item["number"], unit_price=money(item["unitPrice"] * 0.88), minimum=100.0)
    # Wholesale: unit-specific prices (PCS, PALLET) and blank-unit quantity breaks.
    w = writers["S00003"]
    for item in chosen(0.8):
        price, units, base = (
            item["unitPrice"],
            catalog.units_of[item["number"]],
            item["baseUnitOfMeasureCode"],
        )
        w.add(item["number"], unit=base, unit_price=money(price * 0.85))
        if r() < 0.6:
            w.add(item["number"], unit_price=money(price * 0.82), minimum=10.0)
            w.add(item["number"], unit_price=money(price * 0.78), minimum=100.0, allow_line_discount=False)
        if "PALLET" in units:
            w.add(item["number"], unit="PALLET", unit_price=money(price * units["PALLET"] * 0.7))
            w.add(item["number"], unit="BOX", unit_price=money(price * units["BOX"] * 0.8), minimum=10.0)
    w = writers["S00004"]
    for item in chosen(0.5):
        w.add(item["number"], unit_price=money(item["unitPrice"] / eur * 0.95))
        if r() < 0.2:
            w.add(item["number"], unit_price=money(item["unitPrice"] / eur * 0.9), minimum=100.0)
    w = writers["S00005"]
    for item in chosen(0.2):
        w.add(item["number"], unit_price=money(item["unitPrice"] * 1.07))
    # Discounts: by item discount group, and item-level lines that hide the group's line for a source.
    for code, group_lines in GROUP_DISCOUNTS.items():
        w = writers[code]
        for group, minimum, percent in group_lines:
            w.add(
                group,
                asset_type="ItemDiscountGroup",
                amount_type="Discount",
                discount=percent,
                minimum=minimum,
            )
        for item in chosen(0.1):
            w.add(
                item["number"],
                amount_type="Discount",
                discount=float((5, 7.5, 10, 15)[int(r() * 4)]),
                minimum=(0.0, 10.0, 50.0)[int(r() * 3)],
            )
    w = writers["S00009"]
    for item in chosen(0.25):
        w.add(item["number"], unit_price=money(item["unitPrice"] / gbp))
    for code, factor, share in (
        ("S00010", 1.05, 0.2),
        ("S00011", 0.8, 0.25),
        ("S00012", 0.85, 0.25),
        ("S00013", 0.7, 0.1),
        ("S00014", 0.9, 0.15),
    ):
        w = writers[code]
        for item in chosen(share):
            w.add(item["number"], unit_price=money(item["unitPrice"] * factor))
    _customer_lists(s, result, header, catalog, customers, int(n_items * CUSTOMER_LINES_PER_ITEM))
    return result


def _customer_lists(
    s: Stream,
    result: PriceLists,
    header: Callable[..., _Writer],
    catalog: Catalog,
    customers: list[Row],
    budget: int,
) -> None:
    """Special prices for one customer in ten: mixed price, discount and "Any" lines, some in the
    customer's own currency, some with their own date window or without line discounts."""
    rng = s.rng
    r = rng.random
    buyers = [c for c in customers if c["blocked"] != "All"]
    count = max(3, min(len(buyers) // 10, 500))
    items = catalog.items
    per_list = max(4, min(len(items), budget // count))
    for k, customer in enumerate(rng.sample(buyers, count)):
        foreign = customer["currencyCode"] != LOCAL_CURRENCY
        currency = customer["currencyCode"] if foreign and r() < 0.6 else ""
        rate = rate_on(currency or LOCAL_CURRENCY, day(0))
        windowed = r() < 0.25
        w = header(
            f"S1{k + 1:04d}",
            f"Special prices {customer['displayName']}"[:100],
            "Customer",
            customer["number"],
            currency,
            day(-90) if windowed else "",
            day(270) if windowed else "",
            "Active",
            False,
            r() < 0.8,
        )
        for i in sorted(rng.sample(range(len(items)), per_list)):
            item = items[i]
            price = item["unitPrice"] / rate
            u = r()
            window = ((day(-20), day(20)) if r() < 0.5 else (day(-200), day(-100))) if r() < 0.15 else None
            allow = False if r() < 0.1 else None
            if u < 0.65:
                w.add(
                    item["number"],
                    unit_price=money(price * (0.8 + r() * 0.15)),
                    window=window,
                    allow_line_discount=allow,
                )
            elif u < 0.8:
                w.add(item["number"], unit_price=money(price * 0.85), minimum=10.0, window=window)
            elif u < 0.95:
                w.add(
                    item["number"],
                    amount_type="Discount",
                    discount=float((5, 10, 15)[int(r() * 3)]),
                    window=window,
                )
            else:
                w.add(item["number"], amount_type="Any", unit_price=money(price * 0.9), discount=5.0)
        if k == 0:  # one list also discounts a whole item group, and has a price-and-discount line
            w.add(
                ITEM_DISCOUNT_GROUPS[0][0],
                asset_type="ItemDiscountGroup",
                amount_type="Discount",
                discount=6.0,
            )
            item = items[int(r() * len(items))]
            w.add(
                item["number"],
                amount_type="Any",
                unit_price=money(item["unitPrice"] / rate * 0.88),
                discount=3.0,
            )
