"""Single flight across real gateway processes: four Python processes, each with its own
AvailabilityService on the shared Redis, ask for the same cold items 250 times each at once; the
Business Central simulator (uvicorn on a loopback port) must see one availability request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.cache import create_cache
from gateway.config import load_settings
from gateway.simulators import SimulatorOptions, create_erp_simulator
from gateway.upstream.factory import build_erp_connector
from gateway.upstream.transport import in_process_transport

PROCESSES = 4
REQUESTS_EACH = 250

# One gateway process: connector over the network, the shared Redis cache, the service; it says
# "ready" once warmed up (token, company) and fires its requests when the test writes a line.
WORKER = """
import asyncio, json, sys
from gateway.cache import create_cache
from gateway.config import load_settings
from gateway.services.availability import AvailabilityService
from gateway.upstream.factory import build_erp_connector

async def main(root, redis_url, namespace, items, requests):
    settings = load_settings(
        erp_base_url=root, erp_tenant="demo", erp_environment="production",
        erp_token_url=root + "/demo/oauth2/v2.0/token", erp_client_id="gateway-demo",
        erp_client_secret="demo-secret", upstream_max_retries=0,
    )
    erp = build_erp_connector(settings)
    await erp.company_id()
    cache = create_cache(redis_url, namespace=namespace)
    service = AvailabilityService(source=erp, cache=cache, poll_seconds=0.01)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    answers = await asyncio.gather(*(service.get(items) for _ in range(requests)))
    print(json.dumps({"answers": len(answers), "rows": sorted({len(a) for a in answers})}), flush=True)
    await service.aclose()
    await cache.close()
    await erp.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])))
"""


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # pytest keeps its own signal handling


@pytest.fixture
async def served_erp() -> AsyncIterator[tuple[str, Any]]:
    app = create_erp_simulator(SimulatorOptions(items=20, seed=7))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "the simulator did not start"
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    await task
    sock.close()


async def availability_requests(app: Any) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://erp.sim") as c:
        stats = (await c.get("/_sim/stats")).json()
    return int(stats["byEntitySet"].get("itemAvailabilities", 0))


async def item_numbers(app: Any, root: str) -> list[str]:
    settings = load_settings(
        erp_base_url="http://erp.sim",
        erp_tenant="demo",
        erp_environment="production",
        erp_token_url="http://erp.sim/demo/oauth2/v2.0/token",
        erp_client_id="gateway-demo",
        erp_client_secret="demo-secret",
    )
    erp = build_erp_connector(settings, transport=in_process_transport(app))
    numbers: list[str] = []
    async for page in erp.items():
        numbers.extend(item.number for item in page)
    await erp.aclose()
    return numbers


@pytest.mark.redis
@pytest.mark.slow
async def test_gateway_processes_sharing_redis_make_one_upstream_call(
    served_erp: tuple[str, Any], redis_url: str
) -> None:
    root, app = served_erp
    namespace = f"test-availability-procs-{uuid.uuid4().hex[:12]}"
    # Two items: the simulator cannot parse a one-value `in` list (see test_availability_erp.py).
    items = ",".join((await item_numbers(app, root))[:2])
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            root,
            redis_url,
            namespace,
            items,
            str(REQUESTS_EACH),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), timeout=120)
            assert line.strip() == b"ready", line
        before = await availability_requests(app)
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        results = []
        for worker in workers:
            stdout, stderr = await asyncio.wait_for(worker.communicate(), timeout=120)
            assert worker.returncode == 0, stderr.decode()
            results.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        cache = create_cache(redis_url, namespace=namespace)
        await cache.clear(namespace=namespace)
        await cache.close()
    assert before == 0
    assert await availability_requests(app) == 1
    assert all(r["answers"] == REQUESTS_EACH for r in results)
    assert len({tuple(r["rows"]) for r in results}) == 1 and results[0]["rows"][0] > 0
