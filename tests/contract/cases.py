"""The servers the contract suite runs against, described uniformly: where the collection is,
which properties play the key, text, timestamp and date roles, and how to make a new row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.upstream.client import ODataClient


@dataclass
class ServerCase:
    name: str
    client: ODataClient
    collection: str
    """Path of the entity set relative to the client's base URL."""
    key: str
    text: str
    timestamp: str
    """A DateTimeOffset property."""
    date: tuple[str, str] | None
    """(collection, property) of an Edm.Date property, where the server has one."""
    new_row: Callable[[str], dict[str, Any]]
    server_page_size: int | None = None
    """A page size the server enforces whatever we prefer (CAP's @cds.query.limit)."""
