"""The `gateway` command: run the gateway (or its demo), serve a simulator, migrate the store,
manage API keys, export the GraphQL schema. Wrong settings stop it with one line naming the setting."""

from __future__ import annotations

import click

from gateway.cli_couple import couple_group
from gateway.cli_errors import errors_group
from gateway.cli_run import run
from gateway.cli_simulate import simulate
from gateway.cli_store import db, keys
from gateway.cli_sync import sync_group
from gateway.cli_worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """erp-crm-gateway: Business Central ⇄ Dynamics 365 Sales."""


# The local commands: they start processes or work on the store directly.
for command in (run, worker, simulate, db, keys):
    main.add_command(command)


# ------------------------------------------------------------------------------------------- schema


@main.group("schema")
def schema_group() -> None:
    """The GraphQL schema."""


@schema_group.command("export")
def schema_export() -> None:
    """Print the GraphQL schema (SDL); schema/schema.graphql is this output."""
    from schema.build import build_schema

    click.echo(build_schema().as_str())


# The admin commands talk to a running gateway over HTTP (gateway.cli_admin's client).
for group in (sync_group, couple_group, errors_group):
    main.add_command(group)


if __name__ == "__main__":  # pragma: no cover
    main()
