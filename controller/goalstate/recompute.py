"""A host's goal state computed from scratch from the store: the reference the incremental
engine is checked against (tests, tools), written independently of the engine's index.

It walks the store's own indexes (ports by host, by VPC, by security group) in one read
transaction and builds items with the shared builders of `items`.
"""

from __future__ import annotations

from typing import Any

from alcor.controller.goalstate import items as it
from alcor.controller.goalstate.items import Key
from alcor.controller.schema import Schema, to_int
from alcor.controller.state import reads
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import resources_pb2 as res


def host_goal_state(s: Schema, txn: Any, host: str) -> dict[Key, gs.GoalStateItem]:
    out: dict[Key, gs.GoalStateItem] = {}
    own = list(reads.iter_ports(s, txn, host_id=host))
    vpc_ids: set[str] = set()
    group_ids: set[str] = set()
    for port in own:
        config = to_int(txn.get((host + "\x00" + port.id).encode(), db=s.ports_by_host))
        out[(it.KIND_PORT, port.id)] = it.port_item(port, config)
        vpc_ids.add(port.vpc_id)
        group_ids.update(port.security_group_ids)
        for subnet_id in it.port_subnets(port):
            out[(it.KIND_SUBNET, subnet_id)] = it.subnet_item(_get(txn, s.subnets, res.Subnet, subnet_id))
    for vpc_id in vpc_ids:
        vpc = _get(txn, s.vpcs, res.Vpc, vpc_id)
        out[(it.KIND_VPC, vpc_id)] = it.vpc_item(vpc)
        for other in reads.iter_ports(s, txn, vpc_id=vpc_id):
            if other.host_id and other.host_id != host:
                raw = txn.get(other.host_id.encode(), db=s.nodes)
                host_ip = res.Node.FromString(raw).underlay_ip if raw is not None else ""
                out[(it.KIND_NEIGHBOR, other.id)] = it.neighbor_item(other, vpc.vni, host_ip)
    referenced: set[str] = set()
    for group_id in group_ids:
        group = _get(txn, s.security_groups, res.SecurityGroup, group_id)
        out[(it.KIND_SECURITY_GROUP, group_id)] = it.security_group_item(group)
        referenced.update(it.rule_references(group))
    for group_id in referenced:
        addresses = [
            f.ip_address for p in reads.iter_ports(s, txn, security_group_id=group_id) for f in p.fixed_ips
        ]
        out[(it.KIND_GROUP_MEMBERS, group_id)] = it.group_members_item(group_id, addresses)
    return out


def hosts(s: Schema, txn: Any) -> set[str]:
    """Every host with a bound port or a node record."""
    found = {
        key.split(b"\x00", 1)[0].decode() for key in txn.cursor(db=s.ports_by_host).iternext(values=False)
    }
    found.update(key.decode() for key in txn.cursor(db=s.nodes).iternext(values=False))
    return found


def _get(txn: Any, db: Any, message: Any, id_: str) -> Any:
    raw = txn.get(id_.encode(), db=db)
    if raw is None:
        raise LookupError(f"{message.DESCRIPTOR.name} {id_!r} is referenced but missing")
    return message.FromString(raw)
