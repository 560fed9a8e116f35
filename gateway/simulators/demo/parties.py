"""ERP customers of the demo company and their pricing profiles (`customers`, `customerPricing`):
BC-style numbers, unique names, addresses whose country sets the currency, salespeople, blocking."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from gateway.simulators.demo.common import LOCAL_CURRENCY, NIL_GUID, Row, Stream, money, quota
from gateway.simulators.demo.reference import Reference
from gateway.simulators.demo.words import (
    COUNTRY_SHARES,
    TLD,
    company_names,
    person_names,
    random_address,
    slug,
)

# BC "Blocked" on a customer: blank (allowed), no new shipments, no invoices, nothing at all.
BLOCKED_SHARES = {"Ship": 0.03, "Invoice": 0.01, "All": 0.02}
PRICE_GROUP_SHARES = {"RETAIL": 0.45, "WHOLESALE": 0.25, "PUBLIC": 0.05}
DISCOUNT_GROUP_SHARES = {"LARGE": 0.1, "MEDIUM": 0.2, "SMALL": 0.2}
TRICKY_INDEX, TRICKY_NAME = 3, "O'Brien & Müller Interiors"
"""One customer whose name the generator's word lists cannot produce, so it stays unique."""
ADDRESS_POOL = 5000
CRM_ONLY_SHARE = 0.1
"""CRM-only accounts, as a share of the customers; their names are drawn here so none equals a customer's."""


@dataclass(slots=True)
class Parties:
    customers: list[Row] = field(default_factory=list)
    pricing: list[Row] = field(default_factory=list)
    spare_names: list[str] = field(default_factory=list)  # company names no customer has


def build_customers(*, seed: int, count: int, ref: Reference) -> Parties:
    """`count` customers numbered C10000, C10010, … with a pricing profile each."""
    s = Stream(seed, "customers")
    rng = s.rng
    spare = max(2, round(count * CRM_ONLY_SHARE))
    companies = company_names(rng, count + spare)
    persons = iter(person_names(rng, round(count * 0.04)))
    countries = quota(rng, count, COUNTRY_SHARES, "US")
    blocked = quota(rng, count, BLOCKED_SHARES, " ")
    seller_codes = [p["code"] for p in ref.sellers]
    salespeople = quota(rng, count, {ref.blocked_seller["code"]: 0.03, "": 0.05}, "*")
    stamps = s.stamps(count, date(2025, 1, 1), date(2026, 11, 15))
    groups = quota(rng, count, PRICE_GROUP_SHARES, "")
    discount_groups = quota(rng, count, DISCOUNT_GROUP_SHARES, "")
    no_line_discount = quota(rng, count, {False: 0.12}, True)
    parties = Parties(spare_names=companies[count:])
    r = rng.random  # random() indexing: choice()/uniform() cost too much at 100,000 rows
    mailboxes = ("info", "sales", "orders", "purchasing")
    credit_limits = (0.0, 5000.0, 10000.0, 25000.0, 50000.0, 100000.0)
    # Past a few thousand customers addresses repeat: building each one costs more than all the rest.
    pool = [random_address(rng, countries[i]) for i in range(min(count, ADDRESS_POOL))]
    for i in range(count):
        address = pool[i] if i < ADDRESS_POOL else pool[int(r() * ADDRESS_POOL)]
        person = next(persons, None) if r() < 0.04 else None
        name = f"{person[0]} {person[1]}" if person else companies[i]
        if i == TRICKY_INDEX:  # quotes, an ampersand and an umlaut: OData literals and URLs must cope
            name = TRICKY_NAME
        # Most foreign customers are invoiced in their own currency, a few in the local one.
        currency = address.currency if r() < 0.9 else LOCAL_CURRENCY
        domain = f"{slug(name)}.{TLD[address.country]}"
        customer_id = s.guid()
        parties.customers.append(
            {
                "id": customer_id,
                "number": f"C{10000 + 10 * i}",
                "displayName": name,
                "type": "Person" if person else "Company",
                "addressLine1": address.line1,
                "addressLine2": address.line2,
                "city": address.city,
                "state": address.state,
                "country": address.country,
                "postalCode": address.postal_code,
                "phoneNumber": address.phone,
                "email": f"{mailboxes[int(r() * 4)]}@{domain}"
                if not person
                else f"{person[0].lower()}.{person[1].lower()}@mail.{TLD[address.country]}",
                "website": f"www.{domain}" if not person and r() < 0.8 else "",
                "salespersonCode": seller_codes[int(r() * len(seller_codes))]
                if salespeople[i] == "*"
                else salespeople[i],
                "balanceDue": money(r() * 25000) if r() < 0.6 else 0.0,
                "creditLimit": credit_limits[int(r() * 6)],
                "taxLiable": address.country == "US",
                "currencyId": NIL_GUID if currency == LOCAL_CURRENCY else ref.currency_ids[currency],
                # BC API pages show the local currency's code where the table holds a blank.
                "currencyCode": currency,
                "paymentTermsId": NIL_GUID,
                "shipmentMethodId": NIL_GUID,
                "blocked": blocked[i],
                "lastModifiedDateTime": stamps[i],
            }
        )
        group = groups[i]
        if currency != LOCAL_CURRENCY or address.country != "US":
            group = "EXPORT" if r() < 0.85 else ""
        parties.pricing.append(
            {
                "id": customer_id,
                "customerNumber": f"C{10000 + 10 * i}",
                "customerPriceGroupCode": group,
                "customerDiscountGroupCode": discount_groups[i],
                "allowLineDiscount": no_line_discount[i],
                # The price and discount groups are fields of the BC customer record: same modification time.
                "lastModifiedDateTime": stamps[i],
            }
        )
    return parties
