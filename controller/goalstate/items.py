"""The goal-state items and how each is built from the replicated records.

Owns the vocabulary shared by the engine, the from-scratch recompute and the hub: an item's
`Key` (GoalStateKind, id), and the builders that turn records into `GoalStateItem`s. Decisions:

- A port in goal state is its configuration: `status` and `status_detail` are cleared (they are
  the agent's own report, and writing them back must not send the port to its host again), and
  `revision` is the port's configuration revision (the last change other than status), which is
  also the `port_revision` a status report names.
- A neighbor is a port bound to another host; its address is the port's first fixed IP (the
  `Neighbor` message carries one; ports are reached at their primary address). Unbound ports
  are nowhere in the data plane and are nobody's neighbor.
- Group members are every fixed IP of every port in the group (bound or not), deduplicated and
  in numeric order, so equal memberships are equal messages. A host that holds a group's members
  is sent what changed (GroupMembersChange) when that is smaller than the whole list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from alcor.addresses import changed, ordered
from alcor.goalstate_kinds import (  # noqa: F401 (the engine's names for the wire's kinds)
    KIND_GROUP_MEMBERS,
    KIND_NEIGHBOR,
    KIND_PORT,
    KIND_SECURITY_GROUP,
    KIND_SUBNET,
    KIND_VPC,
    Key,
    key_of,
)
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import resources_pb2 as res

# per host: key -> the new item, or None for "delete"
Delta = dict[Key, "gs.GoalStateItem | None"]

def vpc_item(vpc: res.Vpc) -> gs.GoalStateItem:
    return gs.GoalStateItem(vpc=vpc)


def subnet_item(subnet: res.Subnet) -> gs.GoalStateItem:
    return gs.GoalStateItem(subnet=subnet)


def security_group_item(group: res.SecurityGroup) -> gs.GoalStateItem:
    return gs.GoalStateItem(security_group=group)


def port_item(port: res.Port, config_revision: int) -> gs.GoalStateItem:
    item = gs.GoalStateItem(port=port)
    item.port.ClearField("status")
    item.port.ClearField("status_detail")
    item.port.revision = config_revision
    return item


def neighbor_item(port: res.Port, vni: int, host_ip: str) -> gs.GoalStateItem:
    # built in place: the hot path of a large VPC (a snapshot of 100,000 neighbors)
    item = gs.GoalStateItem()
    n = item.neighbor
    n.port_id = port.id
    n.vpc_id = port.vpc_id
    n.vni = vni
    if port.fixed_ips:
        n.ip_address = port.fixed_ips[0].ip_address
    n.mac_address = port.mac_address
    n.host_id = port.host_id
    n.host_ip = host_ip
    return item


def group_members_item(group_id: str, addresses: Iterable[str]) -> gs.GoalStateItem:
    members = gs.GroupMembers(security_group_id=group_id, ip_addresses=ordered(addresses))
    return gs.GoalStateItem(group_members=members)


def members_change_item(group_id: str, added: Iterable[str], removed: Iterable[str]) -> gs.GoalStateItem:
    """A GroupMembersChange item, addresses in wire order."""
    change = gs.GroupMembersChange(
        security_group_id=group_id, added_ip_addresses=ordered(added), removed_ip_addresses=ordered(removed)
    )
    return gs.GoalStateItem(group_members_change=change)


def merge(pending: gs.GoalStateItem | None, later: gs.GoalStateItem | None) -> gs.GoalStateItem | None:
    """One item for a key that changed twice before the host was sent either: `later` unless it
    is a GroupMembersChange, which is folded into what is pending (a whole list or a change)."""
    if later is None or later.WhichOneof("item") != "group_members_change":
        return later
    if pending is None:
        raise ValueError("a change to group members that are pending deletion")
    change = later.group_members_change
    if pending.WhichOneof("item") == "group_members":
        addresses = changed(
            pending.group_members.ip_addresses, change.added_ip_addresses, change.removed_ip_addresses
        )
        return gs.GoalStateItem(
            group_members=gs.GroupMembers(security_group_id=change.security_group_id, ip_addresses=addresses)
        )
    first = pending.group_members_change
    gone = set(change.removed_ip_addresses)
    added = (set(first.added_ip_addresses) - gone) | set(change.added_ip_addresses)
    removed = (set(first.removed_ip_addresses) | gone) - added
    return members_change_item(change.security_group_id, added, removed)


def port_subnets(port: res.Port) -> list[str]:
    """Every subnet a port has an address in (its own subnet first)."""
    return list(dict.fromkeys([port.subnet_id, *(f.subnet_id or port.subnet_id for f in port.fixed_ips)]))


def rule_references(group: res.SecurityGroup | None) -> set[str]:
    """The groups a group's rules name as remote."""
    if group is None:
        return set()
    return {r.remote_group_id for r in group.rules if r.remote_group_id}


def same_configuration(a: res.Port, b: res.Port) -> bool:
    """Whether two versions of a port differ at most in status (and so in revision)."""
    x, y = res.Port(), res.Port()
    x.CopyFrom(a)
    y.CopyFrom(b)
    for m in (x, y):
        m.ClearField("status")
        m.ClearField("status_detail")
        m.ClearField("revision")
    return x == y


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# field tags (field number << 3 | wire type) of the messages assembled from bytes below
_UPDATE_BASE_REVISION = b"\x08"  # GoalStateUpdate.base_revision = 1, varint
_UPDATE_REVISION = b"\x10"  # GoalStateUpdate.revision = 2, varint
_UPDATE_FULL = b"\x18\x01"  # GoalStateUpdate.full = 3, varint true
_UPDATE_UPSERT = b"\x22"  # GoalStateUpdate.upserts = 4, length-delimited
_MESSAGE_UPDATE = b"\x12"  # ControllerMessage.update = 2, length-delimited


def upsert_chunk(item: gs.GoalStateItem) -> bytes:
    """An item encoded as one `upserts` entry of a GoalStateUpdate (tag, length, bytes)."""
    raw = item.SerializeToString()
    return _UPDATE_UPSERT + _varint(len(raw)) + raw


def snapshot_message(revision: int, chunks: Iterable[bytes]) -> gs.ControllerMessage:
    """A ControllerMessage carrying a full snapshot, assembled from `upsert_chunk`s: a large
    snapshot is one parse of its bytes instead of building and copying every item message."""
    body = b"".join([_UPDATE_REVISION, _varint(revision), _UPDATE_FULL, *chunks])
    return gs.ControllerMessage.FromString(_MESSAGE_UPDATE + _varint(len(body)) + body)


def delta_message(
    base_revision: int,
    revision: int,
    delta: Delta,
    chunk: Callable[[Key, gs.GoalStateItem], bytes] | None = None,
) -> gs.ControllerMessage:
    """A ControllerMessage carrying `delta` (upserts and deletes, each in key order, so equal
    deltas give equal messages), assembled from encoded upserts as `snapshot_message` is:
    `chunk(key, item)` gives an item's `upsert_chunk`, one already encoded when it can (default:
    encode it). One parse of the bytes costs a fraction of building and copying every item
    message (a bulk create sends a thousand new neighbors to each host of the VPC)."""
    encode = chunk or (lambda _, item: upsert_chunk(item))
    parts = [_UPDATE_BASE_REVISION, _varint(base_revision), _UPDATE_REVISION, _varint(revision)]
    deletes = []
    for key in sorted(delta):
        item = delta[key]
        if item is None:
            deletes.append(key)
        else:
            parts.append(encode(key, item))
    body = b"".join(parts)
    message = gs.ControllerMessage.FromString(_MESSAGE_UPDATE + _varint(len(body)) + body)
    for kind, id_ in deletes:
        message.update.deletes.add(kind=kind, id=id_)
    return message
