"""The typed per-request context every resolver receives: the caller and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from gateway.domain import Principal
from gateway.errors import PermissionDenied
from gateway.services.container import Services
from resolvers.loaders import Loaders, create_loaders


@dataclass
class Context:
    caller: Principal | None
    """None only on a WebSocket that has not sent its API key in `connection_init` yet (no operation
    runs before the connection is acknowledged; `principal` refuses if one did)."""
    services: Services
    request: Any
    response: Any
    introspection_allowed: bool = False
    """Admin keys, or any key in demo mode, may introspect the schema (schema.extensions)."""
    connection_params: dict[str, Any] | None = None
    """The WebSocket `connection_init` payload (strawberry sets it)."""
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def principal(self) -> Principal:
        if self.caller is None:
            raise PermissionDenied("not authenticated: send the API key in connection_init")
        return self.caller

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, made on first use (so their caches die with the request)."""
        if self._loaders is None:
            self._loaders = create_loaders(
                self.services.catalog, self.principal, availability=self.services.availability
            )
        return self._loaders


Info = StrawberryInfo[Context, None]
