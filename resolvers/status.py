"""Resolvers for who the gateway is connected to and who is asking."""

from __future__ import annotations

from gateway.domain import Principal, UpstreamStatus
from resolvers.context import Info


async def erp_status(info: Info) -> UpstreamStatus:
    return await info.context.services.status.erp()


async def crm_status(info: Info) -> UpstreamStatus:
    return await info.context.services.status.crm()


def caller(info: Info) -> Principal:
    return info.context.principal
