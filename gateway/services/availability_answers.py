"""What a caller of the availability service gets from its cached values: answers (in the unit asked
for, with their age and whether they are stale), or, when the ERP fails, the error that says how old
the last values are. A part of `AvailabilityService` (gateway.services.availability)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from gateway.domain import AvailabilityAnswer
from gateway.errors import AvailabilityUnavailable, UpstreamError
from gateway.services.availability_units import UnitLookup, in_unit, unit_code_of, unit_factors
from gateway.upstream.policy import within_budget

if TYPE_CHECKING:  # the cache entry stays where its pickles name it (gateway.services.availability)
    from gateway.services.availability import CachedAvailability


class AvailabilityAnswers:
    """Answers and errors from cached entries; the settings are AvailabilityService's."""

    _units: UnitLookup | None
    fresh_seconds: float
    max_stale_seconds: float
    deadline_seconds: float

    async def _answers(
        self,
        items: Sequence[str],
        entries: Mapping[str, CachedAvailability],
        *,
        unit: str | None,
        now: float,
    ) -> list[AvailabilityAnswer]:
        unit_code = None if unit is None else unit_code_of(unit)
        factors: Mapping[str, Decimal] = {}
        if unit_code is not None:
            rows = {item: entries[item].rows for item in items}
            try:
                # The unit table is an ERP read too (cached an hour): the same deadline as a fetch.
                async with within_budget(seconds=self.deadline_seconds):
                    factors = await unit_factors(self._units, rows=rows, unit_code=unit_code)
            except (UpstreamError, TimeoutError) as exc:
                ages: dict[str, float | None] = {
                    item: max(0.0, now - entries[item].fetched_at) for item in items
                }
                raise AvailabilityUnavailable(
                    f"the ERP's units of measure could not be read to answer in {unit_code} "
                    f"({type(exc).__name__}: {exc or 'no answer within the deadline'})",
                    ages=ages,
                    max_stale_seconds=self.max_stale_seconds,
                    service="erp",
                ) from exc
        answers = []
        for item in items:
            entry = entries[item]
            age = max(0.0, now - entry.fetched_at)
            as_of = datetime.fromtimestamp(entry.fetched_at, UTC)
            for row in entry.rows:
                if unit_code is not None:
                    row = in_unit(row, unit_code, factors.get(item, Decimal(1)))
                answers.append(
                    AvailabilityAnswer(
                        availability=row, as_of=as_of, age_seconds=age, stale=age >= self.fresh_seconds
                    )
                )
        return answers

    def _unavailable(
        self,
        failures: Mapping[str, UpstreamError],
        *,
        cached: Mapping[str, CachedAvailability | None],
        now: float,
    ) -> AvailabilityUnavailable:
        ages = {
            item: None if entry is None else max(0.0, now - entry.fetched_at)
            for item, entry in cached.items()
        }
        cause = next(iter(failures.values()))
        described = []
        for item, age in list(ages.items())[:5]:
            described.append(
                f"item {item}: no cached value" if age is None else f"item {item}: last value {age:.0f} s old"
            )
        more = f" and {len(ages) - 5} more" if len(ages) > 5 else ""
        message = (
            f"availability cannot be served ({'; '.join(described)}{more}; "
            f"values older than {self.max_stale_seconds:g} s are not served): "
            # The error built here names the service itself (its str ends "service=erp").
            f"the ERP failed: {type(cause).__name__}: {str(cause).removesuffix(' service=erp')}"
        )
        error = AvailabilityUnavailable(
            message, ages=ages, max_stale_seconds=self.max_stale_seconds, service="erp"
        )
        error.__cause__ = cause
        return error
