"""Readiness: can this instance serve? The store answers, the cache answers, both upstreams answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.services.status import StatusService

Probe = Callable[[], Awaitable[tuple[bool, str | None]]]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: tuple[Check, ...]


class ReadinessService:
    def __init__(self, *, store: Probe, cache: Probe, status: StatusService) -> None:
        self._store = store
        self._cache = cache
        self._status = status

    async def check(self) -> Readiness:
        checks: list[Check] = []
        for name, probe in (("store", self._store), ("cache", self._cache)):
            ok, error = await probe()
            checks.append(Check(name, ok, error))
        erp = await self._status.erp()
        checks.append(Check("erp", erp.reachable, erp.error))
        crm = await self._status.crm()
        checks.append(Check("crm", crm.reachable, crm.error))
        return Readiness(ready=all(c.ok for c in checks), checks=tuple(checks))
