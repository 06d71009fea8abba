"""VPC commands: create (with a unique VNI), update name/description, delete when empty."""

from __future__ import annotations

from alcor.controller.schema import prefix
from alcor.controller.state import ipam, validate
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import failed_precondition, invalid
from alcor.controller.state.records import VPC, has_prefix
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

# A VPC must be able to hold at least one subnet, and subnets are at most /30 (subnet.py).
MAX_PREFIXLEN = 30
MUTABLE = frozenset({"name", "description"})


def create(ctx: Ctx, req: net.CreateVpcRequest) -> res.Resource:
    project = ctx.target_project(req.project_id)
    name = validate.text(req.name, "name")
    description = validate.text(req.description, "description", validate.MAX_DESCRIPTION)
    cidr = validate.ipv4_network(req.cidr, "cidr")
    if cidr.prefixlen > MAX_PREFIXLEN:
        raise invalid(f"cidr {req.cidr!r} is smaller than a /{MAX_PREFIXLEN}", "cidr", "CIDR_TOO_SMALL")
    vpc = res.Vpc(
        id=ctx.new_id("vpc"),
        project_id=project,
        name=name,
        description=description,
        cidr=str(cidr),
        vni=ipam.allocate_vni(ctx),
        status=res.VPC_STATUS_ACTIVE,
    )
    ctx.stamp(vpc, created=True)
    ctx.save(VPC, vpc, watch.EVENT_TYPE_CREATED)
    ctx.index_project(VPC, project, vpc.id)
    return VPC.resource(vpc)


def update(ctx: Ctx, req: net.UpdateVpcRequest) -> res.Resource:
    paths = validate.update_mask(req.update_mask.paths, MUTABLE)
    vpc = ctx.load(VPC, req.vpc.id, "vpc.id")
    if "name" in paths:
        vpc.name = validate.text(req.vpc.name, "vpc.name")
    if "description" in paths:
        vpc.description = validate.text(req.vpc.description, "vpc.description", validate.MAX_DESCRIPTION)
    ctx.stamp(vpc, created=False)
    ctx.save(VPC, vpc, watch.EVENT_TYPE_UPDATED)
    return VPC.resource(vpc)


def delete(ctx: Ctx, req: net.DeleteRequest) -> None:
    vpc = ctx.load(VPC, req.id, "id")
    if has_prefix(ctx.txn, ctx.s.subnets_by_vpc, prefix(vpc.id)):
        raise failed_precondition(f"vpc {vpc.id!r} still has subnets", "VPC_IN_USE", "id")
    ipam.release_vni(ctx, vpc.vni)
    ctx.txn.delete(vpc.id.encode(), db=ctx.s.vpcs)
    ctx.index_project(VPC, vpc.project_id, vpc.id, present=False)
    ctx.emit(watch.EVENT_TYPE_DELETED, VPC, vpc)
