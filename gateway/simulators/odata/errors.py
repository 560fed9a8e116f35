"""The one exception an OData handler raises to answer with ``{"error": {"code", "message"}}``.

Flavours pick the codes (BC's ``BadRequest_NotFound``, Dataverse's ``0x80040217`` and so on).
"""

from __future__ import annotations


class ODataError(Exception):
    """An error response: HTTP status, OData error code, message and extra headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}
