"""Shared helpers of the demo data: one seeded random stream per section, GUIDs and timestamps drawn
from it, the fixed calendar of the demo world, and money rounding."""

from __future__ import annotations

import functools
import random
from datetime import date, timedelta
from typing import Any, TypeVar

LOCAL_CURRENCY = "USD"
NIL_GUID = "00000000-0000-0000-0000-000000000000"
# Business Central returns a blank Date field as 0001-01-01, never null; the demo does the same.
BLANK_DATE = "0001-01-01"
# "Today" in the demo world: date windows, order dates and open quantities are built around it, and
# fixing it (instead of reading the clock) keeps the data identical from run to run.
REFERENCE_DATE = date(2026, 11, 20)

T = TypeVar("T")

_VARIANT_MASK = ~(0xC000 << 48) & ((1 << 128) - 1)
_VERSION_MASK = ~(0xF000 << 64) & ((1 << 128) - 1)


class Stream:
    """A random stream for one section of the data, seeded from (seed, label).

    Sections draw from their own streams so that adding rows to one set does not reshuffle the others.
    `random.Random` hashes a str seed with SHA-512, so the stream is the same in every process.
    """

    def __init__(self, seed: int, label: str) -> None:
        self.rng = random.Random(f"{seed}/{label}")

    def guid(self) -> str:
        """A version-4 GUID string, lowercase, drawn from the stream."""
        n = (self.rng.getrandbits(128) & _VARIANT_MASK & _VERSION_MASK) | (0x8000 << 48) | (0x4000 << 64)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def stamps(self, n: int, start: date, end: date) -> list[str]:
        """`n` distinct UTC timestamps ("YYYY-MM-DDTHH:MM:SSZ") between two dates, in random order."""
        span = (end - start).days * 86400
        if n > span:
            raise ValueError("time window too small for distinct timestamps")
        days = [(start + timedelta(days=k)).isoformat() + "T" for k in range((end - start).days)]
        clock = _clock()
        # Two table look-ups per stamp: formatting each one with strftime dominated large sets.
        return [days[t // 86400] + clock[t % 86400] for t in self.rng.sample(range(span), n)]

    def stamp(self, start: date, end: date) -> str:
        """One UTC timestamp between two dates."""
        return self.stamps(1, start, end)[0]


@functools.cache
def _clock() -> list[str]:
    """ "HH:MM:SSZ" for every second of a day."""
    return [f"{h:02d}:{m:02d}:{sec:02d}Z" for h in range(24) for m in range(60) for sec in range(60)]


def day(offset: int) -> str:
    """The ISO date `offset` days from the demo's reference date."""
    return (REFERENCE_DATE + timedelta(days=offset)).isoformat()


def money(value: float) -> float:
    """Round to the 0.01 amount precision (half away from zero on the decimal value)."""
    return round(value + (1e-9 if value >= 0 else -1e-9), 2)


Row = dict[str, Any]
"""One entity as the simulators serve it: JSON-ready values under the upstream's property names."""


def quota(rng: random.Random, n: int, shares: dict[T, float], default: T) -> list[T]:
    """`n` values in random order: each key of `shares` on about that share of them (at least once when
    `n` allows, so every case exists even in small data), `default` on the rest."""
    counts = [(value, max(1, round(n * share))) for value, share in shares.items()]
    # Sampling the positions of the few non-default values is much cheaper than shuffling all n.
    positions = iter(rng.sample(range(n), min(n, sum(count for _, count in counts))))
    values = [default] * n
    for value, count in counts:
        for _, position in zip(range(count), positions, strict=False):
            values[position] = value
    return values


def pick(rng: random.Random, n: int, share: float) -> set[int]:
    """About `share` of the indexes 0..n-1 (at least one), chosen at random."""
    return set(rng.sample(range(n), min(n, max(1, round(n * share)))))
