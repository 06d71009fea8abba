"""The desired data-plane state of one host, derived purely from its goal state.

`GoalState` holds a host's goal-state messages by id and applies `GoalStateUpdate`s to itself
(returning a new value). `desired(goal, config)` turns it into a `State`: the endpoints table
((vni, ip) -> a local port or a remote host), the local ports to wire, each port's compiled
security-group table, and the host config. A driver's `installed()` answers in the same `State`
shape, so `plan.plan(desired, installed)` compares like with like. Nothing here does I/O.

The endpoints table is held compact (`Endpoints`): a VPC can have a million neighbors, and a
tuple per endpoint made every stage from goal state to map cost microseconds each. Keys are
packed once (`ENDPOINT_KEY`), an endpoint on another host is its packed value (`REMOTE`, the
bytes the data plane's map holds), so comparing, planning and writing move bytes, not objects.
"""

from __future__ import annotations

import functools
import gc
import ipaddress
import socket
import struct
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import compress, repeat
from operator import attrgetter, not_
from typing import NamedTuple, ParamSpec, TypeVar

from alcor.addresses import changed
from alcor.goalstate_kinds import (
    ITEM_KEY,
    KIND_GROUP_MEMBERS,
    KIND_NEIGHBOR,
    KIND_PORT,
    KIND_SECURITY_GROUP,
    KIND_SUBNET,
    KIND_VPC,
)
from alcor.v1 import goalstate_pb2, resources_pb2

from .columns import NeighborTable, Snapshot, Update
from .layered import Layered
from .rules import Ranges, RuleKey, compile_rules, expand, rules_version
from .workload import WORKLOAD_IFNAME

# the GoalState attribute that holds each kind's items
KIND_TABLE = {
    KIND_VPC: "vpcs",
    KIND_SUBNET: "subnets",
    KIND_PORT: "ports",
    KIND_NEIGHBOR: "neighbors",
    KIND_SECURITY_GROUP: "security_groups",
    KIND_GROUP_MEMBERS: "group_members",
}
# GoalStateItem oneof field -> (kind, GoalState attribute, id field of the message); a
# GroupMembersChange is applied on its own (GoalState.apply)
_ITEM_FIELDS = {
    which: (kind, KIND_TABLE[kind], field)
    for which, (kind, field) in ITEM_KEY.items()
    if which != "group_members_change"
}
_NEIGHBOR, _PORT_ID = attrgetter("neighbor"), attrgetter("port_id")

DEFAULT_GATEWAY_MAC = "02:a1:c0:00:00:01"
# from this size on a delta makes a new version of the neighbors table instead of a copy
LAYERED_NEIGHBORS = 4096
MAX_VNI = (1 << 24) - 1


P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


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
    def apply(self, update: Update) -> GoalState:
        """The goal state after `update`; a snapshot replaces everything, a delta must start at
        this revision. Only the collections the update touches are copied."""
        if isinstance(update, Snapshot):  # decoded column-wise: its neighbors are a table already
            return replace(GoalState(self.host_id).apply(update.rest), neighbors=update.neighbors)
        if update.full:
            tables: dict[str, dict] = {attr: {} for attr in KIND_TABLE.values()}
        else:
            if update.base_revision != self.revision:
                raise OutOfOrder(f"delta from revision {update.base_revision}, goal state at {self.revision}")
            tables = {}

        def table(attr: str) -> dict:
            if attr not in tables:
                tables[attr] = dict(getattr(self, attr))
            return tables[attr]

        # a large neighbors table is not copied: the delta's neighbors make a new `Layered`
        # version of it (these two lists), the old goal state keeping its own
        layered = not update.full and (
            isinstance(self.neighbors, (Layered, NeighborTable)) or len(self.neighbors) >= LAYERED_NEIGHBORS
        )
        set_neighbors: list[tuple[str, goalstate_pb2.Neighbor]] = []
        del_neighbors: list[str] = []

        # a large snapshot is nearly all neighbors: they are read with C-level loops (map,
        # zip), no bytecode and no WhichOneof per item. Reading `neighbor` of another kind of
        # item gives an empty message (reads never set a oneof) with port_id "": those items
        # (and a neighbor without a port id) take the general path below.
        upserts = update.upserts
        msgs = list(map(_NEIGHBOR, upserts))
        ids = list(map(_PORT_ID, msgs))
        others = list(compress(range(len(ids)), map(not_, ids)))
        if layered:
            set_neighbors.extend((i, m) for i, m in zip(ids, msgs, strict=True) if i)
        elif len(others) < len(ids):
            neighbors = table("neighbors")
            blank = neighbors.get("")
            neighbors.update(zip(ids, msgs, strict=True))
            if others:  # "" now names an empty message of another item: undo that
                if blank is None:
                    del neighbors[""]
                else:
                    neighbors[""] = blank
        del msgs, ids
        fields, get = _ITEM_FIELDS, tables.get
        for i in others:
            item = upserts[i]
            which = item.WhichOneof("item")
            if which is None:
                continue
            if which == "group_members_change":
                _change_members(table("group_members"), item.group_members_change)
                continue
            _, attr, id_field = fields[which]
            msg = getattr(item, which)
            if layered and attr == "neighbors":
                set_neighbors.append((getattr(msg, id_field), msg))
                continue
            target = get(attr)
            if target is None:
                target = table(attr)
            target[getattr(msg, id_field)] = msg
        for key in update.deletes:
            gone = KIND_TABLE.get(key.kind)
            if gone is None:
                continue
            if layered and gone == "neighbors":
                del_neighbors.append(key.id)
            else:
                table(gone).pop(key.id, None)
        if set_neighbors or del_neighbors:
            held = self.neighbors
            if not isinstance(held, Layered):  # a table is never changed once made: share it
                held = Layered(held)
            tables["neighbors"] = held.updated(set_neighbors, del_neighbors)  # type: ignore[assignment]
        return GoalState(
            host_id=self.host_id,
            revision=update.revision,
            **{attr: tables.get(attr, getattr(self, attr)) for attr in KIND_TABLE.values()},
        )


def _change_members(members: dict, change: goalstate_pb2.GroupMembersChange) -> None:
    held = members.get(change.security_group_id)
    if held is None:
        raise OutOfOrder(
            f"a change to the members of group {change.security_group_id}, which it does not hold"
        )
    addresses = changed(held.ip_addresses, change.added_ip_addresses, change.removed_ip_addresses)
    members[change.security_group_id] = goalstate_pb2.GroupMembers(
        security_group_id=change.security_group_id, ip_addresses=addresses
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


# The compact endpoint: the key is (vni in host order, IPv4 in network order); a remote value is
# (ifindex 0, host IP, MAC, flags 0, pad), the layout of the data plane's endpoints map
# (ebpf/layout.py uses these very structs; its size checks tie them to dp.bpf.c).
ENDPOINT_KEY = struct.Struct("<I4s")
REMOTE = struct.Struct("<I4s6sBx")


def pack_key(key: tuple[int, str]) -> bytes:
    """The packed form of (vni, ip); raises ValueError for a bad one."""
    vni, ip = key
    try:
        return ENDPOINT_KEY.pack(vni, socket.inet_pton(socket.AF_INET, ip))
    except (OSError, TypeError, struct.error) as e:
        raise ValueError(f"bad endpoint key {key!r}: {e}") from None


def unpack_key(raw: bytes) -> EndpointKey:
    vni, ip = ENDPOINT_KEY.unpack(raw)
    return EndpointKey(vni, socket.inet_ntop(socket.AF_INET, ip))


def pack_remote(host_ip: str, mac: str) -> bytes:
    """The packed value of an endpoint on host `host_ip`; raises ValueError for a bad one."""
    try:
        raw_mac = bytes.fromhex(mac.replace(":", ""))
        if len(mac) != 17 or len(raw_mac) != 6:
            raise ValueError("not a MAC")
        return REMOTE.pack(0, socket.inet_pton(socket.AF_INET, host_ip), raw_mac, 0)
    except (OSError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"bad remote endpoint {host_ip!r} {mac!r}: {e}") from None


def unpack_remote(raw: bytes) -> Endpoint:
    _, host, mac, _ = REMOTE.unpack(raw)
    return Endpoint(None, socket.inet_ntop(socket.AF_INET, host), mac.hex(":"))


class Endpoints(Mapping[EndpointKey, Endpoint]):
    """The endpoints table, compact: `local` maps a packed key to the `Endpoint` of a port on
    this host (a driver turns the port into its device); the endpoints on other hosts are packed
    keys and packed values. A key is local or remote, never both. What it is built from is taken
    as given (not copied) and must not change afterwards.

    The remote part comes either as a dict (`remote`, what a driver reads back) or, from
    `desired`, as `packed(local, keys, values)`: the keys in a list and the values end to end,
    so that programming a host that has none of them needs no per-entry work at all (a key may
    repeat there; the last one counts, as it would in the map). The dict is built from the
    packed form the first time it is asked for. Read as a Mapping, the table answers
    `EndpointKey -> Endpoint`, unpacking on the fly, for the few readers that want tuples."""

    __slots__ = ("_keys", "_remote", "_values", "local")

    def __init__(self, local: dict[bytes, Endpoint] | None = None, remote: dict[bytes, bytes] | None = None):
        self.local: dict[bytes, Endpoint] = {} if local is None else local
        self._remote: dict[bytes, bytes] | None = {} if remote is None else remote
        self._keys: list[bytes] = []
        self._values = b""

    @classmethod
    def packed(cls, local: dict[bytes, Endpoint], keys: list[bytes], values: bytes) -> Endpoints:
        """The table of `local` and the remote entries `keys[i]` -> `values[i * REMOTE.size:]`."""
        if len(values) != len(keys) * REMOTE.size:
            raise ValueError(f"{len(keys)} keys and {len(values)} bytes of values")
        table = cls(local)
        table._remote, table._keys, table._values = None, keys, values
        return table

    @classmethod
    def of(cls, entries: Iterable[tuple[tuple[int, str], Endpoint]]) -> Endpoints:
        """The table of these (key, endpoint) pairs (later pairs win); raises ValueError."""
        local: dict[bytes, Endpoint] = {}
        remote: dict[bytes, bytes] = {}
        for key, ep in entries:
            raw = pack_key(key)
            if ep.local_port is not None:
                local[raw] = ep
                remote.pop(raw, None)
            else:
                remote[raw] = pack_remote(ep.host_ip or "", ep.mac)
                local.pop(raw, None)
        return cls(local, remote)

    @property
    def remote(self) -> dict[bytes, bytes]:
        """Packed key -> packed value of every endpoint on another host."""
        if self._remote is None:
            vs, values = REMOTE.size, self._values
            self._remote = dict(
                zip(self._keys, [values[i : i + vs] for i in range(0, len(values), vs)], strict=True)
            )
        return self._remote

    def remote_keys(self) -> Iterable[bytes]:
        """The remote keys, without building the dict (a key may repeat)."""
        return self._keys if self._remote is None else self._remote.keys()

    def remote_key_sets(self) -> tuple[set[bytes], set[bytes]]:
        """The remote keys, and those of them listed more than once in the packed form."""
        if not self._keys:
            return set(self.remote), set()
        held = set(self._keys)
        if len(held) == len(self._keys):
            return held, set()
        return held, {k for k, n in Counter(self._keys).items() if n > 1}

    def remote_bulk(self) -> tuple[bytes, bytes]:
        """Every remote entry, as (keys, values) end to end: a batch update's buffers."""
        if self._remote is None:
            return b"".join(self._keys), self._values
        return b"".join(self._remote), b"".join(self._remote.values())

    def __getitem__(self, key: EndpointKey) -> Endpoint:
        try:
            raw = pack_key(key)
        except (TypeError, ValueError):
            raise KeyError(key) from None
        ep = self.local.get(raw)
        if ep is not None:
            return ep
        value = self.remote.get(raw)
        if value is None:
            raise KeyError(key)
        return unpack_remote(value)

    def __iter__(self) -> Iterator[EndpointKey]:
        for raw in self.local:
            yield unpack_key(raw)
        for raw in self.remote:
            yield unpack_key(raw)

    def __len__(self) -> int:
        return len(self.local) + len(self.remote)

    def __bool__(self) -> bool:
        return bool(self.local or self._keys or self._remote)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Endpoints):
            return self.local == other.local and self.remote == other.remote
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Endpoints({len(self.local)} local, {len(self.remote)} remote)"


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
    interface_name: str = WORKLOAD_IFNAME  # the workload's interface inside device_id's namespace
    # informational: a driver cannot read group ids back, only their compiled rules
    security_group_ids: tuple[str, ...] = field(default=(), compare=False)

    @property
    def wiring(self) -> tuple:
        """What the workload's namespace and veth must look like."""
        return (self.device_id, self.interface_name, self.mac, self.addresses, self.gateway_ip)

    @property
    def slot_key(self) -> tuple[str, str]:
        """Where the workload end is; a change means a new veth."""
        return (self.device_id, self.interface_name)

    @property
    def slot(self) -> tuple[str, str] | None:
        """The (namespace, interface) the workload end takes; None in a namespace of its own."""
        return self.slot_key if self.device_id else None

    @property
    def entry(self) -> tuple:
        """What the data plane's per-port entry holds."""
        return (self.vni, self.mac, self.sg_enabled, self.rules_version)


@dataclass(frozen=True)
class State:
    """A host's data plane: desired (from `desired`) or installed (from a driver)."""

    config: Config | None = None
    ports: Mapping[str, LocalPort] = field(default_factory=dict)
    endpoints: Endpoints = field(default_factory=Endpoints)
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
        interface_name=port.interface_name or WORKLOAD_IFNAME,
        security_group_ids=sg_ids,
    )
    return local, table, problems


@bulk
def desired(goal: GoalState, config: Config | None = None) -> State:
    """The data plane this host's goal state asks for (`config` defaults to `Config()`)."""
    ports, rules, local, problems = local_part(goal)
    endpoints = _endpoints(goal, local, problems)
    return State(config=config or Config(), ports=ports, endpoints=endpoints, rules=rules, problems=problems)


Problems = dict[tuple[int, str], str]  # (GoalStateKind, id) -> why it is not (fully) realised


def local_part(
    goal: GoalState,
) -> tuple[dict[str, LocalPort], dict[str, dict[RuleKey, Ranges]], dict[bytes, Endpoint], Problems]:
    """What the ports bound to this host ask for: their `LocalPort`s, compiled rules, endpoints
    (by packed key) and problems. Depends on the goal's ports, VPCs, subnets, security groups and
    group members, never on its neighbors."""
    problems: dict[tuple[int, str], str] = {}
    ports: dict[str, LocalPort] = {}
    rules: dict[str, dict[RuleKey, Ranges]] = {}
    local: dict[bytes, Endpoint] = {}
    for port_id, port in goal.ports.items():
        lp, table, port_problems = _local_port(port, goal)
        if port_problems:
            problems[(KIND_PORT, port_id)] = "; ".join(port_problems)
        if lp is None:
            continue
        ports[port_id] = lp
        if table:
            rules[port_id] = table
        for addr in lp.addresses:
            key = pack_key((lp.vni, addr.ip))
            if key in local:
                problems[(KIND_PORT, port_id)] = (
                    f"address {addr.ip} also used by port {local[key].local_port}"
                )
                continue
            local[key] = Endpoint(port_id, None, lp.mac)
    return ports, rules, local, problems


def _endpoints(goal: GoalState, local: dict[bytes, Endpoint], problems: Problems) -> Endpoints:
    """The table of `local` and the neighbors on other hosts: read column by column where the
    neighbors are a snapshot's columns (and the changes since), else message by message."""
    own = goal.host_id or None  # no host id: no neighbor is ours
    found = _column_endpoints(goal.neighbors, own, local, problems)
    if found is not None:
        return found
    return _message_endpoints(goal.neighbors, own, local, problems)


def _message_endpoints(
    neighbors: Mapping[str, goalstate_pb2.Neighbor],
    own: str | None,
    local: dict[bytes, Endpoint],
    problems: Problems,
    strict: bool = False,
) -> Endpoints:
    """`_endpoints` from the messages. The MACs are checked and converted all at once, and the
    values assembled with strided slice copies; if a MAC is bad the loop runs again checking
    each one (`strict`)."""
    keys, hosts, macs = _scan(neighbors.values(), own, problems, strict)
    values = _remote_values(hosts, macs)
    if values is None:  # a bad MAC among them: find it (and which neighbor has it)
        assert not strict
        return _message_endpoints(neighbors, own, local, problems, strict=True)
    clash = local.keys() & keys
    if clash:  # rare: a neighbor's address that is a port on this host (the port wins)
        vs = REMOTE.size
        kept = [i for i, k in enumerate(keys) if k not in clash]
        values = b"".join(values[i * vs : (i + 1) * vs] for i in kept)
        keys = [keys[i] for i in kept]
        for port_id, n in neighbors.items():
            if n.host_id == own or (KIND_NEIGHBOR, port_id) in problems:
                continue  # a bad neighbor keeps its own problem
            try:
                if pack_key((n.vni, n.ip_address)) in clash:
                    problems[(KIND_NEIGHBOR, port_id)] = f"address {n.ip_address} is a port on this host"
            except ValueError:
                continue
    return Endpoints.packed(local, keys, values)


def _scan(
    neighbors: Iterable[goalstate_pb2.Neighbor], own: str | None, problems: Problems, strict: bool
) -> tuple[list[bytes], list[bytes], list[str]]:
    """The keys, underlay addresses and MACs of the neighbors that are entries, in order; the
    others' problems go to `problems`. The hot loop of a large VPC: per neighbor only its field
    reads, one inet_pton and a concatenation (the key), and three appends. What repeats (the
    hosts' underlay addresses, the VNIs) is checked and packed once, in `_first`, which a
    neighbor whose host or VNI is not cached yet, or that is bad, goes through."""
    heads: dict[str, bytes] = {}  # good underlay ip -> its 4 bytes
    vnis: dict[int, bytes] = {}  # good vni -> key head
    keys: list[bytes] = []
    hosts: list[bytes] = []
    macs: list[str] = []
    add_key, add_host, add_mac = keys.append, hosts.append, macs.append
    pton, inet = socket.inet_pton, socket.AF_INET
    for n in neighbors:
        if n.host_id == own:
            continue  # our own port: `ports` has it
        try:
            key = vnis[n.vni] + pton(inet, n.ip_address)
            host = heads[n.host_ip]
            if strict and not _mac(n.mac_address.lower()):
                raise ValueError("bad mac")
        except (KeyError, OSError, ValueError):
            if not _first(n, heads, vnis, problems, strict):
                continue
            key, host = vnis[n.vni] + pton(inet, n.ip_address), heads[n.host_ip]
        add_key(key)
        add_host(host)
        add_mac(n.mac_address)
    return keys, hosts, macs


def _column_endpoints(
    neighbors: Mapping[str, goalstate_pb2.Neighbor],
    own: str | None,
    local: dict[bytes, Endpoint],
    problems: Problems,
) -> Endpoints | None:
    """`_endpoints` of a snapshot's `NeighborTable`, or of a `Layered` table over one: the
    snapshot's neighbors that no delta changed are read column by column with C-level loops,
    those the deltas set by `_scan`. None (the messages decide, one by one) if a snapshot's
    neighbor is not simply an entry (ours, bad, or at a local port's address) or if an address
    is held both by a changed neighbor and another one (which wins depends on their order)."""
    changed: Collection[str] = ()
    updated: list[goalstate_pb2.Neighbor] = []
    if isinstance(neighbors, NeighborTable):
        table = neighbors
    elif isinstance(neighbors, Layered) and isinstance(base := neighbors.base, NeighborTable):
        table = base
        changed, updated = neighbors.changes()
    else:
        return None
    c = table.columns
    kept = list(map(not_, map(changed.__contains__, table))) if changed else None

    def column(values: Iterable[T]) -> list[T]:
        return list(values) if kept is None else list(compress(values, kept))

    if own is not None and own in column(c.host_id):
        return None
    vnis = column(c.vni)
    heads = {v: v.to_bytes(4, "little") for v in set(vnis)}
    host_ips = column(c.host_ip)
    pton, inet = socket.inet_pton, socket.AF_INET
    try:
        if not all(0 < v <= MAX_VNI for v in heads):
            return None
        hosts = {h: pton(inet, h) for h in set(host_ips)}
        ips = map(pton, repeat(inet), column(c.ip_address))
        if len(heads) == 1:
            keys = list(map(next(iter(heads.values())).__add__, ips))
        else:
            keys = list(map(bytes.__add__, map(heads.__getitem__, vnis), ips))
    except OSError:
        return None
    values = _remote_values(list(map(hosts.__getitem__, host_ips)), column(c.mac_address))
    if values is None:
        return None
    found: Problems = {}
    if updated:
        more, more_hosts, more_macs = _scan(updated, own, found, strict=False)
        more_values = _remote_values(more_hosts, more_macs)
        if more_values is None or len(set(more)) < len(more) or not set(more).isdisjoint(keys):
            return None
        keys += more
        values += more_values
    if local.keys() & keys:
        return None
    problems.update(found)
    return Endpoints.packed(local, keys, values)


_MAC_COLONS = (2, 5, 8, 11, 14)


def _remote_values(hosts: list[bytes], macs: list[str]) -> bytes | None:
    """The packed values (ifindex 0, host ip, mac, flags 0, pad) of these hosts and MACs, built
    with a constant number of C-level operations; None if a MAC is not `hh:hh:hh:hh:hh:hh`."""
    n = len(macs)
    if not n:
        return b""
    text = "".join(macs)
    if len(text) != 17 * n or set(map(len, macs)) != {17}:
        return None
    if any(text[p::17] != ":" * n for p in _MAC_COLONS):
        return None
    try:
        raw = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None
    if len(raw) != 6 * n:  # fromhex skips whitespace
        return None
    ips = b"".join(hosts)
    size = REMOTE.size
    out = bytearray(size * n)
    for j in range(4):
        out[4 + j :: size] = ips[j::4]
    for j in range(6):
        out[8 + j :: size] = raw[j::6]
    return bytes(out)


def _first(
    n: goalstate_pb2.Neighbor,
    heads: dict[str, bytes],
    vnis: dict[int, bytes],
    problems: dict[tuple[int, str], str],
    strict: bool,
) -> bool:
    """A neighbor checked (its MAC too if `strict`, else the bulk check does it); if good, its
    host and VNI are cached, else the problem is recorded."""
    problem = _neighbor_problem(n, strict)
    if problem:
        problems[(KIND_NEIGHBOR, n.port_id)] = problem
        return False
    heads[n.host_ip] = socket.inet_pton(socket.AF_INET, n.host_ip)
    vnis[n.vni] = n.vni.to_bytes(4, "little")
    return True


def _neighbor_problem(n: goalstate_pb2.Neighbor, check_mac: bool) -> str:
    """Why this neighbor cannot be an endpoint ("" if it can; its MAC only if `check_mac`)."""
    host_ip, ip, mac, vni = n.host_ip, n.ip_address, n.mac_address, n.vni
    if not host_ip:
        return f"host {n.host_id} has no underlay ip yet"
    if not (0 < vni <= MAX_VNI and _ipv4(host_ip) and _ipv4(ip) and (not check_mac or _mac(mac.lower()))):
        return f"bad neighbor {ip!r} {mac!r} on {host_ip!r} vni {vni}"
    return ""


def neighbor_entry(
    n: goalstate_pb2.Neighbor, own: str | None, local: Mapping[bytes, Endpoint]
) -> tuple[bytes, bytes] | str | None:
    """What one neighbor adds to the endpoints table, as `desired` decides it: its packed
    (key, value), or the problem that keeps it out, or None for a port of host `own` (the host's
    own ports are in `local`). A neighbor that shares its key with another is not judged here."""
    if n.host_id == own:
        return None
    problem = _neighbor_problem(n, check_mac=True)
    if problem:
        return problem
    key = pack_key((n.vni, n.ip_address))
    if key in local:
        return f"address {n.ip_address} is a port on this host"
    return key, pack_remote(n.host_ip, n.mac_address)


def owners(goal: GoalState, state: State) -> dict[bytes, tuple[int, str]]:
    """The goal-state resource behind each endpoint (by packed key), to attribute a failed item.
    Built on demand (after a failure) because it costs about as much as `desired` itself."""
    found: dict[bytes, tuple[int, str]] = {}
    neighbors = goal.neighbors
    rows: Iterable[tuple[str, int, str]]
    if isinstance(neighbors, NeighborTable):  # the columns, not a million messages
        rows = zip(neighbors, neighbors.columns.vni, neighbors.columns.ip_address, strict=True)
    else:
        rows = ((port_id, n.vni, n.ip_address) for port_id, n in neighbors.items())
    for port_id, vni, ip in rows:
        try:
            found[pack_key((vni, ip))] = (KIND_NEIGHBOR, port_id)
        except ValueError:
            continue  # `desired` reported it as a problem; it has no entry to fail
    for key, ep in state.endpoints.local.items():
        if ep.local_port is not None:
            found[key] = (KIND_PORT, ep.local_port)
    return found
