"""A watchdog for the event loop: notices when the loop has not ticked for longer than a threshold,
and reports where the loop's thread was at that moment and how long the stall lasted.

Why: everything time-bound in a worker (lease renewal every ttl/3, fence checks, upstream timeouts)
runs as tasks on one loop; a long synchronous section (reconciling 20,000 records, building mirror
rows) holds all of them back, and on a loaded machine a CPU section takes several times its CPU
time. The stack shows which section it was; the CPU time shows how much of the stall was ours.

    async with LoopWatch(threshold=1.0) as watch:   # a bench script, or the worker at DEBUG
        ...
    watch.stalls                                      # [Stall(seconds, cpu_seconds, stack), ...]

A task on the loop stamps `time.monotonic()` (and the loop thread's CPU clock) every `tick`
seconds; a daemon thread looks every `tick` seconds and, the first time the stamp is older than
`threshold`, takes the loop thread's stack. When the loop ticks again the task closes the stall:
its length, the CPU the loop's thread used meanwhile, and the stack, logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import greenlet  # SQLAlchemy's asyncio layer runs the ORM's synchronous code in greenlets

log = logging.getLogger(__name__)

_GATEWAY_DIR = str(Path(__file__).parents[1]) + "/"  # as the code objects name their files


@dataclass(frozen=True)
class Stall:
    """One period in which the loop did not tick for longer than the threshold."""

    seconds: float
    """From the last tick before it to the first tick after it, less one tick period."""
    cpu_seconds: float
    """CPU time the loop's thread used meanwhile: near `seconds` for a CPU-bound section on an idle
    machine, a fraction of it when the process waited for a CPU (or blocked in a system call)."""
    stack: str
    """The loop thread's stack when the stall was noticed ("" if it ended before the thread looked)."""

    def where(self, frames: int = 3) -> str:
        """The innermost `frames` frames in gateway/ (the section that held the loop), innermost
        last, as `sync/reconciling.py:123 plan > ...`: what an operator reads first."""
        found = [
            line.strip().removeprefix('File "').replace('", line ', ":").replace(", in ", " in ")
            for line in self.stack.splitlines()
            if line.startswith(f'  File "{_GATEWAY_DIR}') and "loop_watch.py" not in line
        ]
        return " > ".join(f.removeprefix(_GATEWAY_DIR) for f in found[-frames:]) or "(outside gateway/)"

    def describe(self) -> str:
        return (
            f"event loop stalled {self.seconds:.2f} s ({self.cpu_seconds:.2f} s CPU) in {self.where()};"
            f" the loop's stack:\n{self.stack}"
        )


class LoopWatch:
    """Start inside a running loop (`async with`, or `start()` / `await stop()`)."""

    def __init__(self, *, threshold: float = 1.0, tick: float = 0.1, logger: logging.Logger = log) -> None:
        if threshold <= tick:
            raise ValueError(f"the threshold ({threshold} s) must exceed the tick ({tick} s)")
        self.threshold = threshold
        self.tick = tick
        self.stalls: list[Stall] = []
        self.ticks = 0
        self._log = logger
        self._lock = threading.Lock()
        self._stamp = time.monotonic()
        self._stack = ""  # the stack of the stall in progress, taken by the thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop_thread = 0
        self._main_greenlet: Any = None

    @property
    def noticed(self) -> bool:
        """A stall is in progress and the thread has taken its stack."""
        with self._lock:
            return bool(self._stack)

    @property
    def max_stall(self) -> float:
        return max((s.seconds for s in self.stalls), default=0.0)

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("this LoopWatch is already running")
        self._loop_thread = threading.get_ident()
        self._main_greenlet = greenlet.getcurrent()
        self._stamp = time.monotonic()
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._stamping(), name="loop watch")
        self._thread = threading.Thread(target=self._watching, name="loop watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    async def __aenter__(self) -> LoopWatch:
        self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _stamping(self) -> None:
        cpu = time.thread_time()
        while True:
            await asyncio.sleep(self.tick)
            now, now_cpu = time.monotonic(), time.thread_time()
            with self._lock:
                late = now - self._stamp - self.tick
                stack, self._stack = self._stack, ""
                self._stamp = now
                self.ticks += 1
            if late > self.threshold:
                stall = Stall(seconds=late, cpu_seconds=now_cpu - cpu, stack=stack)
                self.stalls.append(stall)
                self._log.warning("%s", stall.describe())
            cpu = now_cpu

    def _watching(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if self._stack or time.monotonic() - self._stamp <= self.threshold + self.tick:
                    continue
                self._stack = self._loop_stack()

    def _loop_stack(self) -> str:
        """The loop thread's stack. While SQLAlchemy's asyncio layer runs synchronous ORM code (e.g.
        building 20,000 objects from a result) that code runs in a child greenlet whose frames end
        at the greenlet's start: the awaiting coroutines that called it are in the suspended main
        greenlet, so its frames come first."""
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return "(no frame)"
        suspended: FrameType | None = getattr(self._main_greenlet, "gr_frame", None)
        if suspended is None:
            return "".join(traceback.format_stack(frame))
        return (
            "".join(traceback.format_stack(suspended))
            + "  ... running in a greenlet:\n"
            + "".join(traceback.format_stack(frame))
        )


@contextlib.asynccontextmanager
async def watching_the_loop(threshold: float) -> AsyncIterator[LoopWatch | None]:
    """A long-running process's watch (GATEWAY_LOOP_WATCH_SECONDS): a WARNING per stall longer than
    `threshold`; 0 watches nothing (no task, no thread) and yields None."""
    if not threshold:
        yield None
        return
    async with LoopWatch(threshold=threshold) as watch:
        yield watch


__all__ = ["LoopWatch", "Stall", "watching_the_loop"]
