"""Conversions between the core's plain values and the protobuf messages of raft.proto.

Used at the edges only: the peer transport (Message), durable storage (Entry, HardState,
SnapshotMetadata) and conf-change entries, whose data is a serialized ConfChange.
"""

from __future__ import annotations

from alcor.internal import raft_pb2 as pb

from .types import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMetadata,
)


def encode_conf_change(cc: ConfChange) -> bytes:
    return pb.ConfChange(type=int(cc.type), node_id=cc.node_id, context=cc.context).SerializeToString()  # type: ignore[arg-type]


def decode_conf_change(data: bytes) -> ConfChange:
    m = pb.ConfChange.FromString(data)
    return ConfChange(ConfChangeType(m.type), m.node_id, m.context)


def entry_to_pb(e: Entry) -> pb.Entry:
    return pb.Entry(term=e.term, index=e.index, type=e.type, data=e.data)  # type: ignore[arg-type]


def entry_from_pb(m: pb.Entry) -> Entry:
    return Entry(m.term, m.index, m.type, m.data)


def hard_state_to_pb(hs: HardState) -> pb.HardState:
    return pb.HardState(term=hs.term, vote=hs.vote, commit=hs.commit)


def hard_state_from_pb(m: pb.HardState) -> HardState:
    return HardState(m.term, m.vote, m.commit)


def conf_state_to_pb(cs: ConfState) -> pb.ConfState:
    return pb.ConfState(voters=cs.voters, learners=cs.learners)


def conf_state_from_pb(m: pb.ConfState) -> ConfState:
    return ConfState(tuple(sorted(m.voters)), tuple(sorted(m.learners)))


def snapshot_metadata_to_pb(md: SnapshotMetadata) -> pb.SnapshotMetadata:
    return pb.SnapshotMetadata(index=md.index, term=md.term, conf_state=conf_state_to_pb(md.conf_state))


def snapshot_metadata_from_pb(m: pb.SnapshotMetadata) -> SnapshotMetadata:
    return SnapshotMetadata(m.index, m.term, conf_state_from_pb(m.conf_state))


def message_to_pb(m: Message) -> pb.Message:
    out = pb.Message(
        type=int(m.type),  # type: ignore[arg-type]
        from_id=m.from_id,
        to_id=m.to_id,
        term=m.term,
        log_term=m.log_term,
        index=m.index,
        commit=m.commit,
        reject=m.reject,
        reject_hint=m.reject_hint,
        context=m.context,
    )
    add = out.entries.add  # built in place: no intermediate Entry objects to copy
    for e in m.entries:
        add(term=e.term, index=e.index, type=e.type, data=e.data)  # type: ignore[arg-type]
    if m.snapshot is not None:
        out.snapshot.metadata.CopyFrom(snapshot_metadata_to_pb(m.snapshot.metadata))
        out.snapshot.data = m.snapshot.data
    return out


def message_from_pb(m: pb.Message) -> Message:
    snapshot = None
    if m.HasField("snapshot"):
        snapshot = Snapshot(snapshot_metadata_from_pb(m.snapshot.metadata), m.snapshot.data)
    return Message(
        MessageType(m.type),
        m.to_id,
        m.from_id,
        m.term,
        m.log_term,
        m.index,
        [Entry(e.term, e.index, e.type, e.data) for e in m.entries],
        m.commit,
        m.reject,
        m.reject_hint,
        m.context,
        snapshot,
    )
