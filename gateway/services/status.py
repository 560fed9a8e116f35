"""Upstream status: is Business Central reachable and which company, is Dataverse reachable and
which organisation. Answers are cached for a few seconds so health probes cost no upstream budget;
each check is one attempt within `timeout_seconds` (`policy.within_budget`), not the sync's retries:
with an upstream down the GraphQL `upstreams` field answered after 10-20 s of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from gateway.domain import Company, Organisation, Side, UpstreamStatus
from gateway.errors import GatewayError
from gateway.upstream.policy import within_budget


class CompanySource(Protocol):
    async def company(self) -> Company: ...


class OrganisationSource(Protocol):
    async def who_am_i(self) -> Organisation: ...


class StatusService:
    """Checks each upstream at most once per `ttl_seconds`; concurrent callers share one check."""

    def __init__(
        self,
        *,
        erp: CompanySource,
        crm: OrganisationSource,
        ttl_seconds: float = 5.0,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._erp = erp
        self._crm = crm
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds
        self._cached: dict[Side, tuple[float, UpstreamStatus]] = {}
        self._locks = {Side.ERP: asyncio.Lock(), Side.CRM: asyncio.Lock()}

    async def erp(self) -> UpstreamStatus:
        return await self._status(Side.ERP, self._check_erp)

    async def crm(self) -> UpstreamStatus:
        return await self._status(Side.CRM, self._check_crm)

    async def _status(self, side: Side, check: Callable[[], Awaitable[UpstreamStatus]]) -> UpstreamStatus:
        async with self._locks[side]:
            cached = self._cached.get(side)
            if cached and time.monotonic() - cached[0] < self._ttl:
                return cached[1]
            try:
                async with within_budget(max_retries=0, seconds=self._timeout):
                    status = await check()
            except TimeoutError:
                status = UpstreamStatus(
                    side,
                    reachable=False,
                    checked_at=datetime.now(UTC),
                    error=f"did not answer within {self._timeout:g}s",
                )
            self._cached[side] = (time.monotonic(), status)
            return status

    async def _check_erp(self) -> UpstreamStatus:
        now = datetime.now(UTC)
        try:
            company = await self._erp.company()
        except GatewayError as exc:
            return UpstreamStatus(Side.ERP, reachable=False, checked_at=now, error=_describe(exc))
        return UpstreamStatus(Side.ERP, reachable=True, checked_at=now, company=company)

    async def _check_crm(self) -> UpstreamStatus:
        now = datetime.now(UTC)
        try:
            organisation = await self._crm.who_am_i()
        except GatewayError as exc:
            return UpstreamStatus(Side.CRM, reachable=False, checked_at=now, error=_describe(exc))
        return UpstreamStatus(Side.CRM, reachable=True, checked_at=now, organisation=organisation)


def _describe(exc: GatewayError) -> str:
    return f"{type(exc).__name__}: {exc}"
