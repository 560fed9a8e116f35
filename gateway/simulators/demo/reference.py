"""ERP reference data of the demo company: company, currencies with dated exchange rates, units,
salespeople, locations, and the price and discount groups customers and items are assigned to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from gateway.simulators.demo.common import LOCAL_CURRENCY, Row, Stream
from gateway.simulators.demo.words import FIRST_NAMES, SURNAMES

COMPANY_NAME = "NORTHWIND"
COMPANY_DISPLAY_NAME = "Northwind Office Furniture, Inc."
MAIL_DOMAIN = "northwind-furniture.com"

# code, display name, symbol; the local currency (USD) is not a row, as in Business Central.
CURRENCIES = (("EUR", "Euro", "€"), ("GBP", "Pound Sterling", "£"))
# currency, starting date, exchangeRateAmount, relationalExchangeRateAmount: several per currency so
# that the rate in force depends on the date; GBP is quoted per 100 units to exercise the ratio, and
# the 2027 EUR rate lies in the future of the demo's reference date.
EXCHANGE_RATES = (
    ("EUR", "2025-01-01", 1.0, 1.0412),
    ("EUR", "2026-04-01", 1.0, 1.0856),
    ("EUR", "2026-10-01", 1.0, 1.0731),
    ("EUR", "2027-01-01", 1.0, 1.0650),
    ("GBP", "2025-01-01", 100.0, 125.14),
    ("GBP", "2026-06-01", 100.0, 127.02),
)
# code, display name, international standard code
UNITS = (
    ("PCS", "Piece", "EA"),
    ("BOX", "Box", "BX"),
    ("PALLET", "Pallet", "PF"),
    ("HOUR", "Hour", "HUR"),
    ("SET", "Set", "SET"),
)
# code, name, address line, city, state, postal code, country
LOCATIONS = (
    ("MAIN", "Main Warehouse", "100 Commerce Drive", "Atlanta", "GA", "30318", "US"),
    ("EAST", "East Distribution Center", "25 Harbor Road", "Newark", "NJ", "07114", "US"),
    ("WEST", "West Distribution Center", "880 Port Way", "Oakland", "CA", "94607", "US"),
    ("SOUTH", "South Showroom", "12 Peachtree Place", "Houston", "TX", "77002", "US"),
)
# code, description, allowLineDiscount, priceIncludesTax
PRICE_GROUPS = (
    ("RETAIL", "Retail customers", True, False),
    ("WHOLESALE", "Wholesale and resellers", True, False),
    ("EXPORT", "Export customers", False, False),
    ("PUBLIC", "Public sector, prices incl. tax", True, True),
)
CUSTOMER_DISCOUNT_GROUPS = (
    ("LARGE", "Large accounts"),
    ("MEDIUM", "Medium accounts"),
    ("SMALL", "Small accounts"),
)
ITEM_DISCOUNT_GROUPS = (
    ("FURNITURE", "Tables, storage and sofas"),
    ("SEATING", "Chairs"),
    ("LIGHTING", "Lamps and lights"),
    ("ACCESSORY", "Accessories"),
    ("SERVICE", "Services"),
)
# jobTitle of the salespeople; the last two rows are a blocked seller and a purchaser.
SELLER_TITLES = (
    "Sales Manager",
    "Account Manager",
    "Account Manager",
    "Sales Representative",
    "Sales Representative",
    "Key Account Manager",
)


@dataclass(slots=True)
class Reference:
    """The reference sets, plus the lookups the other sections need."""

    sets: dict[str, list[Row]] = field(default_factory=dict)
    company_id: str = ""
    currency_ids: dict[str, str] = field(default_factory=dict)
    unit_ids: dict[str, str] = field(default_factory=dict)
    location_ids: dict[str, str] = field(default_factory=dict)
    sellers: list[Row] = field(default_factory=list)  # active salespeople (not blocked, not purchasers)
    blocked_seller: Row = field(default_factory=dict)


def build_reference(*, seed: int) -> Reference:
    """Company, currencies, rates, units, salespeople, locations and pricing groups for `seed`."""
    s = Stream(seed, "reference")
    ref = Reference()
    setup = (date(2024, 9, 1), date(2025, 1, 1))
    ref.company_id = s.guid()
    ref.sets["companies"] = [
        {
            "id": ref.company_id,
            "systemVersion": "25.1.28164.30580",
            "timestamp": 0,
            "name": COMPANY_NAME,
            "displayName": COMPANY_DISPLAY_NAME,
            "businessProfileId": "",
            "systemCreatedAt": "2024-09-02T08:15:00Z",
            "systemCreatedBy": "00000000-0000-0000-0000-000000000001",
            "systemModifiedAt": "2024-09-02T08:15:00Z",
            "systemModifiedBy": "00000000-0000-0000-0000-000000000001",
            "lastModifiedDateTime": "2024-09-02T08:15:00Z",
        }
    ]
    ref.sets["companyInformation"] = [
        {
            "id": s.guid(),
            "displayName": COMPANY_DISPLAY_NAME,
            "addressLine1": "100 Commerce Drive",
            "addressLine2": "",
            "city": "Atlanta",
            "state": "GA",
            "country": "US",
            "postalCode": "30318",
            "phoneNumber": "+1 404 555 0100",
            "faxNumber": "",
            "email": f"info@{MAIL_DOMAIN}",
            "website": f"www.{MAIL_DOMAIN}",
            "taxRegistrationNumber": "58-1234567",
            "currencyCode": LOCAL_CURRENCY,
            "currentFiscalYearStartDate": "2026-01-01",
            "industry": "Furniture",
            "lastModifiedDateTime": s.stamp(*setup),
        }
    ]
    ref.sets["currencies"] = []
    for code, name, symbol in CURRENCIES:
        ref.currency_ids[code] = s.guid()
        ref.sets["currencies"].append(
            {
                "id": ref.currency_ids[code],
                "code": code,
                "displayName": name,
                "symbol": symbol,
                "amountDecimalPlaces": "2:2",
                "amountRoundingPrecision": 0.01,
                "lastModifiedDateTime": s.stamp(*setup),
            }
        )
    ref.sets["currencyExchangeRates"] = [
        {
            "id": s.guid(),
            "currencyCode": code,
            "startingDate": start,
            "exchangeRateAmount": amount,
            "relationalExchangeRateAmount": relational,
            "lastModifiedDateTime": s.stamp(*setup),
        }
        for code, start, amount, relational in EXCHANGE_RATES
    ]
    ref.sets["unitsOfMeasure"] = []
    for code, name, iso in UNITS:
        ref.unit_ids[code] = s.guid()
        ref.sets["unitsOfMeasure"].append(
            {
                "id": ref.unit_ids[code],
                "code": code,
                "displayName": name,
                "internationalStandardCode": iso,
                "symbol": "",
                "lastModifiedDateTime": s.stamp(*setup),
            }
        )
    ref.sets["locations"] = []
    for code, name, line1, city, state, postal, country in LOCATIONS:
        ref.location_ids[code] = s.guid()
        ref.sets["locations"].append(
            {
                "id": ref.location_ids[code],
                "code": code,
                "displayName": name,
                "contact": "",
                "addressLine1": line1,
                "addressLine2": "",
                "city": city,
                "state": state,
                "country": country,
                "postalCode": postal,
                "phoneNumber": "",
                "email": "",
                "website": "",
                "lastModifiedDateTime": s.stamp(*setup),
            }
        )
    ref.sets["salespersonPurchasers"] = _salespeople(s, ref)
    ref.sets["customerPriceGroups"] = [
        {
            "id": s.guid(),
            "code": code,
            "description": text,
            "allowLineDiscount": allow,
            "priceIncludesTax": incl_tax,
            "lastModifiedDateTime": s.stamp(*setup),
        }
        for code, text, allow, incl_tax in PRICE_GROUPS
    ]
    ref.sets["customerDiscountGroups"] = [
        {"id": s.guid(), "code": code, "description": text, "lastModifiedDateTime": s.stamp(*setup)}
        for code, text in CUSTOMER_DISCOUNT_GROUPS
    ]
    ref.sets["itemDiscountGroups"] = [
        {"id": s.guid(), "code": code, "description": text, "lastModifiedDateTime": s.stamp(*setup)}
        for code, text in ITEM_DISCOUNT_GROUPS
    ]
    return ref


def _salespeople(s: Stream, ref: Reference) -> list[Row]:
    """Six active sellers, one blocked seller and one purchaser, with distinct names and codes."""
    titles = (*SELLER_TITLES, "Sales Representative", "Purchasing Agent")
    people = s.rng.sample([(f, la) for f in FIRST_NAMES for la in SURNAMES], len(titles))
    rows: list[Row] = []
    codes: set[str] = set()
    for index, ((first, last), title) in enumerate(zip(people, titles, strict=True)):
        code = (first[0] + last[0]).upper()
        while code in codes:
            code = code[:2] + str(len(codes))
        codes.add(code)
        rows.append(
            {
                "id": s.guid(),
                "code": code,
                "displayName": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}@{MAIL_DOMAIN}",
                "phoneNo": f"+1 404 555 {s.rng.randint(1000, 9999)}",
                "jobTitle": title,
                "commisionPercent": float(s.rng.choice((0, 2.5, 5))),
                "blocked": index == len(SELLER_TITLES),
                "lastModifiedDateTime": s.stamp(date(2025, 1, 1), date(2026, 3, 1)),
            }
        )
    ref.sellers = rows[: len(SELLER_TITLES)]
    ref.blocked_seller = rows[len(SELLER_TITLES)]
    return rows
