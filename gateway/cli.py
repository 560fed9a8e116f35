"""The `gateway` command: run the gateway (or its demo), serve a simulator, migrate the store,
manage API keys, export the GraphQL schema. Wrong settings stop it with one line naming the setting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from gateway.cli_admin import register as register_admin_commands
from gateway.config import Settings, load_settings
from gateway.errors import ConfigurationError, GatewayError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG = 2


def _friendly_errors(func: F) -> F:
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


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosqlite logs every operation of every connection at DEBUG (tens of thousands of lines a minute
    # in the demo, and the CPU to write them): at DEBUG the gateway's own lines are what one wants.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    if level != "DEBUG":
        # One line per upstream request (httpx) and per migration step (alembic) is debugging detail;
        # our own client logs retries and failures.
        for noisy in ("httpx", "httpcore", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """erp-crm-gateway: Business Central ⇄ Dynamics 365 Sales."""


# ---------------------------------------------------------------------------------------------- run


@main.command()
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
@_friendly_errors
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
        _setup_logging(settings.log_level)
        check_port_free(host, port, "GATEWAY_PORT")
        _require_store(settings.database_url)
        if workers > 1:
            serve_workers(host=host, port=port, workers=workers, log_level=settings.log_level)
            return
        asyncio.run(
            serve_all(Served("gateway", create_app(settings), host, port), log_level=settings.log_level)
        )
        return

    from gateway.demo import banner, plan_demo, prepare_keys

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
    _setup_logging(plan.settings.log_level)
    migrate.upgrade(plan.settings.database_url)
    keys = asyncio.run(prepare_keys(plan.settings.database_url))
    click.echo(banner(plan, keys))
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


# ------------------------------------------------------------------------------------------- worker


@main.command()
@click.option("--once", is_flag=True, help="Run every due mapping-direction once, then exit.")
@_friendly_errors
def worker(once: bool) -> None:
    """Run the sync scheduler as its own process; any number of workers can share one database
    (each mapping-direction runs under a lease, so exactly one of them runs it at a time)."""
    from gateway.store import migrate

    settings = load_settings()
    settings.require_upstreams()
    _setup_logging(settings.log_level)
    migrate.upgrade(settings.database_url)
    asyncio.run(run_worker(settings, once=once))


async def run_worker(
    settings: Settings,
    *,
    once: bool = False,
    stop: asyncio.Event | None = None,
    erp_transport: Any = None,
    crm_transport: Any = None,
) -> Any:
    """The worker process's composition root: store, shared throttle, connectors, engine, scheduler.
    Serves until SIGINT/SIGTERM (or `stop` is set); `once` runs one tick and returns the Scheduler."""
    import signal
    from contextlib import AsyncExitStack

    from gateway.store.engine import create_engine, session_factory
    from gateway.sync.deletion_check import DeletionCheck, WithDeletionChecks
    from gateway.sync.engine import SyncEngine
    from gateway.sync.worker import build_scheduler, ensure_mappings, sync_worker
    from gateway.upstream.factory import build_crm_connector, build_erp_connector, build_throttle

    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        throttle = build_throttle(settings)
        stack.push_async_callback(throttle.aclose)
        erp = build_erp_connector(settings, transport=erp_transport, throttle=throttle)
        stack.push_async_callback(erp.aclose)
        crm = build_crm_connector(settings, transport=crm_transport, throttle=throttle)
        stack.push_async_callback(crm.aclose)
        sessions = session_factory(engine)
        if once:
            await ensure_mappings(sessions)
            runner = WithDeletionChecks(
                SyncEngine(sessions=sessions, erp=erp, crm=crm), DeletionCheck(sessions=sessions, erp=erp)
            )
            scheduler = build_scheduler(settings, sessions=sessions, runner=runner)
            started = await scheduler.run_once()
            click.echo(f"worker {scheduler.worker_id}: ran {len(started)} mapping-direction(s)")
            return scheduler
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not in the main thread
                loop.add_signal_handler(signum, stop.set)
        async with sync_worker(settings, sessions=sessions, erp=erp, crm=crm) as scheduler:
            logging.getLogger("gateway").info("worker %s started", scheduler.worker_id)
            await stop.wait()
            logging.getLogger("gateway").info("worker %s stopping", scheduler.worker_id)
        return scheduler


# ----------------------------------------------------------------------------------------- simulate


@main.command()
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
@_friendly_errors
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


# ----------------------------------------------------------------------------------------------- db


@main.group()
def db() -> None:
    """The coupling store."""


@db.command("upgrade")
@_friendly_errors
def db_upgrade() -> None:
    """Apply every migration not yet applied (GATEWAY_DATABASE_URL)."""
    from gateway.store import migrate

    settings = load_settings()
    migrate.upgrade(settings.database_url)
    click.echo(f"database at revision {migrate.current_revision(settings.database_url)}")


@db.command("current")
@_friendly_errors
def db_current() -> None:
    """Print the database's migration revision."""
    from gateway.store import migrate

    click.echo(migrate.current_revision(load_settings().database_url) or "empty")


# --------------------------------------------------------------------------------------------- keys


@main.group()
def keys() -> None:
    """API keys (stored hashed; a key is shown once, when created)."""


def _require_store(database_url: str) -> None:
    """One line instead of a driver traceback when the store cannot be reached (StoreUnavailable)
    or was never migrated."""
    from gateway.store import migrate

    if migrate.current_revision(database_url) is None:
        raise GatewayError("the store has no tables yet: run `gateway db upgrade` first")


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
@_friendly_errors
def keys_create(role: str, salesperson: str | None, name: str | None) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    settings = load_settings()
    issued = asyncio.run(
        _with_access(settings, lambda a: a.issue(role=role, salesperson_code=salesperson, name=name))
    )
    p = issued.principal
    click.echo(
        f"created {p.role.value} key {p.key_id}"
        + (f" for salesperson {p.salesperson_code}" if p.salesperson_code else "")
    )
    click.echo(issued.plaintext)


@keys.command("list")
@_friendly_errors
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
@_friendly_errors
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id."""
    asyncio.run(_with_access(load_settings(), lambda a: a.revoke(key_id=key_id)))
    click.echo(f"revoked {key_id}")


# ------------------------------------------------------------------------------------------- schema


@main.group("schema")
def schema_group() -> None:
    """The GraphQL schema."""


@schema_group.command("export")
def schema_export() -> None:
    """Print the GraphQL schema (SDL); schema/schema.graphql is this output."""
    from schema.build import build_schema

    click.echo(build_schema().as_str())


# The admin commands (sync, couple, errors) talk to a running gateway over HTTP.
register_admin_commands(main)


if __name__ == "__main__":  # pragma: no cover
    main()
