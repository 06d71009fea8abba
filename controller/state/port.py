"""Port commands: create (one or a bulk), update, delete, and agent-reported status.

Decisions:
- Addresses: every `fixed_ips` entry names a subnet (default: the port's) in the same VPC and
  project as the port's subnet. An entry with an address claims it: it must be a usable address
  of that subnet's CIDR (not network, broadcast or gateway) and may lie outside the allocation
  pools; an entry without one gets the pools' lowest free address. No entries: one address
  from the port's subnet.
- Security groups: none listed on create means the project's default group (created on first
  use). An update that sets an empty list leaves the port in no group.
- Status: DOWN on create and whenever host_id changes. Agents report ACTIVE/ERROR through the
  internal UpdatePortStatuses command; a report is stale, and ignored, when it names another
  host than the port's binding, or when its `port_revision` (the port revision the agent
  programmed) is older than the port's last configuration change. Status changes bump the
  port's revision like any other change, but not its configuration revision (kept as the value
  of the port's `ports_by_host` entry, which every configuration change rewrites), so a report
  about the current configuration is accepted whatever status updates happened in between.
- Speed: every replica applies every create, so the create path is kept lean. In a bulk create
  (`Ctx.batch`) the records a port create only reads (the subnet, other subnets of its
  addresses, the project's default group) are resolved once per command through `Ctx.memo`
  (creating ports never changes them; named security groups are memoized in any command), and
  the allocators hold their state in memory until the command ends (ipam.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from alcor.controller.schema import to_int, u64
from alcor.controller.state import ipam, security_group, validate
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import invalid, not_found
from alcor.controller.state.records import PORT, SECURITY_GROUP, SUBNET, in_project
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

MAX_FIXED_IPS = 16
MAX_SECURITY_GROUPS = 16
MAX_BULK = 1000
MUTABLE = frozenset({"name", "host_id", "device_id", "security_group_ids"})
_REPORTED_STATUSES = frozenset({res.PORT_STATUS_DOWN, res.PORT_STATUS_ACTIVE, res.PORT_STATUS_ERROR})


def create(ctx: Ctx, req: net.CreatePortRequest) -> res.Resource:
    return _create(ctx, req, "")


def create_many(ctx: Ctx, req: net.CreatePortsRequest) -> list[res.Resource]:
    """All ports or none: the first error rolls back every port created before it (apply.py)."""
    if not req.ports:
        raise invalid("ports is required", "ports", "FIELD_REQUIRED")
    validate.at_most(req.ports, MAX_BULK, "ports")
    ctx.batch = True
    out = []
    for i, item in enumerate(req.ports):
        if item.request_id:
            raise invalid(
                f"ports[{i}].request_id must be empty (the bulk request_id covers every port)",
                f"ports[{i}].request_id",
            )
        out.append(_create(ctx, item, f"ports[{i}]."))
    return out


def _create(ctx: Ctx, req: net.CreatePortRequest, f: str) -> res.Resource:
    """The new port, built inside the Resource the command returns (saves a copy per port)."""
    # The order of the checks decides which error a bad request gets: keep it.
    subnet, project = _parent(ctx, req.subnet_id, req.project_id, f)
    name = validate.text(req.name, f + "name")
    host_id = validate.host_id(req.host_id, f + "host_id") if req.host_id else ""
    device_id = validate.text(req.device_id, f + "device_id")
    ifname = validate.interface_name(req.interface_name, f + "interface_name") if req.interface_name else ""
    if req.HasField("container"):
        _container(req.container, f + "container.")
    port_id = ctx.new_id("port")
    fixed_ips = _addresses(ctx, port_id, subnet, req.fixed_ips, project, f + "fixed_ips")
    if req.mac_address:
        mac = validate.mac_address(req.mac_address, f + "mac_address")
        ipam.claim_mac(ctx, mac, port_id, f + "mac_address")
    else:
        mac = ipam.allocate_mac(ctx, port_id, f + "mac_address")
    groups = _groups(ctx, req.security_group_ids, project, f + "security_group_ids")
    # (setting fields one by one is cheaper in upb than passing them all to the constructor)
    resource = res.Resource()
    port = resource.port
    port.id, port.project_id, port.name = port_id, project, name
    port.host_id, port.device_id = host_id, device_id
    if ifname:
        port.interface_name = ifname
    if req.HasField("container"):
        port.container.CopyFrom(req.container)
    port.vpc_id = subnet.vpc_id
    port.subnet_id = subnet.id
    for subnet_id, ip in fixed_ips:
        port.fixed_ips.add(subnet_id=subnet_id, ip_address=ip)
    port.mac_address = validate.format_mac(mac)
    port.security_group_ids.extend(groups or [_default_group(ctx, project)])
    port.status = res.PORT_STATUS_DOWN
    port.create_revision = port.revision = ctx.revision
    ctx.save(PORT, port, watch.EVENT_TYPE_CREATED)
    _index(ctx, port, present=True)
    return resource


def _container(container: res.PortContainer, f: str) -> None:
    for name in ("container_id", "pod_namespace", "pod_name", "pod_uid"):
        validate.text(getattr(container, name), f + name)


def _parent(ctx: Ctx, subnet_id: str, requested: str, f: str) -> tuple[res.Subnet, str]:
    """The port's subnet and project (Ctx.parent), once per command for each distinct pair."""
    key = ("port.parent", subnet_id, requested)
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.parent(SUBNET, subnet_id, f + "subnet_id", requested, f + "project_id")
        if ctx.batch:  # (one port: nothing to reuse)
            ctx.memo[key] = found
    return found  # type: ignore[no-any-return]


def _subnet(ctx: Ctx, subnet_id: str, project: str, field: str) -> res.Subnet:
    key = ("port.subnet", subnet_id, project)
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.load(SUBNET, subnet_id, field, project)
        if ctx.batch:
            ctx.memo[key] = found
    return found  # type: ignore[no-any-return]


def _default_group(ctx: Ctx, project: str) -> str:
    key = ("port.default_group", project)
    found = ctx.memo.get(key)
    if found is None:
        found = security_group.ensure_default(ctx, project)
        if ctx.batch:
            ctx.memo[key] = found
    return found  # type: ignore[no-any-return]


def update(ctx: Ctx, req: net.UpdatePortRequest) -> res.Resource:
    paths = validate.update_mask(req.update_mask.paths, MUTABLE)
    port = ctx.load(PORT, req.port.id, "port.id")
    new = req.port
    _index(ctx, port, present=False)
    if "name" in paths:
        port.name = validate.text(new.name, "port.name")
    if "device_id" in paths:
        port.device_id = validate.text(new.device_id, "port.device_id")
    if "host_id" in paths:
        host = validate.host_id(new.host_id, "port.host_id") if new.host_id else ""
        if host != port.host_id:
            port.host_id = host
            port.status = res.PORT_STATUS_DOWN
            port.status_detail = ""
    if "security_group_ids" in paths:
        groups = _groups(ctx, new.security_group_ids, port.project_id, "port.security_group_ids")
        port.security_group_ids[:] = groups
    ctx.stamp(port, created=False)
    ctx.save(PORT, port, watch.EVENT_TYPE_UPDATED)
    _index(ctx, port, present=True)
    return PORT.resource(port)


def delete(ctx: Ctx, req: net.DeleteRequest) -> None:
    port = ctx.load(PORT, req.id, "id")
    for fip in port.fixed_ips:
        ipam.release_ip(ctx, fip.subnet_id, ipam.ip_int(fip.ip_address))
    ipam.release_mac(ctx, int(port.mac_address.replace(":", ""), 16))
    _index(ctx, port, present=False)
    ctx.txn.delete(port.id.encode(), db=ctx.s.ports)
    ctx.emit(watch.EVENT_TYPE_DELETED, PORT, port)


def update_statuses(ctx: Ctx, req: cmd.UpdatePortStatuses) -> None:
    """Apply agent reports; stale or unknown ones are skipped (see the module docstring)."""
    ctx.require_admin("UpdatePortStatuses")
    for i, u in enumerate(req.updates):
        field = f"updates[{i}]"
        validate.enum_value(u.status, _REPORTED_STATUSES, f"{field}.status", "port status")
        validate.text(u.status_detail, f"{field}.status_detail", validate.MAX_DETAIL)
    for u in req.updates:
        if not u.port_id or not u.host_id or len(u.port_id.encode()) > validate.MAX_ID_BYTES:
            continue
        if len(u.host_id.encode()) > validate.MAX_ID_BYTES:
            continue
        binding = ctx.txn.get((u.host_id + "\x00" + u.port_id).encode(), db=ctx.s.ports_by_host)
        if binding is None:
            continue  # deleted, or no longer bound to that host
        if u.port_revision < to_int(binding):
            continue  # about an older configuration
        port = res.Port.FromString(ctx.txn.get(u.port_id.encode(), db=ctx.s.ports))
        if port.status == u.status and port.status_detail == u.status_detail:
            continue
        port.status = u.status
        port.status_detail = u.status_detail
        ctx.stamp(port, created=False)
        ctx.save(PORT, port, watch.EVENT_TYPE_UPDATED)


def _addresses(
    ctx: Ctx, port_id: str, subnet: res.Subnet, requested: Sequence[res.FixedIp], project: str, field: str
) -> list[tuple[str, str]]:
    """The port's addresses as (subnet id, address), allocated or claimed in request order."""
    if not requested:  # the common case: one address from the port's subnet
        return [(subnet.id, ipam.ip_text(ipam.allocate_ip(ctx, subnet.id, port_id, field)))]
    validate.at_most(requested, MAX_FIXED_IPS, field)
    out = []
    for i, fip in enumerate(requested):
        f = f"{field}[{i}]"
        sid = fip.subnet_id or subnet.id
        sn = subnet
        if sid != subnet.id:
            sn = _subnet(ctx, sid, project, f + ".subnet_id")
            if sn.vpc_id != subnet.vpc_id:
                raise invalid(
                    f"{f}.subnet_id {sid!r} is not in the port's vpc {subnet.vpc_id!r}",
                    f + ".subnet_id",
                    "SUBNET_IN_OTHER_VPC",
                )
        if fip.ip_address:
            ip = _usable(sn, fip.ip_address, f + ".ip_address")
            ipam.claim_ip(ctx, sid, ip, port_id, f + ".ip_address")
        else:
            ip = ipam.allocate_ip(ctx, sid, port_id, f)
        out.append((sid, ipam.ip_text(ip)))
    return out


def _usable(subnet: res.Subnet, text: str, field: str) -> int:
    """A requested address, checked to be a usable address of `subnet`'s CIDR."""
    ip = int(validate.ipv4_address(text, field))
    cidr = ipaddress.IPv4Network(subnet.cidr)
    first, last = int(cidr.network_address), int(cidr.broadcast_address)
    if not first <= ip <= last:
        raise invalid(
            f"{field} {text} is not inside subnet {subnet.id!r} ({subnet.cidr})", field, "IP_OUTSIDE_SUBNET"
        )
    if ip in (first, last):
        raise invalid(f"{field} {text} is the network or broadcast address", field, "IP_RESERVED")
    if text == subnet.gateway_ip:
        raise invalid(f"{field} {text} is the subnet's gateway", field, "IP_IS_GATEWAY")
    return ip


def _groups(ctx: Ctx, ids: Sequence[str], project: str, field: str) -> list[str]:
    if not ids:
        return []
    validate.at_most(ids, MAX_SECURITY_GROUPS, field)
    validate.unique(ids, field)
    for i, id_ in enumerate(ids):
        validate.ref_id(id_, f"{field}[{i}]", SECURITY_GROUP.label)
        key = ("port.group", id_, project)
        if key not in ctx.memo:
            if not in_project(ctx.s, ctx.txn, SECURITY_GROUP, id_, project):
                raise not_found(SECURITY_GROUP.label, id_, f"{field}[{i}]")
            ctx.memo[key] = True
    return list(ids)


def _index(ctx: Ctx, port: res.Port, present: bool) -> None:
    """Add or remove every secondary index entry of `port`.

    Adding happens on every configuration change (create, update), so the host entry's value,
    the configuration revision, is this command's revision.
    """
    # keys are "<parent id>\0<port id>"; built inline (this is the hottest path of a port create)
    s, pid = ctx.s, "\x00" + port.id
    if port.host_id:
        host_key = (port.host_id + pid).encode()
        if present:  # entries are removed before they are added again: the key is new
            ctx.txn.insert(host_key, u64(ctx.revision), db=s.ports_by_host)
        else:
            ctx.txn.delete(host_key, db=s.ports_by_host)
    keys = [
        (s.ports_by_vpc, port.vpc_id + pid),
        (s.ports_by_project, port.project_id + pid),
        (s.ports_by_subnet, port.subnet_id + pid),
    ]
    for sid in dict.fromkeys(f.subnet_id for f in port.fixed_ips):
        if sid != port.subnet_id:
            keys.append((s.ports_by_subnet, sid + pid))
    for gid in port.security_group_ids:
        keys.append((s.ports_by_security_group, gid + pid))
    if present:
        insert = ctx.txn.insert
        for db, key in keys:
            insert(key.encode(), b"", db=db)
    else:
        delete = ctx.txn.delete
        for db, key in keys:
            delete(key.encode(), db=db)
