"""`alcor controller run`: one controller node (a Raft member serving the API) in this process."""

from __future__ import annotations

import logging

import click
import uvloop

from alcor.controller.config import ConfigError, load
from alcor.controller.node import ControllerNode


@click.group()
def controller() -> None:
    """Run a controller node."""


@controller.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file with the settings below.")
@click.option("--id", "id_", help="This member's id.  [default: c1]")
@click.option("--data-dir", help="Where the Raft log and the state live.  [default: ./alcor-data]")
@click.option("--listen", help="Client API address.  [default: 127.0.0.1:6001]")
@click.option("--peer-listen", help="Raft peer address.  [default: 127.0.0.1:7001]")
@click.option("--advertise", help="API address others use, if not --listen.")
@click.option("--peer-advertise", help="Peer address others use, if not --peer-listen.")
@click.option("--bootstrap", help="Founding members: id=peer_host:port/api_host:port,...")
@click.option("--join", help="API endpoint of a running cluster to join (then: alcor cluster join).")
@click.option("--token-file", help="Bearer tokens: 'TOKEN admin|project:ID|host:ID' per line.")
@click.option("--peer-secret-file", help="Shared secret every Raft peer must present.")
@click.option("--tls-cert", help="PEM certificate for the API and peers.")
@click.option("--tls-key", help="PEM key for --tls-cert.")
@click.option("--tls-ca", help="PEM CA that signs peers (mutual TLS) and agent certificates.")
@click.option("--metrics-listen", help="Serve Prometheus /metrics on host:port.")
@click.option("--vni-range", help="VNIs to allocate, FIRST-LAST.  [default: 1-16777215]")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def run(config_file: str | None, log_level: str, **flags: str | None) -> None:
    """Run a controller node until SIGTERM.

    With no flags: a single-node cluster with its data in ./alcor-data, serving 127.0.0.1:6001.
    """
    overrides = {("id" if k == "id_" else k): v for k, v in flags.items()}
    try:
        config = load(config_file, overrides)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        uvloop.run(ControllerNode(config).run())
    except (OSError, RuntimeError) as e:  # a port in use, a cluster that cannot be joined
        raise click.ClickException(str(e)) from None
