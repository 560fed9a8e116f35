"""Client-credentials tokens against the simulators' token endpoints: one fetch for many callers,
refresh before expiry, one refresh and retry on 401, refusal as UpstreamAuthError, nothing leaked."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from gateway.errors import UpstreamAuthError
from gateway.upstream.erp import ErpConnector
from tests.upstream.conftest import Upstream


@pytest.mark.parametrize("kind", ["erp", "crm"])
async def test_concurrent_callers_share_one_token_request(make_upstream, kind: str) -> None:  # type: ignore[no-untyped-def]
    upstream: Upstream = make_upstream(kind)
    client = upstream.client()
    target = "v2.0/companies" if kind == "erp" else "accounts"
    await asyncio.gather(*(client.get(target) for _ in range(20)))
    assert len(upstream.transport.tokens()) == 1
    assert len(upstream.transport.api()) == 20
    assert (await upstream.control("stats"))["tokensIssued"] == 1
    request = upstream.transport.tokens()[0]
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": upstream.options.client_id,
        "client_secret": upstream.options.client_secret,
        "scope": upstream.scope,
    }


async def test_token_is_refreshed_before_expiry(erp_sim: Upstream) -> None:
    now = [1000.0]
    http = httpx.AsyncClient(transport=erp_sim.transport)
    erp_sim.https.append(http)
    provider = erp_sim.token_provider(http, clock=lambda: now[0], refresh_margin_seconds=60)
    client = erp_sim.client(provider=provider)
    await client.get("v2.0/companies")
    now[0] += erp_sim.options.token_lifetime_seconds - 61  # still outside the margin
    await client.get("v2.0/companies")
    assert provider.fetches == 1
    now[0] += 2  # inside the refresh margin: fetched anew before the old one expires
    await asyncio.gather(*(client.get("v2.0/companies") for _ in range(5)))
    assert provider.fetches == 2
    assert len(erp_sim.transport.tokens()) == 2
    stats = await erp_sim.control("stats")
    assert stats["byStatus"].get("401", 0) == 0


async def test_401_refreshes_once_and_retries(erp_sim: Upstream) -> None:
    client = erp_sim.client()
    await client.get("v2.0/companies")
    erp_sim.clock.offset += erp_sim.options.token_lifetime_seconds + 5  # the server sees it expired
    body = await client.get("v2.0/companies")
    assert body["value"]
    assert len(erp_sim.transport.tokens()) == 2
    assert client.stats.token_refreshes_on_401 == 1
    statuses = (await erp_sim.control("stats"))["byStatus"]
    assert statuses["401"] == 1


async def test_concurrent_401s_share_one_refresh(crm_sim: Upstream) -> None:
    client = crm_sim.client()
    await client.get("accounts")
    crm_sim.clock.offset += crm_sim.options.token_lifetime_seconds + 5
    await asyncio.gather(*(client.get("accounts") for _ in range(8)))
    assert len(crm_sim.transport.tokens()) == 2


async def test_wrong_secret_is_an_auth_error_that_leaks_nothing(
    erp_sim: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = erp_sim.client(secret="wrong-secret-value")
    with pytest.raises(UpstreamAuthError) as caught:
        await client.get("v2.0/companies")
    error = caught.value
    assert error.status == 401 and error.code == "invalid_client" and error.service == "erp"
    assert len(erp_sim.transport.tokens()) == 1  # a refused credential is not retried
    assert erp_sim.transport.api() == []
    for text in (str(error), repr(error), repr(client), repr(client.auth), caplog.text):
        assert "wrong-secret-value" not in text


async def test_token_never_appears_in_reprs(erp_sim: Upstream) -> None:
    client = erp_sim.client()
    erp = ErpConnector(client)
    await erp.company()
    assert client.auth is not None
    token = await client.auth.token()
    for text in (repr(client), repr(client.auth), repr(erp), repr(vars(client.auth).get("_token"))):
        assert token not in text
        assert erp_sim.options.client_secret not in text


async def test_without_auth_no_authorization_header_is_sent(erp_sim: Upstream) -> None:
    client = erp_sim.client(auth=False)
    with pytest.raises(UpstreamAuthError) as caught:
        await client.get("v2.0/companies")
    assert caught.value.status == 401
    assert "authorization" not in erp_sim.transport.api()[0].headers
    assert len(erp_sim.transport.api()) == 1  # no provider: nothing to refresh, no retry
