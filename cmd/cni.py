"""`alcor cni conflist`: the network configuration that puts a container runtime's containers
on an Alcor subnet through the `alcor-cni` plugin."""

from __future__ import annotations

import json

import click

from alcor.cni.netconf import DEFAULT_TIMEOUT, Tls
from alcor.cni.netconf import conflist as make_conflist
from alcor.cni.spec import CniError

from .output import endpoints_option


@click.group()
def cni() -> None:
    """Containers on Alcor VPCs through the alcor-cni plugin."""


@cni.command("conflist")
@click.option("--vpc", required=True, help="The VPC (id or name).")
@click.option("--subnet", required=True, help="The subnet (id or name) the containers' ports are in.")
@click.option("--host-id", required=True, help="This host's agent (its --host-id).")
@endpoints_option
@click.option(
    "--name", "network", default="alcor", show_default=True, help="The network's name for the runtime."
)
@click.option("--token-file", default="", help="A file holding the token the plugin uses.")
@click.option("--ca", default="", help="CA certificate (PEM) of the controllers: the plugin uses TLS.")
@click.option("--cert", default="", help="Client certificate (PEM) for mutual TLS.")
@click.option("--key", default="", help="Key (PEM) of --cert.")
@click.option("--project", default="", help="The project (admin tokens only).")
@click.option("--sg", "security_groups", multiple=True, help="A security group (id or name); repeatable.")
@click.option(
    "--timeout-seconds",
    type=click.FloatRange(0, 600, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="How long ADD waits for the port to turn ACTIVE.",
)
def conflist(
    vpc: str,
    subnet: str,
    host_id: str,
    endpoints: str,
    network: str,
    token_file: str,
    ca: str,
    cert: str,
    key: str,
    project: str,
    security_groups: tuple[str, ...],
    timeout_seconds: float,
) -> None:
    """Print a conflist (CNI 1.0.0) for the runtime's network configuration directory, e.g.
    /etc/cni/net.d/alcor.conflist; `podman run --network NAME` then uses it."""
    if (cert or key) and not ca:
        raise click.UsageError("--cert and --key need --ca")
    try:
        conf = make_conflist(
            name=network,
            vpc=vpc,
            subnet=subnet,
            endpoints=[e.strip() for e in endpoints.split(",") if e.strip()],
            host_id=host_id,
            token_file=token_file,
            tls=Tls(ca, cert, key) if ca else None,
            project=project,
            security_groups=security_groups,
            timeout=timeout_seconds,
        )
    except CniError as e:
        raise click.ClickException(e.msg) from None
    click.echo(json.dumps(conf, indent=2))
