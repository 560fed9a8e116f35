"""The typed per-request context every resolver receives: the caller and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from gateway.domain import Principal
from gateway.services.container import Services
from resolvers.loaders import Loaders, create_loaders


@dataclass
class Context:
    principal: Principal
    services: Services
    request: Any
    response: Any
    introspection_allowed: bool = False
    """Admin keys, or any key in demo mode, may introspect the schema (schema.extensions)."""
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, made on first use (so their caches die with the request)."""
        if self._loaders is None:
            self._loaders = create_loaders(
                self.services.catalog, self.principal, availability=self.services.availability
            )
        return self._loaders


Info = StrawberryInfo[Context, None]
