"""Reads a CSDL $metadata document with the standard library: entity sets, their types' properties and
navigation properties. The tests compare what Mesh generated and what curl fetched against it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@dataclass(frozen=True)
class EntityType:
    name: str
    key: tuple[str, ...]
    properties: dict[str, tuple[str, bool]]  # name -> (Edm type, nullable)
    navigation: dict[str, str]  # name -> Type (Collection(...) for to-many)


@dataclass(frozen=True)
class Csdl:
    entity_sets: dict[str, str]  # set name -> unqualified entity type name
    types: dict[str, EntityType]

    def set_type(self, entity_set: str) -> EntityType:
        return self.types[self.entity_sets[entity_set]]


def parse_csdl(text: str) -> Csdl:
    """Parse $metadata (raises xml.etree.ElementTree.ParseError when it is not XML)."""
    root = ET.fromstring(text)
    types: dict[str, EntityType] = {}
    for node in root.iter(f"{EDM}EntityType"):
        name = node.get("Name", "")
        key = tuple(ref.get("Name", "") for ref in node.iter(f"{EDM}PropertyRef"))
        props = {
            p.get("Name", ""): (p.get("Type", ""), p.get("Nullable", "true") != "false")
            for p in node.findall(f"{EDM}Property")
        }
        navs = {n.get("Name", ""): n.get("Type", "") for n in node.findall(f"{EDM}NavigationProperty")}
        types[name] = EntityType(name=name, key=key, properties=props, navigation=navs)
    sets = {
        s.get("Name", ""): s.get("EntityType", "").rsplit(".", 1)[-1]
        for container in root.iter(f"{EDM}EntityContainer")
        for s in container.findall(f"{EDM}EntitySet")
    }
    return Csdl(entity_sets=sets, types=types)
