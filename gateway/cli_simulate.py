"""`gateway simulate erp|crm`: serve the Business Central or Dataverse simulator on its own port (the
demo's `--erp-url`/`--crm-url` and the multi-process tests use one started this way)."""

from __future__ import annotations

import asyncio
import sys

import click

from gateway.cli_output import friendly_errors


@click.command()
@click.argument("service", type=click.Choice(["erp", "crm"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="[erp: 8101, crm: 8102]")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--customers", type=click.IntRange(20), default=60, show_default=True)
@click.option("--items", type=click.IntRange(20), default=40, show_default=True)
@click.option("--tenant", default="demo", show_default=True)
@click.option("--environment", default="production", show_default=True)
@click.option("--client-id", default="gateway-demo", show_default=True)
@click.option("--client-secret", default="demo-secret", show_default=True)
@click.option(
    "--webhook-delay-seconds",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="erp: seconds before a change notification (Business Central ~30; `run --demo` uses 1).",
)
@friendly_errors
def simulate(
    service: str,
    host: str,
    port: int | None,
    seed: int,
    customers: int,
    items: int,
    tenant: str,
    environment: str,
    client_id: str,
    client_secret: str,
    webhook_delay_seconds: float,
) -> None:
    """Serve the Business Central (erp) or Dataverse (crm) simulator."""
    from gateway.serving import Served, check_port_free, serve_all
    from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator

    port = (8101 if service == "erp" else 8102) if port is None else port
    check_port_free(host, port, "--port")
    options = SimulatorOptions(
        seed=seed,
        customers=customers,
        items=items,
        tenant=tenant,
        environment=environment,
        client_id=client_id,
        client_secret=client_secret,
        webhook_delay_seconds=webhook_delay_seconds,
    )
    root = f"http://{host}:{port}"
    if service == "erp":
        app = create_erp_simulator(options)
        click.echo(f"Business Central simulator: {root}/v2.0/{tenant}/{environment}/api/v2.0/")
        click.echo(f"  integration API: {root}/v2.0/{tenant}/{environment}/api/bcgateway/integration/v1.0/")
    else:
        app = create_crm_simulator(options)
        click.echo(f"Dataverse simulator: {root}/api/data/v9.2/")
    click.echo(f"  token: POST {root}/{tenant}/oauth2/v2.0/token   control: {root}/_sim/stats")
    click.echo(f"base URL: {root}", nl=True)
    sys.stdout.flush()
    asyncio.run(serve_all(Served(service, app, host, port), log_level="warning"))
