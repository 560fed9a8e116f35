"""The gateway's exception tree: every failure above `gateway.upstream` is one of these.

    GatewayError
    ├── ConfigurationError            a setting is missing or wrong; `setting` names it
    ├── UpstreamError                 anything that went wrong talking to ERP or CRM
    │   ├── RetriableUpstreamError    worth trying again: timeouts, 429, 502/503/504, dropped connections
    │   │   ├── UpstreamTimeout
    │   │   ├── UpstreamUnavailable   503/502/504 and connection failures
    │   │   │   └── CircuitOpen       not called at all: the breaker is open after repeated failures
    │   │   └── UpstreamThrottled     429; `retry_after` in seconds when the service said so
    │   └── FatalUpstreamError        retrying will not help: 4xx with the service's OData error code
    │       ├── UpstreamAuthError     401/403, or the token endpoint refused the credentials
    │       ├── UpstreamNotFound      404
    │       ├── PreconditionFailed    412: the ETag in If-Match is stale
    │       ├── UpstreamBadRequest    400 (and other 4xx): the request itself is wrong
    │       └── UpstreamProtocolError the answer is not what the protocol promises (garbage JSON, …)
    │   └── AvailabilityUnavailable live availability failed and no cached value is young enough
    ├── RecordError                   one record cannot be processed; the run goes on
    │   └── MissingDependency         a lookup needs a coupling that does not exist (names it)
    ├── StoreError                    the coupling store refused an operation
    │   ├── StaleLease                a writer's fencing generation is no longer current
    │   └── DuplicateCoupling         the record is already coupled in that mapping (`side`, `record_id`)
    ├── NotFound                      a client asked for something that does not exist
    ├── Busy                          another run holds what the operation needs (409, Retry-After)
    ├── NotSynchronized               the store does not hold yet what the request needs (503)
    ├── InvalidInput                  a client's request is malformed (bad filter, bad payload)
    └── PermissionDenied              the caller's role does not allow the operation

Classify by class, never by message: retry loops catch `RetriableUpstreamError`, a sync run catches
`RecordError` per record, the web layer maps `InvalidInput`/`NotFound`/`PermissionDenied` to 4xx.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigurationError(GatewayError):
    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class UpstreamError(GatewayError):
    """A failure talking to an upstream service (`service` is "erp" or "crm")."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.method = method
        self.url = url
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else type(self).__name__]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.service:
            parts.append(f"service={self.service}")
        return " ".join(str(p) for p in parts)


class RetriableUpstreamError(UpstreamError):
    """Worth retrying after a pause."""


class UpstreamTimeout(RetriableUpstreamError):
    pass


class UpstreamUnavailable(RetriableUpstreamError):
    pass


class CircuitOpen(UpstreamUnavailable):
    """The call was not made: the circuit breaker is open; `retry_in` seconds until the next probe."""

    def __init__(self, message: str, *, retry_in: float = 0.0, **kwargs: object) -> None:
        self.retry_in = retry_in
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class UpstreamThrottled(RetriableUpstreamError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class FatalUpstreamError(UpstreamError):
    """Retrying the same request will not help."""


class UpstreamAuthError(FatalUpstreamError):
    pass


class UpstreamNotFound(FatalUpstreamError):
    pass


class PreconditionFailed(FatalUpstreamError):
    """412: the record changed since the ETag we sent was read."""


class UpstreamBadRequest(FatalUpstreamError):
    pass


class UpstreamProtocolError(FatalUpstreamError):
    """The upstream answered something that is not valid for the protocol (garbage, wrong shape)."""


class AvailabilityUnavailable(UpstreamError):
    """Live availability could not be fetched and no cached value is within the allowed age.

    `ages` maps each affected item number to the age in seconds of its last value (None: never
    fetched or long forgotten); `max_stale_seconds` is the limit; `__cause__` is the upstream failure.
    """

    def __init__(
        self,
        message: str,
        *,
        ages: dict[str, float | None],
        max_stale_seconds: float,
        **kwargs: object,
    ) -> None:
        self.ages = ages
        self.max_stale_seconds = max_stale_seconds
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class RecordError(GatewayError):
    """One record failed; the job records it and goes on."""


class MissingDependency(RecordError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class StoreError(GatewayError):
    pass


class StoreUnavailable(StoreError):
    """The store cannot be connected to (server down, unknown database or role, bad host)."""


class StaleLease(StoreError):
    """The lease this writer held has been taken over; its writes are refused."""


class DuplicateCoupling(StoreError):
    """A coupling would pair a record that is already coupled within the same mapping."""

    def __init__(self, message: str, *, mapping: str, side: str, record_id: str) -> None:
        self.mapping = mapping
        self.side = side
        self.record_id = record_id
        super().__init__(message)


class NotFound(GatewayError):
    pass


class Busy(GatewayError):
    """The operation needs something another run holds right now (e.g. a mapping's lease);
    `retry_after` says when trying again makes sense."""

    def __init__(self, message: str, *, retry_after: float = 5.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NotSynchronized(GatewayError):
    """The store does not hold yet what the request needs: the sync has not read it from upstream
    (the read path never asks upstream instead); the message says which run brings it."""


class InvalidInput(GatewayError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class PermissionDenied(GatewayError):
    pass
