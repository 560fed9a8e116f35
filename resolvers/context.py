"""The typed per-request context every resolver receives: the caller and the services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.types import Info as StrawberryInfo

from gateway.domain import Principal
from gateway.services.container import Services


@dataclass
class Context:
    principal: Principal
    services: Services
    request: Any
    response: Any


Info = StrawberryInfo[Context, None]
