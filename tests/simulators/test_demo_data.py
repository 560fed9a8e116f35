"""Tests of the demo data generator: determinism, scaling, JSON shape, referential integrity, and the
coupling and pricing cases the later features need."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from typing import Any

import pytest

from gateway.simulators.demo_data import BLANK_DATE, NIL_GUID, DemoData, generate

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Properties each set must carry, as DOMAIN.md §2, §2.1 and §3 name them.
ERP_REQUIRED = {
    "companies": "id name displayName systemVersion businessProfileId",
    "companyInformation": "id displayName currencyCode addressLine1 city country postalCode",
    "customers": "id number displayName type addressLine1 addressLine2 city state country postalCode "
    "phoneNumber "
    "email website salespersonCode balanceDue creditLimit taxLiable currencyId currencyCode paymentTermsId "
    "shipmentMethodId blocked",
    "items": "id number displayName type itemCategoryCode blocked gtin inventory unitPrice priceIncludesTax "
    "unitCost baseUnitOfMeasureId baseUnitOfMeasureCode",
    "currencies": "id code displayName symbol amountDecimalPlaces amountRoundingPrecision",
    "unitsOfMeasure": "id code displayName internationalStandardCode symbol",
    "salespersonPurchasers": "id code displayName email phoneNo jobTitle blocked",
    "locations": "id code displayName addressLine1 city country",
    "salesOrders": "id number externalDocumentNumber orderDate customerId customerNumber customerName "
    "currencyCode salesperson requestedDeliveryDate discountAmount totalAmountExcludingTax totalTaxAmount "
    "totalAmountIncludingTax fullyShipped status",
    "salesOrderLines": "id documentId sequence lineType itemId lineObjectNumber description "
    "unitOfMeasureCode "
    "quantity unitPrice discountAmount discountPercent amountExcludingTax shipmentDate shippedQuantity "
    "locationId",
    "currencyExchangeRates": "id currencyCode startingDate exchangeRateAmount relationalExchangeRateAmount",
    "customerPriceGroups": "id code description allowLineDiscount priceIncludesTax",
    "customerDiscountGroups": "id code description",
    "itemDiscountGroups": "id code description",
    "customerPricing": "id customerNumber customerPriceGroupCode customerDiscountGroupCode allowLineDiscount",
    "itemPricing": "id itemNumber itemDiscountGroupCode salesUnitOfMeasureCode",
    "itemUnitsOfMeasure": "id itemNumber code qtyPerUnitOfMeasure",
    "priceListHeaders": "id code description sourceType sourceNo currencyCode startingDate endingDate status "
    "priceIncludesTax allowLineDiscount",
    "priceListLines": "id priceListCode lineNo sourceType sourceNo assetType assetNo unitOfMeasureCode "
    "currencyCode startingDate endingDate minimumQuantity amountType unitPrice lineDiscountPercent "
    "allowLineDiscount priceIncludesTax",
}
CRM_REQUIRED = {
    "accounts": "name accountnumber _ownerid_value _primarycontactid_value _transactioncurrencyid_value "
    "_defaultpricelevelid_value customertypecode address1_line1 address1_line2 address1_city "
    "address1_stateorprovince address1_postalcode address1_country telephone1 emailaddress1 websiteurl "
    "creditlimit",
    "systemusers": "fullname internalemailaddress mobilephone isdisabled islicensed isintegrationuser",
    "transactioncurrencies": "isocurrencycode currencyname currencysymbol exchangerate currencyprecision",
    "uomschedules": "name baseuomname",
    "uoms": "name quantity _uomscheduleid_value _baseuom_value",
    "products": "productnumber name _defaultuomscheduleid_value _defaultuomid_value _pricelevelid_value "
    "price "
    "standardcost currentcost quantityonhand producttypecode",
    "pricelevels": "name description _transactioncurrencyid_value begindate enddate",
    "productpricelevels": "_pricelevelid_value _productid_value productnumber _uomid_value "
    "_uomscheduleid_value "
    "amount pricingmethodcode quantitysellingcode",
    "salesorders": "name ordernumber _customerid_value _pricelevelid_value _transactioncurrencyid_value "
    "totalamount totallineitemamount discountamount discountpercentage freightamount requestdeliveryby "
    "datefulfilled",
    "salesorderdetails": "_salesorderid_value _productid_value _uomid_value quantity priceperunit "
    "ispriceoverridden manualdiscountamount volumediscountamount baseamount extendedamount sequencenumber",
}
# Lookup property -> the set it points into.
CRM_LOOKUPS = {
    "_ownerid_value": "systemusers",
    "_transactioncurrencyid_value": "transactioncurrencies",
    "_defaultpricelevelid_value": "pricelevels",
    "_pricelevelid_value": "pricelevels",
    "_uomscheduleid_value": "uomschedules",
    "_defaultuomscheduleid_value": "uomschedules",
    "_baseuom_value": "uoms",
    "_uomid_value": "uoms",
    "_defaultuomid_value": "uoms",
    "_productid_value": "products",
    "_customerid_value": "accounts",
    "_salesorderid_value": "salesorders",
}


def key_of(crm_set: str) -> str:
    return {
        "accounts": "accountid",
        "systemusers": "systemuserid",
        "transactioncurrencies": "transactioncurrencyid",
        "uomschedules": "uomscheduleid",
        "uoms": "uomid",
        "products": "productid",
        "pricelevels": "pricelevelid",
        "productpricelevels": "productpricelevelid",
        "salesorders": "salesorderid",
        "salesorderdetails": "salesorderdetailid",
    }[crm_set]


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate(seed=42, customers=60, items=40)


@pytest.fixture(scope="module")
def mid() -> DemoData:
    return generate(seed=7, customers=400, items=150)


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


# ---------------------------------------------------------------------------------------------- shape


def test_same_seed_gives_identical_data_and_another_seed_differs() -> None:
    first, again, other = generate(seed=42), generate(seed=42), generate(seed=43)
    assert json.dumps([first.erp, first.crm]) == json.dumps([again.erp, again.crm])
    assert first.company_id == again.company_id != other.company_id
    assert [c["id"] for c in first.erp["customers"]] != [c["id"] for c in other.erp["customers"]]
    assert [c["displayName"] for c in first.erp["customers"]] != [
        c["displayName"] for c in other.erp["customers"]
    ]


def test_data_does_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import hashlib, json; from gateway.simulators.demo_data import generate; d = generate(seed=5); "
        "print(hashlib.sha256(json.dumps([d.erp, d.crm]).encode()).hexdigest())"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True,
            text=True,
        )
        for hash_seed in (1, 2)
    ]
    assert [run.returncode for run in runs] == [0, 0], [run.stderr[-2000:] for run in runs]
    assert runs[0].stdout == runs[1].stdout and len(runs[0].stdout.strip()) == 64


def test_interface_and_sets(demo: DemoData) -> None:
    assert demo.local_currency == "USD"
    assert demo.erp["companies"][0]["id"] == demo.company_id
    assert demo.erp["companyInformation"][0]["currencyCode"] == "USD"
    assert set(demo.erp) == {*ERP_REQUIRED, "_stock"}
    assert set(demo.crm) == set(CRM_REQUIRED)


def test_sizes_below_the_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(seed=1, customers=5, items=40)


@pytest.mark.parametrize(("customers", "items"), [(20, 20), (60, 40), (400, 150)])
def test_counts_scale_with_the_sizes(customers: int, items: int) -> None:
    data = generate(seed=3, customers=customers, items=items)
    erp, crm = data.erp, data.crm
    assert len(erp["customers"]) == len(erp["customerPricing"]) == customers
    assert len(erp["items"]) == len(erp["itemPricing"]) == items
    assert 8 * items <= len(erp["priceListLines"]) <= 13 * items
    assert len(erp["salesOrders"]) == max(8, customers // 8)
    assert len(crm["salesorders"]) == max(6, customers // 20)
    # ~40% of the customers exist in Sales (a few twice), plus ~10% Sales-only accounts.
    assert 0.45 * customers <= len(crm["accounts"]) <= 0.6 * customers
    assert 0.45 * items <= len(crm["products"]) <= 0.6 * items


def test_values_are_json_ready_with_guid_ids_and_iso_times(mid: DemoData) -> None:
    for name, rows in mid.erp.items():
        if name == "_stock":
            continue
        ids = [row["id"] for row in rows]
        assert len(set(ids)) == len(ids), name
        for row in rows:
            assert GUID.match(row["id"]), name
            assert STAMP.match(row["lastModifiedDateTime"]), name
    for name, rows in mid.crm.items():
        ids = [row[key_of(name)] for row in rows]
        assert len(set(ids)) == len(ids), name
        for row in rows:
            assert GUID.match(row[key_of(name)]), name
            assert STAMP.match(row["modifiedon"]), name
            assert {"statecode", "statuscode", "versionnumber"} <= row.keys(), name
    for side in (mid.erp, mid.crm):
        for rows in side.values():
            for row in rows:
                for value in row.values():
                    assert value is None or type(value) in (str, int, float, bool)
    dated = [
        ("currencyExchangeRates", "startingDate"),
        ("salesOrders", "orderDate"),
        ("salesOrders", "requestedDeliveryDate"),
        ("priceListLines", "startingDate"),
        ("priceListLines", "endingDate"),
        ("salesOrderLines", "shipmentDate"),
    ]
    for name, prop in dated:
        assert all(DATE.match(row[prop]) for row in mid.erp[name]), (name, prop)


def test_required_properties_are_present(mid: DemoData) -> None:
    for name, required in ERP_REQUIRED.items():
        for row in mid.erp[name]:
            assert set(required.split()) <= row.keys(), name
    for name, required in CRM_REQUIRED.items():
        for row in mid.crm[name]:
            assert set(required.split()) <= row.keys(), name
    assert all(
        row.keys() == {"itemNumber", "locationCode", "inventory", "qtyOnSalesOrders", "qtyOnPurchaseOrders"}
        for row in mid.erp["_stock"]
    )


def test_crm_version_numbers_grow_with_modifiedon(mid: DemoData) -> None:
    rows = sorted((row for rows in mid.crm.values() for row in rows), key=lambda row: row["versionnumber"])
    versions = [row["versionnumber"] for row in rows]
    assert len(set(versions)) == len(versions)
    stamps = [row["modifiedon"] for row in rows]
    assert stamps == sorted(stamps)


# ---------------------------------------------------------------------------------------------- integrity


def test_erp_references_resolve(mid: DemoData) -> None:
    erp = mid.erp
    salespeople = {p["code"] for p in erp["salespersonPurchasers"]}
    units = {u["code"] for u in erp["unitsOfMeasure"]}
    unit_ids = {u["id"] for u in erp["unitsOfMeasure"]}
    currencies = {c["code"]: c["id"] for c in erp["currencies"]}
    items = by(erp["items"], "number")
    item_units = {(u["itemNumber"], u["code"]): u["qtyPerUnitOfMeasure"] for u in erp["itemUnitsOfMeasure"]}
    for customer in erp["customers"]:
        assert customer["salespersonCode"] in salespeople | {""}
        if customer["currencyCode"] == "USD":
            assert customer["currencyId"] == NIL_GUID
        else:
            assert currencies[customer["currencyCode"]] == customer["currencyId"]
    for item in erp["items"]:
        assert item["baseUnitOfMeasureCode"] in units and item["baseUnitOfMeasureId"] in unit_ids
        assert item_units[(item["number"], item["baseUnitOfMeasureCode"])] == 1.0
    assert all(u["code"] in units and u["itemNumber"] in items for u in erp["itemUnitsOfMeasure"])
    pricing = {p["id"]: p for p in erp["itemPricing"]}
    for item in erp["items"]:
        profile = pricing[item["id"]]
        assert profile["itemNumber"] == item["number"]
        assert (item["number"], profile["salesUnitOfMeasureCode"]) in item_units
        assert profile["itemDiscountGroupCode"] in {g["code"] for g in erp["itemDiscountGroups"]} | {""}
    customers = by(erp["customers"], "id")
    for profile in erp["customerPricing"]:
        assert customers[profile["id"]]["number"] == profile["customerNumber"]
        assert profile["customerPriceGroupCode"] in {g["code"] for g in erp["customerPriceGroups"]} | {""}
        assert profile["customerDiscountGroupCode"] in {g["code"] for g in erp["customerDiscountGroups"]} | {
            ""
        }
    orders = by(erp["salesOrders"], "id")
    locations = {loc["id"] for loc in erp["locations"]}
    for order in erp["salesOrders"]:
        assert customers[order["customerId"]]["number"] == order["customerNumber"]
    for line in erp["salesOrderLines"]:
        assert line["documentId"] in orders
        assert items[line["lineObjectNumber"]]["id"] == line["itemId"]
        assert (line["lineObjectNumber"], line["unitOfMeasureCode"]) in item_units
        assert line["locationId"] in locations | {NIL_GUID}
    assert {r["currencyCode"] for r in erp["currencyExchangeRates"]} == set(currencies)


def test_price_lines_point_at_headers_items_groups_and_units(mid: DemoData) -> None:
    erp = mid.erp
    headers = by(erp["priceListHeaders"], "code")
    items = {i["number"] for i in erp["items"]}
    groups = {g["code"] for g in erp["itemDiscountGroups"]}
    item_units = {(u["itemNumber"], u["code"]) for u in erp["itemUnitsOfMeasure"]}
    sources = {
        "AllCustomers": {""},
        "Customer": {c["number"] for c in erp["customers"]},
        "CustomerPriceGroup": {g["code"] for g in erp["customerPriceGroups"]},
        "CustomerDiscountGroup": {g["code"] for g in erp["customerDiscountGroups"]},
    }
    for header in erp["priceListHeaders"]:
        assert header["sourceNo"] in sources[header["sourceType"]]
    for line in erp["priceListLines"]:
        header = headers[line["priceListCode"]]
        assert (line["sourceType"], line["sourceNo"], line["currencyCode"]) == (
            header["sourceType"],
            header["sourceNo"],
            header["currencyCode"],
        )
        assert line["assetNo"] in (items if line["assetType"] == "Item" else groups)
        if line["unitOfMeasureCode"]:
            assert (line["assetNo"], line["unitOfMeasureCode"]) in item_units
    line_nos = Counter((line["priceListCode"], line["lineNo"]) for line in erp["priceListLines"])
    assert max(line_nos.values()) == 1


def test_inventory_is_the_sum_of_stock_and_open_quantities_match_the_orders(mid: DemoData) -> None:
    erp = mid.erp
    on_hand: dict[str, int] = defaultdict(int)
    for row in erp["_stock"]:
        on_hand[row["itemNumber"]] += row["inventory"]
    for item in erp["items"]:
        assert item["inventory"] == on_hand.get(item["number"], 0)
    locations = {loc["id"]: loc["code"] for loc in erp["locations"]}
    assert {row["locationCode"] for row in erp["_stock"]} <= set(locations.values())
    qty = {(u["itemNumber"], u["code"]): u["qtyPerUnitOfMeasure"] for u in erp["itemUnitsOfMeasure"]}
    outstanding: dict[tuple[str, str], float] = defaultdict(float)
    for line in erp["salesOrderLines"]:
        if line["locationId"] != NIL_GUID:
            key = (line["lineObjectNumber"], locations[line["locationId"]])
            outstanding[key] += (line["quantity"] - line["shippedQuantity"]) * qty[
                (key[0], line["unitOfMeasureCode"])
            ]
    assert outstanding
    for row in erp["_stock"]:
        assert row["qtyOnSalesOrders"] == outstanding.get((row["itemNumber"], row["locationCode"]), 0)
    assert any(row["qtyOnPurchaseOrders"] > 0 for row in erp["_stock"])
    assert any(row["inventory"] < 0 for row in erp["_stock"])
    assert {row["locationCode"] for row in erp["_stock"]} >= {"MAIN", "EAST", "WEST"}


def test_order_totals_add_up(mid: DemoData) -> None:
    lines: dict[str, float] = defaultdict(float)
    for line in mid.erp["salesOrderLines"]:
        assert line["amountExcludingTax"] == pytest.approx(
            line["quantity"] * line["unitPrice"] - line["discountAmount"], abs=0.011
        )
        lines[line["documentId"]] += line["amountExcludingTax"]
    for order in mid.erp["salesOrders"]:
        assert order["totalAmountExcludingTax"] == pytest.approx(lines[order["id"]], abs=0.011)
        assert order["totalAmountIncludingTax"] == pytest.approx(
            order["totalAmountExcludingTax"] + order["totalTaxAmount"], abs=0.011
        )
    details: dict[str, float] = defaultdict(float)
    for detail in mid.crm["salesorderdetails"]:
        assert detail["extendedamount"] == pytest.approx(
            detail["baseamount"]
            - detail["quantity"] * detail["volumediscountamount"]
            - detail["manualdiscountamount"],
            abs=0.011,
        )
        details[detail["_salesorderid_value"]] += detail["extendedamount"]
    for order in mid.crm["salesorders"]:
        assert order["totallineitemamount"] == pytest.approx(details[order["salesorderid"]], abs=0.011)


def test_crm_lookups_point_at_existing_rows(mid: DemoData) -> None:
    keys = {name: {row[key_of(name)] for row in rows} for name, rows in mid.crm.items()}
    checked = 0
    for name, rows in mid.crm.items():
        for row in rows:
            for prop, value in row.items():
                if prop.startswith("_") and prop.endswith("_value") and value is not None:
                    assert prop in CRM_LOOKUPS, prop
                    assert value in keys[CRM_LOOKUPS[prop]], (name, prop)
                    checked += 1
    assert checked > 1000
    uoms = by(mid.crm["uoms"], "uomid")
    for product in mid.crm["products"]:
        assert (
            uoms[product["_defaultuomid_value"]]["_uomscheduleid_value"]
            == product["_defaultuomscheduleid_value"]
        )


# ---------------------------------------------------------------------------------------------- coupling work


def test_salespeople_match_users_and_some_users_must_not_sync(demo: DemoData) -> None:
    users = demo.crm["systemusers"]
    by_email = {u["internalemailaddress"].lower(): u for u in users}
    for person in demo.erp["salespersonPurchasers"]:
        if person["jobTitle"] == "Purchasing Agent":
            assert person["email"].lower() not in by_email
            continue
        user = by_email[person["email"].lower()]
        assert user["fullname"] == person["displayName"]
        assert user["isdisabled"] == person["blocked"]
    assert any(u["internalemailaddress"] != u["internalemailaddress"].lower() for u in users)
    assert sum(u["isintegrationuser"] for u in users) == 1
    assert sum(not u["islicensed"] for u in users) == 1
    emails = {p["email"] for p in demo.erp["salespersonPurchasers"]}
    crm_only = [
        u
        for u in users
        if u["internalemailaddress"].lower() not in {e.lower() for e in emails}
        and u["islicensed"]
        and not u["isdisabled"]
        and not u["isintegrationuser"]
    ]
    assert len(crm_only) == 1


@pytest.mark.parametrize("seed", [1, 42, 2026])
def test_accounts_match_customers_by_number_by_name_ambiguously_or_not_at_all(seed: int) -> None:
    data = generate(seed=seed, customers=60, items=40)
    customers = data.erp["customers"]
    numbers = {c["number"] for c in customers}
    names = Counter(c["displayName"] for c in customers)
    assert max(names.values()) == 1  # customer names are unique, so name matches are deliberate
    assert any("'" in name and "&" in name for name in names)
    accounts = data.crm["accounts"]
    by_number = [a for a in accounts if a["accountnumber"] in numbers]
    unnumbered = [a for a in accounts if a["accountnumber"] is None]
    account_names = Counter(a["name"] for a in unnumbered)
    name_only = [a for a in unnumbered if a["name"] in names and account_names[a["name"]] == 1]
    ambiguous = [name for name, count in account_names.items() if count > 1 and name in names]
    case_only = [
        a for a in unnumbered if a["name"] not in names and a["name"].lower() in {n.lower() for n in names}
    ]
    crm_only = [a for a in accounts if a["name"].lower() not in {n.lower() for n in names}]
    stale_numbers = [a for a in accounts if a["accountnumber"] and a["accountnumber"] not in numbers]
    assert len(by_number) >= 2 and len(name_only) >= 2 and ambiguous and case_only
    assert len(crm_only) >= 2 and len(stale_numbers) == 2
    assert any(a["customertypecode"] != 3 for a in crm_only)
    for account in by_number:
        assert account["name"] == next(
            c["displayName"] for c in customers if c["number"] == account["accountnumber"]
        )
    coupled_names = {a["name"].lower() for a in accounts}
    assert any(c["displayName"].lower() not in coupled_names for c in customers)  # ERP-only customers


@pytest.mark.parametrize("seed", [1, 42, 2026])
def test_products_match_items_by_number_by_name_ambiguously_or_not_at_all(seed: int) -> None:
    data = generate(seed=seed, customers=60, items=40)
    items = data.erp["items"]
    numbers = {i["number"] for i in items}
    names = {i["displayName"] for i in items}
    products = data.crm["products"]
    by_number = [p for p in products if p["productnumber"] in numbers]
    other = Counter(p["name"] for p in products if p["productnumber"] not in numbers)
    assert len(by_number) >= 2
    assert any(count == 1 and name in names for name, count in other.items())
    assert any(count == 2 and name in names for name, count in other.items())
    assert any(name not in names for name in other)
    assert any(i["displayName"] not in {p["name"] for p in products} for i in items)
    types = {i["number"]: i["type"] for i in items}
    for product in by_number:
        assert product["producttypecode"] == (3 if types[product["productnumber"]] == "Service" else 1)


def test_crm_orders_belong_to_numbered_accounts_and_one_needs_a_missing_product(demo: DemoData) -> None:
    numbers = {c["number"] for c in demo.erp["customers"]}
    item_numbers = {i["number"] for i in demo.erp["items"]}
    accounts = by(demo.crm["accounts"], "accountid")
    products = by(demo.crm["products"], "productid")
    orders = demo.crm["salesorders"]
    assert all(accounts[o["_customerid_value"]]["accountnumber"] in numbers for o in orders)
    states = Counter(o["statecode"] for o in orders)
    assert states[1] >= 1 and states[0] >= 1
    submitted = {o["salesorderid"] for o in orders if o["statecode"] == 1}
    strays = [
        d
        for d in demo.crm["salesorderdetails"]
        if products[d["_productid_value"]]["productnumber"] not in item_numbers
    ]
    assert len(strays) == 1 and strays[0]["_salesorderid_value"] in submitted
    for order_id in {d["_salesorderid_value"] for d in demo.crm["salesorderdetails"]}:
        sequence = [
            d["sequencenumber"] for d in demo.crm["salesorderdetails"] if d["_salesorderid_value"] == order_id
        ]
        assert sequence == list(range(1, len(sequence) + 1))


def test_currencies_rates_and_crm_currencies(demo: DemoData) -> None:
    assert {c["code"] for c in demo.erp["currencies"]} == {"EUR", "GBP"}
    starts = Counter(r["currencyCode"] for r in demo.erp["currencyExchangeRates"])
    assert starts["EUR"] >= 2 and starts["GBP"] >= 2
    crm = by(demo.crm["transactioncurrencies"], "isocurrencycode")
    assert crm["USD"]["exchangerate"] == 1.0 and "GBP" not in crm
    assert {c["currencyCode"] for c in demo.erp["customers"]} == {"USD", "EUR", "GBP"}
    assert {c["blocked"] for c in demo.erp["customers"]} == {" ", "Ship", "Invoice", "All"}


# ---------------------------------------------------------------------------------------------- pricing work


def test_pricing_cases_exist(demo: DemoData) -> None:
    erp = demo.erp
    headers = by(erp["priceListHeaders"], "code")
    lines = erp["priceListLines"]
    assert {h["sourceType"] for h in headers.values()} == {
        "AllCustomers",
        "Customer",
        "CustomerPriceGroup",
        "CustomerDiscountGroup",
    }
    assert {h["status"] for h in headers.values()} == {"Active", "Draft", "Inactive"}
    today = "2026-11-20"
    windows = [
        (h["startingDate"], h["endingDate"]) for h in headers.values() if h["endingDate"] != BLANK_DATE
    ]
    assert any(end < today for _, end in windows) and any(start > today for start, _ in windows)
    assert any(start <= today <= end for start, end in windows)
    assert {line["minimumQuantity"] for line in lines} >= {0.0, 10.0, 100.0}
    assert {line["unitOfMeasureCode"] for line in lines} >= {"", "PCS", "BOX", "PALLET"}
    assert {line["amountType"] for line in lines} == {"Price", "Discount", "Any"}
    discounts = [line for line in lines if line["amountType"] == "Discount"]
    assert {line["assetType"] for line in discounts} == {"Item", "ItemDiscountGroup"}
    assert all(line["lineDiscountPercent"] > 0 and line["unitPrice"] == 0 for line in discounts)
    assert {line["currencyCode"] for line in lines} == {"", "EUR", "GBP"}
    assert {line["allowLineDiscount"] for line in lines} == {True, False}
    assert any(line["priceIncludesTax"] for line in lines) and not all(
        line["priceIncludesTax"] for line in lines
    )
    own_window = [
        line
        for line in lines
        if (line["startingDate"], line["endingDate"])
        != (headers[line["priceListCode"]]["startingDate"], headers[line["priceListCode"]]["endingDate"])
    ]
    assert own_window
    profiles = erp["customerPricing"]
    assert {p["allowLineDiscount"] for p in profiles} == {True, False}
    assert {p["customerPriceGroupCode"] for p in profiles} >= {"RETAIL", "WHOLESALE", "EXPORT", ""}
    assert any(p["salesUnitOfMeasureCode"] == "BOX" for p in erp["itemPricing"])
    box = {(u["qtyPerUnitOfMeasure"]) for u in erp["itemUnitsOfMeasure"] if u["code"] == "BOX"}
    assert 12.0 in box


def test_benchmark_size_has_about_ten_price_lines_per_item() -> None:
    data = generate(seed=42, customers=20_000, items=5_000)
    assert len(data.erp["customers"]) == 20_000
    assert 45_000 <= len(data.erp["priceListLines"]) <= 55_000
    assert len({line["id"] for line in data.erp["priceListLines"]}) == len(data.erp["priceListLines"])


def test_hundred_thousand_customers() -> None:
    data = generate(seed=42, customers=100_000, items=5_000)
    customers = data.erp["customers"]
    assert len(customers) == 100_000
    assert len({c["number"] for c in customers}) == 100_000
    assert len({c["displayName"] for c in customers}) == 100_000
    assert len(data.erp["salesOrders"]) == 2_000


def test_many_customers_over_few_items_fit() -> None:
    """Up to 500 customer price lists need more timestamps than a small catalog provides."""
    data = generate(seed=42, customers=6_000, items=20)
    headers = {h["code"] for h in data.erp["priceListHeaders"]}
    assert len(headers) >= 500
    assert all(line["priceListCode"] in headers for line in data.erp["priceListLines"])
