"""GATEWAY_LOOP_WATCH_SECONDS: `gateway run` (the app's lifespan) and `gateway worker` watch their
event loop and log a WARNING per stall; 0 starts no watch, and no watch thread outlives its process."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import pytest

from gateway.cli_worker import run_worker
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store import migrate
from gateway.sync.loop_watch import LoopWatch
from gateway.upstream.transport import in_process_transport
from tests.gateway_harness import harness_settings, running_gateway

WATCH_LOG = "gateway.sync.loop_watch"


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "loop watch"]


def block_until_noticed(watch: LoopWatch) -> None:
    """Holds the loop's thread (no await) until the watch has taken its stack, at most 30 s, and at
    least 0.6 s: three times the tests' 0.2 s threshold, however quickly the machine schedules."""
    started = time.monotonic()
    while (not watch.noticed or time.monotonic() - started < 0.6) and time.monotonic() - started < 30:
        time.sleep(0.02)


async def test_the_app_logs_a_stall_of_its_loop_once_and_stops_its_watch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=WATCH_LOG)
    before = set(watch_threads())
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db", loop_watch_seconds=0.2) as gw:
        watch = gw.app.state.loop_watch
        assert isinstance(watch, LoopWatch) and watch.threshold == 0.2
        assert set(watch_threads()) - before  # its thread runs while the app does
        block_until_noticed(watch)
        ticks = watch.ticks
        while watch.ticks < ticks + 2:  # noqa: ASYNC110  (the watch's task closes the stall on its next tick)
            await asyncio.sleep(0.05)
        assert (await gw.client.get("/healthz")).status_code == 200
    assert not set(watch_threads()) - before  # the lifespan stopped it
    ours = [s for s in watch.stalls if "block_until_noticed" in s.stack]
    assert len(ours) == 1, [s.stack for s in watch.stalls]
    assert ours[0].seconds >= 0.5  # 0.6 s held, less one 0.1 s tick
    logged = [r for r in caplog.records if r.name == WATCH_LOG and "block_until_noticed" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].levelno == logging.WARNING
    message = logged[0].getMessage()
    assert message.startswith(f"event loop stalled {ours[0].seconds:.2f} s")
    assert "test_the_app_logs_a_stall_of_its_loop_once" in message  # the whole stack follows


async def test_with_the_setting_0_the_app_starts_no_watch(tmp_path: Path) -> None:
    before = set(watch_threads())
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db", loop_watch_seconds=0) as gw:
        assert gw.app.state.loop_watch is None
        assert not set(watch_threads()) - before
        assert (await gw.client.get("/healthz")).status_code == 200


async def test_a_serving_worker_logs_a_stall_and_leaves_no_watch_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=WATCH_LOG)
    database_url = f"sqlite+aiosqlite:///{tmp_path}/worker.db"
    await asyncio.to_thread(migrate.upgrade, database_url)
    options = SimulatorOptions(customers=20, items=20)
    settings = harness_settings(database_url, options, worker_id="watched", loop_watch_seconds=0.2)
    upstreams = {
        "erp_transport": in_process_transport(create_erp_simulator(options)),
        "crm_transport": in_process_transport(create_crm_simulator(options)),
    }
    before = set(watch_threads())
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop=stop, **upstreams))
    async with asyncio.timeout(60):
        while not set(watch_threads()) - before:  # noqa: ASYNC110  (the worker starts it first)
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # the watch has stamped the loop
    time.sleep(0.6)  # noqa: ASYNC251  (holds the loop: 0.5 s late at least, more than the 0.2 s threshold)
    async with asyncio.timeout(60):
        while not [r for r in caplog.records if r.name == WATCH_LOG]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    stop.set()
    await task
    assert not set(watch_threads()) - before
    stalls = [r for r in caplog.records if r.name == WATCH_LOG]
    assert all(r.levelno == logging.WARNING for r in stalls)
    assert any(float(r.getMessage().split()[3]) >= 0.5 for r in stalls), [r.getMessage() for r in stalls]
