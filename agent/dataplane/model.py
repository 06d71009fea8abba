"""The desired data-plane state of one host, derived purely from its goal state.

`GoalState` holds a host's goal-state messages by id and applies `GoalStateUpdate`s to itself
(returning a new value). `desired(goal, config)` turns it into a `State`: the endpoints table
((vni, ip) -> a local port or a remote host), the local ports to wire, each port's compiled
security-group table, and the host config. A driver's `installed()` answers in the same `State`
shape, so `plan.plan(desired, installed)` compares like with like. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import gc
import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, ParamSpec, TypeVar

from alcor.v1 import goalstate_pb2, resources_pb2

from .rules import Ranges, RuleKey, compile_rules, expand, rules_version

KIND_VPC = goalstate_pb2.GOAL_STATE_KIND_VPC
KIND_SUBNET = goalstate_pb2.GOAL_STATE_KIND_SUBNET
KIND_PORT = goalstate_pb2.GOAL_STATE_KIND_PORT
KIND_NEIGHBOR = goalstate_pb2.GOAL_STATE_KIND_NEIGHBOR
KIND_SECURITY_GROUP = goalstate_pb2.GOAL_STATE_KIND_SECURITY_GROUP
KIND_GROUP_MEMBERS = goalstate_pb2.GOAL_STATE_KIND_GROUP_MEMBERS

# GoalStateItem oneof field -> (kind, GoalState attribute, id field of the message)
_ITEM_FIELDS = {
    "vpc": (KIND_VPC, "vpcs", "id"),
    "subnet": (KIND_SUBNET, "subnets", "id"),
    "port": (KIND_PORT, "ports", "id"),
    "neighbor": (KIND_NEIGHBOR, "neighbors", "port_id"),
    "security_group": (KIND_SECURITY_GROUP, "security_groups", "id"),
    "group_members": (KIND_GROUP_MEMBERS, "group_members", "security_group_id"),
}
_KIND_ATTR = {kind: attr for kind, attr, _ in _ITEM_FIELDS.values()}

DEFAULT_GATEWAY_MAC = "02:a1:c0:00:00:01"
MAX_VNI = (1 << 24) - 1


P = ParamSpec("P")
R = TypeVar("R")


def bulk(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with the cyclic garbage collector paused. The data plane's bulk steps build
    millions of small acyclic objects (tuples, messages); each collection would walk the whole
    growing heap to find no cycle, which made a million neighbors take ~1.7x as long. Nested
    calls leave the collector to the outermost; it is re-enabled only if it was enabled."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return run


class OutOfOrder(ValueError):
    """A delta whose base revision is not the revision the goal state is at."""


@dataclass(frozen=True)
class GoalState:
    """A host's goal state: the goal-state messages by id (neighbors by port_id, group members
    by security_group_id). `ports` are the ports bound to this host."""

    host_id: str = ""
    revision: int = 0
    vpcs: Mapping[str, resources_pb2.Vpc] = field(default_factory=dict)
    subnets: Mapping[str, resources_pb2.Subnet] = field(default_factory=dict)
    ports: Mapping[str, resources_pb2.Port] = field(default_factory=dict)
    neighbors: Mapping[str, goalstate_pb2.Neighbor] = field(default_factory=dict)
    security_groups: Mapping[str, resources_pb2.SecurityGroup] = field(default_factory=dict)
    group_members: Mapping[str, goalstate_pb2.GroupMembers] = field(default_factory=dict)

    @bulk
    def apply(self, update: goalstate_pb2.GoalStateUpdate) -> GoalState:
        """The goal state after `update`; a snapshot replaces everything, a delta must start at
        this revision. Only the collections the update touches are copied."""
        if update.full:
            tables: dict[str, dict] = {attr: {} for attr in _KIND_ATTR.values()}
        else:
            if update.base_revision != self.revision:
                raise OutOfOrder(f"delta from revision {update.base_revision}, goal state at {self.revision}")
            tables = {}

        def table(attr: str) -> dict:
            if attr not in tables:
                tables[attr] = dict(getattr(self, attr))
            return tables[attr]

        fields, get = _ITEM_FIELDS, tables.get  # the hot loop of a large snapshot
        for item in update.upserts:
            which = item.WhichOneof("item")
            if which is None:
                continue
            _, attr, id_field = fields[which]
            msg = getattr(item, which)
            target = get(attr)
            if target is None:
                target = table(attr)
            target[getattr(msg, id_field)] = msg
        for key in update.deletes:
            gone = _KIND_ATTR.get(key.kind)
            if gone is not None:
                table(gone).pop(key.id, None)
        return GoalState(
            host_id=self.host_id,
            revision=update.revision,
            **{attr: tables.get(attr, getattr(self, attr)) for attr in _KIND_ATTR.values()},
        )


class Config(NamedTuple):
    """Host-wide data-plane settings."""

    gateway_mac: str = DEFAULT_GATEWAY_MAC  # the one MAC every workload sees for every address


class Address(NamedTuple):
    ip: str
    prefixlen: int


class EndpointKey(NamedTuple):
    vni: int
    ip: str


class Endpoint(NamedTuple):
    """Where an address of a VPC lives: a port on this host, or a remote host's underlay IP."""

    local_port: str | None
    host_ip: str | None
    mac: str


@dataclass(frozen=True, slots=True)
class LocalPort:
    """A port bound to this host, as wired (netns, veth, addresses) and as programmed."""

    port_id: str
    vni: int
    mac: str
    addresses: tuple[Address, ...]
    gateway_ip: str  # the default route's next hop in the workload, "" for none
    device_id: str  # the workload netns to use when it is named by the port, else ""
    sg_enabled: bool  # security groups enforced (the port has at least one group)
    rules_version: int  # rules.rules_version of the compiled table, 0 when not enforced
    # informational: a driver cannot read group ids back, only their compiled rules
    security_group_ids: tuple[str, ...] = field(default=(), compare=False)

    @property
    def wiring(self) -> tuple:
        """What the workload's namespace and veth must look like."""
        return (self.device_id, self.mac, self.addresses, self.gateway_ip)

    @property
    def entry(self) -> tuple:
        """What the data plane's per-port entry holds."""
        return (self.vni, self.mac, self.sg_enabled, self.rules_version)


@dataclass(frozen=True)
class State:
    """A host's data plane: desired (from `desired`) or installed (from a driver)."""

    config: Config | None = None
    ports: Mapping[str, LocalPort] = field(default_factory=dict)
    endpoints: Mapping[EndpointKey, Endpoint] = field(default_factory=dict)
    rules: Mapping[str, Mapping[RuleKey, Ranges]] = field(default_factory=dict)  # by port id
    # (GoalStateKind, id) -> why that resource is not (fully) realised; desired only
    problems: Mapping[tuple[int, str], str] = field(default_factory=dict)


Desired = State
Installed = State


def _ipv4(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, text)
    except (OSError, TypeError):
        return False
    return True


def _mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts)


def _local_port(
    port: resources_pb2.Port, goal: GoalState
) -> tuple[LocalPort | None, dict[RuleKey, Ranges], list[str]]:
    vpc = goal.vpcs.get(port.vpc_id)
    if vpc is None:
        return None, {}, [f"vpc {port.vpc_id} not in goal state"]
    if not 0 < vpc.vni <= MAX_VNI:
        return None, {}, [f"vpc {vpc.id} has no valid vni ({vpc.vni})"]
    if not _mac(port.mac_address):
        return None, {}, [f"bad mac address {port.mac_address!r}"]
    addresses: list[Address] = []
    gateway = ""
    for fixed in port.fixed_ips:
        if ":" in fixed.ip_address:
            continue  # IPv6 addresses are not served by this data plane
        subnet = goal.subnets.get(fixed.subnet_id or port.subnet_id)
        if subnet is None:
            return None, {}, [f"subnet {fixed.subnet_id or port.subnet_id} not in goal state"]
        if not _ipv4(fixed.ip_address):
            return None, {}, [f"bad ip address {fixed.ip_address!r}"]
        net = ipaddress.IPv4Network(subnet.cidr, strict=False)
        addresses.append(Address(fixed.ip_address, net.prefixlen))
        if not gateway and subnet.gateway_ip:
            gateway = subnet.gateway_ip
    if not addresses:
        return None, {}, ["no IPv4 address"]
    problems: list[str] = []
    table: dict[RuleKey, Ranges] = {}
    sg_ids = tuple(port.security_group_ids)
    if sg_ids:
        expanded = []
        for sg_id in sg_ids:
            group = goal.security_groups.get(sg_id)
            if group is None:
                problems.append(f"security group {sg_id} not in goal state: its rules are not applied")
                continue
            for rule in group.rules:
                rules, problem = expand(rule, goal.group_members)
                expanded.extend(rules)
                if problem:
                    problems.append(problem)
        table, more = compile_rules(expanded)
        problems.extend(more)
    local = LocalPort(
        port_id=port.id,
        vni=vpc.vni,
        mac=port.mac_address,
        addresses=tuple(addresses),
        gateway_ip=gateway,
        device_id=port.device_id,
        sg_enabled=bool(sg_ids),
        rules_version=rules_version(table) if sg_ids else 0,
        security_group_ids=sg_ids,
    )
    return local, table, problems


@bulk
def desired(goal: GoalState, config: Config | None = None) -> State:
    """The data plane this host's goal state asks for (`config` defaults to `Config()`)."""
    config = config or Config()
    problems: dict[tuple[int, str], str] = {}
    ports: dict[str, LocalPort] = {}
    rules: dict[str, dict[RuleKey, Ranges]] = {}
    endpoints: dict[EndpointKey, Endpoint] = {}
    for port_id, port in goal.ports.items():
        local, table, port_problems = _local_port(port, goal)
        if port_problems:
            problems[(KIND_PORT, port_id)] = "; ".join(port_problems)
        if local is None:
            continue
        ports[port_id] = local
        if table:
            rules[port_id] = table
        for addr in local.addresses:
            key = EndpointKey(local.vni, addr.ip)
            if key in endpoints:
                problems[(KIND_PORT, port_id)] = (
                    f"address {addr.ip} also used by port {endpoints[key].local_port}"
                )
                continue
            endpoints[key] = Endpoint(port_id, None, local.mac)
    host_id = goal.host_id
    # the hot loop of a large VPC: attribute reads, cached checks of the few underlay addresses,
    # tuples built without the NamedTuple constructor's Python-level call
    new = tuple.__new__
    host_ok: dict[str, bool] = {}
    for port_id, n in goal.neighbors.items():
        if host_id and n.host_id == host_id:
            continue  # our own port: `ports` has it
        host_ip, ip, mac, vni = n.host_ip, n.ip_address, n.mac_address, n.vni
        if not host_ip:
            problems[(KIND_NEIGHBOR, port_id)] = f"host {n.host_id} has no underlay ip yet"
            continue
        good_host = host_ok.get(host_ip)
        if good_host is None:
            good_host = host_ok[host_ip] = _ipv4(host_ip)
        if not (good_host and len(mac) == 17 and 0 < vni <= MAX_VNI and _ipv4(ip)):
            problems[(KIND_NEIGHBOR, port_id)] = f"bad neighbor {ip!r} {mac!r} on {host_ip!r} vni {vni}"
            continue
        key = new(EndpointKey, (vni, ip))
        if key in endpoints and endpoints[key].local_port is not None:
            problems[(KIND_NEIGHBOR, port_id)] = f"address {ip} is a port on this host"
            continue
        endpoints[key] = new(Endpoint, (None, host_ip, mac))
    return State(config=config, ports=ports, endpoints=endpoints, rules=rules, problems=problems)


def owners(goal: GoalState, state: State) -> dict[EndpointKey, tuple[int, str]]:
    """The goal-state resource behind each endpoint, to attribute a failed item. Built on demand
    (after a failure) because it costs as much as `desired` itself."""
    found: dict[EndpointKey, tuple[int, str]] = {}
    for port_id, n in goal.neighbors.items():
        found[EndpointKey(n.vni, n.ip_address)] = (KIND_NEIGHBOR, port_id)
    for key, ep in state.endpoints.items():
        if ep.local_port is not None:
            found[key] = (KIND_PORT, ep.local_port)
    return found
