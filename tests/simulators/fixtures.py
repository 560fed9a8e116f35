"""Small hand-written ERP and CRM rows the simulator tests load instead of the demo data generator.

Ids are fixed GUIDs so tests can address records directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPANY = "11111111-1111-4111-8111-111111111111"
CUST_1 = "c0000000-0000-4000-8000-000000000001"
CUST_2 = "c0000000-0000-4000-8000-000000000002"
CUST_3 = "c0000000-0000-4000-8000-000000000003"
ITEM_1 = "10000000-0000-4000-8000-000000000001"
ITEM_2 = "10000000-0000-4000-8000-000000000002"
LOC_MAIN = "20000000-0000-4000-8000-000000000001"
LOC_EAST = "20000000-0000-4000-8000-000000000002"
ORDER_1 = "30000000-0000-4000-8000-000000000001"
LINE_1 = "31000000-0000-4000-8000-000000000001"
USER_1 = "40000000-0000-4000-8000-000000000001"
USER_2 = "40000000-0000-4000-8000-000000000002"
ACCOUNT_1 = "50000000-0000-4000-8000-000000000001"
ACCOUNT_2 = "50000000-0000-4000-8000-000000000002"
PRODUCT_1 = "60000000-0000-4000-8000-000000000001"
EUR = "70000000-0000-4000-8000-000000000001"


def _erp() -> dict[str, list[dict[str, Any]]]:
    return {
        "companies": [{"id": COMPANY, "name": "CRONUS", "displayName": "CRONUS International Ltd."}],
        "companyInformation": [
            {"id": COMPANY, "displayName": "CRONUS International Ltd.", "currencyCode": "USD"}
        ],
        "customers": [
            {
                "id": CUST_1,
                "number": "C10000",
                "displayName": "O'Brien & Sons",
                "city": "Zürich",
                "balanceDue": 120.5,
                "creditLimit": 5000,
                "taxLiable": True,
                "blocked": " ",
                "lastModifiedDateTime": "2026-01-10T08:00:00Z",
            },
            {
                "id": CUST_2,
                "number": "C20000",
                "displayName": "Adatum Corporation",
                "city": "Atlanta",
                "balanceDue": 0,
                "creditLimit": 0,
                "taxLiable": False,
                "blocked": "Ship",
                "lastModifiedDateTime": "2026-02-10T08:00:00Z",
            },
            {
                "id": CUST_3,
                "number": "C30000",
                "displayName": "Trey Research 100%",
                "city": "Atlanta",
                "balanceDue": 99.99,
                "creditLimit": 1000,
                "taxLiable": True,
                "blocked": " ",
                "lastModifiedDateTime": "2026-03-10T08:00:00Z",
            },
        ],
        "items": [
            {
                "id": ITEM_1,
                "number": "1896-S",
                "displayName": "ATHENS Desk",
                "type": "Inventory",
                "inventory": 10,
                "unitPrice": 1000.8,
                "unitCost": 780.7,
                "blocked": False,
                "baseUnitOfMeasureCode": "PCS",
            },
            {
                "id": ITEM_2,
                "number": "1900-S",
                "displayName": "PARIS Guest Chair",
                "type": "Inventory",
                "inventory": 5,
                "unitPrice": 192.8,
                "unitCost": 150.0,
                "blocked": False,
                "baseUnitOfMeasureCode": "PCS",
            },
        ],
        "locations": [
            {"id": LOC_MAIN, "code": "MAIN", "displayName": "Main warehouse"},
            {"id": LOC_EAST, "code": "EAST", "displayName": "East warehouse"},
        ],
        "itemUnitsOfMeasure": [
            {
                "id": "80000000-0000-4000-8000-000000000001",
                "itemNumber": "1896-S",
                "code": "PCS",
                "qtyPerUnitOfMeasure": 1,
            },
            {
                "id": "80000000-0000-4000-8000-000000000002",
                "itemNumber": "1896-S",
                "code": "BOX",
                "qtyPerUnitOfMeasure": 4,
            },
        ],
        "priceListLines": [
            {
                "id": "90000000-0000-4000-8000-000000000001",
                "priceListCode": "S00001",
                "lineNo": 10000,
                "assetType": "Item",
                "assetNo": "1896-S",
                "unitPrice": 950,
                "startingDate": "2026-01-01",
                "amountType": "Price",
                "minimumQuantity": 0,
            },
        ],
        "salesOrders": [
            {
                "id": ORDER_1,
                "number": "S-ORD101001",
                "customerId": CUST_1,
                "customerNumber": "C10000",
                "orderDate": "2026-11-01",
                "status": "Open",
                "discountAmount": 0,
                "totalAmountExcludingTax": 2001.6,
            },
        ],
        "salesOrderLines": [
            {
                "id": LINE_1,
                "documentId": ORDER_1,
                "sequence": 10000,
                "lineType": "Item",
                "itemId": ITEM_1,
                "lineObjectNumber": "1896-S",
                "quantity": 2,
                "unitPrice": 1000.8,
                "unitOfMeasureCode": "PCS",
                "locationId": LOC_MAIN,
                "shippedQuantity": 0,
                "amountExcludingTax": 2001.6,
            },
        ],
        "_stock": [
            {
                "itemNumber": "1896-S",
                "locationCode": "MAIN",
                "inventory": 7,
                "qtyOnSalesOrders": 2,
                "qtyOnPurchaseOrders": 3,
            },
            {
                "itemNumber": "1896-S",
                "locationCode": "EAST",
                "inventory": 3,
                "qtyOnSalesOrders": 0,
                "qtyOnPurchaseOrders": 0,
            },
            {
                "itemNumber": "1900-S",
                "locationCode": "MAIN",
                "inventory": 5,
                "qtyOnSalesOrders": 1,
                "qtyOnPurchaseOrders": 0,
            },
        ],
    }


def _crm() -> dict[str, list[dict[str, Any]]]:
    return {
        "systemusers": [
            {
                "systemuserid": USER_1,
                "fullname": "Alicia Thomber",
                "internalemailaddress": "alicia@example.com",
                "isdisabled": False,
                "islicensed": True,
                "isintegrationuser": False,
            },
            {
                "systemuserid": USER_2,
                "fullname": "Bob Kelly",
                "isdisabled": False,
                "islicensed": True,
                "isintegrationuser": False,
            },
        ],
        "transactioncurrencies": [
            {
                "transactioncurrencyid": EUR,
                "isocurrencycode": "EUR",
                "currencyname": "Euro",
                "currencysymbol": "€",
                "exchangerate": 0.92,
                "currencyprecision": 2,
            },
        ],
        "accounts": [
            {
                "accountid": ACCOUNT_1,
                "name": "O'Brien & Sons",
                "accountnumber": "C10000",
                "customertypecode": 3,
                "_ownerid_value": USER_1,
                "creditlimit": 5000,
                "statecode": 0,
                "statuscode": 1,
            },
            {
                "accountid": ACCOUNT_2,
                "name": "Adatum",
                "accountnumber": "C20000",
                "customertypecode": 3,
                "_ownerid_value": USER_2,
                "statecode": 0,
                "statuscode": 1,
            },
        ],
        "products": [
            {
                "productid": PRODUCT_1,
                "productnumber": "1896-S",
                "name": "ATHENS Desk",
                "price": 1000.8,
                "producttypecode": 1,
                "statecode": 0,
                "statuscode": 1,
            },
        ],
    }


@dataclass
class FixtureData:
    """Shaped like demo_data.DemoData: ``erp`` and ``crm`` dicts keyed by entity set name."""

    erp: dict[str, list[dict[str, Any]]] = field(default_factory=_erp)
    crm: dict[str, list[dict[str, Any]]] = field(default_factory=_crm)
