"""`alcor vpc ...` and `alcor subnet ...`: create, list, get, update, delete."""

from __future__ import annotations

import click

from alcor.sdk import Client

from .connect import connected
from .resources import SUBNET, VPC, show, split_pairs, standard_commands


@click.group()
def vpc() -> None:
    """Virtual private clouds: an address space with its own VNI."""


@vpc.command("create")
@click.option("--name", default="", help="A name for people.")
@click.option("--cidr", required=True, help="IPv4 CIDR, e.g. 10.0.0.0/16.")
@click.option(
    "--project", "project_id", default="", help="Project (admin tokens only; default: the token's)."
)
@click.option("--description", default="")
@connected
def create_vpc(client: Client, output: str, name: str, cidr: str, project_id: str, description: str) -> None:
    """Create a VPC; the controller allocates its VNI."""
    show(output, VPC, client.create_vpc(name=name, cidr=cidr, project_id=project_id, description=description))


@vpc.command("update")
@click.argument("vpc_id", metavar="VPC_ID")
@click.option("--name", default=None)
@click.option("--description", default=None)
@connected
def update_vpc(client: Client, output: str, vpc_id: str, name: str | None, description: str | None) -> None:
    """Change a VPC's name or description."""
    show(output, VPC, client.update_vpc(vpc_id, name=name, description=description))


standard_commands(vpc, VPC)


@click.group()
def subnet() -> None:
    """Subnets: a CIDR inside a VPC's, with address pools, DNS servers and host routes."""


@subnet.command("create")
@click.option("--vpc", "vpc_id", required=True, help="The VPC.")
@click.option("--cidr", required=True, help="IPv4 CIDR inside the VPC's.")
@click.option("--name", default="")
@click.option("--gateway", "gateway_ip", default="", help="Gateway address (default: the first usable).")
@click.option(
    "--pool",
    "pools",
    multiple=True,
    metavar="START-END",
    help="An allocation pool (repeatable; default: the CIDR less network, gateway, broadcast).",
)
@click.option("--dns", multiple=True, metavar="IP[,IP]", help="DNS nameservers (repeatable).")
@click.option("--route", "routes", multiple=True, metavar="DEST,NEXTHOP", help="A host route (repeatable).")
@click.option("--project", "project_id", default="", help="Project (admin tokens only).")
@click.option("--description", default="")
@connected
def create_subnet(
    client: Client,
    output: str,
    vpc_id: str,
    cidr: str,
    name: str,
    gateway_ip: str,
    pools: tuple[str, ...],
    dns: tuple[str, ...],
    routes: tuple[str, ...],
    project_id: str,
    description: str,
) -> None:
    """Create a subnet in a VPC."""
    show(
        output,
        SUBNET,
        client.create_subnet(
            vpc_id=vpc_id,
            cidr=cidr,
            name=name,
            gateway_ip=gateway_ip,
            allocation_pools=list(pools),
            dns_nameservers=split_pairs(dns),
            host_routes=list(routes),
            project_id=project_id,
            description=description,
        ),
    )


@subnet.command("update")
@click.argument("subnet_id", metavar="SUBNET_ID")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option("--dns", multiple=True, metavar="IP[,IP]", help="Replace the DNS nameservers (repeatable).")
@click.option("--clear-dns", is_flag=True, help="Remove every DNS nameserver.")
@click.option("--route", "routes", multiple=True, metavar="DEST,NEXTHOP", help="Replace the host routes.")
@click.option("--clear-routes", is_flag=True, help="Remove every host route.")
@connected
def update_subnet(
    client: Client,
    output: str,
    subnet_id: str,
    name: str | None,
    description: str | None,
    dns: tuple[str, ...],
    clear_dns: bool,
    routes: tuple[str, ...],
    clear_routes: bool,
) -> None:
    """Change a subnet's name, description, DNS nameservers or host routes."""
    if (dns and clear_dns) or (routes and clear_routes):
        raise click.UsageError("give either new values or --clear-..., not both")
    show(
        output,
        SUBNET,
        client.update_subnet(
            subnet_id,
            name=name,
            description=description,
            dns_nameservers=[] if clear_dns else (split_pairs(dns) or None),
            host_routes=[] if clear_routes else (list(routes) or None),
        ),
    )


standard_commands(subnet, SUBNET)
