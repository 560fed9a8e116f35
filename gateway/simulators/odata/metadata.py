"""CSDL ``$metadata`` XML built from the entity model: types, keys, navigation, alternate keys, sets.

Written with ElementTree so names and values are escaped correctly.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .model import EntitySet, ServiceModel

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
COMPANIES = "companies"


def _entity_type(schema: ET.Element, model: ServiceModel, entity_set: EntitySet) -> None:
    node = ET.SubElement(schema, "EntityType", Name=entity_set.type_name)
    key = ET.SubElement(node, "Key")
    for name in entity_set.key:
        ET.SubElement(key, "PropertyRef", Name=name)
    for prop in entity_set.props:
        attrs = {"Name": prop.name, "Type": prop.edm}
        if not prop.nullable or prop.name in entity_set.key:
            attrs["Nullable"] = "false"
        if prop.max_length is not None:
            attrs["MaxLength"] = str(prop.max_length)
        if prop.edm == "Edm.Decimal":
            attrs["Scale"] = "Variable"
        ET.SubElement(node, "Property", attrs)
    for lookup in entity_set.lookups:
        for nav, target_name in lookup.navs.items():
            target = model.get(target_name)
            if target is None:
                continue
            nav_node = ET.SubElement(
                node, "NavigationProperty", Name=nav, Type=f"{model.namespace}.{target.type_name}"
            )
            ET.SubElement(
                nav_node,
                "ReferentialConstraint",
                Property=lookup.column,
                ReferencedProperty=target.single_key,
            )
    for child in entity_set.children:
        target = model.get(child.target_set)
        if target is None:
            continue
        ET.SubElement(
            node,
            "NavigationProperty",
            Name=child.name,
            Type=f"Collection({model.namespace}.{target.type_name})",
            ContainsTarget="true",
        )
    if entity_set.name == COMPANIES:
        # BC serves company-scoped sets below companies(<id>)/…; OData's URL rules need a
        # containment navigation property for each, as Business Central declares them.
        for scoped in model.sets:
            if scoped.company_scoped:
                ET.SubElement(
                    node,
                    "NavigationProperty",
                    Name=scoped.name,
                    Type=f"Collection({model.namespace}.{scoped.type_name})",
                    ContainsTarget="true",
                )
    if entity_set.alternate_keys:
        _alternate_keys(node, entity_set)


def _alternate_keys(node: ET.Element, entity_set: EntitySet) -> None:
    """The OData community vocabulary Dataverse uses to advertise alternate keys."""
    annotation = ET.SubElement(node, "Annotation", Term="OData.Community.Keys.V1.AlternateKeys")
    collection = ET.SubElement(annotation, "Collection")
    for alt in entity_set.alternate_keys:
        record = ET.SubElement(collection, "Record", Type="OData.Community.Keys.V1.AlternateKey")
        prop_value = ET.SubElement(record, "PropertyValue", Property="Key")
        inner = ET.SubElement(prop_value, "Collection")
        for name in alt:
            ref = ET.SubElement(inner, "Record", Type="OData.Community.Keys.V1.PropertyRef")
            ET.SubElement(ref, "PropertyValue", Property="Alias", String=name)
            ET.SubElement(ref, "PropertyValue", Property="Name", PropertyPath=name)


def build_csdl(model: ServiceModel, *, extra: str = "") -> str:
    """The whole document; ``extra`` is flavour CSDL (functions, complex types) inserted verbatim."""
    ET.register_namespace("edmx", EDMX)
    root = ET.Element(f"{{{EDMX}}}Edmx", Version="4.0")
    services = ET.SubElement(root, f"{{{EDMX}}}DataServices")
    schema = ET.SubElement(services, "Schema", xmlns=EDM, Namespace=model.namespace, Alias=model.alias)
    for entity_set in model.sets:
        _entity_type(schema, model, entity_set)
    if extra:
        for element in ET.fromstring(f"<x>{extra}</x>"):  # noqa: S314 -- our own flavour CSDL
            schema.append(element)
    container = ET.SubElement(schema, "EntityContainer", Name=model.container)
    for entity_set in model.sets:
        set_node = ET.SubElement(
            container,
            "EntitySet",
            Name=entity_set.name,
            EntityType=f"{model.namespace}.{entity_set.type_name}",
        )
        for lookup in entity_set.lookups:
            for nav, target_name in lookup.navs.items():
                if model.get(target_name) is not None:
                    ET.SubElement(set_node, "NavigationPropertyBinding", Path=nav, Target=target_name)
    if extra and "<Function " in extra:
        for element in ET.fromstring(f"<x>{extra}</x>"):  # noqa: S314 -- our own flavour CSDL
            if element.tag == "Function":
                ET.SubElement(
                    container,
                    "FunctionImport",
                    Name=element.get("Name", ""),
                    Function=(f"{model.namespace}.{element.get('Name', '')}"),
                )
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>' + body
