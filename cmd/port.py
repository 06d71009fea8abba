"""`alcor port ...`: create (optionally waiting until the hosts applied it), list, get, update,
delete."""

from __future__ import annotations

import click

from alcor.sdk import Client
from alcor.v1 import network_pb2 as net

from .connect import connected
from .output import emit, table, to_data
from .resources import PORT, show, split_pairs, standard_commands


@click.group()
def port() -> None:
    """Ports: a workload's interface in a subnet, bound to a host."""


@port.command("create")
@click.option("--subnet", "subnet_id", required=True, help="The subnet.")
@click.option("--host", "host_id", default="", help="Bind to this host (Node host_id).")
@click.option("--name", default="")
@click.option(
    "--ip", "ips", multiple=True, metavar="ADDRESS", help="A fixed IP in the subnet (default: allocated)."
)
@click.option("--mac", "mac_address", default="", help="MAC address (default: allocated).")
@click.option("--device", "device_id", default="", help="The device (VM, container) using the port.")
@click.option(
    "--sg",
    "security_group_ids",
    multiple=True,
    metavar="ID[,ID]",
    help="Security groups (default: the project's default group).",
)
@click.option("--project", "project_id", default="", help="Project (admin tokens only).")
@click.option("--wait", is_flag=True, help="Wait until every affected host has applied the port.")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds --wait waits.",
)
@connected
def create_port(
    client: Client,
    output: str,
    subnet_id: str,
    host_id: str,
    name: str,
    ips: tuple[str, ...],
    mac_address: str,
    device_id: str,
    security_group_ids: tuple[str, ...],
    project_id: str,
    wait: bool,
    wait_timeout: float,
) -> None:
    """Create a port (address and MAC allocated unless given)."""
    created = client.create_port(
        subnet_id=subnet_id,
        host_id=host_id,
        name=name,
        fixed_ips=list(ips),
        mac_address=mac_address,
        device_id=device_id,
        security_group_ids=split_pairs(security_group_ids),
        project_id=project_id,
    )
    if not wait:
        show(output, PORT, created)
        return
    progress = client.wait_for_hosts(created.revision, timeout=wait_timeout)
    emit(
        output,
        {
            "port": to_data(created),
            "complete": progress.complete,
            "hosts": [to_data(h) for h in progress.hosts],
        },
        lambda _: table([PORT.row(created)], PORT.columns) + "\n" + _progress(created.revision, progress),
    )
    if not progress.complete:
        raise click.ClickException(
            f"not every host applied revision {created.revision} within {wait_timeout:g}s"
        )


def _progress(revision: int, progress: net.WaitForHostsResponse) -> str:
    if not progress.hosts:
        return f"revision {revision}: no host needed it"
    hosts = ", ".join(
        f"{h.host_id} at {h.applied_revision}{'' if h.connected else ' (disconnected)'}"
        for h in progress.hosts
    )
    return f"revision {revision} {'applied' if progress.complete else 'NOT applied'} on hosts: {hosts}"


@port.command("update")
@click.argument("port_id", metavar="PORT_ID")
@click.option("--name", default=None)
@click.option("--host", "host_id", default=None, help="Bind to this host.")
@click.option("--unbind", is_flag=True, help="Unbind from its host.")
@click.option("--device", "device_id", default=None)
@click.option(
    "--sg", "security_group_ids", multiple=True, metavar="ID[,ID]", help="Replace the security groups."
)
@connected
def update_port(
    client: Client,
    output: str,
    port_id: str,
    name: str | None,
    host_id: str | None,
    unbind: bool,
    device_id: str | None,
    security_group_ids: tuple[str, ...],
) -> None:
    """Change a port's name, host binding, device or security groups."""
    if unbind and host_id is not None:
        raise click.UsageError("give --host or --unbind, not both")
    show(
        output,
        PORT,
        client.update_port(
            port_id,
            name=name,
            host_id="" if unbind else host_id,
            device_id=device_id,
            security_group_ids=split_pairs(security_group_ids) or None,
        ),
    )


standard_commands(port, PORT)
