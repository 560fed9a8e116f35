"""`gateway errors`: list the record-level errors of sync jobs and apply an action to them (retry,
force a side, restore, uncouple, ignore) on a running gateway (admin key)."""

from __future__ import annotations

import sys
from typing import Any

import click

from gateway.cli_admin import AdminClient, client_options, print_table

ACTIONS = ["retry", "force-erp", "force-crm", "restore", "uncouple", "ignore"]
BULK = 10


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
@client_options
def errors_list(
    client: AdminClient, mapping: str | None, job: str | None, record: str | None, status: str, limit: int
) -> None:
    """Errors: id, mapping, record, field, reason, the actions that apply."""
    page = client.request(
        "GET",
        "/errors",
        params={"mapping": mapping, "job": job, "record": record, "status": status, "first": limit},
    )
    print_table(
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
@client_options
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
        elif any(e.get("new") for e in item.get("openErrors") or ()):
            # The record failed again: a retry's own error is resolved (superseded) by the new one.
            failed = True
            again = "; ".join(f"error {e['id']}: {e['reason']}" for e in item["openErrors"] if e.get("new"))
            click.echo(f"{item['error']}\t{action}\tfailed again: {again}")
        elif item.get("openErrors"):
            # Done; the record has other errors, older than the action (the other direction's, say).
            others = ", ".join(str(e["id"]) for e in item["openErrors"])
            status = item.get("status", "done")
            click.echo(f"{item['error']}\t{action}\t{status} (the record's errors {others} stay open)")
        else:
            click.echo(f"{item['error']}\t{action}\t{item.get('status', 'done')}")
    if failed:
        sys.exit(1)
