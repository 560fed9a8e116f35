"""Options shared by the Business Central and Dataverse simulators.

One frozen dataclass; ``None`` in a limit means "the real service's number" (see each flavour).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SimulatorOptions:
    """How big the demo data is, who may log in, and how hard the service pushes back."""

    seed: int = 42
    customers: int = 60
    items: int = 40
    tenant: str = "demo"
    environment: str = "production"
    client_id: str = "gateway-demo"
    client_secret: str = "demo-secret"  # noqa: S105 -- the documented demo credential
    token_lifetime_seconds: int = 3599
    rate_limit_requests: int | None = None
    rate_limit_window_seconds: float = 300.0
    max_concurrency: int | None = None
    max_page_size: int | None = None
    # BC queues requests beyond max_concurrency up to this many (None = 95); Dataverse has no queue.
    queue_size: int | None = None
    # Extra rows per entity set appended after the demo data (tests use it for big paging runs):
    # {"customers": 100_000} adds generated customers with deterministic ids.
    bulk_rows: dict[str, int] = field(default_factory=dict, hash=False)
    # Seconds since the epoch; tests replace it to expire tokens or slide windows without sleeping.
    clock: Callable[[], float] = field(default=time.time, hash=False)
    # A DemoData-like object (``.erp`` / ``.crm`` dicts of rows) to load instead of calling
    # ``demo_data.generate``; tests pass small fixtures this way.
    demo_data: Any = field(default=None, hash=False)
    # More clients allowed to get tokens ({client_id: secret}); limits are counted per client.
    extra_clients: dict[str, str] = field(default_factory=dict, hash=False)
    # BC webhooks: seconds BC waits after a change before notifying (the real service ~30), and the
    # httpx transport notifications and handshakes go through (None = the network).
    webhook_delay_seconds: float = 30.0
    webhook_transport: Any = field(default=None, hash=False)
    # More changes than this in one delivery become a single "collection" notice (BC: 1,000).
    webhook_collection_threshold: int = 1_000
    # Absolute URL prefix used in @odata.context/nextLink; None = taken from each request.
    public_base_url: str | None = None
