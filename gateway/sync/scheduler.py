"""The scheduler: runs every mapping-direction on its interval, each run under a lease with a fencing
generation, so any number of `gateway worker` processes on one database make one effective runner each.

One tick lists the schedule, reads the lease rows, and takes (with `acquire(only_if_due=True)`) every
lease that is free and due; each taken lease runs as a task with a `LeaseFence`, is renewed every
`renew_every` seconds while it runs, and is released with its next due time. The lease rows are the
cluster-wide schedule, so intervals hold across workers; `wake()` asks for a run now.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from gateway.errors import StaleLease
from gateway.store.engine import SessionFactory
from gateway.store.leases import (
    LeaseGrant,
    is_due,
    is_free,
    list_leases,
    release,
    request_run,
)
from gateway.store.types import utcnow
from gateway.sync.fencing import Fence, LeaseFence
from gateway.sync.leases import renew_grants
from gateway.sync.orphans import take_lease

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Runner(Protocol):
    """What the scheduler runs: the sync engine's `SyncEngine.run` has exactly this shape."""

    async def run(self, *, mapping: str, direction: str, job_type: str = "sync", fence: Fence) -> object: ...


@dataclass(frozen=True, slots=True)
class Scheduled:
    """One mapping-direction to run every `interval_seconds` (None: the scheduler's default)."""

    mapping: str
    direction: str
    interval_seconds: float | None = None

    @property
    def lease(self) -> str:
        return lease_name(self.mapping, self.direction)


ScheduleEntry = Scheduled | tuple[str, str, float | None]
ScheduleSource = Callable[[], Awaitable[Iterable[ScheduleEntry]] | Iterable[ScheduleEntry]]
"""Returns what to run now (enabled mappings with their intervals); called once per tick."""


def lease_name(mapping: str, direction: str) -> str:
    return f"{mapping}:{direction}"


def _entry(value: ScheduleEntry) -> Scheduled:
    return value if isinstance(value, Scheduled) else Scheduled(*value)


@dataclass(slots=True)
class _Run:
    item: Scheduled
    grant: LeaseGrant
    job_type: str
    task: asyncio.Task[None] | None = None
    lost: bool = False
    releasing: bool = False  # the run is over and its lease being handed back: nothing to renew


@dataclass(slots=True)
class SchedulerStats:
    """Counts since start, for tests, logs and the status endpoint."""

    started: int = 0
    succeeded: int = 0
    failed: int = 0
    """Runs that raised, or ended as a whole in error (their summary's status is error with a
    message: an upstream refused the token, a read failed), not those with failed records only."""
    lost: int = 0
    """Runs stopped because their lease was taken over or expired (StaleLease)."""
    cancelled: int = 0
    by_lease: dict[str, int] = field(default_factory=dict)


def _failed_as_a_whole(outcome: object) -> bool:
    """A run the engine ended itself: its RunSummary (or deletion check's) says error with a
    message; record-level failures leave the message empty."""
    return getattr(outcome, "status", None) == "error" and bool(getattr(outcome, "message", None))


class Scheduler:
    """Runs the schedule under leases. Drive it with `serve()` (until `stop()`), or step it with
    `tick()` / `renew()` / `drain()` under an injected clock in tests."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        runner: Runner,
        worker_id: str,
        schedule: ScheduleSource,
        clock: Clock = utcnow,
        interval_default: float = 30.0,
        lease_ttl: float = 15.0,
        renew_every: float | None = None,
        poll_seconds: float = 1.0,
        stop_grace_seconds: float = 30.0,
        max_runs: int | None = None,
    ) -> None:
        if lease_ttl <= 0 or interval_default < 0 or poll_seconds <= 0:
            raise ValueError("lease_ttl and poll_seconds must be positive, interval_default not negative")
        self.sessions = sessions
        self.runner = runner
        self.worker_id = worker_id
        self.schedule = schedule
        self.clock = clock
        self.interval_default = interval_default
        self.lease_ttl = lease_ttl
        # A third of the TTL leaves two renewals' worth of slack before a slow database costs the lease.
        self.renew_every = renew_every if renew_every is not None else lease_ttl / 3
        if not 0 < self.renew_every < lease_ttl:
            raise ValueError("renew_every must be positive and shorter than lease_ttl")
        self.poll_seconds = poll_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.max_runs = max_runs
        self.stats = SchedulerStats()
        self._runs: dict[str, _Run] = {}
        self._woken: dict[str, str] = {}  # lease name -> job type asked for
        self._wake_event = asyncio.Event()
        self._stopping = False

    def __repr__(self) -> str:
        return f"Scheduler(worker_id={self.worker_id!r}, running={sorted(self._runs)})"

    # ------------------------------------------------------------------------------------ state

    @property
    def running(self) -> list[str]:
        """Lease names this worker is running now."""
        return sorted(self._runs)

    def wake(self, mapping: str, direction: str, *, job_type: str = "sync") -> None:
        """Run `mapping`/`direction` as soon as possible (a webhook or change feed saw a change).

        The request is written to the lease row on the next tick, so whichever worker is free takes
        it; a run in progress is followed by another one, which reads what the first may have missed.
        """
        self._woken[lease_name(mapping, direction)] = job_type
        self._wake_event.set()

    # ------------------------------------------------------------------------------------ steps

    async def _schedule(self) -> list[Scheduled]:
        produced = self.schedule()
        entries = await produced if inspect.isawaitable(produced) else produced
        return [_entry(e) for e in entries]

    async def tick(self) -> list[str]:
        """Take every free, due lease of the schedule and start its run; returns the leases started."""
        if self._stopping:
            return []
        items = {item.lease: item for item in await self._schedule()}
        now = self.clock()
        # Taken in one step: a wake arriving while this tick awaits the store stays for the next tick
        # (clearing after the awaits lost such wakes: a webhook's change then waited for the interval).
        asked, self._woken = self._woken, {}
        woken = {name: kind for name, kind in asked.items() if name in items}  # else: no longer scheduled
        try:
            async with self.sessions.begin() as session:
                for name in woken:
                    await request_run(session, name=name, now=now)
                rows = {lease.name: lease for lease in await list_leases(session, names=list(items))}
        except Exception:
            for name, kind in woken.items():  # not recorded: ask again next tick
                self._woken.setdefault(name, kind)
            raise
        started: list[str] = []
        for name, item in items.items():
            if name in self._runs:
                continue
            if self.max_runs is not None and len(self._runs) >= self.max_runs:
                break  # leave the rest to other workers (or to the next tick)
            row = rows.get(name)
            if row is not None and not (is_free(row, now=now) and is_due(row, now=now)):
                continue  # held elsewhere, or not due: skip the write a doomed acquire would cost
            async with self.sessions.begin() as session:
                # Jobs a dead (or restarted) holder left running are marked abandoned as we take over.
                grant = await take_lease(
                    session, name=name, holder=self.worker_id, ttl=self.lease_ttl, now=now, only_if_due=True
                )
            if grant is None:
                continue  # another worker got there first
            self._start(item, grant, woken.get(name, "sync"))
            started.append(name)
        return started

    def _start(self, item: Scheduled, grant: LeaseGrant, job_type: str) -> None:
        run = _Run(item=item, grant=grant, job_type=job_type)
        self._runs[grant.name] = run
        self.stats.started += 1
        self.stats.by_lease[grant.name] = self.stats.by_lease.get(grant.name, 0) + 1
        run.task = asyncio.create_task(self._execute(run), name=f"sync {grant.name} g{grant.generation}")
        # A task cancelled before it ever ran skips _execute's cleanup; forget it here too.
        run.task.add_done_callback(lambda _task: self._forget(run))
        # Routine runs are DEBUG: with a 2 s change-tracking poll (the demo) INFO would be two lines a
        # second; each run has its job row anyway.
        level = logging.DEBUG if job_type == "sync" else logging.INFO
        log.log(
            level, "%s runs %s (generation %d, %s)", self.worker_id, grant.name, grant.generation, job_type
        )

    async def _execute(self, run: _Run) -> None:
        item, grant = run.item, run.grant
        fence = LeaseFence(grant.name, grant.generation, clock=self.clock, ttl=self.lease_ttl)
        try:
            outcome = await self.runner.run(
                mapping=item.mapping, direction=item.direction, job_type=run.job_type, fence=fence
            )
            if _failed_as_a_whole(outcome):
                self.stats.failed += 1
            else:
                self.stats.succeeded += 1
        except StaleLease as exc:
            self.stats.lost += 1
            log.warning("%s lost %s mid-run: %s", self.worker_id, grant.name, exc)
        except asyncio.CancelledError:
            if not run.lost:
                self.stats.cancelled += 1
                raise
            self.stats.lost += 1
        except Exception:  # the run's own job row records the details; the schedule goes on
            self.stats.failed += 1
            log.exception("%s: run of %s failed", self.worker_id, grant.name)
        finally:
            # Shielded: a cancelled run must still hand its lease back, or others wait out the TTL.
            await asyncio.shield(self._release(run))

    async def _release(self, run: _Run) -> None:
        run.releasing = True
        try:
            if not run.lost:
                await self._give_back(run)
        finally:
            # Forgotten only after the release committed: a tick in between must not re-take it as ours.
            self._forget(run)

    def _forget(self, run: _Run) -> None:
        if self._runs.get(run.grant.name) is run:
            del self._runs[run.grant.name]
        self._wake_event.set()  # a stopping serve() may be waiting for the last run

    async def _give_back(self, run: _Run) -> None:
        interval = self.interval_default if run.item.interval_seconds is None else run.item.interval_seconds
        # A busy database (SQLite under a long write) may refuse once; a lease not handed back makes
        # every worker wait out its TTL, so try a few times before leaving it to expire.
        for attempt, pause in enumerate((0.1, 0.5, 0.0)):
            now = self.clock()
            try:
                async with self.sessions.begin() as session:
                    await release(
                        session,
                        name=run.grant.name,
                        holder=self.worker_id,
                        generation=run.grant.generation,
                        next_due_at=now + timedelta(seconds=interval),
                        now=now,
                    )
                return
            except Exception:
                log.warning(
                    "%s: could not release %s (attempt %d)",
                    self.worker_id,
                    run.grant.name,
                    attempt + 1,
                    exc_info=True,
                )
                await asyncio.sleep(pause)

    async def renew(self) -> None:
        """Extend every lease this worker runs under (one transaction, `renew_grants`); a lease found
        lost cancels its run."""
        runs = {run.grant.name: run for run in self._runs.values() if not (run.lost or run.releasing)}
        try:
            lost = await renew_grants(
                self.sessions,
                [run.grant for run in runs.values()],
                holder=self.worker_id,
                ttl=self.lease_ttl,
                clock=self.clock,
            )
        except Exception:  # a database hiccup: try again next time, the TTL leaves room for two misses
            log.exception("%s: could not renew %s", self.worker_id, ", ".join(runs))
            return
        for name in lost:
            run = runs[name]
            if run.releasing:  # it handed the lease back while we renewed: not lost, just done
                continue
            # Someone else runs it now: stop wasting upstream calls (the fence refuses our writes anyway).
            run.lost = True
            log.warning("%s: lease %s lost; cancelling its run", self.worker_id, name)
            if run.task is not None:
                run.task.cancel()

    async def run_once(self) -> list[str]:
        """One tick, then wait for its runs, renewing their leases meanwhile (`gateway worker --once`)."""
        started = await self.tick()
        while self._runs:
            tasks = [run.task for run in self._runs.values() if run.task is not None]
            await asyncio.wait(tasks, timeout=self.renew_every)
            if self._runs:
                await self.renew()
        return started

    async def drain(self) -> None:
        """Wait until every run started so far has finished (tests, graceful stop)."""
        while self._runs:
            tasks = [run.task for run in self._runs.values() if run.task is not None]
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------------------------- loop

    async def serve(self) -> None:
        """Tick every `poll_seconds` (or at once on `wake`), renew every `renew_every`, until `stop()`;
        then let running runs finish for up to `stop_grace_seconds` (still renewing), cancel the rest."""
        loop = asyncio.get_running_loop()
        next_renew = loop.time() + self.renew_every
        stop_deadline: float | None = None
        while True:
            # Cleared before the tick, not after it: a wake (or a finished run) during the tick loops again.
            self._wake_event.clear()
            if self._stopping:
                if stop_deadline is None:
                    stop_deadline = loop.time() + self.stop_grace_seconds
                if not self._runs:
                    return
                if loop.time() >= stop_deadline:
                    await self._cancel_all()
                    return
            else:
                try:
                    await self.tick()
                except Exception:  # the database may be down for a moment; the next tick tries again
                    log.exception("%s: scheduler tick failed", self.worker_id)
            if loop.time() >= next_renew:
                await self.renew()
                next_renew = loop.time() + self.renew_every
            timeout = max(0.0, min(self.poll_seconds, next_renew - loop.time()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake_event.wait()

    def stop(self) -> None:
        """Stop taking new runs; `serve()` returns once the running ones are done (or the grace ends)."""
        self._stopping = True
        self._wake_event.set()

    async def _cancel_all(self) -> None:
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop and cancel whatever still runs (leases are released): for lifespans and tests."""
        self._stopping = True
        await self._cancel_all()


async def request_sync(
    sessions: SessionFactory, *, mapping: str, direction: str, now: datetime | None = None
) -> None:
    """Ask the workers (in any process) to run `mapping`/`direction` now: for a web process that
    receives a webhook but runs no scheduler itself."""
    async with sessions.begin() as session:
        await request_run(session, name=lease_name(mapping, direction), now=now or utcnow())


__all__ = [
    "Runner",
    "ScheduleSource",
    "Scheduled",
    "Scheduler",
    "SchedulerStats",
    "lease_name",
    "request_sync",
]
