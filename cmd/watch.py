"""`alcor watch`: print change events as they happen, resuming across member failures.

Tables print one aligned line per event; `-o json` prints one JSON object per line.
"""

from __future__ import annotations

import json
from typing import Any

import click

from alcor.sdk import Client
from alcor.sdk.inputs import enum_names, short_name
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as w

from .connect import connected
from .output import to_data

LINE = "{revision:<10} {type:<8} {kind:<15} {id:<38} {name:<20} {project_id}"


def event_row(e: w.Event) -> dict[str, Any]:
    which = e.resource.WhichOneof("kind")
    item = getattr(e.resource, which) if which else None
    return {
        "revision": e.revision,
        "type": short_name(w.EventType, e.type),
        "kind": short_name(res.ResourceKind, e.kind),
        "id": (getattr(item, "id", "") or getattr(item, "host_id", "")) if item else "",
        "name": item.name if item else "",
        "project_id": e.project_id,
    }


@click.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(enum_names(res.ResourceKind)),
    help="Only this kind (repeatable; default: every kind).",
)
@click.option(
    "--from-revision",
    type=click.IntRange(min=1),
    default=None,
    help="Start at this revision (default: changes from now on).",
)
@click.option("--project", "project_id", default="", help="Only this project's (admin tokens).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many events.")
@connected
def watch(
    client: Client,
    output: str,
    kinds: tuple[str, ...],
    from_revision: int | None,
    project_id: str,
    limit: int | None,
) -> None:
    """Print resource changes in revision order, with no gaps, until interrupted."""
    if output == "table":
        click.echo(LINE.format(**{k: k.upper() for k in event_row(w.Event())}))
    count = 0
    with client.watch(
        kinds=list(kinds) or None, from_revision=from_revision, project_id=project_id
    ) as events:
        for e in events:
            if output == "json":
                click.echo(json.dumps(to_data(e), sort_keys=True))
            else:
                click.echo(LINE.format(**event_row(e)).rstrip())
            count += 1
            if limit is not None and count >= limit:
                return
