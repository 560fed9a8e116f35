"""`gateway run`: the gateway's API and admin endpoints, in one process or several workers, or the demo
(both simulators with demo data beside it); the options are checked before anything starts."""

from __future__ import annotations

import asyncio

import click

from gateway.cli_output import friendly_errors, setup_logging
from gateway.config import Settings, load_settings
from gateway.errors import ConfigurationError, GatewayError


@click.command()
@click.option("--demo", is_flag=True, help="Start both simulators with demo data and use them.")
@click.option("--host", default=None, help="Listen address [GATEWAY_HOST, default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Listen port [GATEWAY_PORT, default 8000].")
@click.option("--erp-port", type=int, default=None, help="Demo: ERP simulator port [port+1].")
@click.option("--crm-port", type=int, default=None, help="Demo: CRM simulator port [port+2].")
@click.option("--seed", type=int, default=42, show_default=True, help="Demo data seed.")
@click.option("--customers", type=click.IntRange(20), default=60, show_default=True, help="Demo customers.")
@click.option("--items", type=click.IntRange(20), default=40, show_default=True, help="Demo items.")
@click.option(
    "--erp-url",
    default=None,
    metavar="URL",
    help="Demo: use the ERP simulator running at URL (`gateway simulate erp`), start none.",
)
@click.option(
    "--crm-url",
    default=None,
    metavar="URL",
    help="Demo: use the CRM simulator running at URL (`gateway simulate crm`), start none.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="API worker processes sharing the port (more than 1: Redis cache, scheduler in `gateway worker`).",
)
@friendly_errors
def run(
    demo: bool,
    host: str | None,
    port: int | None,
    erp_port: int | None,
    crm_port: int | None,
    seed: int,
    customers: int,
    items: int,
    erp_url: str | None,
    crm_url: str | None,
    workers: int,
) -> None:
    """Run the gateway (API and admin endpoints)."""
    from gateway.app import create_app
    from gateway.serving import Served, check_port_free, serve_all, serve_workers
    from gateway.store import migrate

    _check_demo_options(demo, erp_url=erp_url, crm_url=crm_url, erp_port=erp_port, crm_port=crm_port)
    base = load_settings()
    host = host or base.host
    port = base.port if port is None else port
    if workers > 1:
        _check_workers(demo, base)
    if not demo:
        settings = load_settings(host=host, port=port)
        settings.require_upstreams()
        setup_logging(settings.log_level)
        check_port_free(host, port, "GATEWAY_PORT")
        _require_store(settings.database_url)
        if workers > 1:
            serve_workers(host=host, port=port, workers=workers, log_level=settings.log_level)
            return
        asyncio.run(
            serve_all(Served("gateway", create_app(settings), host, port), log_level=settings.log_level)
        )
        return

    from gateway.demo import banner, forget_last_run, plan_demo, prepare_keys

    erp_port = port + 1 if erp_port is None else erp_port
    crm_port = port + 2 if crm_port is None else crm_port
    check_port_free(host, port, "GATEWAY_PORT")
    if erp_url is None:
        check_port_free(host, erp_port, "--erp-port")
    if crm_url is None:
        check_port_free(host, crm_port, "--crm-port")
    plan = plan_demo(
        host=host,
        port=port,
        erp_port=erp_port,
        crm_port=crm_port,
        seed=seed,
        customers=customers,
        items=items,
        erp_url=erp_url,
        crm_url=crm_url,
    )
    setup_logging(plan.settings.log_level)
    migrate.upgrade(plan.settings.database_url)
    # Simulators served here start with fresh data: what the store learned from the last run's is void.
    fresh = plan.erp_app is not None or plan.crm_app is not None
    cleared = fresh and asyncio.run(forget_last_run(plan.settings.database_url))
    keys = asyncio.run(prepare_keys(plan.settings.database_url))
    click.echo(banner(plan, keys, cleared=cleared))
    simulators = [
        Served(name, app, host, sim_port)
        for name, app, sim_port in (("erp", plan.erp_app, erp_port), ("crm", plan.crm_app, crm_port))
        if app is not None
    ]
    asyncio.run(
        serve_all(
            Served("gateway", create_app(plan.settings), host, port),
            simulators,
            log_level=plan.settings.log_level,
        )
    )


def _check_workers(demo: bool, settings: Settings) -> None:
    """Several API processes are web-only replicas: they share the availability cache and its single
    flight through Redis, and the syncer runs beside them (`gateway worker`), not in each of them."""
    if demo:
        raise ConfigurationError(
            "--workers", "not with --demo (the demo serves its simulators in its process)"
        )
    if not settings.cache_url.startswith(("redis://", "rediss://")):
        raise ConfigurationError(
            "GATEWAY_CACHE_URL",
            "several workers share the availability cache through Redis: set redis://HOST:PORT/DB",
        )
    if settings.runs_scheduler_in_process():
        raise ConfigurationError(
            "GATEWAY_SCHEDULER_IN_PROCESS",
            "with --workers the syncer runs as `gateway worker`, not in each worker",
        )


def _check_demo_options(
    demo: bool, *, erp_url: str | None, crm_url: str | None, erp_port: int | None, crm_port: int | None
) -> None:
    """--erp-url/--crm-url belong to the demo and replace the simulator it would start on that port;
    with both given, the data options describe nothing this process serves."""
    for option, url, port_option, sim_port in (
        ("--erp-url", erp_url, "--erp-port", erp_port),
        ("--crm-url", crm_url, "--crm-port", crm_port),
    ):
        if url is None:
            continue
        if not demo:
            setting = "GATEWAY_ERP_BASE_URL" if option == "--erp-url" else "GATEWAY_CRM_BASE_URL"
            raise ConfigurationError(option, f"only with --demo (otherwise set {setting})")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(option, "must be an http:// or https:// URL")
        if sim_port is not None:
            raise ConfigurationError(option, f"cannot be combined with {port_option}")
    if erp_url and crm_url:
        context = click.get_current_context()
        for name in ("seed", "customers", "items"):
            if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                raise ConfigurationError(
                    f"--{name}",
                    "describes the demo data of simulators this process starts; with"
                    " --erp-url and --crm-url give it to `gateway simulate`",
                )


def _require_store(database_url: str) -> None:
    """One line instead of a driver traceback when the store cannot be reached (StoreUnavailable)
    or was never migrated."""
    from gateway.store import migrate

    if migrate.current_revision(database_url) is None:
        raise GatewayError("the store has no tables yet: run `gateway db upgrade` first")
