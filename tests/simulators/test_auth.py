"""Token endpoint and bearer checks of both simulators, as Entra ID and the services answer them."""

from __future__ import annotations

import httpx

from gateway.simulators import create_crm_simulator, create_erp_simulator

from .conftest import BC_API, BC_SCOPE, CRM_API, CRM_SCOPE, Clock, options, token
from .fixtures import COMPANY


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://sim.test")  # type: ignore[arg-type]


async def test_token_endpoint_issues_bearer_token() -> None:
    async with _client(create_erp_simulator(options(token_lifetime_seconds=1234))) as client:
        response = await client.post(
            "/demo/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "gateway-demo",
                "client_secret": "demo-secret",
                "scope": BC_SCOPE,
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 1234
        assert body["access_token"].count(".") == 2
        api = await client.get(
            f"{BC_API}companies", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert api.status_code == 200


async def test_token_errors_are_aad_shaped() -> None:
    async with _client(create_erp_simulator(options())) as client:
        base = {"grant_type": "client_credentials", "client_id": "gateway-demo", "scope": BC_SCOPE}
        wrong_secret = await client.post("/demo/oauth2/v2.0/token", data={**base, "client_secret": "nope"})
        assert wrong_secret.status_code == 401
        assert wrong_secret.json()["error"] == "invalid_client"
        assert wrong_secret.json()["error_description"].startswith("AADSTS")
        unknown = await client.post(
            "/demo/oauth2/v2.0/token", data={**base, "client_id": "someone", "client_secret": "x"}
        )
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "unauthorized_client"
        bad_scope = await client.post(
            "/demo/oauth2/v2.0/token",
            data={**base, "client_secret": "demo-secret", "scope": "https://example.com/.default"},
        )
        assert bad_scope.status_code == 400
        assert bad_scope.json()["error"] == "invalid_scope"
        grant = await client.post(
            "/demo/oauth2/v2.0/token", data={**base, "client_secret": "demo-secret", "grant_type": "password"}
        )
        assert grant.json()["error"] == "unsupported_grant_type"
        tenant = await client.post("/other/oauth2/v2.0/token", data={**base, "client_secret": "demo-secret"})
        assert tenant.status_code == 400


async def test_crm_accepts_any_default_scope() -> None:
    async with _client(create_crm_simulator(options())) as client:
        bearer = await token(client, "https://contoso.crm4.dynamics.com/.default")
        ok = await client.get(f"{CRM_API}WhoAmI", headers={"Authorization": f"Bearer {bearer}"})
        assert ok.status_code == 200
        assert set(ok.json()) >= {"BusinessUnitId", "UserId", "OrganizationId"}
        bad = await client.post(
            "/demo/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "gateway-demo",
                "client_secret": "demo-secret",
                "scope": "https://contoso.crm.dynamics.com/user_impersonation",
            },
        )
        assert bad.status_code == 400


async def test_missing_forged_and_foreign_tokens_get_401_odata_errors() -> None:
    erp = create_erp_simulator(options())
    crm = create_crm_simulator(options())
    async with _client(erp) as bc, _client(crm) as dv:
        missing = await bc.get(f"{BC_API}companies({COMPANY})/customers")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "Authentication_InvalidCredentials"
        assert "Bearer" in missing.headers["WWW-Authenticate"]
        forged = await dv.get(f"{CRM_API}accounts", headers={"Authorization": "Bearer a.b.c"})
        assert forged.status_code == 401
        assert set(forged.json()["error"]) == {"code", "message"}
        # A token from the ERP simulator's issuer is no good at the CRM.
        erp_token = await token(bc, BC_SCOPE)
        foreign = await dv.get(f"{CRM_API}accounts", headers={"Authorization": f"Bearer {erp_token}"})
        assert foreign.status_code == 401


async def test_expired_token_is_rejected() -> None:
    clock = Clock()
    app = create_crm_simulator(options(clock=clock, token_lifetime_seconds=60))
    async with _client(app) as client:
        bearer = await token(client, CRM_SCOPE)
        headers = {"Authorization": f"Bearer {bearer}"}
        assert (await client.get(f"{CRM_API}accounts", headers=headers)).status_code == 200
        clock.now += 59
        assert (await client.get(f"{CRM_API}accounts", headers=headers)).status_code == 200
        clock.now += 2
        assert (await client.get(f"{CRM_API}accounts", headers=headers)).status_code == 401


async def test_wrong_tenant_or_environment_in_api_url_is_404() -> None:
    async with _client(create_erp_simulator(options())) as client:
        bearer = await token(client, BC_SCOPE)
        headers = {"Authorization": f"Bearer {bearer}"}
        response = await client.get("/v2.0/demo/sandbox/api/v2.0/companies", headers=headers)
        assert response.status_code == 404
        assert "error" in response.json()
