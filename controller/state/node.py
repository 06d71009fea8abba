"""Node (host) commands: create, update, delete (admin only) and agent registration.

Decisions:
- Nodes are cluster-scoped and keyed by host_id; every write needs an admin caller.
- RegisterNode (from an agent's Hello, proposed by a controller) creates the node or refreshes
  underlay_ip, agent_version and last_seen; last_seen is stamped by the proposer and carried in
  the command, so apply stays clock-free.
- A node cannot be deleted while ports are bound to it (FAILED_PRECONDITION): unbind them first.
  Ports may be bound to a host that has not registered yet.
- underlay_ip is a unicast IPv4 address (VXLAN underlay); it is not required to be unique.
"""

from __future__ import annotations

import ipaddress

from alcor.controller.schema import prefix
from alcor.controller.state import validate
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import already_exists, failed_precondition, invalid
from alcor.controller.state.records import NODE, has_prefix
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

MUTABLE = frozenset({"name", "underlay_ip"})


def create(ctx: Ctx, req: net.CreateNodeRequest) -> res.Resource:
    ctx.require_admin("creating a node")
    host = validate.host_id(req.host_id, "host_id")
    node = res.Node(host_id=host, name=validate.text(req.name, "name"), underlay_ip=underlay(req.underlay_ip))
    if ctx.txn.get(host.encode(), db=ctx.s.nodes) is not None:
        raise already_exists(f"node {host!r} already exists", "NODE_EXISTS", "host_id")
    ctx.stamp(node, created=True)
    ctx.save(NODE, node, watch.EVENT_TYPE_CREATED)
    return NODE.resource(node)


def register(ctx: Ctx, req: cmd.RegisterNode) -> res.Resource:
    ctx.require_admin("RegisterNode")
    host = validate.host_id(req.host_id, "host_id")
    ip = underlay(req.underlay_ip)
    version = validate.text(req.agent_version, "agent_version")
    if req.last_seen_unix_ms < 0:
        raise invalid("last_seen_unix_ms is negative", "last_seen_unix_ms")
    raw = ctx.txn.get(host.encode(), db=ctx.s.nodes)
    created = raw is None
    node = res.Node(host_id=host) if raw is None else res.Node.FromString(raw)
    node.underlay_ip = ip
    node.agent_version = version
    node.last_seen_unix_ms = req.last_seen_unix_ms
    ctx.stamp(node, created=created)
    ctx.save(NODE, node, watch.EVENT_TYPE_CREATED if created else watch.EVENT_TYPE_UPDATED)
    return NODE.resource(node)


def update(ctx: Ctx, req: net.UpdateNodeRequest) -> res.Resource:
    ctx.require_admin("updating a node")
    paths = validate.update_mask(req.update_mask.paths, MUTABLE)
    node = ctx.load(NODE, req.node.host_id, "node.host_id")
    if "name" in paths:
        node.name = validate.text(req.node.name, "node.name")
    if "underlay_ip" in paths:
        node.underlay_ip = underlay(req.node.underlay_ip, "node.underlay_ip")
    ctx.stamp(node, created=False)
    ctx.save(NODE, node, watch.EVENT_TYPE_UPDATED)
    return NODE.resource(node)


def delete(ctx: Ctx, req: net.DeleteRequest) -> None:
    ctx.require_admin("deleting a node")
    node = ctx.load(NODE, req.id, "id")
    if has_prefix(ctx.txn, ctx.s.ports_by_host, prefix(node.host_id)):
        raise failed_precondition(f"node {node.host_id!r} still has ports bound to it", "NODE_IN_USE", "id")
    ctx.txn.delete(node.host_id.encode(), db=ctx.s.nodes)
    ctx.emit(watch.EVENT_TYPE_DELETED, NODE, node)


def underlay(value: str, field: str = "underlay_ip") -> str:
    ip = validate.ipv4_address(value, field)
    if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise invalid(f"{field} {value} is not a unicast address", field, "INVALID_UNDERLAY_IP")
    return str(ip)
