"""Subnet commands: create (CIDR, gateway, pools, DNS, routes), update, delete when unused.

Overlap within a VPC is checked against the `subnet_cidrs` interval index: subnets of a VPC are
disjoint, so sorted by first address the only candidate to overlap [first, last] is the last
subnet starting at or before `last` — one seek, O(log n).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence

from alcor.controller.schema import prefix, u32
from alcor.controller.state import ipam, validate
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import failed_precondition, invalid
from alcor.controller.state.records import SUBNET, VPC, has_prefix
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

MAX_PREFIXLEN = 30  # network + gateway + broadcast + at least one port address
MAX_POOLS = 16
MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20
MUTABLE = frozenset({"name", "description", "dns_nameservers", "host_routes"})


def create(ctx: Ctx, req: net.CreateSubnetRequest) -> res.Resource:
    vpc, project = ctx.parent(VPC, req.vpc_id, "vpc_id", req.project_id)
    name = validate.text(req.name, "name")
    description = validate.text(req.description, "description", validate.MAX_DESCRIPTION)
    cidr = validate.ipv4_network(req.cidr, "cidr")
    if cidr.prefixlen > MAX_PREFIXLEN:
        raise invalid(f"cidr {req.cidr!r} is smaller than a /{MAX_PREFIXLEN}", "cidr", "CIDR_TOO_SMALL")
    if not cidr.subnet_of(ipaddress.IPv4Network(vpc.cidr)):
        raise invalid(f"cidr {cidr} is not inside the vpc's {vpc.cidr}", "cidr", "CIDR_OUTSIDE_VPC")
    first, last = int(cidr.network_address), int(cidr.broadcast_address)
    gateway = _gateway(req.gateway_ip, first, last)
    pools = _pools(req.allocation_pools, first, last, gateway)
    dns = _dns(req.dns_nameservers)
    routes = _routes(req.host_routes)
    other = _overlapping(ctx, vpc.id, first, last)
    if other is not None:
        raise failed_precondition(
            f"cidr {cidr} overlaps subnet {other!r} of vpc {vpc.id!r}", "SUBNET_OVERLAP", "cidr"
        )
    subnet = res.Subnet(
        id=ctx.new_id("subnet"),
        project_id=project,
        name=name,
        description=description,
        vpc_id=vpc.id,
        cidr=str(cidr),
        gateway_ip=ipam.ip_text(gateway),
        allocation_pools=[res.IpRange(start=ipam.ip_text(a), end=ipam.ip_text(b)) for a, b in pools],
        dns_nameservers=dns,
        host_routes=routes,
    )
    ctx.stamp(subnet, created=True)
    ctx.save(SUBNET, subnet, watch.EVENT_TYPE_CREATED)
    ctx.index_project(SUBNET, project, subnet.id)
    ctx.txn.put(prefix(vpc.id) + subnet.id.encode(), b"", db=ctx.s.subnets_by_vpc)
    ctx.txn.put(prefix(vpc.id) + u32(first), u32(last) + subnet.id.encode(), db=ctx.s.subnet_cidrs)
    ipam.init_pools(ctx, subnet.id, pools)
    return SUBNET.resource(subnet)


def update(ctx: Ctx, req: net.UpdateSubnetRequest) -> res.Resource:
    paths = validate.update_mask(req.update_mask.paths, MUTABLE)
    subnet = ctx.load(SUBNET, req.subnet.id, "subnet.id")
    if "name" in paths:
        subnet.name = validate.text(req.subnet.name, "subnet.name")
    if "description" in paths:
        subnet.description = validate.text(
            req.subnet.description, "subnet.description", validate.MAX_DESCRIPTION
        )
    if "dns_nameservers" in paths:
        subnet.dns_nameservers[:] = _dns(req.subnet.dns_nameservers, "subnet.dns_nameservers")
    if "host_routes" in paths:
        routes = _routes(req.subnet.host_routes, "subnet.host_routes")
        del subnet.host_routes[:]
        subnet.host_routes.extend(routes)
    ctx.stamp(subnet, created=False)
    ctx.save(SUBNET, subnet, watch.EVENT_TYPE_UPDATED)
    return SUBNET.resource(subnet)


def delete(ctx: Ctx, req: net.DeleteRequest) -> None:
    subnet = ctx.load(SUBNET, req.id, "id")
    if has_prefix(ctx.txn, ctx.s.ports_by_subnet, prefix(subnet.id)):
        raise failed_precondition(f"subnet {subnet.id!r} still has ports", "SUBNET_IN_USE", "id")
    first = int(ipaddress.IPv4Network(subnet.cidr).network_address)
    ctx.txn.delete(subnet.id.encode(), db=ctx.s.subnets)
    ctx.index_project(SUBNET, subnet.project_id, subnet.id, present=False)
    ctx.txn.delete(prefix(subnet.vpc_id) + subnet.id.encode(), db=ctx.s.subnets_by_vpc)
    ctx.txn.delete(prefix(subnet.vpc_id) + u32(first), db=ctx.s.subnet_cidrs)
    ipam.drop_pools(ctx, subnet.id)
    ctx.emit(watch.EVENT_TYPE_DELETED, SUBNET, subnet)


def _overlapping(ctx: Ctx, vpc_id: str, first: int, last: int) -> str | None:
    """The id of a subnet of `vpc_id` overlapping [first, last], if any."""
    p = prefix(vpc_id)
    cur = ctx.txn.cursor(db=ctx.s.subnet_cidrs)
    key = p + u32(last)
    if cur.set_range(key):
        if cur.key() == key:
            return bytes(cur.value()[4:]).decode()
        found = cur.prev()
    else:
        found = cur.last()
    if not found or not cur.key().startswith(p):
        return None
    value = cur.value()
    if int.from_bytes(value[:4], "big") >= first:
        return bytes(value[4:]).decode()
    return None


def _gateway(value: str, first: int, last: int) -> int:
    if not value:
        return first + 1
    gateway = int(validate.ipv4_address(value, "gateway_ip"))
    if not first < gateway < last:
        raise invalid(
            f"gateway_ip {value} must be a usable address of the cidr (not network or broadcast)",
            "gateway_ip",
            "INVALID_GATEWAY",
        )
    return gateway


def _pools(ranges: Sequence[res.IpRange], first: int, last: int, gateway: int) -> list[tuple[int, int]]:
    """The allocation pools: given ones checked and sorted, else the CIDR minus reserved addresses."""
    if not ranges:
        default = [(first + 1, gateway - 1), (gateway + 1, last - 1)]
        return [(a, b) for a, b in default if a <= b]
    validate.at_most(ranges, MAX_POOLS, "allocation_pools")
    pools = []
    for i, r in enumerate(ranges):
        field = f"allocation_pools[{i}]"
        start = int(validate.ipv4_address(r.start, f"{field}.start"))
        end = int(validate.ipv4_address(r.end, f"{field}.end"))
        if start > end:
            raise invalid(f"{field}: start {r.start} is after end {r.end}", field, "INVALID_POOL")
        if not (first < start and end < last):
            raise invalid(
                f"{field} {r.start}-{r.end} is not inside the cidr's usable addresses",
                field,
                "POOL_OUTSIDE_CIDR",
            )
        if start <= gateway <= end:
            raise invalid(f"{field} {r.start}-{r.end} contains the gateway", field, "POOL_CONTAINS_GATEWAY")
        pools.append((start, end))
    pools.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(pools):
        if start <= prev_end:
            raise invalid("allocation_pools overlap", "allocation_pools", "POOL_OVERLAP")
    return pools


def _dns(values: Sequence[str], field: str = "dns_nameservers") -> list[str]:
    validate.at_most(values, MAX_DNS_NAMESERVERS, field)
    out = [validate.ip_address(v, f"{field}[{i}]") for i, v in enumerate(values)]
    validate.unique(out, field)
    return out


def _routes(values: Sequence[res.HostRoute], field: str = "host_routes") -> list[res.HostRoute]:
    validate.at_most(values, MAX_HOST_ROUTES, field)
    out = []
    for i, r in enumerate(values):
        destination = validate.ipv4_network(r.destination, f"{field}[{i}].destination")
        nexthop = validate.ipv4_address(r.nexthop, f"{field}[{i}].nexthop")
        out.append(res.HostRoute(destination=str(destination), nexthop=str(nexthop)))
    validate.unique([r.destination for r in out], field)
    return out
