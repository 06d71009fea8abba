"""The `alcor` entry point: the top-level command group that every subcommand hangs from."""

from __future__ import annotations

import click

from alcor import __version__

from .agent import agent
from .cluster import cluster
from .cni import cni
from .controller import controller
from .demo import demo
from .node import node
from .port import port
from .sg import sg
from .vpc import subnet, vpc
from .watch import watch

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="alcor")
def cli() -> None:
    """Alcor: a replicated VPC control plane.

    Controllers agree on network state (VPCs, subnets, ports, security groups, hosts) through
    Raft and stream each host's goal state to its agent, which programs an eBPF data plane.
    """


cli.add_command(agent)
cli.add_command(cluster)
cli.add_command(cni)
for _group in (vpc, subnet, port, sg, node, watch):
    cli.add_command(_group)
cli.add_command(controller)
cli.add_command(demo)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
