"""Connectors built from Settings, the way the composition root builds them."""

from __future__ import annotations

import httpx
import pytest

from gateway.config import load_settings
from gateway.errors import ConfigurationError
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.upstream.factory import build_crm_connector, build_erp_connector
from gateway.upstream.transport import in_process_transport


def settings(**overrides: object):  # type: ignore[no-untyped-def]
    options = SimulatorOptions()
    values: dict[str, object] = {
        "erp_base_url": "http://erp.sim",
        "erp_tenant": options.tenant,
        "erp_environment": options.environment,
        "erp_token_url": f"http://erp.sim/{options.tenant}/oauth2/v2.0/token",
        "erp_client_id": options.client_id,
        "erp_client_secret": options.client_secret,
        "erp_page_size": 13,
        "erp_batch_size": 40,
        "erp_max_concurrency": 3,
        "crm_base_url": "http://crm.sim",
        "crm_token_url": f"http://crm.sim/{options.tenant}/oauth2/v2.0/token",
        "crm_client_id": options.client_id,
        "crm_client_secret": options.client_secret,
        "crm_page_size": 17,
        "upstream_max_retries": 2,
        "upstream_timeout_seconds": 4.0,
    }
    values.update(overrides)
    return load_settings(**values)


async def test_connectors_from_settings_talk_to_the_simulators() -> None:
    options = SimulatorOptions(customers=20, items=20)
    s = settings()
    erp = build_erp_connector(s, transport=in_process_transport(create_erp_simulator(options)))
    crm = build_crm_connector(s, transport=in_process_transport(create_crm_simulator(options)))
    try:
        assert erp.client.base_url == "http://erp.sim/v2.0/demo/production/api/"
        assert crm.client.base_url == "http://crm.sim/api/data/v9.2/"
        assert (erp.client.limits.page_size, erp.client.limits.batch_size) == (13, 40)
        assert (erp.client.limits.max_concurrency, erp.client.limits.timeout_seconds) == (3, 4.0)
        assert crm.client.limits.page_size == 17 and crm.client.retry.max_retries == 2
        assert (await erp.company()).name
        assert (await crm.who_am_i()).organization_id
        assert sum([len(page) async for page in erp.customers()]) == 20
    finally:
        await erp.aclose()
        await crm.aclose()


async def test_a_given_http_client_is_not_closed_by_the_connector() -> None:
    async with httpx.AsyncClient() as http:
        erp = build_erp_connector(settings(), http=http)
        await erp.aclose()
        assert not http.is_closed


async def test_unconfigured_upstream_fails_on_use_with_the_setting_named() -> None:
    s = settings(erp_base_url="", crm_base_url="", erp_token_url="", crm_token_url="")
    erp = build_erp_connector(s)
    crm = build_crm_connector(s)
    try:
        assert erp.client.auth is None and crm.client.auth is None  # no token URL: no auth
        with pytest.raises(ConfigurationError) as caught:
            await erp.company()
        assert caught.value.setting == "GATEWAY_ERP_BASE_URL"
        with pytest.raises(ConfigurationError) as caught:
            await crm.who_am_i()
        assert caught.value.setting == "GATEWAY_CRM_BASE_URL"
    finally:
        await erp.aclose()
        await crm.aclose()
