"""One converter per upstream entity set the read model keeps (upstream properties → the columns of
its table), and which table each set fills: PROJECTIONS, used by `gateway.store.read_projection`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import SQLModel

from gateway.domain import Side
from gateway.store.read_model import (
    RmCompany,
    RmCurrency,
    RmCustomer,
    RmCustomerPricing,
    RmExchangeRate,
    RmItem,
    RmItemPricing,
    RmItemUnit,
    RmLocation,
    RmPriceLine,
    RmPriceList,
    RmPricingGroup,
    RmSalesperson,
    RmUnit,
)
from gateway.store.read_values import (
    as_bool,
    as_date,
    as_decimal,
    as_id,
    as_int,
    as_precision,
    as_text,
)

Row = dict[str, Any]
Values = Mapping[str, Any]


def _erp_customer(v: Values) -> Row:
    return {
        "number": as_text(v.get("number")),
        "name": as_text(v.get("displayName")),
        "type": as_text(v.get("type")),
        "address_line1": as_text(v.get("addressLine1")),
        "address_line2": as_text(v.get("addressLine2")),
        "city": as_text(v.get("city")),
        "state": as_text(v.get("state")),
        "country": as_text(v.get("country")),
        "postal_code": as_text(v.get("postalCode")),
        "phone": as_text(v.get("phoneNumber")),
        "email": as_text(v.get("email")),
        "website": as_text(v.get("website")),
        "salesperson_code": as_text(v.get("salespersonCode")),
        "currency_code": as_text(v.get("currencyCode")),
        "currency_id": as_id(v.get("currencyId")),
        "credit_limit": as_decimal(v.get("creditLimit")),
        "balance_due": as_decimal(v.get("balanceDue")),
        "blocked": as_text(v.get("blocked")) or " ",
    }


def _crm_account(v: Values) -> Row:
    return {
        "number": as_text(v.get("accountnumber")),
        "name": as_text(v.get("name")),
        "address_line1": as_text(v.get("address1_line1")),
        "address_line2": as_text(v.get("address1_line2")),
        "city": as_text(v.get("address1_city")),
        "state": as_text(v.get("address1_stateorprovince")),
        "country": as_text(v.get("address1_country")),
        "postal_code": as_text(v.get("address1_postalcode")),
        "phone": as_text(v.get("telephone1")),
        "email": as_text(v.get("emailaddress1")),
        "website": as_text(v.get("websiteurl")),
        "owner_id": as_id(v.get("_ownerid_value")),
        "currency_id": as_id(v.get("_transactioncurrencyid_value")),
        "default_price_list_id": as_id(v.get("_defaultpricelevelid_value")),
        "credit_limit": as_decimal(v.get("creditlimit")),
        "customer_type_code": as_int(v.get("customertypecode")),
        "state_code": as_int(v.get("statecode")),
    }


def _customer_pricing(v: Values) -> Row:
    return {
        "customer_number": as_text(v.get("customerNumber")),
        "price_group_code": as_text(v.get("customerPriceGroupCode")),
        "discount_group_code": as_text(v.get("customerDiscountGroupCode")),
        "allow_line_discount": as_bool(v.get("allowLineDiscount"), True),
    }


def _erp_item(v: Values) -> Row:
    return {
        "number": as_text(v.get("number")),
        "name": as_text(v.get("displayName")),
        "type": as_text(v.get("type")),
        "item_category_code": as_text(v.get("itemCategoryCode")),
        "blocked": as_bool(v.get("blocked")),
        "gtin": as_text(v.get("gtin")),
        "inventory": as_decimal(v.get("inventory")),
        "unit_price": as_decimal(v.get("unitPrice")),
        "price_includes_tax": as_bool(v.get("priceIncludesTax")),
        "unit_cost": as_decimal(v.get("unitCost")),
        "base_unit_code": as_text(v.get("baseUnitOfMeasureCode")),
        "base_unit_id": as_id(v.get("baseUnitOfMeasureId")),
    }


_PRODUCT_TYPES = {1: "Inventory", 2: "Inventory", 3: "Service", 4: "Service"}


def _crm_product(v: Values) -> Row:
    type_code = as_int(v.get("producttypecode"))
    state = as_int(v.get("statecode"))
    return {
        "number": as_text(v.get("productnumber")),
        "name": as_text(v.get("name")),
        "type": _PRODUCT_TYPES.get(type_code or 0, ""),
        "blocked": state not in (None, 0),  # retired, draft or under revision: not for sale
        "inventory": as_decimal(v.get("quantityonhand")),
        "unit_price": as_decimal(v.get("price")),
        "unit_cost": as_decimal(v.get("standardcost")),
        "base_unit_id": as_id(v.get("_defaultuomid_value")),
        "product_type_code": type_code,
        "state_code": state,
    }


def _item_pricing(v: Values) -> Row:
    return {
        "item_number": as_text(v.get("itemNumber")),
        "discount_group_code": as_text(v.get("itemDiscountGroupCode")),
        "sales_unit_code": as_text(v.get("salesUnitOfMeasureCode")),
    }


def _item_unit(v: Values) -> Row:
    return {
        "item_number": as_text(v.get("itemNumber")),
        "code": as_text(v.get("code")),
        "qty_per_unit": as_decimal(v.get("qtyPerUnitOfMeasure"), Decimal(1)),
    }


def _erp_price_list(v: Values) -> Row:
    return {
        "number": as_text(v.get("code")),
        "name": as_text(v.get("description")),
        "source_type": as_text(v.get("sourceType")),
        "source_no": as_text(v.get("sourceNo")),
        "currency_code": as_text(v.get("currencyCode")),
        "starting_date": as_date(v.get("startingDate")),
        "ending_date": as_date(v.get("endingDate")),
        "status": as_text(v.get("status")) or "Active",
        "price_includes_tax": as_bool(v.get("priceIncludesTax")),
        "allow_line_discount": as_bool(v.get("allowLineDiscount"), True),
    }


def _crm_price_level(v: Values) -> Row:
    return {
        "number": as_text(v.get("name")),
        "name": as_text(v.get("description")),
        "currency_id": as_id(v.get("_transactioncurrencyid_value")),
        "starting_date": as_date(v.get("begindate")),
        "ending_date": as_date(v.get("enddate")),
        "status": "Active" if as_int(v.get("statecode")) in (None, 0) else "Inactive",
    }


def _price_line(v: Values) -> Row:
    return {
        "price_list_code": as_text(v.get("priceListCode")),
        "line_no": as_int(v.get("lineNo")) or 0,
        "source_type": as_text(v.get("sourceType")),
        "source_no": as_text(v.get("sourceNo")),
        "asset_type": as_text(v.get("assetType")),
        "asset_no": as_text(v.get("assetNo")),
        "unit_code": as_text(v.get("unitOfMeasureCode")),
        "currency_code": as_text(v.get("currencyCode")),
        "starting_date": as_date(v.get("startingDate")),
        "ending_date": as_date(v.get("endingDate")),
        "minimum_quantity": as_decimal(v.get("minimumQuantity")),
        "amount_type": as_text(v.get("amountType")) or "Price",
        "unit_price": as_decimal(v.get("unitPrice")),
        "line_discount_percent": as_decimal(v.get("lineDiscountPercent")),
        "allow_line_discount": as_bool(v.get("allowLineDiscount"), True),
        "price_includes_tax": as_bool(v.get("priceIncludesTax")),
    }


def _erp_salesperson(v: Values) -> Row:
    return {
        "number": as_text(v.get("code")),
        "name": as_text(v.get("displayName")),
        "email": as_text(v.get("email")),
        "phone": as_text(v.get("phoneNo")),
        "job_title": as_text(v.get("jobTitle")),
        "blocked": as_bool(v.get("blocked")),
    }


def _crm_user(v: Values) -> Row:
    return {
        "name": as_text(v.get("fullname")),
        "email": as_text(v.get("internalemailaddress")),
        "phone": as_text(v.get("mobilephone")),
        "job_title": as_text(v.get("title")),
        "blocked": as_bool(v.get("isdisabled")) or not as_bool(v.get("islicensed"), True),
        "integration_user": as_bool(v.get("isintegrationuser")),
    }


def _erp_currency(v: Values) -> Row:
    row: Row = {
        "number": as_text(v.get("code")),
        "name": as_text(v.get("displayName")),
        "symbol": as_text(v.get("symbol")),
        "amount_decimal_places": as_text(v.get("amountDecimalPlaces")) or "2:2",
        "amount_rounding_precision": as_decimal(v.get("amountRoundingPrecision"), Decimal("0.01")),
    }
    if v.get("unitAmountRoundingPrecision") is not None:
        row["unit_amount_rounding_precision"] = as_decimal(v.get("unitAmountRoundingPrecision"))
    return row


def _crm_currency(v: Values) -> Row:
    return {
        "number": as_text(v.get("isocurrencycode")),
        "name": as_text(v.get("currencyname")),
        "symbol": as_text(v.get("currencysymbol")),
        "amount_rounding_precision": as_precision(v.get("currencyprecision")),
        "exchange_rate": as_decimal(v.get("exchangerate"), Decimal(1)),
    }


def _exchange_rate(v: Values) -> Row:
    return {
        "currency_code": as_text(v.get("currencyCode")),
        "starting_date": as_date(v.get("startingDate")),
        "exchange_rate_amount": as_decimal(v.get("exchangeRateAmount"), Decimal(1)),
        "relational_exchange_rate_amount": as_decimal(v.get("relationalExchangeRateAmount"), Decimal(1)),
    }


def _unit(v: Values) -> Row:
    return {
        "code": as_text(v.get("code")),
        "name": as_text(v.get("displayName")),
        "international_standard_code": as_text(v.get("internationalStandardCode")),
        "symbol": as_text(v.get("symbol")),
    }


def _location(v: Values) -> Row:
    return {
        "code": as_text(v.get("code")),
        "name": as_text(v.get("displayName")),
        "address_line1": as_text(v.get("addressLine1")),
        "city": as_text(v.get("city")),
        "country": as_text(v.get("country")),
    }


def _company(v: Values) -> Row:
    return {"name": as_text(v.get("displayName")), "currency_code": as_text(v.get("currencyCode"))}


def _group(kind: str) -> Callable[[Values], Row]:
    def convert(v: Values) -> Row:
        return {
            "kind": kind,
            "code": as_text(v.get("code")),
            "description": as_text(v.get("description")),
            "allow_line_discount": as_bool(v.get("allowLineDiscount"), True),
            "price_includes_tax": as_bool(v.get("priceIncludesTax")),
        }

    return convert


@dataclass(frozen=True, slots=True)
class Projection:
    model: type[SQLModel]
    convert: Callable[[Values], Row]
    two_sided: bool = False


PROJECTIONS: dict[tuple[Side, str], Projection] = {
    (Side.ERP, "customers"): Projection(RmCustomer, _erp_customer, two_sided=True),
    (Side.ERP, "customerPricing"): Projection(RmCustomerPricing, _customer_pricing),
    (Side.ERP, "items"): Projection(RmItem, _erp_item, two_sided=True),
    (Side.ERP, "itemPricing"): Projection(RmItemPricing, _item_pricing),
    (Side.ERP, "itemUnitsOfMeasure"): Projection(RmItemUnit, _item_unit),
    (Side.ERP, "priceListHeaders"): Projection(RmPriceList, _erp_price_list, two_sided=True),
    (Side.ERP, "priceListLines"): Projection(RmPriceLine, _price_line),
    (Side.ERP, "salespersonPurchasers"): Projection(RmSalesperson, _erp_salesperson, two_sided=True),
    (Side.ERP, "currencies"): Projection(RmCurrency, _erp_currency, two_sided=True),
    (Side.ERP, "currencyExchangeRates"): Projection(RmExchangeRate, _exchange_rate),
    (Side.ERP, "unitsOfMeasure"): Projection(RmUnit, _unit),
    (Side.ERP, "locations"): Projection(RmLocation, _location),
    (Side.ERP, "customerPriceGroups"): Projection(RmPricingGroup, _group("customerPrice")),
    (Side.ERP, "customerDiscountGroups"): Projection(RmPricingGroup, _group("customerDiscount")),
    (Side.ERP, "itemDiscountGroups"): Projection(RmPricingGroup, _group("itemDiscount")),
    (Side.ERP, "companyInformation"): Projection(RmCompany, _company),
    (Side.CRM, "accounts"): Projection(RmCustomer, _crm_account, two_sided=True),
    (Side.CRM, "products"): Projection(RmItem, _crm_product, two_sided=True),
    (Side.CRM, "pricelevels"): Projection(RmPriceList, _crm_price_level, two_sided=True),
    (Side.CRM, "systemusers"): Projection(RmSalesperson, _crm_user, two_sided=True),
    (Side.CRM, "transactioncurrencies"): Projection(RmCurrency, _crm_currency, two_sided=True),
}


def projected_entity_sets(side: Side) -> frozenset[str]:
    """The entity sets of one side the read model keeps (the sync engine reads at least these)."""
    return frozenset(name for s, name in PROJECTIONS if s is side)
