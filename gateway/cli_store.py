"""The commands that work on the store directly, without a running gateway: `gateway db` (migrations)
and `gateway keys` (API keys, stored hashed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import click

from gateway.cli_output import friendly_errors
from gateway.config import Settings, load_settings
from gateway.errors import GatewayError


@click.group()
def db() -> None:
    """The coupling store."""


@db.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply every migration not yet applied (GATEWAY_DATABASE_URL)."""
    from gateway.store import migrate

    settings = load_settings()
    migrate.upgrade(settings.database_url)
    click.echo(f"database at revision {migrate.current_revision(settings.database_url)}")


@db.command("current")
@friendly_errors
def db_current() -> None:
    """Print the database's migration revision."""
    from gateway.store import migrate

    click.echo(migrate.current_revision(load_settings().database_url) or "empty")


# --------------------------------------------------------------------------------------------- keys


@click.group()
def keys() -> None:
    """API keys (stored hashed; a key is shown once, when created)."""


async def _with_access(settings: Settings, action: Callable[[Any], Any]) -> Any:
    from gateway.services.access import AccessService
    from gateway.store.engine import create_engine, session_factory
    from gateway.store.migrate import current_revision_engine

    engine = create_engine(settings.database_url)
    try:
        if await current_revision_engine(engine) is None:
            raise GatewayError("the store has no tables yet: run `gateway db upgrade` first")
        return await action(AccessService(sessions=session_factory(engine)))
    finally:
        await engine.dispose()


@keys.command("create")
@click.option("--role", type=click.Choice(["admin", "sales", "app"]), required=True)
@click.option("--salesperson", default=None, help="Sales keys: the salesperson code the key acts for.")
@click.option("--name", default=None, help="A label to recognise the key by.")
@friendly_errors
def keys_create(role: str, salesperson: str | None, name: str | None) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    settings = load_settings()

    async def issue(access: Any) -> tuple[Any, bool]:
        issued = await access.issue(role=role, salesperson_code=salesperson, name=name)
        known = not salesperson or await access.salesperson_known(salesperson)
        return issued, known

    issued, known = asyncio.run(_with_access(settings, issue))
    p = issued.principal
    if not known:  # a key may come before the first sync; a typo would see nobody's customers
        click.echo(
            f"warning: the store holds no salesperson {salesperson!r} (codes are case-sensitive, "
            "e.g. 'JR'); under GATEWAY_SALES_SCOPE=own this key sees no customers until one is "
            "synchronized",
            err=True,
        )
    click.echo(
        f"created {p.role.value} key {p.key_id}"
        + (f" for salesperson {p.salesperson_code}" if p.salesperson_code else "")
    )
    click.echo(issued.plaintext)


@keys.command("list")
@friendly_errors
def keys_list() -> None:
    """List keys (prefix, role, salesperson, created, revoked)."""
    rows = asyncio.run(_with_access(load_settings(), lambda a: a.list_keys()))
    for k in rows:
        state = "revoked" if k.revoked else "active"
        click.echo(
            f"{k.key_id}\t{k.prefix}…\t{k.role.value}\t{k.salesperson_code or '-'}\t{k.name or '-'}\t"
            f"{k.created_at:%Y-%m-%d %H:%M}\t{state}"
        )


@keys.command("revoke")
@click.argument("key_id")
@friendly_errors
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id."""
    asyncio.run(_with_access(load_settings(), lambda a: a.revoke(key_id=key_id)))
    click.echo(f"revoked {key_id}")
