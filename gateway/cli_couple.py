"""`gateway couple`: list, create, delete and match couplings of ERP and CRM records on a running
gateway (admin key)."""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.cli_admin import AdminClient, client_options, fail, print_table


@click.group("couple")
def couple_group() -> None:
    """Couplings on a running gateway (admin key)."""


@couple_group.command("list")
@click.option("--mapping", default=None)
@click.option("--state", default=None, help="coupled, error, conflict, skipped or orphaned")
@click.option("--record", default=None, help="A record's id on either side.")
@click.option("--number", default=None, help="A record's number on either side.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@client_options
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
        print_table(
            (c["id"], c["mapping"], c["erpKey"], c["erpId"], c["crmKey"], c["crmId"], c["state"])
            for c in page["items"]
        )
        shown += len(page["items"])
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"] or after is None:
            break


def _side(value: str | None, number: str | None, side: str) -> dict[str, str]:
    if (value is None) == (number is None):
        fail(f"give --{side}-id or --{side}-number (one of them)")
    return {f"{side}Id": value} if value is not None else {f"{side}Key": number}  # type: ignore[dict-item]


@couple_group.command("create")
@click.argument("mapping")
@click.option("--erp-id", default=None)
@click.option("--erp-number", default=None)
@click.option("--crm-id", default=None)
@click.option("--crm-number", default=None)
@click.option("--no-sync", is_flag=True, help="Couple only; do not synchronize the pair now.")
@client_options
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
@client_options
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
@client_options
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
            fail(f"--field {spec!r}: write it as ERPFIELD=CRMFIELD")
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
    # The same line follows a dry run and an applied match: say which, or "5 pair(s)" reads as done.
    outcome = "a dry run: nothing coupled; --apply couples them" if report.get("dryRun", True) else "applied"
    click.echo(
        f"{len(report['pairs'])} pair(s), {len(report['ambiguous'])} ambiguous, "
        f"no match: {len(no_match['erp'])} ERP, {len(no_match['crm'])} CRM ({outcome})"
    )
