"""`gateway sync`: start a full synchronization (and watch it), show its review lines, or run one
mapping's incremental synchronization now, on a running gateway (admin key)."""

from __future__ import annotations

import sys
import time
from typing import Any
from urllib.parse import quote

import click

from gateway.cli_admin import AdminClient, client_options

DIRECTIONS = ["erp_to_crm", "crm_to_erp"]


@click.group("sync")
def sync_group() -> None:
    """Synchronization on a running gateway (admin key)."""


@sync_group.command("full")
@click.option(
    "--mapping", "mappings", multiple=True, help="Only these mappings (repeatable); all by default."
)
@click.option("--wait", is_flag=True, help="Show a progress bar per mapping until the full sync is done.")
@click.option("--poll", type=float, default=0.5, show_default=True, help="Seconds between status checks.")
@client_options
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
@client_options
def sync_status(client: AdminClient) -> None:
    """The review lines of the full synchronization: one per mapping."""
    review = client.request("GET", "/sync/full")
    click.echo("running" if review["running"] else "idle")
    _print_review(review)


@sync_group.command("run")
@click.argument("mapping")
@click.option("--direction", type=click.Choice(DIRECTIONS), default=None, help="One direction only.")
@client_options
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
