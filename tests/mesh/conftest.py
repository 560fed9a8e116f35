"""Session fixtures of the GraphQL Mesh suite: each simulator started once with Mesh in front of it.

The CRM's demo data has no account with quotes, an ampersand and an umlaut, so the fixture adds some.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.mesh.mesh_server import Kind, MeshStack, mesh_over_simulators, require_mesh

TRICKY_NAME = "O'Brien & Müller Interiors"
# Near misses a sloppy encoder would confuse with it (a '+' for the space, the & cut off, no umlaut).
CRM_ACCOUNT_NAMES = (TRICKY_NAME, "O'Brien & Müller Interiors GmbH", "O'Brien+&+Müller+Interiors", "O'Brien ")


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Kind, MeshStack]]:
    """Both simulators with Mesh in front, started side by side once per session."""
    require_mesh()
    with mesh_over_simulators(("erp", "crm"), log_dir=tmp_path_factory.mktemp("mesh")) as started:
        crm = started["crm"]
        for name in CRM_ACCOUNT_NAMES:
            response = httpx.post(
                f"{crm.simulator.service_root}accounts",
                json={"name": name},
                headers={"Authorization": f"Bearer {crm.token}"},
                timeout=10,
            )
            assert response.status_code == 204, response.text
        yield started


@pytest.fixture
def erp_stack(stacks: dict[Kind, MeshStack]) -> MeshStack:
    return stacks["erp"]


@pytest.fixture
def crm_stack(stacks: dict[Kind, MeshStack]) -> MeshStack:
    return stacks["crm"]
