"""The resource command groups' shared shape: how each kind prints (columns, table row), and
the `get`, `list` and `delete` commands every kind has, generated from one `Kind` each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
from google.protobuf.message import Message

from alcor.sdk import Client
from alcor.sdk.inputs import short_name
from alcor.v1 import resources_pb2 as res

from .connect import connected
from .output import emit, table, to_data


@dataclass(frozen=True)
class Kind:
    name: str  # as the CLI says it: "vpc", "sg"
    noun: str  # the SDK's method stem: "vpc", "security_group"
    key: str  # the id argument's name
    columns: list[str]
    row: Callable[[Any], dict[str, Any]]
    plural: str = ""
    filters: list[tuple[str, str]] = field(default_factory=list)  # (option, help)

    @property
    def many(self) -> str:
        return self.plural or f"{self.noun}s"


def show(output: str, kind: Kind, items: Message | Sequence[Message]) -> None:
    if isinstance(items, Message):
        emit(output, to_data(items), lambda _: table([kind.row(items)], kind.columns))
    else:
        emit(output, [to_data(i) for i in items], lambda _: table([kind.row(i) for i in items], kind.columns))


def ips(port: res.Port) -> str:
    return ",".join(f.ip_address for f in port.fixed_ips)


VPC = Kind(
    "vpc",
    "vpc",
    "VPC_ID",
    ["id", "name", "project_id", "cidr", "vni", "status", "revision"],
    lambda v: {**_base(v), "cidr": v.cidr, "vni": v.vni, "status": short_name(res.VpcStatus, v.status)},
    filters=[("project_id", "Only this project's."), ("name", "Only with this name.")],
)
SUBNET = Kind(
    "subnet",
    "subnet",
    "SUBNET_ID",
    ["id", "name", "vpc_id", "cidr", "gateway_ip", "pools", "revision"],
    lambda s: {
        **_base(s),
        "vpc_id": s.vpc_id,
        "cidr": s.cidr,
        "gateway_ip": s.gateway_ip,
        "pools": ",".join(f"{p.start}-{p.end}" for p in s.allocation_pools),
    },
    filters=[
        ("vpc_id", "Only in this VPC."),
        ("project_id", "Only this project's."),
        ("name", "Only with this name."),
    ],
)
PORT = Kind(
    "port",
    "port",
    "PORT_ID",
    ["id", "name", "subnet_id", "ips", "mac_address", "host_id", "status", "revision"],
    lambda p: {
        **_base(p),
        "subnet_id": p.subnet_id,
        "ips": ips(p),
        "mac_address": p.mac_address,
        "host_id": p.host_id,
        "status": short_name(res.PortStatus, p.status),
    },
    filters=[
        ("subnet_id", "Only in this subnet."),
        ("vpc_id", "Only in this VPC."),
        ("host_id", "Only bound to this host."),
        ("device_id", "Only of this device."),
        ("container_id", "Only attached for this container (alcor-cni)."),
        ("project_id", "Only this project's."),
        ("name", "Only with this name."),
    ],
)
SG = Kind(
    "sg",
    "security_group",
    "SECURITY_GROUP_ID",
    ["id", "name", "project_id", "rules", "revision"],
    lambda g: {**_base(g), "rules": len(g.rules)},
    filters=[("project_id", "Only this project's."), ("name", "Only with this name.")],
)
NODE = Kind(
    "node",
    "node",
    "HOST_ID",
    ["host_id", "name", "underlay_ip", "agent_version", "revision"],
    lambda n: {
        "host_id": n.host_id,
        "name": n.name,
        "underlay_ip": n.underlay_ip,
        "agent_version": n.agent_version,
        "revision": n.revision,
    },
)


def _base(r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "project_id": r.project_id, "revision": r.revision}


def standard_commands(group: click.Group, kind: Kind) -> None:
    """get, list and delete for a kind."""

    @group.command("get")
    @click.argument("resource_id", metavar=kind.key)
    @click.option("--stale", is_flag=True, help="Answer from the member's local state (may lag).")
    @connected
    def get(client: Client, output: str, resource_id: str, stale: bool) -> None:
        show(output, kind, getattr(client, f"get_{kind.noun}")(resource_id, stale=stale))

    get.help = f"Show one {kind.name}."

    def list_(client: Client, output: str, stale: bool, **filters: str | None) -> None:
        given = {k: v for k, v in filters.items() if v}
        show(output, kind, list(getattr(client, f"list_{kind.many}")(stale=stale, **given)))

    list_.__doc__ = f"List {kind.name}s (every page)."
    command = connected(list_)
    for name, help_ in reversed(kind.filters):
        command = click.option(f"--{name.removesuffix('_id').replace('_', '-')}", name, help=help_)(command)
    command = click.option("--stale", is_flag=True, help="Answer from the member's local state (may lag).")(
        command
    )
    group.command("list")(command)

    @group.command("delete")
    @click.argument("resource_id", metavar=kind.key)
    @connected
    def delete(client: Client, output: str, resource_id: str) -> None:
        revision = getattr(client, f"delete_{kind.noun}")(resource_id)
        emit(
            output,
            {"id": resource_id, "revision": revision},
            lambda d: f"deleted {kind.name} {d['id']} at revision {d['revision']}",
        )

    delete.help = f"Delete a {kind.name}."


def split_pairs(values: Sequence[str]) -> list[str]:
    """Repeated options that may also be comma-separated lists ("--dns a,b --dns c")."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]
