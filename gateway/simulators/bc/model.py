"""Entity sets of Business Central API v2.0 and of our ``bcgateway/integration/v1.0`` API page set.

Property names and Edm types follow BC's own $metadata; the model drives our $metadata and storage.
"""

from __future__ import annotations

from gateway.simulators.odata.model import Child, EntitySet, Prop, ServiceModel

NAMESPACE = "Microsoft.NAV"


def _s(*names: str) -> tuple[Prop, ...]:
    return tuple(Prop(name) for name in names)


def _d(*names: str) -> tuple[Prop, ...]:
    return tuple(Prop(name, "Edm.Decimal") for name in names)


def _b(*names: str) -> tuple[Prop, ...]:
    return tuple(Prop(name, "Edm.Boolean") for name in names)


def _g(*names: str) -> tuple[Prop, ...]:
    return tuple(Prop(name, "Edm.Guid") for name in names)


ID = Prop("id", "Edm.Guid", nullable=False, read_only=True)
STAMP = Prop("lastModifiedDateTime", "Edm.DateTimeOffset", read_only=True)


def _set(name: str, type_name: str, *props: Prop, scoped: bool = True, **kw: object) -> EntitySet:
    return EntitySet(
        name=name,
        type_name=type_name,
        key=("id",),
        props=(ID, *props, STAMP),
        company_scoped=scoped,
        **kw,  # type: ignore[arg-type]
    )


def _companies() -> EntitySet:
    return EntitySet(
        name="companies",
        type_name="company",
        key=("id",),
        props=(
            ID,
            Prop("systemVersion"),
            Prop("timestamp", "Edm.Int64", read_only=True),
            Prop("name", nullable=False),
            *_s("displayName", "businessProfileId"),
            Prop("systemCreatedAt", "Edm.DateTimeOffset", read_only=True),
            Prop("systemCreatedBy", "Edm.Guid", read_only=True),
            Prop("systemModifiedAt", "Edm.DateTimeOffset", read_only=True),
            Prop("systemModifiedBy", "Edm.Guid", read_only=True),
            STAMP,
        ),
        writable=False,
    )


def api_sets() -> tuple[EntitySet, ...]:
    """``/api/v2.0/`` sets we serve."""
    return (
        _companies(),
        _set(
            "companyInformation",
            "companyInformation",
            *_s("displayName", "addressLine1", "addressLine2", "city", "state", "country", "postalCode"),
            *_s("phoneNumber", "faxNumber", "email", "website", "taxRegistrationNumber", "currencyCode"),
            Prop("currentFiscalYearStartDate", "Edm.Date"),
            Prop("industry"),
        ),
        _set(
            "customers",
            "customer",
            Prop("number", max_length=20),
            *_s("displayName", "type", "addressLine1", "addressLine2", "city", "state", "country"),
            *_s("postalCode", "phoneNumber", "email", "website", "salespersonCode"),
            *_d("balanceDue", "creditLimit"),
            *_b("taxLiable"),
            *_g("taxAreaId"),
            *_s("taxAreaDisplayName", "taxRegistrationNumber"),
            *_g("currencyId"),
            Prop("currencyCode"),
            *_g("paymentTermsId", "shipmentMethodId", "paymentMethodId"),
            Prop("blocked"),
            unique=(("number",),),
        ),
        _set(
            "items",
            "item",
            Prop("number", max_length=20),
            *_s("displayName", "displayName2", "type"),
            *_g("itemCategoryId"),
            Prop("itemCategoryCode"),
            *_b("blocked"),
            Prop("gtin"),
            *_d("inventory", "unitPrice"),
            *_b("priceIncludesTax"),
            *_d("unitCost"),
            *_g("taxGroupId"),
            Prop("taxGroupCode"),
            *_g("baseUnitOfMeasureId"),
            Prop("baseUnitOfMeasureCode"),
            *_g("generalProductPostingGroupId"),
            Prop("generalProductPostingGroupCode"),
            *_g("inventoryPostingGroupId"),
            Prop("inventoryPostingGroupCode"),
            unique=(("number",),),
        ),
        _set(
            "currencies",
            "currency",
            *_s("code", "displayName", "symbol", "amountDecimalPlaces"),
            *_d("amountRoundingPrecision"),
            unique=(("code",),),
        ),
        _set(
            "unitsOfMeasure",
            "unitOfMeasure",
            *_s("code", "displayName", "internationalStandardCode", "symbol"),
            unique=(("code",),),
        ),
        _set(
            "salespersonPurchasers",
            "salespersonPurchaser",
            *_s("code", "displayName", "email", "email2", "phoneNo", "jobTitle"),
            *_d("commisionPercent"),
            *_b("privacyBlocked", "blocked"),
            unique=(("code",),),
        ),
        _set(
            "locations",
            "location",
            *_s("code", "displayName", "contact", "addressLine1", "addressLine2", "city", "state"),
            *_s("country", "postalCode", "phoneNumber", "email", "website"),
            unique=(("code",),),
        ),
        _set(
            "salesOrders",
            "salesOrder",
            *_s("number", "externalDocumentNumber"),
            Prop("orderDate", "Edm.Date"),
            Prop("postingDate", "Edm.Date"),
            *_g("customerId"),
            *_s("customerNumber", "customerName", "billToName"),
            *_g("billToCustomerId"),
            *_s("billToCustomerNumber", "shipToName", "shipToContact"),
            *_g("currencyId"),
            Prop("currencyCode"),
            *_b("pricesIncludeTax"),
            *_g("paymentTermsId", "shipmentMethodId"),
            Prop("salesperson"),
            *_b("partialShipping"),
            Prop("requestedDeliveryDate", "Edm.Date"),
            *_d("discountAmount"),
            *_b("discountAppliedBeforeTax"),
            *_d("totalAmountExcludingTax", "totalTaxAmount", "totalAmountIncludingTax"),
            # Read-only, as in BC: posting a shipment changes it (POST /_sim/ship, bc/shipping.py).
            Prop("fullyShipped", "Edm.Boolean", read_only=True),
            *_s("status", "phoneNumber", "email"),
            children=(Child("salesOrderLines", "salesOrderLines", "documentId"),),
            unique=(("number",),),
        ),
        _set(
            "salesOrderLines",
            "salesOrderLine",
            *_g("documentId"),
            Prop("sequence", "Edm.Int32"),
            *_g("itemId", "accountId"),
            *_s("lineType", "lineObjectNumber", "description", "description2"),
            *_g("unitOfMeasureId"),
            Prop("unitOfMeasureCode"),
            *_d("quantity", "unitPrice", "discountAmount", "discountPercent"),
            *_b("discountAppliedBeforeTax"),
            *_d("amountExcludingTax"),
            Prop("taxCode"),
            *_d("taxPercent", "totalTaxAmount", "amountIncludingTax", "netAmount"),
            Prop("shipmentDate", "Edm.Date"),
            Prop("shippedQuantity", "Edm.Decimal", read_only=True),
            *_d("invoicedQuantity", "invoiceQuantity", "shipQuantity"),
            *_g("itemVariantId", "locationId"),
        ),
    )


def integration_sets() -> tuple[EntitySet, ...]:
    """``/api/bcgateway/integration/v1.0/`` sets (DOMAIN §2.1)."""
    blank_dates = (Prop("startingDate", "Edm.Date"), Prop("endingDate", "Edm.Date"))
    return (
        _companies(),
        _set(
            "currencyExchangeRates",
            "currencyExchangeRate",
            Prop("currencyCode"),
            Prop("startingDate", "Edm.Date"),
            *_d("exchangeRateAmount", "relationalExchangeRateAmount"),
        ),
        _set(
            "customerPriceGroups",
            "customerPriceGroup",
            *_s("code", "description"),
            *_b("allowLineDiscount", "priceIncludesTax"),
            unique=(("code",),),
        ),
        _set(
            "customerDiscountGroups", "customerDiscountGroup", *_s("code", "description"), unique=(("code",),)
        ),
        _set("itemDiscountGroups", "itemDiscountGroup", *_s("code", "description"), unique=(("code",),)),
        _set(
            "customerPricing",
            "customerPricing",
            *_s("customerNumber", "customerPriceGroupCode", "customerDiscountGroupCode"),
            *_b("allowLineDiscount"),
        ),
        _set(
            "itemPricing",
            "itemPricing",
            *_s("itemNumber", "itemDiscountGroupCode", "salesUnitOfMeasureCode"),
        ),
        _set(
            "itemUnitsOfMeasure",
            "itemUnitOfMeasure",
            *_s("itemNumber", "code"),
            *_d("qtyPerUnitOfMeasure"),
            unique=(("itemNumber", "code"),),
        ),
        _set(
            "priceListHeaders",
            "priceListHeader",
            *_s("code", "description", "sourceType", "sourceNo", "currencyCode"),
            *blank_dates,
            Prop("status"),
            *_b("priceIncludesTax", "allowLineDiscount"),
            unique=(("code",),),
        ),
        _set(
            "priceListLines",
            "priceListLine",
            Prop("priceListCode"),
            Prop("lineNo", "Edm.Int32"),
            *_s("sourceType", "sourceNo", "assetType", "assetNo", "unitOfMeasureCode", "currencyCode"),
            *blank_dates,
            *_d("minimumQuantity"),
            Prop("amountType"),
            *_d("unitPrice", "lineDiscountPercent"),
            *_b("allowLineDiscount", "priceIncludesTax"),
            unique=(("priceListCode", "lineNo"),),
        ),
        EntitySet(
            name="itemAvailabilities",
            type_name="itemAvailability",
            key=("itemNumber", "locationCode"),
            props=(
                Prop("itemNumber", nullable=False),
                Prop("locationCode", nullable=False),
                Prop("unitOfMeasureCode"),
                *_d("inventory", "qtyOnSalesOrders", "qtyOnPurchaseOrders"),
                *_d("availableQuantity", "projectedAvailableQuantity"),
                Prop("asOfDateTime", "Edm.DateTimeOffset"),
            ),
            writable=False,
            computed=True,
            company_scoped=True,
        ),
    )


def api_model() -> ServiceModel:
    return ServiceModel(namespace=NAMESPACE, alias="NAV", container="default", sets=api_sets())


def integration_model() -> ServiceModel:
    return ServiceModel(namespace=NAMESPACE, alias="NAV", container="default", sets=integration_sets())


def storage_model() -> ServiceModel:
    """Every set of both APIs, once, for the shared store."""
    seen: dict[str, EntitySet] = {}
    for entity_set in (*api_sets(), *integration_sets()):
        seen.setdefault(entity_set.name, entity_set)
    return ServiceModel(namespace=NAMESPACE, alias="NAV", container="default", sets=tuple(seen.values()))
