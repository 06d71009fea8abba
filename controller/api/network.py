"""NetworkService: the resource API over the replicated state (DESIGN.md section 5).

Every RPC is one of three shapes, declared once in the tables below:
- a write wraps its request in a Command envelope (the caller as authenticated, the request id
  the client sent or a fresh one) and proposes it through Raft from this member; the Result is
  the response or a gRPC status with details. A refused command changes nothing.
- a get or list reads the local LMDB state after a ReadIndex barrier (linearizable), or at once
  when the request sets `read.stale`; the response header carries the revision it was served at.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from alcor.controller.api.auth import Authenticator
from alcor.controller.api.errors import abort, status_of
from alcor.controller.metrics import Metrics
from alcor.controller.replica import Replica
from alcor.controller.state import reads
from alcor.controller.state.changelog import current_revision
from alcor.controller.state.errors import CommandError, invalid
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc

MAX_TIMEOUT = 30.0
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Write:
    command: str  # the Command oneof field
    response: type
    field: str | None = None  # the response field the result fills (None: nothing to return)


@dataclass(frozen=True)
class Get:
    read: Callable[..., Any]
    response: type
    field: str


@dataclass(frozen=True)
class List:
    read: Callable[..., Any]
    response: type
    field: str
    filters: tuple[str, ...]


WRITES = {
    "CreateVpc": Write("create_vpc", net.VpcResponse, "vpc"),
    "UpdateVpc": Write("update_vpc", net.VpcResponse, "vpc"),
    "DeleteVpc": Write("delete_vpc", net.DeleteResponse),
    "CreateSubnet": Write("create_subnet", net.SubnetResponse, "subnet"),
    "UpdateSubnet": Write("update_subnet", net.SubnetResponse, "subnet"),
    "DeleteSubnet": Write("delete_subnet", net.DeleteResponse),
    "CreatePort": Write("create_port", net.PortResponse, "port"),
    "CreatePorts": Write("create_ports", net.CreatePortsResponse, "ports"),
    "UpdatePort": Write("update_port", net.PortResponse, "port"),
    "DeletePort": Write("delete_port", net.DeleteResponse),
    "CreateSecurityGroup": Write("create_security_group", net.SecurityGroupResponse, "security_group"),
    "UpdateSecurityGroup": Write("update_security_group", net.SecurityGroupResponse, "security_group"),
    "DeleteSecurityGroup": Write("delete_security_group", net.DeleteResponse),
    "CreateSecurityGroupRule": Write("create_security_group_rule", net.SecurityGroupRuleResponse, "rule"),
    "DeleteSecurityGroupRule": Write("delete_security_group_rule", net.DeleteResponse),
    "CreateNode": Write("create_node", net.NodeResponse, "node"),
    "UpdateNode": Write("update_node", net.NodeResponse, "node"),
    "DeleteNode": Write("delete_node", net.DeleteResponse),
}

GETS = {
    "GetVpc": Get(reads.get_vpc, net.VpcResponse, "vpc"),
    "GetSubnet": Get(reads.get_subnet, net.SubnetResponse, "subnet"),
    "GetPort": Get(reads.get_port, net.PortResponse, "port"),
    "GetSecurityGroup": Get(reads.get_security_group, net.SecurityGroupResponse, "security_group"),
    "GetNode": Get(reads.get_node, net.NodeResponse, "node"),
}

LISTS = {
    "ListVpcs": List(reads.list_vpcs, net.ListVpcsResponse, "vpcs", ("project_id", "name")),
    "ListSubnets": List(reads.list_subnets, net.ListSubnetsResponse, "subnets", ("project_id", "vpc_id", "name")),
    "ListPorts": List(
        reads.list_ports, net.ListPortsResponse, "ports",
        ("project_id", "vpc_id", "subnet_id", "host_id", "device_id", "name", "container_id"),
    ),
    "ListSecurityGroups": List(
        reads.list_security_groups, net.ListSecurityGroupsResponse, "security_groups", ("project_id", "name")
    ),
    "ListNodes": List(reads.list_nodes, net.ListNodesResponse, "nodes", ()),
}


def call_timeout(context: grpc.aio.ServicerContext) -> float:
    remaining = context.time_remaining()
    return DEFAULT_TIMEOUT if remaining is None else max(0.05, min(remaining, MAX_TIMEOUT))


class NetworkServicer(network_pb2_grpc.NetworkServiceServicer):
    def __init__(self, replica: Replica, auth: Authenticator, metrics: Metrics, hosts: Any = None) -> None:
        self.replica = replica
        self.auth = auth
        self.metrics = metrics
        # the goal-state hub answers WaitForHosts (None on a node built without one)
        self.hosts = hosts

    def add_to_server(self, server: grpc.aio.Server) -> None:
        network_pb2_grpc.add_NetworkServiceServicer_to_server(self, server)

    async def _refuse(self, method: str, started: float, context: grpc.aio.ServicerContext,
                      exc: BaseException) -> Any:
        status = status_of(exc, self.replica.node.addresses)
        self.metrics.observe_request(method, status.code.name if status else "UNKNOWN", time.monotonic() - started)
        await abort(context, exc, self.replica.node.addresses)

    async def write(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        spec = WRITES[method]
        started = time.monotonic()
        try:
            identity = self.auth.identify(context)
            command = cmd.Command(
                version=cmd.ENVELOPE_VERSION_1,
                request_id=request.request_id or uuid.uuid4().hex,
                caller=identity.caller,
            )
            payload = getattr(command, spec.command)
            payload.CopyFrom(request)
            if identity.admin and identity.project_id:
                _default_project(payload, identity.project_id)
            result = await self.replica.submit(command, call_timeout(context))
            if result.HasField("error"):
                raise _ResultError(result.error)
        except Exception as exc:  # status_of decides; unknown ones re-raise
            return await self._refuse(method, started, context, exc)
        response = spec.response(header=self.replica.header(result.revision))
        if spec.field == "ports":
            response.ports.extend(r.port for r in result.resources.items)
        elif spec.field == "rule":
            response.rule.CopyFrom(result.rule)
        elif spec.field is not None:
            getattr(response, spec.field).CopyFrom(getattr(result.resource, spec.field))
        self.metrics.observe_request(method, "OK", time.monotonic() - started)
        return response

    async def get(self, method: str, request: net.GetRequest, context: grpc.aio.ServicerContext) -> Any:
        spec = GETS[method]
        started = time.monotonic()
        try:
            identity = self.auth.identify(context)
            if not request.id:
                raise invalid("id is required", "id", "MISSING_FIELD")
            await self.replica.read_barrier(request.read.stale, call_timeout(context))
            store = self.replica.store
            with store.read() as txn:
                item = spec.read(store.schema, txn, identity.caller, request.id)
                revision = current_revision(store.schema, txn)
        except Exception as exc:
            return await self._refuse(method, started, context, exc)
        self.metrics.observe_request(method, "OK", time.monotonic() - started)
        return spec.response(**{"header": self.replica.header(revision), spec.field: item})

    async def list(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        spec = LISTS[method]
        started = time.monotonic()
        try:
            identity = self.auth.identify(context)
            await self.replica.read_barrier(request.read.stale, call_timeout(context))
            filters = {name: getattr(request, name) for name in spec.filters}
            store = self.replica.store
            with store.read() as txn:
                page = spec.read(
                    store.schema, txn, identity.caller, **filters,
                    page_size=request.page.page_size, page_token=request.page.page_token,
                )
                revision = current_revision(store.schema, txn)
        except Exception as exc:
            return await self._refuse(method, started, context, exc)
        self.metrics.observe_request(method, "OK", time.monotonic() - started)
        return spec.response(
            **{"header": self.replica.header(revision), spec.field: page.items, "next_page_token": page.next_page_token}
        )

    async def WaitForHosts(self, request: net.WaitForHostsRequest,
                           context: grpc.aio.ServicerContext) -> net.WaitForHostsResponse:
        started = time.monotonic()
        try:
            self.auth.identify(context)
            if self.hosts is None:
                raise invalid("this member serves no goal-state streams", "", "NO_GOAL_STATE")
            timeout = request.timeout_ms / 1000 if request.timeout_ms else call_timeout(context)
            complete, hosts = await self.hosts.wait_for_hosts(request.revision, list(request.host_ids), timeout)
        except Exception as exc:
            return await self._refuse("WaitForHosts", started, context, exc)
        self.metrics.observe_request("WaitForHosts", "OK", time.monotonic() - started)
        return net.WaitForHostsResponse(
            header=self.replica.header(self.replica.store.revision), complete=complete, hosts=hosts
        )


class _ResultError(CommandError):
    """A Result's Error raised as an exception so one path turns it into the status."""

    def __init__(self, error: cmd.Error) -> None:
        Exception.__init__(self, error.message)
        self.error = error


def _default_project(payload: Any, project_id: str) -> None:
    """Fill an empty project_id (the open server's callers act in a default project)."""
    if "project_id" in payload.DESCRIPTOR.fields_by_name and not payload.project_id:
        payload.project_id = project_id
    if isinstance(payload, net.CreatePortsRequest):
        for port in payload.ports:
            _default_project(port, project_id)


def _bind(kind: str, method: str) -> Callable[..., Any]:
    async def rpc(self: NetworkServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await getattr(self, kind)(method, request, context)

    rpc.__name__ = method
    return rpc


for _name in WRITES:
    setattr(NetworkServicer, _name, _bind("write", _name))
for _name in GETS:
    setattr(NetworkServicer, _name, _bind("get", _name))
for _name in LISTS:
    setattr(NetworkServicer, _name, _bind("list", _name))
