"""`alcor sg ...` and `alcor sg rule add|delete`: security groups and their rules.

A rule on the command line: --direction, --protocol, --port N or --port MIN-MAX, --remote-ip
CIDR or --remote-group ID; in `sg create --rule` the same as one string of key=value pairs,
e.g. "direction=ingress,protocol=tcp,port=22,remote_ip_prefix=0.0.0.0/0".
"""

from __future__ import annotations

from typing import Any

import click

from alcor.sdk import Client
from alcor.sdk.inputs import short_name
from alcor.v1 import resources_pb2 as res

from .connect import connected
from .output import emit, table, to_data
from .resources import SG, show, standard_commands

RULE_COLUMNS = ["id", "direction", "ethertype", "protocol", "ports", "remote", "description"]


def rule_row(r: res.SecurityGroupRule) -> dict[str, Any]:
    ports = (
        ""
        if not (r.port_range_min or r.port_range_max)
        else (
            str(r.port_range_min)
            if r.port_range_min == r.port_range_max
            else f"{r.port_range_min}-{r.port_range_max}"
        )
    )
    return {
        "id": r.id,
        "direction": short_name(res.Direction, r.direction),
        "ethertype": short_name(res.Ethertype, r.ethertype) or "ipv4",
        "protocol": short_name(res.Protocol, r.protocol),
        "ports": ports,
        "remote": r.remote_ip_prefix or (f"group {r.remote_group_id}" if r.remote_group_id else "any"),
        "description": r.description,
    }


def port_range(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    low, _, high = text.partition("-")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not PORT or MIN-MAX", param_hint="--port") from None
    return {"port_range_min": lo, "port_range_max": hi}


def parse_rule(text: str) -> dict[str, Any]:
    """ "direction=ingress,protocol=tcp,port=22" -> the keyword arguments of a rule."""
    fields: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--rule")
        key = key.strip().replace("-", "_")
        if key == "port":
            fields.update(port_range(value.strip()))
        elif key in ("port_range_min", "port_range_max"):
            fields[key] = int(value)
        else:
            fields[key] = value.strip()
    return fields


@click.group()
def sg() -> None:
    """Security groups: stateful allow-rules for the ports in them."""


def _show_group(output: str, group: res.SecurityGroup) -> None:
    emit(
        output,
        to_data(group),
        lambda _: (
            table([SG.row(group)], SG.columns)
            + "\n\n"
            + table([rule_row(r) for r in group.rules], RULE_COLUMNS)
        ),
    )


@sg.command("create")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--rule", "rules", multiple=True, metavar="KEY=VALUE,...", help="A rule (repeatable).")
@click.option("--project", "project_id", default="", help="Project (admin tokens only).")
@connected
def create_sg(
    client: Client, output: str, name: str, description: str, rules: tuple[str, ...], project_id: str
) -> None:
    """Create a security group, optionally with rules."""
    _show_group(
        output,
        client.create_security_group(
            name=name, description=description, rules=[parse_rule(r) for r in rules], project_id=project_id
        ),
    )


@sg.command("update")
@click.argument("security_group_id", metavar="SECURITY_GROUP_ID")
@click.option("--name", default=None)
@click.option("--description", default=None)
@connected
def update_sg(
    client: Client, output: str, security_group_id: str, name: str | None, description: str | None
) -> None:
    """Change a security group's name or description."""
    show(output, SG, client.update_security_group(security_group_id, name=name, description=description))


standard_commands(sg, SG)
# `get` shows the rules too
sg.commands.pop("get")


@sg.command("get")
@click.argument("security_group_id", metavar="SECURITY_GROUP_ID")
@click.option("--stale", is_flag=True, help="Answer from the member's local state (may lag).")
@connected
def get_sg(client: Client, output: str, security_group_id: str, stale: bool) -> None:
    """Show a security group and its rules."""
    _show_group(output, client.get_security_group(security_group_id, stale=stale))


@sg.group("rule")
def rule() -> None:
    """Add or delete one rule of a group."""


@rule.command("add")
@click.argument("security_group_id", metavar="SECURITY_GROUP_ID")
@click.option("--direction", type=click.Choice(["ingress", "egress"]), default="ingress", show_default=True)
@click.option("--ethertype", type=click.Choice(["ipv4", "ipv6"]), default="ipv4", show_default=True)
@click.option("--protocol", default="any", show_default=True, help="any, icmp, tcp, udp, icmpv6 or a number.")
@click.option("--port", "ports", metavar="PORT|MIN-MAX", help="Destination ports (TCP and UDP).")
@click.option("--remote-ip", "remote_ip_prefix", default="", help="Remote CIDR.")
@click.option("--remote-group", "remote_group_id", default="", help="Remote security group.")
@click.option("--description", default="")
@connected
def add_rule(
    client: Client,
    output: str,
    security_group_id: str,
    direction: str,
    ethertype: str,
    protocol: str,
    ports: str | None,
    remote_ip_prefix: str,
    remote_group_id: str,
    description: str,
) -> None:
    """Add a rule to a security group."""
    r = client.create_security_group_rule(
        security_group_id,
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        **port_range(ports),
        remote_ip_prefix=remote_ip_prefix,
        remote_group_id=remote_group_id,
        description=description,
    )
    emit(output, to_data(r), lambda _: table([rule_row(r)], RULE_COLUMNS))


@rule.command("delete")
@click.argument("security_group_id", metavar="SECURITY_GROUP_ID")
@click.argument("rule_id", metavar="RULE_ID")
@connected
def delete_rule(client: Client, output: str, security_group_id: str, rule_id: str) -> None:
    """Delete a rule from a security group."""
    revision = client.delete_security_group_rule(security_group_id, rule_id)
    emit(
        output,
        {"id": rule_id, "revision": revision},
        lambda d: f"deleted rule {d['id']} at revision {d['revision']}",
    )
