"""Seeded fault injection for API requests: 429, 503, slow answers and connections dropped mid-response.

The same seed and rate give the same sequence of faults, so tests can count them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("429", "503", "timeout", "drop")


@dataclass
class FaultConfig:
    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    timeout_seconds: float = 5.0
    retry_after_seconds: int = 1


@dataclass
class FaultInjector:
    config: FaultConfig = field(default_factory=FaultConfig)
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)

    def configure(self, payload: dict[str, Any]) -> FaultConfig:
        """Apply a ``/_sim/faults`` body; raises ValueError on nonsense so the caller can answer 400."""
        rate = float(payload.get("rate", 0.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        kinds = tuple(str(k) for k in payload.get("kinds", FAULT_KINDS))
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {list(FAULT_KINDS)}")
        self.config = FaultConfig(
            rate=rate,
            seed=int(payload.get("seed", 0)),
            kinds=kinds,
            timeout_seconds=float(payload.get("timeoutSeconds", 5.0)),
            retry_after_seconds=int(payload.get("retryAfterSeconds", 1)),
        )
        self._rng = random.Random(self.config.seed)
        self.injected = {}
        return self.config

    def pick(self) -> str | None:
        if self.config.rate <= 0:
            return None
        # Two draws every time keep the sequence independent of which kinds are enabled.
        hit = self._rng.random() < self.config.rate
        kind = self.config.kinds[self._rng.randrange(len(self.config.kinds))]
        if not hit:
            return None
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.config.rate,
            "seed": self.config.seed,
            "kinds": list(self.config.kinds),
            "timeoutSeconds": self.config.timeout_seconds,
            "retryAfterSeconds": self.config.retry_after_seconds,
            "injected": dict(self.injected),
        }
