"""Session fixtures of the GraphQL Mesh suite: each simulator started once with Mesh in front of it.

The CRM's demo data has no account with quotes, an ampersand and an umlaut, so the fixture adds some.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.mesh.mesh_server import MeshStack, mesh_over_simulator, require_mesh

TRICKY_NAME = "O'Brien & Müller Interiors"
# Near misses a sloppy encoder would confuse with it (a '+' for the space, the & cut off, no umlaut).
CRM_ACCOUNT_NAMES = (TRICKY_NAME, "O'Brien & Müller Interiors GmbH", "O'Brien+&+Müller+Interiors", "O'Brien ")


@pytest.fixture(scope="session")
def erp_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshStack]:
    require_mesh()
    with mesh_over_simulator("erp", log_dir=tmp_path_factory.mktemp("mesh-erp")) as stack:
        yield stack


@pytest.fixture(scope="session")
def crm_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshStack]:
    require_mesh()
    with mesh_over_simulator("crm", log_dir=tmp_path_factory.mktemp("mesh-crm")) as stack:
        for name in CRM_ACCOUNT_NAMES:
            response = httpx.post(
                f"{stack.simulator.service_root}accounts",
                json={"name": name},
                headers={"Authorization": f"Bearer {stack.token}"},
                timeout=10,
            )
            assert response.status_code == 204, response.text
        yield stack
