"""ERP items of the demo company with their units, pricing profiles and stock per location (`items`,
`itemUnitsOfMeasure`, `itemPricing`, `_stock`); items.inventory is the sum of the item's stock rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from gateway.simulators.demo.common import Row, Stream, money, pick, quota
from gateway.simulators.demo.reference import Reference
from gateway.simulators.demo.words import item_names, service_names

TYPE_SHARES = {"Service": 0.08, "Non-Inventory": 0.04}
DISCOUNT_GROUP_OF_CATEGORY = {
    "TABLE": "FURNITURE",
    "STORAGE": "FURNITURE",
    "SOFA": "FURNITURE",
    "CHAIR": "SEATING",
    "LAMP": "LIGHTING",
    "ACCESSORY": "ACCESSORY",
    "SERVICE": "SERVICE",
}
# Share of stocked items held at each location (MAIN holds nearly everything).
LOCATION_SHARES = (("MAIN", 0.9), ("EAST", 0.6), ("WEST", 0.5), ("SOUTH", 0.15))
CRM_ONLY_SHARE = 0.1
"""CRM-only products, as a share of the items; their names are drawn here so none equals an item's."""


@dataclass(slots=True)
class Catalog:
    items: list[Row] = field(default_factory=list)
    units: list[Row] = field(default_factory=list)  # itemUnitsOfMeasure
    pricing: list[Row] = field(default_factory=list)  # itemPricing
    stock: list[Row] = field(default_factory=list)  # _stock
    spare_names: list[str] = field(default_factory=list)  # item names no item has
    units_of: dict[str, dict[str, float]] = field(default_factory=dict)  # item number -> unit -> qty


def _gtin(rng_value: int) -> str:
    """An EAN-13 with a valid check digit."""
    digits = f"40{rng_value:010d}"
    total = sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def build_items(*, seed: int, count: int, ref: Reference) -> Catalog:
    """`count` items: mostly stocked furniture ("1896-S"), some services ("SV-1900") and non-stock."""
    s = Stream(seed, "items")
    rng = s.rng
    r = rng.random
    types = quota(rng, count, TYPE_SHARES, "Inventory")
    n_services = types.count("Service")
    services = service_names(rng, n_services)
    if len(services) < n_services:  # the service name space ran out: the rest become stocked items
        extra = n_services - len(services)
        types = [("Inventory" if t == "Service" and (extra := extra - 1) >= 0 else t) for t in types]
    spare = max(2, round(count * CRM_ONLY_SHARE))
    goods = item_names(rng, count - len(services) + spare)
    catalog = Catalog(spare_names=[name for name, _, _ in goods[count - len(services) :]])
    goods_iter, services_iter = iter(goods), iter(services)
    blocked = quota(rng, count, {True: 0.03}, False)
    # Boxes and pallets only for stocked goods; at least one item of each kind, even in small data.
    stocked = [i for i, t in enumerate(types) if t == "Inventory"]
    boxed = sorted(rng.sample(stocked, max(2, round(len(stocked) * 0.4))))
    with_box = set(boxed)
    with_pallet = set(rng.sample(boxed, max(1, len(boxed) // 2)))
    sold_in_boxes = set(rng.sample(boxed, max(1, len(boxed) // 2)))
    oversold = set(rng.sample(stocked, max(1, len(stocked) // 100)))  # BC allows negative stock
    no_discount_group = pick(rng, count, 0.15)
    stamps = s.stamps(count, date(2025, 1, 1), date(2026, 11, 15))
    unit_stamps = s.stamps(count * 3, date(2024, 10, 1), date(2026, 11, 15))
    for i in range(count):
        item_type = types[i]
        base = 1000 + 4 * i
        if item_type == "Service":
            name, category = next(services_iter), "SERVICE"
            number, unit = f"SV-{base}", "HOUR"
            price = float((45, 60, 75, 95, 120, 150)[int(r() * 6)])
        else:
            name, category, list_price = next(goods_iter)
            number = f"{base}-{'SWABLMT'[int(r() * 7)]}"
            unit = "SET" if item_type == "Non-Inventory" and r() < 0.3 else "PCS"
            price = money(list_price * (0.85 + r() * 0.35))
        units = {unit: 1.0}
        if i in with_box:
            box = (12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 6.0, 24.0)[int(r() * 8)]
            units["BOX"] = box
            if i in with_pallet:
                units["PALLET"] = box * 40
        catalog.units_of[number] = units
        item_id = s.guid()
        stock = _stock(r, number, oversold=i in oversold) if item_type == "Inventory" else []
        catalog.stock += stock
        catalog.items.append(
            {
                "id": item_id,
                "number": number,
                "displayName": name,
                "displayName2": "",
                "type": item_type,
                "itemCategoryId": "00000000-0000-0000-0000-000000000000",
                "itemCategoryCode": category,
                "blocked": blocked[i],
                "gtin": _gtin(int(r() * 10**10)) if item_type == "Inventory" else "",
                "inventory": sum(row["inventory"] for row in stock),
                "unitPrice": price,
                "priceIncludesTax": False,
                "unitCost": money(price * (0.45 + r() * 0.25)),
                "taxGroupId": "00000000-0000-0000-0000-000000000000",
                "taxGroupCode": "FURNITURE" if item_type != "Service" else "LABOR",
                "baseUnitOfMeasureId": ref.unit_ids[unit],
                "baseUnitOfMeasureCode": unit,
                "generalProductPostingGroupCode": "RETAIL" if item_type != "Service" else "SERVICES",
                "inventoryPostingGroupCode": "RESALE" if item_type == "Inventory" else "",
                "lastModifiedDateTime": stamps[i],
            }
        )
        for k, (code, qty) in enumerate(units.items()):
            catalog.units.append(
                {
                    "id": s.guid(),
                    "itemNumber": number,
                    "code": code,
                    "qtyPerUnitOfMeasure": qty,
                    "lastModifiedDateTime": unit_stamps[3 * i + k],
                }
            )
        catalog.pricing.append(
            {
                "id": item_id,
                "itemNumber": number,
                "itemDiscountGroupCode": ""
                if i in no_discount_group
                else DISCOUNT_GROUP_OF_CATEGORY[category],
                "salesUnitOfMeasureCode": "BOX" if "BOX" in units and i in sold_in_boxes else unit,
                # Discount group and sales unit are fields of the BC item record: same modification time.
                "lastModifiedDateTime": stamps[i],
            }
        )
    return catalog


def _stock(rand: Callable[[], float], number: str, *, oversold: bool) -> list[Row]:
    """Stock of one item at the locations that hold it; an oversold item is negative at one of them."""
    rows = [
        {
            "itemNumber": number,
            "locationCode": code,
            "inventory": _on_hand(rand()),
            "qtyOnSalesOrders": 0,
            "qtyOnPurchaseOrders": 10 + int(rand() * 190) if rand() < 0.3 else 0,
        }
        for code, share in LOCATION_SHARES
        if rand() < share
    ]
    if not rows:
        rows.append(
            {
                "itemNumber": number,
                "locationCode": "MAIN",
                "inventory": _on_hand(rand()),
                "qtyOnSalesOrders": 0,
                "qtyOnPurchaseOrders": 0,
            }
        )
    if oversold:
        rows[0]["inventory"] = -1 - int(rand() * 10)
    return rows


def _on_hand(u: float) -> int:
    """On-hand quantity from a uniform draw: 10% nothing, the rest up to 400."""
    if u < 0.1:
        return 0
    return int((u - 0.1) / 0.9 * 400) + 1
