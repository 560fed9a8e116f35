"""Dataverse entity sets used by Dynamics 365 Sales (DOMAIN §3), with lookups and alternate keys.

Every set gets the system columns (createdon, modifiedon, versionnumber, statecode, statuscode).
"""

from __future__ import annotations

from gateway.simulators.odata.model import Child, EntitySet, Lookup, Prop, ServiceModel

NAMESPACE = "Microsoft.Dynamics.CRM"


def _lookup(column: str, **navs: str) -> Lookup:
    return Lookup(column=column, navs=navs)


def _lookup_prop(lookup: Lookup) -> Prop:
    return Prop(lookup.column, "Edm.Guid", read_only=True)


def _entity(
    name: str,
    type_name: str,
    props: tuple[Prop, ...],
    *,
    lookups: tuple[Lookup, ...] = (),
    alternate_keys: tuple[tuple[str, ...], ...] = (),
    children: tuple[Child, ...] = (),
) -> EntitySet:
    key = Prop(f"{type_name}id", "Edm.Guid", nullable=False)
    system = (
        Prop("createdon", "Edm.DateTimeOffset", read_only=True),
        Prop("modifiedon", "Edm.DateTimeOffset", read_only=True),
        Prop("versionnumber", "Edm.Int64", read_only=True),
        Prop("statecode", "Edm.Int32"),
        Prop("statuscode", "Edm.Int32"),
    )
    return EntitySet(
        name=name,
        type_name=type_name,
        key=(key.name,),
        props=(key, *props, *(_lookup_prop(lk) for lk in lookups), *system),
        lookups=lookups,
        alternate_keys=alternate_keys,
        children=children,
    )


def _s(*names: str) -> tuple[Prop, ...]:
    return tuple(Prop(name) for name in names)


def _m(*names: str) -> tuple[Prop, ...]:
    return tuple(Prop(name, "Edm.Decimal") for name in names)


OWNER = _lookup("_ownerid_value", ownerid="systemusers")
CURRENCY = _lookup("_transactioncurrencyid_value", transactioncurrencyid="transactioncurrencies")
PRICE_LEVEL = _lookup("_pricelevelid_value", pricelevelid="pricelevels")


def crm_sets() -> tuple[EntitySet, ...]:
    return (
        _entity(
            "accounts",
            "account",
            (
                *_s("name", "accountnumber"),
                Prop("customertypecode", "Edm.Int32"),
                *_s("address1_line1", "address1_line2", "address1_city", "address1_stateorprovince"),
                *_s("address1_postalcode", "address1_country", "telephone1", "emailaddress1", "websiteurl"),
                *_m("creditlimit"),
            ),
            lookups=(
                OWNER,
                _lookup("_primarycontactid_value", primarycontactid="contacts"),
                CURRENCY,
                _lookup("_defaultpricelevelid_value", defaultpricelevelid="pricelevels"),
            ),
            alternate_keys=(("accountnumber",),),
        ),
        _entity(
            "systemusers",
            "systemuser",
            (
                *_s("fullname", "firstname", "lastname", "internalemailaddress", "mobilephone"),
                *_s("domainname", "title"),
                Prop("isdisabled", "Edm.Boolean"),
                Prop("islicensed", "Edm.Boolean"),
                Prop("isintegrationuser", "Edm.Boolean"),
                Prop("applicationid", "Edm.Guid"),
                Prop("accessmode", "Edm.Int32"),
            ),
            lookups=(_lookup("_businessunitid_value", businessunitid="businessunits"),),
        ),
        _entity(
            "transactioncurrencies",
            "transactioncurrency",
            (
                *_s("isocurrencycode", "currencyname", "currencysymbol"),
                Prop("exchangerate", "Edm.Decimal"),
                Prop("currencyprecision", "Edm.Int32"),
            ),
        ),
        _entity("uomschedules", "uomschedule", _s("name", "baseuomname", "description")),
        _entity(
            "uoms",
            "uom",
            (Prop("name"), Prop("quantity", "Edm.Decimal"), Prop("isschedulebaseuom", "Edm.Boolean")),
            lookups=(
                _lookup("_uomscheduleid_value", uomscheduleid="uomschedules"),
                _lookup("_baseuom_value", baseuom="uoms"),
            ),
        ),
        _entity(
            "products",
            "product",
            (
                *_s("productnumber", "name", "description"),
                *_m("price", "standardcost", "currentcost", "quantityonhand"),
                Prop("producttypecode", "Edm.Int32"),
                Prop("quantitydecimal", "Edm.Int32"),
            ),
            lookups=(
                _lookup("_defaultuomscheduleid_value", defaultuomscheduleid="uomschedules"),
                _lookup("_defaultuomid_value", defaultuomid="uoms"),
                PRICE_LEVEL,
                CURRENCY,
            ),
            alternate_keys=(("productnumber",),),
        ),
        _entity(
            "pricelevels",
            "pricelevel",
            (
                *_s("name", "description"),
                Prop("begindate", "Edm.DateTimeOffset"),
                Prop("enddate", "Edm.DateTimeOffset"),
            ),
            lookups=(CURRENCY,),
        ),
        _entity(
            "productpricelevels",
            "productpricelevel",
            (
                Prop("productnumber"),
                Prop("amount", "Edm.Decimal"),
                Prop("pricingmethodcode", "Edm.Int32"),
                Prop("quantitysellingcode", "Edm.Int32"),
            ),
            lookups=(
                PRICE_LEVEL,
                _lookup("_productid_value", productid="products"),
                _lookup("_uomid_value", uomid="uoms"),
                _lookup("_uomscheduleid_value", uomscheduleid="uomschedules"),
                CURRENCY,
            ),
        ),
        _entity(
            "salesorders",
            "salesorder",
            (
                *_s("name", "ordernumber", "description"),
                *_m("totalamount", "totallineitemamount", "discountamount", "discountpercentage"),
                *_m("freightamount", "totaltax"),
                # "Date only" behaviour: Dataverse exposes such columns as Edm.Date.
                Prop("requestdeliveryby", "Edm.Date"),
                Prop("datefulfilled", "Edm.DateTimeOffset"),
                Prop("submitdate", "Edm.DateTimeOffset"),
            ),
            lookups=(
                _lookup("_customerid_value", customerid_account="accounts", customerid_contact="contacts"),
                PRICE_LEVEL,
                CURRENCY,
                OWNER,
            ),
            children=(Child("order_details", "salesorderdetails", "_salesorderid_value"),),
        ),
        _entity(
            "salesorderdetails",
            "salesorderdetail",
            (
                *_m("quantity", "priceperunit"),
                Prop("ispriceoverridden", "Edm.Boolean"),
                Prop("isproductoverridden", "Edm.Boolean"),
                *_m("manualdiscountamount", "volumediscountamount", "baseamount", "extendedamount", "tax"),
                Prop("sequencenumber", "Edm.Int32"),
                Prop("productdescription"),
            ),
            lookups=(
                _lookup("_salesorderid_value", salesorderid="salesorders"),
                _lookup("_productid_value", productid="products"),
                _lookup("_uomid_value", uomid="uoms"),
                CURRENCY,
            ),
        ),
    )


def crm_model() -> ServiceModel:
    return ServiceModel(namespace=NAMESPACE, alias="mscrm", container="System", sets=crm_sets())
