"""Column-wise decoding of a large goal-state snapshot, and the neighbors table it gives.

A host in a VPC of a million ports gets a snapshot of a million neighbors. Decoded as messages,
every neighbor costs two Python wrappers when the snapshot is applied and five field reads when
the data plane is derived from it: most of the time from the snapshot's bytes to the map.
`decode_update` parses a large full update as `goalstate_columns.UpdateColumns` instead, one
C-level parse that gives the neighbors as seven columns (see that proto), and keeps them as a
`NeighborTable`: a read-only Mapping port_id -> Neighbor that builds a message only for a
neighbor asked for. `model.desired` reads the columns directly.

The columns are used only where they are exactly the messages, for an encoder that writes a
field at most once per message (as protobuf's do): every neighbor sets all seven fields (a field
left at its default is omitted, which would shift its column), no item is empty, the port ids are
distinct, there is no delete and no group-members change (whose order against the group's
members matters), and no field that goalstate_columns.proto does not know (a newer
controller's). Anything else is decoded as messages; both give the same goal state
(tests/dataplane/test_columns.py).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from alcor.v1 import goalstate_columns_pb2, goalstate_pb2

# below this many bytes an update is decoded as messages. Column-wise, a snapshot of 100
# neighbors (8 KB) took 0.4 ms against 0.9 ms from its bytes to its plan, 10,000 took 20 ms
# against 42 ms; most updates are small deltas, which are never columns.
COLUMNS_MIN_BYTES = 4096

NEIGHBOR_FIELDS = ("port_id", "vpc_id", "vni", "ip_address", "mac_address", "host_id", "host_ip")
# the other kinds of GoalStateItem, kept encoded by the column-wise parse; a group-members change
# sends the update to the messages' path
OTHER_ITEMS = ("vpc", "subnet", "port", "security_group", "group_members")


class NeighborTable(Mapping[str, goalstate_pb2.Neighbor]):
    """The neighbors of a snapshot as columns: port_id -> Neighbor, read-only. A message is
    built on each lookup; the index by port id is built on the first one."""

    __slots__ = ("_columns", "_ids", "_index")

    def __init__(self, columns: goalstate_columns_pb2.NeighborColumns, ids: list[str]) -> None:
        self._columns = columns
        self._ids = ids  # distinct; the columns' port_id
        self._index: dict[str, int] | None = None

    @property
    def columns(self) -> goalstate_columns_pb2.NeighborColumns:
        """The seven columns, one value per neighbor each, in the snapshot's order."""
        return self._columns

    def _row(self, i: int) -> goalstate_pb2.Neighbor:
        c = self._columns
        return _neighbor(
            self._ids[i], c.vpc_id[i], c.vni[i], c.ip_address[i], c.mac_address[i], c.host_id[i], c.host_ip[i]
        )

    def _messages(self) -> Iterator[goalstate_pb2.Neighbor]:
        c = self._columns
        return map(_neighbor, self._ids, c.vpc_id, c.vni, c.ip_address, c.mac_address, c.host_id, c.host_ip)

    def _rows(self) -> dict[str, int]:
        if self._index is None:
            self._index = dict(zip(self._ids, range(len(self._ids)), strict=True))
        return self._index

    def __getitem__(self, port_id: str) -> goalstate_pb2.Neighbor:
        return self._row(self._rows()[port_id])

    def __contains__(self, port_id: object) -> bool:
        return port_id in self._rows()

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def values(self) -> ValuesView[goalstate_pb2.Neighbor]:
        return _Values(self)

    def items(self) -> ItemsView[str, goalstate_pb2.Neighbor]:
        return _Items(self)

    def __repr__(self) -> str:
        return f"NeighborTable({len(self)} neighbors)"


def _neighbor(
    port_id: str, vpc_id: str, vni: int, ip_address: str, mac_address: str, host_id: str, host_ip: str
) -> goalstate_pb2.Neighbor:
    """One row of the columns as its message (the fields in `NEIGHBOR_FIELDS` order)."""
    return goalstate_pb2.Neighbor(
        port_id=port_id,
        vpc_id=vpc_id,
        vni=vni,
        ip_address=ip_address,
        mac_address=mac_address,
        host_id=host_id,
        host_ip=host_ip,
    )


class _Values(ValuesView[goalstate_pb2.Neighbor]):
    _mapping: NeighborTable

    def __iter__(self) -> Iterator[goalstate_pb2.Neighbor]:
        return self._mapping._messages()


class _Items(ItemsView[str, goalstate_pb2.Neighbor]):
    _mapping: NeighborTable

    def __iter__(self) -> Iterator[tuple[str, goalstate_pb2.Neighbor]]:
        return zip(self._mapping._ids, self._mapping._messages(), strict=True)


@dataclass(frozen=True)
class Snapshot:
    """A full update decoded column-wise: `rest` is the update without its neighbors (header,
    other items), `neighbors` its neighbors, `raw` the update's encoding (what the agent saves)."""

    raw: bytes
    rest: goalstate_pb2.GoalStateUpdate
    neighbors: NeighborTable
    full: ClassVar[bool] = True

    @property
    def revision(self) -> int:
        return self.rest.revision

    @property
    def base_revision(self) -> int:
        return self.rest.base_revision


Update: TypeAlias = goalstate_pb2.GoalStateUpdate | Snapshot


def decode_update(raw: bytes, min_bytes: int = COLUMNS_MIN_BYTES) -> Update:
    """A GoalStateUpdate from its encoding: a `Snapshot` if it is large (at least `min_bytes`)
    and its neighbors decode exactly as columns, else the message. Raises DecodeError."""
    snapshot = _snapshot(raw) if len(raw) >= min_bytes else None
    return snapshot if snapshot is not None else goalstate_pb2.GoalStateUpdate.FromString(raw)


def decode_message(
    raw: bytes, min_bytes: int = COLUMNS_MIN_BYTES
) -> goalstate_pb2.ControllerMessage | Snapshot:
    """A ControllerMessage from its encoding, or the `Snapshot` its update decodes to (the
    agent's deserializer for GoalStateService.Sync). Raises DecodeError."""
    if len(raw) >= min_bytes:
        view = goalstate_columns_pb2.ControllerMessageBytes.FromString(raw)
        if not view.welcome and view.update:
            snapshot = _snapshot(view.update)
            if snapshot is not None:
                return snapshot
    return goalstate_pb2.ControllerMessage.FromString(raw)


def _snapshot(raw: bytes) -> Snapshot | None:
    try:
        return _columnar(raw)
    except DecodeError:
        return None  # the messages' parse says what is wrong


def _columnar(raw: bytes) -> Snapshot | None:
    parsed = goalstate_columns_pb2.UpdateColumns.FromString(raw)
    items = parsed.upserts
    if not parsed.full or parsed.deletes or items.group_members_change:
        return None
    if any(len(UnknownFieldSet(m)) for m in (parsed, items, items.neighbor)):
        return None  # fields of a newer goalstate.proto: the messages keep them
    others = {kind: list(getattr(items, kind)) for kind in OTHER_ITEMS}
    neighbors = items.neighbor
    # every item is one neighbor or one other item unless some are empty, which makes the count
    # too high for the columns: each column then has a value for every neighbor
    count = len(goalstate_columns_pb2.UpdateItems.FromString(raw).upserts) - sum(map(len, others.values()))
    if count <= 0 or any(len(getattr(neighbors, name)) != count for name in NEIGHBOR_FIELDS):
        return None
    ids = list(neighbors.port_id)
    if len(set(ids)) != count:
        return None  # the messages' path keeps the last neighbor of a repeated id
    rest = goalstate_pb2.GoalStateUpdate(
        base_revision=parsed.base_revision, revision=parsed.revision, full=True
    )
    for kind, encoded in others.items():
        for data in encoded:
            getattr(rest.upserts.add(), kind).ParseFromString(data)
    return Snapshot(raw, rest, NeighborTable(neighbors, ids))
