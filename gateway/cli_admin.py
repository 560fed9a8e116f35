"""The HTTP client the admin commands of `gateway` (`sync`, `couple`, `errors`) share: they talk to a
RUNNING gateway's `/api/v1/admin/` endpoints with an admin key, and print what it answers, one line per row.

Connection failures and refused keys end the command with one line (exit 1), never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click
import httpx

F = TypeVar("F", bound=Callable[..., Any])

ADMIN = "/api/v1/admin"


class AdminError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"gateway: {self.message}", err=True)


@dataclass
class AdminClient:
    """A thin HTTP client of the admin endpoints: problem+json answers become one-line errors."""

    url: str
    key: str | None
    timeout: float = 120.0

    def request(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        if not self.key:
            raise AdminError("an admin key is needed: --key or GATEWAY_ADMIN_KEY")
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = httpx.request(
                method,
                f"{self.url.rstrip('/')}{ADMIN}{path}",
                json=body,
                params=query,
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException:
            raise AdminError(f"the gateway at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise AdminError(f"cannot reach the gateway at {self.url} ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise AdminError(f"the gateway refused the key ({response.status_code}): {_detail(response)}")
        if response.status_code >= 400:
            raise AdminError(f"{method} {path} failed ({response.status_code}): {_detail(response)}")
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
        return f"{detail} (field: {body['field']})" if body.get("field") else detail
    return str(body)[:200]


def client_options(func: F) -> F:
    """--url and --key on an admin command, which receives the AdminClient they make as first argument."""

    @click.option(
        "--url",
        envvar="GATEWAY_URL",
        default=None,
        help="The running gateway's base URL [GATEWAY_URL, else http://GATEWAY_HOST:GATEWAY_PORT,"
        " default http://127.0.0.1:8000].",
    )
    @click.option(
        "--key", envvar="GATEWAY_ADMIN_KEY", default=None, help="An admin API key [GATEWAY_ADMIN_KEY]."
    )
    @wraps(func)
    def wrapper(*args: Any, url: str | None, key: str | None, **kwargs: Any) -> Any:
        return func(AdminClient(_checked_url(url) if url else _default_url(), key), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _checked_url(url: str) -> str:
    """`--url 127.0.0.1:8700` would fail as "UnsupportedProtocol": say what is missing instead."""
    if not url.lower().startswith(("http://", "https://")):
        raise AdminError(
            f"the gateway URL {url!r} (--url or GATEWAY_URL) must start with http:// or https:// (e.g. http://{url})"
        )
    return url


def _default_url() -> str:
    """The gateway this shell's settings start (`GATEWAY_PORT=8700 make run`, then `gateway sync
    status` in the same environment reaches it)."""
    host = os.environ.get("GATEWAY_HOST") or "127.0.0.1"
    port = os.environ.get("GATEWAY_PORT") or "8000"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def fail(message: str) -> NoReturn:
    """End the command with one line (a usage mistake the options cannot express)."""
    raise AdminError(message)


def print_table(rows: Iterable[Iterable[Any]]) -> None:
    """One tab-separated line a row; an empty value shows as `-` so the columns stay countable."""
    for row in rows:
        click.echo("\t".join("-" if v is None or v == "" else str(v) for v in row))
