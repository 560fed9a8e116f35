"""How a local `gateway` command ends and logs: an expected error (a wrong setting, an unmigrated
store) becomes one line on stderr and an exit code, never a traceback; log lines follow GATEWAY_LOG_LEVEL."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from gateway.errors import ConfigurationError, GatewayError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG = 2


def friendly_errors(func: F) -> F:
    """Configuration and other expected errors end the command with one line, not a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"gateway: configuration error: {exc.setting}: {exc.problem}", err=True)
            sys.exit(EXIT_CONFIG)
        except GatewayError as exc:
            click.echo(f"gateway: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosqlite logs every operation of every connection at DEBUG (tens of thousands of lines a minute
    # in the demo, and the CPU to write them): at DEBUG the gateway's own lines are what one wants.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    if level != "DEBUG":
        # One line per upstream request (httpx) and per migration step (alembic) is debugging detail;
        # our own client logs retries and failures.
        for noisy in ("httpx", "httpcore", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
