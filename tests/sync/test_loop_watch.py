"""The event-loop watchdog: a section that holds the loop is reported once, with its stack."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.util import greenlet_spawn

import gateway
from gateway.sync.loop_watch import LoopWatch, Stall


def hold_the_loop(watch: LoopWatch) -> int:
    """Blocks the loop's thread (no await) until the watchdog has seen it, at most 30 s: then the
    test does not depend on how quickly a loaded machine schedules the watchdog's thread."""
    naps = 0
    deadline = time.monotonic() + 30
    while not watch.noticed and time.monotonic() < deadline:
        time.sleep(0.02)
        naps += 1
    return naps


async def test_a_blocked_loop_is_reported_once_with_the_blocking_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.sync.loop_watch")
    async with LoopWatch(threshold=0.3, tick=0.05) as watch:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        hold_the_loop(watch)
        held = time.monotonic() - started
        await asyncio.sleep(0.2)  # the stamping task ticks again and closes the stall
    assert watch.noticed is False
    blocking = [s for s in watch.stalls if "hold_the_loop" in s.stack]
    assert len(blocking) == 1, [s.stack for s in watch.stalls]
    stall = blocking[0]
    assert "test_a_blocked_loop_is_reported_once" in stall.stack
    assert stall.seconds >= held - 0.05  # from the last tick before the block to the first after
    assert stall.seconds > watch.threshold
    assert stall.cpu_seconds < stall.seconds  # it slept: the loop's thread used little CPU
    logged = [r for r in caplog.records if "hold_the_loop" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].getMessage().startswith(f"event loop stalled {stall.seconds:.2f} s")
    assert watch.max_stall >= stall.seconds


async def awaiting_orm_like_code(watch: LoopWatch) -> int:
    return await greenlet_spawn(hold_the_loop, watch)


async def test_a_block_in_sqlalchemys_greenlet_names_the_coroutine_that_awaited_it() -> None:
    """The ORM's synchronous part (building objects from rows) runs in a greenlet whose own frames
    end at its start: the stack must still show which of our coroutines awaited it."""
    async with LoopWatch(threshold=0.3, tick=0.05) as watch:
        await asyncio.sleep(0.1)
        await awaiting_orm_like_code(watch)
        await asyncio.sleep(0.2)
    [stall] = [s for s in watch.stalls if "hold_the_loop" in s.stack]
    awaited, running = stall.stack.split("... running in a greenlet:")
    assert "awaiting_orm_like_code" in awaited
    assert "test_a_block_in_sqlalchemys_greenlet" in awaited
    assert "hold_the_loop" in running


async def test_the_watchdog_thread_ends_with_the_block() -> None:
    before = {t.ident for t in threading.enumerate()}
    async with LoopWatch(threshold=0.5, tick=0.05) as watch:
        assert [t for t in threading.enumerate() if t.name == "loop watch" and t.ident not in before]
        await asyncio.sleep(0.2)
    assert watch.ticks >= 1
    assert not [t for t in threading.enumerate() if t.name == "loop watch" and t.ident not in before]


def test_a_threshold_within_one_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="must exceed the tick"):
        LoopWatch(threshold=0.1, tick=0.1)


def test_a_stall_names_its_innermost_gateway_frames_first() -> None:
    gateway_dir = Path(gateway.__file__).parent
    stack = "".join(
        f'  File "{path}", line {line}, in {name}\n    code\n'
        for path, line, name in [
            ("/usr/lib/python3/asyncio/events.py", 80, "_run"),
            (gateway_dir / "sync" / "runs.py", 198, "run"),
            (gateway_dir / "sync" / "reconciling.py", 37, "load"),
            (gateway_dir / "store" / "paced.py", 12, "rows"),
            (gateway_dir / "store" / "sync_state.py", 23, "mapping_couplings"),
            ("/venv/site-packages/sqlalchemy/orm/loading.py", 5, "instances"),
            (gateway_dir / "sync" / "loop_watch.py", 140, "_watching"),
        ]
    )
    stall = Stall(seconds=6.2, cpu_seconds=0.4, stack=stack)
    assert stall.where() == (
        "sync/reconciling.py:37 in load > store/paced.py:12 in rows"
        " > store/sync_state.py:23 in mapping_couplings"
    )
    assert stall.describe().startswith(f"event loop stalled 6.20 s (0.40 s CPU) in {stall.where()};")
    assert stall.describe().endswith(stack)
    assert Stall(seconds=2, cpu_seconds=0, stack="").where() == "(outside gateway/)"
