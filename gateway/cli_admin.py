"""The admin commands of `gateway` (`sync`, `couple`, `errors`): they talk to a RUNNING gateway's
`/api/v1/admin/` endpoints over HTTP with an admin key, and print what it answers, one line per row.

Registered onto the `main` group by `gateway.cli`; connection failures and refused keys end the
command with one line (exit 1), never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import click
import httpx

F = TypeVar("F", bound=Callable[..., Any])

ADMIN = "/api/v1/admin"
ACTIONS = ["retry", "force-erp", "force-crm", "restore", "uncouple", "ignore"]
DIRECTIONS = ["erp_to_crm", "crm_to_erp"]
BULK = 10


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


def _client_options(func: F) -> F:
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
        return func(AdminClient(url or _default_url(), key), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _default_url() -> str:
    """The gateway this shell's settings start (`GATEWAY_PORT=8700 make run`, then `gateway sync
    status` in the same environment reaches it)."""
    host = os.environ.get("GATEWAY_HOST") or "127.0.0.1"
    port = os.environ.get("GATEWAY_PORT") or "8000"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _fail(message: str) -> NoReturn:
    raise AdminError(message)


def _table(rows: Iterable[Iterable[Any]]) -> None:
    for row in rows:
        click.echo("\t".join("-" if v is None or v == "" else str(v) for v in row))


# -------------------------------------------------------------------------------------------- sync


@click.group("sync")
def sync_group() -> None:
    """Synchronization on a running gateway (admin key)."""


@sync_group.command("full")
@click.option(
    "--mapping", "mappings", multiple=True, help="Only these mappings (repeatable); all by default."
)
@click.option("--wait", is_flag=True, help="Show a progress bar per mapping until the full sync is done.")
@click.option("--poll", type=float, default=0.5, show_default=True, help="Seconds between status checks.")
@_client_options
def sync_full(client: AdminClient, mappings: tuple[str, ...], wait: bool, poll: float) -> None:
    """Start a full synchronization in the background (dependency order)."""
    body = {"mappings": list(mappings)} if mappings else {}
    review = client.request("POST", "/sync/full", body=body)
    selected = [line["mapping"] for line in review["lines"] if line.get("selected")]
    click.echo(f"full synchronization started: {', '.join(selected) or 'nothing to run'}")
    if wait:
        review = _watch(client, selected, poll=poll)
        _print_review(review, only=selected)
        if any(_line_status(line) == "error" for line in review["lines"] if line["mapping"] in selected):
            sys.exit(1)


def _line_progress(line: dict[str, Any]) -> tuple[int, int]:
    jobs = line["jobs"].values()
    return sum(j["done"] for j in jobs), sum(j["total"] for j in jobs)


def _line_status(line: dict[str, Any]) -> str:
    statuses = {j["status"] for j in line["jobs"].values()}
    for status in ("error", "in process", "blank"):
        if status in statuses:
            return status
    return "success" if statuses else "blank"


def _watch(client: AdminClient, selected: list[str], *, poll: float) -> dict[str, Any]:
    """A progress bar per mapping (done/total of its jobs) until the gateway says it is no longer running."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        transient=False,
    ) as progress:
        tasks = {name: progress.add_task(name, total=None, status="waiting") for name in selected}
        while True:
            review: dict[str, Any] = client.request("GET", "/sync/full")
            for line in review["lines"]:
                task = tasks.get(line["mapping"])
                if task is None:
                    continue
                done, total = _line_progress(line)
                status = _line_status(line)
                total = max(total, done)
                if status in ("success", "error"):
                    # Finished: a full bar, and the count the review line shows (0/0 when nothing to do).
                    progress.update(task, completed=total, total=total, status=status)
                else:
                    progress.update(task, completed=done, total=total or None, status=status)
            if not review["running"]:
                return review
            time.sleep(poll)


def _print_review(review: dict[str, Any], *, only: list[str] | None = None) -> None:
    for line in review["lines"]:
        if only is not None and line["mapping"] not in only:
            continue
        jobs = " ".join(
            f"{direction}={job['status']} {job['done']}/{job['total']}"
            for direction, job in line["jobs"].items()
        )
        deps = ",".join(line["dependencies"]) or "-"
        click.echo(f"{line['mapping']}\t{line['recommendation']}\tdepends on {deps}\t{jobs}")


@sync_group.command("status")
@_client_options
def sync_status(client: AdminClient) -> None:
    """The review lines of the full synchronization: one per mapping."""
    review = client.request("GET", "/sync/full")
    click.echo("running" if review["running"] else "idle")
    _print_review(review)


@sync_group.command("run")
@click.argument("mapping")
@click.option("--direction", type=click.Choice(DIRECTIONS), default=None, help="One direction only.")
@_client_options
def sync_run(client: AdminClient, mapping: str, direction: str | None) -> None:
    """Run MAPPING's incremental synchronization now and print each run's counters."""
    body = {"direction": direction} if direction else {}
    result = client.request("POST", f"/mappings/{quote(mapping, safe='')}/run", body=body)
    for run in result["runs"]:
        counts = " ".join(f"{k}={v}" for k, v in run["counts"].items() if v)
        click.echo(f"{run['mapping']}\t{run['direction']}\t{run['status']}\t{counts or 'no changes'}")
        if run.get("message"):
            click.echo(f"  {run['message']}")
    if any(run["status"] != "success" for run in result["runs"]):
        sys.exit(1)  # like `sync full --wait`: a script sees that a run ended in error


# ------------------------------------------------------------------------------------------ couple


@click.group("couple")
def couple_group() -> None:
    """Couplings on a running gateway (admin key)."""


@couple_group.command("list")
@click.option("--mapping", default=None)
@click.option("--state", default=None, help="coupled, error, conflict, skipped or orphaned")
@click.option("--record", default=None, help="A record's id on either side.")
@click.option("--number", default=None, help="A record's number on either side.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@_client_options
def couple_list(
    client: AdminClient,
    mapping: str | None,
    state: str | None,
    record: str | None,
    number: str | None,
    limit: int,
) -> None:
    """Couplings: id, mapping, ERP number and id, CRM number and id, state (follows the pages)."""
    after: str | None = None
    shown = 0
    while shown < limit:
        page = client.request(
            "GET",
            "/couplings",
            params={
                "mapping": mapping,
                "state": state,
                "record": record,
                "number": number,
                "first": min(limit - shown, 1000),
                "after": after,
            },
        )
        _table(
            (c["id"], c["mapping"], c["erpKey"], c["erpId"], c["crmKey"], c["crmId"], c["state"])
            for c in page["items"]
        )
        shown += len(page["items"])
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"] or after is None:
            break


def _side(value: str | None, number: str | None, side: str) -> dict[str, str]:
    if (value is None) == (number is None):
        _fail(f"give --{side}-id or --{side}-number (one of them)")
    return {f"{side}Id": value} if value is not None else {f"{side}Key": number}  # type: ignore[dict-item]


@couple_group.command("create")
@click.argument("mapping")
@click.option("--erp-id", default=None)
@click.option("--erp-number", default=None)
@click.option("--crm-id", default=None)
@click.option("--crm-number", default=None)
@click.option("--no-sync", is_flag=True, help="Couple only; do not synchronize the pair now.")
@_client_options
def couple_create(
    client: AdminClient,
    mapping: str,
    erp_id: str | None,
    erp_number: str | None,
    crm_id: str | None,
    crm_number: str | None,
    no_sync: bool,
) -> None:
    """Couple an ERP record with a CRM record (each by id or number)."""
    body: dict[str, Any] = {"mapping": mapping, "synchronize": not no_sync}
    body |= _side(erp_id, erp_number, "erp") | _side(crm_id, crm_number, "crm")
    made = client.request("POST", "/couplings", body=body)
    click.echo(
        f"coupling {made['id']}: {made['erpKey'] or made['erpId']} <-> {made['crmKey'] or made['crmId']}"
    )
    if made.get("run"):
        click.echo(f"  synchronized: {made['run']['status']}")


@couple_group.command("delete")
@click.argument("coupling_id", type=click.IntRange(1))
@_client_options
def couple_delete(client: AdminClient, coupling_id: int) -> None:
    """Uncouple one pair by the coupling's id."""
    client.request("DELETE", f"/couplings/{coupling_id}")
    click.echo(f"uncoupled {coupling_id}")


@couple_group.command("match")
@click.argument("mapping")
@click.option("--field", "fields", multiple=True, metavar="ERP=CRM", help="Match on these field pairs.")
@click.option("--case-sensitive/--ignore-case", default=None)
@click.option("--create-if-no-match", is_flag=True, help="Create unmatched records on the other side.")
@click.option("--dry-run/--apply", default=True, show_default=True, help="List only, or couple.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@_client_options
def couple_match(
    client: AdminClient,
    mapping: str,
    fields: tuple[str, ...],
    case_sensitive: bool | None,
    create_if_no_match: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Match-based coupling of MAPPING's uncoupled records (a dry run by default)."""
    pairs = []
    for spec in fields:
        erp_field, sep, crm_field = spec.partition("=")
        if not sep or not erp_field or not crm_field:
            _fail(f"--field {spec!r}: write it as ERPFIELD=CRMFIELD")
        pairs.append({"erpField": erp_field, "crmField": crm_field})
    body: dict[str, Any] = {"mapping": mapping, "dryRun": dry_run, "createIfNoMatch": create_if_no_match}
    if pairs:
        body["fields"] = pairs
    if case_sensitive is not None:
        body["caseSensitive"] = case_sensitive
    report = client.request("POST", "/couplings/match", body=body)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    verb = "would couple" if report["dryRun"] else "coupled"
    for pair in report["pairs"]:
        click.echo(f"{verb}\t{pair.get('erpName') or pair['erpId']}\t{pair.get('crmName') or pair['crmId']}")
    for item in report["ambiguous"]:
        names = ", ".join(c.get("name") or c["id"] for c in item["candidates"])
        click.echo(f"ambiguous\t{item['side']}\t{item.get('name') or item['id']}\tcandidates: {names}")
    no_match = report["noMatch"]
    click.echo(
        f"{len(report['pairs'])} pair(s), {len(report['ambiguous'])} ambiguous, "
        f"no match: {len(no_match['erp'])} ERP, {len(no_match['crm'])} CRM"
    )


# ------------------------------------------------------------------------------------------ errors


@click.group("errors")
def errors_group() -> None:
    """Job errors on a running gateway (admin key)."""


@errors_group.command("list")
@click.option("--mapping", default=None)
@click.option("--job", default=None, help="A job's id.")
@click.option("--record", default=None, help="A record's id on either side.")
@click.option(
    "--status", type=click.Choice(["open", "resolved", "ignored", "all"]), default="open", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@_client_options
def errors_list(
    client: AdminClient, mapping: str | None, job: str | None, record: str | None, status: str, limit: int
) -> None:
    """Errors: id, mapping, record, field, reason, the actions that apply."""
    page = client.request(
        "GET",
        "/errors",
        params={"mapping": mapping, "job": job, "record": record, "status": status, "first": limit},
    )
    _table(
        (
            e["id"],
            e["mapping"],
            e["erpKey"] or e["erpId"] or e["crmKey"] or e["crmId"],
            e["field"],
            e["reason"],
            ",".join(e["actions"]),
        )
        for e in page["items"]
    )


@errors_group.command("action")
@click.argument("action", type=click.Choice(ACTIONS))
@click.argument("error_ids", nargs=-1, required=True, type=click.IntRange(1))
@_client_options
def errors_action(client: AdminClient, action: str, error_ids: tuple[int, ...]) -> None:
    """Apply ACTION to the errors ERROR_IDS (retry, force-erp, force-crm, restore, uncouple, ignore)."""
    ids = list(dict.fromkeys(error_ids))
    results: list[dict[str, Any]] = []
    for start in range(0, len(ids), BULK):  # the endpoint takes a few at a time (each may run a sync)
        chunk = ids[start : start + BULK]
        results += client.request("POST", "/errors/actions", body={"ids": chunk, "action": action})["results"]
    failed = False
    for item in results:
        if item.get("problem"):
            failed = True
            click.echo(f"{item['error']}\t{action}\tnot applied: {item['problem']}")
        else:
            click.echo(f"{item['error']}\t{action}\t{item.get('status', 'done')}")
    if failed:
        sys.exit(1)


def register(main: click.Group) -> None:
    """Add the admin commands to the `gateway` group."""
    for group in (sync_group, couple_group, errors_group):
        main.add_command(group)
