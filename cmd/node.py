"""`alcor node ...`: the hosts that run an agent (admin tokens only change them)."""

from __future__ import annotations

import click

from alcor.sdk import Client

from .connect import connected
from .resources import NODE, show, standard_commands


@click.group()
def node() -> None:
    """Hosts: where ports are bound and VXLAN terminates."""


@node.command("create")
@click.option("--host-id", required=True, help="The host's id (as its agent says it).")
@click.option("--underlay-ip", required=True, help="IPv4 address the host terminates VXLAN on.")
@click.option("--name", default="")
@connected
def create_node(client: Client, output: str, host_id: str, underlay_ip: str, name: str) -> None:
    """Register a host."""
    show(output, NODE, client.create_node(host_id=host_id, underlay_ip=underlay_ip, name=name))


@node.command("update")
@click.argument("host_id", metavar="HOST_ID")
@click.option("--name", default=None)
@click.option("--underlay-ip", default=None)
@connected
def update_node(client: Client, output: str, host_id: str, name: str | None, underlay_ip: str | None) -> None:
    """Change a host's name or underlay address."""
    show(output, NODE, client.update_node(host_id, name=name, underlay_ip=underlay_ip))


standard_commands(node, NODE)
