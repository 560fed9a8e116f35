"""What Dataverse already holds about people and parties before the gateway couples anything:
currencies, users (the salespeople and a few that must not sync) and accounts that match customers
by number, by name only, ambiguously, or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from gateway.simulators.demo.common import Row, Stream, money, pick, quota
from gateway.simulators.demo.reference import MAIL_DOMAIN, Reference
from gateway.simulators.demo.words import random_address, slug

EXISTING_SHARE = 0.4
"""Share of the customers that Sales already knows as accounts."""
# How an existing account relates to its customer (the rest carry the customer number).
MATCH_SHARES = {"name": 0.4, "ambiguous": 0.08}
CUSTOMER, PROSPECT = 3, 8  # customertypecode option values


@dataclass(slots=True)
class CrmParties:
    currencies: list[Row] = field(default_factory=list)
    users: list[Row] = field(default_factory=list)
    accounts: list[Row] = field(default_factory=list)
    currency_ids: dict[str, str] = field(default_factory=dict)
    user_of_seller: dict[str, str] = field(default_factory=dict)  # salesperson code -> systemuserid
    integration_user_id: str = ""
    by_number: list[tuple[Row, Row]] = field(default_factory=list)  # (customer, account) pairs


def _row(s: Stream, key: str, modified: str, state: int = 0, status: int = 1) -> Row:
    return {
        key: s.guid(),
        "modifiedon": modified,
        "statecode": state,
        "statuscode": status,
        "versionnumber": 0,
    }


def build_crm_parties(
    *, seed: int, ref: Reference, customers: list[Row], spare_names: list[str], price_level_id: str
) -> CrmParties:
    """Currencies, users and accounts; `price_level_id` is the one price list Sales already has."""
    s = Stream(seed, "crm-parties")
    rng = s.rng
    r = rng.random
    crm = CrmParties()
    setup = (date(2024, 6, 1), date(2024, 9, 1))
    # USD is the organisation's base currency; EUR was added by hand; GBP is missing (CURRENCY has work).
    for code, name, symbol, rate in (("USD", "US Dollar", "$", 1.0), ("EUR", "Euro", "€", 0.9319)):
        row = _row(s, "transactioncurrencyid", s.stamp(*setup))
        row.update(
            isocurrencycode=code,
            currencyname=name,
            currencysymbol=symbol,
            exchangerate=rate,
            currencyprecision=2,
        )
        crm.currency_ids[code] = row["transactioncurrencyid"]
        crm.currencies.append(row)
    crm.users = _users(s, ref, crm)
    sellers = [u["systemuserid"] for u in crm.users if u["_seller"]]
    for user in crm.users:
        del user["_seller"]

    existing = sorted(pick(rng, len(customers), EXISTING_SHARE))
    kinds = quota(rng, len(existing), MATCH_SHARES, "number")
    named = [k for k, kind in enumerate(kinds) if kind == "name"]
    upper = set(rng.sample(named, max(1, len(named) // 10)))
    stamps = iter(s.stamps(2 * len(existing) + len(spare_names), date(2024, 9, 1), date(2026, 11, 15)))
    for k, (i, kind) in enumerate(zip(existing, kinds, strict=True)):
        customer = customers[i]
        owner = crm.user_of_seller.get(customer["salespersonCode"], crm.integration_user_id)
        account = _account(s, crm, customer, owner, next(stamps))
        if kind == "number":
            account["accountnumber"] = customer["number"]
            account["creditlimit"] = customer["creditLimit"]
            account["_defaultpricelevelid_value"] = price_level_id if r() < 0.3 else None
            if r() < 0.25:  # edited in Sales since: the first synchronization has a difference to settle
                account["telephone1"] = f"+1 555 {100 + int(r() * 900)} {1000 + int(r() * 9000)}"
            crm.by_number.append((customer, account))
        else:
            # Created by a salesperson, who owns it and typed the name (sometimes in capitals).
            account["_ownerid_value"] = sellers[int(r() * len(sellers))]
            if kind == "name" and k in upper:
                account["name"] = customer["displayName"].upper()
        crm.accounts.append(account)
        if kind == "ambiguous":  # the same company entered twice, in another city
            twin = _account(s, crm, customer, account["_ownerid_value"], next(stamps))
            twin["address1_city"], twin["address1_line1"] = "Springfield", f"{1 + int(r() * 900)} Elm Street"
            crm.accounts.append(twin)
    # Accounts only Sales knows: new customers, prospects (not customers), and two whose customer
    # was deleted in the ERP, so their number matches nothing.
    prospects = pick(rng, len(spare_names), 0.2)
    for k, name in enumerate(spare_names):
        address = random_address(rng, "US" if r() < 0.8 else "GB")
        row = _row(s, "accountid", next(stamps), *((1, 2) if r() < 0.1 else (0, 1)))
        row.update(
            name=name,
            accountnumber=f"C{10005 + 10 * k}" if k < 2 else None,
            _ownerid_value=sellers[int(r() * len(sellers))],
            _primarycontactid_value=None,
            _transactioncurrencyid_value=crm.currency_ids["USD"],
            _defaultpricelevelid_value=None,
            customertypecode=PROSPECT if k in prospects else CUSTOMER,
            address1_line1=address.line1,
            address1_line2=address.line2,
            address1_city=address.city,
            address1_stateorprovince=address.state,
            address1_postalcode=address.postal_code,
            address1_country=address.country,
            telephone1=address.phone,
            emailaddress1=f"info@{slug(name)}.com",
            websiteurl=f"www.{slug(name)}.com",
            creditlimit=money(float((0, 5000, 20000)[int(r() * 3)])) or None,
        )
        crm.accounts.append(row)
    return crm


def _account(s: Stream, crm: CrmParties, customer: Row, owner: str, modified: str) -> Row:
    """An account with the customer's name and address, as Sales would hold it."""
    row = _row(s, "accountid", modified)
    currency = customer["currencyCode"] if customer["currencyCode"] in crm.currency_ids else "USD"
    row.update(
        name=customer["displayName"],
        accountnumber=None,
        _ownerid_value=owner,
        _primarycontactid_value=None,
        _transactioncurrencyid_value=crm.currency_ids[currency],
        _defaultpricelevelid_value=None,
        customertypecode=CUSTOMER,
        address1_line1=customer["addressLine1"] or None,
        address1_line2=customer["addressLine2"] or None,
        address1_city=customer["city"] or None,
        address1_stateorprovince=customer["state"] or None,
        address1_postalcode=customer["postalCode"] or None,
        address1_country=customer["country"] or None,
        telephone1=customer["phoneNumber"] or None,
        emailaddress1=customer["email"] or None,
        websiteurl=customer["website"] or None,
        creditlimit=None,
    )
    return row


def _users(s: Stream, ref: Reference, crm: CrmParties) -> list[Row]:
    """One user per salesperson (matching by email and full name; the blocked one disabled), a
    salesperson the ERP does not know yet, the integration user and an unlicensed user."""
    users: list[Row] = []
    stamps = iter(s.stamps(len(ref.sellers) + 4, date(2024, 9, 1), date(2026, 6, 1)))

    def user(
        first: str,
        last: str,
        email: str,
        *,
        title: str = "",
        phone: str | None = None,
        disabled: bool = False,
        licensed: bool = True,
        integration: bool = False,
        seller: bool = False,
    ) -> Row:
        row = _row(s, "systemuserid", next(stamps), *((1, 2) if disabled else (0, 1)))
        row.update(
            fullname=f"{first} {last}".strip(),
            firstname=first,
            lastname=last,
            internalemailaddress=email,
            domainname=email,
            title=title or None,
            mobilephone=phone,
            isdisabled=disabled,
            islicensed=licensed,
            isintegrationuser=integration,
            accessmode=4 if integration else 0,
            _seller=seller,
        )
        users.append(row)
        return row

    for k, person in enumerate([*ref.sellers, ref.blocked_seller]):
        first, last = person["displayName"].split(" ", 1)
        # Mail systems keep the case people typed: matching on email must ignore it.
        email = (
            person["email"]
            if k != 1
            else person["email"].title().replace("@" + MAIL_DOMAIN.title(), "@" + MAIL_DOMAIN)
        )
        row = user(
            first,
            last,
            email,
            title=person["jobTitle"],
            phone=person["phoneNo"],
            disabled=person["blocked"],
            seller=not person["blocked"],
        )
        crm.user_of_seller[person["code"]] = row["systemuserid"]
    taken = {p["displayName"] for p in ref.sellers}
    first, last = next(
        (f, la) for f, la in (("Nora", "Lindqvist"), ("Oscar", "Brandt")) if f"{f} {la}" not in taken
    )
    user(
        first,
        last,
        f"{first.lower()}.{last.lower()}@{MAIL_DOMAIN}",
        title="Sales Representative",
        seller=True,
    )
    crm.integration_user_id = user(
        "", "Business Central Integration", f"bc-integration@{MAIL_DOMAIN}", integration=True
    )["systemuserid"]
    user("Front", "Desk", f"frontdesk@{MAIL_DOMAIN}", title="Receptionist", licensed=False)
    return users
